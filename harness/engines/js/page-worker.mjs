// streamconform page worker: the driver core (driver-core.mjs) in a
// dedicated worker of the driver page (page.mjs), on its own WebSocket
// channel. The page's one message gives the channel and the worker's
// identity; the worker then says hello.
//
// Framing: a WebSocket text message carries one or more protocol lines,
// separated by "\n". Replies are sent at most every FLUSH_MS, all that
// waited in one message: every message crosses the browser's processes,
// which with many requests in flight cost more than the compiles (see
// cases_per_worker in harness/engines/src/browser/mod.rs).
import { createDriver } from "./driver-core.mjs";

const FLUSH_MS = 2;

self.onmessage = ({ data: { channel, engine, version, capabilities } }) => {
  const socket = new WebSocket(channel);
  let outbox = [];
  const flush = () => {
    if (socket.readyState === WebSocket.OPEN) socket.send(outbox.join("\n"));
    outbox = [];
  };
  const driver = createDriver({
    send: (message) => {
      if (outbox.push(JSON.stringify(message)) === 1) setTimeout(flush, FLUSH_MS);
    },
    exit: () => socket.close(),
    engine,
    version,
    capabilities,
  });
  let opened = false;
  socket.onopen = () => {
    opened = true;
    driver.hello();
  };
  socket.onmessage = ({ data }) => {
    for (const line of data.split("\n")) if (line) driver.handle(JSON.parse(line));
  };
  // The harness closed the channel (it gave up on this worker, or retired
  // it), refused it (not open for a worker now), or the page is going: the
  // page starts a fresh worker.
  socket.onclose = () => postMessage({ closed: true, opened });
};
