// streamconform driver core: the process protocol's semantics
// (harness/engines/PROTOCOL.md), from a parsed request to its replies. Web-platform
// APIs only, so the same module runs under node, deno and bun (stdio.mjs)
// and in a browser page; a transport supplies `send` and `exit` and feeds
// `handle` the requests.

export const PROTOCOL = 9;

// The longest delay setTimeout accepts; a longer one fires at once.
const MAX_TIMER_MS = 2 ** 31 - 1;

// A value the harness sent that this driver has no case for: the Rust
// enums and these switches disagree (the wire round-trip test catches it).
// A value outside the vocabulary this driver knows: a fault of the harness
// (or of a newer engine it does not know yet), never an engine's result.
class UnknownValue extends Error {
  get name() { return "UnknownValue"; }
}

function unknown(what, value) {
  throw new UnknownValue(`unknown ${what} ${JSON.stringify(value)}`);
}

function decodeBase64(text) {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

function encodeBase64(bytes) {
  // In slices: String.fromCharCode takes its bytes as arguments.
  let raw = "";
  for (let i = 0; i < bytes.length; i += 0x8000) raw += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(raw);
}

// A cut list as it travels: offsets and half-open ranges `[a, b]` (every
// offset a..b-1), e.g. [8, 9, [10, 400000]]. Cut `k` is found without
// expanding the ranges: by the entry last used (chunks are taken in
// order), else by binary search over the entries' first cut indices.
class Cuts {
  constructor(entries = []) {
    this.starts = []; // offset of each entry's first cut
    this.firsts = []; // index of each entry's first cut
    this.length = 0;
    for (const entry of entries) {
      const [a, b] = typeof entry === "number" ? [entry, entry + 1] : entry;
      if (b <= a) continue;
      this.starts.push(a);
      this.firsts.push(this.length);
      this.length += b - a;
    }
    this.firsts.push(this.length);
    this.last = 0;
  }

  at(k) {
    let j = this.last;
    if (!(this.firsts[j] <= k && k < this.firsts[j + 1])) {
      let lo = 0, hi = this.starts.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (this.firsts[mid] <= k) lo = mid; else hi = mid - 1;
      }
      j = this.last = lo;
    }
    return this.starts[j] + (k - this.firsts[j]);
  }

  // Chunk `i` of `bytes`, made when it is enqueued: a one-byte plan of a
  // large module is hundreds of thousands of chunks, never all held at once.
  chunk(bytes, i) {
    const start = i === 0 ? 0 : this.at(i - 1);
    return bytes.subarray(start, i < this.length ? this.at(i) : bytes.length);
  }
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

// How many events the body delivers in all; checked before the stream
// starts, where an unknown kind crashes the case rather than the stream.
function eventCount(events) {
  let count = 0;
  for (const event of events) {
    switch (event[0]) {
      case "chunks": count += event[2]; break;
      case "bad": case "error": case "close": count++; break;
      default: unknown("event", event[0]);
    }
  }
  return count;
}

class Uint8Subclass extends Uint8Array {}

// How chunks of `type` are made from their bytes. Resolved before the
// stream starts: an unknown type thrown inside the stream would only error
// the stream (an outcome), not crash the case.
function chunkMaker(type) {
  switch (type) {
    case "uint8array": return (bytes) => bytes.slice();
    case "uint8array-offset": return (bytes) => {
      const big = new Uint8Array(bytes.length + 16);
      big.fill(0xee);
      big.set(bytes, 7);
      return big.subarray(7, 7 + bytes.length);
    };
    case "uint8array-subclass": return (bytes) => { const c = new Uint8Subclass(bytes.length); c.set(bytes); return c; };
    case "array-buffer": return (bytes) => bytes.slice().buffer;
    case "data-view": return (bytes) => new DataView(bytes.slice().buffer);
    case "int8array": return (bytes) => new Int8Array(bytes.slice().buffer);
    case "uint8clamped-array": return (bytes) => new Uint8ClampedArray(bytes.slice().buffer);
    case "uint16array": return (bytes) => new Uint16Array(Math.ceil(bytes.length / 2));
    case "float64array": return (bytes) => new Float64Array(Math.ceil(bytes.length / 8));
    case "string": return () => "\0asm";
    case "number": return () => 0;
    case "null": return () => null;
    case "undefined": return () => undefined;
    case "object": return () => ({});
    case "array": return () => [0, 97, 115, 109];
    default: unknown("chunk type", type);
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
    default: unknown("value", name);
  }
}

// A scenario's `options`: a name, or a dictionary as the case files write
// it (`builtins`, `imported-string-constants`), passed with the JS API's
// member names.
function compileOptions(name) {
  if (typeof name === "object" && name !== null) return optionsDictionary(name);
  switch (name) {
    case "empty": return {};
    case "null": return null;
    case "number": return 5;
    case "builtins-not-iterable": return { builtins: 5 };
    case "builtins-unknown": return { builtins: ["nope"] };
    case "builtins-duplicate": return { builtins: ["js-string", "js-string"] };
    default: unknown("options", name);
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
// harness/core/src/scenario.rs): the evidence that a case's premise held.
function makeStream(scenario, bytes, cuts, events, reason, drained, observed) {
  const pacing = scenario.pacing ?? "enqueue-all";
  const chunk = chunkMaker(scenario["chunk-type"] ?? "uint8array");
  const badChunk = scenario["bad-chunk"] === undefined ? null : chunkMaker(scenario["bad-chunk"]);
  // The queue's high-water mark, to tell queued chunks from read ones.
  let highWaterMark = 1;
  const apply = (controller, event) => {
    switch (event[0]) {
      case "chunk": controller.enqueue(chunk(cuts.chunk(bytes, event[1]))); observed.enqueued++; break;
      case "bad": controller.enqueue(badChunk(new Uint8Array(0))); observed.enqueued++; break;
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
  // Once a case is judged pending, its stream is errored, so the engine can
  // let the compile go instead of holding it, and whatever it occupies,
  // for the rest of the worker's life (a worker runs thousands of cases).
  const hold = (controller) => {
    observed.release = () => { try { controller.error(new Error("streamconform: released after the case")); } catch {} };
  };
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
  const endsInError = events.length > 0 && events[events.length - 1][0] === "error";
  switch (pacing) {
    case "pull":
      highWaterMark = 0;
      return new ReadableStream({
        start: hold,
        pull(controller) { applyUpTo(controller, 1); },
        cancel,
      }, { highWaterMark });
    case "enqueue-all":
      if (total <= QUEUE_BOUND || endsInError) break;
      // Everything in start(), but no more than QUEUE_BOUND chunks queued
      // at a time: the next ones are enqueued when the reader has taken
      // them all and waits for more. The reader sees the same chunks in
      // the same order without waiting on anything but the queue; what is
      // avoided is Node's stream queue, whose dequeue
      // (Array.prototype.shift) copies the whole queue once it is large,
      // making a 400 000-chunk body take minutes (the engine's own
      // reading, not what is under test). A body that errors is left as
      // the case paced it: where its error falls relative to the queue is
      // part of what it tests.
      highWaterMark = 0;
      return new ReadableStream({
        start(controller) { hold(controller); applyUpTo(controller, QUEUE_BOUND); },
        pull(controller) { applyUpTo(controller, QUEUE_BOUND); },
        cancel,
      }, { highWaterMark });
    case "macrotask": case "pause-before-close": break;
    default: unknown("pacing", pacing);
  }
  return new ReadableStream({
    async start(controller) {
      hold(controller);
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
  const shape = scenario.body ?? "stream";
  if (shape !== "stream") drained();
  switch (shape) {
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
    default: unknown("body", shape);
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

// What JS can observe of an instance's exports without calling them (see
// InstanceExport in harness/core/src/outcome.rs), in the module's export
// order: `instance.exports` lists integer-like names first, whatever their
// place in the module.
function instanceFingerprint(module, instance) {
  return {
    exports: WebAssembly.Module.exports(module).map(({ name, kind }) => exportShape(name, kind, instance.exports[name])),
  };
}

function exportShape(name, kind, value) {
  const shape = { name, kind };
  switch (kind) {
    case "function": shape.length = value.length; break;
    case "table": shape.length = Number(value.length); break;
    case "memory": shape.byte_length = value.buffer.byteLength; break;
    case "global": {
      let current;
      try { current = value.value; } catch { shape.value = "unrepresentable"; break; }
      shape.value = typeof current === "number" ? "number" : typeof current === "bigint" ? "bigint" : "reference";
      // Setting an immutable global throws; setting a mutable one to its
      // own value changes nothing.
      try { value.value = current; shape.mutable = true; } catch { shape.mutable = false; }
      break;
    }
    case "tag": break;
    default: unknown("export kind", kind);
  }
  return shape;
}

// How a streaming function's or its one-shot counterpart's result reads.
// The engine compiled (or instantiated) the module; if reading it back
// through the JS API then throws (`WebAssembly.Module.exports`, `imports`,
// `customSections`, an export's value), that is the engine's result too,
// not a fault of the driver: the JS API defines those reads for every
// module it accepts.
function settledWith(fn, result, bytes) {
  try {
    return readBack(fn, result, bytes);
  } catch (error) {
    if (error instanceof UnknownValue) throw error;
    return {
      class: "other-error",
      name: "ReadBackThrew",
      message: `reading the ${fn === "compile" ? "module" : "instance"} back through the JS API threw ${error?.name ?? "a value"}: ${error?.message ?? String(error)}`,
    };
  }
}

function readBack(fn, result, bytes) {
  if (fn === "compile") {
    return result instanceof WebAssembly.Module
      ? { class: "module", fingerprint: fingerprint(result, bytes) }
      : { class: "other-error", name: "NotAModule", message: String(result) };
  }
  const { module, instance } = result ?? {};
  return module instanceof WebAssembly.Module && instance instanceof WebAssembly.Instance
    ? { class: "instance", module: fingerprint(module, bytes), instance: instanceFingerprint(module, instance) }
    : { class: "other-error", name: "NotAnInstance", message: String(result) };
}

// The request's streaming function: `compile` (the default) or `instantiate`.
function streamingFunction(request) {
  const fn = request.function ?? "compile";
  if (fn !== "compile" && fn !== "instantiate") unknown("function", fn);
  return fn;
}

// An instantiation's import object (`imports`, see WireImports in
// protocol.rs): undefined; a plain object with each module instantiated
// in order, with the object built so far, its exports under its name; or
// an object a case declares, every read of which `log` records. Errors
// the object throws (from a getter, or a function start calls) are put in
// `thrown`, so a rejection with one of them reads as passed through.
//
// Boxed (`{ object }`): resolving an async function's promise with the
// object itself would read its `then`, a read the engine never made.
async function importObject(request, log = [], thrown = []) {
  if (request.imports === undefined) return { object: undefined };
  if (request.imports.declared !== undefined) {
    try {
      return { object: declaredValue(request.imports.declared, request.imports.objects ?? "getters", null, log, thrown) };
    } catch (error) {
      // A value the engine's own constructors refuse: the harness could
      // not build the case, so no outcome of it is the engine's.
      throw new DeclaredObjectUnbuilt(`the declared import object could not be built: ${error}`);
    }
  }
  return { object: await instancesObject(request.imports.instances) };
}

// An import object of named modules (`[{ name, bytes: BASE64 }]`): each
// instantiated in order with the object built so far, its exports then
// put under its name. Reproducers take this function as it is.
async function instancesObject(instances) {
  const object = {};
  for (const { name, bytes } of instances) {
    let instance;
    try {
      ({ instance } = await WebAssembly.instantiate(decodeBase64(bytes), object));
    } catch (error) {
      throw new ImportObjectUnavailable(`the import object's module "${name}" did not instantiate: ${error}`);
    }
    object[name] = instance.exports;
  }
  return object;
}

const GLOBAL_TYPES = ["i32", "i64", "f32", "f64"];
const INTERFACES = { global: WebAssembly.Global, memory: WebAssembly.Memory, table: WebAssembly.Table };

// A declared value (see ImportValue in harness/core/src/imports.rs): a
// table is a plain object whose reads are logged under `path` (null for
// the import object itself), a string names a value.
function declaredValue(value, objects, path, log, thrown) {
  if (typeof value !== "string") {
    const target = {};
    for (const [name, inner] of Object.entries(value)) {
      const at = path === null ? name : `${path}.${name}`;
      const resolved = inner === "throwing-getter" ? undefined : declaredValue(inner, objects, at, log, thrown);
      const get = () => {
        log.push(at);
        if (inner === "throwing-getter") {
          const error = { name: "FromTheImportObject", message: `the getter of ${at}` };
          thrown.push(error);
          throw error;
        }
        return resolved;
      };
      if (objects === "proxies") {
        // The proxy's `get` logs; the target holds getters that do not.
        Object.defineProperty(target, name, { get: inner === "throwing-getter" ? get : () => resolved, enumerable: true, configurable: true });
      } else {
        Object.defineProperty(target, name, { get, enumerable: true, configurable: true });
      }
    }
    if (objects === "getters") return target;
    if (objects !== "proxies") unknown("import objects", objects);
    const named = (key) => (typeof key === "symbol" ? key.toString() : path === null ? key : `${path}.${key}`);
    return new Proxy(target, {
      get(t, key, receiver) {
        const property = Object.getOwnPropertyDescriptor(t, key);
        // The throwing getter logs its own read.
        if (!(property && value[key] === "throwing-getter")) log.push(named(key));
        return Reflect.get(t, key, receiver);
      },
      has(t, key) { log.push(`has ${named(key)}`); return Reflect.has(t, key); },
      ownKeys(t) { log.push(path === null ? "keys" : `keys ${path}`); return Reflect.ownKeys(t); },
      getOwnPropertyDescriptor(t, key) { log.push(`describe ${named(key)}`); return Reflect.getOwnPropertyDescriptor(t, key); },
    });
  }
  switch (value) {
    case "undefined": return undefined;
    case "null": return null;
    case "true": return true;
    case "empty-string": return "";
    case "symbol": return Symbol();
    case "one": return 1;
    case "float": return 0.1;
    case "nan": return NaN;
    case "zero": return 0;
    case "zero-bigint": return 0n;
    case "plain-object": return {};
    case "function": return function () {};
    case "throwing-function": return function () {
      const error = { name: "FromTheImportObject", message: "a function of the import object" };
      thrown.push(error);
      throw error;
    };
    default: break;
  }
  const [kind, ...rest] = value.split(":");
  if (rest.length === 0) {
    const [, interfaceName, form] = /^(global|memory|table)-(constructor|prototype|like)$/.exec(value) ?? [];
    if (interfaceName === undefined) unknown("import value", value);
    const constructor = INTERFACES[interfaceName];
    if (form === "constructor") return constructor;
    if (form === "prototype") return constructor.prototype;
    return Object.create(constructor.prototype);
  }
  switch (kind) {
    case "global": {
      const [type, mutable] = rest;
      if (!GLOBAL_TYPES.includes(type) || (mutable !== undefined && mutable !== "mut")) unknown("import value", value);
      return new WebAssembly.Global({ value: type, mutable: mutable === "mut" }, type === "i64" ? 0n : 0);
    }
    case "memory": case "table": {
      const [initial, maximum] = rest.map(Number);
      const descriptor = maximum === undefined ? { initial } : { initial, maximum };
      return kind === "memory" ? new WebAssembly.Memory(descriptor) : new WebAssembly.Table({ element: "anyfunc", ...descriptor });
    }
    default: unknown("import value", value);
  }
}

// The engine could not build a case's import object: the case never ran.
// A declared import object the engine refused to build (a constructor
// threw): the harness's fault (the case asked for something this engine
// cannot make), never the engine's result.
class DeclaredObjectUnbuilt extends Error {
  get name() { return "DeclaredObjectUnbuilt"; }
}

class ImportObjectUnavailable extends Error {
  get name() { return "ImportObjectUnavailable"; }
}

const NO_REASON = Symbol("no reason");

// Where a declared import object's read log has the streaming call's
// return (CALL_RETURNED in harness/core/src/backend/mod.rs).
const CALL_RETURNED = "(call returned)";

// `given` lists the objects the case handed out: a rejection reason, a
// stream error, an abort reason, or fetch's own rejection.
function classifyError(error, given) {
  if (given.some((g) => g !== NO_REASON && Object.is(error, g))) return { class: "passed-through" };
  if (error instanceof WebAssembly.CompileError) return { class: "compile-error", message: String(error.message) };
  if (error instanceof WebAssembly.LinkError) return { class: "link-error", message: String(error.message) };
  if (error instanceof WebAssembly.RuntimeError) return { class: "runtime-error", message: String(error.message) };
  if (error instanceof TypeError) return { class: "type-error", message: String(error.message) };
  const name = error && typeof error === "object" && "name" in error ? String(error.name) : typeof error;
  const message = error && typeof error === "object" && "message" in error ? String(error.message) : String(error);
  return { class: "other-error", name, message };
}

const REQUEST_MODES = ["cors", "no-cors", "same-origin"];
const REDIRECT_MODES = ["follow", "manual", "error"];

// A case's fetch(): the URL (the harness's loopback server, or a data: or
// blob: URL of the module), the request init, and the abort controller.
function startFetch(spec, bytes, reason) {
  const controller = new AbortController();
  const abortReason = reason === NO_REASON ? undefined : reason;
  let url;
  let revoke = () => {};
  switch (spec.target) {
    case "same-origin": case "cross-origin": url = spec.url; break;
    case "data": url = `data:${spec["media-type"] ?? ""};base64,${encodeBase64(bytes)}`; break;
    case "blob":
      url = URL.createObjectURL(new Blob([bytes], { type: spec["media-type"] ?? "" }));
      revoke = () => URL.revokeObjectURL(url);
      break;
    default: unknown("fetch target", spec.target);
  }
  const mode = spec.mode ?? "cors";
  const redirect = spec.redirect ?? "follow";
  if (!REQUEST_MODES.includes(mode)) unknown("request mode", mode);
  if (!REDIRECT_MODES.includes(redirect)) unknown("redirect mode", redirect);
  const abort = spec.abort ?? "never";
  switch (abort) {
    case "never": case "same-turn": case "mid-body": break;
    case "before-call": controller.abort(abortReason); break;
    default: unknown("abort", abort);
  }
  const state = { fetchError: NO_REASON };
  const promise = fetch(url, { signal: controller.signal, mode, redirect });
  promise.catch((error) => { state.fetchError = error; });
  return {
    promise,
    afterCall() {
      if (abort === "same-turn") controller.abort(abortReason);
      // The server stalls mid-body, so the abort finds the body streaming:
      // counted from the response's arrival, not from the call, so a slow
      // start (a browser just launched) cannot make it an abort before
      // the body.
      if (abort === "mid-body") {
        promise.then(() => setTimeout(() => controller.abort(abortReason), 50), () => {});
      }
    },
    given: () => [state.fetchError, controller.signal.aborted ? controller.signal.reason : NO_REASON],
    // Frees a stalled connection once the outcome is known.
    cleanup() { if (!controller.signal.aborted) controller.abort(); revoke(); },
  };
}

function makeArgument(scenario, response, reason, fetched) {
  const argument = scenario.argument ?? "response";
  switch (argument) {
    case "response": return response;
    case "promise": return Promise.resolve(response);
    case "late-promise": return new Promise((resolve) => setTimeout(() => resolve(response), 5));
    case "thenable": return { then(resolve) { resolve(response); } };
    case "rejected": { const rejected = Promise.reject(reason); rejected.catch(() => {}); return rejected; }
    case "thenable-throws": return { then() { throw reason; } };
    case "never-settles": return new Promise(() => {});
    case "value": return jsValue(scenario.value);
    case "value-in-promise": return Promise.resolve(jsValue(scenario.value));
    case "fetch": return fetched.promise;
    case "fetched": return response;
    case "response-error": return Response.error();
    case "response-redirect": return Response.redirect("http://127.0.0.1/", scenario.status);
    default: unknown("argument", argument);
  }
}

async function runCase(request, bytes) {
  const fn = streamingFunction(request);
  // Built before anything of the case exists, so its awaits pace nothing.
  let imports;
  // A declared import object's reads, and what it threw.
  const reads = [];
  const thrown = [];
  try {
    ({ object: imports } = await importObject(request, reads, thrown));
  } catch (error) {
    return { outcome: classifyError(error, []) };
  }
  const declared = request.imports?.declared !== undefined;
  const scenario = request.scenario;
  const cuts = new Cuts(request.cuts);
  const reason = scenario.reason !== undefined ? jsValue(scenario.reason) : NO_REASON;
  let drained;
  const drainedPromise = new Promise((resolve) => { drained = resolve; });
  const fetched = scenario.fetch ? startFetch(scenario.fetch, bytes, reason) : null;
  let response;
  // Filled in by a constructed stream body; reported with the outcome.
  const observed = { enqueued: 0, readBeforeEnd: null, cancelled: false, release: () => {} };
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
  // Before the call; the `-after` states and `called-twice` come in
  // compileStreaming's own turn (below).
  const bodyState = scenario["body-state"] ?? "fresh";
  switch (bodyState) {
    case "fresh": case "consumed-after": case "locked-after": case "called-twice": break;
    case "locked": response.body.getReader(); break;
    case "disturbed": { const reader = response.body.getReader(); await reader.read(); reader.releaseLock(); break; }
    case "cancelled": await response.body.cancel(); break;
    case "consumed-before": await response.arrayBuffer().catch(() => {}); break;
    default: unknown("body state", bodyState);
  }
  const argument = makeArgument(scenario, response, reason, fetched);
  const optionsArgs = scenario.options === undefined ? [] : [compileOptions(scenario.options)];
  // instantiateStreaming(source, importObject, options): without an import
  // object, `undefined` holds its place only when options follow.
  // A declared `undefined` is passed; an omitted one is not.
  const instantiateArgs = imports === undefined && optionsArgs.length === 0 && !declared ? [] : [imports, ...optionsArgs];
  const call = fn === "compile"
    ? () => WebAssembly.compileStreaming(argument, ...optionsArgs)
    : () => WebAssembly.instantiateStreaming(argument, ...instantiateArgs);
  if (bodyState === "called-twice") {
    // The first call locks the body in its reaction; the case is the second.
    call().catch(() => {});
  }
  let promise;
  try {
    promise = call();
  } catch (error) {
    // The streaming functions never throw: their errors are rejections.
    promise = Promise.reject({ name: "ThrewAtTheCall", message: String(error) });
  }
  if (declared) reads.push(CALL_RETURNED);
  fetched?.afterCall();
  // Same turn, after the call and before its reaction runs.
  if (bodyState === "consumed-after") response.arrayBuffer().catch(() => {});
  if (bodyState === "locked-after") response.body.getReader();
  const change = scenario["after-call"];
  if (change?.set) response.headers.set(change.set[0], change.set[1]);
  if (change?.delete) response.headers.delete(change.delete);

  // Only a case whose source or body may never end has a pending window
  // (`settle_ms`); any other compile is awaited until it settles, however
  // late (the harness bounds it with its hang timeout).
  let timer;
  const pending = request.settle_ms == null
    ? new Promise(() => {})
    : drainedPromise.then(() => new Promise((resolve) => {
      timer = setTimeout(() => resolve({ class: "pending" }), Math.min(request.settle_ms, MAX_TIMER_MS));
    }));
  const settled = promise.then(
    (result) => settledWith(fn, result, bytes),
    (error) => classifyError(error, [reason, ...thrown, ...(fetched ? fetched.given() : [])]),
  );
  const outcome = await Promise.race([settled, pending]);
  clearTimeout(timer);
  fetched?.cleanup();
  const body = observed.readBeforeEnd === null && !observed.cancelled
    ? undefined
    : { read_before_end: observed.readBeforeEnd ?? 0, cancelled: observed.cancelled };
  if (outcome.class === "pending") observed.release();
  return declared ? { outcome, body, reads } : { outcome, body };
}

function optionsDictionary(written) {
  const options = {};
  for (const [key, value] of Object.entries(written)) {
    switch (key) {
      case "builtins": options.builtins = value; break;
      case "imported-string-constants": options.importedStringConstants = value; break;
      default: unknown("options key", key);
    }
  }
  return options;
}

// The invariance oracle: `new WebAssembly.Module(bytes)`, answered in the
// same turn (so an `exit` right after it finds it answered), or a promise of
// `WebAssembly.instantiate(bytes, importObject)` for instantiateStreaming;
// with the case's options dictionary, if it passes one.
function oneShot(request, bytes) {
  const fn = streamingFunction(request);
  const options = request.options === undefined ? [] : [optionsDictionary(request.options)];
  if (fn === "compile") {
    try {
      return settledWith(fn, new WebAssembly.Module(bytes, ...options), bytes);
    } catch (error) {
      return classifyError(error, []);
    }
  }
  const thrown = [];
  return importObject(request, [], thrown).then(
    ({ object: imports }) => {
      let promise;
      try {
        promise = WebAssembly.instantiate(bytes, imports, ...options);
      } catch (error) {
        // As for the streaming call: a promise-returning function that
        // throws is the engine's doing, read as such.
        promise = Promise.reject({ name: "ThrewAtTheCall", message: String(error) });
      }
      return promise.then(
        (result) => settledWith(fn, result, bytes),
        (error) => classifyError(error, thrown),
      );
    },
    (error) => classifyError(error, []),
  );
}

// A driver fault as text: the error and its stack, without where this run
// serves the driver from (a page's random port and run prefix, a
// process's checkout path), so one fault reads the same in every run.
function faultText(error) {
  const stack = typeof error?.stack === "string" ? error.stack : "";
  const text = stack.includes(String(error)) ? stack : `${error}${stack ? `\n${stack}` : ""}`;
  const base = import.meta.url.slice(0, import.meta.url.lastIndexOf("/") + 1);
  return text.split(base).join("");
}

// A protocol worker's state and semantics. `send(message)` writes one reply;
// `exit()` ends the worker (an `exit` request); `capabilities` are the
// hello's (see PROTOCOL.md).
export function createDriver({ send, exit, engine, version, capabilities }) {
  const modules = new Map(); // module id -> Uint8Array
  return {
    hello() {
      send({ type: "hello", protocol: PROTOCOL, engine, version, capabilities });
    },
    // Handles one parsed request; settles when its replies are sent.
    async handle(request) {
      // The harness times a request from here, not from when it was sent: a
      // request queued behind a slow compile is not hung.
      if (request.type === "one-shot" || request.type === "case") send({ type: "started", id: request.id });
      switch (request.type) {
        case "module":
          modules.set(request.module, decodeBase64(request.bytes));
          return;
        case "forget":
          modules.delete(request.module);
          return;
        case "one-shot": {
          const reply = (outcome) => send({ type: "result", id: request.id, outcome });
          const crash = (error) => reply({ class: "crash", message: `driver: ${faultText(error)}` });
          let outcome;
          try {
            outcome = oneShot(request, modules.get(request.module));
          } catch (error) {
            return crash(error);
          }
          return outcome instanceof Promise ? outcome.then(reply, crash) : reply(outcome);
        }
        case "case": {
          let result;
          try {
            result = await runCase(request, modules.get(request.module));
          } catch (error) {
            result = { outcome: { class: "crash", message: `driver: ${faultText(error)}` } };
          }
          return send({ type: "result", id: request.id, ...result });
        }
        // The harness asks a worker silent with requests in flight whether
        // its event loop still runs (a deadlocked engine cannot answer).
        case "ping":
          return send({ type: "pong" });
        case "exit":
          return exit();
        default:
          send({ type: "error", message: `unknown request type ${request.type}` });
      }
    },
  };
}
