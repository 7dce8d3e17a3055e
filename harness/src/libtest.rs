//! Running the harness from `cargo test`: one libtest-mimic trial per case,
//! named by its id, so `cargo test -- FILTER`, `--list`, `--exact` and
//! nextest all work as usual.
//!
//! Not-applicable cases are ignored trials; a file that could not be read
//! and an expectations file that does not parse are failing trials, so
//! nothing is skipped silently.

use crate::backend::Backend;
use crate::case::Case;
use crate::expectations::{refuse_bless_in_ci, Expectations};
use crate::plan::PlanSet;
use crate::runner::{run_case_with_timeout, CaseResult, PlanSelection};
use crate::suites::{load_all, SuiteSpec};
use crate::verdict::Status;
use libtest_mimic::{Arguments, Failed, Trial};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Environment variable that makes a `cargo test` run rewrite the
/// expectations file from its results (refused when `CI` is set).
pub const BLESS_ENV: &str = "STREAMCONFORM_BLESS";

/// A conformance run of one in-process backend, as a libtest harness.
pub struct Conformance {
    backend: Arc<dyn Backend>,
    suites: Vec<SuiteSpec>,
    plans: PlanSelection,
    expectations: Option<PathBuf>,
    truncation: bool,
    timeout: Duration,
}

impl Conformance {
    /// Spec and streaming suites, default plans, truncation cases, no
    /// expectations file.
    pub fn new(backend: impl Backend + 'static) -> Conformance {
        Conformance {
            backend: Arc::new(backend),
            suites: vec![SuiteSpec::Spec, SuiteSpec::Streaming],
            plans: PlanSelection::Set(PlanSet::Default),
            expectations: None,
            truncation: true,
            timeout: Duration::from_secs(120),
        }
    }

    pub fn suites(mut self, suites: impl IntoIterator<Item = SuiteSpec>) -> Self {
        self.suites = suites.into_iter().collect();
        self
    }

    pub fn plans(mut self, set: PlanSet) -> Self {
        self.plans = PlanSelection::Set(set);
        self
    }

    /// The backend's known failures. A missing file counts as empty (so a
    /// first `STREAMCONFORM_BLESS=1 cargo test` can create it).
    pub fn expectations(mut self, path: impl AsRef<Path>) -> Self {
        self.expectations = Some(path.as_ref().to_path_buf());
        self
    }

    pub fn truncation(mut self, enabled: bool) -> Self {
        self.truncation = enabled;
        self
    }

    pub fn case_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Parses the test binary's arguments, runs, and exits the process.
    pub fn run_as_test_harness(self) -> ! {
        let args = Arguments::from_args();
        let bless = std::env::var_os(BLESS_ENV).is_some_and(|v| v != "0");
        let recorder = Arc::new(Mutex::new(Vec::new()));
        let (trials, expectations) = self.trials(bless.then(|| recorder.clone()));
        let conclusion = libtest_mimic::run(&args, trials);
        if bless {
            if self.expectations.is_none() {
                eprintln!(
                    "streamconform: {BLESS_ENV} needs a file: call Conformance::expectations(PATH)"
                );
                std::process::exit(101);
            }
            if let Err(e) = bless_into(
                expectations,
                &self.backend.info().name,
                &recorder.lock().unwrap(),
            ) {
                eprintln!("streamconform: {e}");
                std::process::exit(101);
            }
        }
        conclusion.exit()
    }

    /// The trials, and the expectations they were judged against. With a
    /// recorder, every case's raw result is also pushed there (for bless).
    pub fn trials(
        &self,
        recorder: Option<Arc<Mutex<Vec<CaseResult>>>>,
    ) -> (Vec<Trial>, Result<Expectations, String>) {
        let mut trials = Vec::new();
        let expectations = match &self.expectations {
            None => Ok(Expectations::empty(
                &self.backend.info().name,
                Path::new("expectations.toml"),
            )),
            Some(path) if !path.exists() => {
                Ok(Expectations::empty(&self.backend.info().name, path))
            }
            Some(path) => Expectations::load(path).map_err(|e| e.to_string()),
        };
        let judged_against = match &expectations {
            Ok(e) => Arc::new(e.clone()),
            Err(message) => {
                let message = message.clone();
                trials.push(Trial::test("streamconform::expectations", move || {
                    Err(message.into())
                }));
                Arc::new(Expectations::default())
            }
        };
        let loaded = load_all(&self.suites, self.truncation);
        for error in loaded.errors {
            let message = error.to_string();
            trials.push(Trial::test(
                format!("streamconform::input-error::{}", error_file(&message)),
                move || Err(message.into()),
            ));
        }
        for na in loaded.not_applicable {
            trials.push(Trial::test(na.id, || Ok(())).with_ignored_flag(true));
        }
        for case in loaded.cases {
            let (backend, plans, timeout) =
                (self.backend.clone(), self.plans.clone(), self.timeout);
            let (expectations, recorder) = (judged_against.clone(), recorder.clone());
            let name = case.id.clone();
            trials.push(Trial::test(name, move || {
                let result = run_case_with_timeout(backend, &case, &plans, timeout);
                let outcome = judge_trial(&case, &result, &expectations);
                if let Some(recorder) = recorder {
                    recorder.lock().unwrap().push(result);
                }
                outcome
            }));
        }
        (trials, expectations)
    }
}

fn judge_trial(
    case: &Case,
    result: &CaseResult,
    expectations: &Expectations,
) -> Result<(), Failed> {
    let reason = expectations.reason(&case.id);
    match Status::from_verdict(result.verdict, reason.is_some()) {
        Status::Passed | Status::ExpectedFailure => Ok(()),
        Status::Failed => Err(format!(
            "{}\n{}\nreplay: cargo test -- --exact '{}'   (or {BLESS_ENV}=1 to record it as a known failure)",
            result.failure_summary(),
            result
                .failing_plans
                .iter()
                .map(|p| format!("  plan {}: {}", p.plan, p.actual))
                .collect::<Vec<_>>()
                .join("\n"),
            case.id
        )
        .into()),
        Status::UnexpectedPass => Err(format!(
            "unexpected pass: {} lists this case as failing ({:?}); remove the entry or rerun with {BLESS_ENV}=1",
            expectations.path.display(),
            reason.unwrap_or_default()
        )
        .into()),
    }
}

fn bless_into(
    expectations: Result<Expectations, String>,
    backend: &str,
    results: &[CaseResult],
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
