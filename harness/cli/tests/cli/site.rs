//! The HTML site and the history end to end: a real run (reference and
//! node on part of the Web API suite, node's chunk deviations listed as
//! expected, its Content-Type ones not), kept as two nights of which the
//! second has one case flipped to a failure; the site is loaded in headless
//! Chromium (`--dump-dom`), which must report no console message, show the
//! counts computed here from the report, name the regression and render a
//! case's failing plans and repro line.
//!
//! `STREAMCONFORM_SITE_SCREENSHOT=FILE.png` also saves a screenshot of the
//! matrix page there, `STREAMCONFORM_HISTORY_SCREENSHOT=FILE.png` one of
//! the index of three nights.

use crate::common;

use common::{scratch, streamconform, text};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use streamconform::reporter::json::{Report, ReportedCase};
use streamconform::verdict::{Status, Verdict};

/// node's Web API chunk deviations, listed as known; the Content-Type
/// ones stay deviations.
const NODE_EXPECTATIONS: &str = r#"backend = "node"
[[rule]]
cases = "webapi/chunks/{all-chunks,bad-first,bad-after-module}-*"
reason = "Node reads non-Uint8Array chunks as bytes <on purpose & \"quoted\">"
"#;

/// The report of the real run, made once for all tests here.
fn real_report() -> &'static Path {
    static REPORT: OnceLock<PathBuf> = OnceLock::new();
    REPORT.get_or_init(|| {
        let dir = scratch("site-run");
        std::fs::write(dir.join("node.toml"), NODE_EXPECTATIONS).unwrap();
        let out = streamconform(
            &[
                "run",
                "--backend",
                "reference",
                "--backend",
                "node",
                "--suite",
                "webapi",
                "--filter",
                "webapi/c",
                "--expectations",
                "node.toml",
                "--report",
                "run.json",
            ],
            &dir,
        );
        // node's Content-Type deviations make it 1.
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        dir.join("run.json")
    })
}

fn read(path: &Path) -> Report {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn write(report: &Report, path: &Path) {
    std::fs::write(path, serde_json::to_string(report).unwrap()).unwrap();
}

/// Night one is the real run; night two the same a day later with one of
/// node's passing Content-Type cases failing (its summary row too).
/// Writes `night1.json` and `night2.json` in `dir`; returns their paths and
/// the flipped case's id.
fn two_nights(dir: &Path) -> (PathBuf, PathBuf, String) {
    let mut report = read(real_report());
    report.run.started_at = "2026-01-01T03:00:00Z".into();
    let first = dir.join("night1.json");
    write(&report, &first);
    report.run.started_at = "2026-01-02T03:00:00Z".into();
    let case = report
        .results
        .iter_mut()
        .find(|c| c.backend == "node" && c.group == "content-type" && c.status == Status::Passed)
        .expect("a passing node content-type case");
    case.status = Status::Failed;
    case.verdict = Verdict::Fail;
    let id = case.id.clone();
    let row = report
        .summary
        .iter_mut()
        .find(|r| r.backend == "node" && r.group == "content-type")
        .unwrap();
    row.passed -= 1;
    row.failed += 1;
    let second = dir.join("night2.json");
    write(&report, &second);
    (first, second, id)
}

/// What headless Chromium makes of `url`: the DOM after load, and the page's
/// console messages (Chromium logs each at INFO as `...:CONSOLE...`).
pub(crate) fn load_in_chromium(url: &str, profile: &Path, extra: &[&str]) -> (String, Vec<String>) {
    if Command::new("chromium").arg("--version").output().is_err() {
        common::install_browsers();
    }
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--enable-logging=stderr",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed on {url}: {}",
        text(&out)
    );
    let console = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .map(str::to_string)
        .collect();
    (String::from_utf8_lossy(&out.stdout).into_owned(), console)
}

/// Chromium's arguments to save a screenshot where the environment
/// variable `var` says, if it is set.
fn screenshot_args(var: &str) -> Vec<String> {
    match std::env::var(var) {
        Ok(file) => vec![
            format!("--screenshot={file}"),
            "--window-size=1400,1000".into(),
        ],
        Err(_) => Vec::new(),
    }
}

