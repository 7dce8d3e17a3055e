// streamconform stdio transport: runs the driver core (driver-core.mjs)
// on stdin/stdout, one JSON request or reply per line (harness/engines/PROTOCOL.md).
// For node, deno and bun: all three provide `node:process`.
import process from "node:process";
import { createDriver } from "./driver-core.mjs";

function engineInfo() {
  if (typeof Deno !== "undefined") return { engine: "deno", version: Deno.version.deno };
  if (typeof Bun !== "undefined") return { engine: "bun", version: Bun.version };
  return { engine: "node", version: process.versions.node };
}

const driver = createDriver({
  send: (message) => process.stdout.write(JSON.stringify(message) + "\n"),
  exit: () => process.exit(0),
  ...engineInfo(),
  // No document, so no origin: cross-origin cases do not apply. A browser
  // page adds "origin".
  capabilities: typeof fetch === "function" ? ["fetch"] : [],
});

// The pieces of a line not yet complete: a request line can be megabytes,
// so each piece is searched for a newline once and joined once.
let partial = [];
let inFlight = 0;
let inputEnded = false;
const exitWhenIdle = () => { if (inputEnded && inFlight === 0) process.exit(0); };
process.stdin.setEncoding?.("utf8");
process.stdin.on("data", (data) => {
  let text = typeof data === "string" ? data : new TextDecoder().decode(data);
  let newline;
  while ((newline = text.indexOf("\n")) >= 0) {
    partial.push(text.slice(0, newline));
    text = text.slice(newline + 1);
    const line = partial.join("");
    partial = [];
    if (!line.trim()) continue;
    inFlight++;
    driver.handle(JSON.parse(line)).finally(() => { inFlight--; exitWhenIdle(); });
  }
  if (text) partial.push(text);
});
// The harness is gone (or done): finish what is in flight, but never
// outlive it by more than a moment, even with a compile that hangs.
process.stdin.on("end", () => {
  inputEnded = true;
  exitWhenIdle();
  setTimeout(() => process.exit(0), 2000);
});
process.on?.("unhandledRejection", () => {});

driver.hello();
