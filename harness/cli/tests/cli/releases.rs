//! Releases of one engine side by side (`--backend node --backend
//! node@22`): what differs between them, in the terminal, the Markdown
//! summary and the site, checked against the run's own JSON report.

use crate::common;
use std::collections::{BTreeMap, BTreeSet};
use streamconform::reporter::json::Report;
use streamconform::verdict::Status;

/// What a result says of the engine, read here from the report on its
/// own: a pass, a failure, a failure on a proposal it lacks.
fn standing(status: Status, unsupported: bool) -> Option<&'static str> {
    match status {
        Status::Passed | Status::UnexpectedPass => Some("passes"),
        Status::Failed | Status::ExpectedFailure if unsupported => Some("unsupported"),
        Status::Failed | Status::ExpectedFailure => Some("fails"),
        Status::Invalid => Some("invalid"),
        Status::NotApplicable | Status::Flaky | Status::KnownFlaky => None,
    }
}

#[test]
fn what_differs_between_two_releases_is_shown_everywhere_and_only_that() {
    let dir = common::scratch("releases-side-by-side");
    let out = common::streamconform(
        &[
            "run",
            "--backend",
            "node",
            "--backend",
            "node@22",
            "--suite",
            "webapi",
            "--filter",
            "compile-options",
            "--plans",
            "reduced",
            "--show-failures",
            "0",
            "--report",
            "r.json",
            "--markdown",
            "s.md",
            "--html",
            "site",
        ],
        &dir,
    );
    let text = common::text(&out);
    // No expectations: the engines' deviations are unexpected (1), never
    // bad input (2).
    assert_eq!(out.status.code(), Some(1), "{text}");

    let report: Report =
        serde_json::from_slice(&std::fs::read(dir.join("r.json")).unwrap()).unwrap();
    let mut by_case: BTreeMap<&str, [Option<&str>; 2]> = BTreeMap::new();
    for case in &report.results {
        let slot = match case.backend.as_str() {
            "node" => 0,
            "node@22" => 1,
            other => panic!("backend {other}"),
        };
        by_case.entry(&case.id).or_default()[slot] =
            standing(case.status, !case.unsupported.is_empty());
    }
    let differing: BTreeSet<&str> = by_case
        .iter()
        .filter(|(_, [a, b])| a.is_some() && b.is_some() && a != b)
        .map(|(id, _)| *id)
        .collect();
    assert!(
        !differing.is_empty(),
        "node 20 and node 22 agree on every compile-options case:\n{text}"
    );

    // The terminal: the pair's line with counts adding up to the cases
    // that differ, and only such cases listed.
    let header = text
        .lines()
        .find(|l| l.starts_with("  node (node 20") && l.contains("-> node@22 (node 22."))
        .unwrap_or_else(|| panic!("no release pair line:\n{text}"));
    let number_before = |word: &str| -> usize {
        let at = header.find(word).unwrap();
        header[..at]
            .trim_end()
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(
        number_before(" regressed") + number_before(" fixed") + number_before(" changed"),
        differing.len(),
        "{header}"
    );
    assert_eq!(number_before(" cases compared"), by_case.len());
    let listed: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.starts_with("    regressed ")
                || l.starts_with("    fixed ")
                || l.starts_with("    changed ")
        })
        .map(|l| l.split_whitespace().nth(1).unwrap().trim_end_matches(':'))
        .collect();
    assert!(!listed.is_empty(), "{text}");
    for id in &listed {
        assert!(differing.contains(id), "{id} is listed but does not differ");
    }

    // The Markdown summary lists them up to its cap, then says how many
    // more; the site lists every one (fewer than its cap here).
    let markdown = std::fs::read_to_string(dir.join("s.md")).unwrap();
    let section = markdown
        .split_once("### Between releases")
        .unwrap_or_else(|| panic!("{markdown}"))
        .1;
    let in_summary: Vec<&str> = section
        .lines()
        .filter_map(|l| l.strip_prefix("- **"))
        .map(|l| l.split('`').nth(1).unwrap())
        .collect();
    assert!(!in_summary.is_empty(), "{section}");
    for id in &in_summary {
        assert!(
            differing.contains(id),
            "{id} is summarized but does not differ"
        );
    }
    if in_summary.len() < differing.len() {
        let more = format!("- … and {} more", differing.len() - in_summary.len());
        assert!(section.contains(&more), "{section}");
    }
    let site = std::fs::read_to_string(dir.join("site/index.html")).unwrap();
    let section = site.split_once("id=\"releases\"").unwrap().1;
    for id in &differing {
        assert!(
            section.contains(&format!("<code>{id}</code>")),
            "{id} not on the site"
        );
    }
    let on_site = section.matches("<li class=\"change ").count();
    assert_eq!(on_site, differing.len());
}
