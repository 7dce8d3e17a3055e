//! Evidence is verified, not trusted (issue 20, items 4 and 8):
//!
//! - item 4: `report merge` recounts shards from their results and checks
//!   shard membership, duplicates and claimed counts, and refuses to write
//!   over an input; `run --resume` checks each journaled result against
//!   the case as loaded now, refuses conflicting duplicate lines, and never
//!   takes `--bless` from a journal;
//! - item 8: a rule's staleness is judged only over the suites its file
//!   covers, so a run of a subset of them does not fail on a rule that is
//!   live in the full run.

use crate::common::{streamconform, text, VALID, WRONG_EXPECTATION};
use serde_json::Value;
use std::path::Path;
use streamconform::session::journal::Header;
use streamconform::session::RunSpec;

/// Suites `one` (a passing `x.wast`) and `two` (a failing `x.wast`), and
/// an expectations file made from both whose rule `**/x.wast:*` is live
/// only because of `two`; `only-one/**` matches passing cases of `one`
/// alone, so it is stale whenever `one` runs.
fn two_suites(dir: &Path, rules: &str) {
    for (suite, body) in [("one", VALID), ("two", WRONG_EXPECTATION)] {
        std::fs::create_dir_all(dir.join(suite)).unwrap();
        std::fs::write(dir.join(suite).join("x.wast"), body).unwrap();
    }
    std::fs::write(
        dir.join("e.toml"),
        format!("backend = \"reference\"\nsuites = [\"one\", \"two\"]\n{rules}"),
    )
    .unwrap();
}

const LIVE_IN_TWO: &str =
    "[[rule]]\ncases = \"**/x.wast:*\"\nreason = \"two is wrong on purpose\"\n";

fn run(dir: &Path, suites: &[&str]) -> std::process::Output {
    let mut args = vec!["run", "--no-truncation", "--expectations", "e.toml"];
    for suite in suites {
        args.extend(["--suite", suite]);
    }
    streamconform(&args, dir)
}

#[test]
fn a_rule_live_in_a_suite_not_run_is_not_stale() {
    let dir = tempfile::tempdir().unwrap();
    two_suites(dir.path(), LIVE_IN_TWO);
    let full = run(dir.path(), &["one", "two"]);
    assert_eq!(full.status.code(), Some(0), "{}", text(&full));

    // The subset: the rule matched only passing cases, but it may match
    // failing ones of `two`, which did not run.
    let subset = run(dir.path(), &["one"]);
    let out = text(&subset);
    assert_eq!(subset.status.code(), Some(0), "{out}");
    assert!(!out.contains("STALE RULE"), "{out}");
    assert!(
        out.contains("e.toml:4: rule cases = \"**/x.wast:*\" matched 1 case(s) and none failed; not judged stale")
            && out.contains("suite(s) two"),
        "{out}"
    );
}

#[test]
fn a_rule_that_can_match_only_suites_run_is_still_stale() {
    let dir = tempfile::tempdir().unwrap();
    // Rules are tried in order: `one/**` first, or `**/x.wast:*` takes
    // the case.
    let rules =
        format!("[[rule]]\ncases = \"one/**\"\nreason = \"stale: one passes\"\n{LIVE_IN_TWO}");
    two_suites(dir.path(), &rules);
    for suites in [&["one"][..], &["one", "two"]] {
        let out = run(dir.path(), suites);
        let said = text(&out);
        assert_eq!(out.status.code(), Some(1), "{suites:?}: {said}");
        assert!(
            said.contains("STALE RULE e.toml:4: rule cases = \"one/**\" matched 1 case(s)"),
            "{suites:?}: {said}"
        );
        assert!(!said.contains("STALE RULE e.toml:7"), "{suites:?}: {said}");
    }
}

#[test]
fn the_suites_key_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    two_suites(dir.path(), LIVE_IN_TWO);
    let head = "backend = \"reference\"\n";
    for (suites, line, says) in [
        ("suitez = [\"one\"]", 2, "unknown field `suitez`"),
        (
            "suites = [\"one\", \"one\"]",
            2,
            "`suites` lists \"one\" twice",
        ),
        (
            "suites = [\"one\", \" \"]",
            2,
            "`suites` lists \" \" twice or empty",
        ),
        ("suites = \"one\"", 2, "invalid type"),
    ] {
        let file = format!("{head}{suites}\n{LIVE_IN_TWO}");
        std::fs::write(dir.path().join("bad.toml"), &file).unwrap();
        let out = streamconform(
            &["run", "--suite", "one", "--expectations", "bad.toml"],
            dir.path(),
        );
        let said = text(&out);
        assert_eq!(out.status.code(), Some(2), "{file}: {said}");
        assert!(
            said.contains(&format!("bad.toml:{line}")) && said.contains(says),
            "{file}: {said}"
        );
    }
}

