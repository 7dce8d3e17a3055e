//! Retries and flaky cases, end to end: the real node driver behind the
//! fault-injecting proxy (`fixtures/fault-proxy.mjs`), which lies about one
//! case's first one-shot compile (`FAULT_LIE_ONCE`). With `--retries`, that
//! case is flaky in every output (terminal, JSON, JUnit read back by an
//! independent parser, wptreport, Markdown, site); a case that fails every
//! time stays failed with its first result; a passing one is untouched.

use crate::common;
use std::path::Path;
use std::process::{Command, Output};
use streamconform::reporter::json::Report;
use streamconform::verdict::{Retried, Status};

const FLAKY: &str =
    "(module binary \"\\00asm\\01\\00\\00\\00\" \"\\00\\0d\\01x\" \"fault:flaky\")\n";

fn run(dir: &Path, extra: &[&str]) -> Output {
    let fixture = format!(
        "{}/tests/fixtures/node-with-faults",
        env!("CARGO_MANIFEST_DIR")
    );
    // A lie of its own per run.
    let _ = std::fs::remove_file(dir.join("lied"));
    Command::new(env!("CARGO_BIN_EXE_streamconform"))
        .args(["run", "--backend", "node", "--suite", "suite"])
        .args(["--plans", "reduced", "--no-truncation", "--retries", "2"])
        .args([
            "--report",
            "r.json",
            "--junit",
            "j.xml",
            "--wptreport",
            "w.json",
        ])
        .args(["--markdown", "s.md", "--html", "site"])
        .args(extra)
        .current_dir(dir)
        .env_remove("CI")
        .env("STREAMCONFORM_NODE", fixture)
        .env("FAULT_LIE_ONCE", dir.join("lied"))
        .output()
        .expect("run streamconform")
}

/// The JUnit report's test case `id`, read back by junit-parser.
fn junit_case(dir: &Path, id: &str) -> junit_parser::TestCase {
    let junit = junit_parser::from_reader(std::io::Cursor::new(
        std::fs::read_to_string(dir.join("j.xml")).unwrap(),
    ))
    .unwrap();
    junit
        .suites
        .into_iter()
        .flat_map(|s| s.cases)
        .find(|c| c.original_name == id)
        .unwrap_or_else(|| panic!("no test case {id}"))
}

/// The wptreport's result of `test`.
fn wpt_test(dir: &Path, test: &str) -> serde_json::Value {
    let wpt: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("w.json")).unwrap()).unwrap();
    wpt["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["test"] == test)
        .unwrap_or_else(|| panic!("no result of {test}"))
        .clone()
}