/// The text of `html` with its tags removed and the entities Chromium
/// writes in text decoded.
pub(crate) fn strip_tags(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// The matrix cells in `dom`: (backend, suite, group) -> the cell's inner HTML.
fn matrix_cells(dom: &str) -> BTreeMap<(String, String, String), String> {
    let mut cells = BTreeMap::new();
    let mut rest = dom;
    while let Some(start) = rest.find("<td class=\"cell ") {
        rest = &rest[start..];
        let attr = |name: &str| {
            let key = format!("{name}=\"");
            let from = rest.find(&key).unwrap() + key.len();
            rest[from..from + rest[from..].find('"').unwrap()].to_string()
        };
        let open_end = rest.find('>').unwrap() + 1;
        let close = rest.find("</td>").unwrap();
        let key = (attr("data-backend"), attr("data-suite"), attr("data-group"));
        // The total row has no suite: keyed by its backend alone.
        cells.insert(key, rest[open_end..close].to_string());
        rest = &rest[close..];
    }
    cells
}

/// The link of the matrix cell of `case`.
fn cell_link<'a>(
    cells: &'a BTreeMap<(String, String, String), String>,
    case: &ReportedCase,
) -> &'a str {
    let cell = &cells[&(case.backend.clone(), case.suite.clone(), case.group.clone())];
    let href = &cell[cell.find("href=\"").expect("a link") + 6..];
    &href[..href.find('"').unwrap()]
}

/// Per (backend, suite, group): (passed, judged), counted from the results.
fn expected_counts(report: &Report) -> BTreeMap<(String, String, String), (usize, usize)> {
    let mut counts: BTreeMap<_, (usize, usize)> = BTreeMap::new();
    for c in &report.results {
        let e = counts
            .entry((c.backend.clone(), c.suite.clone(), c.group.clone()))
            .or_default();
        if c.status != Status::NotApplicable {
            e.1 += 1;
        }
        if matches!(c.status, Status::Passed | Status::UnexpectedPass) {
            e.0 += 1;
        }
    }
    counts
}

