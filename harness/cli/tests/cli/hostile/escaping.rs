//! Items 2, 3, 12 and 14 of the trust review: every output escapes for its
//! medium, and no output follows a link planted at its path.
//!
//! - 2: a module whose function is named `</script><svg onload=...>` (V8
//!   quotes the name in its CompileError) exported by `minimize --export`;
//!   the `.html` opened in headless Chromium injects nothing.
//! - 3: case ids (file names) and engine messages with terminal escapes and
//!   Markdown/HTML reach stdout with control characters escaped and
//!   `summary.md` escaped (repro lines exact in their code spans).
//! - 12: a symlink at each output path (JSON report and its old `.partial`,
//!   JUnit, wptreport, Markdown, the site's index and its `cells`
//!   directory, history and its old `.partial`, the reproducer's four
//!   files) leaves its target unchanged. (Fuzz findings and file names
//!   made from backend names: unit tests in the core's `fuzz` and `output`.)
//! - 14: the site's filter survives a malformed `#q=` escape.
//!
//! Hostile inputs tried here: 1 (item 2: the name-section module) + 5
//! (item 3: the line-erasing file name, its control-character export
//! name, the Markdown file name with a lone backtick, its
//! HTML/image/link/mention export name, the hostile backend version; each
//! through `run`, `list`, `report` and the replayed repro line) + 13 (item
//! 12: the symlinks) + 2 (item 14: `#q=%E0%A4%A`, `#q=100%`) = 21.

use crate::common::{streamconform, text};
use crate::site::{load_in_chromium, strip_tags};
use std::path::{Path, PathBuf};

/// What terminals act on: ESC, CR, BEL, backspace, CSI (C1).
const TERMINAL_CONTROLS: [char; 5] = ['\x1b', '\r', '\x07', '\x08', '\u{9b}'];

/// A file name that erases its own FAIL line on a terminal.
const ERASING_NAME: &str = "erase\x1b[2K\r.wast";
/// A file name with a lone backtick and Markdown/HTML, and a `%` (item 14).
const MARKDOWN_NAME: &str = "md`tick <b>bold [x] 100%.wast";
/// An export name that wasmparser quotes in its message (a duplicate).
const MESSAGE_WITH_CONTROLS: &str = "\\1b]0;owned\\07\\1b[2K\\0d";
const MESSAGE_WITH_MARKDOWN: &str =
    "<img src=x onerror=alert(1)> @octocat ![i](https://e.example/i.png) [l](https://e.example) **b**";
const HOSTILE_VERSION: &str = "1.0 <img src=y onerror=alert(2)> @hubot [v](https://e.example) `";

/// A module that exports `name` twice: invalid, and the reference
/// backend's message quotes the name; the suite says it is valid, so every
/// backend fails it.
fn duplicate_export(name: &str) -> String {
    format!("(module (func) (export \"{name}\" (func 0)) (export \"{name}\" (func 0)))\n")
}

/// A directory with a suite of the two hostile files, run on the reference
/// backend with a JSON report.
fn hostile_run(dir: &Path) -> (std::process::Output, serde_json::Value) {
    let suite = dir.join("suite");
    std::fs::create_dir_all(&suite).unwrap();
    std::fs::write(
        suite.join(ERASING_NAME),
        duplicate_export(MESSAGE_WITH_CONTROLS),
    )
    .unwrap();
    std::fs::write(
        suite.join(MARKDOWN_NAME),
        duplicate_export(MESSAGE_WITH_MARKDOWN),
    )
    .unwrap();
    let out = streamconform(&["run", "--suite", "suite", "--report", "run.json"], dir);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report = serde_json::from_slice(&std::fs::read(dir.join("run.json")).unwrap()).unwrap();
    (out, report)
}

fn assert_no_terminal_controls(what: &str, output: &[u8]) {
    let shown = String::from_utf8_lossy(output);
    for c in TERMINAL_CONTROLS {
        assert!(
            !shown.contains(c),
            "{what}: {c:?} reaches the terminal raw: {shown:?}"
        );
    }
}

