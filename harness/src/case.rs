//! A case: one body of bytes, how its stream ends, and what the spec expects.

use crate::outcome::OutcomeClass;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
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
    pub scenario: Option<Arc<crate::webapi::Scenario>>,
}

/// A case's bytes: a shared buffer and how much of it the body is, so that
/// the many truncated prefixes of a module cost no copies.
#[derive(Clone, Debug)]
pub struct Body {
    buffer: Arc<[u8]>,
    len: usize,
}

impl Body {
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
        let len = bytes.len();
        Body {
            buffer: bytes.into(),
            len,
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

impl Case {
    pub fn expected(&self) -> OutcomeClass {
        match &self.expected {
            Expected::Class(class) => *class,
            Expected::OneShotValidation(cell) => *cell.get_or_init(|| {
                if crate::backend::validate_one_shot(&self.bytes, &self.features) {
                    OutcomeClass::Module
                } else {
                    OutcomeClass::CompileError
                }
            }),
        }
    }

    pub fn is_truncation(&self) -> bool {
        matches!(self.origin, CaseOrigin::Truncation { .. })
    }
}

/// A case that was found but cannot be run as a binary case, with why. It is
/// counted and reported, never silently dropped.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NotApplicable {
    pub id: String,
    pub suite: String,
    pub group: String,
    pub reason: String,
}

/// The WebAssembly feature set a case is written against: a spec version
/// plus proposals by their testsuite directory names (`threads`,
/// `custom-page-sizes`, ...). Backends map these to their own switches.
///
/// Older proposal directories assume the spec of their time: `threads`
/// expects a second table to be invalid, which WebAssembly 2.0 allows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Features {
    pub base: SpecVersion,
    #[serde(default)]
    pub proposals: BTreeSet<String>,
}

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum SpecVersion {
    Wasm1,
    Wasm2,
    #[default]
    Wasm3,
}

/// The proposals a case may name.
pub const KNOWN_FEATURES: &[&str] = &[
    "annotations",
    "bulk-memory",
    "custom-descriptors",
    "custom-page-sizes",
    "exceptions",
    "extended-const",
    "function-references",
    "gc",
    "legacy-exceptions",
    "memory64",
    "multi-memory",
    "multi-value",
    "mutable-global",
    "nontrapping-float-to-int-conversions",
    "reference-types",
    "relaxed-simd",
    "shared-everything-threads",
    "sign-extension-ops",
    "simd",
    "stack-switching",
    "tail-call",
    "threads",
    "wide-arithmetic",
];

impl Features {
    /// WebAssembly 3.0 and nothing more.
    pub fn baseline() -> Features {
        Features::default()
    }

    /// `base` plus proposals, rejecting names not in [`KNOWN_FEATURES`].
    pub fn new<I, S>(base: SpecVersion, proposals: I) -> Result<Features, String>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut set = BTreeSet::new();
        for name in proposals {
            let name = name.into();
            if !KNOWN_FEATURES.contains(&name.as_str()) {
                return Err(format!(
                    "unknown feature {name:?}; expected one of {}",
                    KNOWN_FEATURES.join(", ")
                ));
            }
            set.insert(name);
        }
        Ok(Features {
            base,
            proposals: set,
        })
    }

    /// WebAssembly 3.0 plus proposals.
    pub fn from_names<I, S>(proposals: I) -> Result<Features, String>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Features::new(SpecVersion::Wasm3, proposals)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.proposals.contains(name)
    }

    /// Whether a proposal is on, by its base version or by name: what an
    /// engine backend asks to set its own switches.
    pub fn enables(&self, name: &str) -> bool {
        const WASM1: &[&str] = &["mutable-global"];
        const WASM2: &[&str] = &[
            "bulk-memory",
            "multi-value",
            "nontrapping-float-to-int-conversions",
            "reference-types",
            "sign-extension-ops",
            "simd",
        ];
        const WASM3: &[&str] = &[
            "exceptions",
            "extended-const",
            "function-references",
            "gc",
            "memory64",
            "multi-memory",
            "relaxed-simd",
            "tail-call",
            "threads",
        ];
        let in_base = match self.base {
            SpecVersion::Wasm1 => WASM1.contains(&name),
            SpecVersion::Wasm2 => WASM1.contains(&name) || WASM2.contains(&name),
            SpecVersion::Wasm3 => {
                WASM1.contains(&name) || WASM2.contains(&name) || WASM3.contains(&name)
            }
        };
        in_base || self.contains(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.proposals.iter().map(String::as_str)
    }
}

impl fmt::Display for SpecVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SpecVersion::Wasm1 => "wasm1",
            SpecVersion::Wasm2 => "wasm2",
            SpecVersion::Wasm3 => "wasm3",
        })
    }
}

impl fmt::Display for Features {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.base)?;
        for name in self.iter() {
            write!(f, "+{name}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_features_are_rejected_with_the_known_list() {
        let err = Features::from_names(["threadz"]).unwrap_err();
        assert!(
            err.contains("threadz") && err.contains("wide-arithmetic"),
            "{err}"
        );
    }

    #[test]
    fn enables_counts_the_base_version() {
        let f = Features::new(SpecVersion::Wasm1, ["threads"]).unwrap();
        assert!(f.enables("threads") && f.enables("mutable-global"));
        assert!(!f.enables("reference-types") && !f.enables("gc"));
        assert!(
            Features::baseline().enables("gc")
                && !Features::baseline().enables("custom-page-sizes")
        );
    }

    #[test]
    fn features_display_against_the_baseline() {
        assert_eq!(Features::baseline().to_string(), "wasm3");
        let f = Features::from_names(["wide-arithmetic", "annotations"]).unwrap();
        assert_eq!(f.to_string(), "wasm3+annotations+wide-arithmetic");
        let f = Features::new(SpecVersion::Wasm1, ["threads"]).unwrap();
        assert_eq!(f.to_string(), "wasm1+threads");
    }
}
