//! A run session: a [`RunSpec`] checked ([`Session::prepare`]), run with
//! the caller's consumers ([`Session::execute`]), and concluded. Around
//! the runner it keeps what a run leaves on disk:
//!
//! - the journal (`FILE.journal` beside `--report FILE`): begun before the
//!   first case, appended to by a resumed run ([`Session::resume`]),
//!   removed once the report is complete, kept when the run is interrupted;
//! - the JSON report, written to `.FILE.XXXXXX.partial` beside it
//!   ([`crate::output`]) and renamed over `FILE` only when complete, so a run that dies never leaves a truncated
//!   report nor an old one that looks current;
//! - blessed expectations files.
//!
//! The CLI parses arguments into a `RunSpec`, picks the consumers a person
//! sees (progress, terminal) and maps [`SessionEnd`] to an exit code.

pub mod journal;
pub mod minimize;
mod spec;

pub use spec::{
    check_backends_distinct, check_bounds, clock_bounds, jobs_bound, outcome_options, timing,
    Bounded, PlanChoice, PublishSpec, RunSpec, MAX_JOBS, MAX_TIMEOUT_SECS,
};

use crate::backend::{BackendUnderTest, WorkerTiming};
use crate::case::Case;
use crate::error::Error;
use crate::expectations::{refuse_bless_in_ci, Expectations};
use crate::output::OutputFile;
use crate::reporter::bless::Bless;
use crate::reporter::json::JsonReport;
use crate::reporter::ToFile;
use crate::runner::{
    minimize::MinimizeOptions, shell_quote, PlanSelection, Reporter, Run, RunConfig, RunFinished,
    ShardRun,
};
use crate::suites::{file_of_case_id, load_all, load_all_matching, Limits, LoadedSuite, SuiteSpec};
use journal::{Journal, JournalWriter};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// Builds backends by name: the engines crate's registry, or a test's own.
pub trait BackendRegistry {
    /// The backend `name` (as `--backend` takes it), with these clocks.
    fn backend(&self, name: &str, timing: WorkerTiming) -> Result<BackendUnderTest, Error>;

    /// Each of `names`, in order, with the same clocks.
    fn backends(
        &self,
        names: &[String],
        timing: WorkerTiming,
    ) -> Result<Vec<BackendUnderTest>, Error> {
        names
            .iter()
            .map(|name| self.backend(name, timing))
            .collect()
    }
}

/// What a resumed run may take from the command line rather than from its
/// journal: options that change neither which cases run nor how they come
/// out.
#[derive(Clone, Debug, Default)]
pub struct ResumeOverrides {
    /// `--jobs`, if given.
    pub jobs: Option<Option<usize>>,
    /// `--backends-at-once`, if given.
    pub backends_at_once: Option<usize>,
    /// `--show-failures`, if given.
    pub show_failures: Option<usize>,
    /// `--quiet`, if given.
    pub quiet: Option<bool>,
    /// Bless the expectations files: only the caller can ask for it (the
    /// CLI never does); a journal's `bless` is ignored, so a journal
    /// cannot rewrite a file.
    pub bless: bool,
}

/// A checked run, ready to execute: its backends built, its cases loaded
/// and selected, its report and journal files claimed.
pub struct Session {
    spec: RunSpec,
    run: Run,
    journal: Option<(ToFile<JournalWriter>, PathBuf)>,
    /// A resumed run: how many results its journal replays.
    replayed: Option<usize>,
    report: Option<(ToFile<JsonReport<OutputFile>>, PathBuf)>,
    bless: Option<Bless>,
}

/// How a session ended.
#[derive(Debug)]
pub struct SessionEnd {
    /// What the run concluded.
    pub finished: RunFinished,
    /// The JSON report, complete (`None` without `report`).
    pub report: Option<PathBuf>,
    /// The command that continues an interrupted run from its journal.
    pub resume_command: Option<String>,
    /// One line per expectations file blessed.
    pub blessed: Vec<String>,
    /// Whether the run blessed (its failures are then recorded, not fatal).
    bless: bool,
}

impl SessionEnd {
    /// 0 when nothing was unexpected, 1 when something was, 2 on bad
    /// input, 130 when interrupted. Blessing records failures: it still
    /// fails on bad input.
    pub fn exit_code(&self) -> i32 {
        match self.finished.exit_code() {
            1 if self.bless => 0,
            code => code,
        }
    }
}

