//! The documentation a user needs is inside the repository.
//!
//! - Every edge-case id a Web API case cites in its `source` (`edge c.5.8`)
//!   is explained under a `### c.5.8: ...` heading in `harness/core/ALGORITHM.md`.
//! - Every in-page link of ALGORITHM.md (`](#...)`) leads to a heading.
//! - Nothing the project ships points at documents outside the repository.
//! - Every relative link of README.md and docs/*.md leads to a file that
//!   exists and, with `#anchor`, to a heading of that file; README.md stays
//!   a short first page.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("harness/core/ has a grandparent")
        .to_path_buf()
}

fn algorithm_md() -> String {
    let path = repo_root().join("harness/core/ALGORITHM.md");
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Edge-case ids in a `source` value: `c.N` or `c.N.M`, not preceded by a
/// letter, digit or dot. `edge c.5.9(a)` gives `c.5.9`; `c.5.4/c.5.6` both.
fn edge_ids(source: &str) -> Vec<String> {
    let b = source.as_bytes();
    let mut ids = Vec::new();
    let mut i = 0;
    while i + 2 < b.len() {
        let starts = b[i] == b'c'
            && b[i + 1] == b'.'
            && b[i + 2].is_ascii_digit()
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.'));
        if !starts {
            i += 1;
            continue;
        }
        let mut end = i + 2;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
        if end + 1 < b.len() && b[end] == b'.' && b[end + 1].is_ascii_digit() {
            end += 1;
            while end < b.len() && b[end].is_ascii_digit() {
                end += 1;
            }
        }
        ids.push(source[i..end].to_string());
        i = end;
    }
    ids
}

/// Every string value under a key named `source`, at any depth.
fn collect_sources(v: &toml::Value, out: &mut Vec<String>) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                match (k.as_str(), v) {
                    ("source", toml::Value::String(s)) => out.push(s.clone()),
                    _ => collect_sources(v, out),
                }
            }
        }
        toml::Value::Array(a) => a.iter().for_each(|v| collect_sources(v, out)),
        _ => {}
    }
}

#[test]
fn edge_id_parsing() {
    assert_eq!(edge_ids("edge c.5.8"), ["c.5.8"]);
    assert_eq!(edge_ids("edge c.5.9(a) deferred-error probe"), ["c.5.9"]);
    assert_eq!(edge_ids("edge c.5.4/c.5.6"), ["c.5.4", "c.5.6"]);
    assert_eq!(edge_ids("edge c.1.3 / c.5.9"), ["c.1.3", "c.5.9"]);
    assert_eq!(edge_ids("edge c.1 (identity for any value)"), ["c.1"]);
    assert_eq!(edge_ids("edge c.4.2: fetch rejects"), ["c.4.2"]);
    assert!(edge_ids("WPT invalid-args.any.js").is_empty());
    assert!(edge_ids("abc.1 etc.2").is_empty());
}

#[test]
fn every_cited_edge_case_has_a_heading_in_algorithm_md() {
    let dir = repo_root().join("suites/webapi");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter(|p| p.file_name().is_some_and(|n| n != "modules.toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no case files in {}", dir.display());

    // id -> the first file that cites it, for the failure message
    let mut cited: Vec<(String, String)> = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).unwrap();
        let doc: toml::Value =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let mut sources = Vec::new();
        collect_sources(&doc, &mut sources);
        for s in sources {
            for id in edge_ids(&s) {
                if !cited.iter().any(|(c, _)| *c == id) {
                    let name = file.file_name().unwrap().to_string_lossy();
                    cited.push((id, format!("{name}: source = {s:?}")));
                }
            }
        }
    }
    assert!(
        !cited.is_empty(),
        "no case cites an edge case; is the parser broken?"
    );

    let doc = algorithm_md();
    let headings: Vec<&str> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("### "))
        .filter_map(|h| h.split_once(": ").map(|(id, _)| id))
        .collect();
    let mut missing = Vec::new();
    for (id, example) in &cited {
        let n = headings.iter().filter(|h| **h == id).count();
        if n != 1 {
            missing.push(format!(
                "  `### {id}: ...` appears {n} times (needs 1); cited by {example}"
            ));
        }
    }
    assert!(
        missing.is_empty(),
        "harness/core/ALGORITHM.md must explain every edge case a case cites, \
         under exactly one heading each:\n{}",
        missing.join("\n")
    );
}

