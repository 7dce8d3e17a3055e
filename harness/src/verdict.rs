//! Where an outcome is judged.
//!
//! Two oracles, applied to every plan of every case:
//! - **spec**: the outcome's class is the one the spec requires;
//! - **invariance**: the outcome equals the backend's own one-shot compile
//!   of the same bytes (same class; for a module, the same fingerprint).
//!
//! An engine that lacks a proposal fails *spec* but passes *invariance*; a
//! streaming bug fails *invariance*. Reports keep the two apart.

use crate::outcome::{Outcome, OutcomeClass};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Oracle {
    Spec,
    Invariance,
}

impl fmt::Display for Oracle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Oracle::Spec => "spec",
            Oracle::Invariance => "invariance",
        })
    }
}

/// The oracles one streamed outcome fails; empty when it passes.
/// Invariance applies where the outcome is decided by compiling the bytes
/// (not, say, to a Web API case that must reject before reading the body).
pub fn judge(
    expected: OutcomeClass,
    one_shot: &Outcome,
    streamed: &Outcome,
    invariance_applies: bool,
) -> Vec<Oracle> {
    let mut failed = Vec::new();
    if streamed.class() != expected {
        failed.push(Oracle::Spec);
    }
    if invariance_applies && !streamed.equivalent(one_shot) {
        failed.push(Oracle::Invariance);
    }
    failed
}

/// How a case came out on a backend, before expectations are applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    Fail,
    /// The backend cannot run this kind of case (a bytes-only engine and a
    /// Web API case); counted as not applicable.
    NotApplicable,
}

/// How a case came out after the expectations file is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Passed,
    Failed,
    /// Failed, and the expectations file says it does, with a reason.
    ExpectedFailure,
    /// Passed, but the expectations file says it fails: stale entry.
    UnexpectedPass,
    NotApplicable,
}

impl Status {
    pub fn from_verdict(verdict: Verdict, expected_to_fail: bool) -> Status {
        match (verdict, expected_to_fail) {
            (Verdict::NotApplicable, _) => Status::NotApplicable,
            (Verdict::Pass, false) => Status::Passed,
            (Verdict::Fail, false) => Status::Failed,
            (Verdict::Fail, true) => Status::ExpectedFailure,
            (Verdict::Pass, true) => Status::UnexpectedPass,
        }
    }

    /// Whether this status makes the run fail.
    pub fn is_unexpected(self) -> bool {
        matches!(self, Status::Failed | Status::UnexpectedPass)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Fingerprint;

    fn module() -> Outcome {
        Outcome::Module {
            fingerprint: Fingerprint::default(),
        }
    }
    fn compile_error() -> Outcome {
        Outcome::CompileError {
            message: "x".into(),
        }
    }

    #[test]
    fn missing_proposal_fails_spec_only() {
        // The engine rejects a valid module the same way at every chunking.
        assert_eq!(
            judge(
                OutcomeClass::Module,
                &compile_error(),
                &compile_error(),
                true
            ),
            [Oracle::Spec]
        );
    }

    #[test]
    fn streaming_bug_fails_invariance() {
        assert_eq!(
            judge(
                OutcomeClass::CompileError,
                &compile_error(),
                &module(),
                true
            ),
            [Oracle::Spec, Oracle::Invariance]
        );
        assert_eq!(
            judge(OutcomeClass::Module, &compile_error(), &module(), true),
            [Oracle::Invariance]
        );
    }

    #[test]
    fn agreement_passes() {
        assert!(judge(OutcomeClass::Module, &module(), &module(), true).is_empty());
    }

    #[test]
    fn expectations_are_checked_both_ways() {
        assert_eq!(
            Status::from_verdict(Verdict::Pass, true),
            Status::UnexpectedPass
        );
        assert!(Status::UnexpectedPass.is_unexpected());
        assert!(!Status::ExpectedFailure.is_unexpected());
    }
}
