//! The runner: every case under every plan on each backend, judged, with
//! its expectation applied, streamed to reporters as events.
//!
//! - `case.rs` runs one case (its one-shot compile, then every plan).
//! - `pool.rs` runs many cases on worker threads with a watchdog, so that a
//!   hung or crashing engine costs its case, not the run.
//! - `events.rs` is what consumers see.
//!
//! [`Run::execute`] and the libtest trials both end every case in
//! [`conclude`], the one place expectations are applied.

mod case;
pub mod events;
mod pool;

pub use case::{run_case, run_case_with_timeout};
pub use events::{CaseFinished, Reporter, RunEvent, RunFinished, RunInfo};

use crate::backend::BackendUnderTest;
use crate::case::{Case, NotApplicable};
use crate::error::Error;
use crate::expectations::Expectations;
use crate::plan::{plan_by_name, ChunkPlan, PlanSet};
use crate::verdict::{CaseResult, Verdict};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A case's plans, in order, each built when it is taken.
pub type CasePlans = Box<dyn Iterator<Item = ChunkPlan> + Send>;

/// Which plans each case runs under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanSelection {
    Set(PlanSet),
    /// One plan rebuilt from its name (replaying a failure).
    Named(String),
    /// One plan from an explicit cut list.
    Cuts(Vec<usize>),
}

impl Default for PlanSelection {
    fn default() -> Self {
        PlanSelection::Set(PlanSet::Default)
    }
}

impl PlanSelection {
    /// The plans for one case, built as they are taken (see
    /// [`crate::plan::LazyPlans`]). Truncated prefixes take a lighter set:
    /// the question they ask is how the stream ends, not where it is cut.
    pub fn plans_for(&self, case: &Case) -> Result<CasePlans, Error> {
        match self {
            PlanSelection::Set(set) => {
                let set = match (set, case.is_truncation()) {
                    (PlanSet::Default | PlanSet::Reduced, true) => PlanSet::Truncation,
                    (PlanSet::Exhaustive, true) => PlanSet::Reduced,
                    (set, _) => *set,
                };
                Ok(Box::new(set.lazy(&case.bytes)))
            }
            PlanSelection::Named(name) => {
                Ok(Box::new(std::iter::once(plan_by_name(name, &case.bytes)?)))
            }
            PlanSelection::Cuts(cuts) => Ok(Box::new(std::iter::once(ChunkPlan::from_cuts(
                "cuts",
                cuts.clone(),
                case.bytes.len(),
            )?))),
        }
    }

    /// The command-line arguments that select these plans again.
    pub fn argument(&self) -> String {
        match self {
            PlanSelection::Set(set) => format!("--plans {}", set.name()),
            PlanSelection::Named(name) => format!("--plan {}", shell_quote(name)),
            PlanSelection::Cuts(cuts) => {
                format!("--cuts {}", shell_quote(&crate::plan::format_cuts(cuts)))
            }
        }
    }
}

#[derive(Clone, Debug)]
pub struct RunConfig {
    pub plans: PlanSelection,
    /// Worker threads per backend; `None`: what the backend prefers, else
    /// one per core.
    pub jobs: Option<usize>,
    /// How long one case (its whole plan sweep) may take before it is
    /// recorded as a timeout.
    pub case_timeout: Duration,
    /// What replay lines need beyond the case and plan.
    pub replay: Replay,
    /// Set (by a SIGINT handler, say) to stop: no case starts after it,
    /// started ones finish and are reported, and the run ends interrupted.
    pub stop: Arc<std::sync::atomic::AtomicBool>,
}

/// How a failure's one-line replay command is built: it must work from any
/// directory and carry every option that changes the outcome.
#[derive(Clone, Debug, Default)]
pub struct Replay {
    /// The program (the running executable's path; `streamconform` if
    /// unknown).
    pub program: Option<String>,
    /// The directory the run started in: directory suites and their ids
    /// are relative to it, so the line changes to it first.
    pub directory: Option<String>,
    /// Options that change outcomes, e.g. `--settle-ms 0`.
    pub options: Vec<String>,
}

