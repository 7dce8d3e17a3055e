//! Counts per (backend, suite, group), and the table printed at the end
//! of a run. A reporter of its own, and a part of others.

use crate::case::NotApplicable;
use crate::runner::{Reporter, RunEvent};
use crate::verdict::Status;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryRow {
    pub backend: String,
    pub suite: String,
    pub group: String,
    pub cases: usize,
    pub passed: usize,
    pub failed: usize,
    pub expected_failures: usize,
    pub unexpected_passes: usize,
    /// Failures of cases whose module uses a proposal the backend lacks
    /// (listed in its expectations); apart from deviations.
    pub unsupported: usize,
    /// Cases whose premise did not hold.
    pub invalid: usize,
    /// Unexpected failures a retry passed (`run --retries`).
    #[serde(default)]
    pub flaky: usize,
    pub not_applicable: usize,
}

impl SummaryRow {
    /// Adds `other`'s counts of judged cases (all but `not_applicable`).
    pub fn add_judged(&mut self, other: &SummaryRow) {
        self.cases += other.cases;
        self.passed += other.passed;
        self.failed += other.failed;
        self.expected_failures += other.expected_failures;
        self.unexpected_passes += other.unexpected_passes;
        self.unsupported += other.unsupported;
        self.invalid += other.invalid;
        self.flaky += other.flaky;
    }

    /// Adds all of `other`'s counts to this row's (for totals).
    pub fn add_counts(&mut self, other: &SummaryRow) {
        self.add_judged(other);
        self.not_applicable += other.not_applicable;
    }
}

type RowKey = (String, String, String);

fn row_mut<'a>(
    rows: &'a mut BTreeMap<RowKey, SummaryRow>,
    backend: &str,
    suite: &str,
    group: &str,
) -> &'a mut SummaryRow {
    rows.entry((backend.to_string(), suite.to_string(), group.to_string()))
        .or_insert_with(|| SummaryRow {
            backend: backend.into(),
            suite: suite.into(),
            group: group.into(),
            ..SummaryRow::default()
        })
}

/// Counts per (backend, suite, group), in a stable order.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    rows: BTreeMap<RowKey, SummaryRow>,
    backends: Vec<String>,
}

impl Summary {
    /// Counts for these backends (as the run lists them), none yet.
    pub fn for_backends(backends: Vec<String>) -> Summary {
        Summary {
            rows: BTreeMap::new(),
            backends,
        }
    }

    /// A case found not applicable when loading: one for every backend.
    pub fn add_not_applicable(&mut self, na: &NotApplicable) {
        for b in &self.backends {
            row_mut(&mut self.rows, b, &na.suite, &na.group).not_applicable += 1;
        }
    }

    /// One judged (backend, case); `unsupported`: the case uses proposals
    /// the backend lacks.
    pub fn add_result(
        &mut self,
        backend: &str,
        suite: &str,
        group: &str,
        status: Status,
        unsupported: bool,
    ) {
        let entry = row_mut(&mut self.rows, backend, suite, group);
        entry.cases += 1;
        match status {
            Status::Passed => entry.passed += 1,
            Status::Failed => entry.failed += 1,
            Status::ExpectedFailure if unsupported => entry.unsupported += 1,
            Status::ExpectedFailure => entry.expected_failures += 1,
            Status::UnexpectedPass => entry.unexpected_passes += 1,
            Status::Invalid => entry.invalid += 1,
            // Known or not: the column counts what flaked.
            Status::Flaky | Status::KnownFlaky => entry.flaky += 1,
            Status::NotApplicable => {
                entry.cases -= 1;
                entry.not_applicable += 1;
            }
        }
    }

    pub fn rows(&self) -> Vec<SummaryRow> {
        self.rows.values().cloned().collect()
    }

    pub fn table(&self) -> String {
        format_summary(&self.rows())
    }
}

impl Reporter for Summary {
    fn report(&mut self, event: &RunEvent<'_>) -> std::io::Result<()> {
        match event {
            RunEvent::RunStarted(info) => {
                self.backends = info.backends.iter().map(|b| b.name.clone()).collect();
            }
            RunEvent::NotApplicable(na) => self.add_not_applicable(na),
            RunEvent::CaseFinished(done) => self.add_result(
                done.backend,
                &done.case.suite,
                &done.case.group,
                done.status,
                !done.unsupported.is_empty(),
            ),
            RunEvent::InputError(_) | RunEvent::SetupError { .. } | RunEvent::RunFinished(_) => {}
        }
        Ok(())
    }
}

