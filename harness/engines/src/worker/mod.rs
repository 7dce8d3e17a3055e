//! A worker: anything that speaks the streamconform protocol
//! (`harness/engines/PROTOCOL.md`), whether a process on stdio or a browser page on
//! a WebSocket. Shared by the process and browser backends:
//! - `transport.rs` moves protocol messages to and from one worker;
//! - `protocol.rs` is the wire vocabulary, shared with the JS driver;
//! - `client.rs` is the protocol client: requests in flight on a worker,
//!   replies checked against them, hang timers;
//! - `pool.rs` keeps long-lived worker processes, replaced when they die;
//! - `engine.rs` is the backend over any pool of workers: handshake,
//!   proposal detection, retries.

pub mod client;
pub mod engine;
pub mod pool;
pub mod protocol;
pub mod transport;
