//! JUnit XML for CI test reporters (GitLab, Jenkins, GitHub actions that
//! read JUnit), written with `quick-junit` (nextest's writer). The mapping
//! is documented in `reports/FORMATS.md`:
//!
//! - one `<testsuite>` per (backend, suite), named `backend/suite`, in the
//!   report's backend order, with the run's facts as properties;
//! - one `<testcase>` per result: name = case id, classname =
//!   `backend.suite.group` (dots inside a part become `_`, so reporters
//!   that split the classname at dots group by backend, suite and group);
//! - unexpected results are failures, expected failures, unsupported
//!   proposals and not-applicable cases are skipped (CI stays green exactly
//!   when the run's exit code says so), each with its reason;
//! - the report's `not_applicable` cases are skipped testcases on every
//!   backend, and input errors, setup errors, stale rules and an interrupt
//!   are testcases of a `streamconform/run` suite, so nothing disappears.

use super::describe::{self, Standing};
use super::PublishError;
use quick_junit::{FlakyOrRerun, NonSuccessKind, TestCase, TestCaseStatus, TestRerun, TestSuite};
use std::path::Path;
use std::time::Duration;
use streamconform::reporter::json::{Report, ReportedCase};
use streamconform::verdict::{FlakyResult, Status};

/// The suite that holds what went wrong with the run itself.
const RUN_SUITE: &str = "streamconform/run";

pub fn write(report: &Report, path: &Path) -> Result<(), PublishError> {
    let xml = to_xml(report).map_err(|e| PublishError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    })?;
    Ok(streamconform::output::write(path, xml)?)
}

/// The JUnit document for `report`.
pub fn to_xml(report: &Report) -> Result<String, quick_junit::SerializeError> {
    let mut junit = quick_junit::Report::new("streamconform");
    let started = chrono::DateTime::parse_from_rfc3339(&report.run.started_at).ok();
    if let Some(started) = started {
        junit.set_timestamp(started);
    }
    // Clamped: a report that skipped `load`'s check must not panic here.
    junit.set_time(
        Duration::try_from_secs_f64(report.finished.elapsed_secs.max(0.0)).unwrap_or(Duration::MAX),
    );

    // (backend, suite) in the order the report's results come in: backend
    // order, then case order.
    let mut suites: Vec<((String, String), TestSuite)> = Vec::new();
    let suite_for =
        |suites: &mut Vec<((String, String), TestSuite)>, backend: &str, suite: &str| -> usize {
            if let Some(i) = suites
                .iter()
                .position(|((b, s), _)| b == backend && s == suite)
            {
                return i;
            }
            let mut test_suite = TestSuite::new(format!("{backend}/{suite}"));
            if let Some(started) = started {
                test_suite.set_timestamp(started);
            }
            add_run_properties(&mut test_suite, report, backend);
            suites.push(((backend.to_string(), suite.to_string()), test_suite));
            suites.len() - 1
        };
    for case in &report.results {
        let i = suite_for(&mut suites, &case.backend, &case.suite);
        suites[i]
            .1
            .add_test_case(test_case(case, report.run.flaky_result));
    }
    // Found but not runnable: a case of every backend, as the summary
    // counts it.
    for backend in &report.run.backends {
        for na in &report.not_applicable {
            let i = suite_for(&mut suites, &backend.name, &na.suite);
            let mut status = TestCaseStatus::skipped();
            status
                .set_type("not applicable")
                .set_message(format!("not applicable: {}", na.reason));
            let mut case = TestCase::new(&na.id, status);
            case.set_classname(classname(&backend.name, &na.suite, &na.group));
            suites[i].1.add_test_case(case);
        }
    }
    let mut suites: Vec<TestSuite> = suites.into_iter().map(|(_, s)| s).collect();
    for suite in &mut suites {
        let total: Duration = suite.test_cases.iter().filter_map(|c| c.time).sum();
        suite.set_time(total);
    }
    if let Some(run) = run_suite(report) {
        suites.push(run);
    }
    junit.add_test_suites(suites);
    junit.to_string()
}

/// `backend.suite.group`, each part without dots.
fn classname(backend: &str, suite: &str, group: &str) -> String {
    [backend, suite, group]
        .map(|part| part.replace('.', "_"))
        .join(".")
}

fn add_run_properties(suite: &mut TestSuite, report: &Report, backend: &str) {
    let run = &report.run;
    let version = run
        .backends
        .iter()
        .find(|b| b.name == backend)
        .map_or("unknown", |b| b.version.as_str());
    suite
        .add_property(("streamconform.version", run.tool_version.as_str()))
        .add_property(("revision", run.revision.as_deref().unwrap_or("unknown")))
        .add_property(("host", run.host.as_str()))
        .add_property(("started_at", run.started_at.as_str()))
        .add_property(("suites", run.suites.join(" ").as_str()))
        .add_property(("plans", run.plans.as_str()))
        .add_property((
            "backends",
            run.backends
                .iter()
                .map(|b| format!("{} ({})", b.name, b.version))
                .collect::<Vec<_>>()
                .join(", ")
                .as_str(),
        ))
        .add_property(("backend", backend))
        .add_property(("backend.version", version));
    if let Some(support) = run.proposal_support.get(backend) {
        if !support.lacking.is_empty() {
            suite.add_property(("backend.lacks", support.lacking.join(" ").as_str()));
        }
    }
}

