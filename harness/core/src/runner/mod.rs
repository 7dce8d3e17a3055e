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
mod crew;
pub mod events;
mod gate;
pub mod minimize;
mod pool;
pub mod shard;
mod turns;

pub use case::{run_case, run_case_with_timeout};
pub use events::{CaseFinished, Reporter, RunEvent, RunFinished, RunInfo};
pub use gate::Gate;
pub use shard::Shard;

use crate::backend::BackendUnderTest;
use crate::case::{Case, NotApplicable};
use crate::error::Error;
use crate::expectations::Expectations;
use crate::plan::{plan_by_name, BodyKind, ChunkPlan, PlanSet};
use crate::verdict::{CaseResult, Verdict};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
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
    /// [`crate::plan::LazyPlans`]). Truncated prefixes take a lighter set
    /// (see [`PlanSet::lazy_for`]): the question they ask is how the stream
    /// ends, not where it is cut.
    pub fn plans_for(&self, case: &Case) -> Result<CasePlans, Error> {
        match self {
            PlanSelection::Set(set) => {
                let kind = if case.is_truncation() {
                    BodyKind::TruncatedPrefix
                } else {
                    BodyKind::Module
                };
                Ok(Box::new(set.lazy_for(&case.bytes, kind)))
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
    /// Minimize each failing case's first failing plan (`run --minimize`),
    /// in the worker that ran it, before the case finishes, within half
    /// of what is left of `case_timeout`.
    pub minimize: Option<minimize::MinimizeOptions>,
    /// Runs of an unexpectedly failing case again, each on fresh workers
    /// (the backend's [`crate::Backend::fresh_for_retry`]), until one
    /// passes (the case is then flaky) or all fail (it stays failed, with
    /// its first run's result).
    pub retries: usize,
    /// What a flaky case counts as for the run's conclusion.
    pub flaky_result: crate::verdict::FlakyResult,
    /// How many backends run side by side, each on its own workers (see
    /// `runner/turns.rs`). Reports are the same whatever it is.
    pub backends_at_once: usize,
    /// Stop a backend's workers once the run is done with it
    /// ([`crate::Backend::release`]). Benchmarks that execute one run
    /// again and again keep them warm instead, as their bare loops do.
    pub release_finished_backends: bool,
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

impl Replay {
    /// Replay lines for runs of this process: this executable, this
    /// directory, and `options` that change outcomes.
    pub fn here(options: Vec<String>) -> Replay {
        Replay {
            program: std::env::current_exe()
                .ok()
                .map(|p| p.display().to_string()),
            directory: std::env::current_dir()
                .ok()
                .map(|d| d.display().to_string()),
            options,
        }
    }

    /// The command that runs `case` on `backend` alone, with `plans` (plan
    /// arguments such as `--plan NAME`, already quoted) and the options
    /// that change outcomes.
    pub fn run_line(&self, backend: &str, case: &Case, plans: &str) -> String {
        let mut line = match &self.directory {
            Some(dir) => format!("cd {} && ", shell_quote(dir)),
            None => String::new(),
        };
        line.push_str(&format!(
            "{} run --backend {} --suite {} --case {} {plans}",
            shell_quote(self.program.as_deref().unwrap_or("streamconform")),
            shell_quote(backend),
            shell_quote(&case.suite),
            shell_quote(&case.id),
        ));
        for option in &self.options {
            line.push(' ');
            line.push_str(&shell_quote(option));
        }
        line
    }
}

/// `text` quoted for a POSIX shell. Text with control or bidi characters
/// (a case id from a hostile file name) is `$'...'`-quoted with those
/// characters as escapes, so the line shows nothing raw on a terminal and
/// still replays exactly when pasted.
pub fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+".contains(c))
    {
        return text.to_string();
    }
    if text.chars().any(crate::escape::acts_on_terminal) {
        let mut quoted = String::from("$'");
        for c in text.chars() {
            match c {
                '\\' | '\'' => {
                    quoted.push('\\');
                    quoted.push(c);
                }
                c if crate::escape::acts_on_terminal(c) && (c as u32) < 0x80 => {
                    quoted.push_str(&format!("\\x{:02x}", c as u32));
                }
                c if crate::escape::acts_on_terminal(c) => {
                    quoted.push_str(&format!("\\u{:04x}", c as u32));
                }
                c => quoted.push(c),
            }
        }
        quoted.push('\'');
        return quoted;
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
            minimize: None,
            retries: 0,
            flaky_result: Default::default(),
            backends_at_once: 1,
            release_finished_backends: true,
        }
    }
}

/// The instant `span` from now (see [`later_by`]).
pub fn deadline_after(span: Duration) -> Instant {
    later_by(Instant::now(), span)
}

/// `at + span`, saturating: when the clock cannot count that far (a span
/// of `u64::MAX` seconds), a century after `at`, which no run outlives.
pub fn later_by(at: Instant, span: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);
    at.checked_add(span)
        .or_else(|| at.checked_add(CENTURY))
        .unwrap_or(at)
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
    /// Results an earlier run of the same cases already has (a resumed
    /// run): replayed in their place, not run again.
    pub earlier: EarlierResults,
    /// The run is one shard of a larger one: `cases` are its slice.
    pub shard: Option<ShardRun>,
}

