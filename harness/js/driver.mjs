// streamconform JS driver: speaks the process protocol (harness/PROTOCOL.md)
// on stdin/stdout. One file for every JS engine (Node, Deno, Bun; browsers
// later): it only uses web-platform APIs plus `node:process` for stdio,
// which all three runtimes provide.
import process from "node:process";

const PROTOCOL = 3;
const modules = new Map(); // module id -> Uint8Array

function engineInfo() {
  if (typeof Deno !== "undefined") return { engine: "deno", version: Deno.version.deno };
  if (typeof Bun !== "undefined") return { engine: "bun", version: Bun.version };
  return { engine: "node", version: process.versions.node };
}

function send(message) {
  process.stdout.write(JSON.stringify(message) + "\n");
}

function decodeBase64(text) {
  if (typeof Buffer !== "undefined") return new Uint8Array(Buffer.from(text, "base64"));
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

// "1..4,9,9" -> [1,2,3,9,9]
function parseCuts(text) {
  const cuts = [];
  if (!text) return cuts;
  for (const part of text.split(",")) {
    const range = part.split("..");
    if (range.length === 2) {
      for (let k = Number(range[0]); k < Number(range[1]); k++) cuts.push(k);
    } else {
      cuts.push(Number(part));
    }
  }
  return cuts;
}

// Chunk `i` of `bytes` cut at `cuts`, made when it is enqueued: a one-byte
// plan of a large module is hundreds of thousands of chunks, never all
// held at once.
function chunkAt(bytes, cuts, i) {
  const start = i === 0 ? 0 : cuts[i - 1];
  return bytes.subarray(start, i < cuts.length ? cuts[i] : bytes.length);
}

// The body's events one at a time, each `["chunks", first, count]` run
// expanded into its chunks: [kind, chunk index] pairs.
function* eachEvent(events) {
  for (const event of events) {
    if (event[0] === "chunks") {
      for (let k = 0; k < event[2]; k++) yield ["chunk", event[1] + k];
    } else {
      yield event;
    }
  }
}

// How many events the body delivers in all.
function eventCount(events) {
  return events.reduce((n, event) => n + (event[0] === "chunks" ? event[2] : 1), 0);
}

class Uint8Subclass extends Uint8Array {}

function typedChunk(type, bytes) {
  const copy = () => bytes.slice();
  switch (type) {
    case "uint8array": return copy();
    case "uint8array-offset": {
      const big = new Uint8Array(bytes.length + 16);
      big.fill(0xee);
      big.set(bytes, 7);
      return big.subarray(7, 7 + bytes.length);
    }
    case "uint8array-subclass": { const c = new Uint8Subclass(bytes.length); c.set(bytes); return c; }
    case "array-buffer": return copy().buffer;
    case "data-view": return new DataView(copy().buffer);
    case "int8array": return new Int8Array(copy().buffer);
    case "uint8clamped-array": return new Uint8ClampedArray(copy().buffer);
    case "uint16array": return new Uint16Array(Math.ceil(bytes.length / 2));
    case "float64array": return new Float64Array(Math.ceil(bytes.length / 8));
    case "string": return "\0asm";
    case "number": return 0;
    case "null": return null;
    case "undefined": return undefined;
    case "object": return {};
    case "array": return [0, 97, 115, 109];
    default: throw new Error(`unknown chunk type ${type}`);
  }
}

function jsValue(name) {
  switch (name) {
    case "undefined": return undefined;
    case "null": return null;
    case "true": return true;
    case "string": return "test";
    case "symbol": return Symbol();
    case "zero": return 0;
    case "float": return 0.1;
    case "nan": return NaN;
    case "object": return { name: "custom error" };
    case "type-error-instance": return new TypeError("from the test");
    case "response-constructor": return Response;
    case "response-prototype": return Response.prototype;
    case "response-like": return Object.create(Response.prototype);
    default: throw new Error(`unknown value ${name}`);
  }
}

function compileOptions(name) {
  switch (name) {
    case "empty": return {};
    case "null": return null;
    case "number": return 5;
    case "builtins-not-iterable": return { builtins: 5 };
    case "builtins-unknown": return { builtins: ["nope"] };
    case "builtins-duplicate": return { builtins: ["js-string", "js-string"] };
    default: throw new Error(`unknown options ${name}`);
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// A macrotask without the timer clamp (nested setTimeout(0) waits 1 ms+).
const macrotask = () => new Promise((resolve) => {
  const { port1, port2 } = new MessageChannel();
  port1.onmessage = () => { port1.close(); resolve(); };
  port2.postMessage(0);
});

// At most this many chunks wait in an `enqueue-all` stream's queue (see
// makeStream).
const QUEUE_BOUND = 8192;

// `drained` is called once the last event has been applied: the pending
// window starts there, so slow pacing is not mistaken for "pending".
// `observed` records what the reader did (see BodyObservation in
// harness/src/scenario.rs): the evidence that a case's premise held.
function makeStream(scenario, bytes, cuts, events, reason, drained, observed) {
  const pacing = scenario.pacing ?? "enqueue-all";
  const chunkType = scenario["chunk-type"] ?? "uint8array";
  // The queue's high-water mark, to tell queued chunks from read ones.
  let highWaterMark = 1;
  const apply = (controller, event) => {
    switch (event[0]) {
      case "chunk": controller.enqueue(typedChunk(chunkType, chunkAt(bytes, cuts, event[1]))); observed.enqueued++; break;
      case "bad": controller.enqueue(typedChunk(scenario["bad-chunk"], new Uint8Array(0))); observed.enqueued++; break;
      case "error": observe(controller); controller.error(reason); break;
      case "close": observe(controller); controller.close(); break;
    }
  };
  // At the stream's end: chunks still queued (the high-water mark minus
  // desiredSize, one per chunk) were never read; `error()` discards them.
  const observe = (controller) => {
    const queued = Math.max(0, highWaterMark - (controller.desiredSize ?? highWaterMark));
    observed.readBeforeEnd = observed.enqueued - queued;
  };
  const cancel = () => { observed.cancelled = true; };
  const total = eventCount(events);
  const pending = eachEvent(events);
  let applied = 0;
  // Applies up to `limit` more events; true once the last one is applied.
  const applyUpTo = (controller, limit) => {
    for (let k = 0; k < limit && applied < total; k++, applied++) apply(controller, pending.next().value);
    if (applied === total) drained();
    return applied === total;
  };
  if (total === 0) drained();
  if (pacing === "pull") {
    highWaterMark = 0;
    return new ReadableStream({
      pull(controller) { applyUpTo(controller, 1); },
      cancel,
    }, { highWaterMark });
  }
  const endsInError = events.length > 0 && events[events.length - 1][0] === "error";
  if (pacing === "enqueue-all" && total > QUEUE_BOUND && !endsInError) {
    // Everything in start(), but no more than QUEUE_BOUND chunks queued at
    // a time: the next ones are enqueued when the reader has taken them
    // all and waits for more. The reader sees the same chunks in the same
    // order without waiting on anything but the queue; what is avoided is
    // Node's stream queue, whose dequeue (Array.prototype.shift) copies
    // the whole queue once it is large, making a 400 000-chunk body take
    // minutes (the engine's own reading, not what is under test). A body
    // that errors is left as the case paced it: where its error falls
    // relative to the queue is part of what it tests.
    highWaterMark = 0;
    return new ReadableStream({
      start(controller) { applyUpTo(controller, QUEUE_BOUND); },
      pull(controller) { applyUpTo(controller, QUEUE_BOUND); },
      cancel,
    }, { highWaterMark });
  }
  return new ReadableStream({
    async start(controller) {
      for (let i = 0; i < total; i++) {
        const event = pending.next().value;
        const ending = event[0] === "error" || event[0] === "close";
        if (pacing === "macrotask" && i > 0) await macrotask();
        if (pacing === "pause-before-close" && ending) await sleep(20);
        apply(controller, event);
      }
      drained();
    },
    cancel,
  });
}

function makeBody(scenario, bytes, cuts, events, reason, drained, observed) {
  if ((scenario.body ?? "stream") !== "stream") drained();
  switch (scenario.body ?? "stream") {
    case "stream": return makeStream(scenario, bytes, cuts, events, reason, drained, observed);
    case "buffer": return bytes.slice().buffer;
    case "blob": return new Blob([bytes], { type: scenario["blob-type"] ?? "" });
    case "string": return scenario.text ?? "";
    case "null": return null;
    case "empty-string": return "";
    case "form-data": {
      const form = new FormData();
      form.append("blob", new Blob([bytes]));
      form.append("text", "Hello");
      return form;
    }
    default: throw new Error(`unknown body ${scenario.body}`);
  }
}

function customSectionNames(bytes) {
  // Walk the section headers of bytes the engine accepted.
  const names = [];
  let pos = 8;
  const leb = () => {
    let result = 0, shift = 0, byte;
    do { byte = bytes[pos++]; result += (byte & 0x7f) * 2 ** shift; shift += 7; } while (byte & 0x80);
    return result;
  };
  while (pos < bytes.length) {
    const id = bytes[pos++];
    const size = leb();
    const end = pos + size;
    if (id === 0) {
      const length = leb();
      names.push(new TextDecoder().decode(bytes.subarray(pos, pos + length)));
    }
    pos = end;
  }
  return names;
}

function fingerprint(module, bytes) {
  const seen = new Map();
  const custom = [];
  for (const name of customSectionNames(bytes)) {
    if (seen.has(name)) continue;
    seen.set(name, true);
    const count = WebAssembly.Module.customSections(module, name).length;
    for (let i = 0; i < count; i++) custom.push(name);
  }
  return {
    imports: WebAssembly.Module.imports(module).map(({ module, name, kind }) => ({ module, name, kind })),
    exports: WebAssembly.Module.exports(module).map(({ name, kind }) => ({ name, kind })),
    custom_sections: custom,
  };
}

// `given` lists the objects the case handed out: a rejection reason, a
// stream error, an abort reason, or fetch's own rejection.
function classifyError(error, given) {
  if (given.some((g) => g !== NO_REASON && Object.is(error, g))) return { class: "passed-through" };
  if (error instanceof WebAssembly.CompileError) return { class: "compile-error", message: String(error.message) };
  if (error instanceof TypeError) return { class: "type-error", message: String(error.message) };
  const name = error && typeof error === "object" && "name" in error ? String(error.name) : typeof error;
  const message = error && typeof error === "object" && "message" in error ? String(error.message) : String(error);
  return { class: "other-error", name, message };
}

const NO_REASON = Symbol("no reason");

function encodeBase64(bytes) {
  if (typeof Buffer !== "undefined") return Buffer.from(bytes).toString("base64");
  let raw = "";
  for (const b of bytes) raw += String.fromCharCode(b);
  return btoa(raw);
}

// A case's fetch(): the URL (the harness's loopback server, or a data: or
// blob: URL of the module), the request init, and the abort controller.
function startFetch(request, bytes, reason) {
  const spec = request.scenario.fetch;
  const controller = new AbortController();
  const abortReason = reason === NO_REASON ? undefined : reason;
  let url = request.fetch_url;
  let revoke = () => {};
  if (spec.url === "data") {
    url = `data:${spec["media-type"] ?? ""};base64,${encodeBase64(bytes)}`;
  } else if (spec.url === "blob") {
    url = URL.createObjectURL(new Blob([bytes], { type: spec["media-type"] ?? "" }));
    revoke = () => URL.revokeObjectURL(url);
  }
  if (spec.abort === "before-call") controller.abort(abortReason);
  const state = { fetchError: NO_REASON };
  const promise = fetch(url, {
    signal: controller.signal,
    mode: spec.mode ?? "cors",
    redirect: spec.redirect ?? "follow",
  });
  promise.catch((error) => { state.fetchError = error; });
  return {
    promise,
    afterCall() {
      if (spec.abort === "same-turn") controller.abort(abortReason);
      // The server stalls mid-body, so the abort finds the body streaming.
      if (spec.abort === "mid-body") setTimeout(() => controller.abort(abortReason), 50);
    },
    given: () => [state.fetchError, controller.signal.aborted ? controller.signal.reason : NO_REASON],
    // Frees a stalled connection once the outcome is known.
    cleanup() { if (!controller.signal.aborted) controller.abort(); revoke(); },
  };
}

async function runCase(request) {
  const scenario = request.scenario;
  const bytes = modules.get(request.module);
  const cuts = parseCuts(request.cuts);
  const reason = scenario.reason !== undefined ? jsValue(scenario.reason) : NO_REASON;
  let drained;
  const drainedPromise = new Promise((resolve) => { drained = resolve; });
  const fetched = scenario.fetch ? startFetch(request, bytes, reason) : null;
  let response;
  // Filled in by a constructed stream body; reported with the outcome.
  const observed = { enqueued: 0, readBeforeEnd: null, cancelled: false };
  if (!fetched) {
    const headers = new Headers();
    for (const [name, value] of scenario.headers ?? [["Content-Type", "application/wasm"]]) headers.append(name, value);
    response = new Response(makeBody(scenario, bytes, cuts, request.events, reason, drained, observed), {
      status: scenario.status ?? 200,
      headers,
    });
  } else {
    // The body comes over the network: the pending window starts at the call.
    drained();
    if (scenario.argument === "fetched") {
      try {
        response = await fetched.promise;
      } catch (error) {
        fetched.cleanup();
        return { outcome: { class: "other-error", name: "FetchRejected", message: `the case's fetch() rejected: ${error}` } };
      }
    }
  }
  switch (scenario["body-state"] ?? "fresh") {
    case "locked": response.body.getReader(); break;
    case "disturbed": { const reader = response.body.getReader(); await reader.read(); reader.releaseLock(); break; }
    case "cancelled": await response.body.cancel(); break;
    case "consumed-before": await response.arrayBuffer().catch(() => {}); break;
  }
  let argument;
  switch (scenario.argument ?? "response") {
    case "response": argument = response; break;
    case "promise": argument = Promise.resolve(response); break;
    case "late-promise": argument = new Promise((resolve) => setTimeout(() => resolve(response), 5)); break;
    case "thenable": argument = { then(resolve) { resolve(response); } }; break;
    case "rejected": argument = Promise.reject(reason); argument.catch(() => {}); break;
    case "thenable-throws": argument = { then() { throw reason; } }; break;
    case "never-settles": argument = new Promise(() => {}); break;
    case "value": argument = jsValue(scenario.value); break;
    case "value-in-promise": argument = Promise.resolve(jsValue(scenario.value)); break;
    case "fetch": argument = fetched.promise; break;
    case "fetched": argument = response; break;
    case "response-error": argument = Response.error(); break;
    case "response-redirect": argument = Response.redirect("http://127.0.0.1/", scenario.status); break;
    default: throw new Error(`unknown argument ${scenario.argument}`);
  }
  const optionsArgs = scenario.options === undefined ? [] : [compileOptions(scenario.options)];
  if (scenario["body-state"] === "called-twice") {
    // The first call locks the body in its reaction; the case is the second.
    WebAssembly.compileStreaming(argument, ...optionsArgs).catch(() => {});
  }
  const promise = WebAssembly.compileStreaming(argument, ...optionsArgs);
  fetched?.afterCall();
  // Same turn, after the call and before its reaction runs.
  switch (scenario["body-state"]) {
    case "consumed-after": response.arrayBuffer().catch(() => {}); break;
    case "locked-after": response.body.getReader(); break;
  }
  const change = scenario["after-call"];
  if (change?.set) response.headers.set(change.set[0], change.set[1]);
  if (change?.delete) response.headers.delete(change.delete);

  let timer;
  const pending = drainedPromise.then(() => new Promise((resolve) => {
    timer = setTimeout(() => resolve({ class: "pending" }), request.settle_ms);
  }));
  const settled = promise.then(
    (module) => module instanceof WebAssembly.Module
      ? { class: "module", fingerprint: fingerprint(module, bytes) }
      : { class: "other-error", name: "NotAModule", message: String(module) },
    (error) => classifyError(error, [reason, ...(fetched ? fetched.given() : [])]),
  );
  const outcome = await Promise.race([settled, pending]);
  clearTimeout(timer);
  fetched?.cleanup();
  const body = observed.readBeforeEnd === null && !observed.cancelled
    ? undefined
    : { read_before_end: observed.readBeforeEnd ?? 0, cancelled: observed.cancelled };
  return { outcome, body };
}

function oneShot(request) {
  const bytes = modules.get(request.module);
  try {
    return { class: "module", fingerprint: fingerprint(new WebAssembly.Module(bytes), bytes) };
  } catch (error) {
    return classifyError(error, []);
  }
}

async function handle(request) {
  // The harness times a request from here, not from when it was sent: a
  // request queued behind a slow compile is not hung.
  if (request.type === "one-shot" || request.type === "case") send({ type: "started", id: request.id });
  switch (request.type) {
    case "module":
      modules.set(request.module, decodeBase64(request.bytes));
      return;
    case "one-shot":
      return send({ type: "result", id: request.id, outcome: oneShot(request) });
    case "case": {
      let result;
      try {
        result = await runCase(request);
      } catch (error) {
        result = { outcome: { class: "crash", message: `driver: ${error && error.stack || error}` } };
      }
      return send({ type: "result", id: request.id, ...result });
    }
    case "exit":
      process.exit(0);
    default:
      send({ type: "error", message: `unknown request type ${request.type}` });
  }
}

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
    handle(JSON.parse(line)).finally(() => { inFlight--; exitWhenIdle(); });
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

// No document, so no origin: cross-origin cases do not apply. A browser
// page adds "origin".
const capabilities = typeof fetch === "function" ? ["fetch"] : [];
send({ type: "hello", protocol: PROTOCOL, ...engineInfo(), capabilities });