#[test]
fn the_site_of_two_nights_renders_in_chromium_with_the_reports_numbers_and_the_regression() {
    let dir = scratch("site-browser");
    let (_, second, flipped) = two_nights(&dir);
    let site = dir.join("site");
    let out = streamconform(&["report", "night1.json", "--history", "history"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = streamconform(
        &[
            "report",
            "night2.json",
            "--history",
            "history",
            "--html",
            "site",
            "--markdown",
            "summary.md",
            "--fail-on-regression",
        ],
        &dir,
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "a regression fails: {}",
        text(&out)
    );
    assert!(
        text(&out).contains("1 regressed, 0 fixed"),
        "{}",
        text(&out)
    );
    // The Markdown summary names it too, under its regressions.
    let markdown = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    let regressions = &markdown[markdown.find("Regressions").expect("a regressions section")..];
    assert!(regressions.contains(&flipped), "{markdown}");

    let report = read(&second);
    let profile = dir.join("profile");
    let index = format!("file://{}", site.join("index.html").display());
    let extra = screenshot_args("STREAMCONFORM_SITE_SCREENSHOT");
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let (dom, console) = load_in_chromium(&index, &profile, &extra);
    assert!(
        console.is_empty(),
        "console messages on the index: {console:#?}"
    );

    // Every cell shows the counts of the results, and there are no others.
    let cells = matrix_cells(&dom);
    let expected = expected_counts(&report);
    for (key, (passed, judged)) in &expected {
        let cell = cells
            .get(key)
            .unwrap_or_else(|| panic!("no cell for {key:?}"));
        let count = &cell[cell.find("<span class=\"count\">").expect("a count") + 20..];
        let count = &count[..count.find("</span>").unwrap()];
        assert_eq!(
            count,
            format!("{passed} / {judged}"),
            "{key:?}: the cell says {cell}"
        );
    }
    let totals = cells
        .keys()
        .filter(|(_, suite, _)| suite.is_empty())
        .count();
    assert_eq!(totals, 2, "a total per backend");
    assert_eq!(cells.len(), expected.len() + totals);

    // The regression is named under "Regressed", and links to its case.
    let regressed = &dom[dom.find("id=\"regressed\"").expect("a regressed list")..];
    let regressed = &regressed[..regressed.find("</div>").unwrap()];
    assert!(regressed.contains(&flipped), "{regressed}");
    assert!(
        strip_tags(regressed).contains("passed → failed"),
        "{regressed}"
    );
    // With its strip: passed the first night, failed the second.
    assert!(
        regressed.contains("<i class=\"s-p\"></i><i class=\"s-f\"></i></span>"),
        "{regressed}"
    );
    assert!(
        !dom.contains("id=\"window\""),
        "two nights have no window beyond the night before"
    );

    // A deviation's page, opened on it by the link's fragment.
    let deviation = report
        .results
        .iter()
        .find(|c| c.backend == "node" && c.status == Status::Failed && c.id != flipped)
        .expect("a real node deviation");
    let href = cell_link(&cells, deviation);
    let fragment: String = deviation
        .id
        .bytes()
        .map(|b| match b {
            b'/' => "%2F".to_string(),
            b => (b as char).to_string(),
        })
        .collect();
    let page = format!("file://{}#q={fragment}", site.join(href).display());
    let (dom, console) = load_in_chromium(&page, &profile, &[]);
    assert!(
        console.is_empty(),
        "console messages on {page}: {console:#?}"
    );
    let listed: Vec<&str> = report
        .results
        .iter()
        .filter(|c| {
            c.backend == deviation.backend
                && c.group == deviation.group
                && c.status != Status::Passed
        })
        .map(|c| c.id.as_str())
        .collect();
    // The filter matches text: the id also finds its `@instantiate` twin.
    let shown = listed
        .iter()
        .filter(|id| id.contains(&deviation.id))
        .count();
    assert!(
        (1..=2).contains(&shown),
        "{shown} cases match {}",
        deviation.id
    );
    assert!(
        dom.contains(&format!("{shown} of {} shown", listed.len())),
        "the page's filter did not run or miscounted: {dom}"
    );
    let details = &dom[dom.find(&format!("data-id=\"{}\"", deviation.id)).unwrap()..];
    let details = &details[..details.find("</details>").unwrap()];
    assert!(!details.contains("hidden"), "{details}");
    // The case's result on each night: failed on both.
    assert!(
        details.contains("<span class=\"strip\" data-from=\"0\"><i class=\"s-f\"></i><i class=\"s-f\"></i></span>"),
        "{details}"
    );
    let plan = &deviation.failing_plans[0];
    assert!(
        details.contains(&format!("<code>{}</code>", plan.plan)),
        "{details}"
    );
    let repro = deviation.repro.as_ref().unwrap();
    assert!(strip_tags(details).contains(repro.as_str()), "{details}");
    assert!(strip_tags(details).contains("failed"), "{details}");

    // node's chunk cases are expected failures, told apart, with their reason.
    let chunks = report
        .results
        .iter()
        .find(|c| c.status == Status::ExpectedFailure)
        .expect("an expected failure");
    let href = cell_link(&cells, chunks);
    let page = format!("file://{}", site.join(href).display());
    let (dom, console) = load_in_chromium(&page, &profile, &[]);
    assert!(
        console.is_empty(),
        "console messages on {page}: {console:#?}"
    );
    assert!(dom.contains("Expected failures ("), "{dom}");
    // Its strip: an expected failure on both nights.
    let entry = &dom[dom.find(&format!("data-id=\"{}\"", chunks.id)).unwrap()..];
    let summary = &entry[..entry.find("</summary>").unwrap()];
    assert!(
        summary.contains("<i class=\"s-x\"></i><i class=\"s-x\"></i></span>"),
        "{summary}"
    );
    assert!(dom.contains("details class=\"case expected\""), "{dom}");
    assert!(
        dom.contains(
            "Node reads non-Uint8Array chunks as bytes &lt;on purpose &amp; \"quoted\"&gt;"
        ),
        "the reason, escaped: {dom}"
    );
}

/// A third night like the second: nothing changed since the night before,
/// but over the window of three nights the flipped case is a regression,
/// listed with its strip; the history was read from its index.
#[test]
fn a_window_of_nights_lists_what_regressed_across_it() {
    let dir = scratch("site-window");
    let (_, second, flipped) = two_nights(&dir);
    let mut third = read(&second);
    third.run.started_at = "2026-01-03T03:00:00Z".into();
    write(&third, &dir.join("night3.json"));
    for night in ["night1.json", "night2.json"] {
        let out = streamconform(&["report", night, "--history", "history"], &dir);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    let out = streamconform(
        &[
            "report",
            "night3.json",
            "--history",
            "history",
            "--history-window",
            "3",
            "--html",
            "site",
            "--fail-on-regression",
        ],
        &dir,
    );
    // Nothing regressed since the night before.
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out)
            .contains("history: 3 night(s), 0 read from their reports, the rest from its index"),
        "{}",
        text(&out)
    );
    let profile = dir.join("profile");
    let index = format!("file://{}", dir.join("site/index.html").display());
    let extra = screenshot_args("STREAMCONFORM_HISTORY_SCREENSHOT");
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let (dom, console) = load_in_chromium(&index, &profile, &extra);
    assert!(console.is_empty(), "console messages: {console:#?}");
    let window = &dom[dom.find("id=\"window\"").expect("a window section")..];
    assert!(
        window.starts_with("id=\"window\">Over the last 3 nights</h2>"),
        "{window}"
    );
    let regressed = &window[window.find("id=\"window-regressed\"").unwrap()..];
    let regressed = &regressed[..regressed.find("</div>").unwrap()];
    assert!(regressed.contains(&flipped), "{regressed}");
    assert!(
        regressed
            .contains("<i class=\"s-p\"></i><i class=\"s-f\"></i><i class=\"s-f\"></i></span>"),
        "{regressed}"
    );
    let last = &dom[dom.find("id=\"regressed\"").unwrap()..];
    let last = &last[..last.find("</div>").unwrap()];
    assert!(
        !last.contains(&flipped),
        "not since the night before: {last}"
    );
}

#[test]
fn a_night_run_again_replaces_itself_and_a_stray_json_is_an_error_naming_it() {
    let dir = scratch("site-history");
    let (first, _, _) = two_nights(&dir);
    let history = dir.join("history");
    std::fs::create_dir_all(&history).unwrap();
    std::fs::write(history.join("README.txt"), "nights of the nightly run\n").unwrap();
    for _ in 0..2 {
        let out = streamconform(&["report", "night1.json", "--history", "history"], &dir);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        // One night: no changes to report.
        assert!(!text(&out).contains("regressed"), "{}", text(&out));
    }
    let mut names: Vec<String> = std::fs::read_dir(&history)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let report = read(&first);
    let revision: String = report
        .run
        .revision
        .as_deref()
        .map_or("norev".into(), |r| r.chars().take(12).collect());
    assert_eq!(
        names,
        [
            "2026-01-01-".to_string() + &revision + ".json.gz",
            "README.txt".into(),
            "index.json.gz".into()
        ]
    );

    std::fs::write(history.join("notes.json"), "{\"not\": \"a report\"}").unwrap();
    let out = streamconform(&["report", "night1.json", "--history", "history"], &dir);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("notes.json: not a streamconform report"),
        "{}",
        text(&out)
    );

    // A report of no results makes no site.
    let mut empty = report;
    empty.results.clear();
    let empty_path = dir.join("empty.json");
    write(&empty, &empty_path);
    let out = streamconform(&["report", "empty.json", "--html", "site"], &dir);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("no results"), "{}", text(&out));
}

