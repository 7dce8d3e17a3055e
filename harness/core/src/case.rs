//! A case: one body of bytes, how its stream ends, and what the spec expects.

use crate::features::Features;
use crate::outcome::OutcomeClass;
use crate::scenario::Scenario;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, OnceLock};

/// One conformance case. Its `id` is stable and repo-relative, e.g.
/// `spec/wasm-latest/binary.wast:123`, so expectations and reports can refer
/// to it across runs.
#[derive(Clone, Debug)]
pub struct Case {
    pub id: String,
    /// Top-level suite: `spec`, `streaming`, or the directory given.
    pub suite: String,
    /// Summary row inside the suite: `wasm-latest`, a proposal, a sub-directory.
    pub group: String,
    pub origin: CaseOrigin,
    pub bytes: Body,
    pub expected: Expected,
    pub features: Arc<Features>,
    /// Web API cases: the Response-level scenario around `bytes`.
    pub scenario: Option<Arc<Scenario>>,
    /// Which streaming function the case calls.
    pub function: StreamingFunction,
    /// What an instantiation case passes as its import object (ignored by
    /// `compileStreaming`).
    pub imports: ImportObject,
}

pub use crate::streaming_function::{StreamingFunction, INSTANTIATE_SUFFIX};

pub use crate::imports::{ImportObject, NamedModule};

/// A case's bytes: a shared buffer and how much of it the body is, so that
/// the many truncated prefixes of a module cost no copies.
#[derive(Clone, Debug)]
pub struct Body {
    buffer: Arc<[u8]>,
    len: usize,
}

impl Body {
    /// The whole buffer this body is a prefix of.
    pub fn whole_buffer(&self) -> &[u8] {
        &self.buffer
    }

    /// The first `len` bytes of the same buffer.
    pub fn prefix(&self, len: usize) -> Body {
        Body {
            buffer: self.buffer.clone(),
            len: len.min(self.len),
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Body {
        Body::from(Arc::<[u8]>::from(bytes))
    }
}

impl From<Arc<[u8]>> for Body {
    fn from(buffer: Arc<[u8]>) -> Body {
        Body {
            len: buffer.len(),
            buffer,
        }
    }
}

impl std::ops::Deref for Body {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buffer[..self.len]
    }
}

/// What the spec requires of a case.
#[derive(Clone, Debug)]
pub enum Expected {
    Class(OutcomeClass),
    /// Whatever a one-shot validation of the body gives (truncated
    /// prefixes). Resolved on first use and then shared by every clone:
    /// listing 100,000+ derived cases must not validate each one.
    OneShotValidation(Arc<OnceLock<OutcomeClass>>),
}

impl From<OutcomeClass> for Expected {
    fn from(class: OutcomeClass) -> Expected {
        Expected::Class(class)
    }
}

/// Where a case came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaseOrigin {
    /// A module-bearing `.wast` directive.
    Directive,
    /// A valid module's first `len` bytes (see `suites::truncation`).
    Truncation { parent: String, len: usize },
    /// A Web API scenario from `suites/webapi/`.
    WebApi,
}

/// A body at least this long makes its case run alone (see
/// [`Case::runs_alone`]).
pub const LARGE_BODY_BYTES: usize = 256 << 10;

impl Case {
    /// Whether the case keeps a compile open on purpose (it is expected to
    /// stay pending: a body that never ends, a fetch that stalls). The
    /// runner runs such a case alone on its backend (see `runner/gate.rs`).
    pub fn keeps_a_compile_open(&self) -> bool {
        matches!(self.expected, Expected::Class(OutcomeClass::Pending))
    }

    /// Whether the runner runs this case alone on its backend: it keeps a
    /// compile open, or its body is large. A large body's plans (up to
    /// millions of chunks each) keep a JS worker's event loop busy for
    /// seconds, and cases in flight beside them on that worker missed their
    /// pending windows: in Firefox every case of the streaming suite came
    /// out pending once the corpus had a 1.1 MB module.
    pub fn runs_alone(&self) -> bool {
        self.keeps_a_compile_open() || self.bytes.len() >= LARGE_BODY_BYTES
    }

    pub fn expected(&self) -> OutcomeClass {
        match &self.expected {
            Expected::Class(class) => *class,
            Expected::OneShotValidation(cell) => *cell.get_or_init(|| {
                if self.features.validates(&self.bytes) {
                    OutcomeClass::Module
                } else {
                    OutcomeClass::CompileError
                }
            }),
        }
    }

    /// The proposals this case's module needs (see
    /// [`Features::proposals_used`]). A truncated prefix speaks for the
    /// whole module it was cut from.
    pub fn proposals_used(&self) -> std::collections::BTreeSet<String> {
        let bytes = if self.is_truncation() {
            self.bytes.whole_buffer()
        } else {
            &self.bytes
        };
        let mut used = self.features.proposals_used(bytes);
        // An instantiation needs its import object's modules too: an engine
        // without GC cannot build an environment whose module uses it.
        if let ImportObject::Instances(modules) = &self.imports {
            for module in modules.iter() {
                used.extend(self.features.proposals_used(&module.bytes));
            }
        }
        // A JS API proposal is used through the call's arguments.
        let options = self.scenario.as_ref().and_then(|s| s.options.as_ref());
        if options.is_some_and(|o| o.uses_js_string_builtins()) {
            used.insert(crate::features::JS_API_PROPOSALS[0].to_string());
        }
        used
    }

    /// The `instantiateStreaming` twin of a compile case: the same body,
    /// `expected` as the instantiation's outcome, id with
    /// [`INSTANTIATE_SUFFIX`].
    pub fn instantiation(&self, expected: Expected, imports: ImportObject) -> Case {
        Case {
            id: format!("{}{INSTANTIATE_SUFFIX}", self.id),
            function: StreamingFunction::Instantiate,
            imports,
            expected,
            ..self.clone()
        }
    }

    pub fn is_truncation(&self) -> bool {
        matches!(self.origin, CaseOrigin::Truncation { .. })
    }
}

/// A case that was found but cannot be run as a binary case, with why. It is
/// counted and reported, never silently dropped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotApplicable {
    pub id: String,
    pub suite: String,
    pub group: String,
    pub reason: String,
}
