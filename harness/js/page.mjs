// streamconform page transport: runs the driver core (driver-core.mjs) in a
// browser page, one protocol message per WebSocket text message
// (harness/PROTOCOL.md). The page's `channel` query parameter names its
// channel, which is beside the page under the run's unguessable prefix
// (…/run-PREFIX/driver/page.html -> ws://…/run-PREFIX/channel/NAME): only
// this run's harness is at the other end, and only its pages reach it.
import { createDriver } from "./driver-core.mjs";

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

const channel = new URL(`../channel/${new URL(location.href).searchParams.get("channel")}`, location.href);
channel.protocol = "ws:";
const socket = new WebSocket(channel);
const info = browserInfo();
let driver;
socket.onopen = async () => {
  driver = createDriver({
    send: (message) => socket.send(JSON.stringify(message)),
    exit: () => socket.close(),
    ...(await info),
    // A document served from the loopback server's first origin: fetch()
    // works, and requests to the other origin are cross-origin.
    capabilities: ["fetch", "origin"],
  });
  driver.hello();
};
// The harness writes only after the hello, so the driver exists by then.
socket.onmessage = (event) => driver.handle(JSON.parse(event.data));
