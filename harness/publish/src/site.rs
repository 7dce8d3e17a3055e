//! A self-contained static HTML site of a report (`reports/SITE.md`): it
//! opens from `file://` with no server and no network, its CSS and script
//! inline.
//!
//! - `index.html`: the run; interop (what every engine passes, per suite
//!   and group and per pair of engines); a matrix of (suite, group) rows by
//!   backend columns with pass rates; and with a history the pass rate over
//!   time and the cases that regressed or were fixed;
//! - `interop.html`: the cases where engines disagree, each engine's
//!   outcome side by side (with two engines or more);
//! - `cells/N.html`: one page per matrix cell that has cases other than
//!   passes, listing them (deviations, expected failures, unsupported
//!   proposals, not applicable) with their failing plans and repro lines.
//!
//! Passing cases are only counted, never listed, so a night of 140,000
//! results per backend gives pages about as large as its failures.

use super::describe::one_line;
use super::history::{Change, History, PassRate};
use super::interop::{Interop, Share};
use super::PublishError;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;
use std::path::Path;
use streamconform::output;
use streamconform::reporter::json::{Report, ReportedCase};
use streamconform::reporter::releases::{Direction, ReleaseDiffs, Standing};
use streamconform::reporter::summary::SummaryRow;
use streamconform::verdict::{PlanFailure, Status};

/// Regressions or fixes listed per backend on the index; the rest are
/// counted.
pub(crate) const MAX_CHANGES_LISTED: usize = 200;
/// Input errors, setup errors and stale rules listed on the index.
const MAX_MESSAGES_LISTED: usize = 100;
/// Cases where engines disagree listed on `interop.html`; the rest are
/// counted.
const MAX_DISAGREEMENTS_LISTED: usize = 5000;
/// Nights over which the front page lists regressions and fixes, unless
/// told otherwise (`--history-window`).
pub const DEFAULT_HISTORY_WINDOW: usize = 7;
/// The newest nights a case's strip shows.
const MAX_STRIP_NIGHTS: usize = 90;
/// Longest engine result shown in an interop cell.
const RESULT_CHARS: usize = 160;

/// Writes the site into `dir` (created if missing); pages of an earlier
/// site there are replaced.
pub fn write(report: &Report, history: Option<&History>, dir: &Path) -> Result<(), PublishError> {
    write_with_window(report, history, DEFAULT_HISTORY_WINDOW, dir)
}

/// As [`write`], listing regressions and fixes over the last `window`
/// nights as well as since the night before.
pub fn write_with_window(
    report: &Report,
    history: Option<&History>,
    window: usize,
    dir: &Path,
) -> Result<(), PublishError> {
    if report.results.is_empty() {
        return Err(PublishError::Refused(format!(
            "{}: the report has no results; a site of nothing would look like a pass",
            dir.display()
        )));
    }
    let matrix = Matrix::new(report);
    let cells_dir = dir.join("cells");
    if cells_dir.is_symlink() {
        // Not followed: pages would be deleted and written wherever it points.
        std::fs::remove_file(&cells_dir).map_err(PublishError::io(&cells_dir))?;
    }
    if cells_dir.is_dir() {
        // Pages of an earlier site: cell numbers may mean other cells now.
        for entry in std::fs::read_dir(&cells_dir).map_err(PublishError::io(&cells_dir))? {
            let path = entry.map_err(PublishError::io(&cells_dir))?.path();
            if path.extension().is_some_and(|e| e == "html") {
                std::fs::remove_file(&path).map_err(PublishError::io(&path))?;
            }
        }
    }
    std::fs::create_dir_all(&cells_dir).map_err(PublishError::io(&cells_dir))?;

    let mut listed: BTreeMap<usize, Vec<&ReportedCase>> = BTreeMap::new();
    for case in &report.results {
        if case.status != Status::Passed {
            if let Some(n) = matrix.cell_of(case) {
                listed.entry(n).or_default().push(case);
            }
        }
    }
    for (&n, cases) in &listed {
        let path = cells_dir.join(format!("{n}.html"));
        let page = cell_page(report, &matrix.cells[n], cases, history);
        output::write(&path, page)?;
    }
    let interop = Interop::of(report);
    let interop_page_path = dir.join("interop.html");
    match &interop {
        Some(interop) => output::write(
            &interop_page_path,
            interop_page(report, &matrix, &listed, interop),
        )?,
        // An earlier site's page would contradict this index.
        None if interop_page_path.is_file() => std::fs::remove_file(&interop_page_path)
            .map_err(PublishError::io(&interop_page_path))?,
        None => {}
    }
    let index = dir.join("index.html");
    let page = index_page(report, &matrix, &listed, interop.as_ref(), history, window);
    output::write(&index, page)?;
    Ok(())
}

/// HTML under construction. Markup goes in only as `&'static str`; every
/// string made at run time goes through [`Html::t`], which escapes it, so
/// no case id or engine message can become markup.
#[derive(Default)]
struct Html(String);

impl Html {
    /// Markup written in this file.
    fn m(&mut self, markup: &'static str) -> &mut Html {
        self.0.push_str(markup);
        self
    }

    /// Text, escaped for both element content and quoted attributes.
    fn t(&mut self, text: impl Display) -> &mut Html {
        // Five replacements; an escaping crate would be a dependency for
        // the same ten lines.
        for c in text.to_string().chars() {
            match c {
                '&' => self.0.push_str("&amp;"),
                '<' => self.0.push_str("&lt;"),
                '>' => self.0.push_str("&gt;"),
                '"' => self.0.push_str("&quot;"),
                '\'' => self.0.push_str("&#39;"),
                c => self.0.push(c),
            }
        }
        self
    }
}

/// `text` percent-encoded for a URL fragment (`#q=...`): everything but
/// unreserved characters, so the page's `decodeURIComponent` gets it back.
fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One (suite, group) by backend cell.
struct Cell {
    backend: String,
    suite: String,
    group: String,
    row: SummaryRow,
}

struct Matrix {
    backends: Vec<String>,
    /// (suite, group), sorted.
    rows: Vec<(String, String)>,
    cells: Vec<Cell>,
    /// (backend, suite, group) -> index in `cells`.
    index: HashMap<(String, String, String), usize>,
}

