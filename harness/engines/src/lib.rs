//! streamconform's out-of-process engines, behind the core's
//! [`Backend`](streamconform::Backend) trait.
//!
//! - `worker/`: the worker protocol (`PROTOCOL.md`) and its client, pools
//!   and transports, shared by every out-of-process engine;
//! - `process/`: JS runtimes (node, deno, bun) and any program that speaks
//!   the protocol on stdio (`command:PROGRAM`);
//! - `browser/`: chromium and firefox, a driver page per browser over a
//!   WebSocket;
//! - `js.rs`: the JS driver (`js/`), one core with thin transports;
//! - `loopback_server.rs`: what `fetch()` cases fetch;
//! - `reproducer.rs`: standalone reproducers of a failing plan;
//! - `registry.rs`: the backends by name (`--backend NAME`);
//! - `releases.rs`: other releases of node, deno and bun beside the
//!   machine's (`--backend node@22`), installed on first use.
//!
//! Internal to streamconform's own crates: no stability promise.

pub mod browser;
pub mod js;
pub mod launcher;
pub mod loopback_server;
pub mod process;
pub mod registry;
pub mod releases;
pub mod reproducer;
pub mod switches;
pub mod worker;

pub use registry::{by_name, by_name_with, engine_binary, NamedBackends, BACKEND_NAMES};
