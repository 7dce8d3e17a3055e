//! `minimize` as a workflow: find the case, run it once on its backend,
//! take its first failing plan (or the one given) and shrink it, with the
//! replay line of what is left. The CLI prints the result and exports a
//! reproducer from it.

use super::{load_for_cases, outcome_options, BackendRegistry, PlanChoice};
use crate::backend::DEFAULT_HANG_GRACE;
use crate::case::Case;
use crate::error::Error;
use crate::outcome::Outcome;
use crate::runner::minimize::{minimize_with_one_shot, MinimizeOptions, DEFAULT_MAX_ATTEMPTS};
use crate::runner::{run_case, PlanSelection, Replay};
use crate::suites::{Limits, SuiteSpec};
use crate::verdict::{CaseResult, Minimized, PlanFailure, Verdict};
use serde::{Deserialize, Serialize};

/// What to minimize, as data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinimizeSpec {
    /// The case id, as `run` prints it.
    pub case: String,
    /// The backend the case fails on.
    pub backend: String,
    /// The suites the case is in.
    pub suites: Vec<String>,
    /// The failing plan to start from, or the set searched for one.
    pub plans: PlanChoice,
    /// The most compiles minimization may spend.
    pub max_attempts: usize,
    /// The pending window of JS compiles; `None`: the default.
    pub settle_ms: Option<u64>,
    /// Silence past the pending window that makes a worker hung.
    pub hang_timeout_secs: u64,
    /// What one module may cost (a case may exist only under other limits).
    pub limits: Limits,
}

impl Default for MinimizeSpec {
    fn default() -> MinimizeSpec {
        MinimizeSpec {
            case: String::new(),
            backend: "reference".into(),
            suites: vec!["spec".into()],
            plans: PlanChoice::Set("default".into()),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            settle_ms: None,
            hang_timeout_secs: DEFAULT_HANG_GRACE.as_secs(),
            limits: Limits::default(),
        }
    }
}

/// What minimizing found.
pub struct MinimizeSession {
    /// The case.
    pub case: Case,
    /// The backend's name and version.
    pub backend: (String, String),
    /// The plans the case ran under (`--plan NAME`, `--cuts ...`, `--plans SET`).
    pub plans: String,
    /// Its result under them.
    pub result: CaseResult,
    /// The failing plan minimization started from, and what came of it; or
    /// `None` when the case does not fail.
    pub failure: Option<(PlanFailure, Result<Minimized, Error>)>,
    /// How replay lines are built in this process.
    pub replay: Replay,
}

impl MinimizeSession {
    /// The one-shot outcome class, `-` when there is none.
    pub fn one_shot(&self) -> String {
        self.result
            .one_shot
            .as_ref()
            .map_or("-".into(), |o: &Outcome| o.class().to_string())
    }

    /// The replay line of the minimized cut list.
    pub fn replay_line(&self, minimized: &Minimized) -> String {
        self.replay.run_line(
            &self.backend.0,
            &self.case,
            &PlanSelection::Cuts(minimized.cuts.clone()).argument(),
        )
    }
}

/// Runs the workflow. `refuse` is asked about the case before any compile
/// (the CLI refuses exporting Web API cases), and may stop it with its
/// error.
pub fn minimize_case(
    spec: &MinimizeSpec,
    registry: &dyn BackendRegistry,
    refuse: impl Fn(&Case) -> Option<String>,
) -> Result<MinimizeSession, Error> {
    let invalid = |message: String| Err(Error::InvalidRun(message));
    super::check_bounds(&super::clock_bounds(spec.hang_timeout_secs, None))?;
    let suites = SuiteSpec::parse_all(&spec.suites)?;
    let selection = spec.plans.selection()?;
    let timing = super::timing(spec.settle_ms, spec.hang_timeout_secs)?;
    let backend = registry.backend(&spec.backend, timing)?;
    // Truncated prefixes are cases too (their ids end in `/truncated@N`).
    let loaded = load_for_cases(
        &suites,
        true,
        &spec.limits,
        std::slice::from_ref(&spec.case),
    );
    let Some(case) = loaded.cases.into_iter().find(|c| c.id == spec.case) else {
        let errors = loaded
            .errors
            .iter()
            .map(|e| format!("\n  input error: {e}"))
            .collect::<String>();
        return invalid(format!(
            "no case has the id {:?} in suites {:?} (`streamconform list --suite ...` lists them){errors}",
            spec.case, spec.suites
        ));
    };
    if let Some(why) = refuse(&case) {
        return invalid(why);
    }
    let info = backend.info();
    if let Err(message) = backend.engine.ready() {
        return invalid(format!("backend {} is unavailable: {message}", info.name));
    }
    let result = run_case(&backend, &case, &selection);
    if let Some(why) = &result.aborted {
        if result.verdict != Verdict::Invalid {
            return invalid(format!("{}: {why}", case.id));
        }
    }
    let failure = match (result.verdict, result.failing_plans.first()) {
        (Verdict::Fail, Some(first)) => {
            let options = MinimizeOptions {
                max_attempts: spec.max_attempts,
            };
            let minimized =
                minimize_with_one_shot(&backend, &case, first, result.one_shot.as_ref(), &options);
            Some((first.clone(), minimized))
        }
        _ => None,
    };
    Ok(MinimizeSession {
        backend: (info.name, info.version),
        plans: selection.argument(),
        replay: Replay::here(outcome_options(
            spec.settle_ms,
            spec.hang_timeout_secs,
            &spec.limits,
        )),
        case,
        result,
        failure,
    })
}
