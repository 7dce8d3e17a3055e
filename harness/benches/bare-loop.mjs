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

// Fed as the driver feeds an `enqueue-all` body, so both sides do the same
// work: every chunk a copy of its bytes (its own buffer, as a network body's
// chunks are), at most QUEUE_BOUND queued at a time (Node's stream queue is
// quadratic beyond that).
const QUEUE_BOUND = 8192;

async function stream(bytes, cuts) {
  let i = 0;
  const total = cuts.length + 1;
  const feed = (c) => {
    for (let k = 0; k < QUEUE_BOUND && i < total; k++, i++) {
      c.enqueue(bytes.slice(i === 0 ? 0 : cuts[i - 1], i < cuts.length ? cuts[i] : bytes.length));
    }
    if (i === total) c.close();
  };
  const body = total > QUEUE_BOUND
    ? new ReadableStream({ start: feed, pull: feed }, { highWaterMark: 0 })
    : new ReadableStream({ start: feed });
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