/// What a shard's run knows of the whole.
#[derive(Clone, Debug)]
pub struct ShardRun {
    pub shard: Shard,
    /// Per case of the shard (same order), its position among the cases of
    /// the unsharded run.
    pub positions: Vec<usize>,
}

/// Raw results (before expectations) of (backend, case) pairs that an
/// earlier, interrupted run of the same options finished, with how long
/// each took.
#[derive(Clone, Debug, Default)]
pub struct EarlierResults {
    /// backend name → case id → result.
    by_backend: HashMap<String, HashMap<String, (CaseResult, Duration)>>,
}

impl EarlierResults {
    /// Records a result; a later one for the same pair replaces it.
    pub fn insert(&mut self, backend: &str, result: CaseResult, duration: Duration) {
        self.by_backend
            .entry(backend.to_string())
            .or_default()
            .insert(result.id.clone(), (result, duration));
    }

    pub fn len(&self) -> usize {
        self.by_backend.values().map(HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The result (and duration) recorded for `case_id` on `backend`.
    pub fn get(&self, backend: &str, case_id: &str) -> Option<&(CaseResult, Duration)> {
        self.by_backend.get(backend)?.get(case_id)
    }
}

/// What a backend's thread sends the run.
enum BackendNews {
    /// The engine cannot run (see [`crate::Backend::ready`]).
    Unavailable(String),
    /// A case's raw result, in case order (boxed: results are large and
    /// wait in the channel while an earlier backend runs).
    Finished(usize, Box<CaseResult>, Duration),
}

/// Stops the run's backends if dropped while panicking.
struct StopOnPanic<'a>(&'a Run);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.stop_backends();
        }
    }
}