#[test]
fn hostile_case_ids_and_engine_messages_reach_the_terminal_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = hostile_run(dir.path());
    assert_no_terminal_controls("run", &out.stdout);
    assert_no_terminal_controls("run (stderr)", &out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The FAIL line is there, naming the file with its escapes shown.
    assert!(
        stdout.contains("FAIL [reference] suite/erase\\x1b[2K\\r.wast:1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\\x1b]0;owned\\x07"),
        "the message: {stdout}"
    );
    // Its repro line shows escapes a shell reads back: pasted, it replays
    // exactly that case.
    let repro = stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("repro: "))
        .find(|l| l.contains("erase"))
        .expect("a repro line");
    assert!(
        repro.contains("--case $'suite/erase\\x1b[2K\\x0d.wast:1'"),
        "{repro}"
    );
    let replayed = std::process::Command::new("bash")
        .args(["-c", repro])
        .output()
        .unwrap();
    assert_eq!(replayed.status.code(), Some(1), "{}", text(&replayed));
    assert!(
        String::from_utf8_lossy(&replayed.stdout).contains("\n1 (case, backend) pairs"),
        "{}",
        text(&replayed)
    );

    let listed = streamconform(&["list", "--suite", "suite"], dir.path());
    assert_eq!(listed.status.code(), Some(0), "{}", text(&listed));
    assert_no_terminal_controls("list", &listed.stdout);
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("suite/erase\\x1b[2K\\r.wast:1"),
        "{}",
        text(&listed)
    );
}

/// The contents of the CommonMark code spans on `line`.
fn code_spans(line: &str) -> Vec<String> {
    let bytes = line.as_bytes();
    let run_at = |i: usize| bytes[i..].iter().take_while(|&&b| b == b'`').count();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'`' || (i > 0 && bytes[i - 1] == b'\\') {
            i += 1;
            continue;
        }
        let open = run_at(i);
        let mut j = i + open;
        let mut closed = None;
        while j < bytes.len() {
            if bytes[j] == b'`' {
                let run = run_at(j);
                if run == open {
                    closed = Some(j);
                    break;
                }
                j += run;
            } else {
                j += 1;
            }
        }
        match closed {
            Some(j) => {
                let inner = &line[i + open..j];
                let stripped = if inner.len() > 2
                    && inner.starts_with(' ')
                    && inner.ends_with(' ')
                    && !inner.trim().is_empty()
                {
                    &inner[1..inner.len() - 1]
                } else {
                    inner
                };
                spans.push(stripped.to_string());
                i = j + open;
            }
            None => i += open,
        }
    }
    spans
}

/// `md` with its code spans taken out: what Markdown interprets.
fn outside_code_spans(md: &str) -> String {
    let mut rest = String::new();
    for line in md.lines() {
        let mut line = line.to_string();
        for span in code_spans(&line.clone()) {
            if let Some(at) = line.find(&span) {
                line.replace_range(at..at + span.len(), "");
            }
        }
        rest.push_str(&line);
        rest.push('\n');
    }
    rest
}

/// Occurrences of `what` in `text` not preceded by a backslash escape.
fn unescaped(text: &str, what: &str) -> usize {
    text.match_indices(what)
        .filter(|(at, _)| !text[..*at].ends_with('\\'))
        .count()
}

