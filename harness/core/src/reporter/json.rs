//! The JSON report (schema in `reports/SCHEMA.md`), written as the run
//! goes: each result is serialized when its event arrives and never kept,
//! so memory does not grow with the number of cases.

use super::summary::{Summary, SummaryRow};
use crate::case::NotApplicable;
use crate::outcome::{Outcome, OutcomeClass};
use crate::runner::{CaseFinished, Reporter, RunEvent, RunFinished, RunInfo};
use crate::verdict::{CaseResult, Minimized, PlanFailure, Retried, Status, Verdict};
use serde::{Deserialize, Serialize};
use std::io::{self, Write};

pub const SCHEMA: &str = "streamconform-report";
/// Bump on any change a consumer could notice; document it in SCHEMA.md.
pub const SCHEMA_VERSION: u32 = 7;
/// The versions this streamconform reads: version 4 only added the
/// optional `minimized`, so a version-3 report (a history's older nights)
/// reads as one in which nothing was minimized; version 5 added
/// instantiation cases and outcomes, which older reports simply lack;
/// version 6 added retries (`retried`, the `flaky` status, the run's
/// `retries` and `flaky_result`), which older runs did not make.
pub const READABLE_SCHEMA_VERSIONS: std::ops::RangeInclusive<u32> = 3..=SCHEMA_VERSION;

/// The whole report, as read back (the writer streams the same shape).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub schema: String,
    pub schema_version: u32,
    pub run: RunInfo,
    /// Files and cases that could not be read; each cost only itself.
    pub input_errors: Vec<String>,
    pub not_applicable: Vec<NotApplicable>,
    pub results: Vec<ReportedCase>,
    pub summary: Vec<SummaryRow>,
    pub finished: RunFinished,
}

/// One (case, backend).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportedCase {
    pub id: String,
    pub backend: String,
    pub suite: String,
    pub group: String,
    pub expected: OutcomeClass,
    pub verdict: Verdict,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub expectation_reason: Option<String>,
    /// Proposals the case's module uses that the backend lacks.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub unsupported: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub one_shot: Option<Outcome>,
    pub plans_run: usize,
    pub failing_plans_total: usize,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub failing_plans: Vec<PlanFailure>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub aborted: Option<String>,
    /// A command that replays the first failing plan.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub repro: Option<String>,
    /// The first failing plan minimized (`run --minimize`), with the
    /// command that replays the minimized cuts.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub minimized: Option<ReportedMinimized>,
    /// Retries of an unexpected failure (`run --retries`); a flaky case
    /// is one a retry passed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub retried: Option<Retried>,
    pub duration_ms: u64,
    /// In a shard's report, the case's position among the cases of the
    /// unsharded run (`report merge` orders by it).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub case_index: Option<usize>,
}

impl ReportedCase {
    pub fn from_event(done: &CaseFinished<'_>) -> ReportedCase {
        let r = &done.result;
        ReportedCase {
            id: r.id.clone(),
            backend: done.backend.to_string(),
            suite: done.case.suite.clone(),
            group: done.case.group.clone(),
            expected: r.expected,
            verdict: r.verdict,
            status: done.status,
            expectation_reason: done.expectation.clone(),
            unsupported: done.unsupported.clone(),
            one_shot: r.one_shot.clone(),
            plans_run: r.plans_run,
            failing_plans_total: r.failing_plans_total,
            failing_plans: r.failing_plans.clone(),
            aborted: r.aborted.clone(),
            repro: done.repro.clone(),
            minimized: r.minimized.clone().map(|minimized| ReportedMinimized {
                minimized,
                repro: done.minimized_repro.clone().unwrap_or_default(),
            }),
            retried: r.retried,
            duration_ms: done.duration.as_millis() as u64,
            case_index: done.case_index,
        }
    }
}

impl ReportedCase {
    /// The raw result as the runner made it, before expectations.
    pub fn raw(&self) -> CaseResult {
        CaseResult {
            id: self.id.clone(),
            expected: self.expected,
            one_shot: self.one_shot.clone(),
            plans_run: self.plans_run,
            failing_plans_total: self.failing_plans_total,
            failing_plans: self.failing_plans.clone(),
            aborted: self.aborted.clone(),
            verdict: self.verdict,
            minimized: self.minimized.as_ref().map(|m| m.minimized.clone()),
            retried: self.retried,
        }
    }

