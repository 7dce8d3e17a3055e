//! wptreport JSON, the format wpt.fyi ingests (written by wptrunner's
//! `formatters/wptreport.py`; statuses are mozlog's). The mapping is
//! documented in `reports/FORMATS.md`.
//!
//! wpt.fyi takes one product per file, so each backend gets a file of its
//! own: with one backend in the report, exactly the path given; with
//! several, `STEM-BACKEND.EXT` beside it for each (`w.json` → `w-node.json`,
//! `w-chromium.json`) and the path given itself is not written.
//!
//! Each case is a test `/streamconform/<case id>` with status `OK` when it
//! ran, `ERROR`/`TIMEOUT` when it was invalid or aborted, and `SKIP` when
//! it does not apply or needs a proposal the backend lacks. Its subtests
//! are its plans: one `FAIL` per failing plan the report kept, one `FAIL`
//! for the failing plans it did not keep, and one `PASS` for the plans that
//! passed. As in mozlog, `expected` is written only when it differs from
//! the status: on an unexpected failure (`FAIL` expected `PASS`), an
//! unexpected pass (`PASS` expected `FAIL`) and an unexpected `ERROR`;
//! expected failures carry none.
//!
//! The types are written here rather than taken from the `wptreport`
//! crate (0.0.x): it requires fields we have no value for and pulls in
//! rayon, and the schema test (`tests/publish.rs`) checks the shape.

use super::describe::{self, Standing};
use super::PublishError;
use serde::Serialize;
use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use streamconform::output::{file_name_part, OutputFile};
use streamconform::reporter::json::{Report, ReportedCase};
use streamconform::verdict::{FlakyResult, Status};

#[derive(Debug, Serialize)]
pub struct WptReport {
    pub run_info: RunInfo,
    pub time_start: u64,
    pub time_end: u64,
    pub results: Vec<TestResult>,
}

/// What wpt.fyi reads (`product`, `browser_version`, `os`, `revision`),
/// and what else the run knows.
#[derive(Debug, Serialize)]
pub struct RunInfo {
    pub product: String,
    pub browser_version: String,
    /// The OS of the machine writing this file: the JSON report does not
    /// record one, and reports are published where they ran.
    pub os: String,
    /// The full commit hash wpt.fyi requires; absent when the run knew none
    /// (wpt.fyi then refuses the file: set `STREAMCONFORM_REVISION`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    pub host: String,
    pub streamconform_version: String,
    pub suites: Vec<String>,
    pub plans: String,
}

#[derive(Debug, Serialize)]
pub struct TestResult {
    pub test: String,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<&'static str>,
    pub message: Option<String>,
    pub duration: u64,
    pub subtests: Vec<SubtestResult>,
}

#[derive(Debug, Serialize)]
pub struct SubtestResult {
    pub name: String,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<&'static str>,
    pub message: Option<String>,
}

/// Writes one file per backend (see the module docs) and returns their
/// paths, in the report's backend order.
pub fn write(report: &Report, path: &Path) -> Result<Vec<PathBuf>, PublishError> {
    let mut written: Vec<PathBuf> = Vec::new();
    for (backend, wpt) in reports(report)? {
        let file = if report.run.backends.len() == 1 {
            path.to_path_buf()
        } else {
            path_for(path, &backend)
        };
        if written.contains(&file) {
            return Err(PublishError::Refused(format!(
                "wptreport: two backends would both be written to {}",
                file.display()
            )));
        }
        // Compact, as wptrunner writes it: a spec run has many results.
        let mut out = OutputFile::create(&file)?;
        serde_json::to_writer(&mut out, &wpt)
            .map_err(std::io::Error::from)
            .and_then(|()| out.write_all(b"\n"))
            .map_err(PublishError::io(&file))?;
        out.commit()?;
        written.push(file);
    }
    Ok(written)
}

/// `dir/STEM-BACKEND.EXT` for `dir/STEM.EXT`; characters of the backend
/// name that do not belong in a file name (`command:/path`) are written as
/// `_` and their hex code ([`file_name_part`]), so no two backends share
/// a file.
pub fn path_for(path: &Path, backend: &str) -> PathBuf {
    let backend = file_name_part(backend);
    let stem = path
        .file_stem()
        .map_or_else(|| "wptreport".into(), |s| s.to_string_lossy());
    let name = match path.extension() {
        Some(ext) => format!("{stem}-{backend}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{backend}"),
    };
    path.with_file_name(name)
}

