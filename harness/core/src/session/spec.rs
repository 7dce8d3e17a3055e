//! A run described as data: what `streamconform run` parses its arguments
//! into, and what a journal records so that `run --resume` makes the same
//! run again.

use crate::backend::{WorkerTiming, DEFAULT_HANG_GRACE, DEFAULT_SETTLE, MAX_SETTLE};
use crate::error::Error;
use crate::plan::{parse_cuts, PlanName, PlanSet};
use crate::runner::{PlanSelection, Replay, Shard};
use crate::suites::{Limits, SuiteSpec};
use serde::{Deserialize, Serialize};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

/// The most seconds `--timeout` and `--hang-timeout` take: a week. Far
/// past any real run, and far from where clock arithmetic overflows.
pub const MAX_TIMEOUT_SECS: u64 = 7 * 24 * 60 * 60;

/// The most worker threads `--jobs` starts per backend.
pub const MAX_JOBS: usize = 1024;

/// A number given by the user: its flag, its value and what it may be.
pub struct Bounded {
    pub flag: &'static str,
    pub value: u64,
    pub allowed: RangeInclusive<u64>,
}

/// Checks each number against its range: the first one out of it is an
/// error naming its flag and the range.
pub fn check_bounds(numbers: &[Bounded]) -> Result<(), Error> {
    match numbers.iter().find(|n| !n.allowed.contains(&n.value)) {
        None => Ok(()),
        Some(n) => Err(Error::InvalidRun(format!(
            "{} {}: must be from {} to {}",
            n.flag,
            n.value,
            n.allowed.start(),
            n.allowed.end()
        ))),
    }
}

/// The clocks every command that runs cases takes, checked.
pub fn clock_bounds(hang_timeout_secs: u64, case_timeout_secs: Option<u64>) -> Vec<Bounded> {
    let mut bounds = vec![Bounded {
        flag: "--hang-timeout",
        value: hang_timeout_secs,
        allowed: 0..=MAX_TIMEOUT_SECS,
    }];
    if let Some(secs) = case_timeout_secs {
        bounds.push(Bounded {
            flag: "--timeout",
            value: secs,
            allowed: 1..=MAX_TIMEOUT_SECS,
        });
    }
    bounds
}

/// The most retries of one case: a case that fails ten times on fresh
/// workers is failing, and more would only multiply a bad night's time.
pub const MAX_RETRIES: usize = 10;

/// `--jobs`, checked (`None`: the backend's preference).
pub fn jobs_bound(jobs: Option<usize>) -> Option<Bounded> {
    jobs.map(|jobs| Bounded {
        flag: "--jobs",
        value: jobs as u64,
        allowed: 1..=MAX_JOBS as u64,
    })
}

/// The most backends `--backends-at-once` runs side by side.
pub const MAX_BACKENDS_AT_ONCE: usize = 64;

fn one() -> usize {
    1
}

/// Each backend at most once: a repeated one would run every case twice
/// under one name.
pub fn check_backends_distinct(backends: &[String]) -> Result<(), Error> {
    let mut seen = std::collections::HashSet::new();
    match backends.iter().find(|name| !seen.insert(name.as_str())) {
        None => Ok(()),
        Some(name) => Err(Error::InvalidRun(format!(
            "--backend {name} is given more than once: give each backend once"
        ))),
    }
}

/// Everything that decides what a run does and what it writes. Paths are
/// relative to the directory the run starts in (a journal records it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    /// Backend names (`reference`, `node`, `command:PROGRAM`, ...).
    pub backends: Vec<String>,
    /// `--suite` arguments: `spec`, `streaming`, `webapi`, `fuzz:SEED`, or a
    /// directory.
    pub suites: Vec<String>,
    /// Which plans each case runs under.
    pub plans: PlanChoice,
    /// The pending window of JS compiles; `None`: the backend's default.
    pub settle_ms: Option<u64>,
    /// Silence past the pending window that makes a worker hung.
    pub hang_timeout_secs: u64,
    /// Only cases whose id contains this text.
    pub filter: Option<String>,
    /// Only the cases with exactly these ids.
    pub cases: Vec<String>,
    /// Known failures, one file per backend.
    pub expectations: Vec<PathBuf>,
    /// Rewrite the expectations files from this run.
    pub bless: bool,
    /// Where the JSON report goes (written atomically; its journal beside
    /// it).
    pub report: Option<PathBuf>,
    /// Worker threads per backend; `None`: what the backend prefers.
    pub jobs: Option<usize>,
    /// Seconds one case may take.
    pub case_timeout_secs: u64,
    /// Derive the truncated-prefix cases.
    pub truncation: bool,
    /// Only this shard of the selected cases.
    pub shard: Option<Shard>,
    /// Minimize each failing case within this many compiles.
    pub minimize_attempts: Option<usize>,
    /// Runs of an unexpected failure again on fresh workers; one that
    /// passes makes the case flaky.
    #[serde(default)]
    pub retries: usize,
    /// What a flaky case counts as for the exit code.
    #[serde(default)]
    pub flaky_result: crate::verdict::FlakyResult,
    /// How many backends run side by side (journals from before it ran
    /// them one at a time).
    #[serde(default = "one")]
    pub backends_at_once: usize,
    /// What one module may cost.
    pub limits: Limits,
    /// Reports made from the JSON report when the run ends.
    pub publish: PublishSpec,
    /// How many failing cases the terminal shows in detail.
    pub show_failures: usize,
    /// No progress bars.
    pub quiet: bool,
}