/// The two shards of a run of eight passing cases and two failing ones,
/// judged with a rule that matches passing cases only (stale), written to
/// `s1.json` and `s2.json`.
fn two_shards(dir: &Path) {
    std::fs::write(
        dir.join("e.toml"),
        "backend = \"reference\"\n[[rule]]\ncases = \"suite/m*\"\nreason = \"stale\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("suite")).unwrap();
    for i in 0..8 {
        std::fs::write(dir.join(format!("suite/m{i}.wast")), VALID).unwrap();
    }
    for i in 0..2 {
        std::fs::write(dir.join(format!("suite/w{i}.wast")), WRONG_EXPECTATION).unwrap();
    }
    for k in 1..=2 {
        let (shard, report) = (format!("--shard={k}/2"), format!("--report=s{k}.json"));
        let args = [
            "run",
            "--no-truncation",
            "--suite=suite",
            "--expectations=e.toml",
            &shard,
            &report,
        ];
        let out = streamconform(&args, dir);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn merge(dir: &Path, files: &[&str], output: &str) -> (Option<i32>, String) {
    let mut args = vec!["report", "merge"];
    args.extend(files);
    args.extend(["-o", output]);
    let out = streamconform(&args, dir);
    (out.status.code(), text(&out))
}

/// The index in `report`'s results of a failing (or, `failing` false, a
/// passing) one.
fn result_index(report: &Value, failing: bool) -> usize {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .position(|r| (r["verdict"] == "fail") == failing)
        .expect("each shard has a passing and a failing result")
}

type Forgery = fn(&mut Value, &mut Value);

#[test]
fn merge_recounts_and_verifies_shards_instead_of_trusting_them() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    two_shards(dir);
    let (code, said) = merge(dir, &["s1.json", "s2.json"], "out.json");
    assert_eq!(code, Some(1), "two unexpected failures: {said}");
    assert!(
        said.contains("10 (case, backend) pairs, 2 unexpected"),
        "{said}"
    );
    assert!(said.contains("STALE RULE e.toml:3"), "{said}");
    let original = [
        read_json(&dir.join("s1.json")),
        read_json(&dir.join("s2.json")),
    ];

    // Each forgery is done to shard 1 (and, where it moves a result, 2).
    let forgeries: [(&str, Forgery, &str); 11] = [
        (
            "results deleted, counters kept",
            |one, _| {
                one["results"].as_array_mut().unwrap().truncate(1);
            },
            "s1.json: it claims",
        ),
        (
            "results deleted, results counter lowered to match",
            |one, _| {
                let results = one["results"].as_array_mut().unwrap();
                let failing = results.iter().any(|r| r["verdict"] == "fail");
                results.retain(|r| r["verdict"] == "fail");
                assert!(failing);
                let left = results.len();
                one["finished"]["cases_run"] = left.into();
            },
            "s1.json: it claims",
        ),
        (
            "a failing result with unexpected 0",
            |one, _| one["finished"]["unexpected"] = 0.into(),
            "s1.json: it claims 0 unexpected results (finished.unexpected) but its results give 1",
        ),
        (
            "a failing result's status made passed",
            |one, _| {
                let i = result_index(one, true);
                one["results"][i]["status"] = "passed".into();
                one["finished"]["unexpected"] = 0.into();
            },
            "cannot follow from verdict fail",
        ),
        (
            "a failing result made a pass, its failing plans kept",
            |one, _| {
                let i = result_index(one, true);
                one["results"][i]["verdict"] = "pass".into();
                one["results"][i]["status"] = "passed".into();
            },
            "verdict pass but its plans and abort make it fail",
        ),
        (
            "a pass with no plan run",
            |one, _| {
                let i = result_index(one, false);
                one["results"][i]["plans_run"] = 0.into();
            },
            "verdict pass with no plan run",
        ),
        (
            "a failure marked expected with no expectation",
            |one, _| {
                let i = result_index(one, true);
                one["results"][i]["status"] = "expected-failure".into();
            },
            "cannot follow from verdict fail without an expectation",
        ),
        (
            "a result copied into the other shard",
            |one, two| {
                let copy = one["results"][0].clone();
                two["results"].as_array_mut().unwrap().push(copy);
            },
            "is in s1.json and in s2.json",
        ),
        (
            "a result moved into the wrong shard",
            |one, two| {
                let moved = one["results"].as_array_mut().unwrap().remove(0);
                two["results"].as_array_mut().unwrap().push(moved);
            },
            "s2.json: suite/",
        ),
        (
            "a result twice in one shard, counted",
            |one, _| {
                let copy = one["results"][0].clone();
                one["results"].as_array_mut().unwrap().push(copy);
                let results = one["results"].as_array().unwrap().len();
                one["finished"]["cases_run"] = results.into();
            },
            "is in s1.json and in s1.json",
        ),
        (
            "a stale rule's tally claiming a failure no result has",
            |one, _| {
                let tally = &mut one["finished"]["expectation_tallies"][0];
                assert_eq!(tally["kind"], "rule");
                tally["failed"] = 1.into();
            },
            "its expectation tallies count",
        ),
    ];
    for (what, forge, says) in forgeries {
        let [mut one, mut two] = original.clone();
        forge(&mut one, &mut two);
        std::fs::write(dir.join("f1.json"), one.to_string()).unwrap();
        std::fs::write(dir.join("f2.json"), two.to_string()).unwrap();
        // Named by the file given: the forged copies.
        let (code, said) = merge(dir, &["f1.json", "f2.json"], "out.json");
        let said = said
            .replace("f1.json", "s1.json")
            .replace("f2.json", "s2.json");
        assert_eq!(code, Some(2), "{what}: {said}");
        assert!(said.contains(says), "{what}: {said}");
    }
    // The wrong shard is named as such.
    let [mut one, mut two] = original.clone();
    forgeries[8].1(&mut one, &mut two);
    std::fs::write(dir.join("f2.json"), two.to_string()).unwrap();
    std::fs::write(dir.join("f1.json"), one.to_string()).unwrap();
    let (_, said) = merge(dir, &["f1.json", "f2.json"], "out.json");
    assert!(
        said.contains("belongs to shard 1/2, not to this report's shard 2/2"),
        "{said}"
    );
}

#[test]
fn merge_never_writes_over_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    two_shards(dir);
    std::os::unix::fs::symlink("s1.json", dir.join("link.json")).unwrap();
    std::fs::hard_link(dir.join("s2.json"), dir.join("hard.json")).unwrap();
    let before = std::fs::read(dir.join("s1.json")).unwrap();
    let before_two = std::fs::read(dir.join("s2.json")).unwrap();
    for output in ["s1.json", "./s2.json", "link.json", "hard.json", "../"] {
        let output = if output == "../" {
            // The same file through its directory's parent.
            let name = dir.file_name().unwrap().to_string_lossy();
            format!("../{name}/s1.json")
        } else {
            output.to_string()
        };
        let (code, said) = merge(dir, &["s1.json", "s2.json"], &output);
        assert_eq!(code, Some(2), "{output}: {said}");
        assert!(
            said.contains(&format!("the output {output} is the input")),
            "{output}: {said}"
        );
        assert_eq!(
            std::fs::read(dir.join("s1.json")).unwrap(),
            before,
            "{output}"
        );
        assert_eq!(
            std::fs::read(dir.join("s2.json")).unwrap(),
            before_two,
            "{output}"
        );
    }
}

/// A run of four passing cases and a known failure (`e.toml`), as the
/// journal of a run interrupted before one case would hold it: the
/// header (journaling `bless` when `bless`), then one line per result
/// but that of `suite/m3.wast:1`, from a complete run's report. Returns the
/// result lines as JSON, to forge.
fn journal_lines(dir: &Path, bless: bool) -> (String, Vec<Value>) {
    std::fs::create_dir_all(dir.join("suite")).unwrap();
    for i in 0..4 {
        std::fs::write(dir.join(format!("suite/m{i}.wast")), VALID).unwrap();
    }
    std::fs::write(dir.join("suite/w.wast"), WRONG_EXPECTATION).unwrap();
    std::fs::write(
        dir.join("e.toml"),
        "backend = \"reference\"\n# Kept as written unless blessed.\n\
         [[failure]]\ncase = \"suite/w.wast:1\"\nreason = \"wrong on purpose\"\n",
    )
    .unwrap();
    let spec = RunSpec {
        suites: vec!["suite".into()],
        truncation: false,
        expectations: vec!["e.toml".into()],
        report: Some("r.json".into()),
        bless,
        ..RunSpec::default()
    };
    let whole = streamconform(
        &[
            "run",
            "--suite=suite",
            "--no-truncation",
            "--expectations=e.toml",
            "--report=whole.json",
        ],
        dir,
    );
    assert_eq!(whole.status.code(), Some(0), "{}", text(&whole));
    let report = read_json(&dir.join("whole.json"));
    let header = Header::new(dir.canonicalize().unwrap(), spec);
    // Each result as the runner made it: the report's fields but those
    // that expectations and reporting add.
    let raw = [
        "id",
        "expected",
        "one_shot",
        "plans_run",
        "failing_plans_total",
        "failing_plans",
        "aborted",
        "verdict",
    ];
    let mut results: Vec<Value> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut result: serde_json::Map<String, Value> =
                raw.iter().map(|k| (k.to_string(), r[k].clone())).collect();
            if result["failing_plans"].is_null() {
                result["failing_plans"] = Value::Array(vec![]);
            }
            serde_json::json!({"backend": r["backend"], "duration_ms": 1, "result": result})
        })
        .collect();
    results.retain(|r| r["result"]["id"] != "suite/m3.wast:1");
    (serde_json::to_string(&header).unwrap(), results)
}