impl Session {
    /// Checks `spec` as the CLI did before running anything: its numbers
    /// and backend names ([`RunSpec::validate`]), bless outside
    /// CI, outputs that need a report, the plans, the backends, one
    /// expectations file per backend of the run, the case selection, the
    /// shard, a named plan that fits every case, a journal left by an
    /// unfinished run, and a writable report path.
    pub fn prepare(
        spec: RunSpec,
        registry: &dyn BackendRegistry,
        stop: Arc<AtomicBool>,
    ) -> Result<Session, Error> {
        Session::prepare_with(spec, registry, stop, None)
    }

    /// Continues the run `journal` recorded, in the directory it began in
    /// (the process changes to it: the run's relative paths are relative to
    /// it), running only the cases it lacks.
    pub fn resume(
        journal: &Path,
        overrides: ResumeOverrides,
        registry: &dyn BackendRegistry,
        stop: Arc<AtomicBool>,
    ) -> Result<Session, Error> {
        let path = std::path::absolute(journal).map_err(|source| Error::Io {
            path: journal.to_path_buf(),
            source,
        })?;
        let journal = journal::read(&path)?;
        let invalid = |message: String| Error::InvalidJournal {
            file: path.clone(),
            line: 1,
            message,
        };
        std::env::set_current_dir(&journal.header.directory).map_err(|e| {
            invalid(format!(
                "the directory the run began in, {}: {e}",
                journal.header.directory.display()
            ))
        })?;
        let mut spec = journal.header.run.clone();
        let Some(report) = spec.report.as_deref() else {
            return Err(invalid("its run has no report".into()));
        };
        // A journal resumes only where its run left it, beside its report:
        // its header names the report (and the outputs made from it), so a
        // journal put anywhere else could make a resumed run write them
        // where the run never did.
        let own = beside(report, ".journal");
        let is_own = matches!(
            (std::fs::canonicalize(&own), std::fs::canonicalize(&path)),
            (Ok(a), Ok(b)) if a == b
        );
        if !is_own {
            return Err(invalid(format!(
                "it is the journal of the report {}, which would be {}: a journal resumes only as the file its run wrote",
                report.display(),
                own.display()
            )));
        }
        if let Some(jobs) = overrides.jobs {
            spec.jobs = jobs;
        }
        if let Some(at_once) = overrides.backends_at_once {
            spec.backends_at_once = at_once;
        }
        if let Some(show) = overrides.show_failures {
            spec.show_failures = show;
        }
        if let Some(quiet) = overrides.quiet {
            spec.quiet = quiet;
        }
        spec.bless = overrides.bless;
        Session::prepare_with(spec, registry, stop, Some(journal))
    }

