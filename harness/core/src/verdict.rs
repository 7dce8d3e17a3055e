//! Where an outcome is judged.
//!
//! Two oracles, applied to every plan of every case:
//! - **spec**: the outcome's class is the one the spec requires;
//! - **invariance**: the outcome equals the backend's own one-shot compile
//!   of the same bytes (same class; for a module, the same fingerprint).
//!
//! An engine that lacks a proposal fails *spec* but passes *invariance*; a
//! streaming bug fails *invariance*. Reports keep the two apart.

use crate::case::Case;
use crate::outcome::{Outcome, OutcomeClass};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Oracle {
    Spec,
    Invariance,
    /// A declared import object was read other than the spec reads it:
    /// in another order, more or less, or during the call.
    Reads,
}

impl fmt::Display for Oracle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Oracle::Spec => "spec",
            Oracle::Invariance => "invariance",
            Oracle::Reads => "reads",
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
    /// The case's premise did not hold (its stream did not do what the
    /// case describes): it tested something else. Never a pass.
    Invalid,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::NotApplicable => "not-applicable",
            Verdict::Invalid => "invalid",
        })
    }
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
    /// The case did not test what it describes; fails the run.
    Invalid,
    /// Failed (unexpectedly), then passed when run again on fresh workers
    /// (`--retries`): neither a pass nor silently a failure. Whether it
    /// fails the run is the run's [`FlakyResult`].
    Flaky,
    /// Flaky, and the expectations file lists the case as intermittent (a
    /// known flakiness of the engine, with a reason): reported as flaky,
    /// never a failure of the run. A case that fails every run is judged
    /// as any other failure.
    KnownFlaky,
}

/// What a flaky case counts as for the run's conclusion (`--flaky-result`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlakyResult {
    /// A failure of the run (nextest's default too).
    #[default]
    Fail,
    /// Not a failure of the run; still reported as flaky.
    Pass,
}

impl FlakyResult {
    pub fn parse(text: &str) -> Result<FlakyResult, String> {
        match text {
            "fail" => Ok(FlakyResult::Fail),
            "pass" => Ok(FlakyResult::Pass),
            other => Err(format!(
                "unknown flaky result {other:?}: expected fail or pass"
            )),
        }
    }
}

/// The retries of a case that failed unexpectedly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retried {
    /// Runs after the first, each on fresh workers.
    pub retries: usize,
    /// The retry (counted from 1) whose verdict was pass, if one was; the
    /// recorded result is always the first run's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passed_on: Option<usize>,
}

impl Status {
    pub fn from_verdict(verdict: Verdict, expected_to_fail: bool) -> Status {
        match (verdict, expected_to_fail) {
            (Verdict::NotApplicable, _) => Status::NotApplicable,
            (Verdict::Invalid, _) => Status::Invalid,
            (Verdict::Pass, false) => Status::Passed,
            (Verdict::Fail, false) => Status::Failed,
            (Verdict::Fail, true) => Status::ExpectedFailure,
            (Verdict::Pass, true) => Status::UnexpectedPass,
        }
    }

    /// Whether this status can follow from `verdict` under some
    /// expectations file (`reason`: the one the file gave, if any), as
    /// [`crate::expectations::Expectations::judge`] decides it.
    pub fn check_follows(self, verdict: Verdict, reason: Option<&str>) -> Result<(), String> {
        let follows = match (verdict, self) {
            (Verdict::NotApplicable, Status::NotApplicable)
            | (Verdict::Invalid, Status::Invalid)
            | (Verdict::Pass, Status::Passed) => true,
            (Verdict::Pass, Status::UnexpectedPass) | (Verdict::Fail, Status::ExpectedFailure) => {
                reason.is_some()
            }
            // A flaky case records its first run, which failed.
            (Verdict::Fail, Status::Failed | Status::Flaky) => reason.is_none(),
            (Verdict::Fail, Status::KnownFlaky) => reason.is_some(),
            _ => false,
        };
        if follows {
            return Ok(());
        }
        Err(format!(
            "status {self:?} cannot follow from verdict {verdict}{}",
            if reason.is_some() {
                " with an expectation"
            } else {
                " without an expectation"
            }
        ))
    }

