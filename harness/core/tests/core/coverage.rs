//! `docs/coverage.md`: for the scenario dimensions that interact, which
//! combinations the built-in `webapi` suite has a case for, in each
//! streaming function. The table is generated here from the scenario
//! vocabulary (the enums' `ALL`) and the suite; the test fails when the
//! file differs from what is generated, or when a combination the
//! algorithm tells apart has no case in both functions.
//!
//! Regenerate the file after adding cases:
//! `STREAMCONFORM_BLESS=1 cargo test -p streamconform --test core coverage`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use streamconform::case::{Case, StreamingFunction};
use streamconform::scenario::{
    Argument, BodyShape, BodyState, FetchUrl, JsValue, Pacing, Scenario, StreamEnd,
};
use streamconform::suites::{load, SuiteSpec};

const DOC: &str = "docs/coverage.md";

/// Which functions have a case for one combination.
#[derive(Default, Clone)]
struct Cell {
    compile: bool,
    instantiate: bool,
    /// The cases that fill it, for the message of a gap.
    ids: Vec<String>,
}

impl Cell {
    fn text(&self) -> &'static str {
        match (self.compile, self.instantiate) {
            (true, true) => "both",
            (true, false) => "compile only",
            (false, true) => "instantiate only",
            (false, false) => "**none**",
        }
    }

    fn full(&self) -> bool {
        self.compile && self.instantiate
    }
}

/// One table: rows × columns, each cell filled by the cases it matches.
struct Table {
    title: &'static str,
    why: &'static str,
    row_head: &'static str,
    rows: Vec<String>,
    columns: Vec<String>,
    cells: BTreeMap<(usize, usize), Cell>,
}

impl Table {
    fn new(
        title: &'static str,
        why: &'static str,
        row_head: &'static str,
        rows: Vec<String>,
        columns: Vec<String>,
    ) -> Table {
        Table {
            title,
            why,
            row_head,
            rows,
            columns,
            cells: BTreeMap::new(),
        }
    }

    fn mark(&mut self, row: usize, column: usize, case: &Case) {
        let cell = self.cells.entry((row, column)).or_default();
        cell.ids.push(case.id.clone());
        let function = case.function;
        match function {
            StreamingFunction::Compile => cell.compile = true,
            StreamingFunction::Instantiate => cell.instantiate = true,
        }
    }

    fn cell(&self, row: usize, column: usize) -> Cell {
        self.cells.get(&(row, column)).cloned().unwrap_or_default()
    }

    fn render(&self, out: &mut String) {
        let _ = writeln!(out, "## {}\n\n{}\n", self.title, self.why);
        let _ = writeln!(out, "| {} | {} |", self.row_head, self.columns.join(" | "));
        let _ = writeln!(out, "|---|{}", "---|".repeat(self.columns.len()));
        for (r, row) in self.rows.iter().enumerate() {
            let cells: Vec<&str> = (0..self.columns.len())
                .map(|c| self.cell(r, c).text())
                .collect();
            let _ = writeln!(out, "| {row} | {} |", cells.join(" | "));
        }
        out.push('\n');
    }

    fn gaps(&self) -> Vec<String> {
        let mut gaps = Vec::new();
        for (r, row) in self.rows.iter().enumerate() {
            for (c, column) in self.columns.iter().enumerate() {
                let cell = self.cell(r, c);
                if !cell.full() {
                    gaps.push(format!(
                        "{}: {row} × {column}: {} {:?}",
                        self.title,
                        cell.text(),
                        cell.ids
                    ));
                }
            }
        }
        gaps
    }
}

fn name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

/// The reasons a stream can error with: every JS value a case can name,
/// but the Response objects (arguments, not reasons).
fn reasons() -> Vec<JsValue> {
    JsValue::ALL
        .iter()
        .copied()
        .filter(|v| {
            !matches!(
                v,
                JsValue::ResponseConstructor | JsValue::ResponsePrototype | JsValue::ResponseLike
            )
        })
        .collect()
}

/// The Content-Type values a case may carry, with how it spells them:
/// `None` is no header at all.
const CONTENT_TYPES: &[(&str, Option<&str>)] = &[
    ("`application/wasm`", Some("application/wasm")),
    ("`APPLICATION/WASM`", Some("APPLICATION/WASM")),
    (
        "`application/wasm` padded with spaces",
        Some(" application/wasm "),
    ),
    (
        "`application/wasm; charset=utf-8`",
        Some("application/wasm; charset=utf-8"),
    ),
    (
        "`application/octet-stream`",
        Some("application/octet-stream"),
    ),
    ("`text/plain`", Some("text/plain")),
    ("empty", Some("")),
    ("no Content-Type", None),
];

/// Where a stream error comes: before any chunk, after some but not all,
/// after every chunk (the module's bytes all read).
fn stream_error_point(s: &Scenario) -> Option<usize> {
    if s.stream_end != StreamEnd::Error || s.bad_chunk.is_some() || s.body != BodyShape::Stream {
        return None;
    }
    // After any chunk, the chunks must have been read when the error
    // comes: one per pull().
    match s.error_after_chunks {
        Some(0) => Some(0),
        Some(_) if s.pacing == Pacing::Pull => Some(1),
        None if s.pacing == Pacing::Pull => Some(2),
        _ => None,
    }
}

