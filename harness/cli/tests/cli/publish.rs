//! The CI outputs made by the real binary, read back by independent
//! readers: JUnit by `junit-parser`, wptreport by a JSON Schema of what
//! wpt.fyi ingests (`fixtures/wptreport.schema.json`), Markdown as text.
//! `run --report R --junit ...` and `report R --junit ...` must give the
//! same files.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};
use streamconform::reporter::json::Report;
use streamconform::verdict::Status;

const REVISION: &str = "0123456789abcdef0123456789abcdef01234567";

/// Runs the binary in `dir` with the space-separated `args` and a known
/// revision (wpt.fyi needs one); checks its exit code.
fn streamconform(args: &str, dir: &Path, code: i32) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_streamconform"))
        .args(args.split_whitespace())
        .current_dir(dir)
        .env_remove("CI")
        .env("STREAMCONFORM_REVISION", REVISION)
        .output()
        .expect("run streamconform");
    assert_eq!(
        out.status.code(),
        Some(code),
        "{args}\n{}",
        common::text(&out)
    );
    out
}

fn schema() -> serde_json::Value {
    serde_json::from_str(include_str!("../fixtures/wptreport.schema.json")).unwrap()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn junit(path: &Path) -> junit_parser::TestSuites {
    junit_parser::from_reader(std::io::Cursor::new(read(path)))
        .unwrap_or_else(|e| panic!("{}: not JUnit: {e}", path.display()))
}

/// Checks `path` against the schema and what it cannot say; returns it.
fn valid_wptreport(path: &Path) -> serde_json::Value {
    let validator = jsonschema::validator_for(&schema()).expect("the schema compiles");
    let value: serde_json::Value = serde_json::from_str(&read(path)).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    let mut tests = BTreeSet::new();
    for result in value["results"].as_array().unwrap() {
        let test = result["test"].as_str().unwrap();
        assert!(tests.insert(test.to_string()), "{test} twice");
        for r in std::iter::once(result).chain(result["subtests"].as_array().unwrap()) {
            assert_ne!(r.get("expected"), Some(&r["status"]), "{r}");
        }
    }
    value
}

/// `text` as XML element content.
fn xml_escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn load(path: &Path) -> Report {
    streamconform_publish::load(path).unwrap()
}

/// Testcases a report must give: every result, every not-applicable case
/// on every backend.
fn expected_testcases(report: &Report) -> usize {
    report.results.len() + report.not_applicable.len() * report.run.backends.len()
}

#[test]
fn reference_run_writes_every_format_and_report_remakes_them() {
    let dir = tempfile::tempdir().unwrap();
    streamconform("run --backend reference --suite webapi --report r.json --junit j.xml --wptreport w.json --markdown m.md", dir.path(), 0);
    let report = load(&dir.path().join("r.json"));
    assert!(!report.results.is_empty());

    let suites = junit(&dir.path().join("j.xml"));
    let cases: Vec<&junit_parser::TestCase> = suites.suites.iter().flat_map(|s| &s.cases).collect();
    assert_eq!(cases.len(), expected_testcases(&report));
    assert!(cases.iter().all(|c| c.status.is_success()));
    let names: Vec<&str> = suites.suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["reference/webapi"]);

    // One backend: the file is the path given.
    let wpt = valid_wptreport(&dir.path().join("w.json"));
    assert_eq!(wpt["run_info"]["product"], "reference");
    assert_eq!(wpt["run_info"]["revision"], REVISION);
    assert_eq!(
        wpt["results"].as_array().unwrap().len(),
        report.results.len() + report.not_applicable.len()
    );

    let md = read(&dir.path().join("m.md"));
    assert!(
        md.starts_with("## streamconform: no unexpected results"),
        "{md}"
    );
    let passed = report
        .results
        .iter()
        .filter(|c| c.status == Status::Passed)
        .count();
    assert!(md.contains("| reference | wasmparser"), "{md}");
    assert!(md.contains(&format!("| {passed} | 0 |")), "{md}");

    // The same from the saved report.
    streamconform(
        "report r.json --junit j2.xml --wptreport w2.json --markdown m2.md",
        dir.path(),
        0,
    );
    for (a, b) in [
        ("j.xml", "j2.xml"),
        ("w.json", "w2.json"),
        ("m.md", "m2.md"),
    ] {
        assert_eq!(
            read(&dir.path().join(a)),
            read(&dir.path().join(b)),
            "{a} and {b} differ"
        );
    }
}

#[test]
fn node_failures_are_failures_with_repro_and_expected_ones_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("node.toml"),
        r#"backend = "node"

