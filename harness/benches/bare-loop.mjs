// The bare in-engine loop for benches/node_overhead.rs: the same modules and
// chunk plans, compiled with compileStreaming directly inside the engine.
// Input: a JSON-lines file of {"b": base64 bytes, "p": ["cut list", ...]}.
// Output: elapsed milliseconds of the loop alone.
import { readFileSync } from "node:fs";

const lines = readFileSync(process.argv[2], "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
const cases = lines.map(({ b, p }) => ({ bytes: new Uint8Array(Buffer.from(b, "base64")), plans: p }));
const IN_FLIGHT = Number(process.argv[3] ?? 32);

function cutsOf(text) {
  const cuts = [];
  for (const part of text ? text.split(",") : []) {
    const r = part.split("..");
    if (r.length === 2) for (let k = +r[0]; k < +r[1]; k++) cuts.push(k);
    else cuts.push(+part);
  }
  return cuts;
}

async function stream(bytes, cuts) {
  let start = 0;
  const body = new ReadableStream({
    start(c) {
      for (const cut of cuts) { c.enqueue(bytes.slice(start, cut)); start = cut; }
      c.enqueue(bytes.slice(start));
      c.close();
    },
  });
  try {
    await WebAssembly.compileStreaming(new Response(body, { headers: { "Content-Type": "application/wasm" } }));
  } catch {}
}

async function one(c) {
  try { new WebAssembly.Module(c.bytes); } catch {}
  for (const plan of c.plans) await stream(c.bytes, cutsOf(plan));
}

const started = performance.now();
let next = 0;
async function lane() { while (next < cases.length) await one(cases[next++]); }
await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
console.log(Math.round(performance.now() - started));
