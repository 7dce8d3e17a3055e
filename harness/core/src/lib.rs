//! streamconform: a conformance harness for WebAssembly streaming
//! compilation (`WebAssembly.compileStreaming`), run from your engine's
//! `cargo test`.
//!
//! Add a test target to your engine's `Cargo.toml`:
//!
//! ```toml
//! [dev-dependencies]
//! streamconform = "0.1"
//!
//! [[test]]
//! name = "streaming"
//! harness = false
//! ```
//!
//! and implement [`Backend`] for your engine in `tests/streaming.rs`:
//!
//! ```no_run
//! use streamconform::{Backend, BackendInfo, BodyEnd, Conformance, Features, Outcome, StreamingBody};
//! # mod my_engine {
//! #     use streamconform::{Backend, Features, Outcome};
//! #     pub fn compile(bytes: &[u8], features: &Features) -> Outcome {
//! #         streamconform::ReferenceBackend.compile_one_shot(bytes, features)
//! #     }
//! # }
//!
//! struct MyEngine;
//!
//! impl Backend for MyEngine {
//!     fn info(&self) -> BackendInfo {
//!         BackendInfo { name: "my-engine".into(), version: "0.1.0".into() }
//!     }
//!     fn compile_streaming(&self, body: StreamingBody<'_>, features: &Features) -> Outcome {
//!         // Feed each chunk to your engine's streaming decoder as it arrives.
//!         let bytes: Vec<u8> = body.chunks.flatten().copied().collect();
//!         match body.end {
//!             BodyEnd::Close => self.compile_one_shot(&bytes, features),
//!             BodyEnd::Error => Outcome::PassedThrough, // rejects with the stream's error
//!             BodyEnd::Never => Outcome::Pending,       // the body never ends
//!         }
//!     }
//!     fn compile_one_shot(&self, bytes: &[u8], features: &Features) -> Outcome {
//!         my_engine::compile(bytes, features) // Outcome::Module { fingerprint } or CompileError
//!     }
//! }
//!
//! fn main() {
//!     let expectations = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/streaming-expectations.toml");
//!     Conformance::new(MyEngine).expectations(expectations).run_as_test_harness()
//! }
//! ```
//!
//! `cargo test --test streaming` then splits every module of the official
//! testsuite and of streamconform's own streaming cases at many chunk
//! boundaries, feeds the chunks to your backend, and judges each outcome
//! against the spec and against the backend's own one-shot compile: one
//! trial per case, so `cargo test -- FILTER`, `--exact ID` and nextest work
//! as usual. `STREAMCONFORM_BLESS=1 cargo test` records the current
//! failures as known ones in the expectations file.
//!
//! # The API
//!
//! Everything an engine repo names is exported here, at the root:
//!
//! - the engine: [`Backend`] (with [`BackendInfo`], [`StreamingBody`],
//!   [`Chunks`], [`BodyEnd`], [`Features`], [`SpecVersion`],
//!   [`ProposalSupport`]) and what it returns, [`Outcome`] (with
//!   [`OutcomeClass`], [`Fingerprint`], [`ImportDescriptor`],
//!   [`ExportDescriptor`]);
//! - the run: [`Conformance`], with [`SuiteSpec`], [`PlanSet`], [`Limits`];
//!   [`ReferenceBackend`], a correct backend to compare with or delegate to;
//!   [`Error`], what parsing a suite or plan set name can fail with;
//! - optionally, Web API cases: [`WebApiBackend`], for a backend that builds
//!   real `Response` objects around the module bytes, with [`Scenario`],
//!   [`ChunkPlan`], [`WebApiOutcome`] and [`BodyObservation`].
//!
//! The crate's modules (`runner`, `suites`, `verdict`, `reporter`, ...) are
//! public only because streamconform's own crates (the CLI, the engines and
//! publish crates) use them. They are hidden from these docs: internal,
//! with no stability promise; an engine repo should not depend on them.
//!
//! The repository's `docs/` (<https://github.com/streamconform/streamconform>)
//! has the user guide: expectations files, plan sets, the suites, the CLI.
//!
//! # Features
//!
//! - `fuzz` (off): generated modules (`fuzz:SEED` suites) and differential
//!   fuzzing, with wasm-smith.

#![warn(missing_docs)]

pub use backend::{
    Backend, BackendInfo, BodyEnd, InstantiateBackend, ProposalSupport, ReferenceBackend,
    StreamingBody, WebApiBackend, WebApiOutcome,
};
pub use case::{ImportObject, NamedModule, StreamingFunction};
pub use error::Error;
pub use features::{Features, SpecVersion};
pub use libtest::Conformance;
pub use outcome::{
    ExportDescriptor, Fingerprint, ImportDescriptor, InstanceExport, InstanceFingerprint, Outcome,
    OutcomeClass,
};
pub use plan::{ChunkPlan, Chunks, PlanSet};
pub use scenario::{BodyObservation, Scenario};
pub use suites::{Limits, SuiteSpec};

// Kept at the root for streamconform's own crates; not engine-facing.
#[doc(hidden)]
pub use case::Case;

// The modules below are internal to streamconform's own crates (the CLI,
// the engines and publish crates use them): public for that reason only,
// hidden from the docs, with no stability promise. Engine repos use the
// root exports above.
//
// Where things are: `suites` (where cases come from), `plan` (where a chunk
// plan is made), `backend` (the engines), `runner` (running cases),
// `verdict` (where an outcome is judged), `expectations` (known failures,
// applied once, in `runner::conclude`), `reporter` (consumers of run
// events), `session` (a run as data: its checks, journal and atomic report),
// `libtest` (the `cargo test` front end).

#[doc(hidden)]
pub mod backend;
#[doc(hidden)]
pub mod case;
#[doc(hidden)]
pub mod error;
#[doc(hidden)]
pub mod escape;
#[doc(hidden)]
pub mod expectations;
#[doc(hidden)]
pub mod features;

#[doc(hidden)]
pub mod imports;
pub mod streaming_function;

#[cfg(feature = "fuzz")]
#[doc(hidden)]
pub mod fuzz;
mod instantiation;
#[doc(hidden)]
pub mod libtest;
#[doc(hidden)]
pub mod outcome;
#[doc(hidden)]
pub mod output;
#[doc(hidden)]
pub mod plan;
#[doc(hidden)]
pub mod reporter;
#[doc(hidden)]
pub mod runner;
#[doc(hidden)]
pub mod scenario;
#[doc(hidden)]
pub mod session;
#[doc(hidden)]
pub mod suites;
#[doc(hidden)]
pub mod verdict;