/// The report of each backend that has results. A backend without any
/// (it could not start: a setup error) gets no file; a report with no
/// results at all is refused.
pub fn reports(report: &Report) -> Result<Vec<(String, WptReport)>, PublishError> {
    let time_start = chrono::DateTime::parse_from_rfc3339(&report.run.started_at)
        .map_err(|e| {
            PublishError::Refused(format!(
                "run.started_at {:?} is not an RFC 3339 time: {e}",
                report.run.started_at
            ))
        })?
        .timestamp_millis()
        .max(0) as u64;
    // `as u64` saturates (NaN gives 0), and so does the sum.
    let time_end =
        time_start.saturating_add((report.finished.elapsed_secs * 1000.0).round() as u64);
    let mut out = Vec::new();
    for backend in &report.run.backends {
        let cases: Vec<&ReportedCase> = report
            .results
            .iter()
            .filter(|c| c.backend == backend.name)
            .collect();
        if cases.is_empty() {
            continue;
        }
        let flaky = report.run.flaky_result;
        let mut results: Vec<TestResult> = cases
            .into_iter()
            .map(|case| test_result(case, flaky))
            .collect();
        results.extend(report.not_applicable.iter().map(|na| TestResult {
            test: test_name(&na.id),
            status: "SKIP",
            expected: None,
            message: Some(format!("not applicable: {}", na.reason)),
            duration: 0,
            subtests: Vec::new(),
        }));
        let mut seen = BTreeSet::new();
        if let Some(dup) = results.iter().find(|r| !seen.insert(r.test.as_str())) {
            return Err(PublishError::Refused(format!(
                "wptreport: test {} appears twice for backend {}; wpt.fyi refuses duplicate tests",
                dup.test, backend.name
            )));
        }
        out.push((
            backend.name.clone(),
            WptReport {
                run_info: RunInfo {
                    product: backend.name.clone(),
                    browser_version: backend.version.clone(),
                    os: std::env::consts::OS.into(),
                    revision: report.run.revision.clone(),
                    host: report.run.host.clone(),
                    streamconform_version: report.run.tool_version.clone(),
                    suites: report.run.suites.clone(),
                    plans: report.run.plans.clone(),
                },
                time_start,
                time_end,
                results,
            },
        ));
    }
    if out.is_empty() {
        return Err(PublishError::Refused(
            "wptreport: the report has no results; a run with nothing judged is not published"
                .into(),
        ));
    }
    Ok(out)
}

/// wpt.fyi test paths start with `/`.
fn test_name(id: &str) -> String {
    format!("/streamconform/{id}")
}

fn test_result(case: &ReportedCase, flaky: FlakyResult) -> TestResult {
    let standing = Standing::of(case);
    let flaky_fails = case.status.is_flaky() && case.status.fails_run(flaky);
    let unexpected = standing == Standing::Unexpected || flaky_fails;
    let (status, message) = match standing {
        // wptreport has no flaky status: the test passed (on a retry), its
        // subtests are the first run's failing plans, unexpected only when
        // flaky cases fail the run.
        Standing::Flaky | Standing::KnownFlaky => (
            "OK",
            Some(format!(
                "{}: failed on its first run (its failing plans are the subtests), passed on retry {} on fresh workers{}",
                describe::status_word(case.status),
                case.retried.and_then(|r| r.passed_on).unwrap_or(0),
                case.expectation_reason
                    .as_deref()
                    .map(|r| format!("; known: {r}"))
                    .unwrap_or_default()
            )),
        ),
        Standing::NotApplicable | Standing::Unsupported => ("SKIP", Some(describe::headline(case))),
        _ if case.status == Status::Invalid => ("ERROR", Some(describe::headline(case))),
        _ if describe::timed_out(case) => ("TIMEOUT", case.aborted.clone()),
        _ if case.aborted.is_some() => ("ERROR", case.aborted.clone()),
        Standing::Passed => ("OK", None),
        _ => ("OK", Some(describe::headline(case))),
    };
    let mut subtests = Vec::new();
    if status != "SKIP" {
        // A failing plan is expected to fail exactly when the case is
        // listed as failing (expected failure or unexpected pass).
        let listed = matches!(
            case.status,
            Status::ExpectedFailure | Status::UnexpectedPass
        ) || (case.status.is_flaky() && !flaky_fails);
        for plan in &case.failing_plans {
            subtests.push(SubtestResult {
                name: format!("plan {}", plan.plan),
                status: "FAIL",
                expected: (!listed).then_some("PASS"),
                message: Some(format!(
                    "{}; the spec expects {}",
                    describe::plan_outcome(plan),
                    case.expected
                )),
            });
        }
        let unlisted = case
            .failing_plans_total
            .saturating_sub(case.failing_plans.len());
        if unlisted > 0 {
            subtests.push(SubtestResult {
                name: "failing plans not kept in the report".into(),
                status: "FAIL",
                expected: (!listed).then_some("PASS"),
                message: Some(format!(
                    "{unlisted} more plans failed; the JSON report keeps the first {}",
                    case.failing_plans.len()
                )),
            });
        }
        let passing = case.plans_run.saturating_sub(case.failing_plans_total);
        if passing > 0 {
            subtests.push(SubtestResult {
                name: "passing plans".into(),
                status: "PASS",
                expected: (case.status == Status::UnexpectedPass).then_some("FAIL"),
                message: Some(format!("{passing} of {} plans passed", case.plans_run)),
            });
        }
    }
    TestResult {
        test: test_name(&case.id),
        status,
        expected: (unexpected && status != "OK").then_some("OK"),
        message,
        duration: case.duration_ms,
        subtests,
    }
}

#[cfg(test)]
mod tests {
    use super::super::sample;
    use super::*;