    /// Whether the result agrees with itself: its verdict with its plans
    /// (see [`CaseResult::check_consistent`]), its status with its verdict
    /// and expectation, unsupported proposals only on a failure.
    pub fn check_consistent(&self) -> Result<(), String> {
        let raw = self.raw();
        raw.check_consistent()?;
        self.status
            .check_follows(self.verdict, self.expectation_reason.as_deref())?;
        let passed_on_retry = raw.passed_on_retry();
        if passed_on_retry != self.status.is_flaky() {
            return Err(format!(
                "status {:?} with retries {:?}: a case is flaky exactly when a retry passed",
                self.status, self.retried
            ));
        }
        if let Some(Retried {
            retries,
            passed_on: Some(on),
        }) = self.retried
        {
            if on == 0 || on > retries {
                return Err(format!("passed on retry {on} of {retries}"));
            }
        }
        if !self.unsupported.is_empty() && self.verdict != Verdict::Fail {
            return Err(format!(
                "unsupported proposals listed on verdict {}",
                self.verdict
            ));
        }
        Ok(())
    }
}

/// A minimized failing plan as reported: the minimization and its replay.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReportedMinimized {
    #[serde(flatten)]
    pub minimized: Minimized,
    /// A command that replays the minimized cut list.
    pub repro: String,
}

/// Streams the report to `out`.
pub struct JsonReport<W: Write> {
    out: W,
    summary: Summary,
    /// Load-time items, written before the first result.
    input_errors: Vec<String>,
    not_applicable: Vec<NotApplicable>,
    state: State,
}

#[derive(PartialEq, Eq)]
enum State {
    Start,
    Loading,
    Results { first: bool },
    Done,
}

impl<W: Write> JsonReport<W> {
    pub fn new(out: W) -> JsonReport<W> {
        JsonReport {
            out,
            summary: Summary::default(),
            input_errors: Vec::new(),
            not_applicable: Vec::new(),
            state: State::Start,
        }
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    fn open_results(&mut self) -> io::Result<()> {
        if self.state == State::Loading {
            write!(self.out, ",\"input_errors\":")?;
            serde_json::to_writer(&mut self.out, &self.input_errors)?;
            write!(self.out, ",\"not_applicable\":")?;
            serde_json::to_writer(&mut self.out, &self.not_applicable)?;
            self.not_applicable = Vec::new();
            write!(self.out, ",\"results\":[")?;
            self.state = State::Results { first: true };
        }
        Ok(())
    }
}

impl<W: Write> Reporter for JsonReport<W> {
    fn report(&mut self, event: &RunEvent<'_>) -> io::Result<()> {
        self.summary.report(event)?;
        match event {
            RunEvent::RunStarted(info) => {
                write!(
                    self.out,
                    "{{\"schema\":\"{SCHEMA}\",\"schema_version\":{SCHEMA_VERSION},\"run\":"
                )?;
                serde_json::to_writer(&mut self.out, info)?;
                self.state = State::Loading;
            }
            RunEvent::InputError(e) => self.input_errors.push(e.to_string()),
            RunEvent::NotApplicable(na) => self.not_applicable.push((*na).clone()),
            // Carried in `finished.setup_errors`.
            RunEvent::SetupError { .. } => {}
            RunEvent::CaseFinished(done) => {
                self.open_results()?;
                if let State::Results { first } = &mut self.state {
                    if !*first {
                        self.out.write_all(b",")?;
                    }
                    *first = false;
                }
                serde_json::to_writer(&mut self.out, &ReportedCase::from_event(done))?;
            }
            RunEvent::RunFinished(finished) => {
                self.open_results()?;
                write!(self.out, "],\"summary\":")?;
                serde_json::to_writer(&mut self.out, &self.summary.rows())?;
                write!(self.out, ",\"finished\":")?;
                serde_json::to_writer(&mut self.out, finished)?;
                self.out.write_all(b"}\n")?;
                self.out.flush()?;
                self.state = State::Done;
            }
        }
        Ok(())
    }
}
