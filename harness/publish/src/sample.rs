//! A small hand-built report with one case of every standing, for the
//! unit tests of the output formats.

use streamconform::backend::BackendInfo;
use streamconform::case::NotApplicable;
use streamconform::outcome::{Fingerprint, Outcome, OutcomeClass};
use streamconform::reporter::json::{Report, ReportedCase, SCHEMA, SCHEMA_VERSION};
use streamconform::runner::{RunFinished, RunInfo};
use streamconform::verdict::{Oracle, PlanFailure, Status, Verdict};

fn module() -> Outcome {
    Outcome::Module {
        fingerprint: Fingerprint::default(),
    }
}

fn compile_error() -> Outcome {
    Outcome::CompileError {
        message: "section\nlength out of bounds".into(),
    }
}

/// A case of `backend` that passed; the other kinds start from it.
pub fn passed(backend: &str, suite: &str, id: &str) -> ReportedCase {
    ReportedCase {
        id: id.into(),
        backend: backend.into(),
        suite: suite.into(),
        group: id.split('/').nth(1).unwrap_or("group").into(),
        expected: OutcomeClass::Module,
        verdict: Verdict::Pass,
        status: Status::Passed,
        expectation_reason: None,
        unsupported: Vec::new(),
        one_shot: Some(module()),
        plans_run: 12,
        failing_plans_total: 0,
        failing_plans: Vec::new(),
        aborted: None,
        repro: None,
        minimized: None,
        retried: None,
        duration_ms: 7,
        case_index: None,
    }
}

/// `case` failed its first `failing` plans, the one-byte plan (with a
/// long cut list) among them.
pub fn failing(mut case: ReportedCase, failing: usize, status: Status) -> ReportedCase {
    case.verdict = Verdict::Fail;
    case.status = status;
    case.failing_plans_total = failing;
    case.plans_run = case.plans_run.max(failing);
    case.failing_plans = (0..failing.min(16))
        .map(|i| PlanFailure {
            plan: if i == 0 {
                "one-byte".into()
            } else {
                format!("split@{i}")
            },
            cuts: if i == 0 { (1..=300).collect() } else { vec![i] },
            actual: compile_error(),
            failed: if i == 0 {
                vec![Oracle::Spec, Oracle::Invariance]
            } else {
                vec![Oracle::Spec]
            },
            reads: None,
        })
        .collect();
    case.repro = Some(format!(
        "streamconform run --backend {} --suite {} --case {} --plan one-byte",
        case.backend, case.suite, case.id
    ));
    case
}

pub fn report() -> Report {
    let node = |suite: &str, id: &str| passed("node", suite, id);
    let mut expected_failure = failing(
        node("spec", "spec/wasm-latest/binary.wast:10"),
        2,
        Status::ExpectedFailure,
    );
    expected_failure.expectation_reason = Some("V8 reads a LEB128 too far".into());
    let mut unsupported = failing(
        node("spec", "spec/gc/struct.wast:3"),
        12,
        Status::ExpectedFailure,
    );
    unsupported.unsupported = vec!["gc".into()];
    unsupported.expectation_reason = Some("GC is not in V8 11.3".into());
    let mut not_applicable = node("webapi", "webapi/fetch/cross-origin");
    not_applicable.verdict = Verdict::NotApplicable;
    not_applicable.status = Status::NotApplicable;
    not_applicable.plans_run = 0;
    not_applicable.one_shot = None;
    not_applicable.aborted = Some("the backend lacks the capability origin".into());
    let mut invalid = failing(
        node("webapi", "webapi/stream-end/error-after-first"),
        1,
        Status::Invalid,
    );
    invalid.verdict = Verdict::Invalid;
    let mut unexpected_pass = node("spec", "spec/wasm-latest/names.wast:1");
    unexpected_pass.status = Status::UnexpectedPass;
    unexpected_pass.expectation_reason = Some("names were mangled".into());
    let mut timeout = failing(
        node("spec", "spec/wasm-latest/big.wast:1"),
        0,
        Status::Failed,
    );
    timeout.one_shot = None;
    timeout.expected = OutcomeClass::CompileError;
    timeout.aborted = Some("timeout: no result within 120 s".into());
    timeout.repro = Some("streamconform run --backend node --suite spec --case spec/wasm-latest/big.wast:1 --plan whole".into());
    let results = vec![
        node("webapi", "webapi/chunks/uint8array"),
        failing(
            node("webapi", "webapi/chunks/all-chunks-array-buffer"),
            20,
            Status::Failed,
        ),
        not_applicable,
        invalid,
        expected_failure,
        unsupported,
        unexpected_pass,
        timeout,
        passed("chromium", "webapi", "webapi/chunks/uint8array"),
        passed("chromium", "spec", "spec/wasm-latest/binary.wast:10"),
    ];
    Report {
        schema: SCHEMA.into(),
        schema_version: SCHEMA_VERSION,
        run: RunInfo {
            tool_version: "0.1.0".into(),
            started_at: "2026-11-24T21:00:00Z".into(),
            host: "ci-1".into(),
            revision: Some("0123456789abcdef0123456789abcdef01234567".into()),
            shard: None,
            suites: vec!["spec".into(), "webapi".into()],
            plans: "--plans default".into(),
            cases: 9,
            backends: vec![
                BackendInfo {
                    name: "node".into(),
                    version: "node 20.20.2".into(),
                },
                BackendInfo {
                    name: "chromium".into(),
                    version: "chromium 156.0.8078.79".into(),
                },
            ],
            proposal_support: Default::default(),
            retries: 0,
            flaky_result: Default::default(),
        },
        input_errors: vec!["suites/bad.wast:4: unknown operator `i32.frob`".into()],
        not_applicable: vec![NotApplicable {
            id: "spec/wasm-latest/text.wast:9".into(),
            suite: "spec".into(),
            group: "wasm-latest".into(),
            reason: "text-only assert_malformed".into(),
        }],
        results,
        summary: Vec::new(),
        finished: RunFinished {
            elapsed_secs: 61.5,
            cases_run: 10,
            unexpected: 4,
            stale_rules: vec!["expectations/node.toml:12: rule matched no failing case".into()],
            expectations_not_run: Vec::new(),
            input_errors: 1,
            setup_errors: Vec::new(),
            interrupted: false,
            expectation_tallies: Default::default(),
        },
    }
}