/// A flaky case as nextest writes one: its failed run as a
/// `<flakyFailure>`, under a success, or under a failure of type `flaky`
/// when flaky cases fail the run (`--flaky-result fail`).
fn flaky_status(case: &ReportedCase, flaky: FlakyResult) -> TestCaseStatus {
    let mut first_run = TestRerun::new(NonSuccessKind::Failure);
    first_run
        .set_type("failure")
        .set_message(describe::headline(case))
        .set_description(describe::details(case));
    let passed_on = case.retried.and_then(|r| r.passed_on).unwrap_or(0);
    let mut status = match flaky {
        FlakyResult::Pass => TestCaseStatus::success(),
        FlakyResult::Fail => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status.set_type("flaky").set_message(format!(
                "flaky: failed, then passed on retry {passed_on} on fresh workers \
                 (flaky cases fail this run: --flaky-result fail)"
            ));
            status.set_rerun_kind(FlakyOrRerun::Flaky);
            status
        }
    };
    status.add_rerun(first_run);
    status
}

fn test_case(case: &ReportedCase, flaky: FlakyResult) -> TestCase {
    let status = match Standing::of(case) {
        Standing::Passed => TestCaseStatus::success(),
        Standing::Flaky => flaky_status(case, flaky),
        // Known to flake there: reported as flaky, never failing the run.
        Standing::KnownFlaky => flaky_status(case, FlakyResult::Pass),
        Standing::Unexpected => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let ty = match case.status {
                Status::UnexpectedPass => "unexpected pass",
                Status::Invalid => "invalid case",
                _ if describe::timed_out(case) => "timeout",
                _ => "failure",
            };
            status
                .set_type(ty)
                .set_message(describe::headline(case))
                .set_description(describe::details(case));
            status
        }
        Standing::ExpectedFailure | Standing::Unsupported | Standing::NotApplicable => {
            let mut status = TestCaseStatus::skipped();
            let ty = match Standing::of(case) {
                Standing::ExpectedFailure => "expected failure",
                Standing::Unsupported => "unsupported proposal",
                _ => "not applicable",
            };
            status.set_type(ty).set_message(describe::headline(case));
            if case.status == Status::ExpectedFailure {
                status.set_description(describe::details(case));
            }
            status
        }
    };
    let mut test_case = TestCase::new(&case.id, status);
    test_case
        .set_classname(classname(&case.backend, &case.suite, &case.group))
        .set_time(Duration::from_millis(case.duration_ms));
    test_case
}

/// What went wrong with the run itself, or `None` when nothing did.
fn run_suite(report: &Report) -> Option<TestSuite> {
    let mut cases = Vec::new();
    let mut add = |kind: NonSuccessKind, ty: &str, name: &str, message: &str| {
        let mut status = TestCaseStatus::non_success(kind);
        status
            .set_type(ty)
            .set_message(describe::one_line(message, 1000));
        let mut case = TestCase::new(name, status);
        case.set_classname("streamconform.run");
        cases.push(case);
    };
    for (i, e) in report.input_errors.iter().enumerate() {
        // `file:line: message`: the place names the testcase.
        let place = e.split_once(": ").map_or(e.as_str(), |(place, _)| place);
        add(
            NonSuccessKind::Error,
            "input error",
            &format!("input error {}: {place}", i + 1),
            e,
        );
    }
    for (i, e) in report.finished.setup_errors.iter().enumerate() {
        add(
            NonSuccessKind::Error,
            "setup error",
            &format!("setup error {}", i + 1),
            e,
        );
    }
    for (i, rule) in report.finished.stale_rules.iter().enumerate() {
        add(
            NonSuccessKind::Failure,
            "stale rule",
            &format!("stale expectation rule {}", i + 1),
            rule,
        );
    }
    if report.finished.interrupted {
        add(
            NonSuccessKind::Error,
            "interrupted",
            "interrupted",
            "the run was interrupted: only the cases that finished are reported",
        );
    }
    if report.finished.cases_run == 0 {
        add(
            NonSuccessKind::Error,
            "nothing ran",
            "no case ran",
            "no case ran; a run with nothing to judge is not a pass",
        );
    }
    if cases.is_empty() {
        return None;
    }
    let mut suite = TestSuite::new(RUN_SUITE);
    suite.add_test_cases(cases);
    Some(suite)
}

#[cfg(test)]
mod tests {
    use super::super::sample;
    use super::*;

    fn parsed(report: &Report) -> junit_parser::TestSuites {
        let xml = to_xml(report).unwrap();
        junit_parser::from_reader(std::io::Cursor::new(xml)).unwrap()
    }