/// A plain constructed Response or one served over the loopback server,
/// passed as itself or as a promise: the ways a Content-Type arrives.
fn content_type_delivery(s: &Scenario) -> Option<usize> {
    let plain = s.status == 200 && s.after_call.is_none() && s.body_state == BodyState::Fresh;
    match (&s.fetch, s.argument) {
        (None, Argument::Response | Argument::Promise) if plain && s.body == BodyShape::Stream => {
            Some(0)
        }
        (Some(fetch), Argument::Fetch | Argument::Fetched)
            if plain && fetch.url == FetchUrl::SameOrigin && fetch.abort.is_none() =>
        {
            Some(1)
        }
        _ => None,
    }
}

fn content_type_row(s: &Scenario) -> Option<usize> {
    let values: Vec<&str> = s
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| value.as_str())
        .collect();
    let value = match values.as_slice() {
        [] => None,
        [one] => Some(*one),
        _ => return None,
    };
    CONTENT_TYPES.iter().position(|(_, v)| *v == value)
}

fn tables(cases: &[Case]) -> Vec<Table> {
    let reasons = reasons();
    let mut errors = Table::new(
        "A stream error: its reason × when it comes",
        "The body stream errors with the reason; the promise must reject with that very value (steps C7, 2.F.10), whatever was read before. Before any chunk: `error-after-chunks = 0`; after some: `error-after-chunks = N` with `pacing = \"pull\"` (so the chunks were read); after every chunk: no `error-after-chunks`, with `pacing = \"pull\"`.",
        "reason",
        reasons.iter().map(|r| format!("`{}`", name(r))).collect(),
        vec![
            "before any chunk".into(),
            "after some chunks".into(),
            "after every chunk".into(),
        ],
    );
    let states: Vec<BodyState> = BodyState::ALL
        .iter()
        .copied()
        .filter(|s| *s != BodyState::Fresh)
        .collect();
    let shapes = [
        BodyShape::Stream,
        BodyShape::Buffer,
        BodyShape::Blob,
        BodyShape::String,
    ];
    let mut bodies = Table::new(
        "A body taken: how × what body",
        "A body locked, read, cancelled or consumed before the call, or taken in the same turn right after it, is unusable (step C1: a `TypeError`), whatever the Response was made from.",
        "body state",
        states.iter().map(|s| format!("`{}`", name(s))).collect(),
        shapes.iter().map(|s| format!("`{}`", name(s))).collect(),
    );
    let mut content_types = Table::new(
        "Content-Type: the value × how it arrives",
        "Only `application/wasm`, in any case and with HTTP whitespace around it, is accepted (steps 2.F.2 to 2.F.5), whether a constructed `Response` carries it or a server sends it.",
        "Content-Type",
        CONTENT_TYPES.iter().map(|(label, _)| label.to_string()).collect(),
        vec![
            "constructed `Response`".into(),
            "served over HTTP (`fetch`)".into(),
        ],
    );
    for case in cases {
        let Some(s) = case.scenario.as_deref() else {
            continue;
        };
        if let (Some(point), Some(reason)) = (stream_error_point(s), s.reason) {
            let plain = s.argument == Argument::Response
                && s.fetch.is_none()
                && s.body_state == BodyState::Fresh;
            if let Some(row) = reasons.iter().position(|r| *r == reason).filter(|_| plain) {
                errors.mark(row, point, case);
            }
        }
        if s.argument == Argument::Response && s.fetch.is_none() {
            if let (Some(row), Some(column)) = (
                states.iter().position(|st| *st == s.body_state),
                shapes.iter().position(|sh| *sh == s.body),
            ) {
                bodies.mark(row, column, case);
            }
        }
        if let (Some(row), Some(column)) = (content_type_row(s), content_type_delivery(s)) {
            content_types.mark(row, column, case);
        }
    }
    vec![errors, bodies, content_types]
}

fn generate(cases: &[Case]) -> (String, Vec<String>) {
    let mut out = String::from(
        "# Coverage of the scenario space\n\n\
         Where the algorithm's dimensions interact, which combinations the\n\
         built-in `webapi` suite has a case for, in `compileStreaming` and in\n\
         `instantiateStreaming` (\"both\": a case in each). Generated from the\n\
         scenario vocabulary and the suite by `harness/core/tests/core/coverage.rs`,\n\
         which fails when a combination lacks a case in either function or this\n\
         page is out of date (`STREAMCONFORM_BLESS=1 cargo test -p streamconform\n\
         --test core coverage` rewrites it).\n\n",
    );
    let tables = tables(cases);
    let mut gaps = Vec::new();
    for table in &tables {
        table.render(&mut out);
        gaps.extend(table.gaps());
    }
    (out, gaps)
}

#[test]
fn every_combination_the_algorithm_tells_apart_has_a_case_in_both_functions() {
    let loaded = load(&SuiteSpec::WebApi);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let (text, gaps) = generate(&loaded.cases);
    let path = crate::docs::repo_root().join(DOC);
    if std::env::var_os("STREAMCONFORM_BLESS").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let written = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        written == text,
        "{DOC} is not what the suite gives; rerun with STREAMCONFORM_BLESS=1 and review the diff"
    );
    assert!(gaps.is_empty(), "combinations without a case: {gaps:#?}");
}

#[test]
fn a_combination_without_a_case_is_a_gap() {
    // Nothing at all: every cell is a gap, named.
    let (text, gaps) = generate(&[]);
    assert!(text.contains("**none**"));
    let cells: usize = tables(&[])
        .iter()
        .map(|t| t.rows.len() * t.columns.len())
        .sum();
    assert_eq!(gaps.len(), cells);
    assert!(gaps.iter().any(|g| g.contains("`null` × before any chunk")));
}