    /// Whether this status makes the run fail.
    /// (A flaky case is, under the default `--flaky-result fail`; see
    /// [`Status::fails_run`].)
    pub fn is_unexpected(self) -> bool {
        matches!(
            self,
            Status::Failed | Status::UnexpectedPass | Status::Invalid | Status::Flaky
        )
    }

    /// Whether this status is a flaky result, known or not.
    pub fn is_flaky(self) -> bool {
        matches!(self, Status::Flaky | Status::KnownFlaky)
    }

    /// Whether this status fails a run whose flaky cases count as `flaky`.
    pub fn fails_run(self, flaky: FlakyResult) -> bool {
        match self {
            Status::Flaky => flaky == FlakyResult::Fail,
            other => other.is_unexpected(),
        }
    }
}

/// At most this many failing plans are recorded per case (all are counted).
pub const MAX_RECORDED_FAILING_PLANS: usize = 16;

/// One streamed plan that failed an oracle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanFailure {
    pub plan: String,
    pub cuts: Vec<usize>,
    pub actual: Outcome,
    pub failed: Vec<Oracle>,
    /// The declared import object's reads, when they failed [`Oracle::Reads`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reads: Option<Vec<String>>,
}

impl PlanFailure {
    /// What the plan gave, as one line: the outcome, and the import
    /// object's reads when they were judged wrong.
    pub fn actual_text(&self) -> String {
        match &self.reads {
            Some(reads) => format!("{}; reads: {}", self.actual, reads_text(reads)),
            None => self.actual.to_string(),
        }
    }
}

/// A read log as one line: `(call returned), m, m.f`; an empty path
/// (the namespace `""`) shows as `""`.
pub fn reads_text(reads: &[String]) -> String {
    let shown: Vec<&str> = reads
        .iter()
        .map(|r| if r.is_empty() { "\"\"" } else { r.as_str() })
        .collect();
    if shown.is_empty() {
        "none".into()
    } else {
        shown.join(", ")
    }
}

/// The smallest failing cut list that minimization found, starting from a
/// failing plan: the same oracles fail with the same outcome class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Minimized {
    /// The failing plan minimization started from.
    pub from_plan: String,
    /// How many cuts that plan had.
    pub from_cut_count: usize,
    /// The smallest failing cut list found (sorted; a repeated cut is an
    /// empty chunk, as in a plan).
    pub cuts: Vec<usize>,
    /// The outcome under `cuts`.
    pub actual: Outcome,
    /// The oracles `cuts` fails: those the starting plan failed, sorted.
    pub failed: Vec<Oracle>,
    /// How many compiles minimization spent (its one-shot compile included
    /// when it made one).
    pub attempts: usize,
    /// The attempt budget (or, in a run, the case's time) ran out first:
    /// `cuts` still fails, but may not be minimal.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub budget_exhausted: bool,
}

/// How `aborted` begins when a case ran out of time (see
/// `runner::case::timeout_message`).
pub const TIMEOUT_PREFIX: &str = "timeout:";

/// How `aborted` begins when the harness itself failed to present a case
/// as described (its verdict is then `invalid`, never a FAIL).
pub const HARNESS_ERROR_PREFIX: &str = "harness error";

/// A case's result on one backend, before expectations are applied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseResult {
    pub id: String,
    pub expected: OutcomeClass,
    /// The backend's one-shot compile (absent when the case never got there).
    pub one_shot: Option<Outcome>,
    pub plans_run: usize,
    pub failing_plans_total: usize,
    pub failing_plans: Vec<PlanFailure>,
    /// Why the case could not run to the end (timeout, bad plan for this body).
    pub aborted: Option<String>,
    pub verdict: Verdict,
    /// The first failing plan, minimized (when the run minimized failures).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub minimized: Option<Minimized>,
    /// Retries of an unexpected failure (`--retries`), when it had any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub retried: Option<Retried>,
}

