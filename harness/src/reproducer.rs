//! Standalone reproducers: a minimized failure written out as the `.wasm`,
//! a short `.mjs` (and `.html` for browsers) that feeds exactly those chunks
//! to `WebAssembly.compileStreaming` and prints expected vs actual. An
//! engine developer runs it without streamconform.
