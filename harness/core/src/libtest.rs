//! Running the harness from `cargo test`: one libtest-mimic trial per case,
//! named by its id, so `cargo test -- FILTER`, `--list`, `--exact` and
//! nextest all work as usual.
//!
//! Not-applicable cases are ignored trials; a file that could not be read
//! and an expectations file that does not parse are failing trials, so
//! nothing is skipped silently.

use crate::backend::{Backend, BackendUnderTest, InstantiateBackend, WebApiBackend};
use crate::escape;
use crate::expectations::{refuse_bless_in_ci, BlessInput, Expectations};
use crate::plan::PlanSet;
use crate::runner::{
    conclude, run_case_with_timeout, CaseFinished, Gate, PlanSelection, RunConfig,
};
use crate::suites::{file_of_case_id, load_all_matching, Limits, SuiteSpec};
use crate::verdict::Status;
use libtest_mimic::{Arguments, Completion, Failed, Trial};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Environment variable that makes a `cargo test` run rewrite the
/// expectations file from its results (refused when `CI` is set).
pub const BLESS_ENV: &str = "STREAMCONFORM_BLESS";

/// A conformance run of one in-process backend, as a libtest harness: the
/// `main` of a `[[test]] harness = false` target (see the crate docs).
///
/// Each case is one trial named by its id, so `cargo test -- FILTER`,
/// `--list`, `--exact ID`, `--ignored` and nextest work as usual. A case
/// passes when every plan's outcome agrees with the spec and with the
/// backend's one-shot compile; a failure listed in the expectations file is
/// expected, and a listed case that passes fails (so the list stays true).
/// `STREAMCONFORM_BLESS=1 cargo test` rewrites the expectations file from
/// the results (refused when `CI` is set).
///
/// ```no_run
/// use streamconform::{Conformance, PlanSet, ReferenceBackend, SuiteSpec};
///
/// Conformance::new(ReferenceBackend)
///     .suites([SuiteSpec::Streaming])
///     .plans(PlanSet::Reduced)
///     .run_as_test_harness()
/// ```
pub struct Conformance {
    backend: BackendUnderTest,
    suites: Vec<SuiteSpec>,
    plans: PlanSelection,
    expectations: Option<PathBuf>,
    truncation: bool,
    limits: Limits,
    timeout: Duration,
}

impl Conformance {
    /// A run of `backend` on the spec and streaming suites, with the
    /// default plans, truncation cases and no expectations file.
    pub fn new(backend: impl Backend + 'static) -> Conformance {
        Conformance::for_backend(BackendUnderTest::bytes_only(backend))
    }