impl Default for RunSpec {
    /// The command line's defaults: the reference backend on the spec
    /// suite, default plans, truncations included.
    fn default() -> RunSpec {
        RunSpec {
            backends: vec!["reference".into()],
            suites: vec!["spec".into()],
            plans: PlanChoice::Set("default".into()),
            settle_ms: None,
            hang_timeout_secs: DEFAULT_HANG_GRACE.as_secs(),
            filter: None,
            cases: Vec::new(),
            expectations: Vec::new(),
            bless: false,
            report: None,
            jobs: None,
            case_timeout_secs: 120,
            truncation: true,
            shard: None,
            minimize_attempts: None,
            retries: 0,
            flaky_result: Default::default(),
            backends_at_once: 1,
            limits: Limits::default(),
            publish: PublishSpec::default(),
            show_failures: 30,
            quiet: false,
        }
    }
}

/// Which plans a run uses, as given (checked by [`RunSpec::plan_selection`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum PlanChoice {
    /// A plan set by name (`--plans`).
    Set(String),
    /// One plan by name (`--plan`), rebuilt for each case.
    Plan(String),
    /// One plan from a cut list (`--cuts`).
    Cuts(String),
}

impl PlanChoice {
    /// The plans, checked: an unknown set or plan name, or a bad cut list,
    /// is an error before anything runs.
    pub fn selection(&self) -> Result<PlanSelection, Error> {
        Ok(match self {
            PlanChoice::Plan(name) => {
                PlanName::parse(name)?;
                PlanSelection::Named(name.clone())
            }
            PlanChoice::Cuts(cuts) => PlanSelection::Cuts(parse_cuts(cuts)?),
            PlanChoice::Set(set) => PlanSelection::Set(PlanSet::parse(set)?),
        })
    }
}

/// The clocks of out-of-process engines: the pending window (`None`: the
/// default) and the silence past it that makes a worker hung, each
/// checked against what it can be (an error names the flag and the limit).
pub fn timing(settle_ms: Option<u64>, hang_timeout_secs: u64) -> Result<WorkerTiming, Error> {
    Ok(WorkerTiming {
        settle: settle_window(settle_ms)?,
        hang_grace: Duration::from_secs(hang_timeout_secs),
    })
}

/// `--settle-ms`, checked: JS timers cannot wait longer than [`MAX_SETTLE`].
fn settle_window(settle_ms: Option<u64>) -> Result<Duration, Error> {
    let Some(ms) = settle_ms else {
        return Ok(DEFAULT_SETTLE);
    };
    let window = Duration::from_millis(ms);
    if window > MAX_SETTLE {
        return Err(Error::InvalidRun(format!(
            "--settle-ms {ms} is over the limit of {} ms (the longest delay a JS timer accepts)",
            MAX_SETTLE.as_millis()
        )));
    }
    Ok(window)
}

/// Reports made from the JSON report (paths; all optional).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishSpec {
    /// JUnit XML.
    pub junit: Option<PathBuf>,
    /// wptreport JSON.
    pub wptreport: Option<PathBuf>,
    /// A Markdown summary.
    pub markdown: Option<PathBuf>,
    /// An HTML site, into this directory.
    pub html: Option<PathBuf>,
    /// A history directory kept across nights.
    pub history: Option<PathBuf>,
    /// Nights over which the site lists regressions and fixes, besides
    /// since the night before (the site's default when not given).
    #[serde(default)]
    pub history_window: Option<usize>,
    /// Exit 1 when a case regressed since the previous night.
    pub fail_on_regression: bool,
}