[[rule]]
cases = "webapi/chunks/all-chunks-*"
reason = "Node reads chunks that are not Uint8Arrays as bytes"
"#,
    )
    .unwrap();
    // Node's real deviations not in the expectations fail the run.
    let out = streamconform(
        "run --backend node --backend reference --suite webapi --filter webapi/chunks/ --expectations node.toml --report r.json --junit j.xml --wptreport w.json --markdown m.md",
        dir.path(),
        1,
    );
    let text = common::text(&out);
    let report = load(&dir.path().join("r.json"));
    let failed: Vec<_> = report
        .results
        .iter()
        .filter(|c| c.status == Status::Failed)
        .collect();
    let expected_failures: Vec<_> = report
        .results
        .iter()
        .filter(|c| c.status == Status::ExpectedFailure)
        .collect();
    assert!(
        !failed.is_empty() && !expected_failures.is_empty(),
        "{text}"
    );

    let suites = junit(&dir.path().join("j.xml"));
    let xml = read(&dir.path().join("j.xml"));
    let names: Vec<&str> = suites.suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["node/webapi", "reference/webapi"]);
    let cases: Vec<&junit_parser::TestCase> = suites.suites.iter().flat_map(|s| &s.cases).collect();
    assert_eq!(cases.len(), expected_testcases(&report));
    let node_case = |id: &str| {
        suites.suites[0]
            .cases
            .iter()
            .find(|c| c.original_name == id)
            .unwrap_or_else(|| panic!("{id} not in the JUnit"))
    };
    for case in &failed {
        let junit_parser::TestStatus::Failure(f) = &node_case(&case.id).status else {
            panic!("{} is not a failure in the JUnit", case.id)
        };
        let repro = case.repro.as_deref().unwrap();
        // junit-parser 1.7 drops entity references from element text
        // (quick-xml 0.38+ reports `&amp;` as its own event, which it does
        // not read), so the `cd DIR &&` of the repro line reaches it
        // without the `&&`: it must see the command, and the file must
        // hold the whole line, escaped.
        let command = repro.rsplit("&& ").next().unwrap();
        assert!(f.text.contains(command), "{}", f.text);
        assert!(
            xml.contains(&format!("repro: {}", xml_escaped(repro))),
            "{repro}"
        );
        assert!(f.text.contains("failing plans: "), "{}", f.text);
    }
    for case in &expected_failures {
        let junit_parser::TestStatus::Skipped(s) = &node_case(&case.id).status else {
            panic!("{} is not skipped in the JUnit", case.id)
        };
        assert!(s.message.starts_with("expected failure: "), "{}", s.message);
        assert!(s.message.contains("Node reads chunks"), "{}", s.message);
    }
    let failures: usize = cases.iter().filter(|c| c.status.is_failure()).count();
    assert_eq!(failures, failed.len());

    // Several backends: a file each, not the path given.
    assert!(!dir.path().join("w.json").exists());
    for backend in ["node", "reference"] {
        let wpt = valid_wptreport(&dir.path().join(format!("w-{backend}.json")));
        assert_eq!(wpt["run_info"]["product"], backend);
        let results = wpt["results"].as_array().unwrap();
        let ran = report
            .results
            .iter()
            .filter(|c| c.backend == backend)
            .count();
        assert_eq!(results.len(), ran + report.not_applicable.len());
        if backend == "node" {
            for case in &failed {
                let result = results
                    .iter()
                    .find(|r| r["test"] == format!("/streamconform/{}", case.id))
                    .unwrap();
                let fails = result["subtests"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|s| s["status"] == "FAIL" && s["expected"] == "PASS")
                    .count();
                let not_kept = case.failing_plans_total > case.failing_plans.len();
                assert_eq!(fails, case.failing_plans.len() + usize::from(not_kept));
            }
        }
    }

    let md = read(&dir.path().join("m.md"));
    assert!(
        md.starts_with(&format!(
            "## streamconform: {} unexpected results",
            failed.len()
        )),
        "{md}"
    );
    for case in &failed {
        assert!(md.contains(&format!("[node] `{}`", case.id)), "{md}");
        assert!(md.contains(case.repro.as_deref().unwrap()), "{md}");
    }
    assert!(md.len() < 10 * 1024);
}

#[test]
fn a_report_without_a_revision_is_not_what_wpt_fyi_ingests() {
    // The documented consequence of an unknown revision: the file is
    // written, and the schema (like wpt.fyi) refuses it.
    let dir = tempfile::tempdir().unwrap();
    streamconform(
        "run --backend reference --suite webapi --filter webapi/chunks/ --report r.json",
        dir.path(),
        0,
    );
    let mut report: serde_json::Value =
        serde_json::from_str(&read(&dir.path().join("r.json"))).unwrap();
    report["run"].as_object_mut().unwrap().remove("revision");
    std::fs::write(dir.path().join("r.json"), report.to_string()).unwrap();
    streamconform("report r.json --wptreport w.json", dir.path(), 0);
    let value: serde_json::Value = serde_json::from_str(&read(&dir.path().join("w.json"))).unwrap();
    assert!(value["run_info"].get("revision").is_none());
    assert!(!jsonschema::is_valid(&schema(), &value));
}
