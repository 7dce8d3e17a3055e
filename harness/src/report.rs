//! Run reports: the versioned JSON document (schema in `reports/SCHEMA.md`)
//! and the per-suite summary table printed at the end of a run.

use crate::backend::BackendInfo;
use crate::case::NotApplicable;
use crate::outcome::{Outcome, OutcomeClass};
use crate::runner::PlanFailure;
use crate::verdict::{Status, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

pub const SCHEMA: &str = "streamconform-report";
/// Bump on any change a consumer could notice; document it in SCHEMA.md.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub schema: String,
    pub schema_version: u32,
    pub tool_version: String,
    /// The `--plans` set, or the single plan or cut list replayed.
    pub plans: String,
    pub suites: Vec<String>,
    pub backends: Vec<BackendInfo>,
    pub summary: Vec<SummaryRow>,
    /// Files that could not be read; each cost that file only.
    pub input_errors: Vec<String>,
    /// Expectation entries whose case was not in this run.
    pub expectations_not_run: Vec<String>,
    pub not_applicable: Vec<NotApplicable>,
    pub results: Vec<ReportedCase>,
}

/// One (case, backend).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportedCase {
    pub id: String,
    pub backend: String,
    pub suite: String,
    pub group: String,
    pub expected: OutcomeClass,
    pub verdict: Verdict,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub expectation_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub one_shot: Option<Outcome>,
    pub plans_run: usize,
    pub failing_plans_total: usize,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub failing_plans: Vec<PlanFailure>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub aborted: Option<String>,
    /// A command that replays the first failing plan.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub repro: Option<String>,
}

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
    pub not_applicable: usize,
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
pub fn summarize(
    results: &[ReportedCase],
    not_applicable: &[NotApplicable],
    backends: &[BackendInfo],
) -> Vec<SummaryRow> {
    let mut rows = BTreeMap::new();
    for r in results {
        let entry = row_mut(&mut rows, &r.backend, &r.suite, &r.group);
        entry.cases += 1;
        match r.status {
            Status::Passed => entry.passed += 1,
            Status::Failed => entry.failed += 1,
            Status::ExpectedFailure => entry.expected_failures += 1,
            Status::UnexpectedPass => entry.unexpected_passes += 1,
            Status::NotApplicable => {
                entry.cases -= 1;
                entry.not_applicable += 1;
            }
        }
    }
    for na in not_applicable {
        for b in backends {
            row_mut(&mut rows, &b.name, &na.suite, &na.group).not_applicable += 1;
        }
    }
    rows.into_values().collect()
}

/// The table printed at the end of a run, with a total line per backend.
pub fn format_summary(rows: &[SummaryRow]) -> String {
    let header = [
        "backend", "suite", "group", "cases", "passed", "failed", "xfail", "xpass", "n/a",
    ];
    let mut lines: Vec<[String; 9]> = Vec::new();
    let mut totals: BTreeMap<&str, SummaryRow> = BTreeMap::new();
    for r in rows {
        lines.push(cells(r, &r.suite, &r.group));
        let t = totals.entry(&r.backend).or_insert_with(|| SummaryRow {
            backend: r.backend.clone(),
            ..Default::default()
        });
        t.cases += r.cases;
        t.passed += r.passed;
        t.failed += r.failed;
        t.expected_failures += r.expected_failures;
        t.unexpected_passes += r.unexpected_passes;
        t.not_applicable += r.not_applicable;
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

fn cells(r: &SummaryRow, suite: &str, group: &str) -> [String; 9] {
    [
        r.backend.clone(),
        suite.to_string(),
        group.to_string(),
        r.cases.to_string(),
        r.passed.to_string(),
        r.failed.to_string(),
        r.expected_failures.to_string(),
        r.unexpected_passes.to_string(),
        r.not_applicable.to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reported(group: &str, status: Status) -> ReportedCase {
        ReportedCase {
            id: format!("spec/{group}/x.wast:1"),
            backend: "reference".into(),
            suite: "spec".into(),
            group: group.into(),
            expected: OutcomeClass::Module,
            verdict: Verdict::Pass,
            status,
            expectation_reason: None,
            one_shot: None,
            plans_run: 1,
            failing_plans_total: 0,
            failing_plans: vec![],
            aborted: None,
            repro: None,
        }
    }

    #[test]
    fn summary_counts_per_group_and_totals() {
        let results = [
            reported("gc", Status::Passed),
            reported("gc", Status::ExpectedFailure),
            reported("simd", Status::Failed),
            reported("simd", Status::UnexpectedPass),
        ];
        let na = [NotApplicable {
            id: "n".into(),
            suite: "spec".into(),
            group: "gc".into(),
            reason: "text".into(),
        }];
        let backends = [BackendInfo {
            name: "reference".into(),
            version: "v".into(),
        }];
        let rows = summarize(&results, &na, &backends);
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (
                rows[0].cases,
                rows[0].passed,
                rows[0].expected_failures,
                rows[0].not_applicable
            ),
            (2, 1, 1, 1)
        );
        assert_eq!((rows[1].failed, rows[1].unexpected_passes), (1, 1));
        let table = format_summary(&rows);
        let total = table.lines().last().unwrap();
        assert!(total.starts_with("reference  TOTAL"), "{table}");
        assert!(
            total
                .split_whitespace()
                .eq(["reference", "TOTAL", "4", "1", "1", "1", "1", "1"]),
            "{table}"
        );
    }
}
