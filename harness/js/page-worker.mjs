// streamconform page worker: the driver core (driver-core.mjs) in a
// dedicated worker of the driver page (page.mjs), which relays its
// protocol messages to and from the harness. The first message from the
// page is the worker's identity; every later one is a protocol message.
import { createDriver } from "./driver-core.mjs";

let driver;
self.onmessage = ({ data }) => {
  if (driver) return driver.handle(JSON.parse(data));
  const { engine, version, capabilities } = data;
  driver = createDriver({
    send: (message) => postMessage(JSON.stringify(message)),
    exit: () => postMessage(null),
    engine,
    version,
    capabilities,
  });
  driver.hello();
};