    /// Like [`Conformance::new`], for a backend that also answers Web API
    /// cases: add [`SuiteSpec::WebApi`] to [`Conformance::suites`] to run
    /// them.
    pub fn with_web_api<B: Backend + WebApiBackend + 'static>(backend: B) -> Conformance {
        Conformance::for_backend(BackendUnderTest::with_web_api(backend))
    }

    /// The backend's instantiation capability: `instantiateStreaming` cases
    /// (ids ending `@instantiate`) run through it instead of counting as
    /// not applicable. Usually the same value as the backend:
    /// `Conformance::new(MyEngine).instantiating(MyEngine)`.
    pub fn instantiating(mut self, backend: impl InstantiateBackend + 'static) -> Self {
        self.backend = self.backend.instantiating(Arc::new(backend));
        self
    }

    /// Like [`Conformance::new`], for a backend as the runner holds it.
    #[doc(hidden)]
    pub fn for_backend(backend: BackendUnderTest) -> Conformance {
        Conformance {
            backend,
            suites: vec![SuiteSpec::Spec, SuiteSpec::Streaming],
            plans: PlanSelection::Set(PlanSet::Default),
            expectations: None,
            truncation: true,
            limits: Limits::default(),
            timeout: Duration::from_secs(120),
        }
    }

    /// The suites to run, instead of spec and streaming.
    pub fn suites(mut self, suites: impl IntoIterator<Item = SuiteSpec>) -> Self {
        self.suites = suites.into_iter().collect();
        self
    }

    /// The chunkings to try on each module, instead of
    /// [`PlanSet::Default`]; [`PlanSet::Reduced`] is a cheap cross-section
    /// for slow engines.
    pub fn plans(mut self, set: PlanSet) -> Self {
        self.plans = PlanSelection::Set(set);
        self
    }

    /// The backend's known failures, a TOML file (usually beside the test,
    /// named from `CARGO_MANIFEST_DIR`). A missing file counts as empty (so
    /// a first `STREAMCONFORM_BLESS=1 cargo test` can create it).
    pub fn expectations(mut self, path: impl AsRef<Path>) -> Self {
        self.expectations = Some(path.as_ref().to_path_buf());
        self
    }

    /// Whether to derive truncation cases (each valid module cut short at
    /// several prefixes, which must fail to compile); on by default.
    pub fn truncation(mut self, enabled: bool) -> Self {
        self.truncation = enabled;
        self
    }

    /// The largest module and the most truncation cases per module.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// How long one case (its whole plan sweep) may take before it is
    /// recorded as a timeout, a failure; 120 seconds by default.
    pub fn case_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Parses the test binary's arguments (libtest's), runs the matching
    /// cases, and exits the process: 0 when every trial passed, 101
    /// otherwise (also when the expectations file has stale rules after a
    /// full run).
    pub fn run_as_test_harness(self) -> ! {
        let mut args = Arguments::from_args();
        // Out-of-process engines want many cases in flight.
        if args.test_threads.is_none() {
            args.test_threads = self.backend.engine.preferred_jobs();
        }
        let bless = std::env::var_os(BLESS_ENV).is_some_and(|v| v != "0");
        let recorder = Arc::new(Mutex::new(Vec::new()));
        // `--exact ID` (how nextest runs each trial) needs only ID's file.
        // A name with escapes (see `trial_name`) may name a file that is
        // spelled otherwise on disk: then every file is loaded.
        let only_file = args
            .filter
            .as_deref()
            .filter(|name| args.exact && !name.contains('\\'))
            .and_then(file_of_case_id);
        let (trials, expectations) =
            self.trials_matching(bless.then(|| recorder.clone()), only_file);
        let conclusion = libtest_mimic::run(&args, trials);
        let stale = !bless && report_stale_rules(&args, expectations.as_ref().ok());
        if bless {
            if self.expectations.is_none() {
                eprintln!(
                    "streamconform: {BLESS_ENV} needs a file: call Conformance::expectations(PATH)"
                );
                std::process::exit(101);
            }
            if let Err(e) = bless_into(
                expectations,
                &self.backend.engine.info().name,
                &recorder.lock().unwrap(),
            ) {
                eprintln!("streamconform: {e}");
                std::process::exit(101);
            }
        }
        if stale {
            std::process::exit(101);
        }
        conclusion.exit()
    }

    /// The trials, and the expectations they were judged against. With a
    /// recorder, every case's raw result is also pushed there (for bless).
    #[doc(hidden)]
    pub fn trials(
        &self,
        recorder: Option<Arc<Mutex<Vec<BlessInput>>>>,
    ) -> (Vec<Trial>, Result<Expectations, String>) {
        self.trials_matching(recorder, None)
    }

    fn trials_matching(
        &self,
        recorder: Option<Arc<Mutex<Vec<BlessInput>>>>,
        only_file: Option<&str>,
    ) -> (Vec<Trial>, Result<Expectations, String>) {
        let mut trials = Vec::new();
        let expectations = match &self.expectations {
            None => Ok(Expectations::empty(
                &self.backend.engine.info().name,
                Path::new("expectations.toml"),
            )),
            Some(path) if !path.exists() => {
                Ok(Expectations::empty(&self.backend.engine.info().name, path))
            }
            Some(path) => Expectations::load(path).map_err(|e| e.to_string()),
        }
        .map(|e| e.judged_over(self.suites.iter().map(SuiteSpec::name)));
        let judged_against = match &expectations {
            Ok(e) => Arc::new(e.clone()),
            Err(message) => {
                let message = message.clone();
                trials.push(Trial::test("streamconform::expectations", move || {
                    Err(shown(&message))
                }));
                Arc::new(Expectations::default())
            }
        };
        let loaded = load_all_matching(&self.suites, self.truncation, only_file, &self.limits);
        for error in loaded.errors {
            let message = error.to_string();
            trials.push(Trial::test(
                trial_name(&format!(
                    "streamconform::input-error::{}",
                    error_file(&message)
                )),
                move || Err(shown(&message)),
            ));
        }
        for na in loaded.not_applicable {
            let reason =
                escape::terminal_lines(&format!("not applicable: {}", na.reason)).into_owned();
            trials.push(Trial::ignorable_test(trial_name(&na.id), move || {
                Ok(Completion::ignored_with(reason))
            }));
        }
        // Trials run on libtest's threads; a case that keeps a compile open
        // still runs alone on this backend, as in a run.
        let gate = Arc::new(Gate::new(self.timeout));
        for case in loaded.cases {
            let (backend, timeout, gate) = (self.backend.clone(), self.timeout, gate.clone());
            let config = RunConfig {
                plans: self.plans.clone(),
                ..RunConfig::default()
            };
            let (expectations, recorder) = (judged_against.clone(), recorder.clone());
            let name = trial_name(&case.id);
            trials.push(Trial::ignorable_test(name, move || {
                let pass = gate.enter(case.runs_alone());
                let started = std::time::Instant::now();
                let result = run_case_with_timeout(&backend, &case, &config.plans, timeout);
                drop(pass);
                let backend_name = backend.engine.info().name;
                let done = conclude(
                    &backend,
                    &backend_name,
                    &case,
                    result,
                    &expectations,
                    &config,
                    started.elapsed(),
                );
                if let Some(recorder) = recorder {
                    recorder.lock().unwrap().push(BlessInput::from(&done));
                }
                judge_trial(&done, &expectations)
                    .map_err(|failed| shown(failed.message().unwrap_or_default()))
            }));
        }
        (trials, expectations)
    }
}

