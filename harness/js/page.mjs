// streamconform page transport: the driver page runs one dedicated worker
// per channel named in its `channels` query parameter. Each worker runs the
// driver core (page-worker.mjs); the page owns the worker's WebSocket and
// relays protocol messages both ways, one per text message
// (harness/PROTOCOL.md).
//
// The page is the manager, so a hung worker can always be replaced: when
// the harness gives up on a worker it closes that channel, and the page
// (whose own thread never runs a compile) terminates the worker and opens
// the channel again with a fresh one. Channels are beside the page under
// the run's unguessable prefix (…/run-PREFIX/driver/page.html ->
// ws://…/run-PREFIX/channel/NAME): only this run's harness is at the other
// end, and only its pages reach it.

// The real version: Chromium's user agent string gives only the major
// version ("156.0.0.0"); its client hints give the full one.
async function browserInfo() {
  const hints = navigator.userAgentData;
  if (hints?.getHighEntropyValues) {
    const { fullVersionList = [] } = await hints.getHighEntropyValues(["fullVersionList"]);
    const chromium = fullVersionList.find(({ brand }) => /Chrom/.test(brand));
    if (chromium) return { engine: "chromium", version: chromium.version };
  }
  const agent = navigator.userAgent;
  const firefox = agent.match(/Firefox\/([\d.]+)/);
  if (firefox) return { engine: "firefox", version: firefox[1] };
  const chromium = agent.match(/Chrome\/([\d.]+)/);
  if (chromium) return { engine: "chromium", version: chromium[1] };
  return { engine: "browser", version: agent };
}

const info = browserInfo();
// How long before a closed channel is opened again: quick, since the
// harness is waiting for the fresh worker; not a busy loop if it is gone.
const REOPEN_MS = 100;

function serve(name) {
  const url = new URL(`../channel/${name}`, location.href);
  url.protocol = "ws:";
  const socket = new WebSocket(url);
  let worker;
  socket.onopen = async () => {
    worker = new Worker(new URL("page-worker.mjs", location.href), { type: "module" });
    // A string is a protocol message; null is the driver ending itself.
    worker.onmessage = ({ data }) => (data === null ? socket.close() : socket.send(data));
    // A worker that failed to load or threw outside the driver's own
    // handling: its requests are lost, and the harness sees the channel close.
    worker.onerror = () => socket.close();
    // The first message tells the worker who it is; it then says hello.
    worker.postMessage({
      ...(await info),
      // A document served from the loopback server's first origin: fetch()
      // works, and requests to the other origin are cross-origin.
      capabilities: ["fetch", "origin"],
    });
  };
  // The harness writes only after the hello, so the worker exists by then.
  socket.onmessage = ({ data }) => worker.postMessage(data);
  socket.onclose = () => {
    worker?.terminate();
    setTimeout(() => serve(name), REOPEN_MS);
  };
}

for (const name of new URL(location.href).searchParams.get("channels").split(",")) serve(name);