/// The text of each `<span class="count">` in `html`, in order.
fn counts(html: &str) -> Vec<String> {
    html.split("<span class=\"count\">")
        .skip(1)
        .map(|s| s[..s.find("</span>").unwrap()].to_string())
        .collect()
}

/// Interop end to end: a real run of node, bun and deno (and the
/// reference, which is not an engine) on part of the Web API suite. In
/// headless Chromium the index shows, per group, how many cases all three
/// pass and each pair passes, as counted here from the report; the
/// disagreement page lists exactly the cases some engine passes and
/// another does not, each with every engine's status in its column.
#[test]
fn interop_of_three_real_engines_shows_the_reports_numbers_and_disagreements() {
    common::install_js_engines();
    let dir = scratch("site-interop");
    let out = streamconform(
        &[
            "run",
            "--backend",
            "reference",
            "--backend",
            "node",
            "--backend",
            "bun",
            "--backend",
            "deno",
            "--suite",
            "webapi",
            "--filter",
            "webapi/c",
            "--report",
            "run.json",
            "--html",
            "site",
        ],
        &dir,
    );
    // Deviations without expectations make it 1; nothing else may.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report = read(&dir.join("run.json"));
    let engines = ["node", "bun", "deno"];
    let pairs = [(0, 1), (0, 2), (1, 2)];

    // Per case id, each engine's verdict: Some(passes) when judged.
    let mut cases: BTreeMap<(String, String, String), [Option<bool>; 3]> = BTreeMap::new();
    for c in &report.results {
        let Some(e) = engines.iter().position(|e| *e == c.backend) else {
            continue;
        };
        let entry = cases
            .entry((c.suite.clone(), c.group.clone(), c.id.clone()))
            .or_default();
        entry[e] = (c.status != Status::NotApplicable)
            .then_some(matches!(c.status, Status::Passed | Status::UnexpectedPass));
    }
    // Per group: the expected counts, in the table's order (all, pairs).
    let mut expected: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut disagreeing = Vec::new();
    let groups: std::collections::BTreeSet<&String> = cases.keys().map(|(_, g, _)| g).collect();
    for group in groups {
        let of_group: Vec<&[Option<bool>; 3]> = cases
            .iter()
            .filter(|((_, g, _), _)| g == group)
            .map(|(_, v)| v)
            .collect();
        let judged: Vec<_> = of_group
            .iter()
            .filter(|v| v.iter().all(Option::is_some))
            .collect();
        let all = judged
            .iter()
            .filter(|v| v.iter().all(|p| *p == Some(true)))
            .count();
        let mut row = vec![format!("{all} / {}", judged.len())];
        for (a, b) in pairs {
            let both: Vec<_> = of_group
                .iter()
                .filter(|v| v[a].is_some() && v[b].is_some())
                .collect();
            let pass = both
                .iter()
                .filter(|v| v[a] == Some(true) && v[b] == Some(true))
                .count();
            row.push(format!("{pass} / {}", both.len()));
        }
        expected.insert(group.clone(), row);
    }
    for ((_, _, id), v) in &cases {
        if v.contains(&Some(true)) && v.contains(&Some(false)) {
            disagreeing.push(id.clone());
        }
    }
    assert!(
        !disagreeing.is_empty(),
        "these engines are known to disagree on webapi/chunks"
    );

    let profile = dir.join("profile");
    let index = format!("file://{}", dir.join("site/index.html").display());
    let (dom, console) = load_in_chromium(&index, &profile, &[]);
    assert!(console.is_empty(), "console messages: {console:#?}");
    let section = &dom[dom.find("id=\"interop\"").expect("an interop section")..];
    let section = &section[..section.find("</table>").unwrap()];
    assert!(
        strip_tags(section)
            .contains("Engines: node, bun, deno (the reference model is not an engine)"),
        "{section}"
    );
    let mut shown: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in section.split("<tr class=\"group\">").skip(1) {
        let row = &row[..row.find("</tr>").unwrap()];
        let cells: Vec<&str> = row.split("<td").collect();
        let group = strip_tags(&format!("<td{}", cells[2]));
        shown.insert(group, counts(row));
    }
    assert_eq!(shown, expected, "the interop table against the report");
    let link = &dom[dom
        .find("<a href=\"interop.html\">")
        .expect("a link to the disagreements")..];
    let link = strip_tags(&link[..link.find("</a>").unwrap()]);
    assert_eq!(
        link,
        format!("{} cases where engines disagree", disagreeing.len())
    );

    let page = format!("file://{}", dir.join("site/interop.html").display());
    let (dom, console) = load_in_chromium(&page, &profile, &[]);
    assert!(console.is_empty(), "console messages: {console:#?}");
    let n = disagreeing.len();
    assert!(dom.contains(&format!("{n} of {n} shown")), "{dom}");
    let listed: Vec<String> = dom
        .split("<tr class=\"case\" data-id=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].to_string())
        .collect();
    assert_eq!(listed, disagreeing);
    // Each engine's status in its own column, in the engines' order.
    let first = &dom[dom.find("<tr class=\"case\"").unwrap()..];
    let first = &first[..first.find("</tr>").unwrap()];
    let columns: Vec<String> = first
        .split("<td class=\"o-")
        .skip(1)
        .map(|td| strip_tags(&format!("<{td}")))
        .collect();
    for (e, column) in engines.iter().zip(&columns) {
        let case = report
            .results
            .iter()
            .find(|c| c.backend == *e && c.id == disagreeing[0])
            .unwrap();
        let word = match case.status {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::ExpectedFailure => "expected failure",
            Status::NotApplicable => "not applicable",
            other => panic!("{other:?} in this run"),
        };
        assert!(column.starts_with(word), "{e}: {column}");
    }
}