impl Matrix {
    fn new(report: &Report) -> Matrix {
        let mut backends: Vec<String> =
            report.run.backends.iter().map(|b| b.name.clone()).collect();
        for row in &report.summary {
            if !backends.contains(&row.backend) {
                backends.push(row.backend.clone());
            }
        }
        let mut rows: Vec<(String, String)> = report
            .summary
            .iter()
            .map(|r| (r.suite.clone(), r.group.clone()))
            .collect();
        rows.sort();
        rows.dedup();
        let mut by_key: HashMap<(&str, &str, &str), &SummaryRow> = HashMap::new();
        for r in &report.summary {
            by_key.insert((&r.backend, &r.suite, &r.group), r);
        }
        let mut cells = Vec::new();
        let mut index = HashMap::new();
        for (suite, group) in &rows {
            for backend in &backends {
                if let Some(row) = by_key.get(&(backend.as_str(), suite.as_str(), group.as_str())) {
                    index.insert((backend.clone(), suite.clone(), group.clone()), cells.len());
                    cells.push(Cell {
                        backend: backend.clone(),
                        suite: suite.clone(),
                        group: group.clone(),
                        row: (*row).clone(),
                    });
                }
            }
        }
        Matrix {
            backends,
            rows,
            cells,
            index,
        }
    }

    fn cell_of(&self, case: &ReportedCase) -> Option<usize> {
        self.index
            .get(&(case.backend.clone(), case.suite.clone(), case.group.clone()))
            .copied()
    }

    fn cell(&self, backend: &str, suite: &str, group: &str) -> Option<usize> {
        self.index
            .get(&(backend.to_string(), suite.to_string(), group.to_string()))
            .copied()
    }
}

/// How a listed case is shown: deviations (what fails the run) apart from
/// what the expectations explain.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Deviation,
    Flaky,
    KnownFlaky,
    ExpectedFailure,
    Unsupported,
    NotApplicable,
}

impl Kind {
    fn of(case: &ReportedCase) -> Option<Kind> {
        Some(match case.status {
            Status::Passed => return None,
            Status::Failed | Status::Invalid | Status::UnexpectedPass => Kind::Deviation,
            Status::ExpectedFailure if case.unsupported.is_empty() => Kind::ExpectedFailure,
            Status::ExpectedFailure => Kind::Unsupported,
            Status::NotApplicable => Kind::NotApplicable,
            Status::Flaky => Kind::Flaky,
            Status::KnownFlaky => Kind::KnownFlaky,
        })
    }

    fn heading(self) -> &'static str {
        match self {
            Kind::Deviation => "Deviations (unexpected: these fail the run)",
            Kind::Flaky => {
                "Flaky (failed, then passed when run again on fresh workers; the first run is shown)"
            }
            Kind::KnownFlaky => {
                "Known flaky (failed, then passed on a retry; the expectations list the engine as flaky here, with a reason)"
            }
            Kind::ExpectedFailure => {
                "Expected failures (listed in the expectations, with a reason)"
            }
            Kind::Unsupported => {
                "Unsupported proposals (expected: the backend lacks a proposal the module uses)"
            }
            Kind::NotApplicable => "Not applicable (the backend cannot run these cases)",
        }
    }

    fn class(self) -> &'static str {
        match self {
            Kind::Deviation => "deviation",
            Kind::Flaky => "flaky",
            Kind::KnownFlaky => "known-flaky",
            Kind::ExpectedFailure => "expected",
            Kind::Unsupported => "unsupported",
            Kind::NotApplicable => "na",
        }
    }
}

fn status_label(status: Status) -> &'static str {
    match status {
        Status::Passed => "passed",
        Status::Failed => "failed",
        Status::ExpectedFailure => "expected failure",
        Status::UnexpectedPass => "unexpected pass",
        Status::NotApplicable => "not applicable",
        Status::Invalid => "invalid",
        Status::Flaky => "flaky",
        Status::KnownFlaky => "known flaky",
    }
}

/// A pass rate as shown: one decimal, rounded down so that only a full
/// pass shows 100%.
pub(crate) fn percent(passed: usize, judged: usize) -> String {
    if judged == 0 {
        return "n/a".to_string();
    }
    if passed == judged {
        return "100%".to_string();
    }
    let tenths = passed * 1000 / judged;
    format!("{}.{}%", tenths / 10, tenths % 10)
}

/// The colour class of a pass rate.
fn rate_class(passed: usize, judged: usize) -> &'static str {
    if judged == 0 {
        "r-none"
    } else if passed == judged {
        "r-all"
    } else if passed * 100 >= judged * 95 {
        "r-most"
    } else if passed * 100 >= judged * 50 {
        "r-half"
    } else {
        "r-low"
    }
}

fn passed_of(row: &SummaryRow) -> usize {
    row.passed + row.unexpected_passes
}