    fn prepare_with(
        spec: RunSpec,
        registry: &dyn BackendRegistry,
        stop: Arc<AtomicBool>,
        resumed: Option<Journal>,
    ) -> Result<Session, Error> {
        let invalid = |message: String| Err(Error::InvalidRun(message));
        spec.validate()?;
        if spec.bless {
            refuse_bless_in_ci()?;
            if spec.shard.is_some() {
                // A shard sees part of the cases: which rules are stale is
                // known only once merged.
                return invalid("--bless cannot go with --shard".into());
            }
        }
        if spec.publish.any() && spec.report.is_none() {
            return invalid("--junit, --wptreport, --markdown, --html and --history are made from the JSON report: give --report FILE too".into());
        }
        let suites = spec.suite_specs()?;
        let plans = spec.plan_selection()?;
        let backends = registry.backends(&spec.backends, spec.timing()?)?;
        let suite_names: Vec<String> = suites.iter().map(SuiteSpec::name).collect();
        let expectations = load_expectations(&spec, &backends, &suite_names)?;
        let loaded = load_for_cases(&suites, spec.truncation, &spec.limits, &spec.cases);
        let filtered = spec.filter.is_some() || !spec.cases.is_empty();
        let cases = select(loaded.cases, spec.filter.as_deref(), &spec.cases);
        if !spec.cases.is_empty() && cases.is_empty() {
            return invalid(format!(
                "no case has the id {:?} in suites {:?}",
                spec.cases, spec.suites
            ));
        }
        let (cases, shard) = take_shard(cases, spec.shard)?;
        check_plans_fit(&plans, &cases)?;
        let run = Run {
            cases: Arc::new(cases),
            not_applicable: if filtered {
                Vec::new()
            } else {
                loaded.not_applicable
            },
            input_errors: loaded.errors.iter().map(ToString::to_string).collect(),
            suites: suites.iter().map(SuiteSpec::argument).collect(),
            backends,
            expectations: expectations.clone(),
            config: RunConfig {
                plans,
                jobs: spec.jobs,
                case_timeout: Duration::from_secs(spec.case_timeout_secs),
                replay: spec.replay_here(),
                stop,
                minimize: spec
                    .minimize_attempts
                    .map(|max_attempts| MinimizeOptions { max_attempts }),
                retries: spec.retries,
                flaky_result: spec.flaky_result,
                backends_at_once: spec.backends_at_once,
                release_finished_backends: true,
            },
            filtered,
            earlier: resumed
                .as_ref()
                .map(|journal| journal.results.clone())
                .unwrap_or_default(),
            shard,
        };
        if let Some(journal) = &resumed {
            let unmatched = run.unmatched_earlier_results();
            if !unmatched.is_empty() {
                return invalid(format!(
                    "{}: {} journaled results are of cases not in this run's suites (they changed since): {}{}; delete the journal and run afresh",
                    journal.path.display(),
                    unmatched.len(),
                    unmatched[..unmatched.len().min(10)].join(", "),
                    if unmatched.len() > 10 { ", ..." } else { "" }
                ));
            }
            check_journaled_results(journal, &run)?;
        }
        let program = run.config.replay.program.clone();
        // Checked before the run, like the report path: the journal of a
        // run that did not finish is not replaced.
        let new_journal = match (&resumed, &spec.report) {
            (None, Some(report)) => {
                let path = beside(report, ".journal");
                if path.exists() {
                    return invalid(format!(
                        "{}: the journal of a run that did not finish; continue it with `{}`, or delete it to start afresh",
                        path.display(),
                        resume_command(program.as_deref(), &path)
                    ));
                }
                Some(path)
            }
            _ => None,
        };
        let report = match &spec.report {
            Some(path) => {
                // Created before the run: an unwritable path is an error
                // now, not after the run. Renamed over `path` at the end.
                let file = OutputFile::create(path).map_err(|e| {
                    Error::InvalidRun(format!("writing report {}: {e}", path.display()))
                })?;
                Some((
                    ToFile {
                        path: path.clone(),
                        inner: JsonReport::new(file),
                    },
                    path.clone(),
                ))
            }
            None => None,
        };
        let replayed = resumed.as_ref().map(|j| j.results.len());
        // Results are kept as they finish, to resume an interrupted run with.
        let journal = match (resumed, new_journal) {
            (Some(journal), _) => {
                let writer = JournalWriter::append(&journal).map_err(|e| {
                    Error::InvalidRun(format!("appending to {}: {e}", journal.path.display()))
                })?;
                Some((
                    ToFile {
                        path: journal.path.clone(),
                        inner: writer,
                    },
                    journal.path,
                ))
            }
            (None, Some(path)) => {
                let directory = std::env::current_dir().map_err(|source| Error::Io {
                    path: ".".into(),
                    source,
                })?;
                let header = journal::Header::new(directory, spec.clone());
                let writer = JournalWriter::create(&path, &header)
                    .map_err(|e| Error::InvalidRun(format!("writing {}: {e}", path.display())))?;
                Some((
                    ToFile {
                        path: path.clone(),
                        inner: writer,
                    },
                    path,
                ))
            }
            (None, None) => None,
        };
        let bless = spec.bless.then(|| Bless::new(expectations));
        Ok(Session {
            spec,
            run,
            journal,
            replayed,
            report,
            bless,
        })
    }

    /// The run as described (after a resume's overrides).
    pub fn spec(&self) -> &RunSpec {
        &self.spec
    }

    /// For a resumed run: its journal and how many results it replays.
    pub fn resumed(&self) -> Option<(&Path, usize)> {
        match (&self.journal, self.replayed) {
            (Some((_, path)), Some(replayed)) => Some((path.as_path(), replayed)),
            _ => None,
        }
    }