/// A trial's name: the case id with control characters shown escaped,
/// as libtest prints names raw (a case id is a file name).
fn trial_name(id: &str) -> String {
    escape::terminal(id).into_owned()
}

/// A failure's text as libtest prints it: engine messages quote names
/// from the module, so control characters are shown escaped.
fn shown(message: &str) -> Failed {
    escape::terminal_lines(message).into_owned().into()
}

/// A concluded case as a libtest outcome.
fn judge_trial(done: &CaseFinished<'_>, expectations: &Expectations) -> Result<Completion, Failed> {
    let result = &done.result;
    let plans = || {
        result
            .failing_plans
            .iter()
            .map(|p| format!("  plan {}: {}", p.plan, p.actual))
            .collect::<Vec<_>>()
            .join("\n")
    };
    match done.status {
        // A known flaky case failed, then passed; the expectations say the
        // engine flakes there: no failure of the test run, as in a CLI run.
        Status::Passed | Status::ExpectedFailure | Status::KnownFlaky => Ok(Completion::Completed),
        Status::NotApplicable => Ok(Completion::ignored_with(format!(
            "not applicable: {}",
            result.failure_summary()
        ))),
        Status::Failed => {
            let unsupported = if done.unsupported.is_empty() {
                String::new()
            } else {
                format!(
                    "\nthe engine lacks proposal(s) this case uses: {}",
                    done.unsupported.join(", ")
                )
            };
            Err(format!(
                "{}\n{}{unsupported}\nreplay: cargo test -- --exact '{}'   (or {BLESS_ENV}=1 to record it as a known failure)",
                result.failure_summary(),
                plans(),
                done.case.id
            )
            .into())
        }
        Status::Flaky => Err(format!(
            "flaky: failed, then passed on a fresh worker\n{}\n{}",
            result.failure_summary(),
            plans()
        )
        .into()),
        Status::Invalid => Err(format!(
            "invalid case: {}\n{}\nthe case's premise did not hold, so its verdict means nothing; fix the case",
            result.failure_summary(),
            plans()
        )
        .into()),
        Status::UnexpectedPass => Err(format!(
            "unexpected pass: {} lists this case as failing ({:?}); remove the entry or rerun with {BLESS_ENV}=1",
            expectations.path.display(),
            done.expectation.clone().unwrap_or_default()
        )
        .into()),
    }
}

/// Rules are checked both ways, as in a CLI run: after a run of every case
/// (no filter, no skip), a rule that covered no failure is stale. Prints
/// each and says whether there was any (the caller then fails the run).
pub fn report_stale_rules<'a>(
    args: &Arguments,
    expectations: impl IntoIterator<Item = &'a Expectations>,
) -> bool {
    if args.filter.is_some() || !args.skip.is_empty() || args.list {
        return false;
    }
    let mut any = false;
    for rule in expectations.into_iter().flat_map(|e| e.check_rules().stale) {
        eprintln!("streamconform: STALE RULE {rule}");
        any = true;
    }
    any
}

fn bless_into(
    expectations: Result<Expectations, String>,
    backend: &str,
    results: &[BlessInput],
) -> Result<(), String> {
    refuse_bless_in_ci().map_err(|e| e.to_string())?;
    let blessed = expectations?.blessed(results);
    blessed.write().map_err(|e| e.to_string())?;
    eprintln!(
        "streamconform: blessed {} known failures of {backend} into {}",
        blessed.len(),
        blessed.path.display()
    );
    Ok(())
}

