//! Backends: the engines under test.
//!
//! [`Backend`] is the in-process trait: an engine repo implements it in a few
//! lines and runs the whole harness from `cargo test` (see the crate docs).
//! `reference.rs` is ours, built on wasmparser. Out-of-process engines (JS
//! runtimes, browsers) plug in behind the same trait.

pub mod fault_injection;
mod reference;

pub use reference::{decide_instantiation, ReferenceBackend, REFERENCE_NAME};

use crate::case::ImportObject;
use crate::features::Features;
use crate::outcome::Outcome;
use crate::plan::{ChunkPlan, Chunks};
use crate::scenario::BodyObservation;
use crate::scenario::{OptionsDictionary, Scenario};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

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
///
/// A backend feeds `chunks` to its engine one at a time, as a `Response`
/// body would deliver them (some may be empty), then ends the stream as
/// `end` says.
#[derive(Clone, Debug)]
pub struct StreamingBody<'a> {
    /// The body's chunks, in delivery order; together they are the module
    /// bytes (or a prefix of them, for a truncation case).
    pub chunks: Chunks<'a>,
    /// What happens after the last chunk.
    pub end: BodyEnd,
}

/// Who a backend is, for reports and `streamconform backends`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendInfo {
    /// A short stable name (`wasmi`, `v8`): it names the backend in
    /// reports and must match `backend` in its expectations file.
    pub name: String,
    /// The engine's version as it wants it shown, e.g. `wasmi 2.0.1`.
    pub version: String,
}

impl BackendInfo {
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> BackendInfo {
        BackendInfo {
            name: name.into(),
            version: version.into(),
        }
    }
}

/// What an engine found out about its proposals (see
/// [`Backend::proposal_support`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposalSupport {
    /// Proposals on only with a switch → the switch, as passed. Cases that
    /// enable the proposal run on workers started with it.
    #[serde(default)]
    pub switched_on: std::collections::BTreeMap<String, String>,
    /// Proposals the engine does not have, even with its switches.
    #[serde(default)]
    pub lacking: Vec<String>,
}

/// An engine under test at the level of bytes: the trait an engine repo
/// implements (see the crate docs). It never sees Web API types; Web API
/// support is the separate [`WebApiBackend`] capability.
///
/// Implementations must be callable from several threads at once. A panic
/// is caught and recorded as a crash of that compile; a compile that never
/// returns costs its case once the runner's timeout passes.
pub trait Backend: Send + Sync {
    /// The engine's name and version.
    fn info(&self) -> BackendInfo;

    /// `compileStreaming` of a body delivered as `body.chunks`, then ended
    /// as `body.end` says, with `features` on.
    ///
    /// On [`BodyEnd::Close`] the result is the compile's: a
    /// [`Outcome::Module`] or a [`Outcome::CompileError`]. On
    /// [`BodyEnd::Error`] the spec rejects with the stream's own reason
    /// ([`Outcome::PassedThrough`]), and on [`BodyEnd::Never`] the promise
    /// stays pending ([`Outcome::Pending`]), whatever the chunks held.
    fn compile_streaming(&self, body: StreamingBody<'_>, features: &Features) -> Outcome;

    /// The engine's own one-shot compile of the same bytes
    /// (`new WebAssembly.Module(bytes)`): the invariance oracle. Every
    /// chunking of a module must give an outcome equivalent to this one
    /// (see [`Outcome::equivalent`]).
    fn compile_one_shot(&self, bytes: &[u8], features: &Features) -> Outcome;

    /// Which proposals the engine has only behind a switch, and which it
    /// lacks even with its switches, if it knows. `None` (the default):
    /// every proposal is taken as supported.
    fn proposal_support(&self) -> Option<ProposalSupport> {
        None
    }

    /// Whether this engine cannot run `proposal` (a testsuite directory
    /// name such as `gc`), even with its switches. A failing case whose
    /// module uses such a proposal is labelled "unsupported proposal X" in
    /// reports, apart from deviations; it still fails the spec oracle.
    fn lacks(&self, proposal: &str) -> bool {
        self.proposal_support()
            .is_some_and(|s| s.lacking.iter().any(|p| p == proposal))
    }

    /// Whether the engine can run at all (it starts, handshakes, speaks
    /// the protocol). An `Err` is an environment error: the run reports it
    /// once and records no case of this backend, instead of recording every
    /// case as an engine failure.
    fn ready(&self) -> Result<(), String> {
        Ok(())
    }

    /// How many cases the runner should keep in flight on this backend
    /// (out-of-process engines want many); `None` means one per core.
    fn preferred_jobs(&self) -> Option<usize> {
        None
    }

    /// This engine on fresh workers of its own (processes, a browser), for
    /// running a failed case again away from whatever state the shared
    /// ones are in (`run --retries`); dropped after the retry. `None` (the
    /// default): the engine keeps no state between cases (in process), and
    /// the retry runs on it as it is.
    fn fresh_for_retry(&self) -> Option<BackendUnderTest> {
        None
    }

    /// The run is done with this backend: the workers it started
    /// (processes, a browser) may stop now rather than when it is dropped,
    /// so backends that finished do not hold memory beside those still
    /// running. Asked for work again, it starts them afresh.
    fn release(&self) {}
}

/// The Web API capability: a backend that builds real `Response` objects
/// (or models them) around the module bytes.
///
/// Optional: a backend without it runs every byte-level case, and the Web
/// API cases (the `webapi` suite) count as not applicable. JS runtimes get
/// it from `streamconform-engines`, which drives them out of process with a
/// JS driver that builds the objects each [`Scenario`] describes; run an
/// in-process one with [`Conformance::with_web_api`](crate::Conformance::with_web_api).
pub trait WebApiBackend: Send + Sync {
    /// A Web API case: `scenario` around the module bytes, with a streamed
    /// body cut by `plan` (when the scenario streams one; see
    /// [`ChunkPlan::chunks`]).
    fn compile_web_api(
        &self,
        scenario: &Scenario,
        module: &[u8],
        plan: &ChunkPlan,
    ) -> WebApiOutcome;