    fn find<'a>(
        suites: &'a junit_parser::TestSuites,
        suite: &str,
        id: &str,
    ) -> &'a junit_parser::TestCase {
        let suite = suites.suites.iter().find(|s| s.name == suite).unwrap();
        let found = suite.cases.iter().find(|c| c.original_name == id);
        found.unwrap_or_else(|| panic!("{id} not in {}: {:?}", suite.name, suite.cases))
    }

    #[test]
    fn one_suite_per_backend_and_suite_and_every_case_present() {
        let report = sample::report();
        let suites = parsed(&report);
        let names: Vec<&str> = suites.suites.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "node/webapi",
                "node/spec",
                "chromium/webapi",
                "chromium/spec",
                RUN_SUITE
            ]
        );
        let cases: usize = suites.suites.iter().map(|s| s.cases.len()).sum();
        let expected = report.results.len()
            + report.not_applicable.len() * report.run.backends.len()
            + report.input_errors.len()
            + report.finished.stale_rules.len();
        assert_eq!(cases, expected);
    }

    #[test]
    fn statuses_map_to_failures_and_skips_with_reasons() {
        let suites = parsed(&sample::report());
        let ok = find(&suites, "node/webapi", "webapi/chunks/uint8array");
        assert!(ok.status.is_success());
        assert_eq!(ok.classname.as_deref(), Some("node.webapi.chunks"));
        assert!((ok.time - 0.007).abs() < 1e-9);

        let fail = find(
            &suites,
            "node/webapi",
            "webapi/chunks/all-chunks-array-buffer",
        );
        let junit_parser::TestStatus::Failure(f) = &fail.status else {
            panic!("{:?}", fail.status)
        };
        assert!(
            f.message.starts_with("expected Module; 20 of 20 plans failed [spec+invariance]; plan one-byte gave CompileError: section length"),
            "{}",
            f.message
        );
        assert!(
            f.text.contains("repro: streamconform run --backend node"),
            "{}",
            f.text
        );
        assert!(f.text.contains("(300 cuts)"), "{}", f.text);
        assert!(f.text.contains("… and 4 more failing plans"), "{}", f.text);
        assert!(!f.message.contains('\n'));

        let timeout = find(&suites, "node/spec", "spec/wasm-latest/big.wast:1");
        let junit_parser::TestStatus::Failure(t) = &timeout.status else {
            panic!()
        };
        assert_eq!(t.failure_type, "timeout");
        assert!(t.text.contains("aborted: timeout:"), "{}", t.text);

        let xfail = find(&suites, "node/spec", "spec/wasm-latest/binary.wast:10");
        let junit_parser::TestStatus::Skipped(s) = &xfail.status else {
            panic!("{:?}", xfail.status)
        };
        assert!(s.message.starts_with("expected failure: "), "{}", s.message);
        assert!(
            s.message.contains("V8 reads a LEB128 too far"),
            "{}",
            s.message
        );
        // The classname has no dot from the group.
        assert_eq!(xfail.classname.as_deref(), Some("node.spec.wasm-latest"));

        let unsupported = find(&suites, "node/spec", "spec/gc/struct.wast:3");
        let junit_parser::TestStatus::Skipped(s) = &unsupported.status else {
            panic!()
        };
        assert!(
            s.message.contains("unsupported proposal gc"),
            "{}",
            s.message
        );

        let xpass = find(&suites, "node/spec", "spec/wasm-latest/names.wast:1");
        assert!(xpass.status.is_failure());
        assert!(find(
            &suites,
            "node/webapi",
            "webapi/stream-end/error-after-first"
        )
        .status
        .is_failure());
        let na = find(&suites, "node/webapi", "webapi/fetch/cross-origin");
        let junit_parser::TestStatus::Skipped(s) = &na.status else {
            panic!()
        };
        assert!(s.message.contains("lacks the capability origin"));
        let listed_na = find(&suites, "chromium/spec", "spec/wasm-latest/text.wast:9");
        assert!(listed_na.status.is_skipped());

        let run = suites.suites.iter().find(|s| s.name == RUN_SUITE).unwrap();
        assert!(run.cases[0].status.is_error());
        assert!(run.cases[0].original_name.contains("suites/bad.wast:4"));
        assert!(run.cases[1].status.is_failure());
    }

    #[test]
    fn run_facts_are_properties_and_output_is_deterministic() {
        let report = sample::report();
        let xml = to_xml(&report).unwrap();
        assert_eq!(xml, to_xml(&report).unwrap());
        for needle in [
            r#"<property name="backend.version" value="node 20.20.2"/>"#,
            r#"<property name="revision" value="0123456789abcdef0123456789abcdef01234567"/>"#,
            r#"<property name="plans" value="--plans default"/>"#,
            r#"<property name="backends" value="node (node 20.20.2), chromium (chromium 156.0.8078.79)"/>"#,
            r#"timestamp="2026-11-24T21:00:00"#,
        ] {
            assert!(xml.contains(needle), "{needle} not in\n{xml}");
        }
    }

    #[test]
    fn a_clean_run_has_no_run_suite() {
        let mut report = sample::report();
        report.input_errors.clear();
        report.finished.stale_rules.clear();
        let suites = parsed(&report);
        assert!(suites.suites.iter().all(|s| s.name != RUN_SUITE));
    }
}