/// GitHub's anchor for a heading: lower case, punctuation other than `-`
/// and `_` dropped, spaces turned into `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

#[test]
fn in_page_links_of_algorithm_md_lead_to_headings() {
    let doc = algorithm_md();
    let anchors: BTreeSet<String> = doc
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| slug(l.trim_start_matches('#')))
        .collect();
    let mut broken = Vec::new();
    for (n, line) in doc.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find("](#") {
            rest = &rest[at + 3..];
            let Some(end) = rest.find(')') else { break };
            let anchor = &rest[..end];
            if !anchors.contains(anchor) {
                broken.push(format!("  line {}: #{anchor}", n + 1));
            }
            rest = &rest[end..];
        }
    }
    assert!(
        broken.is_empty(),
        "harness/core/ALGORITHM.md links to headings it does not have:\n{}",
        broken.join("\n")
    );
}

/// Documents that exist only outside the repository. Nothing the project
/// ships may point at them; their facts belong in harness/core/ALGORITHM.md.
const OUTSIDE: [&str; 3] = [
    "shared/reference",
    "web-api-conformance.md",
    "chunking-strategies.md",
];

fn files_under(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_file() {
        out.push(path.to_path_buf());
    } else if path.is_dir() {
        for entry in walkdir::WalkDir::new(path) {
            let entry = entry.unwrap();
            if entry.file_type().is_file() {
                out.push(entry.into_path());
            }
        }
    }
}