/// `text` quoted for a POSIX shell.
pub fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+".contains(c))
    {
        return text.to_string();
    }
    format!("'{}'", text.replace('\'', "'\\''"))
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            plans: PlanSelection::default(),
            jobs: None,
            case_timeout: Duration::from_secs(120),
            replay: Replay::default(),
            stop: Arc::default(),
        }
    }
}

impl RunConfig {
    fn jobs_for(&self, backend: &BackendUnderTest) -> usize {
        self.jobs
            .or_else(|| backend.engine.preferred_jobs())
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1)
    }
}

/// A whole run: loaded cases on every backend, as a library value.
pub struct Run {
    pub cases: Arc<Vec<Case>>,
    /// Found but not streamable; reported, counted for every backend.
    pub not_applicable: Vec<NotApplicable>,
    /// Files and cases that could not be read, as messages naming them.
    pub input_errors: Vec<String>,
    /// The `--suite` arguments (for run info and replay lines).
    pub suites: Vec<String>,
    pub backends: Vec<BackendUnderTest>,
    /// Per-backend known failures; a file applies to the backend it names.
    pub expectations: Vec<Expectations>,
    pub config: RunConfig,
    /// A filter narrowed the cases: rules are not checked for staleness
    /// and unlisted entries are not reported.
    pub filtered: bool,
}

impl Run {
    /// A run of `cases` on `backends` with no expectations files, no
    /// load-time errors and nothing not applicable.
    pub fn new(cases: Vec<Case>, backends: Vec<BackendUnderTest>, config: RunConfig) -> Run {
        Run {
            cases: Arc::new(cases),
            not_applicable: Vec::new(),
            input_errors: Vec::new(),
            suites: Vec::new(),
            backends,
            expectations: Vec::new(),
            config,
            filtered: false,
        }
    }

    /// Runs every backend over every case, emitting events to `reporters`
    /// on this thread, in case order. Returns what the run concluded.
    pub fn execute(&self, reporters: &mut [&mut dyn Reporter]) -> std::io::Result<RunFinished> {
        let started = Instant::now();
        let info = RunInfo {
            tool_version: env!("CARGO_PKG_VERSION").into(),
            started_at: events::now_rfc3339(),
            host: events::host_name(),
            suites: self.suites.clone(),
            plans: self.config.plans.argument(),
            cases: self.cases.len(),
            backends: self.backends.iter().map(BackendUnderTest::info).collect(),
            proposal_support: self
                .backends
                .iter()
                .filter_map(|b| Some((b.info().name, b.engine.proposal_support()?)))
                .collect(),
        };
        let mut emit = |event: RunEvent<'_>| -> std::io::Result<()> {
            for reporter in reporters.iter_mut() {
                reporter.report(&event)?;
            }
            Ok(())
        };
        emit(RunEvent::RunStarted(&info))?;
        for error in &self.input_errors {
            emit(RunEvent::InputError(error))?;
        }
        for na in &self.not_applicable {
            emit(RunEvent::NotApplicable(na))?;
        }
        let mut finished = RunFinished {
            input_errors: self.input_errors.len(),
            ..RunFinished::default()
        };
        let empty = Expectations::default();
        for (backend, info) in self.backends.iter().zip(&info.backends) {
            if self.config.stop.load(std::sync::atomic::Ordering::SeqCst) {
                finished.interrupted = true;
                break;
            }
            if let Err(message) = backend.engine.ready() {
                let message = format!(
                    "backend {} is unavailable: {message}; none of its cases ran (an environment error, not an engine result)",
                    info.name
                );
                emit(RunEvent::SetupError {
                    backend: &info.name,
                    message: &message,
                })?;
                finished.setup_errors.push(message);
                continue;
            }
            let expectations = self
                .expectations
                .iter()
                .find(|e| e.backend == info.name)
                .unwrap_or(&empty);
            let mut failed_emit = None;
            pool::run_all(
                backend,
                &self.cases,
                &self.config,
                self.config.jobs_for(backend),
                |index, result, duration| {
                    if failed_emit.is_some() {
                        return;
                    }
                    let case = &self.cases[index];
                    let done = conclude(
                        backend,
                        &info.name,
                        case,
                        result,
                        expectations,
                        &self.config,
                        duration,
                    );
                    finished.cases_run += 1;
                    finished.unexpected += usize::from(done.status.is_unexpected());
                    if let Err(e) = emit(RunEvent::CaseFinished(&done)) {
                        failed_emit = Some(e);
                    }
                },
            );
            if let Some(e) = failed_emit {
                return Err(e);
            }
            if self.config.stop.load(std::sync::atomic::Ordering::SeqCst) {
                finished.interrupted = true;
                break;
            }
            if !self.filtered && !expectations.path.as_os_str().is_empty() {
                let check = expectations.check_rules();
                finished.stale_rules.extend(check.stale);
                finished.expectations_not_run.extend(check.not_run);
            }
        }
        finished.elapsed_secs = started.elapsed().as_secs_f64();
        emit(RunEvent::RunFinished(&finished))?;
        Ok(finished)
    }
}