impl PublishSpec {
    /// Whether any output is asked for.
    pub fn any(&self) -> bool {
        [
            &self.junit,
            &self.wptreport,
            &self.markdown,
            &self.html,
            &self.history,
        ]
        .iter()
        .any(|o| o.is_some())
    }
}

impl RunSpec {
    /// Checks what needs no file: numbers within their bounds, each
    /// backend once.
    pub fn validate(&self) -> Result<(), Error> {
        let mut bounds = clock_bounds(self.hang_timeout_secs, Some(self.case_timeout_secs));
        bounds.extend(jobs_bound(self.jobs));
        bounds.push(Bounded {
            flag: "--retries",
            value: self.retries as u64,
            allowed: 0..=MAX_RETRIES as u64,
        });
        bounds.push(Bounded {
            flag: "--backends-at-once",
            value: self.backends_at_once as u64,
            allowed: 1..=MAX_BACKENDS_AT_ONCE as u64,
        });
        check_bounds(&bounds)?;
        check_backends_distinct(&self.backends)
    }

    /// The suites, parsed.
    pub fn suite_specs(&self) -> Result<Vec<SuiteSpec>, Error> {
        SuiteSpec::parse_all(&self.suites)
    }

    /// The plans, checked (see [`PlanChoice::selection`]).
    pub fn plan_selection(&self) -> Result<PlanSelection, Error> {
        self.plans.selection()
    }

    /// The clocks of out-of-process engines, checked (see [`timing`]).
    pub fn timing(&self) -> Result<WorkerTiming, Error> {
        timing(self.settle_ms, self.hang_timeout_secs)
    }

    /// How replay lines are built: this executable, this directory, and the
    /// options that decide pending and timeout outcomes and which cases
    /// exist.
    pub fn replay_here(&self) -> Replay {
        Replay::here(outcome_options(
            self.settle_ms,
            self.hang_timeout_secs,
            &self.limits,
        ))
    }
}

/// The options a replay line needs beyond the case and plan: those that
/// change pending and timeout outcomes, and limits other than the default
/// (with other limits, a case may not exist: a module over the default
/// size, a truncation offset the default cap leaves out).
pub fn outcome_options(
    settle_ms: Option<u64>,
    hang_timeout_secs: u64,
    limits: &Limits,
) -> Vec<String> {
    let mut options = Vec::new();
    if let Some(ms) = settle_ms {
        options.extend(["--settle-ms".into(), ms.to_string()]);
    }
    if hang_timeout_secs != DEFAULT_HANG_GRACE.as_secs() {
        options.extend(["--hang-timeout".into(), hang_timeout_secs.to_string()]);
    }
    let default = Limits::default();
    if limits.max_module_bytes != default.max_module_bytes {
        options.extend([
            "--max-module-bytes".into(),
            limits.max_module_bytes.to_string(),
        ]);
    }
    if limits.max_truncations_per_module != default.max_truncations_per_module {
        options.extend([
            "--max-truncations-per-module".into(),
            limits.max_truncations_per_module.to_string(),
        ]);
    }
    if limits.files_outside_suite {
        options.push("--allow-files-outside-suite".into());
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_survives_its_journal_form() {
        let spec = RunSpec {
            backends: vec!["node".into(), "command:./engine".into()],
            plans: PlanChoice::Cuts("8,9".into()),
            shard: Some("2/3".parse().unwrap()),
            minimize_attempts: Some(40),
            publish: PublishSpec {
                html: Some("site".into()),
                fail_on_regression: true,
                ..PublishSpec::default()
            },
            ..RunSpec::default()
        };
        let text = serde_json::to_string(&spec).unwrap();
        assert_eq!(serde_json::from_str::<RunSpec>(&text).unwrap(), spec);
        let unknown = text.replacen('{', "{\"retries\":2,", 1);
        assert!(serde_json::from_str::<RunSpec>(&unknown).is_err());
    }

    #[test]
    fn replay_options_name_only_what_differs_from_the_defaults() {
        assert!(outcome_options(None, DEFAULT_HANG_GRACE.as_secs(), &Limits::default()).is_empty());
        let limits = Limits {
            max_module_bytes: 10,
            ..Limits::default()
        };
        assert_eq!(
            outcome_options(Some(0), 5, &limits),
            [
                "--settle-ms",
                "0",
                "--hang-timeout",
                "5",
                "--max-module-bytes",
                "10"
            ]
        );
    }
}