/// A cut list, abbreviated past 24 cuts to its first and last ten.
fn cuts_text(cuts: &[usize]) -> String {
    let join = |cs: &[usize]| {
        cs.iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    if cuts.is_empty() {
        "none (one chunk)".to_string()
    } else if cuts.len() <= 24 {
        join(cuts)
    } else {
        format!(
            "{},…,{} ({} cuts)",
            join(&cuts[..10]),
            join(&cuts[cuts.len() - 10..]),
            cuts.len()
        )
    }
}

const STYLE: &str = "<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.5em}h2{font-size:1.25em;margin-top:1.5em}
table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
td.cell,td.share{text-align:right;min-width:7em}td.cell a{color:inherit;text-decoration:none;display:block}
.rate{font-weight:600}.count{font-size:.85em;color:#444;display:block}
.marks span{font-size:.75em;border-radius:3px;padding:0 3px;margin-left:2px;white-space:nowrap}
.r-all{background:#c8ecc8}.r-most{background:#eef5b8}.r-half{background:#fbd9a5}.r-low{background:#f6b3ab}.r-none{background:#eee}
.m-deviation,.deviation>summary .badge{background:#b3261e;color:#fff}
.m-expected,.expected>summary .badge{background:#5c6bc0;color:#fff}
.m-unsupported,.unsupported>summary .badge{background:#888;color:#fff}
.m-na,.na>summary .badge{background:#ddd;color:#222}
.badge{font-size:.8em;border-radius:3px;padding:0 4px;margin-right:6px}
details.case{border-left:4px solid #ccc;margin:4px 0;padding:2px 8px}
details.deviation{border-color:#b3261e}details.expected{border-color:#5c6bc0}details.unsupported{border-color:#888}
summary{cursor:pointer}code,pre{font:12px/1.3 ui-monospace,monospace}pre{white-space:pre-wrap;word-break:break-all;background:#f4f4f4;padding:4px}
dl.kv{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dt{font-weight:600}dd{margin:0}
.muted{color:#666}.chart text{font-size:11px}
th.pair{font-size:.8em;font-weight:600}td.num{text-align:right}tr.subtotal td,tr.total td{font-weight:600;border-top:2px solid #999}
.o-pass{background:#c8ecc8}.o-fail{background:#f6b3ab}.o-expected{background:#d9dcf3}.o-unsupported{background:#e4e4e4}.o-na,.o-none{background:#f4f4f4;color:#666}
#disagreements td{max-width:22em;word-break:break-word}
.strip{display:inline-flex;gap:1px;vertical-align:middle;margin-left:6px}.strip i{display:inline-block;width:7px;height:12px}
.s-p{background:#3a9d3a}.s-f{background:#b3261e}.s-x{background:#5c6bc0}.s-u{background:#888}.s-a{background:#e0a800}.s-i{background:#6d1b7b}.s-k{background:#f08c00}.s-n{background:#ccc}.s-absent{background:#fff;outline:1px solid #ddd;outline-offset:-1px}
</style>
";

fn page_start(h: &mut Html, title: &str) {
    h.m("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>")
        .t(title)
        .m("</title>\n")
        .m(STYLE)
        .m("</head><body>\n");
}

fn index_page(
    report: &Report,
    matrix: &Matrix,
    listed: &BTreeMap<usize, Vec<&ReportedCase>>,
    interop: Option<&Interop>,
    history: Option<&History>,
    window: usize,
) -> String {
    let run = &report.run;
    let mut h = Html::default();
    page_start(&mut h, &format!("streamconform: {}", run.started_at));
    h.m("<h1>streamconform report</h1>\n<dl class=\"kv\">");
    let revision = run.revision.as_deref().unwrap_or("unknown");
    let fields: [(&str, String); 8] = [
        ("started", run.started_at.clone()),
        ("revision", revision.to_string()),
        ("host", run.host.clone()),
        ("tool", format!("streamconform {}", run.tool_version)),
        ("suites", run.suites.join(" ")),
        ("plans", run.plans.clone()),
        (
            "backends",
            run.backends
                .iter()
                .map(|b| format!("{} ({})", b.name, b.version))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (
            "finished",
            format!(
                "{} pairs judged in {:.1} s, {} unexpected{}",
                report.finished.cases_run,
                report.finished.elapsed_secs,
                report.finished.unexpected,
                if report.finished.interrupted {
                    "; interrupted"
                } else {
                    ""
                }
            ),
        ),
    ];
    for (name, value) in fields {
        h.m("<dt>").t(name).m("</dt><dd>").t(value).m("</dd>");
    }
    h.m("</dl>\n");
    messages(&mut h, "Setup errors", &report.finished.setup_errors);
    messages(&mut h, "Input errors", &report.input_errors);
    messages(
        &mut h,
        "Stale expectation rules",
        &report.finished.stale_rules,
    );

    if let Some(changes) = history.and_then(History::changes) {
        h.m("<p><a href=\"#changes\">")
            .t(format!(
                "Since {}: {} regressed, {} fixed",
                changes.previous,
                changes.regressed.len(),
                changes.fixed.len()
            ))
            .m("</a></p>\n");
    }
    if let Some(interop) = interop {
        interop_section(&mut h, interop);
    }
    matrix_section(&mut h, matrix, listed);
    releases_section(&mut h, report, matrix);
    if let Some(history) = history {
        history_section(&mut h, report, matrix, history, window);
        strip_script(&mut h, history);
    }
    h.m("</body></html>\n");
    h.0
}

fn messages(h: &mut Html, title: &'static str, list: &[String]) {
    if list.is_empty() {
        return;
    }
    h.m("<h2>").m(title).m(" (").t(list.len()).m(")</h2>\n<ul>");
    for m in list.iter().take(MAX_MESSAGES_LISTED) {
        h.m("<li><code>").t(m).m("</code></li>");
    }
    if list.len() > MAX_MESSAGES_LISTED {
        h.m("<li>and ")
            .t(list.len() - MAX_MESSAGES_LISTED)
            .m(" more (in the JSON report)</li>");
    }
    h.m("</ul>\n");
}

fn matrix_section(h: &mut Html, matrix: &Matrix, listed: &BTreeMap<usize, Vec<&ReportedCase>>) {
    h.m("<h2>Pass rates</h2>\n<p class=\"muted\">Passed cases (verdict pass) of those judged; not-applicable cases are left out. \
         Marks: <span class=\"marks\"><span class=\"m-deviation\">deviations</span> <span class=\"m-expected\">expected failures</span> \
         <span class=\"m-unsupported\">unsupported proposals</span> <span class=\"m-na\">not applicable</span></span>. \
         A cell with any of them links to its cases.</p>\n");
    h.m("<table id=\"matrix\"><thead><tr><th>suite</th><th>group</th>");
    for b in &matrix.backends {
        h.m("<th>").t(b).m("</th>");
    }
    h.m("</tr></thead><tbody>\n");
    for (suite, group) in &matrix.rows {
        h.m("<tr><td>").t(suite).m("</td><td>").t(group).m("</td>");
        for backend in &matrix.backends {
            match matrix.cell(backend, suite, group) {
                Some(n) => cell_td(
                    h,
                    &matrix.cells[n].row,
                    listed.contains_key(&n).then_some(n),
                ),
                None => {
                    h.m("<td class=\"cell r-none\"></td>");
                }
            }
        }
        h.m("</tr>\n");
    }
    h.m("<tr class=\"total\"><th colspan=\"2\">all</th>");
    for backend in &matrix.backends {
        let mut total = SummaryRow {
            backend: backend.clone(),
            ..SummaryRow::default()
        };
        for c in matrix.cells.iter().filter(|c| &c.backend == backend) {
            total.add_counts(&c.row);
        }
        cell_td(h, &total, None);
    }
    h.m("</tr>\n</tbody></table>\n");
}

/// A matrix cell: rate, counts, marks; a link to page `link` if given.
fn cell_td(h: &mut Html, row: &SummaryRow, link: Option<usize>) {
    let passed = passed_of(row);
    h.m("<td class=\"cell ")
        .m(rate_class(passed, row.cases))
        .m("\" data-backend=\"")
        .t(&row.backend)
        .m("\" data-suite=\"")
        .t(&row.suite)
        .m("\" data-group=\"")
        .t(&row.group)
        .m("\">");
    if let Some(n) = link {
        h.m("<a href=\"cells/").t(n).m(".html\">");
    }
    h.m("<span class=\"rate\">")
        .t(percent(passed, row.cases))
        .m("</span><span class=\"count\">")
        .t(format!("{passed} / {}", row.cases))
        .m("</span><span class=\"marks\">");
    let deviations = row.failed + row.invalid + row.unexpected_passes;
    for (n, class, title) in [
        (deviations, "m-deviation", "deviations"),
        (row.expected_failures, "m-expected", "expected failures"),
        (row.unsupported, "m-unsupported", "unsupported proposals"),
        (row.not_applicable, "m-na", "not applicable"),
    ] {
        if n > 0 {
            h.m("<span class=\"")
                .m(class)
                .m("\" title=\"")
                .m(title)
                .m("\">")
                .t(n)
                .m("</span>");
        }
    }
    h.m("</span>");
    if link.is_some() {
        h.m("</a>");
    }
    h.m("</td>");
}

/// What every engine passes, per suite and group and per pair, and a link
/// to the cases where engines disagree (`interop.rs` says what counts).
fn interop_section(h: &mut Html, interop: &Interop) {
    let pairs = interop.pairs();
    h.m(
        "<h2 id=\"interop\">Interop</h2>\n<p class=\"muted\">Of the cases every engine judged, \
         the share that every engine passes, and that each pair of engines both passes. Engines: ",
    )
    .t(interop.engines.join(", "))
    .m(" (the reference model is not an engine");
    if !interop.older_releases.is_empty() {
        h.m("; older releases left out: ")
            .t(interop.older_releases.join(", "));
    }
    if !interop.without_results.is_empty() {
        h.m("; left out for having no results: ")
            .t(interop.without_results.join(", "));
    }
    h.m("). An expected failure does not pass.</p>\n<table id=\"interop-table\"><thead><tr><th>suite</th><th>group</th><th>cases</th><th>all ")
        .t(interop.engines.len())
        .m(" engines</th>");
    for &(a, b) in &pairs {
        h.m("<th class=\"pair\">")
            .t(&interop.engines[a])
            .m("<br>")
            .t(&interop.engines[b])
            .m("</th>");
    }
    h.m("</tr></thead><tbody>\n");
    let row = |h: &mut Html, share: &Share, class: &'static str, suite: &str, group: &str| {
        h.m("<tr class=\"")
            .m(class)
            .m("\"><td>")
            .t(suite)
            .m("</td><td>")
            .t(group)
            .m("</td><td class=\"num\">")
            .t(share.judged);
        if share.not_judged_everywhere > 0 {
            h.m("<span class=\"count\" title=\"cases some engine did not judge\">+")
                .t(share.not_judged_everywhere)
                .m(" not everywhere</span>");
        }
        h.m("</td>");
        share_td(h, share.all_pass, share.judged);
        for pair in &share.pairs {
            share_td(h, pair.both_pass, pair.judged);
        }
        h.m("</tr>\n");
    };
    for suite in &interop.suites {
        let groups: Vec<&Share> = interop
            .groups
            .iter()
            .filter(|g| g.suite == suite.suite)
            .collect();
        for group in &groups {
            row(h, group, "group", &group.suite, &group.group);
        }
        if groups.len() > 1 {
            row(h, suite, "subtotal", &suite.suite, "all groups");
        }
    }
    row(h, &interop.total, "total", "all", "");
    h.m("</tbody></table>\n<p>");
    if interop.disagreements.is_empty() {
        h.m("No case where engines disagree.");
    } else {
        h.m("<a href=\"interop.html\">")
            .t(interop.disagreements.len())
            .m(" cases where engines disagree</a>, each engine's outcome side by side.");
    }
    h.m(" ")
        .t(interop.total.none_pass)
        .m(" cases pass on no engine.</p>\n");
}

/// A share's cell: rate, then the counts.
fn share_td(h: &mut Html, passed: usize, judged: usize) {
    h.m("<td class=\"share ")
        .m(rate_class(passed, judged))
        .m("\"><span class=\"rate\">")
        .t(percent(passed, judged))
        .m("</span><span class=\"count\">")
        .t(format!("{passed} / {judged}"))
        .m("</span></td>");
}

/// The cases where engines disagree, one row each, every engine's outcome
/// in its column, linked to its entry on the engine's cell page.
fn interop_page(
    report: &Report,
    matrix: &Matrix,
    listed: &BTreeMap<usize, Vec<&ReportedCase>>,
    interop: &Interop,
) -> String {
    let mut h = Html::default();
    page_start(&mut h, "streamconform: where engines disagree");
    h.m("<p><a href=\"index.html#interop\">← interop</a></p>\n<h1>Where engines disagree</h1>\n<p>")
        .t(format!(
            "{} cases that some engine passes and another that judged them does not ({} cases were judged by every engine); run of {}.",
            interop.disagreements.len(),
            interop.total.judged,
            report.run.started_at
        ))
        .m("</p>\n<p><label>Filter by case id: <input id=\"filter\" type=\"search\" size=\"50\"></label> <span id=\"shown\"></span></p>\n");
    h.m("<table id=\"disagreements\"><thead><tr><th>case</th>");
    for engine in &interop.engines {
        h.m("<th>").t(engine).m("</th>");
    }
    h.m("</tr></thead><tbody>\n");
    for d in interop.disagreements.iter().take(MAX_DISAGREEMENTS_LISTED) {
        h.m("<tr class=\"case\" data-id=\"")
            .t(&d.id)
            .m("\"><td><code>")
            .t(&d.id)
            .m("</code><br><span class=\"count\">expected: ")
            .t(d.expected)
            .m("</span></td>");
        for (engine, outcome) in interop.engines.iter().zip(&d.outcomes) {
            let Some(o) = outcome else {
                h.m("<td class=\"o-none\">no result</td>");
                continue;
            };
            let class = match o.status {
                _ if o.passes => "o-pass",
                Status::NotApplicable => "o-na",
                Status::ExpectedFailure if o.unsupported => "o-unsupported",
                Status::ExpectedFailure => "o-expected",
                _ => "o-fail",
            };
            h.m("<td class=\"").m(class).m("\">");
            let cell = matrix
                .cell(engine, &d.suite, &d.group)
                .filter(|n| o.status != Status::Passed && listed.contains_key(n));
            match cell {
                Some(n) => {
                    h.m("<a href=\"cells/")
                        .t(n)
                        .m(".html#q=")
                        .t(percent_encode(&d.id))
                        .m("\"><b>")
                        .t(status_label(o.status))
                        .m("</b></a>");
                }
                None => {
                    h.m("<b>").t(status_label(o.status)).m("</b>");
                }
            }
            if o.unsupported {
                h.m(" (unsupported proposal)");
            }
            h.m("<br><code>")
                .t(one_line(&o.result, RESULT_CHARS))
                .m("</code>");
            if let Some(plan) = &o.first_failing_plan {
                h.m("<br><span class=\"count\">")
                    .t(format!(
                        "{} of {} plans failed; shown: {plan}",
                        o.failing_plans, o.plans_run
                    ))
                    .m("</span>");
            }
            h.m("</td>");
        }
        h.m("</tr>\n");
    }
    h.m("</tbody></table>\n");
    if interop.disagreements.len() > MAX_DISAGREEMENTS_LISTED {
        h.m("<p>and ")
            .t(interop.disagreements.len() - MAX_DISAGREEMENTS_LISTED)
            .m(" more (in the JSON report)</p>\n");
    }
    h.m(CELL_SCRIPT).m("</body></html>\n");
    h.0
}

const CHART_COLOURS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
];

fn history_section(
    h: &mut Html,
    report: &Report,
    matrix: &Matrix,
    history: &History,
    window: usize,
) {
    h.m("<h2>History</h2>\n<p class=\"muted\">")
        .t(history.nights.len())
        .m(" night(s) kept in <code>")
        .t(history.dir.display())
        .m("</code>.</p>\n");
    chart(h, history);
    let since_last = history.changes();
    let over_window = history.changes_over(window).filter(|c| c.nights > 2);
    for (changes, heading_id, list_ids) in [
        (since_last, "changes", ("regressed", "fixed")),
        (over_window, "window", ("window-regressed", "window-fixed")),
    ] {
        let Some(changes) = changes else {
            continue;
        };
        h.m("<h2 id=\"").m(heading_id).m("\">");
        if changes.nights == 2 {
            h.m("Since the night before");
        } else {
            h.m("Over the last ").t(changes.nights).m(" nights");
        }
        h.m("</h2>\n<p>From <code>")
            .t(&changes.previous)
            .m("</code> to <code>")
            .t(&changes.latest)
            .m("</code>: ")
            .t(changes.regressed.len())
            .m(" regressed, ")
            .t(changes.fixed.len())
            .m(" fixed; ")
            .t(changes.new_cases)
            .m(" new and ")
            .t(changes.gone_cases)
            .m(" gone cases (not counted as changes). Each case shows its strip: ")
            .m(STRIP_LEGEND)
            .m("</p>\n");
        // Links into the cell pages, for cases this report has.
        let changed: std::collections::HashSet<(&str, &str)> = changes
            .regressed
            .iter()
            .chain(&changes.fixed)
            .map(|c| (c.backend.as_str(), c.id.as_str()))
            .collect();
        let mut cell_of: HashMap<(&str, &str), usize> = HashMap::new();
        for case in &report.results {
            if case.status != Status::Passed
                && changed.contains(&(case.backend.as_str(), case.id.as_str()))
            {
                if let Some(n) = matrix.cell_of(case) {
                    cell_of.insert((&case.backend, &case.id), n);
                }
            }
        }
        let lists = ChangeLists {
            cell_of: &cell_of,
            history,
        };
        lists.write(h, "Regressed", list_ids.0, &changes.regressed);
        lists.write(h, "Fixed", list_ids.1, &changes.fixed);
    }
}

/// What a strip's letters look like; the legend says it in words.
const STRIP_LEGEND: &str = "one square per night, oldest first: \
    <span class=\"strip\"><i class=\"s-p\"></i></span> passed \
    <span class=\"strip\"><i class=\"s-f\"></i></span> failed \
    <span class=\"strip\"><i class=\"s-x\"></i></span> expected failure \
    <span class=\"strip\"><i class=\"s-u\"></i></span> unsupported \
    <span class=\"strip\"><i class=\"s-a\"></i></span> unexpected pass \
    <span class=\"strip\"><i class=\"s-i\"></i></span> invalid \
    <span class=\"strip\"><i class=\"s-k\"></i></span> flaky \
    <span class=\"strip\"><i class=\"s-n\"></i></span> not applicable \
    <span class=\"strip\"><i class=\"s-absent\"></i></span> not run.";

/// A case's result on each night kept (the newest [`MAX_STRIP_NIGHTS`]),
/// when the history has the case.
fn strip(h: &mut Html, history: &History, backend: &str, id: &str) {
    let Some(strip) = history.strip(backend, id) else {
        return;
    };
    let from = strip.len().saturating_sub(MAX_STRIP_NIGHTS);
    h.m(" <span class=\"strip\" data-from=\"").t(from).m("\">");
    for mark in strip[from..].bytes() {
        h.m(match mark {
            b'p' => "<i class=\"s-p\"></i>",
            b'f' => "<i class=\"s-f\"></i>",
            b'x' => "<i class=\"s-x\"></i>",
            b'u' => "<i class=\"s-u\"></i>",
            b'a' => "<i class=\"s-a\"></i>",
            b'i' => "<i class=\"s-i\"></i>",
            b'k' => "<i class=\"s-k\"></i>",
            b'n' => "<i class=\"s-n\"></i>",
            _ => "<i class=\"s-absent\"></i>",
        });
    }
    h.m("</span>");
}

/// The night names strips refer to, and a script that names a square's
/// night and status when the pointer is on it. It only sets `title`.
fn strip_script(h: &mut Html, history: &History) {
    let names: Vec<&str> = history.nights.iter().map(|n| n.name.as_str()).collect();
    h.m("<div id=\"strip-nights\" hidden data-nights=\"")
        .t(names.join(" "))
        .m("\"></div>\n")
        .m(STRIP_SCRIPT);
}

const STRIP_SCRIPT: &str = "<script>
(function () {
  var holder = document.getElementById('strip-nights');
  if (!holder) { return; }
  var names = holder.getAttribute('data-nights').split(' ');
  var words = {'s-p': 'passed', 's-f': 'failed', 's-x': 'expected failure',
    's-u': 'unsupported', 's-a': 'unexpected pass', 's-i': 'invalid', 's-k': 'flaky',
    's-n': 'not applicable', 's-absent': 'not run'};
  document.addEventListener('mouseover', function (e) {
    var square = e.target;
    var strip = square.parentNode;
    if (square.tagName !== 'I' || !strip || !strip.hasAttribute('data-from') || square.title) { return; }
    var at = Number(strip.getAttribute('data-from')) + Array.prototype.indexOf.call(strip.children, square);
    square.title = (names[at] || '?') + ': ' + (words[square.className] || square.className);
  });
})();
</script>
";

/// Releases of one engine side by side: per consecutive pair, the cases
/// whose result differs, each linked to the cell page of the release it
/// does not pass on.
fn releases_section(h: &mut Html, report: &Report, matrix: &Matrix) {
    let diffs = ReleaseDiffs::from_report(report);
    if diffs.is_empty() {
        return;
    }
    let changed: std::collections::HashSet<&str> = diffs
        .iter()
        .flat_map(|d| d.changes.iter().map(|c| c.id.as_str()))
        .collect();
    let mut cell_of: HashMap<(&str, &str), usize> = HashMap::new();
    for case in &report.results {
        if case.status != Status::Passed && changed.contains(case.id.as_str()) {
            if let Some(n) = matrix.cell_of(case) {
                cell_of.insert((&case.backend, &case.id), n);
            }
        }
    }
    h.m(
        "<h2 id=\"releases\">Between releases</h2>\n<p class=\"muted\">Cases whose result \
         differs between consecutive releases of one engine (each release judged by its own \
         expectations; an expected failure counts as failing).</p>\n<table>\n<tr><th>engine</th>\
         <th>older</th><th>newer</th><th>compared</th><th>regressed</th><th>fixed</th>\
         <th>changed</th></tr>\n",
    );
    for d in &diffs {
        h.m("<tr><td>")
            .t(&d.engine)
            .m("</td><td>")
            .t(format!("{} ({})", d.older.name, d.older.version))
            .m("</td><td>")
            .t(format!("{} ({})", d.newer.name, d.newer.version))
            .m("</td><td>")
            .t(d.compared);
        for direction in [Direction::Regressed, Direction::Fixed, Direction::Changed] {
            h.m("</td><td>").t(d.count(direction));
        }
        h.m("</td></tr>\n");
    }
    h.m("</table>\n");
    for d in diffs.iter().filter(|d| !d.changes.is_empty()) {
        h.m("<h3>")
            .t(&d.older.version)
            .m(" → ")
            .t(&d.newer.version)
            .m("</h3>\n<ul>");
        for c in d.changes.iter().take(MAX_CHANGES_LISTED) {
            let failing_on = if c.after == Standing::Passes {
                &d.older.name
            } else {
                &d.newer.name
            };
            h.m("<li class=\"change ")
                .m(match c.direction {
                    Direction::Regressed => "regressed",
                    Direction::Fixed => "fixed",
                    Direction::Changed => "changed",
                })
                .m("\"><b>")
                .t(c.direction.as_str())
                .m("</b> ");
            case_link(h, &c.id, cell_of.get(&(failing_on.as_str(), c.id.as_str())));
            h.m(" ")
                .t(c.before.as_str())
                .m(" → ")
                .t(c.after.as_str())
                .m("</li>");
        }
        if d.changes.len() > MAX_CHANGES_LISTED {
            h.m("<li>and ")
                .t(d.changes.len() - MAX_CHANGES_LISTED)
                .m(" more</li>");
        }
        h.m("</ul>\n");
    }
}

/// A case id, linked to its entry on a cell page when it has one.
fn case_link(h: &mut Html, id: &str, cell: Option<&usize>) {
    match cell {
        Some(n) => {
            h.m("<a href=\"cells/")
                .t(n)
                .m(".html#q=")
                .t(percent_encode(id))
                .m("\"><code>")
                .t(id)
                .m("</code></a>");
        }
        None => {
            h.m("<code>").t(id).m("</code>");
        }
    }
}

/// Regressions or fixes, per backend, each linked to its cell page and
/// shown with its strip.
struct ChangeLists<'a> {
    cell_of: &'a HashMap<(&'a str, &'a str), usize>,
    history: &'a History,
}

impl ChangeLists<'_> {
    fn write(&self, h: &mut Html, title: &'static str, id: &'static str, changes: &[Change]) {
        h.m("<h3>").m(title).m("</h3>\n<div id=\"").m(id).m("\">");
        if changes.is_empty() {
            h.m("<p class=\"muted\">none</p>");
        }
        let mut by_backend: Vec<(&str, Vec<&Change>)> = Vec::new();
        for c in changes {
            match by_backend.last_mut() {
                Some((b, list)) if *b == c.backend => list.push(c),
                _ => by_backend.push((&c.backend, vec![c])),
            }
        }
        for (backend, list) in by_backend {
            h.m("<h4>").t(backend).m(" (").t(list.len()).m(")</h4><ul>");
            for c in list.iter().take(MAX_CHANGES_LISTED) {
                h.m("<li class=\"change\">");
                case_link(
                    h,
                    &c.id,
                    self.cell_of.get(&(c.backend.as_str(), c.id.as_str())),
                );
                h.m(" ")
                    .t(status_label(c.before))
                    .m(" → ")
                    .t(status_label(c.after));
                strip(h, self.history, &c.backend, &c.id);
                h.m("</li>");
            }
            if list.len() > MAX_CHANGES_LISTED {
                h.m("<li>and ")
                    .t(list.len() - MAX_CHANGES_LISTED)
                    .m(" more</li>");
            }
            h.m("</ul>");
        }
        h.m("</div>\n");
    }
}

/// Pass rate over the nights, one line per backend, as inline SVG.
fn chart(h: &mut Html, history: &History) {
    let mut backends: Vec<&str> = Vec::new();
    for night in &history.nights {
        for r in &night.pass_rates {
            if !backends.contains(&r.backend.as_str()) {
                backends.push(&r.backend);
            }
        }
    }
    let rates: Vec<f64> = history
        .nights
        .iter()
        .flat_map(|n| n.pass_rates.iter().filter_map(PassRate::rate))
        .collect();
    if rates.is_empty() {
        return;
    }
    // The y axis starts at the lowest rate rounded down to 10%, so that
    // rates near 100% stay apart.
    let lowest = rates.iter().cloned().fold(1.0_f64, f64::min);
    let floor = ((lowest * 10.0).floor() / 10.0).min(0.9);
    let (width, height, left, right, top, bottom) = (800.0, 260.0, 50.0, 20.0, 10.0, 40.0);
    let plot_w: f64 = width - left - right;
    let plot_h: f64 = height - top - bottom;
    let count = history.nights.len();
    let x = |i: usize| {
        if count == 1 {
            left + plot_w / 2.0
        } else {
            left + plot_w * i as f64 / (count - 1) as f64
        }
    };
    let y = |rate: f64| top + plot_h * (1.0 - (rate - floor) / (1.0 - floor));
    h.m("<svg class=\"chart\" id=\"chart\" role=\"img\" aria-label=\"pass rate per backend over the nights\" width=\"")
        .t(width)
        .m("\" height=\"")
        .t(height)
        .m("\" viewBox=\"0 0 ")
        .t(format!("{width} {height}"))
        .m("\">\n");
    for step in 0..=5 {
        let rate = floor + (1.0 - floor) * step as f64 / 5.0;
        let yy = y(rate);
        h.m("<line x1=\"")
            .t(left)
            .m("\" x2=\"")
            .t(width - right)
            .m("\" y1=\"")
            .t(format!("{yy:.1}"))
            .m("\" y2=\"")
            .t(format!("{yy:.1}"))
            .m("\" stroke=\"#ddd\"/><text x=\"")
            .t(left - 6.0)
            .m("\" y=\"")
            .t(format!("{:.1}", yy + 4.0))
            .m("\" text-anchor=\"end\">")
            .t(format!("{:.0}%", rate * 100.0))
            .m("</text>\n");
    }
    let labelled: Vec<usize> = if count <= 8 {
        (0..count).collect()
    } else {
        (0..8).map(|k| k * (count - 1) / 7).collect()
    };
    for i in labelled {
        let date = history.nights[i].started_at.get(..10).unwrap_or("");
        h.m("<text x=\"")
            .t(format!("{:.1}", x(i)))
            .m("\" y=\"")
            .t(height - bottom + 16.0)
            .m("\" text-anchor=\"")
            .m(match i {
                0 if count > 1 => "start",
                i if i + 1 == count && count > 1 => "end",
                _ => "middle",
            })
            .m("\">")
            .t(date)
            .m("</text>\n");
    }
    for (k, backend) in backends.iter().enumerate() {
        let colour = CHART_COLOURS[k % CHART_COLOURS.len()];
        let points: Vec<(usize, &PassRate)> = history
            .nights
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                n.pass_rates
                    .iter()
                    .find(|r| r.backend == *backend && r.judged > 0)
                    .map(|r| (i, r))
            })
            .collect();
        let line: Vec<String> = points
            .iter()
            .map(|(i, r)| format!("{:.1},{:.1}", x(*i), y(r.rate().unwrap_or(0.0))))
            .collect();
        h.m("<polyline fill=\"none\" stroke-width=\"2\" stroke=\"")
            .m(colour)
            .m("\" points=\"")
            .t(line.join(" "))
            .m("\"/>\n");
        for (i, r) in &points {
            let night = &history.nights[*i];
            h.m("<circle r=\"3\" fill=\"")
                .m(colour)
                .m("\" cx=\"")
                .t(format!("{:.1}", x(*i)))
                .m("\" cy=\"")
                .t(format!("{:.1}", y(r.rate().unwrap_or(0.0))))
                .m("\"><title>")
                .t(format!(
                    "{backend} {}: {} ({} / {})",
                    night.name,
                    percent(r.passed, r.judged),
                    r.passed,
                    r.judged
                ))
                .m("</title></circle>\n");
        }
        h.m("<text x=\"")
            .t(left + 10.0 + 110.0 * k as f64)
            .m("\" y=\"")
            .t(height - 6.0)
            .m("\" fill=\"")
            .m(colour)
            .m("\">■ ")
            .t(backend)
            .m("</text>\n");
    }
    h.m("</svg>\n<table id=\"nights\"><thead><tr><th>night</th><th>started</th><th>revision</th>");
    for b in &backends {
        h.m("<th>").t(b).m("</th>");
    }
    h.m("</tr></thead><tbody>\n");
    for night in history.nights.iter().rev() {
        h.m("<tr><td>")
            .t(&night.name)
            .m("</td><td>")
            .t(&night.started_at)
            .m("</td><td><code>")
            .t(night.revision.as_deref().unwrap_or(""))
            .m("</code></td>");
        for b in &backends {
            match night.pass_rates.iter().find(|r| r.backend == *b) {
                Some(r) => {
                    h.m("<td class=\"")
                        .m(rate_class(r.passed, r.judged))
                        .m("\">")
                        .t(percent(r.passed, r.judged))
                        .m("</td>");
                }
                None => {
                    h.m("<td></td>");
                }
            }
        }
        h.m("</tr>\n");
    }
    h.m("</tbody></table>\n");
}

/// Filters the cases by text (also from `#q=...`, so that a link can name
/// one case) and says how many are shown. Only reads and sets
/// `textContent`, `value` and `hidden`: no report text becomes markup.
const CELL_SCRIPT: &str = "<script>
(function () {
  var input = document.getElementById('filter');
  var shown = document.getElementById('shown');
  var cases = Array.prototype.slice.call(document.querySelectorAll('.case[data-id]'));
  function apply() {
    var q = input.value.toLowerCase();
    var n = 0;
    cases.forEach(function (c) {
      var match = q === '' || c.getAttribute('data-id').toLowerCase().indexOf(q) >= 0;
      c.hidden = !match;
      if (match) { n += 1; }
    });
    if (q !== '' && n === 1) {
      cases.forEach(function (c) { if (!c.hidden) { c.open = true; } });
    }
    shown.textContent = n + ' of ' + cases.length + ' shown';
  }
  // A hand-edited link may hold a `%` that escapes nothing: taken as typed.
  function decoded(text) {
    try { return decodeURIComponent(text); } catch (e) { return text; }
  }
  function fromHash() {
    var m = /^#q=(.*)$/.exec(location.hash);
    if (m) { input.value = decoded(m[1]); }
    apply();
  }
  input.addEventListener('input', apply);
  window.addEventListener('hashchange', fromHash);
  fromHash();
})();
</script>
";

fn cell_page(
    report: &Report,
    cell: &Cell,
    cases: &[&ReportedCase],
    history: Option<&History>,
) -> String {
    let mut h = Html::default();
    let title = format!("{} / {} on {}", cell.suite, cell.group, cell.backend);
    page_start(&mut h, &title);
    let passed = passed_of(&cell.row);
    h.m("<p><a href=\"../index.html\">← all cells</a></p>\n<h1>")
        .t(&title)
        .m("</h1>\n<p>")
        .t(format!(
            "{} passed of {} judged ({}); run of {}",
            passed,
            cell.row.cases,
            percent(passed, cell.row.cases),
            report.run.started_at
        ))
        .m("</p>\n");
    if let Some(history) = history {
        h.m("<p class=\"muted\">Each case's strip is its result on the ")
            .t(history.nights.len().min(MAX_STRIP_NIGHTS))
            .m(" newest nights kept: ")
            .m(STRIP_LEGEND)
            .m("</p>\n");
    }
    h.m("<p><label>Filter by case id: <input id=\"filter\" type=\"search\" size=\"50\"></label> <span id=\"shown\"></span></p>\n");
    let mut by_kind: BTreeMap<Kind, Vec<&ReportedCase>> = BTreeMap::new();
    for &case in cases {
        if let Some(kind) = Kind::of(case) {
            by_kind.entry(kind).or_default().push(case);
        }
    }
    for (kind, list) in &by_kind {
        h.m("<h2 class=\"")
            .m(kind.class())
            .m("\">")
            .m(kind.heading())
            .m(": ")
            .t(list.len())
            .m("</h2>\n");
        for case in list {
            case_details(&mut h, *kind, case, history);
        }
    }
    h.m(CELL_SCRIPT);
    if let Some(history) = history {
        strip_script(&mut h, history);
    }
    h.m("</body></html>\n");
    h.0
}

fn case_details(h: &mut Html, kind: Kind, case: &ReportedCase, history: Option<&History>) {
    h.m("<details class=\"case ")
        .m(kind.class())
        .m("\" data-id=\"")
        .t(&case.id)
        .m("\"");
    if kind == Kind::Deviation {
        h.m(" open");
    }
    h.m("><summary><span class=\"badge\">")
        .t(status_label(case.status))
        .m("</span><code>")
        .t(&case.id)
        .m("</code>");
    if let Some(history) = history {
        strip(h, history, &case.backend, &case.id);
    }
    h.m("</summary>\n<dl class=\"kv\">");
    let mut field = |name: &'static str, value: String| {
        h.m("<dt>").m(name).m("</dt><dd>").t(value).m("</dd>");
    };
    field("expected", case.expected.to_string());
    field(
        "one-shot",
        case.one_shot
            .as_ref()
            .map_or("none (aborted)".to_string(), |o| o.to_string()),
    );
    field(
        "plans",
        format!(
            "{} run, {} failed",
            case.plans_run, case.failing_plans_total
        ),
    );
    if let Some(aborted) = &case.aborted {
        field("aborted", aborted.clone());
    }
    if let Some(reason) = &case.expectation_reason {
        field("expectation", reason.clone());
    }
    if !case.unsupported.is_empty() {
        field("unsupported", case.unsupported.join(", "));
    }
    h.m("</dl>\n");
    if !case.failing_plans.is_empty() {
        plans_table(h, &case.failing_plans, case.failing_plans_total);
    }
    if let Some(repro) = &case.repro {
        h.m("<p>repro:</p><pre class=\"repro\">")
            .t(repro)
            .m("</pre>\n");
    }
    if let Some(m) = &case.minimized {
        h.m("<p>")
            .t(super::describe::minimized_line(&m.minimized))
            .m(":</p><pre class=\"repro\">")
            .t(&m.repro)
            .m("</pre>\n");
    }
    h.m("</details>\n");
}

fn plans_table(h: &mut Html, plans: &[PlanFailure], total: usize) {
    h.m("<table class=\"plans\"><thead><tr><th>plan</th><th>cuts</th><th>actual</th><th>oracles failed</th></tr></thead><tbody>\n");
    for p in plans {
        let oracles: Vec<String> = p.failed.iter().map(|o| o.to_string()).collect();
        h.m("<tr><td><code>")
            .t(&p.plan)
            .m("</code></td><td><code>")
            .t(cuts_text(&p.cuts))
            .m("</code></td><td>")
            .t(p.actual_text())
            .m("</td><td>")
            .t(oracles.join(", "))
            .m("</td></tr>\n");
    }
    if total > plans.len() {
        h.m("<tr><td colspan=\"4\" class=\"muted\">and ")
            .t(total - plans.len())
            .m(" more failing plans (the report keeps the first ")
            .t(plans.len())
            .m(")</td></tr>\n");
    }
    h.m("</tbody></table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_cannot_become_markup() {
        let mut h = Html::default();
        h.m("<p title=\"").t("\"><script>x('&')</script>").m("\">");
        assert_eq!(
            h.0,
            "<p title=\"&quot;&gt;&lt;script&gt;x(&#39;&amp;&#39;)&lt;/script&gt;\">"
        );
    }

    #[test]
    fn fragments_keep_only_unreserved_characters() {
        assert_eq!(
            percent_encode("spec/a b.wast:1#ü"),
            "spec%2Fa%20b.wast%3A1%23%C3%BC"
        );
    }

    #[test]
    fn rates_round_down_and_long_cut_lists_are_cut() {
        assert_eq!(percent(999, 1000), "99.9%");
        assert_eq!(percent(9999, 10000), "99.9%");
        assert_eq!(percent(0, 0), "n/a");
        let cuts: Vec<usize> = (1..=30).collect();
        assert_eq!(
            cuts_text(&cuts),
            "1,2,3,4,5,6,7,8,9,10,…,21,22,23,24,25,26,27,28,29,30 (30 cuts)"
        );
        assert_eq!(cuts_text(&[3, 3]), "3,3");
    }
}