#[test]
fn a_case_that_passes_on_a_retry_is_flaky_everywhere() {
    let dir = common::scratch("flaky");
    std::fs::write(dir.join("suite/flaky.wast"), FLAKY).unwrap();
    std::fs::write(dir.join("suite/wrong.wast"), common::WRONG_EXPECTATION).unwrap();
    std::fs::write(dir.join("suite/valid.wast"), common::VALID).unwrap();

    let out = run(&dir, &[]);
    let text = common::text(&out);
    // The wrong case fails every time, and a flaky case fails the run
    // (`--flaky-result fail`, the default).
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(dir.join("lied").exists(), "the proxy never lied:\n{text}");
    assert!(text.contains("FLAKY [node] suite/flaky.wast:1"), "{text}");
    assert!(text.contains("failed, then passed on retry 1"), "{text}");
    assert!(text.contains("FAIL [node] suite/wrong.wast:1"), "{text}");
    assert!(text.contains("failed on 2 retries too"), "{text}");
    let total = text
        .lines()
        .find(|l| l.starts_with("node") && l.contains("TOTAL"))
        .unwrap_or_else(|| panic!("{text}"));
    let counts: Vec<&str> = total.split_whitespace().collect();
    // backend TOTAL cases passed failed xfail unsup xpass invalid n/a flaky
    assert_eq!(counts[2..], ["3", "1", "1", "0", "0", "0", "0", "0", "1"]);

    let report: Report =
        serde_json::from_slice(&std::fs::read(dir.join("r.json")).unwrap()).unwrap();
    let of = |id: &str| {
        report
            .results
            .iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("{id}"))
    };
    let flaky = of("suite/flaky.wast:1");
    assert_eq!(flaky.status, Status::Flaky);
    assert_eq!(
        flaky.retried,
        Some(Retried {
            retries: 1,
            passed_on: Some(1)
        })
    );
    // The first run is what is recorded: it failed.
    assert!(!flaky.failing_plans.is_empty());
    let wrong = of("suite/wrong.wast:1");
    assert_eq!(wrong.status, Status::Failed);
    assert_eq!(
        wrong.retried,
        Some(Retried {
            retries: 2,
            passed_on: None
        })
    );
    assert_eq!(of("suite/valid.wast:1").retried, None);
    assert_eq!((report.run.retries, report.finished.unexpected), (2, 2));
    let flaky_total: usize = report.summary.iter().map(|r| r.flaky).sum();
    assert_eq!(flaky_total, 1);

    // JUnit, read back by junit-parser: the first run as a flakyFailure,
    // under a failure of type "flaky" (flaky cases fail this run).
    let junit = junit_parser::from_reader(std::io::Cursor::new(
        std::fs::read_to_string(dir.join("j.xml")).unwrap(),
    ))
    .unwrap();
    let cases: Vec<_> = junit.suites.iter().flat_map(|s| s.cases.iter()).collect();
    let flaky_case = cases
        .iter()
        .find(|c| c.original_name == "suite/flaky.wast:1")
        .unwrap();
    assert_eq!(flaky_case.reruns.len(), 1);
    assert!(matches!(
        flaky_case.reruns[0].kind,
        junit_parser::RerunOrFlakyKind::FlakyFailure
    ));
    match &flaky_case.status {
        junit_parser::TestStatus::Failure(f) => assert_eq!(f.failure_type, "flaky"),
        other => panic!("{other:?}"),
    }
    let wrong_case = cases
        .iter()
        .find(|c| c.original_name == "suite/wrong.wast:1")
        .unwrap();
    assert!(wrong_case.reruns.is_empty());

    // wptreport: the test passed on a retry, and says it was flaky.
    let test = wpt_test(&dir, "/streamconform/suite/flaky.wast:1");
    assert_eq!(test["status"], "OK");
    assert!(test["message"].as_str().unwrap().starts_with("FLAKY"));

    let markdown = std::fs::read_to_string(dir.join("s.md")).unwrap();
    assert!(markdown.contains("| flaky |"), "{markdown}");
    assert!(markdown.contains("**FLAKY** [node]"), "{markdown}");
    let site = std::fs::read_dir(dir.join("site/cells"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect::<String>();
    assert!(
        site.contains("Flaky (failed, then passed"),
        "no flaky section"
    );

    // `--flaky-result pass`: still flaky everywhere, but only the wrong
    // case fails the run; JUnit shows the flaky one as a pass with its
    // flakyFailure, as nextest writes it.
    let out = run(&dir, &["--flaky-result", "pass"]);
    let text = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let report: Report =
        serde_json::from_slice(&std::fs::read(dir.join("r.json")).unwrap()).unwrap();
    assert_eq!(report.finished.unexpected, 1);
    assert!(report.results.iter().any(|c| c.status == Status::Flaky));
    let flaky_case = junit_case(&dir, "suite/flaky.wast:1");
    assert!(flaky_case.status.is_success());
    assert_eq!(flaky_case.reruns.len(), 1);
}

/// An `[[intermittent]]` entry covering the flaky case makes it known
/// flaky: its own status with the entry's reason in the JSON, a pass with
/// its flakyFailure in JUnit, said in wptreport and on the site, and no
/// failure of the run (under the default `--flaky-result fail`); the case
/// failing every time, which the entry also covers, still fails it.
#[test]
fn an_intermittent_expectation_makes_a_flaky_case_known_and_excuses_nothing_else() {
    let dir = common::scratch("flaky-known");
    std::fs::write(dir.join("suite/flaky.wast"), FLAKY).unwrap();
    std::fs::write(dir.join("suite/wrong.wast"), common::WRONG_EXPECTATION).unwrap();
    std::fs::write(
        dir.join("node.toml"),
        "backend = \"node\"\n[[intermittent]]\ncases = \"suite/**\"\nreason = \"the proxy lies once <on purpose>\"\n",
    )
    .unwrap();
    let out = run(&dir, &["--expectations", "node.toml"]);
    let text = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "the wrong case: {text}");
    assert!(dir.join("lied").exists(), "the proxy never lied:\n{text}");
    assert!(
        !text.contains("FLAKY [node]"),
        "not listed as unexpected: {text}"
    );
    let report: Report =
        serde_json::from_slice(&std::fs::read(dir.join("r.json")).unwrap()).unwrap();
    let of = |id: &str| report.results.iter().find(|c| c.id == id).unwrap();
    let flaky = of("suite/flaky.wast:1");
    assert_eq!(flaky.status, Status::KnownFlaky);
    assert_eq!(
        flaky.expectation_reason.as_deref(),
        Some("the proxy lies once <on purpose>")
    );
    assert_eq!(of("suite/wrong.wast:1").status, Status::Failed);
    assert_eq!(report.finished.unexpected, 1);
    assert_eq!(report.summary.iter().map(|r| r.flaky).sum::<usize>(), 1);

    let flaky_case = junit_case(&dir, "suite/flaky.wast:1");
    assert!(flaky_case.status.is_success());
    assert_eq!(flaky_case.reruns.len(), 1);

    let test = wpt_test(&dir, "/streamconform/suite/flaky.wast:1");
    assert_eq!(test["status"], "OK");
    let message = test["message"].as_str().unwrap();
    assert!(
        message.starts_with("KNOWN FLAKY") && message.contains("known: the proxy lies once"),
        "{message}"
    );
    let site = std::fs::read_dir(dir.join("site/cells"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect::<String>();
    assert!(
        site.contains("Known flaky (failed, then passed"),
        "no known-flaky section"
    );
    assert!(
        site.contains("the proxy lies once &lt;on purpose&gt;"),
        "the reason, escaped"
    );
}
