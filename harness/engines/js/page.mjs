// streamconform page transport: the driver page runs one dedicated worker
// per channel named in its `channels` query parameter. Each worker runs the
// driver core (page-worker.mjs) on its own WebSocket to the harness
// (harness/engines/PROTOCOL.md), so protocol messages never pass through the page.
//
// The page only keeps the workers going: a worker whose channel closed
// (the harness gave up on it, or retired it) says so and ends, and the page
// starts a fresh one on the same channel. Channels are beside the page
// under the run's unguessable prefix (…/run-PREFIX/driver/page.html ->
// ws://…/run-PREFIX/channel/NAME, NAME unguessable too): only this run's
// harness is at the other end, and only its pages reach it. A channel takes
// one connection and is open only while the harness waits for a worker on
// it, so a fresh worker may be refused a while: the page tries again,
// waiting longer each time (up to RESTART_MAX_MS) until one gets through.

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
  // WebKit's user agent carries a frozen version (AppleWebKit/605.1.15);
  // the harness reports WebKitGTK's own from MiniBrowser --version.
  const webkit = agent.match(/AppleWebKit\/([\d.]+)/);
  if (webkit) return { engine: "webkit", version: webkit[1] };
  return { engine: "browser", version: agent };
}

// How long before a fresh worker replaces one that ended: quick, since the
// harness waits for it; not a busy loop if the harness is gone or has not
// opened the channel again yet.
const RESTART_MS = 100;
const RESTART_MAX_MS = 1000;

// The WebSocket URL of the channel `name`, beside the page.
function channelUrl(name) {
  const channel = new URL(`../channel/${name}`, location.href);
  channel.protocol = "ws:";
  return channel;
}

async function serve(name, delay = RESTART_MS) {
  const channel = channelUrl(name);
  const worker = new Worker(new URL("page-worker.mjs", location.href), { type: "module" });
  let ended = false;
  const restart = (opened) => {
    if (ended) return;
    ended = true;
    worker.terminate();
    // A worker that got its channel starts the delays afresh.
    const next = opened ? RESTART_MS : Math.min(delay * 2, RESTART_MAX_MS);
    setTimeout(() => serve(name, next), opened ? RESTART_MS : delay);
  };
  // The worker's only message to the page: its channel closed, and
  // whether it had opened.
  worker.onmessage = ({ data }) => restart(data?.opened === true);
  // It failed to load, or threw outside the driver's own handling; its
  // socket closes with it, so the harness sees its requests lost.
  worker.onerror = () => restart(false);
  worker.postMessage({
    channel: channel.href,
    ...(await browserInfo()),
    // A document served from the loopback server's first origin: fetch()
    // works, and requests to the other origin are cross-origin.
    capabilities: ["fetch", "origin"],
  });
}

const query = new URL(location.href).searchParams;

// The page's own connection to the harness, held while the page lives and
// silent: when the page's content process dies (a crash, or killed) while
// the browser lives on, it closes, and the harness relaunches the browser
// at once instead of waiting for workers that will never come. The workers
// start once it is open, so a page that has a worker has its lifeline; if
// it cannot open, they start anyway (the harness's connect deadline then
// covers a page that dies).
const lifeline = new WebSocket(channelUrl(query.get("lifeline")));
globalThis.streamconformLifeline = lifeline;
let started = false;
const start = () => {
  if (started) return;
  started = true;
  for (const name of query.get("channels").split(",")) serve(name);
};
lifeline.onopen = start;
lifeline.onerror = start;
lifeline.onclose = start;
