//! `docs/wpt-instantiate-streaming.md` maps every WPT subtest of
//! `instantiateStreaming` (207, in 14 files) to a case: each case it names is in the
//! built-in `webapi` suite, each file has the count its heading says, and
//! the counts are WPT's (pinned here, so a lost row fails).

use std::collections::{BTreeMap, HashSet};
use streamconform::suites::{load, SuiteSpec};

/// Subtests per file, per global scope, from the current helper files.
const WPT_COUNTS: &[(&str, usize)] = &[
    ("instantiateStreaming-bad-imports.any.js", 106),
    ("instantiateStreaming-omitted-imports.any.js", 2),
    ("instantiateStreaming.any.js", 25),
    ("wasm_stream_instantiate_test (.html, .any.js)", 13),
    // The files shared with compileStreaming.
    ("abort.any.js", 3),
    ("body.any.js", 2),
    ("contenttype.any.js", 16),
    ("empty-body.any.js", 4),
    ("invalid-args.any.js", 22),
    ("invalid-code.any.js", 1),
    ("modified-contenttype.any.js", 2),
    ("origin.sub.any.js", 2),
    ("rejected-arg.any.js", 1),
    ("status.any.js", 8),
];

/// The table: file -> (subtest, case id), in order.
fn table(text: &str) -> BTreeMap<String, Vec<(String, String)>> {
    let mut files: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for (number, line) in text.lines().enumerate() {
        if let Some(heading) = line.strip_prefix("## `") {
            let (file, count) = heading.split_once("`: ").unwrap_or_else(|| {
                panic!("line {}: a heading is \"## `FILE`: COUNT\"", number + 1)
            });
            let count: usize = count.parse().unwrap();
            files.insert(file.to_string(), Vec::with_capacity(count));
            current = Some(file.to_string());
            continue;
        }
        let Some(row) = line.strip_prefix("| ") else {
            continue;
        };
        if row.starts_with("subtest |") || row.starts_with("---") {
            continue;
        }
        let cells: Vec<&str> = row.trim_end_matches(" |").split(" | ").collect();
        let [subtest, case] = cells[..] else {
            panic!("line {}: a row is | subtest | `case` |: {line}", number + 1)
        };
        let case = case.trim_matches('`');
        let file = current
            .as_ref()
            .unwrap_or_else(|| panic!("line {}: a row before any file heading", number + 1));
        files
            .get_mut(file)
            .unwrap()
            .push((subtest.to_string(), case.to_string()));
    }
    files
}

#[test]
fn every_instantiate_streaming_subtest_of_wpt_has_a_case() {
    let path = crate::docs::repo_root().join("docs/wpt-instantiate-streaming.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let files = table(&text);
    let loaded = load(&SuiteSpec::WebApi);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let ids: HashSet<&str> = loaded.cases.iter().map(|c| c.id.as_str()).collect();
    let mut missing = Vec::new();
    for &(file, count) in WPT_COUNTS {
        let rows = files
            .get(file)
            .unwrap_or_else(|| panic!("no table for {file}"));
        assert_eq!(rows.len(), count, "{file}: subtests in the table");
        let mut names = HashSet::new();
        for (subtest, case) in rows {
            assert!(names.insert(subtest), "{file}: {subtest:?} is listed twice");
            assert!(
                case.ends_with("@instantiate"),
                "{file}: {subtest:?} maps to {case}, not an instantiateStreaming case"
            );
            if !ids.contains(case.as_str()) {
                missing.push(format!("{file}: {subtest:?} -> {case}"));
            }
        }
    }
    assert_eq!(files.len(), WPT_COUNTS.len(), "files: {:?}", files.keys());
    assert!(missing.is_empty(), "cases not in the suite: {missing:#?}");
}

#[test]
fn the_table_reader_refuses_a_row_that_is_not_subtest_and_case() {
    let text = "## `f.js`: 1\n\n| subtest | case |\n|---|---|\n| a | `x@instantiate` |\n";
    assert_eq!(
        table(text)["f.js"],
        [("a".to_string(), "x@instantiate".to_string())]
    );
    let broken = std::panic::catch_unwind(|| table("## `f.js`: 1\n| a |\n"));
    assert!(broken.is_err());
}
