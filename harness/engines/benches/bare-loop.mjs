// The bare in-engine loop for benches/node_overhead.rs: the same modules and
// chunk plans, compiled with compileStreaming directly inside node
// (bare-compile.mjs). Input: a JSON-lines file of {"b": base64 bytes, "p":
// [[cut, ...], ...]} and how many cases to keep in flight. Output: elapsed
// milliseconds of the loop alone.
import { readFileSync } from "node:fs";
import { compileAll, decodeCase } from "./bare-compile.mjs";

const cases = readFileSync(process.argv[2], "utf8").split("\n").filter(Boolean).map((l) => decodeCase(JSON.parse(l)));
const started = performance.now();
await compileAll(cases, Number(process.argv[3] ?? 32));
console.log(Math.round(performance.now() - started));
