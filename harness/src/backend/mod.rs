//! Backends: the engines under test.
//!
//! [`Backend`] is the in-process trait: an engine repo implements it in a few
//! lines and runs the whole harness from `cargo test` (see the crate docs).
//! `reference.rs` is ours, built on wasmparser. Out-of-process engines (JS
//! runtimes, browsers) plug in behind the same trait.

pub mod fault_injection;
mod reference;
pub mod web_api_model;

pub use reference::{validate_one_shot, wasm_features, ReferenceBackend};

use crate::case::Features;
use crate::error::Error;
use crate::outcome::Outcome;
use crate::plan::{ChunkPlan, Chunks};
use crate::webapi::Scenario;
use serde::{Deserialize, Serialize};

/// How a body stream ends after its last chunk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BodyEnd {
    /// `close()`: the body is complete.
    #[default]
    Close,
    /// `controller.error(reason)`: the promise must reject with `reason`.
    Error,
    /// The stream stays open: the promise must stay pending.
    Never,
}

/// The streaming input of one compile: the chunks in order, then the end.
#[derive(Clone, Debug)]
pub struct StreamingBody<'a> {
    pub chunks: Chunks<'a>,
    pub end: BodyEnd,
}

/// Who a backend is, for reports and `streamconform backends`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendInfo {
    pub name: String,
    pub version: String,
}

/// An engine under test, in process.
///
/// Implementations must be callable from several threads at once. A panic
/// is caught and recorded as a crash of that compile; a compile that never
/// returns costs its case once the runner's timeout passes.
pub trait Backend: Send + Sync {
    fn info(&self) -> BackendInfo;

    /// `compileStreaming` of a body delivered as `body.chunks`, then ended
    /// as `body.end` says.
    fn compile_streaming(&self, body: StreamingBody<'_>, features: &Features) -> Outcome;

    /// The engine's own one-shot compile of the same bytes
    /// (`new WebAssembly.Module(bytes)`): the invariance oracle.
    fn compile_one_shot(&self, bytes: &[u8], features: &Features) -> Outcome;

    /// A Web API case: `scenario` around the module bytes, with a streamed
    /// body cut by `plan`. `None` means this backend only compiles bytes
    /// (it has no Response objects), and the case is not applicable to it.
    fn compile_web_api(
        &self,
        scenario: &Scenario,
        module: &[u8],
        plan: &ChunkPlan,
    ) -> Option<Outcome> {
        let _ = (scenario, module, plan);
        None
    }
}

/// The names `--backend` accepts.
pub const BACKEND_NAMES: &[&str] = &["reference"];

/// Builds a backend by its command-line name.
pub fn by_name(name: &str) -> Result<Box<dyn Backend>, Error> {
    match name {
        "reference" => Ok(Box::new(ReferenceBackend)),
        _ => Err(Error::UnknownBackend {
            name: name.to_string(),
            available: BACKEND_NAMES.join(", "),
        }),
    }
}