#[test]
fn nothing_points_outside_the_repository() {
    let root = repo_root();
    let mut files = Vec::new();
    for p in [
        "harness/core/src",
        "harness/engines/src",
        "harness/publish/src",
        "harness/cli/src",
        "harness/engines/js",
        "harness/core/ALGORITHM.md",
        "harness/engines/PROTOCOL.md",
        "suites",
        "README.md",
        "docs",
        "reports",
        "expectations",
    ] {
        files_under(&root.join(p), &mut files);
    }
    files.sort();
    assert!(
        files.len() > 10,
        "found only {} files to check",
        files.len()
    );

    let mut offenders = Vec::new();
    for file in &files {
        let Ok(bytes) = fs::read(file) else { continue };
        let text = String::from_utf8_lossy(&bytes);
        for (n, line) in text.lines().enumerate() {
            for needle in OUTSIDE {
                if line.contains(needle) {
                    let rel = file.strip_prefix(&root).unwrap_or(file);
                    offenders.push(format!(
                        "  {}:{}: mentions `{needle}`: {}",
                        rel.display(),
                        n + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "these lines point at documents outside the repository; say it in \
         plain words or point at harness/core/ALGORITHM.md instead:\n{}",
        offenders.join("\n")
    );
}

/// The Markdown files of the user guide: README.md and every `docs/*.md`.
fn guide_files() -> Vec<PathBuf> {
    let root = repo_root();
    let mut files = vec![root.join("README.md")];
    let dir = root.join("docs");
    let mut pages: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    pages.sort();
    assert!(!pages.is_empty(), "no pages in {}", dir.display());
    files.extend(pages);
    files
}

/// Is this line a code fence (```` ``` ```` or `~~~`, possibly indented
/// inside a list item)?
fn is_fence(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("```") || t.starts_with("~~~")
}

/// The lines of a Markdown document outside fenced code blocks, numbered
/// from 1.
fn prose_lines(doc: &str) -> Vec<(usize, &str)> {
    let mut in_fence = false;
    let mut out = Vec::new();
    for (n, line) in doc.lines().enumerate() {
        if is_fence(line) {
            in_fence = !in_fence;
            continue;
        }
        if !in_fence {
            out.push((n + 1, line));
        }
    }
    out
}

/// The anchors GitHub gives the headings of a document: the slug of each
/// ATX heading outside code blocks, with `-1`, `-2`, ... added to repeats.
fn heading_anchors(doc: &str) -> BTreeSet<String> {
    let mut anchors = BTreeSet::new();
    for (_, line) in prose_lines(doc) {
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let text = line[hashes..].trim().trim_end_matches('#').trim_end();
        let base = slug(text);
        let mut anchor = base.clone();
        let mut n = 0;
        while anchors.contains(&anchor) {
            n += 1;
            anchor = format!("{base}-{n}");
        }
        anchors.insert(anchor);
    }
    anchors
}

/// The line with its inline code spans (`` `...` ``) blanked out, so a
/// link written as code is not taken for a link.
fn without_code_spans(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_code = false;
    for c in line.chars() {
        if c == '`' {
            in_code = !in_code;
            out.push(' ');
        } else if in_code {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

/// The targets of the inline links `[text](target)` on one line.
fn link_targets(line: &str) -> Vec<String> {
    let line = without_code_spans(line);
    let mut targets = Vec::new();
    let mut rest = line.as_str();
    while let Some(at) = rest.find("](") {
        let before = &rest[..at];
        rest = &rest[at + 2..];
        if !before.contains('[') {
            continue;
        }
        let Some(end) = rest.find(')') else { break };
        // `(target "title")`: the target is the first word.
        let target = rest[..end].split_whitespace().next().unwrap_or("");
        targets.push(target.to_string());
        rest = &rest[end..];
    }
    targets
}

#[test]
fn link_and_heading_parsing() {
    assert_eq!(
        link_targets("see [a](b.md#c) and [`x`](../y/z.md), not `[q](r)`"),
        ["b.md#c", "../y/z.md"]
    );
    assert_eq!(link_targets("[t](u.md \"title\")"), ["u.md"]);
    assert!(link_targets("f(x) and a](b) without a bracket").is_empty());
    assert_eq!(
        slug("Interrupted runs: `--resume`"),
        "interrupted-runs---resume"
    );
    assert_eq!(
        slug("Reports for CI: JUnit, wptreport, Markdown"),
        "reports-for-ci-junit-wptreport-markdown"
    );
    let anchors = heading_anchors("# A\n## B c\n```sh\n# not a heading\n```\n## B c\n#nope\n");
    let expected: BTreeSet<String> = ["a", "b-c", "b-c-1"].map(String::from).into();
    assert_eq!(anchors, expected);
}

#[test]
fn links_of_the_user_guide_lead_to_files_and_headings() {
    let root = repo_root();
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in guide_files() {
        let doc = fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let rel = file
            .strip_prefix(&root)
            .unwrap_or(&file)
            .display()
            .to_string();
        for (n, line) in prose_lines(&doc) {
            for target in link_targets(line) {
                let lower = target.to_ascii_lowercase();
                if lower.starts_with("http://")
                    || lower.starts_with("https://")
                    || lower.starts_with("mailto:")
                {
                    continue;
                }
                checked += 1;
                let (path, anchor) = match target.split_once('#') {
                    Some((p, a)) => (p, Some(a)),
                    None => (target.as_str(), None),
                };
                let linked = if path.is_empty() {
                    file.clone()
                } else {
                    file.parent().unwrap().join(path)
                };
                if !linked.exists() {
                    broken.push(format!("  {rel}:{n}: {target}: no such file"));
                    continue;
                }
                let Some(anchor) = anchor else { continue };
                let text = if linked.is_file() {
                    fs::read_to_string(&linked).unwrap_or_default()
                } else {
                    String::new()
                };
                if !heading_anchors(&text).contains(anchor) {
                    broken.push(format!(
                        "  {rel}:{n}: {target}: no heading with anchor #{anchor}"
                    ));
                }
            }
        }
    }
    assert!(
        checked > 20,
        "found only {checked} links to check; is the parser broken?"
    );
    assert!(
        broken.is_empty(),
        "README.md and docs/ have links that lead nowhere:\n{}",
        broken.join("\n")
    );
}

#[test]
fn readme_is_a_short_first_page() {
    let path = repo_root().join("README.md");
    let lines = fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .count();
    assert!(
        lines <= 160,
        "README.md has {lines} lines; keep it a first page of at most 160 \
         and move details into docs/"
    );
}