/// The table printed at the end of a run, with a total line per backend.
pub fn format_summary(rows: &[SummaryRow]) -> String {
    let header = [
        "backend", "suite", "group", "cases", "passed", "failed", "xfail", "unsup", "xpass",
        "invalid", "n/a", "flaky",
    ];
    let mut lines: Vec<[String; 12]> = Vec::new();
    let mut totals: BTreeMap<&str, SummaryRow> = BTreeMap::new();
    for r in rows {
        lines.push(cells(r, &r.suite, &r.group));
        let t = totals.entry(&r.backend).or_insert_with(|| SummaryRow {
            backend: r.backend.clone(),
            ..Default::default()
        });
        t.add_counts(r);
    }
    for t in totals.values() {
        lines.push(cells(t, "TOTAL", ""));
    }
    let mut widths = header.map(str::len);
    for line in &lines {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let mut emit = |cells: &[String]| {
        let row: Vec<String> = cells
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i < 3 {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect();
        let _ = writeln!(out, "{}", row.join("  ").trim_end());
    };
    emit(&header.map(String::from));
    for line in &lines {
        emit(line);
    }
    out
}

fn cells(r: &SummaryRow, suite: &str, group: &str) -> [String; 12] {
    [
        r.backend.clone(),
        suite.to_string(),
        group.to_string(),
        r.cases.to_string(),
        r.passed.to_string(),
        r.failed.to_string(),
        r.expected_failures.to_string(),
        r.unsupported.to_string(),
        r.unexpected_passes.to_string(),
        r.invalid.to_string(),
        r.not_applicable.to_string(),
        r.flaky.to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::BackendInfo;
    use crate::case::{Case, CaseOrigin, NotApplicable};
    use crate::features::Features;
    use crate::outcome::OutcomeClass;
    use crate::runner::{CaseFinished, RunInfo};
    use crate::verdict::CaseResult;
    use std::sync::Arc;
    use std::time::Duration;

    fn case(group: &str) -> Case {
        Case {
            id: format!("spec/{group}/x.wast:1"),
            suite: "spec".into(),
            group: group.into(),
            origin: CaseOrigin::Directive,
            bytes: Vec::new().into(),
            expected: OutcomeClass::Module.into(),
            features: Arc::new(Features::baseline()),
            scenario: None,
            function: Default::default(),
            imports: Default::default(),
        }
    }

    #[test]
    fn summary_counts_per_group_and_totals() {
        let mut summary = Summary::default();
        let info = RunInfo {
            tool_version: "t".into(),
            started_at: "now".into(),
            host: "h".into(),
            revision: None,
            suites: vec![],
            plans: String::new(),
            cases: 2,
            shard: None,
            proposal_support: Default::default(),
            retries: 0,
            flaky_result: Default::default(),
            backends: vec![BackendInfo {
                name: "reference".into(),
                version: "v".into(),
            }],
        };
        summary.report(&RunEvent::RunStarted(&info)).unwrap();
        summary
            .report(&RunEvent::NotApplicable(&NotApplicable {
                id: "n".into(),
                suite: "spec".into(),
                group: "gc".into(),
                reason: "text".into(),
            }))
            .unwrap();
        let (gc, simd) = (case("gc"), case("simd"));
        let outcomes = [
            (&gc, Status::Passed, vec![]),
            (&gc, Status::ExpectedFailure, vec![]),
            (&gc, Status::ExpectedFailure, vec!["gc".to_string()]),
            (&simd, Status::Failed, vec![]),
            (&simd, Status::UnexpectedPass, vec![]),
            (&simd, Status::Invalid, vec![]),
        ];
        for (case, status, unsupported) in outcomes {
            let done = CaseFinished {
                backend: "reference",
                case,
                result: CaseResult::aborted(case, String::new()),
                status,
                expectation: None,
                unsupported,
                duration: Duration::ZERO,
                repro: None,
                minimized_repro: None,
                replayed: false,
                case_index: None,
            };
            summary.report(&RunEvent::CaseFinished(&done)).unwrap();
        }
        let rows = summary.rows();
        assert_eq!(rows.len(), 2);
        let r = &rows[0];
        assert_eq!(
            (
                r.cases,
                r.passed,
                r.expected_failures,
                r.unsupported,
                r.not_applicable
            ),
            (3, 1, 1, 1, 1)
        );
        let r = &rows[1];
        assert_eq!((r.failed, r.unexpected_passes, r.invalid), (1, 1, 1));
        let table = summary.table();
        let total = table.lines().last().unwrap();
        assert!(
            total.split_whitespace().eq([
                "reference",
                "TOTAL",
                "6",
                "1",
                "1",
                "1",
                "1",
                "1",
                "1",
                "1",
                "0"
            ]),
            "{table}"
        );
    }
}