    /// `instantiateStreaming` in the same scenario, with `imports` as the
    /// import object: everything [`WebApiBackend::compile_web_api`] does,
    /// then (only for a module that compiled) the imports read and linked
    /// and the module instantiated, as
    /// [`InstantiateBackend::instantiate_streaming`] does. Run only on a
    /// backend that also has the instantiation capability.
    fn instantiate_web_api(
        &self,
        scenario: &Scenario,
        module: &[u8],
        plan: &ChunkPlan,
        imports: &ImportObject,
    ) -> WebApiOutcome;

    /// The engine's own one-shot call with a case's options dictionary,
    /// the invariance oracle of a case that passes options:
    /// `new WebAssembly.Module(bytes, options)`, or with `imports`
    /// `WebAssembly.instantiate(bytes, importObject, options)`. `None` (the
    /// default): the backend cannot pass options, and such a case has no
    /// invariance oracle on it.
    fn one_shot_with_options(
        &self,
        bytes: &[u8],
        features: &Features,
        options: &OptionsDictionary,
        imports: Option<&ImportObject>,
    ) -> Option<Outcome> {
        let _ = (bytes, features, options, imports);
        None
    }

    /// Why this backend cannot run `scenario` at all (it is then counted as
    /// not applicable, with this reason), or `None`. For example a runtime
    /// without an origin has no cross-origin requests.
    fn not_applicable(&self, scenario: &Scenario) -> Option<String> {
        let _ = scenario;
        None
    }
}

/// What a Web API compile gave, and what the body stream was seen doing
/// (when the backend can observe it): the evidence for the case's premise.
///
/// A backend that cannot observe the stream converts its [`Outcome`] with
/// `.into()`.
#[derive(Clone, Debug, PartialEq)]
pub struct WebApiOutcome {
    /// How the `compileStreaming` promise settled.
    pub outcome: Outcome,
    /// What the body stream's reader was seen doing, if the backend saw it;
    /// `None` claims nothing.
    pub body: Option<BodyObservation>,
    /// For a declared import object: every read of it, in order, with
    /// [`CALL_RETURNED`] where the streaming call returned (see the
    /// `reads` of a case); `None` claims nothing.
    pub reads: Option<Vec<String>>,
    /// Why the harness did not present the case as described (its loopback
    /// server did not serve the body as registered: refused, cut off, or
    /// crowded out by a flood), if it did not: the outcome then says
    /// nothing about the engine, and the case is a harness error.
    pub harness_fault: Option<String>,
}

impl From<Outcome> for WebApiOutcome {
    fn from(outcome: Outcome) -> WebApiOutcome {
        WebApiOutcome {
            outcome,
            body: None,
            reads: None,
            harness_fault: None,
        }
    }
}

/// The entry a declared import object's read log has where the streaming
/// call returned: reads before it happened during the call.
pub const CALL_RETURNED: &str = "(call returned)";

/// The instantiation capability: `instantiateStreaming` over the same
/// bodies `compileStreaming` gets, and the engine's own one-shot
/// `WebAssembly.instantiate` as its invariance oracle.
///
/// Optional: a backend without it counts `instantiateStreaming` cases (ids
/// ending in `@instantiate`) as not applicable.
pub trait InstantiateBackend: Send + Sync {
    /// `instantiateStreaming` of a body delivered as `body.chunks`, then
    /// ended as `body.end` says, with `imports` as the import object.
    ///
    /// The spec's order: the stream's fate and the compile decide first
    /// (as for [`Backend::compile_streaming`]); only a module that compiled
    /// has its imports read (a missing import object or namespace:
    /// [`Outcome::TypeError`]) and linked ([`Outcome::LinkError`]), then
    /// instantiated ([`Outcome::RuntimeError`] when that traps), giving
    /// [`Outcome::Instance`].
    fn instantiate_streaming(
        &self,
        body: StreamingBody<'_>,
        features: &Features,
        imports: &ImportObject,
    ) -> Outcome;