    fn node() -> WptReport {
        let mut all = reports(&sample::report()).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].0, "chromium");
        all.remove(0).1
    }

    fn result<'a>(wpt: &'a WptReport, id: &str) -> &'a TestResult {
        let test = test_name(id);
        wpt.results.iter().find(|r| r.test == test).unwrap()
    }

    #[test]
    fn run_info_and_times_come_from_the_report() {
        let wpt = node();
        assert_eq!(wpt.run_info.product, "node");
        assert_eq!(wpt.run_info.browser_version, "node 20.20.2");
        assert_eq!(
            wpt.run_info.revision.as_deref(),
            Some("0123456789abcdef0123456789abcdef01234567")
        );
        // 2026-11-24T21:00:00Z, plus 61.5 s.
        assert_eq!(wpt.time_start, 1_795_554_000_000);
        assert_eq!(wpt.time_end, 1_795_554_061_500);
    }

    #[test]
    fn every_case_once_with_mozlog_statuses() {
        let report = sample::report();
        let wpt = node();
        let node_results = report
            .results
            .iter()
            .filter(|c| c.backend == "node")
            .count();
        assert_eq!(
            wpt.results.len(),
            node_results + report.not_applicable.len()
        );
        assert!(wpt
            .results
            .iter()
            .all(|r| r.test.starts_with("/streamconform/")));

        let ok = result(&wpt, "webapi/chunks/uint8array");
        assert_eq!((ok.status, ok.expected), ("OK", None));
        assert_eq!(ok.subtests.len(), 1);
        assert_eq!(ok.subtests[0].status, "PASS");

        let fail = result(&wpt, "webapi/chunks/all-chunks-array-buffer");
        assert_eq!((fail.status, fail.expected), ("OK", None));
        // 16 kept failing plans, one for the 4 not kept; none passed.
        assert_eq!(fail.subtests.len(), 17);
        assert!(fail
            .subtests
            .iter()
            .all(|s| s.status == "FAIL" && s.expected == Some("PASS")));
        assert_eq!(fail.subtests[0].name, "plan one-byte");
        assert!(fail.subtests[0]
            .message
            .as_deref()
            .unwrap()
            .contains("(300 cuts)"));

        let xfail = result(&wpt, "spec/wasm-latest/binary.wast:10");
        assert_eq!((xfail.status, xfail.expected), ("OK", None));
        assert!(xfail.subtests.iter().all(|s| s.expected.is_none()));
        assert_eq!(xfail.subtests.last().unwrap().name, "passing plans");

        let xpass = result(&wpt, "spec/wasm-latest/names.wast:1");
        assert_eq!(xpass.subtests[0].status, "PASS");
        assert_eq!(xpass.subtests[0].expected, Some("FAIL"));

        let invalid = result(&wpt, "webapi/stream-end/error-after-first");
        assert_eq!((invalid.status, invalid.expected), ("ERROR", Some("OK")));
        let timeout = result(&wpt, "spec/wasm-latest/big.wast:1");
        assert_eq!((timeout.status, timeout.expected), ("TIMEOUT", Some("OK")));

        for skipped in [
            "spec/gc/struct.wast:3",
            "webapi/fetch/cross-origin",
            "spec/wasm-latest/text.wast:9",
        ] {
            let r = result(&wpt, skipped);
            assert_eq!((r.status, r.expected), ("SKIP", None), "{skipped}");
            assert!(r.subtests.is_empty());
            assert!(r.message.is_some());
        }
    }

    #[test]
    fn one_file_per_backend_when_several() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.json");
        let written = write(&sample::report(), &path).unwrap();
        assert_eq!(
            written,
            [
                dir.path().join("w-node.json"),
                dir.path().join("w-chromium.json")
            ]
        );
        assert!(!path.exists());

        let mut one = sample::report();
        one.run.backends.truncate(1);
        one.results.retain(|c| c.backend == "node");
        assert_eq!(write(&one, &path).unwrap(), vec![path.clone()]);
        let text = std::fs::read_to_string(&path).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["run_info"]["product"], "node");
        // Deterministic: the same report gives the same bytes.
        write(&one, &path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }

    #[test]
    fn backend_names_become_file_names() {
        let path = Path::new("out/w.json");
        assert_eq!(path_for(path, "node"), Path::new("out/w-node.json"));
        assert_eq!(
            path_for(path, "command:/opt/my engine"),
            Path::new("out/w-command_3a_2fopt_2fmy_20engine.json")
        );
        // Names the old folding to `_` made one file.
        assert_ne!(path_for(path, "command:a"), path_for(path, "command_a"));
        assert_eq!(path_for(Path::new("w"), "deno"), Path::new("w-deno"));
    }

    #[test]
    fn duplicate_tests_and_empty_reports_are_refused() {
        let mut dup = sample::report();
        let first = dup.results[0].clone();
        dup.results.push(first);
        let err = reports(&dup).unwrap_err().to_string();
        assert!(
            err.contains("/streamconform/webapi/chunks/uint8array appears twice"),
            "{err}"
        );

        let mut empty = sample::report();
        empty.results.clear();
        assert!(reports(&empty)
            .unwrap_err()
            .to_string()
            .contains("no results"));
    }
}
