//! A case: one body of bytes, how its stream ends, and what the spec expects.

use crate::outcome::OutcomeClass;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

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
    pub bytes: Arc<[u8]>,
    pub expected: OutcomeClass,
    pub features: Arc<Features>,
}

/// Where a case came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaseOrigin {
    /// A module-bearing `.wast` directive.
    Directive,
    /// A valid module's first `len` bytes (see `suites::truncation`).
    Truncation { parent: String, len: usize },
}

impl Case {
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

/// WebAssembly proposals a case needs beyond WebAssembly 3.0, by their
/// testsuite directory names (`threads`, `custom-page-sizes`, ...).
/// Backends map these to their own switches.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Features(BTreeSet<String>);

/// The proposals a case may name, beyond the WebAssembly 3.0 baseline.
pub const KNOWN_FEATURES: &[&str] = &[
    "annotations",
    "custom-descriptors",
    "custom-page-sizes",
    "legacy-exceptions",
    "shared-everything-threads",
    "stack-switching",
    "wide-arithmetic",
];

impl Features {
    pub fn baseline() -> Features {
        Features::default()
    }

    /// Builds a feature set, rejecting names that are not in [`KNOWN_FEATURES`].
    pub fn from_names<I, S>(names: I) -> Result<Features, String>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut set = BTreeSet::new();
        for name in names {
            let name = name.into();
            if !KNOWN_FEATURES.contains(&name.as_str()) {
                return Err(format!(
                    "unknown feature {name:?}; expected one of {}",
                    KNOWN_FEATURES.join(", ")
                ));
            }
            set.insert(name);
        }
        Ok(Features(set))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl fmt::Display for Features {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("wasm3");
        }
        write!(f, "wasm3+{}", self.iter().collect::<Vec<_>>().join("+"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_features_are_rejected_with_the_known_list() {
        let err = Features::from_names(["threadz"]).unwrap_err();
        assert!(err.contains("threadz") && err.contains("wide-arithmetic"), "{err}");
    }

    #[test]
    fn features_display_against_the_baseline() {
        assert_eq!(Features::baseline().to_string(), "wasm3");
        let f = Features::from_names(["wide-arithmetic", "annotations"]).unwrap();
        assert_eq!(f.to_string(), "wasm3+annotations+wide-arithmetic");
    }
}