impl CaseResult {
    /// A result with nothing run yet; the runner fills it in.
    pub fn start(case: &Case, plans_run: usize) -> CaseResult {
        CaseResult {
            id: case.id.clone(),
            expected: case.expected(),
            one_shot: None,
            plans_run,
            failing_plans_total: 0,
            failing_plans: vec![],
            aborted: None,
            verdict: Verdict::Fail,
            minimized: None,
            retried: None,
        }
    }

    /// Whether the engine crashed or timed out on this case (one-shot or a
    /// failing plan), or the case itself ran out of time.
    pub fn crashed(&self) -> bool {
        let bad = |o: &Outcome| matches!(o, Outcome::Crash { .. } | Outcome::Timeout);
        self.one_shot.as_ref().is_some_and(bad)
            || self.failing_plans.iter().any(|p| bad(&p.actual))
            || self
                .aborted
                .as_ref()
                .is_some_and(|a| a.starts_with(TIMEOUT_PREFIX))
    }

    /// Whether a retry of this failure passed (the case is flaky).
    pub fn passed_on_retry(&self) -> bool {
        self.retried.is_some_and(|r| r.passed_on.is_some())
    }

    pub fn aborted(case: &Case, why: String) -> CaseResult {
        CaseResult {
            aborted: Some(why),
            ..CaseResult::start(case, 0)
        }
    }

    /// The backend cannot run this case at all, with why.
    pub fn not_applicable(case: &Case, why: String) -> CaseResult {
        CaseResult {
            verdict: Verdict::NotApplicable,
            ..CaseResult::aborted(case, why)
        }
    }

    /// Whether the result agrees with itself: its verdict is the one its
    /// plans and abort give (as [`crate::runner::run_case`] decides it), and
    /// its counts fit together. A result read back from a journal or a
    /// report is evidence only if it does; the error says what disagrees.
    pub fn check_consistent(&self) -> Result<(), String> {
        let recorded = self.failing_plans.len();
        if recorded != self.failing_plans_total.min(MAX_RECORDED_FAILING_PLANS) {
            return Err(format!(
                "it records {recorded} failing plan(s) but counts {} (at most {MAX_RECORDED_FAILING_PLANS} are recorded)",
                self.failing_plans_total
            ));
        }
        if self.failing_plans_total > self.plans_run {
            return Err(format!(
                "{} failing plan(s) of {} run",
                self.failing_plans_total, self.plans_run
            ));
        }
        if let Some(plan) = self.failing_plans.iter().find(|p| p.failed.is_empty()) {
            return Err(format!("failing plan {} fails no oracle", plan.plan));
        }
        let derived = match (&self.aborted, self.verdict) {
            (Some(_), Verdict::NotApplicable) if self.plans_run == 0 => Verdict::NotApplicable,
            (Some(why), Verdict::Invalid) if why.starts_with("invalid case") => Verdict::Invalid,
            (Some(_), _) => Verdict::Fail,
            (None, _) if self.plans_run == 0 => {
                return Err(format!(
                    "verdict {} with no plan run and no reason it stopped",
                    self.verdict
                ))
            }
            (None, _) if self.failing_plans_total > 0 => Verdict::Fail,
            (None, _) => Verdict::Pass,
        };
        if derived != self.verdict {
            return Err(format!(
                "verdict {} but its plans and abort make it {derived} ({} of {} plans fail{})",
                self.verdict,
                self.failing_plans_total,
                self.plans_run,
                self.aborted
                    .as_ref()
                    .map_or(String::new(), |a| format!("; aborted: {a}"))
            ));
        }
        Ok(())
    }

