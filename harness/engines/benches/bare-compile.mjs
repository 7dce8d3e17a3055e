// The compile loop both bare baselines run (benches/bare-loop.mjs in node,
// benches/bare-worker.mjs in a browser page's workers): every case's
// one-shot compile, then each of its plans streamed with compileStreaming,
// `inFlight` cases at a time. Fed as the driver feeds an `enqueue-all`
// body, so both sides do the same work: every chunk a copy of its bytes
// (its own buffer, as a network body's chunks are), at most QUEUE_BOUND
// queued at a time (Node's stream queue is quadratic beyond that).
// `cases`: [{ bytes: Uint8Array, plans: [[cut, ...], ...] }].
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

async function one({ bytes, plans }) {
  try { new WebAssembly.Module(bytes); } catch {}
  for (const cuts of plans) await stream(bytes, cuts);
}

export async function compileAll(cases, inFlight) {
  let next = 0;
  const lane = async () => { while (next < cases.length) await one(cases[next++]); };
  await Promise.all(Array.from({ length: inFlight }, lane));
}

// The shards' format: JSON lines or an array of { b: base64, p: plans }.
export function decodeCase({ b, p }) {
  const text = atob(b);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return { bytes, plans: p };
}
