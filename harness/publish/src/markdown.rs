//! A Markdown summary short enough for a pull-request comment: counts per
//! backend, the first unexpected results with their repro lines, and
//! what changed since the previous night. Every list is capped, and the
//! lists together stay within [`LIST_BUDGET`] bytes, so the summary stays
//! under 10 KB however big the report (GitHub's comment limit is 65,536
//! characters). The mapping is documented in `reports/FORMATS.md`.

use super::describe::{self, Standing};
use super::history::{Change, Changes};
use super::interop::Interop;
use super::PublishError;
use std::fmt::Write as _;
use std::path::Path;
use streamconform::reporter::json::Report;
use streamconform::reporter::releases::{Direction, ReleaseDiffs};

/// Unexpected results shown one by one.
const UNEXPECTED_SHOWN: usize = 15;
/// Regressions and fixes shown one by one, each.
const CHANGES_SHOWN: usize = 20;
/// Bytes all lists together may take; the header and tables take little
/// more than a line per backend (and the interop table a line per suite,
/// a column per pair of engines: 36 columns for nine engines).
const LIST_BUDGET: usize = 7 * 1024;
/// Longest case id, headline and repro shown.
const ID_CHARS: usize = 120;
const HEADLINE_CHARS: usize = 200;
const REPRO_CHARS: usize = 300;

pub fn write(report: &Report, changes: Option<&Changes>, path: &Path) -> Result<(), PublishError> {
    Ok(streamconform::output::write(path, render(report, changes))?)
}

/// Counts of one backend, from the report's results.
#[derive(Default)]
struct Counts {
    passed: usize,
    failed: usize,
    expected_failures: usize,
    unsupported: usize,
    not_applicable: usize,
    unexpected_passes: usize,
    invalid: usize,
    flaky: usize,
}

impl Counts {
    fn of(report: &Report, backend: &str) -> Counts {
        let mut counts = Counts {
            // Found but not runnable: on every backend.
            not_applicable: report.not_applicable.len(),
            ..Counts::default()
        };
        for case in report.results.iter().filter(|c| c.backend == backend) {
            use streamconform::verdict::Status;
            match (Standing::of(case), case.status) {
                (Standing::Passed, _) => counts.passed += 1,
                (Standing::ExpectedFailure, _) => counts.expected_failures += 1,
                (Standing::Unsupported, _) => counts.unsupported += 1,
                (Standing::NotApplicable, _) => counts.not_applicable += 1,
                (Standing::Flaky | Standing::KnownFlaky, _) => counts.flaky += 1,
                (_, Status::UnexpectedPass) => counts.unexpected_passes += 1,
                (_, Status::Invalid) => counts.invalid += 1,
                _ => counts.failed += 1,
            }
        }
        counts
    }

    /// Cases judged on the backend: all but the not applicable ones.
    fn judged(&self) -> usize {
        self.passed
            + self.failed
            + self.expected_failures
            + self.unsupported
            + self.unexpected_passes
            + self.invalid
            + self.flaky
    }
}

/// Inline code showing `text` exactly (a repro line stays one to copy):
/// fenced by one backtick more than its longest run of them, and padded
/// with a space, which CommonMark strips, when it starts or ends with a
/// backtick or a space.
fn code(text: &str) -> String {
    let longest_run = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest_run + 1);
    if text.starts_with(['`', ' ']) || text.ends_with(['`', ' ']) {
        format!("{fence} {text} {fence}")
    } else {
        format!("{fence}{text}{fence}")
    }
}

/// Text from the report (an engine's message, a backend's name or
/// version) shown as it is: the characters that start emphasis, links,
/// images, HTML, entities, math, strikethrough or a table cell are
/// backslash-escaped, and each `@` is a code span of its own, where
/// GitHub sees no mention.
fn text(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '@' => escaped.push_str("`@`"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '&' | '|' | '~' | '$' | '!' => {
                escaped.push('\\');
                escaped.push(c);
            }
            c => escaped.push(c),
        }
    }
    escaped
}

