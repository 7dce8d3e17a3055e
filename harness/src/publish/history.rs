//! Nights' reports kept in a directory, by date and commit, and what
//! changed between the last two.

use super::PublishError;
use crate::reporter::json::Report;
use std::path::{Path, PathBuf};

/// The nights of a history directory, oldest first.
#[derive(Clone, Debug)]
pub struct History {
    pub dir: PathBuf,
    pub nights: Vec<Night>,
}

/// One night: its report file and its pass rates.
#[derive(Clone, Debug)]
pub struct Night {
    pub path: PathBuf,
    /// `run.started_at` of its report.
    pub started_at: String,
    pub revision: Option<String>,
    /// Per backend: (passed, judged).
    pub pass_rates: Vec<(String, usize, usize)>,
}

/// Cases whose status changed from one night to the next, per backend.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub previous: String,
    pub latest: String,
    /// Passed (or an expected failure) then, failing now.
    pub regressed: Vec<Change>,
    /// Failing then, passing now.
    pub fixed: Vec<Change>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub backend: String,
    pub id: String,
    pub before: crate::verdict::Status,
    pub after: crate::verdict::Status,
}

impl History {
    /// Adds `report` to the history in `dir` (created if missing) and
    /// reads every night kept there.
    pub fn add(dir: &Path, report: &Report) -> Result<History, PublishError> {
        let _ = (dir, report);
        todo!("issue 10: history")
    }

    /// What changed between the last two nights, if there are two.
    pub fn changes(&self) -> Option<Changes> {
        todo!("issue 10: regressions")
    }
}