#[test]
fn hostile_messages_ids_and_versions_are_escaped_in_the_markdown_summary() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut report) = hostile_run(dir.path());
    report["run"]["backends"][0]["version"] = HOSTILE_VERSION.into();
    std::fs::write(
        dir.path().join("run.json"),
        serde_json::to_vec(&report).unwrap(),
    )
    .unwrap();
    let out = streamconform(
        &["report", "run.json", "--markdown", "summary.md"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_no_terminal_controls("report", &out.stdout);
    let md = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    let interpreted = outside_code_spans(&md);
    for markup in ["<img", "<b>", "](", "![", "**b**", "@octocat", "@hubot"] {
        assert_eq!(
            unescaped(&interpreted, markup),
            0,
            "{markup:?} is Markdown/HTML in the summary:\n{md}"
        );
    }
    // Each repro line is exactly one code span, lone backtick and all.
    for case in report["results"].as_array().unwrap() {
        let Some(repro) = case["repro"].as_str() else {
            continue;
        };
        assert!(
            md.lines().flat_map(code_spans).any(|span| span == repro),
            "no code span reads {repro:?}:\n{md}"
        );
    }
    // The hostile text is still there to read.
    assert!(
        md.contains("onerror=alert(1)") && md.contains("octocat"),
        "{md}"
    );
}

/// Headless Chromium's DOM of `page` after its scripts ran (up to a few
/// seconds of virtual time), and its console's errors.
fn chromium_dom(page: &str, profile: &Path) -> (String, Vec<String>) {
    load_in_chromium(page, profile, &["--virtual-time-budget=5000"])
}

#[test]
fn a_name_section_in_the_exported_reproducer_injects_no_script() {
    const NAME: &str = "</script><svg onload=title=1337>";
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("suite");
    std::fs::create_dir_all(&suite).unwrap();
    // One function whose body leaves a value on the stack: invalid, so
    // V8's CompileError quotes its name from the name section.
    let mut body = vec![0x01, 0x00, NAME.len() as u8];
    body.extend(NAME.as_bytes());
    let mut names = b"\x04name\x01".to_vec();
    names.push(body.len() as u8);
    names.extend(body);
    let mut module =
        b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0\x03\x02\x01\0\x0a\x06\x01\x04\0\x41\0\x0b\0".to_vec();
    module.push(names.len() as u8);
    module.extend(names);
    let escaped: String = module.iter().map(|b| format!("\\{b:02x}")).collect();
    std::fs::write(
        suite.join("named.wast"),
        format!("(module binary \"{escaped}\")\n"),
    )
    .unwrap();
    let export = dir.path().join("repro");
    let out = streamconform(
        &[
            "minimize",
            "suite/named.wast:1",
            "--backend",
            "node",
            "--suite",
            "suite",
            "--export",
            "repro",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let html = export.join("suite-named.wast-1.html");
    let source = std::fs::read_to_string(&html).unwrap();
    assert!(
        source.contains("svg onload=title=1337"),
        "node's message, quoting the name, is in the reproducer: {source}"
    );
    assert_eq!(
        source.matches("</script>").count(),
        1,
        "only the element's own end tag: {source}"
    );

    let profile = dir.path().join("profile");
    let (dom, console) = chromium_dom(&format!("file://{}", html.display()), &profile);
    assert!(!dom.contains("<svg"), "an injected element: {dom}");
    assert!(
        !dom.contains("1337</title>"),
        "an injected handler ran: {dom}"
    );
    assert!(
        console.iter().all(|l| !l.contains("Uncaught")),
        "{console:#?}"
    );
    // The page still works: it printed what streamconform saw, the name
    // as text.
    let shown = strip_tags(&dom);
    assert!(
        shown
            .lines()
            .any(|line| line.starts_with("streamconform saw:")
                && line.contains(&format!("Compiling function #0:\"{NAME}\""))),
        "{dom}"
    );
}

/// A victim file and a symlink to it at `link`; returns the victim.
fn plant_link(link: &Path, victim_dir: &Path) -> PathBuf {
    let victim = victim_dir.join(format!(
        "victim-{}",
        link.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&victim, "precious").unwrap();
    if let Some(parent) = link.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::os::unix::fs::symlink(&victim, link).unwrap();
    victim
}

fn assert_untouched(victims: &[PathBuf]) {
    for victim in victims {
        assert_eq!(
            std::fs::read_to_string(victim).unwrap(),
            "precious",
            "{} was written through a symlink",
            victim.display()
        );
    }
}

#[test]
fn outputs_replace_symlinks_at_their_paths_and_leave_the_targets_alone() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let victims_dir = work.join("victims");
    std::fs::create_dir_all(&victims_dir).unwrap();
    let suite = work.join("suite");
    std::fs::create_dir_all(&suite).unwrap();
    std::fs::write(suite.join("wrong.wast"), crate::common::WRONG_EXPECTATION).unwrap();

    // The JSON report (and the `.partial` it used to be written through).
    let mut victims = vec![
        plant_link(&work.join("run.json"), &victims_dir),
        plant_link(&work.join("run.json.partial"), &victims_dir),
    ];
    let out = streamconform(&["run", "--suite", "suite", "--report", "run.json"], work);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_untouched(&victims);
    assert!(!work.join("run.json").is_symlink());

    // The published outputs; the history's night is named by the report.
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(work.join("run.json")).unwrap()).unwrap();
    let night = format!(
        "{}-{}",
        &report["run"]["started_at"].as_str().unwrap()[..10],
        report["run"]["revision"]
            .as_str()
            .map_or("norev".to_string(), |r| r.chars().take(12).collect())
    );
    for link in [
        work.join("junit.xml"),
        work.join("wpt.json"),
        work.join("summary.md"),
        work.join("site/index.html"),
        work.join(format!("history/{night}.json.gz")),
        work.join(format!("history/.{night}.json.gz.partial")),
    ] {
        victims.push(plant_link(&link, &victims_dir));
    }
    // The site's `cells` directory, whose old pages are deleted.
    let victim_cells = victims_dir.join("cells");
    std::fs::create_dir_all(&victim_cells).unwrap();
    std::fs::write(victim_cells.join("0.html"), "precious").unwrap();
    victims.push(victim_cells.join("0.html"));
    std::os::unix::fs::symlink(&victim_cells, work.join("site/cells")).unwrap();
    let out = streamconform(
        &[
            "report",
            "run.json",
            "--junit",
            "junit.xml",
            "--wptreport",
            "wpt.json",
            "--markdown",
            "summary.md",
            "--html",
            "site",
            "--history",
            "history",
        ],
        work,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_untouched(&victims);
    assert_eq!(std::fs::read_dir(&victim_cells).unwrap().count(), 1);
    for output in [
        "junit.xml",
        "wpt.json",
        "summary.md",
        "site/index.html",
        "site/cells/0.html",
    ] {
        assert!(!work.join(output).is_symlink(), "{output}");
        assert!(work.join(output).is_file(), "{output}");
    }

    // A reproducer's files.
    let stem = "suite-wrong.wast-1";
    for name in [
        format!("{stem}.wasm"),
        format!("{stem}.mjs"),
        format!("{stem}.html"),
        "README.txt".into(),
    ] {
        victims.push(plant_link(&work.join("repro").join(name), &victims_dir));
    }
    let out = streamconform(
        &[
            "minimize",
            "suite/wrong.wast:1",
            "--suite",
            "suite",
            "--export",
            "repro",
        ],
        work,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_untouched(&victims);
    assert!(work.join("repro/README.txt").is_file());
}

#[test]
fn the_sites_filter_survives_a_malformed_escape_in_the_link() {
    let dir = tempfile::tempdir().unwrap();
    hostile_run(dir.path());
    let out = streamconform(&["report", "run.json", "--html", "site"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let page = std::fs::read_dir(dir.path().join("site/cells"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| std::fs::read_to_string(p).unwrap().contains("100%.wast"))
        .expect("the cell page of the hostile cases");
    let cases = std::fs::read_to_string(&page)
        .unwrap()
        .matches("<details class=\"case")
        .count();
    let profile = dir.path().join("profile");
    for (fragment, shown) in [
        // Not an escape of UTF-8: taken as typed, matching nothing.
        ("%E0%A4%A", 0),
        // A bare `%`: taken as typed, it names the `100%` case.
        ("100%", 1),
    ] {
        let url = format!("file://{}#q={fragment}", page.display());
        let (dom, console) = load_in_chromium(&url, &profile, &[]);
        assert!(
            console.iter().all(|l| !l.contains("Uncaught")),
            "{url}: {console:#?}"
        );
        assert!(
            dom.contains(&format!("{shown} of {cases} shown")),
            "{url}: {dom}"
        );
    }
}