fn resume(dir: &Path, header: &str, lines: &[Value]) -> (Option<i32>, String) {
    let mut journal = format!("{header}\n");
    for line in lines {
        journal.push_str(&format!("{line}\n"));
    }
    std::fs::write(dir.join("r.json.journal"), journal).unwrap();
    let out = streamconform(&["run", "--resume", "r.json.journal"], dir);
    (out.status.code(), text(&out))
}

/// The journal line (from 2) of the result of `id`.
fn line_of(lines: &[Value], id: &str) -> usize {
    2 + lines
        .iter()
        .position(|l| l["result"]["id"] == id)
        .unwrap_or_else(|| panic!("{id} is journaled"))
}

#[test]
fn resume_checks_each_journaled_result_against_its_case() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (header, lines) = journal_lines(dir, false);
    let (code, said) = resume(dir, &header, &lines);
    assert_eq!(code, Some(0), "the journal as written resumes: {said}");
    assert!(said.contains("replay"), "{said}");

    let failing = "suite/w.wast:1";
    let passing = "suite/m0.wast:1";
    type Forgery = fn(&mut Vec<Value>);
    let forgeries: [(&str, &str, Forgery, &str); 6] = [
        (
            "a failure journaled as a pass, its failing plans kept",
            failing,
            |lines| {
                let i = lines
                    .iter()
                    .position(|l| l["result"]["verdict"] == "fail")
                    .unwrap();
                lines[i]["result"]["verdict"] = "pass".into();
            },
            "verdict pass but its plans and abort make it fail",
        ),
        (
            "a pass with no plan run",
            passing,
            |lines| lines[0]["result"]["plans_run"] = 0.into(),
            "verdict pass with no plan run",
        ),
        (
            "a pass with fewer plans than the case has",
            passing,
            |lines| lines[0]["result"]["plans_run"] = 1.into(),
            "it ran 1 plan(s), and this run gives the case",
        ),
        (
            "a changed expected outcome",
            passing,
            |lines| lines[0]["result"]["expected"] = "compile-error".into(),
            "judged expecting CompileError, and the case now expects Module",
        ),
        (
            "a later conflicting line for a case",
            "",
            |lines| {
                let mut later = lines[0].clone();
                later["result"]["aborted"] = "journaled twice".into();
                later["result"]["verdict"] = "fail".into();
                lines.push(later);
            },
            "a second result for suite/m0.wast:1 on reference, differing from the one on line 2",
        ),
        (
            "a later conflicting pass for a failing case",
            "",
            |lines| {
                let i = lines
                    .iter()
                    .position(|l| l["result"]["verdict"] == "fail")
                    .unwrap();
                let mut later = lines[i].clone();
                later["result"]["verdict"] = "pass".into();
                later["result"]["failing_plans"] = Value::Array(vec![]);
                later["result"]["failing_plans_total"] = 0.into();
                lines.push(later);
            },
            "a second result for suite/w.wast:1 on reference",
        ),
    ];
    assert_eq!(lines[0]["result"]["id"], passing);
    for (what, id, forge, says) in forgeries {
        let mut forged = lines.clone();
        forge(&mut forged);
        let line = if id.is_empty() {
            forged.len() + 1
        } else {
            line_of(&forged, id)
        };
        let (code, said) = resume(dir, &header, &forged);
        assert_eq!(code, Some(2), "{what}: {said}");
        assert!(
            said.contains(&format!("r.json.journal:{line}:")) && said.contains(says),
            "{what}: line {line}: {said}"
        );
    }
}

#[test]
fn a_journal_cannot_turn_on_bless() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (header, lines) = journal_lines(dir, true);
    assert!(header.contains("\"bless\":true"), "{header}");
    let before = std::fs::read(dir.join("e.toml")).unwrap();
    let (code, said) = resume(dir, &header, &lines);
    assert_eq!(code, Some(0), "{said}");
    assert!(!said.contains("blessed"), "{said}");
    assert_eq!(std::fs::read(dir.join("e.toml")).unwrap(), before, "{said}");
}