/// Every case on one backend, without expectations or events: the raw
/// results in case order (for tests and tools that judge for themselves).
pub fn run_cases(
    backend: &BackendUnderTest,
    cases: &Arc<Vec<Case>>,
    config: &RunConfig,
) -> Vec<CaseResult> {
    let mut results = Vec::with_capacity(cases.len());
    pool::run_all(
        backend,
        cases,
        config,
        config.jobs_for(backend),
        |_, r, _| results.push(r),
    );
    results
}

/// Ends one case on one backend: the expectation applied (here and only
/// here), unsupported proposals labelled, a replay line for failures.
pub fn conclude<'a>(
    backend: &BackendUnderTest,
    backend_name: &'a str,
    case: &'a Case,
    result: CaseResult,
    expectations: &Expectations,
    config: &RunConfig,
    duration: Duration,
) -> CaseFinished<'a> {
    let judgement = expectations.judge(case, result.verdict);
    let unsupported = if result.verdict == Verdict::Fail {
        let engine = &backend.engine;
        case.proposals_used()
            .into_iter()
            .filter(|p| engine.lacks(p))
            .collect()
    } else {
        Vec::new()
    };
    let repro = matches!(result.verdict, Verdict::Fail | Verdict::Invalid).then(|| {
        // The first failing plan, selected again as its own arguments.
        let plan = match result.failing_plans.first() {
            Some(p) if p.plan == "cuts" => PlanSelection::Cuts(p.cuts.clone()).argument(),
            Some(p) => PlanSelection::Named(p.plan.clone()).argument(),
            None => config.plans.argument(),
        };
        let replay = &config.replay;
        let mut line = match &replay.directory {
            Some(dir) => format!("cd {} && ", shell_quote(dir)),
            None => String::new(),
        };
        line.push_str(&format!(
            "{} run --backend {} --suite {} --case {} {plan}",
            shell_quote(replay.program.as_deref().unwrap_or("streamconform")),
            shell_quote(backend_name),
            shell_quote(&case.suite),
            shell_quote(&case.id),
        ));
        for option in &replay.options {
            line.push(' ');
            line.push_str(&shell_quote(option));
        }
        line
    });
    CaseFinished {
        backend: backend_name,
        case,
        status: judgement.status,
        expectation: judgement.reason,
        result,
        unsupported,
        duration,
        repro,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_arguments_are_quoted_for_a_shell() {
        assert_eq!(shell_quote("suite/a.wast:2"), "suite/a.wast:2");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("it's here"), r"'it'\''s here'");
        // An empty cut list (one chunk) still has a value to parse.
        assert_eq!(PlanSelection::Cuts(vec![]).argument(), "--cuts ''");
        assert_eq!(PlanSelection::Cuts(vec![8, 8]).argument(), "--cuts 8,8");
    }
}