    /// Runs it. `consumers` see every event after the journal (a result is
    /// kept before anything else sees it) and before the JSON report and
    /// blessing.
    pub fn execute(mut self, consumers: &mut [&mut dyn Reporter]) -> Result<SessionEnd, Error> {
        let finished = {
            let mut reporters: Vec<&mut dyn Reporter> = Vec::new();
            if let Some((writer, _)) = self.journal.as_mut() {
                reporters.push(writer);
            }
            for consumer in consumers.iter_mut() {
                reporters.push(&mut **consumer);
            }
            if let Some((json, _)) = self.report.as_mut() {
                reporters.push(json);
            }
            if let Some(bless) = self.bless.as_mut() {
                reporters.push(bless);
            }
            self.run.execute(&mut reporters).map_err(Error::Output)?
        };
        let report = match self.report {
            Some((json, path)) => {
                json.inner.into_inner().commit().map_err(|e| {
                    Error::InvalidRun(format!("writing report {}: {e}", path.display()))
                })?;
                Some(path)
            }
            None => None,
        };
        let mut resume = None;
        if let Some((writer, path)) = self.journal {
            drop(writer);
            if finished.interrupted {
                resume = Some(resume_command(
                    self.run.config.replay.program.as_deref(),
                    &path,
                ));
            } else {
                // The report is complete: nothing is left to resume.
                std::fs::remove_file(&path).map_err(|source| Error::Io {
                    path: path.clone(),
                    source,
                })?;
            }
        }
        Ok(SessionEnd {
            finished,
            report,
            resume_command: resume,
            blessed: self.bless.map(|b| b.written).unwrap_or_default(),
            bless: self.spec.bless,
        })
    }
}

/// Each result `journal` replays, checked against its case as loaded now:
/// it agrees with itself (its verdict is the one its plans and abort give),
/// it expected what the case expects, and a case that ran to the end ran
/// every plan this run gives it. An error names the journal and line.
fn check_journaled_results(journal: &Journal, run: &Run) -> Result<(), Error> {
    for backend in &run.backends {
        let name = backend.info().name;
        for case in run.cases.iter() {
            let Some((result, _)) = journal.results.get(&name, &case.id) else {
                continue;
            };
            let invalid = |message: String| Error::InvalidJournal {
                file: journal.path.clone(),
                line: journal.lines[&(name.clone(), case.id.clone())],
                message: format!(
                    "the result of {} on {name}: {message}; delete the journal and run afresh",
                    case.id
                ),
            };
            result.check_consistent().map_err(invalid)?;
            if result.expected != case.expected() {
                return Err(invalid(format!(
                    "it was judged expecting {}, and the case now expects {}",
                    result.expected,
                    case.expected()
                )));
            }
            let ran_to_the_end = result.aborted.is_none();
            if ran_to_the_end {
                let plans =
                    plan_count(&run.config.plans, case).map_err(|e| invalid(e.to_string()))?;
                if result.plans_run != plans {
                    return Err(invalid(format!(
                        "it ran {} plan(s), and this run gives the case {plans}",
                        result.plans_run
                    )));
                }
            }
        }
    }
    Ok(())
}

/// How many plans `case` runs under `plans` (as `runner::run_case` takes
/// them: a Web API case that streams no body runs one).
fn plan_count(plans: &PlanSelection, case: &Case) -> Result<usize, Error> {
    if case.scenario.as_ref().is_some_and(|s| !s.uses_plans()) {
        return Ok(1);
    }
    Ok(plans.plans_for(case)?.count())
}

