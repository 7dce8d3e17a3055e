//! streamconform: a conformance harness for WebAssembly streaming
//! compilation (`WebAssembly.compileStreaming`).
//!
//! It splits every module of the official testsuite (and of our own
//! streaming edge cases) at many chunk boundaries, feeds the chunks to a
//! backend, and judges each outcome against the spec and against the
//! backend's own one-shot compile.
//!
//! # Running it against your engine from `cargo test`
//!
//! ```toml
//! [dev-dependencies]
//! streamconform = { git = "...", package = "streamconform" }
//!
//! [[test]]
//! name = "streaming"
//! harness = false
//! ```
//!
//! ```no_run
//! use streamconform::{Backend, BackendInfo, Conformance, Features, Outcome, StreamingBody};
//!
//! struct MyEngine;
//!
//! impl Backend for MyEngine {
//!     fn info(&self) -> BackendInfo {
//!         BackendInfo { name: "my-engine".into(), version: "0.1".into() }
//!     }
//!     fn compile_streaming(&self, body: StreamingBody<'_>, f: &Features) -> Outcome {
//!         let bytes: Vec<u8> = body.chunks.flatten().copied().collect(); // or feed your decoder
//!         self.compile_one_shot(&bytes, f)
//!     }
//!     fn compile_one_shot(&self, _bytes: &[u8], _f: &Features) -> Outcome {
//!         unimplemented!("call your engine")
//!     }
//! }
//!
//! fn main() {
//!     Conformance::new(MyEngine).expectations("tests/streaming-expectations.toml").run_as_test_harness()
//! }
//! ```
//!
//! Where things are: `suites` (where cases come from), `plan` (where a chunk
//! plan is made), `backend` (the engines), `runner` (running cases),
//! `verdict` (where an outcome is judged), `expectations` (known failures,
//! applied once, in `runner::conclude`), `reporter` (consumers of run events),
//! `journal` (results kept as they finish, for `run --resume`), `libtest`,
//! `cli`, and `loopback_server` (what `fetch()` cases fetch).

pub mod backend;
pub mod case;
pub mod error;
pub mod expectations;
pub mod features;
#[cfg(feature = "fuzz")]
pub mod fuzz;
pub mod libtest;
pub mod outcome;
pub mod plan;
pub mod reporter;
pub mod runner;
pub mod scenario;
pub mod session;
pub mod suites;
pub mod verdict;

pub use backend::{Backend, BackendInfo, BodyEnd, ReferenceBackend, StreamingBody};
pub use case::Case;
pub use error::Error;
pub use features::Features;
pub use libtest::Conformance;
pub use outcome::{Fingerprint, Outcome, OutcomeClass};
pub use plan::{ChunkPlan, PlanSet};
pub use suites::SuiteSpec;
