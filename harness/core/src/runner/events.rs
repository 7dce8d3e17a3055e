//! What a run tells its consumers, as it happens.
//!
//! The runner emits [`RunEvent`]s in a fixed order: `RunStarted`, the
//! load-time `InputError`s and `NotApplicable`s, one `CaseFinished` per
//! (backend, case) in case order, then `RunFinished`. Every output (the
//! summary table, the JSON report, bless, later JUnit, HTML, a progress
//! bar) is a [`Reporter`]; adding one never touches the runner.

use crate::backend::{BackendInfo, ProposalSupport};
use crate::case::{Case, NotApplicable};
use crate::expectations::{BlessInput, ExpectationTally};
use crate::runner::shard::Shard;
use crate::verdict::{CaseResult, FlakyResult, Status};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Who ran what, where and when: the first event of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunInfo {
    pub tool_version: String,
    /// RFC 3339, UTC, seconds.
    pub started_at: String,
    pub host: String,
    /// The commit the run's checkout was at (`STREAMCONFORM_REVISION`, else
    /// `GITHUB_SHA`, else `git rev-parse HEAD`), if known: nights are kept
    /// by date and commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// The `--suite` arguments that load these suites again.
    pub suites: Vec<String>,
    /// The plan selection, as command-line arguments (`--plans default`).
    pub plans: String,
    /// Cases loaded (each runs on every backend); in a shard, the shard's.
    pub cases: usize,
    /// The slice of the cases this run ran (`run --shard K/N`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    pub backends: Vec<BackendInfo>,
    /// Per backend that knows: proposals it has only behind a switch (and
    /// the switch used), and proposals it lacks even so.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub proposal_support: BTreeMap<String, ProposalSupport>,
    /// Retries of each unexpected failure, on fresh workers (`--retries`).
    #[serde(default)]
    pub retries: usize,
    /// What a flaky case counts as (`--flaky-result`).
    #[serde(default)]
    pub flaky_result: FlakyResult,
}

/// One case on one backend, judged and with its expectation applied.
#[derive(Clone, Debug)]
pub struct CaseFinished<'a> {
    pub backend: &'a str,
    pub case: &'a Case,
    pub result: CaseResult,
    pub status: Status,
    /// Why the expectations file lists this case (entry, rule, or the
    /// parent a truncation case inherits from), if it does.
    pub expectation: Option<String>,
    /// Proposals the case needs that the backend lacks even with its
    /// switches (set only on failing cases).
    pub unsupported: Vec<String>,
    pub duration: Duration,
    /// A command that replays the first failing plan.
    pub repro: Option<String>,
    /// A command that replays the minimized cut list (`result.minimized`).
    pub minimized_repro: Option<String>,
    /// Taken from an earlier run of the same options (`run --resume`),
    /// not run again.
    pub replayed: bool,
    /// In a shard, the case's position among the cases the unsharded run
    /// would have: what puts merged shards back in order.
    pub case_index: Option<usize>,
}

impl From<&CaseFinished<'_>> for BlessInput {
    fn from(done: &CaseFinished<'_>) -> BlessInput {
        BlessInput {
            id: done.result.id.clone(),
            verdict: done.result.verdict,
            covered: done.status == Status::ExpectedFailure,
            unsupported: done.unsupported.clone(),
            summary: done.result.failure_summary(),
            crashed: done.result.crashed(),
        }
    }
}

/// The last event: what the run as a whole concluded.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunFinished {
    pub elapsed_secs: f64,
    /// (backend, case) pairs judged.
    pub cases_run: usize,
    /// Failures, unexpected passes and invalid cases (and flaky cases,
    /// unless they count as passing).
    pub unexpected: usize,
    /// Rules that matched cases of this run but no failing one (only
    /// checked when no filter narrowed the run); each fails the run.
    pub stale_rules: Vec<String>,
    /// Expectation entries and rules that matched no case of this run.
    pub expectations_not_run: Vec<String>,
    pub input_errors: usize,
    /// Backends that could not start or speak their protocol: environment
    /// errors, with no case recorded for them.
    #[serde(default)]
    pub setup_errors: Vec<String>,
    /// The run was stopped (SIGINT) before every case ran; the results are
    /// those of the cases that finished.
    #[serde(default)]
    pub interrupted: bool,
    /// A shard's matches per expectations entry and rule (backend order,
    /// then file order). A shard sees part of the cases, so it leaves
    /// `stale_rules` and `expectations_not_run` empty and records these;
    /// `report merge` judges them over all shards.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expectation_tallies: Vec<ExpectationTally>,
}

impl RunFinished {
    /// 0: nothing unexpected; 1: a failure, unexpected pass, invalid case
    /// or stale rule; 2: bad input, a backend that could not start, or
    /// nothing ran at all; 130: interrupted.
    pub fn exit_code(&self) -> i32 {
        if self.interrupted {
            130
        } else if self.input_errors > 0 || !self.setup_errors.is_empty() || self.cases_run == 0 {
            2
        } else if self.unexpected > 0 || !self.stale_rules.is_empty() {
            1
        } else {
            0
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub enum RunEvent<'a> {
    RunStarted(&'a RunInfo),
    /// A file or case that could not be read; it costs only itself.
    InputError(&'a str),
    /// A case found but not streamable (text-only, component model):
    /// counted for every backend, never silently dropped.
    NotApplicable(&'a NotApplicable),
    /// A backend that cannot run (its engine does not start, handshake or
    /// speak the protocol): reported once; none of its cases run.
    SetupError {
        backend: &'a str,
        message: &'a str,
    },
    CaseFinished(&'a CaseFinished<'a>),
    RunFinished(&'a RunFinished),
}

/// A consumer of run events.
pub trait Reporter {
    fn report(&mut self, event: &RunEvent<'_>) -> std::io::Result<()>;
}

/// Seconds since the epoch as RFC 3339 (UTC).
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// The machine's host name, for run info.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// The commit of the checkout the run comes from, if known.
pub fn revision() -> Option<String> {
    let given = ["STREAMCONFORM_REVISION", "GITHUB_SHA"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()));
    given
        .or_else(|| {
            let out = std::process::Command::new("git")
                .args(["rev-parse", "HEAD"])
                .stderr(std::process::Stdio::null())
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
        })
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}