/// Table cells must not break the row.
fn cell(text_of_cell: &str) -> String {
    text(&describe::one_line(text_of_cell, 200))
}

/// Appends `lines` while they fit in `budget` (and at most `cap` of them),
/// then a line saying how many were left out (`more` ends it).
fn capped_list(out: &mut String, lines: &[String], cap: usize, budget: &mut usize, more: &str) {
    let mut shown = 0;
    for line in lines.iter().take(cap) {
        if line.len() + 1 > *budget {
            break;
        }
        *budget -= line.len() + 1;
        out.push_str(line);
        out.push('\n');
        shown += 1;
    }
    if shown < lines.len() {
        let _ = writeln!(out, "- … and {} more{more}", lines.len() - shown);
    }
}

pub fn render(report: &Report, changes: Option<&Changes>) -> String {
    let run = &report.run;
    let mut out = String::new();
    let unexpected: Vec<_> = report
        .results
        .iter()
        .filter(|c| {
            Standing::of(c) == Standing::Unexpected
                || (Standing::of(c) == Standing::Flaky
                    && report.run.flaky_result == streamconform::verdict::FlakyResult::Fail)
        })
        .collect();
    let _ = writeln!(
        out,
        "## streamconform: {}\n",
        if unexpected.is_empty() {
            "no unexpected results".to_string()
        } else {
            format!("{} unexpected results", unexpected.len())
        }
    );
    let _ = writeln!(
        out,
        "streamconform {} at {}, started {}, suites {}, plans {}, {:.0} s.\n",
        text(&describe::one_line(&run.tool_version, ID_CHARS)),
        run.revision
            .as_deref()
            .map_or("an unknown revision".into(), |r| {
                code(&r.chars().take(12).collect::<String>())
            }),
        text(&describe::one_line(&run.started_at, ID_CHARS)),
        code(&describe::one_line(&run.suites.join(" "), REPRO_CHARS)),
        code(&describe::one_line(&run.plans, REPRO_CHARS)),
        report.finished.elapsed_secs
    );

    out.push_str(
        "| backend | version | passed | failed | unexpected passes | invalid | flaky | expected failures | unsupported | not applicable | pass rate |\n",
    );
    out.push_str("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    for backend in &run.backends {
        let c = Counts::of(report, &backend.name);
        let rate = match c.judged() {
            0 => "–".to_string(),
            judged => format!("{:.1}%", 100.0 * c.passed as f64 / judged as f64),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&backend.name),
            cell(&backend.version),
            c.passed,
            c.failed,
            c.unexpected_passes,
            c.invalid,
            c.flaky,
            c.expected_failures,
            c.unsupported,
            c.not_applicable,
            rate
        );
    }
    out.push_str(
        "\nPass rate: passed of the cases judged (not applicable ones left out). \
         Expected failures are deviations listed in the backend's expectations file.\n",
    );

    interop_table(&mut out, report);

    let finished = &report.finished;
    let mut problems = Vec::new();
    if !report.input_errors.is_empty() {
        problems.push(format!("{} input errors", report.input_errors.len()));
    }
    if !finished.setup_errors.is_empty() {
        problems.push(format!(
            "{} backend setup errors",
            finished.setup_errors.len()
        ));
    }
    if !finished.stale_rules.is_empty() {
        problems.push(format!(
            "{} stale expectation rules",
            finished.stale_rules.len()
        ));
    }
    if finished.interrupted {
        problems.push("the run was interrupted".into());
    }
    if !problems.is_empty() {
        let _ = writeln!(
            out,
            "\n**Run problems:** {} (see the JSON report).",
            problems.join(", ")
        );
    }

    let mut budget = LIST_BUDGET;
    if !unexpected.is_empty() {
        let _ = writeln!(out, "\n### Unexpected results\n");
        let lines: Vec<String> = unexpected
            .iter()
            .map(|case| {
                let mut line = format!(
                    "- **{}** [{}] {}: {}",
                    describe::status_word(case.status),
                    text(&describe::one_line(&case.backend, ID_CHARS)),
                    code(&describe::one_line(&case.id, ID_CHARS)),
                    text(&describe::one_line(
                        &describe::headline(case),
                        HEADLINE_CHARS
                    ))
                );
                if let Some(repro) = &case.repro {
                    let _ = write!(
                        line,
                        "<br>repro: {}",
                        code(&describe::one_line(repro, REPRO_CHARS))
                    );
                }
                if let Some(m) = &case.minimized {
                    let _ = write!(
                        line,
                        "<br>minimized to {} cuts: {}",
                        m.minimized.cuts.len(),
                        code(&describe::one_line(&m.repro, REPRO_CHARS))
                    );
                }
                line
            })
            .collect();
        capped_list(
            &mut out,
            &lines,
            UNEXPECTED_SHOWN,
            &mut budget,
            " (see the JUnit or JSON report)",
        );
    }

    if let Some(changes) = changes {
        let line = |c: &Change| {
            format!(
                "- [{}] {}: {} → {}",
                text(&describe::one_line(&c.backend, ID_CHARS)),
                code(&describe::one_line(&c.id, ID_CHARS)),
                describe::status_word(c.before),
                describe::status_word(c.after)
            )
        };
        for (title, list) in [
            ("Regressions", &changes.regressed),
            ("Fixed", &changes.fixed),
        ] {
            let _ = writeln!(
                out,
                "\n### {title} since {} ({})\n",
                text(&changes.previous),
                list.len()
            );
            if list.is_empty() {
                out.push_str("None.\n");
                continue;
            }
            let lines: Vec<String> = list.iter().map(line).collect();
            capped_list(&mut out, &lines, CHANGES_SHOWN, &mut budget, "");
        }
    }

    let releases = ReleaseDiffs::from_report(report);
    if !releases.is_empty() {
        out.push_str(
            "\n### Between releases\n\n\
             Cases whose result differs between consecutive releases of one engine.\n\n\
             | engine | older | newer | compared | regressed | fixed | changed |\n\
             |---|---|---|--:|--:|--:|--:|\n",
        );
        for diff in &releases {
            let _ = writeln!(
                out,
                "| {} | {} ({}) | {} ({}) | {} | {} | {} | {} |",
                cell(&diff.engine),
                cell(&diff.older.name),
                cell(&diff.older.version),
                cell(&diff.newer.name),
                cell(&diff.newer.version),
                diff.compared,
                diff.count(Direction::Regressed),
                diff.count(Direction::Fixed),
                diff.count(Direction::Changed)
            );
        }
        for diff in releases.iter().filter(|d| !d.changes.is_empty()) {
            let _ = writeln!(
                out,
                "\n#### {} → {}\n",
                text(&describe::one_line(&diff.older.version, ID_CHARS)),
                text(&describe::one_line(&diff.newer.version, ID_CHARS))
            );
            let lines: Vec<String> = diff
                .changes
                .iter()
                .map(|c| {
                    format!(
                        "- **{}** {}: {} → {}",
                        c.direction.as_str(),
                        code(&describe::one_line(&c.id, ID_CHARS)),
                        c.before.as_str(),
                        c.after.as_str()
                    )
                })
                .collect();
            let more = format!(
                " (the site lists up to {} per pair)",
                super::site::MAX_CHANGES_LISTED
            );
            capped_list(&mut out, &lines, CHANGES_SHOWN, &mut budget, &more);
        }
    }
    out
}