impl Run {
    /// Stops the backends still running: no case starts after it.
    fn stop_backends(&self) {
        self.config.stop.store(true, Ordering::SeqCst);
    }

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
            earlier: EarlierResults::default(),
            shard: None,
        }
    }

    /// Earlier results that match no (backend, case) of this run, as
    /// `case id (backend)`, sorted: the suites or backends changed since.
    pub fn unmatched_earlier_results(&self) -> Vec<String> {
        let backends: Vec<String> = self.backends.iter().map(|b| b.info().name).collect();
        let cases: std::collections::HashSet<&str> =
            self.cases.iter().map(|c| c.id.as_str()).collect();
        let mut unmatched = Vec::new();
        for (backend, results) in &self.earlier.by_backend {
            let known = backends.contains(backend);
            for id in results.keys() {
                if !known || !cases.contains(id.as_str()) {
                    unmatched.push(format!("{id} ({backend})"));
                }
            }
        }
        unmatched.sort();
        unmatched
    }

    /// Runs every backend over every case, emitting events to `reporters`
    /// on this thread, backend after backend and in case order, whichever
    /// backends run side by side. Returns what the run concluded. A
    /// reporter's error ends the run: it sets `config.stop`, so the
    /// backends still running start no new case.
    pub fn execute(&self, reporters: &mut [&mut dyn Reporter]) -> std::io::Result<RunFinished> {
        let started = Instant::now();
        let info = RunInfo {
            tool_version: env!("CARGO_PKG_VERSION").into(),
            started_at: events::now_rfc3339(),
            host: events::host_name(),
            revision: events::revision(),
            suites: self.suites.clone(),
            plans: self.config.plans.argument(),
            cases: self.cases.len(),
            shard: self.shard.as_ref().map(|s| s.shard),
            backends: self.backends.iter().map(BackendUnderTest::info).collect(),
            proposal_support: self
                .backends
                .iter()
                .filter_map(|b| Some((b.info().name, b.engine.proposal_support()?)))
                .collect(),
            retries: self.config.retries,
            flaky_result: self.config.flaky_result,
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
        let stopped = || self.config.stop.load(Ordering::SeqCst);
        let expectations_of = |name: &str| {
            self.expectations
                .iter()
                .find(|e| e.backend == name)
                .unwrap_or(&empty)
        };
        // Per backend: what an earlier run has is replayed; the rest is to
        // run.
        let (replays_of, to_run_of): (Vec<_>, Vec<_>) = info
            .backends
            .iter()
            .map(|info| {
                let mut replays = Vec::new();
                let mut to_run = Vec::new();
                for (index, case) in self.cases.iter().enumerate() {
                    match self.earlier.get(&info.name, &case.id) {
                        Some((result, duration)) => {
                            replays.push((index, result.clone(), *duration))
                        }
                        None => to_run.push(index),
                    }
                }
                (replays, to_run)
            })
            .unzip();
        let turns = turns::Turns::new(self.config.backends_at_once);
        std::thread::scope(|scope| -> std::io::Result<()> {
            // A panic here (a reporter's, say) waits for the backends'
            // threads before it goes on: they stop rather than run on.
            let _stop = StopOnPanic(self);
            // Each backend runs on a thread of its own when its turn comes
            // and sends its results here, where they are judged and
            // reported backend after backend, in case order.
            let mut news = Vec::new();
            let mut tickets = 0;
            for ((backend, info), to_run) in
                self.backends.iter().zip(&info.backends).zip(&to_run_of)
            {
                let (tx, rx) = mpsc::channel::<BackendNews>();
                news.push(rx);
                if to_run.is_empty() {
                    continue;
                }
                let (ticket, turns, stopped) = (tickets, &turns, &stopped);
                tickets += 1;
                let listed = expectations_of(&info.name).clone();
                scope.spawn(move || {
                    let _turn = turns.take(ticket);
                    // A backend's panic ends the run (the scope passes it
                    // on once every thread is done), so the others stop.
                    // Declared after the turn, so it is dropped first:
                    // the run is stopped before the next backend's turn.
                    let _stop = StopOnPanic(self);
                    if stopped() {
                        return;
                    }
                    if let Err(message) = backend.engine.ready() {
                        let _ = tx.send(BackendNews::Unavailable(message));
                        return;
                    }
                    pool::run_all(
                        backend,
                        &self.cases,
                        to_run,
                        &self.config,
                        self.config.jobs_for(backend),
                        Arc::new(move |case: &Case| !listed.expects_failure(case)),
                        |index, result, duration| {
                            // The run may have ended on a reporter's error.
                            let _ =
                                tx.send(BackendNews::Finished(index, Box::new(result), duration));
                        },
                    );
                    if self.config.release_finished_backends {
                        backend.engine.release();
                    }
                });
            }
            for ((backend, info), (news, replays)) in self
                .backends
                .iter()
                .zip(&info.backends)
                .zip(news.into_iter().zip(replays_of))
            {
                let expectations = expectations_of(&info.name);
                // Ends when the backend's thread is done (or never started).
                let mut news = news.into_iter().peekable();
                // An engine that cannot run says so first, and only that.
                if let Some(BackendNews::Unavailable(message)) =
                    news.next_if(|n| matches!(n, BackendNews::Unavailable(_)))
                {
                    let message = format!(
                        "backend {} is unavailable: {message}; none of its cases ran (an environment error, not an engine result)",
                        info.name
                    );
                    emit(RunEvent::SetupError {
                        backend: &info.name,
                        message: &message,
                    })
                    .inspect_err(|_| self.stop_backends())?;
                    finished.setup_errors.push(message);
                    continue;
                }
                // Every result, run or replayed, ends here, in case order.
                let mut finish = |index: usize, result, duration, replayed| {
                    let mut done = conclude(
                        backend,
                        &info.name,
                        &self.cases[index],
                        result,
                        expectations,
                        &self.config,
                        duration,
                    );
                    done.replayed = replayed;
                    done.case_index = self.shard.as_ref().map(|s| s.positions[index]);
                    finished.cases_run += 1;
                    finished.unexpected +=
                        usize::from(done.status.fails_run(self.config.flaky_result));
                    emit(RunEvent::CaseFinished(&done))
                };
                let mut replays = replays.into_iter().peekable();
                for news in news {
                    let BackendNews::Finished(index, result, duration) = news else {
                        continue;
                    };
                    while let Some((i, r, d)) = replays.next_if(|r| r.0 < index) {
                        finish(i, r, d, true).inspect_err(|_| self.stop_backends())?;
                    }
                    finish(index, *result, duration, false)
                        .inspect_err(|_| self.stop_backends())?;
                }
                // Those after the last case run (all of them, if none ran).
                for (index, result, duration) in replays {
                    finish(index, result, duration, true).inspect_err(|_| self.stop_backends())?;
                }
                if stopped() {
                    // Later backends only replay what they have.
                    finished.interrupted = true;
                    continue;
                }
                if !self.filtered && !expectations.path.as_os_str().is_empty() {
                    if self.shard.is_some() {
                        // A rule stale here may match failing cases of another
                        // shard: judged when the shards are merged.
                        finished.expectation_tallies.extend(expectations.tallies());
                    } else {
                        let check = expectations.check_rules();
                        finished.stale_rules.extend(check.stale);
                        finished.expectations_not_run.extend(check.not_run);
                    }
                }
            }
            Ok(())
        })?;
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
    let all: Vec<usize> = (0..cases.len()).collect();
    pool::run_all(
        backend,
        cases,
        &all,
        config,
        config.jobs_for(backend),
        // No expectations here: every failure is unexpected.
        Arc::new(|_: &Case| true),
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
    let mut judgement = expectations.judge(case, result.verdict);
    if judgement.status == crate::verdict::Status::Failed && result.passed_on_retry() {
        judgement.status = crate::verdict::Status::Flaky;
        if let Some(reason) = expectations.intermittent(case, &result) {
            judgement.status = crate::verdict::Status::KnownFlaky;
            judgement.reason = Some(reason);
        }
    }
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
        config.replay.run_line(backend_name, case, &plan)
    });
    let minimized_repro = result.minimized.as_ref().map(|m| {
        config.replay.run_line(
            backend_name,
            case,
            &PlanSelection::Cuts(m.cuts.clone()).argument(),
        )
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
        minimized_repro,
        replayed: false,
        case_index: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::fault_injection::{self, FaultInjectingBackend};
    use crate::backend::ReferenceBackend;
    use crate::outcome::OutcomeClass;
    use crate::runner::case::tests::{case, module_with};

    /// (backend, case id, replayed, aborted) of every finished case.
    #[derive(Default)]
    struct Seen(Vec<(String, String, bool, Option<String>)>);

    impl Reporter for Seen {
        fn report(&mut self, event: &RunEvent<'_>) -> std::io::Result<()> {
            if let RunEvent::CaseFinished(done) = event {
                let (backend, id) = (done.backend.to_string(), done.case.id.clone());
                self.0
                    .push((backend, id, done.replayed, done.result.aborted.clone()));
            }
            Ok(())
        }
    }

    /// Cases a, b, c on the reference backend, then on one that hangs on
    /// b, with earlier results (aborted "journaled") for `earlier`.
    fn run_with_earlier(earlier: &[(&str, &str)]) -> Run {
        let cases = vec![
            case("a", module_with(b"fine"), OutcomeClass::Module),
            case(
                "b",
                module_with(fault_injection::HANG),
                OutcomeClass::Module,
            ),
            case("c", module_with(b"fine"), OutcomeClass::Module),
        ];
        let mut run = Run::new(
            cases.clone(),
            vec![
                BackendUnderTest::bytes_only(ReferenceBackend),
                BackendUnderTest::bytes_only(FaultInjectingBackend),
            ],
            RunConfig {
                plans: PlanSelection::Set(PlanSet::Whole),
                jobs: Some(1),
                ..RunConfig::default()
            },
        );
        for (backend, id) in earlier {
            let case = cases.iter().find(|c| c.id == *id).unwrap();
            let result = CaseResult::aborted(case, "journaled".into());
            run.earlier
                .insert(backend, result, Duration::from_millis(3));
        }
        run
    }

    fn seen(run: &Run) -> (Vec<String>, RunFinished) {
        let mut seen = Seen::default();
        let finished = run.execute(&mut [&mut seen]).unwrap();
        let lines = seen.0.iter().map(|(backend, id, replayed, aborted)| {
            let how = if *replayed { "replayed" } else { "run" };
            format!("{backend} {id} {how} {}", aborted.as_deref().unwrap_or("-"))
        });
        (lines.collect(), finished)
    }

    /// A test double that injects a fault by scheduling: its one-shot
    /// compiles wait (up to 2 s) until the other backend sharing its
    /// meeting has started a compile too, and answer a compile error if it
    /// never does. Two of them pass only when they run side by side.
    struct MeetingBackend {
        name: &'static str,
        meeting: Arc<(std::sync::Mutex<Vec<&'static str>>, std::sync::Condvar)>,
        /// What `ready` does.
        ready: fn() -> Result<(), String>,
    }

    impl crate::Backend for MeetingBackend {
        fn info(&self) -> crate::backend::BackendInfo {
            crate::backend::BackendInfo {
                name: self.name.into(),
                version: "test double".into(),
            }
        }

        fn compile_streaming(
            &self,
            body: crate::backend::StreamingBody<'_>,
            features: &crate::features::Features,
        ) -> crate::outcome::Outcome {
            ReferenceBackend.compile_streaming(body, features)
        }

        fn compile_one_shot(
            &self,
            bytes: &[u8],
            features: &crate::features::Features,
        ) -> crate::outcome::Outcome {
            let (arrived, changed) = &*self.meeting;
            let mut arrived = arrived.lock().unwrap();
            if !arrived.contains(&self.name) {
                arrived.push(self.name);
                changed.notify_all();
            }
            let (arrived, _) = changed
                .wait_timeout_while(arrived, Duration::from_secs(2), |a| a.len() < 2)
                .unwrap();
            if arrived.len() < 2 {
                return crate::outcome::Outcome::CompileError {
                    message: "the other backend never ran beside this one".into(),
                };
            }
            ReferenceBackend.compile_one_shot(bytes, features)
        }

        fn ready(&self) -> Result<(), String> {
            (self.ready)()
        }
    }

    /// Two meeting backends and the reference on cases a, b, c, with
    /// `backends_at_once`: the finished cases seen and how many failed.
    fn side_by_side(backends_at_once: usize) -> (Vec<String>, usize) {
        let meeting = Arc::default();
        let meets = |name| {
            BackendUnderTest::bytes_only(MeetingBackend {
                name,
                meeting: Arc::clone(&meeting),
                ready: || Ok(()),
            })
        };
        let cases = ["a", "b", "c"]
            .map(|id| case(id, module_with(id.as_bytes()), OutcomeClass::Module))
            .to_vec();
        let run = Run::new(
            cases,
            vec![
                meets("left"),
                meets("right"),
                BackendUnderTest::bytes_only(ReferenceBackend),
            ],
            RunConfig {
                plans: PlanSelection::Set(PlanSet::Whole),
                jobs: Some(1),
                backends_at_once,
                ..RunConfig::default()
            },
        );
        let (lines, finished) = seen(&run);
        (lines, finished.unexpected)
    }

    #[test]
    fn backends_run_side_by_side_and_are_reported_one_after_another() {
        let in_order: Vec<String> = ["left", "right", "reference"]
            .iter()
            .flat_map(|b| ["a", "b", "c"].map(|id| format!("{b} {id} run -")))
            .collect();
        // One at a time, the first backend waits for the second in vain.
        let (lines, unexpected) = side_by_side(1);
        assert_eq!(lines, in_order);
        assert!(unexpected >= 1, "the meeting backends must fail alone");
        for at_once in [2, 3] {
            assert_eq!(
                side_by_side(at_once),
                (in_order.clone(), 0),
                "{at_once} at once"
            );
        }
    }

    #[test]
    fn a_backend_that_cannot_run_is_reported_in_its_place_beside_the_others() {
        let cases = vec![case("a", module_with(b"fine"), OutcomeClass::Module)];
        let run = Run::new(
            cases,
            vec![
                BackendUnderTest::bytes_only(MeetingBackend {
                    name: "unready",
                    meeting: Arc::default(),
                    ready: || Err("injected: no engine here".into()),
                }),
                BackendUnderTest::bytes_only(ReferenceBackend),
            ],
            RunConfig {
                plans: PlanSelection::Set(PlanSet::Whole),
                backends_at_once: 2,
                ..RunConfig::default()
            },
        );
        let (lines, finished) = seen(&run);
        assert_eq!(lines, ["reference a run -"]);
        assert_eq!(finished.setup_errors.len(), 1);
        assert!(finished.setup_errors[0].contains("backend unready is unavailable"));
    }

    /// A backend whose thread panics stops the run: the backends after it
    /// start nothing, and the panic reaches the caller.
    #[test]
    fn a_backend_that_panics_stops_the_others_and_the_panic_reaches_the_caller() {
        let cases = vec![case("a", module_with(b"fine"), OutcomeClass::Module)];
        let run = Run::new(
            cases,
            vec![
                BackendUnderTest::bytes_only(MeetingBackend {
                    name: "panicking",
                    meeting: Arc::default(),
                    ready: || panic!("injected panic in ready"),
                }),
                BackendUnderTest::bytes_only(ReferenceBackend),
            ],
            RunConfig {
                plans: PlanSelection::Set(PlanSet::Whole),
                ..RunConfig::default()
            },
        );
        let mut seen = Seen::default();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run.execute(&mut [&mut seen])
        }));
        assert!(outcome.is_err(), "the panic reaches the caller");
        assert!(
            seen.0.is_empty(),
            "no backend ran after the panic: {:?}",
            seen.0
        );
    }

    /// `exhaustive` must run every plan `default` and `deliberate` run, on
    /// directive cases and on truncated prefixes alike.
    #[test]
    fn exhaustive_selects_a_superset_of_default_for_every_case() {
        let module = module_with(b"marker");
        let mut cases = Vec::new();
        for len in [module.len(), 3, 8, 9, 11, module.len() - 1] {
            let mut truncated = case("t", module[..len].to_vec(), OutcomeClass::CompileError);
            truncated.origin = crate::case::CaseOrigin::Truncation {
                parent: "m".into(),
                len,
            };
            cases.push(truncated);
            cases.push(case("d", module[..len].to_vec(), OutcomeClass::Module));
        }
        let plans = |set, case| {
            PlanSelection::Set(set)
                .plans_for(case)
                .unwrap()
                .collect::<Vec<_>>()
        };
        for case in &cases {
            let exhaustive = plans(PlanSet::Exhaustive, case);
            for set in [PlanSet::Default, PlanSet::Deliberate] {
                for plan in plans(set, case) {
                    assert!(
                        exhaustive.contains(&plan),
                        "{} missing ({:?}, {} bytes)",
                        plan.name,
                        case.origin,
                        case.bytes.len()
                    );
                }
            }
        }
    }

    /// With retries, a case that fails once and then passes is flaky (and
    /// fails the run only under `FlakyResult::Fail`); one that fails every
    /// time stays failed with its first result; a passing one is run once.
    #[test]
    fn a_case_that_passes_on_a_retry_is_flaky_and_one_that_never_does_stays_failed() {
        use crate::verdict::{FlakyResult, Retried, Status};
        #[derive(Default)]
        struct Statuses(Vec<(String, Status, Option<Retried>)>);
        impl Reporter for Statuses {
            fn report(&mut self, event: &RunEvent<'_>) -> std::io::Result<()> {
                if let RunEvent::CaseFinished(done) = event {
                    self.0
                        .push((done.case.id.clone(), done.status, done.result.retried));
                }
                Ok(())
            }
        }
        for flaky_result in [FlakyResult::Fail, FlakyResult::Pass] {
            // A marker of its own per round: the double remembers bodies.
            let marker = [
                fault_injection::FAIL_FIRST_RUN,
                format!("{flaky_result:?}").as_bytes(),
            ]
            .concat();
            let cases = vec![
                case("flaky", module_with(&marker), OutcomeClass::Module),
                // Valid bytes said to be invalid: fails every time.
                case("wrong", module_with(b"fine"), OutcomeClass::CompileError),
                case("fine", module_with(b"fine"), OutcomeClass::Module),
            ];
            let run = Run::new(
                cases,
                vec![BackendUnderTest::bytes_only(FaultInjectingBackend)],
                RunConfig {
                    plans: PlanSelection::Set(PlanSet::Reduced),
                    retries: 2,
                    flaky_result,
                    ..RunConfig::default()
                },
            );
            let mut statuses = Statuses::default();
            let finished = run.execute(&mut [&mut statuses]).unwrap();
            let retried = |on: Option<usize>| Retried {
                retries: on.unwrap_or(2),
                passed_on: on,
            };
            assert_eq!(
                statuses.0,
                [
                    ("flaky".into(), Status::Flaky, Some(retried(Some(1)))),
                    ("wrong".into(), Status::Failed, Some(retried(None))),
                    ("fine".into(), Status::Passed, None),
                ]
            );
            let unexpected = match flaky_result {
                FlakyResult::Fail => 2,
                FlakyResult::Pass => 1,
            };
            assert_eq!(finished.unexpected, unexpected);
        }
    }

    /// A flaky case an `[[intermittent]]` entry covers is known flaky,
    /// with its reason, and fails no run; a case the entry covers that
    /// fails every time is still a failure.
    #[test]
    fn an_intermittent_entry_makes_a_flaky_case_known_and_excuses_nothing_else() {
        use crate::verdict::Status;
        let marker = [fault_injection::FAIL_FIRST_RUN, b"intermittent"].concat();
        let cases = vec![
            case("flaky", module_with(&marker), OutcomeClass::Module),
            case("wrong", module_with(b"fine"), OutcomeClass::CompileError),
        ];
        let expectations = Expectations::parse(
            "backend = \"fault-injecting\"\n[[intermittent]]\ncases = \"*\"\nreason = \"the double fails a first run\"\n",
            std::path::Path::new("fault.toml"),
        )
        .unwrap();
        let mut run = Run::new(
            cases,
            vec![BackendUnderTest::bytes_only(FaultInjectingBackend)],
            RunConfig {
                plans: PlanSelection::Set(PlanSet::Reduced),
                retries: 1,
                ..RunConfig::default()
            },
        );
        run.expectations = vec![expectations];
        let mut seen: Vec<(String, Status, Option<String>)> = Vec::new();
        struct Seen<'a>(&'a mut Vec<(String, Status, Option<String>)>);
        impl Reporter for Seen<'_> {
            fn report(&mut self, event: &RunEvent<'_>) -> std::io::Result<()> {
                if let RunEvent::CaseFinished(done) = event {
                    self.0
                        .push((done.case.id.clone(), done.status, done.expectation.clone()));
                }
                Ok(())
            }
        }
        let finished = run.execute(&mut [&mut Seen(&mut seen)]).unwrap();
        assert_eq!(
            seen,
            [
                (
                    "flaky".into(),
                    Status::KnownFlaky,
                    Some("the double fails a first run".into())
                ),
                ("wrong".into(), Status::Failed, None),
            ]
        );
        assert_eq!(finished.unexpected, 1, "only the case failing every time");
        assert!(finished.stale_rules.is_empty() && finished.expectations_not_run.is_empty());
    }

    #[test]
    fn earlier_results_are_replayed_in_case_order_and_not_run_again() {
        let f = "fault-injecting";
        let run = run_with_earlier(&[
            ("reference", "a"),
            ("reference", "c"),
            (f, "a"),
            (f, "b"),
            (f, "c"),
        ]);
        assert!(run.unmatched_earlier_results().is_empty());
        let (seen, finished) = seen(&run);
        assert_eq!(
            seen,
            [
                "reference a replayed journaled",
                "reference b run -",
                "reference c replayed journaled",
                "fault-injecting a replayed journaled",
                // Run again, it would hang.
                "fault-injecting b replayed journaled",
                "fault-injecting c replayed journaled",
            ]
        );
        assert_eq!((finished.cases_run, finished.interrupted), (6, false));
    }

    #[test]
    fn a_stopped_run_still_replays_the_earlier_results_of_every_backend() {
        let run = run_with_earlier(&[("reference", "c"), ("fault-injecting", "b")]);
        run.config.stop.store(true, Ordering::SeqCst);
        let (seen, finished) = seen(&run);
        assert_eq!(
            seen,
            [
                "reference c replayed journaled",
                "fault-injecting b replayed journaled"
            ]
        );
        assert_eq!((finished.cases_run, finished.interrupted), (2, true));
    }

    #[test]
    fn earlier_results_of_unknown_cases_or_backends_are_named() {
        let mut run = run_with_earlier(&[("reference", "a")]);
        let gone = case("gone", module_with(b"x"), OutcomeClass::Module);
        run.earlier.insert(
            "reference",
            CaseResult::aborted(&gone, String::new()),
            Duration::ZERO,
        );
        run.earlier.insert(
            "other",
            CaseResult::aborted(&gone, String::new()),
            Duration::ZERO,
        );
        assert_eq!(
            run.unmatched_earlier_results(),
            ["gone (other)", "gone (reference)"]
        );
    }

    #[test]
    fn replay_arguments_are_quoted_for_a_shell() {
        assert_eq!(shell_quote("suite/a.wast:2"), "suite/a.wast:2");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("it's here"), r"'it'\''s here'");
        // An empty cut list (one chunk) still has a value to parse.
        assert_eq!(PlanSelection::Cuts(vec![]).argument(), "--cuts ''");
        assert_eq!(PlanSelection::Cuts(vec![8, 8]).argument(), "--cuts 8,8");
    }

    #[cfg(unix)]
    #[test]
    fn control_characters_are_quoted_as_escapes_that_a_shell_reads_back() {
        let hostile = "erase\x1b[2K\r 'q' \\ \u{9b}\u{202e}.wast:1";
        let quoted = shell_quote(hostile);
        assert_eq!(quoted, r"$'erase\x1b[2K\x0d \'q\' \\ \u009b\u202e.wast:1'");
        assert!(!quoted.chars().any(crate::escape::acts_on_terminal));
        let echoed = std::process::Command::new("bash")
            .args(["-c", &format!("printf %s {quoted}")])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8(echoed.stdout).unwrap(), hostile);
    }
}
