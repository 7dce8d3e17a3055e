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
use std::path::Path;

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