/// The site's interop table per suite (its groups are on the site): of
/// the cases every engine judged, the share all engines pass and each pair
/// passes.
fn interop_table(out: &mut String, report: &Report) {
    let Some(interop) = Interop::of(report) else {
        return;
    };
    let pairs = interop.pairs();
    let names = |list: &[String]| list.iter().map(|e| cell(e)).collect::<Vec<_>>().join(", ");
    let _ = write!(
        out,
        "\n### Interop\n\nOf the cases every engine judged, the share that all engines pass, \
         and that each pair passes (an expected failure does not pass). Engines: {}",
        names(&interop.engines)
    );
    for (what, list) in [
        ("older releases left out", &interop.older_releases),
        ("left out for having no results", &interop.without_results),
    ] {
        if !list.is_empty() {
            let _ = write!(out, "; {what}: {}", names(list));
        }
    }
    let _ = write!(
        out,
        ".\n\n| suite | cases | all {} |",
        interop.engines.len()
    );
    for &(a, b) in &pairs {
        let _ = write!(
            out,
            " {} · {} |",
            cell(&interop.engines[a]),
            cell(&interop.engines[b])
        );
    }
    out.push_str("\n|---|--:|--:|");
    out.push_str(&"--:|".repeat(pairs.len()));
    out.push('\n');
    // As the site shows them: rounded down, so only a full pass is 100%.
    let share = |passed: usize, judged: usize| match judged {
        0 => "–".to_string(),
        _ => super::site::percent(passed, judged),
    };
    for (name, s) in interop
        .suites
        .iter()
        .map(|s| (cell(&s.suite), s))
        .chain([("**all**".to_string(), &interop.total)])
    {
        let _ = write!(
            out,
            "| {name} | {} | {} |",
            s.judged,
            share(s.all_pass, s.judged)
        );
        for p in &s.pairs {
            let _ = write!(out, " {} |", share(p.both_pass, p.judged));
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "\n{} cases where engines disagree (listed on the site, each engine's outcome side by side); {} pass on no engine.",
        interop.disagreements.len(),
        interop.total.none_pass
    );
}

#[cfg(test)]
mod tests {
    use super::super::sample;
    use super::*;
    use streamconform::verdict::Status;

    fn changes(regressed: usize, fixed: usize) -> Changes {
        let change = |i: usize, before, after| Change {
            backend: "node".into(),
            id: format!("spec/wasm-latest/case.wast:{i}"),
            before,
            after,
        };
        Changes {
            previous: "2026-11-23 abc123".into(),
            latest: "2026-11-24 def456".into(),
            regressed: (0..regressed)
                .map(|i| change(i, Status::Passed, Status::Failed))
                .collect(),
            fixed: (0..fixed)
                .map(|i| change(i, Status::Failed, Status::Passed))
                .collect(),
            nights: 2,
            ..Changes::default()
        }
    }

    #[test]
    fn table_per_backend_and_unexpected_results_with_repro() {
        let md = render(&sample::report(), None);
        assert!(
            md.starts_with("## streamconform: 4 unexpected results\n"),
            "{md}"
        );
        // node: 1 passed, 2 failed (one a timeout), 1 unexpected pass, 1
        // invalid, 0 flaky, 1 expected failure, 1 unsupported, 1 + 1 not
        // applicable.
        assert!(
            md.contains("| node | node 20.20.2 | 1 | 2 | 1 | 1 | 0 | 1 | 1 | 2 | 14.3% |"),
            "{md}"
        );
        assert!(
            md.contains(
                "| chromium | chromium 156.0.8078.79 | 2 | 0 | 0 | 0 | 0 | 0 | 0 | 1 | 100.0% |"
            ),
            "{md}"
        );
        assert!(md.contains("- **FAIL** [node] `webapi/chunks/all-chunks-array-buffer`: expected Module; 20 of 20 plans failed"), "{md}");
        assert!(md.contains("<br>repro: `streamconform run --backend node --suite webapi --case webapi/chunks/all-chunks-array-buffer --plan one-byte`"), "{md}");
        assert!(md.contains("**UNEXPECTED PASS** [node]"), "{md}");
        assert!(md.contains("**INVALID CASE** [node]"), "{md}");
        assert!(
            !md.contains("EXPECTED FAIL"),
            "expected failures are not listed: {md}"
        );
        assert!(
            md.contains("1 input errors, 1 stale expectation rules"),
            "{md}"
        );
        assert!(!md.contains("Regressions"), "{md}");
        assert_eq!(md, render(&sample::report(), None));
    }

    #[test]
    fn code_spans_keep_backticks_and_text_is_shown_not_interpreted() {
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`a``"), "``` `a`` ```");
        assert_eq!(code("plain"), "`plain`");
        assert_eq!(
            text("<img src=x> @octocat ![i](u) [l](u) **b** a|b &amp; $x$"),
            "\\<img src=x\\> `@`octocat \\!\\[i\\](u) \\[l\\](u) \\*\\*b\\*\\* a\\|b \\&amp; \\$x\\$"
        );
    }

    /// Two releases of node: the table, then each pair's cases with their
    /// direction; a report with one release per engine has no section.
    #[test]
    fn releases_of_one_engine_get_their_differences() {
        let mut report = sample::report();
        assert!(!render(&report, None).contains("Between releases"));
        report.run.backends.push(streamconform::BackendInfo {
            name: "node@22".into(),
            version: "node 22.1.0".into(),
        });
        let node: Vec<_> = report
            .results
            .iter()
            .filter(|c| c.backend == "node")
            .cloned()
            .collect();
        for mut case in node {
            case.backend = "node@22".into();
            case.unsupported.clear();
            if case.status != Status::Passed {
                case.status = Status::Passed;
            }
            report.results.push(case);
        }
        let md = render(&report, None);
        assert!(md.contains("### Between releases"), "{md}");
        assert!(
            md.contains("| node | node (node 20.20.2) | node`@`22 (node 22.1.0) |"),
            "{md}"
        );
        assert!(md.contains("#### node 20.20.2 → node 22.1.0"), "{md}");
        assert!(md.contains("- **fixed** `"), "{md}");
        assert!(!md.contains("**regressed**"), "{md}");
    }

    #[test]
    fn interop_per_suite_counts_cases_every_engine_judged() {
        let md = render(&sample::report(), None);
        let interop = &md[md.find("### Interop").expect("an interop section")..];
        // node and chromium both judged two cases; one is node's expected
        // failure, which does not pass.
        assert!(interop.contains("Engines: node, chromium."), "{interop}");
        assert!(
            interop.contains("| suite | cases | all 2 | node · chromium |"),
            "{interop}"
        );
        assert!(interop.contains("| spec | 1 | 0.0% | 0.0% |"), "{interop}");
        assert!(
            interop.contains("| webapi | 1 | 100% | 100% |"),
            "{interop}"
        );
        assert!(
            interop.contains("| **all** | 2 | 50.0% | 50.0% |"),
            "{interop}"
        );
        assert!(
            interop.contains("1 cases where engines disagree"),
            "{interop}"
        );
    }

    #[test]
    fn changes_are_listed_and_capped() {
        let md = render(&sample::report(), Some(&changes(25, 0)));
        assert!(
            md.contains("### Regressions since 2026-11-23 abc123 (25)"),
            "{md}"
        );
        assert!(
            md.contains("- [node] `spec/wasm-latest/case.wast:19`: PASS → FAIL"),
            "{md}"
        );
        assert!(!md.contains("case.wast:20`"), "{md}");
        assert!(md.contains("- … and 5 more\n"), "{md}");
        assert!(
            md.contains("### Fixed since 2026-11-23 abc123 (0)\n\nNone."),
            "{md}"
        );
    }

    #[test]
    fn stays_small_however_big_the_report() {
        let mut report = sample::report();
        let failing = report.results[1].clone();
        for i in 0..5000 {
            let mut case = failing.clone();
            case.id = format!("{}-{i}-{}", case.id, "x".repeat(300));
            case.repro = Some("r".repeat(2000));
            report.results.push(case);
        }
        let md = render(&report, Some(&changes(10_000, 10_000)));
        assert!(md.len() < 10 * 1024, "{} bytes", md.len());
        assert!(md.contains("## streamconform: 5004 unexpected results"));
        assert!(md.contains("more (see the JUnit or JSON report)"), "{md}");
        assert!(md.contains("### Fixed since"), "{md}");
    }
}