/// Each `expectations` file, checked against the run's backends: one file
/// per backend, each for a backend of the run; with `bless`, every backend
/// needs one, and a missing file starts empty, made from the run's suites.
/// Each judges staleness over `suite_names`, the suites of the run.
fn load_expectations(
    spec: &RunSpec,
    backends: &[BackendUnderTest],
    suite_names: &[String],
) -> Result<Vec<Expectations>, Error> {
    let mut expectations = Vec::new();
    for path in &spec.expectations {
        let e = match Expectations::load(path) {
            Err(Error::Io { source, .. })
                if spec.bless && source.kind() == std::io::ErrorKind::NotFound =>
            {
                let backend = path
                    .file_stem()
                    .map_or("?".into(), |s| s.to_string_lossy().into_owned());
                let mut empty = Expectations::empty(&backend, path);
                empty.suites = suite_names.to_vec();
                empty
            }
            other => other?,
        };
        expectations.push(e.judged_over(suite_names.iter().cloned()));
    }
    let names: Vec<String> = backends.iter().map(|b| b.info().name).collect();
    for (i, e) in expectations.iter().enumerate() {
        if !names.contains(&e.backend) {
            return Err(Error::InvalidRun(format!(
                "{}: its backend {:?} is not in this run (backends: {}); it would apply to nothing",
                e.path.display(),
                e.backend,
                names.join(", ")
            )));
        }
        if let Some(first) = expectations[..i].iter().find(|f| f.backend == e.backend) {
            return Err(Error::InvalidRun(format!(
                "{} and {} are both for backend {:?}; give one file per backend",
                first.path.display(),
                e.path.display(),
                e.backend
            )));
        }
    }
    if spec.bless {
        for name in &names {
            if !expectations.iter().any(|e| &e.backend == name) {
                return Err(Error::InvalidRun(format!(
                    "--bless needs an --expectations file whose `backend` is {name:?}"
                )));
            }
        }
    }
    Ok(expectations)
}

/// The suites' cases; when every `cases` id names its file (see
/// [`file_of_case_id`]), only those files' (a `fuzz:` case id regenerates
/// just its module), falling back to everything if that misses any of them.
pub fn load_for_cases(
    suites: &[SuiteSpec],
    truncation: bool,
    limits: &Limits,
    cases: &[String],
) -> LoadedSuite {
    let files: Option<std::collections::BTreeSet<&str>> =
        cases.iter().map(|id| file_of_case_id(id)).collect();
    if let Some(files) = files.filter(|f| !f.is_empty()) {
        let mut loaded = LoadedSuite::default();
        for file in files {
            loaded.extend(load_all_matching(suites, truncation, Some(file), limits));
        }
        if cases
            .iter()
            .all(|id| loaded.cases.iter().any(|c| &c.id == id))
        {
            return loaded;
        }
    }
    load_all(suites, truncation, limits)
}

/// The cases whose id contains `filter` (if any) and, if `exact` is not
/// empty, whose id it lists.
pub fn select(cases: Vec<Case>, filter: Option<&str>, exact: &[String]) -> Vec<Case> {
    cases
        .into_iter()
        .filter(|c| filter.is_none_or(|f| c.id.contains(f)))
        .filter(|c| exact.is_empty() || exact.contains(&c.id))
        .collect()
}

/// This shard's slice of `cases`, and what it knows of the whole.
fn take_shard(
    cases: Vec<Case>,
    shard: Option<crate::runner::Shard>,
) -> Result<(Vec<Case>, Option<ShardRun>), Error> {
    let Some(shard) = shard else {
        return Ok((cases, None));
    };
    let selected = cases.len();
    let positions = shard.positions(cases.iter().map(|c| c.id.as_str()));
    if positions.is_empty() {
        return Err(Error::InvalidRun(format!(
            "shard {shard} holds none of the {selected} selected cases; use fewer shards"
        )));
    }
    let slice = cases
        .into_iter()
        .enumerate()
        .filter(|(i, _)| positions.binary_search(i).is_ok())
        .map(|(_, case)| case)
        .collect();
    Ok((slice, Some(ShardRun { shard, positions })))
}

/// A named plan or a cut list must fit every selected case: one that does
/// not is a usage error, not an engine failure.
pub fn check_plans_fit(plans: &PlanSelection, cases: &[Case]) -> Result<(), Error> {
    if matches!(plans, PlanSelection::Set(_)) {
        return Ok(());
    }
    for case in cases
        .iter()
        .filter(|c| c.scenario.as_ref().is_none_or(|s| s.uses_plans()))
    {
        if let Err(e) = plans.plans_for(case) {
            return Err(Error::InvalidRun(format!("{}: {e}", case.id)));
        }
    }
    Ok(())
}

/// A file beside `path`: its name with `suffix` added. `FILE.journal`
/// keeps the results as they finish.
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// The command that continues the run `journal` recorded, from anywhere.
fn resume_command(program: Option<&str>, journal: &Path) -> String {
    let journal = std::path::absolute(journal).unwrap_or_else(|_| journal.to_path_buf());
    format!(
        "{} run --resume {}",
        shell_quote(program.unwrap_or("streamconform")),
        shell_quote(&journal.to_string_lossy())
    )
}