    /// One line saying why the case failed, for test output and bless.
    pub fn failure_summary(&self) -> String {
        if let Some(why) = &self.aborted {
            return why.clone();
        }
        match self.failing_plans.first() {
            None if self.verdict == Verdict::NotApplicable => "not applicable".into(),
            None => "passed".into(),
            Some(first) => format!(
                "expected {}, one-shot {}; {} of {} plans fail ({}), first {}: {}",
                self.expected,
                self.one_shot
                    .as_ref()
                    .map_or("-".into(), |o| o.class().to_string()),
                self.failing_plans_total,
                self.plans_run,
                first
                    .failed
                    .iter()
                    .map(Oracle::to_string)
                    .collect::<Vec<_>>()
                    .join("+"),
                first.plan,
                first.actual
            ),
        }
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

    /// A result of `plans_run` plans, `failing` of them failing, with
    /// `aborted` and `verdict` as given.
    fn result(
        plans_run: usize,
        failing: usize,
        aborted: Option<&str>,
        verdict: Verdict,
    ) -> CaseResult {
        let failure = PlanFailure {
            plan: "whole".into(),
            cuts: vec![],
            actual: compile_error(),
            failed: vec![Oracle::Spec],
            reads: None,
        };
        CaseResult {
            id: "s/a.wast:1".into(),
            expected: OutcomeClass::Module,
            one_shot: Some(module()),
            plans_run,
            failing_plans_total: failing,
            failing_plans: vec![failure; failing.min(MAX_RECORDED_FAILING_PLANS)],
            aborted: aborted.map(String::from),
            verdict,
            minimized: None,
            retried: None,
        }
    }

    #[test]
    fn a_result_agrees_with_itself_or_says_what_disagrees() {
        use Verdict::*;
        let timeout = Some("timeout: 120 s");
        let invalid = Some("invalid case under plan whole: the body ended early");
        for ok in [
            result(3, 0, None, Pass),
            result(3, 2, None, Fail),
            result(40, 20, None, Fail),
            result(0, 0, timeout, Fail),
            result(0, 0, Some("runs no Web API cases"), NotApplicable),
            result(2, 0, invalid, Invalid),
        ] {
            assert_eq!(ok.check_consistent(), Ok(()), "{ok:?}");
        }
        let mut unrecorded = result(3, 2, None, Fail);
        unrecorded.failing_plans.pop();
        let mut no_oracle = result(3, 1, None, Fail);
        no_oracle.failing_plans[0].failed.clear();
        for (bad, says) in [
            (
                result(3, 2, None, Pass),
                "verdict pass but its plans and abort make it fail",
            ),
            (
                result(3, 0, None, Fail),
                "verdict fail but its plans and abort make it pass",
            ),
            (result(0, 0, None, Pass), "verdict pass with no plan run"),
            (result(0, 0, timeout, Pass), "make it fail"),
            (result(3, 0, timeout, NotApplicable), "make it fail"),
            (result(2, 0, timeout, Invalid), "make it fail"),
            (result(2, 3, None, Fail), "3 failing plan(s) of 2 run"),
            (unrecorded, "records 1 failing plan(s) but counts 2"),
            (no_oracle, "failing plan whole fails no oracle"),
        ] {
            let error = bad.check_consistent().unwrap_err();
            assert!(error.contains(says), "{bad:?}: {error}");
        }
    }

    #[test]
    fn a_status_follows_from_its_verdict_and_expectation() {
        use Status::*;
        let reason = Some("known");
        for (status, verdict, reason, follows) in [
            (Passed, Verdict::Pass, None, true),
            (Passed, Verdict::Pass, reason, true),
            (UnexpectedPass, Verdict::Pass, reason, true),
            (UnexpectedPass, Verdict::Pass, None, false),
            (Failed, Verdict::Fail, None, true),
            (Failed, Verdict::Fail, reason, false),
            (ExpectedFailure, Verdict::Fail, reason, true),
            (ExpectedFailure, Verdict::Fail, None, false),
            (Passed, Verdict::Fail, None, false),
            (Failed, Verdict::Pass, None, false),
            (NotApplicable, Verdict::NotApplicable, None, true),
            (Invalid, Verdict::Invalid, None, true),
            (Passed, Verdict::Invalid, None, false),
        ] {
            assert_eq!(
                status.check_follows(verdict, reason).is_ok(),
                follows,
                "{status:?} from {verdict} with {reason:?}"
            );
        }
    }
}