    /// The engine's own one-shot `WebAssembly.instantiate(bytes,
    /// importObject)`: every chunking must give an outcome equivalent to it.
    fn instantiate_one_shot(
        &self,
        bytes: &[u8],
        features: &Features,
        imports: &ImportObject,
    ) -> Outcome;

    /// Why this backend cannot judge instantiating `bytes` with `imports`
    /// as the import object at all (the case is then not applicable on it,
    /// with this reason), or `None`.
    fn not_applicable(
        &self,
        bytes: &[u8],
        features: &Features,
        imports: &ImportObject,
    ) -> Option<String> {
        let _ = (bytes, features, imports);
        None
    }
}

/// A backend as the runner holds it: the bytes-level engine, and its Web
/// API and instantiation capabilities if it has them.
#[derive(Clone)]
pub struct BackendUnderTest {
    /// The bytes-level engine.
    pub engine: Arc<dyn Backend>,
    /// Its Web API capability, if it has one.
    pub web_api: Option<Arc<dyn WebApiBackend>>,
    /// Its instantiation capability, if it has one.
    pub instantiate: Option<Arc<dyn InstantiateBackend>>,
}

impl BackendUnderTest {
    /// An engine that compiles bytes only: Web API cases are not applicable.
    pub fn bytes_only(engine: impl Backend + 'static) -> BackendUnderTest {
        BackendUnderTest {
            engine: Arc::new(engine),
            web_api: None,
            instantiate: None,
        }
    }

    /// An engine with both capabilities.
    pub fn with_web_api<B: Backend + WebApiBackend + 'static>(engine: B) -> BackendUnderTest {
        let engine = Arc::new(engine);
        BackendUnderTest {
            engine: engine.clone(),
            web_api: Some(engine),
            instantiate: None,
        }
    }

    /// An engine with every capability: bytes, Web API, instantiation.
    pub fn complete<B>(engine: B) -> BackendUnderTest
    where
        B: Backend + WebApiBackend + InstantiateBackend + 'static,
    {
        let engine = Arc::new(engine);
        BackendUnderTest {
            engine: engine.clone(),
            web_api: Some(engine.clone()),
            instantiate: Some(engine),
        }
    }

    /// The same engine, with `instantiate` as its instantiation capability.
    pub fn instantiating(mut self, instantiate: Arc<dyn InstantiateBackend>) -> BackendUnderTest {
        self.instantiate = Some(instantiate);
        self
    }

    /// The engine's name and version.
    pub fn info(&self) -> BackendInfo {
        self.engine.info()
    }
}

/// How long a JS compile may stay unsettled before it is reported pending.
pub const DEFAULT_SETTLE: std::time::Duration = std::time::Duration::from_millis(3000);

/// The longest pending window: a JS timer's delay is a signed 32-bit count
/// of milliseconds, and a longer one fires at once (so every compile would
/// read `pending`). Windows are checked against it and grown up to it.
pub const MAX_SETTLE: std::time::Duration = std::time::Duration::from_millis(i32::MAX as u64);

/// How long a worker may stay silent on a request it took, beyond the
/// pending window, before it counts as hung.
pub const DEFAULT_HANG_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

/// The clocks of out-of-process engines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkerTiming {
    /// The pending window (`--settle-ms`).
    pub settle: std::time::Duration,
    /// Silence past the pending window that makes a worker hung
    /// (`--hang-timeout`).
    pub hang_grace: std::time::Duration,
}

impl Default for WorkerTiming {
    fn default() -> Self {
        WorkerTiming {
            settle: DEFAULT_SETTLE,
            hang_grace: DEFAULT_HANG_GRACE,
        }
    }
}