/// The file an input error names, for a stable trial name.
fn error_file(message: &str) -> &str {
    message.split(':').next().unwrap_or(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::ReferenceBackend;

    fn suite_dir(name: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "streamconform-libtest-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (file, text) in files {
            std::fs::write(dir.join(file), text).unwrap();
        }
        dir
    }

    /// The reference backend's trials of the suite in `dir`, by name.
    fn trial_names(dir: PathBuf) -> Vec<String> {
        let conformance = Conformance::new(ReferenceBackend)
            .suites([SuiteSpec::Directory(dir)])
            .truncation(false);
        let (trials, _) = conformance.trials(None);
        trials.iter().map(|t| t.name().to_string()).collect()
    }

    #[test]
    fn nothing_is_dropped_silently() {
        let dir = suite_dir(
            "dropped",
            &[
                (
                    "a.wast",
                    "(module)\n(assert_malformed (module quote \"(func\") \"x\")\n",
                ),
                ("bad.wast", "(module (func i32.bogus))\n"),
            ],
        );
        let prefix = SuiteSpec::Directory(dir.clone()).name();
        let names = trial_names(dir);
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(
            names[0].starts_with("streamconform::input-error::") && names[0].ends_with("bad.wast"),
            "{names:?}"
        );
        assert_eq!(
            names[1],
            format!("{prefix}/a.wast:2"),
            "the not-applicable case is a trial too"
        );
        assert_eq!(names[2], format!("{prefix}/a.wast:1"));
    }

    #[test]
    fn hostile_file_names_and_messages_reach_libtest_escaped() {
        let dir = suite_dir(
            "hostile",
            &[(
                "erase\x1b[2K\r.wast",
                "(module (func) (export \"\\1b[2K\" (func 0)) (export \"\\1b[2K\" (func 0)))\n",
            )],
        );
        let names = trial_names(dir);
        assert_eq!(names.len(), 1, "{names:?}");
        assert!(names[0].ends_with("/erase\\x1b[2K\\r.wast:1"), "{names:?}");
        let failed = shown("duplicate export name `\x1b[2K`\n  plan whole");
        let message = failed.message().unwrap();
        assert_eq!(message, "duplicate export name `\\x1b[2K`\n  plan whole");
    }

    #[test]
    fn a_bad_expectations_file_is_a_failing_trial() {
        let dir = suite_dir("expectations", &[("a.wast", "(module)\n")]);
        let bad = dir.join("bad.toml");
        std::fs::write(
            &bad,
            "backend = \"reference\"\n[[failure]]\nreason = \"no case\"\n",
        )
        .unwrap();
        let (trials, expectations) = Conformance::new(ReferenceBackend)
            .suites([SuiteSpec::Directory(dir)])
            .truncation(false)
            .expectations(&bad)
            .trials(None);
        assert!(expectations.unwrap_err().contains("bad.toml:2"));
        assert_eq!(trials[0].name(), "streamconform::expectations");
    }

    #[test]
    fn a_listed_case_that_passes_fails_its_trial() {
        let dir = suite_dir("stale", &[("a.wast", "(module)\n")]);
        let loaded = crate::suites::load_all(
            &[SuiteSpec::Directory(dir.clone())],
            false,
            &Limits::default(),
        );
        let case = &loaded.cases[0];
        let text = format!(
            "backend = \"reference\"\n[[failure]]\ncase = \"{}\"\nreason = \"r\"\n",
            case.id
        );
        let listed = Expectations::parse(&text, &dir.join("e.toml")).unwrap();
        let backend = BackendUnderTest::with_web_api(ReferenceBackend);
        let config = RunConfig {
            plans: PlanSelection::Set(PlanSet::Reduced),
            ..RunConfig::default()
        };
        let judged = |expectations: &Expectations| {
            let result = crate::runner::run_case(&backend, case, &config.plans);
            let done = conclude(
                &backend,
                "reference",
                case,
                result,
                expectations,
                &config,
                Duration::ZERO,
            );
            judge_trial(&done, expectations)
        };
        let Err(err) = judged(&listed) else {
            panic!("a listed passing case must fail")
        };
        assert!(
            err.message().unwrap().contains("unexpected pass"),
            "{:?}",
            err.message()
        );
        assert!(judged(&Expectations::default()).is_ok());
    }
}
