//! Minimization (`runner::minimize`, `minimize`, `run --minimize`) and the
//! standalone reproducers it exports.
//!
//! The in-process engines here are fault-injection test doubles, named for
//! the bug they carry; each otherwise acts as the reference backend. The
//! node tests use a real engine: node 20 lacks multi-memory, so a module
//! with two memories fails the spec oracle there, under every chunking.

use crate::common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use streamconform::backend::BackendUnderTest;
use streamconform::case::{CaseOrigin, Expected};
use streamconform::plan::structure::structural_offsets;
use streamconform::reporter::json::{JsonReport, Report};
use streamconform::runner::minimize::{minimize, MinimizeOptions};
use streamconform::runner::{PlanSelection, Run, RunConfig};
use streamconform::verdict::{Oracle, PlanFailure};
use streamconform::{
    Backend, BackendInfo, Case, Features, Outcome, OutcomeClass, ReferenceBackend, StreamingBody,
};
use streamconform_engines::reproducer::{self, Reproducer};

/// The chunks' inner boundaries: the offsets the body was cut at, an
/// empty chunk giving the same offset twice.
fn boundaries(body: &StreamingBody<'_>) -> Vec<usize> {
    let chunks: Vec<&[u8]> = body.chunks.clone().collect();
    let mut end = 0;
    chunks[..chunks.len() - 1]
        .iter()
        .map(|c| {
            end += c.len();
            end
        })
        .collect()
}

fn injected() -> Outcome {
    Outcome::CompileError {
        message: "injected".into(),
    }
}

/// A fault-injection test double: the reference backend, except that a
/// streamed body whose cut offsets (`boundaries`) and length make
/// `fails_when` true is rejected. Named for the bug it carries.
struct InjectedFault {
    name: &'static str,
    fails_when: Box<FailsWhen>,
}

/// Whether a body cut at these offsets, of this length, is rejected.
type FailsWhen = dyn Fn(&[usize], usize) -> bool + Send + Sync;

impl Backend for InjectedFault {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: self.name.into(),
            version: "test double".into(),
        }
    }
    fn compile_streaming(&self, body: StreamingBody<'_>, features: &Features) -> Outcome {
        let len = body.chunks.clone().map(<[u8]>::len).sum::<usize>();
        if (self.fails_when)(&boundaries(&body), len) {
            return injected();
        }
        ReferenceBackend.compile_streaming(body, features)
    }
    fn compile_one_shot(&self, bytes: &[u8], features: &Features) -> Outcome {
        ReferenceBackend.compile_one_shot(bytes, features)
    }
}

/// A backend that asks for many jobs, as out-of-process engines do:
/// minimization then compiles several candidates at once.
struct ManyJobs(InjectedFault);

impl Backend for ManyJobs {
    fn info(&self) -> BackendInfo {
        self.0.info()
    }
    fn compile_streaming(&self, body: StreamingBody<'_>, features: &Features) -> Outcome {
        self.0.compile_streaming(body, features)
    }
    fn compile_one_shot(&self, bytes: &[u8], features: &Features) -> Outcome {
        self.0.compile_one_shot(bytes, features)
    }
    fn preferred_jobs(&self) -> Option<usize> {
        Some(4)
    }
}

/// Rejects a valid streamed body when it is cut at every one of `needed`
/// (with none needed, every streamed body).
fn fails_when_cut_at_all(needed: Vec<usize>) -> InjectedFault {
    InjectedFault {
        name: "fails-when-cut-at-all",
        fails_when: Box::new(move |cuts, _| needed.iter().all(|n| cuts.contains(n))),
    }
}

/// Rejects a streamed body when any cut falls in `lo..=hi` (a decoder that
/// loses state at any split inside a region).
fn fails_when_cut_inside(lo: usize, hi: usize) -> InjectedFault {
    InjectedFault {
        name: "fails-when-cut-inside",
        fails_when: Box::new(move |cuts, _| cuts.iter().any(|c| (lo..=hi).contains(c))),
    }
}

/// An empty chunk between non-empty ones, at or after `from`, is taken
/// for the end of the stream.
fn empty_chunk_ends_the_stream(from: usize) -> InjectedFault {
    InjectedFault {
        name: "empty-chunk-ends-the-stream",
        fails_when: Box::new(move |cuts, len| {
            cuts.windows(2)
                .any(|w| w[0] == w[1] && w[0] >= from && w[0] > 0 && w[0] < len)
        }),
    }
}

/// A valid module: one custom section with a `payload`-byte body.
fn module(payload: usize) -> Vec<u8> {
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    m.push(0);
    let mut size = payload + 1;
    loop {
        let byte = (size & 0x7f) as u8;
        size >>= 7;
        if size == 0 {
            m.push(byte);
            break;
        }
        m.push(byte | 0x80);
    }
    m.push(0); // an empty name
    m.extend((0..payload).map(|i| (i % 251) as u8));
    m
}

fn case(id: &str, bytes: Vec<u8>) -> Case {
    Case {
        id: id.into(),
        suite: "t".into(),
        group: "t".into(),
        origin: CaseOrigin::Directive,
        bytes: bytes.into(),
        expected: Expected::from(OutcomeClass::Module),
        features: Arc::new(Features::baseline()),
        scenario: None,
        function: Default::default(),
        imports: Default::default(),
    }
}

/// The one-byte plan of `case`, failing as the doubles fail.
fn one_byte_failure(case: &Case) -> PlanFailure {
    PlanFailure {
        plan: "one-byte".into(),
        cuts: (1..case.bytes.len()).collect(),
        actual: injected(),
        failed: vec![Oracle::Spec, Oracle::Invariance],
        reads: None,
    }
}

fn minimized_cuts(engine: impl Backend + 'static, case: &Case) -> (Vec<usize>, usize) {
    let m = minimize(
        &BackendUnderTest::bytes_only(engine),
        case,
        &one_byte_failure(case),
        &MinimizeOptions::default(),
    )
    .unwrap();
    assert!(!m.budget_exhausted, "{m:?}");
    assert_eq!(m.failed, [Oracle::Spec, Oracle::Invariance]);
    assert_eq!(m.actual.class(), OutcomeClass::CompileError);
    assert_eq!(m.from_cut_count, case.bytes.len() - 1);
    (m.cuts, m.attempts)
}

#[test]
fn a_one_byte_plan_shrinks_to_exactly_the_cuts_the_failure_needs() {
    let c = case("small", module(2000));
    // Neither offset is structural, so they stay where they are.
    let structural = structural_offsets(&c.bytes);
    let (x, y) = (777, 1501);
    assert!(!structural.contains(&x) && !structural.contains(&y));
    let two = fails_when_cut_at_all(vec![x, y]);
    assert_eq!(minimized_cuts(two, &c).0, [x, y]);
    // Candidates compiled several at a time: the same result.
    let two = ManyJobs(fails_when_cut_at_all(vec![x, y]));
    assert_eq!(minimized_cuts(two, &c).0, [x, y]);
    let one = fails_when_cut_at_all(vec![x]);
    assert_eq!(minimized_cuts(one, &c).0, [x]);
    // Failing however the body is cut: no cut at all.
    let always = fails_when_cut_at_all(vec![]);
    // Two compiles: the one-shot, then the body in one chunk.
    assert_eq!(minimized_cuts(always, &c), (vec![], 2));
}

#[test]
fn a_one_byte_plan_of_a_large_body_shrinks_in_few_compiles() {
    let c = case("large", module(150_000));
    let (x, y) = (12_345, 140_001);
    let (cuts, attempts) = minimized_cuts(fails_when_cut_at_all(vec![x, y]), &c);
    assert_eq!(cuts, [x, y]);
    // ddmin removes most of the 150,000 cuts in its first large steps.
    assert!(attempts < 200, "{attempts} compiles");
    eprintln!("150,000 cuts to 2 in {attempts} compiles");
}

#[test]
fn a_remaining_cut_moves_onto_the_structural_offset_nearby() {
    let c = case("region", module(3000));
    let structural = structural_offsets(&c.bytes);
    // The payload's middle is structural; the region holds no other.
    let middle = *structural
        .iter()
        .find(|&&s| s > 1000 && s < 2000)
        .expect("the payload's middle");
    let (lo, hi) = (middle - 40, middle + 40);
    assert_eq!(
        structural.iter().filter(|s| (lo..=hi).contains(*s)).count(),
        1
    );
    let (cuts, _) = minimized_cuts(fails_when_cut_inside(lo, hi), &c);
    assert_eq!(cuts, [middle]);
}

#[test]
fn an_empty_chunk_stays_a_repeated_cut() {
    let c = case("empty", module(3000));
    let mut failure = one_byte_failure(&c);
    // The one-byte plan with an empty chunk at 2500.
    failure.cuts.push(2500);
    failure.cuts.sort_unstable();
    let m = minimize(
        &BackendUnderTest::bytes_only(empty_chunk_ends_the_stream(2000)),
        &c,
        &failure,
        &MinimizeOptions::default(),
    )
    .unwrap();
    assert_eq!(m.cuts.len(), 2, "{:?}", m.cuts);
    assert_eq!(m.cuts[0], m.cuts[1], "one empty chunk: {:?}", m.cuts);
    assert!(m.cuts[0] >= 2000);
    // Moved, both copies together, onto a structural offset.
    assert!(structural_offsets(&c.bytes).contains(&m.cuts[0]));
}

#[test]
fn a_failure_that_needs_many_chunks_keeps_just_enough() {
    // A decoder that breaks once it has seen 200 chunks: 199 cuts, any 199.
    let c = case("many", module(3000));
    let many_chunks = InjectedFault {
        name: "fails-from-200-chunks",
        fails_when: Box::new(|cuts, _| cuts.len() + 1 >= 200),
    };
    let (cuts, attempts) = minimized_cuts(many_chunks, &c);
    assert_eq!(cuts.len(), 199);
    eprintln!("3,011 cuts to 199 in {attempts} compiles");
}

#[test]
fn the_budget_bounds_the_compiles_and_says_so() {
    let c = case("budget", module(5000));
    let m = minimize(
        &BackendUnderTest::bytes_only(fails_when_cut_at_all(vec![1234, 4321])),
        &c,
        &one_byte_failure(&c),
        &MinimizeOptions { max_attempts: 12 },
    )
    .unwrap();
    assert!(m.budget_exhausted);
    assert!(m.attempts <= 12, "{}", m.attempts);
    // Smaller, and still failing.
    assert!(m.cuts.len() < c.bytes.len() - 1);
    assert!(m.cuts.contains(&1234) && m.cuts.contains(&4321));
}

#[test]
fn a_failure_that_does_not_reproduce_is_an_error() {
    let c = case("gone", module(100));
    let mut failure = one_byte_failure(&c);
    failure.cuts = vec![10, 20];
    let err = minimize(
        &BackendUnderTest::bytes_only(fails_when_cut_at_all(vec![50])),
        &c,
        &failure,
        &MinimizeOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("did not reproduce"), "{err}");
}

#[test]
fn a_run_with_minimize_reports_the_minimized_cuts_and_their_replay() {
    let c = case("t/run", module(4000));
    let n = c.bytes.len();
    let run = Run::new(
        vec![c],
        vec![BackendUnderTest::bytes_only(fails_when_cut_at_all(vec![
            1111, 2222,
        ]))],
        RunConfig {
            plans: PlanSelection::Cuts((1..n).collect()),
            jobs: Some(1),
            minimize: Some(MinimizeOptions::default()),
            ..RunConfig::default()
        },
    );
    let mut json = JsonReport::new(Vec::new());
    run.execute(&mut [&mut json]).unwrap();
    let report: Report = serde_json::from_slice(&json.into_inner()).unwrap();
    let m = report.results[0]
        .minimized
        .as_ref()
        .expect("a failing case carries `minimized`");
    assert_eq!(m.minimized.cuts, [1111, 2222]);
    assert_eq!(m.minimized.from_plan, "cuts");
    assert!(
        m.repro.ends_with("--case t/run --cuts 1111,2222"),
        "{}",
        m.repro
    );
}

#[test]
fn a_run_gives_minimizing_only_half_the_time_the_case_has_left() {
    // 40 ms per streamed compile: finding the two cuts takes some 90
    // compiles, far beyond half of a 2 s case timeout.
    let slow = InjectedFault {
        name: "slow-and-fails-when-cut-at-both",
        fails_when: Box::new(|cuts, _| {
            std::thread::sleep(std::time::Duration::from_millis(40));
            cuts.contains(&1111) && cuts.contains(&2222)
        }),
    };
    let c = case("t/slow", module(4000));
    let n = c.bytes.len();
    let run = Run::new(
        vec![c],
        vec![BackendUnderTest::bytes_only(slow)],
        RunConfig {
            plans: PlanSelection::Cuts((1..n).collect()),
            jobs: Some(1),
            case_timeout: std::time::Duration::from_secs(2),
            minimize: Some(MinimizeOptions::default()),
            ..RunConfig::default()
        },
    );
    let mut json = JsonReport::new(Vec::new());
    run.execute(&mut [&mut json]).unwrap();
    let report: Report = serde_json::from_slice(&json.into_inner()).unwrap();
    let result = &report.results[0];
    assert_eq!(result.aborted, None, "not turned into a timeout");
    let m = &result.minimized.as_ref().expect("minimized").minimized;
    assert!(m.budget_exhausted, "{m:?}");
    assert!(m.cuts.contains(&1111) && m.cuts.contains(&2222) && m.cuts.len() < n - 1);
}

/// A suite directory with a module node 20 rejects (two memories) and one
/// it accepts.
fn node_suite(dir: &Path) -> std::path::PathBuf {
    let suite = dir.join("suite");
    std::fs::create_dir_all(&suite).unwrap();
    std::fs::write(
        suite.join("mm.wast"),
        "(module (memory 0) (memory 0))\n(module (func (export \"f\") (result i32) (i32.const 7)))\n",
    )
    .unwrap();
    suite
}

fn node(script: &Path) -> std::process::Output {
    Command::new("node")
        .arg(script)
        .output()
        .expect("run node (installed on this machine)")
}

#[test]
fn an_exported_reproducer_reproduces_under_plain_node() {
    let dir = tempfile::tempdir().unwrap();
    let suite = node_suite(dir.path());
    let suite_arg = suite.to_str().unwrap();
    let failing = format!("{suite_arg}/mm.wast:1");
    let export = dir.path().join("repro");
    let args = [
        "minimize",
        &failing,
        "--backend",
        "node",
        "--suite",
        suite_arg,
        "--export",
        export.to_str().unwrap(),
    ];
    let out = common::streamconform(&args, dir.path());
    let text = common::text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("minimized to 0 cuts"), "{text}");
    assert!(
        text.contains(&format!("--case {failing} --cuts ''")),
        "{text}"
    );
    let mjs = export.join(format!("{}.mjs", reproducer::file_stem(&failing)));
    let ran = node(&mjs);
    let printed = common::text(&ran);
    assert_eq!(ran.status.code(), Some(1), "{printed}");
    assert!(
        printed.contains(
            "REPRODUCED: compileStreaming fails spec (expected Module, got CompileError)"
        ),
        "{printed}"
    );
    // A case that passes is nothing to minimize.
    let passing = format!("{suite_arg}/mm.wast:2");
    let out = common::streamconform(
        &[
            "minimize",
            &passing,
            "--backend",
            "node",
            "--suite",
            suite_arg,
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", common::text(&out));
}

/// A reproducer of `case` under `cuts` into `dir`, as if node had failed
/// the spec oracle there.
fn export_as_seen_on_node(dir: &Path, case: &Case, cuts: Vec<usize>) -> reproducer::Exported {
    reproducer::export(
        dir,
        &Reproducer {
            case,
            backend: "node".into(),
            cuts,
            actual: injected(),
            failed: vec![Oracle::Spec],
            replay: "streamconform run ...".into(),
        },
    )
    .unwrap()
}

#[test]
fn an_exported_instantiation_reproducer_calls_instantiate_streaming_under_plain_node() {
    let dir = tempfile::tempdir().unwrap();
    let suite = node_suite(dir.path());
    std::fs::write(suite.join("suite.toml"), "instantiate = true\n").unwrap();
    let suite_arg = suite.to_str().unwrap();
    let failing = format!("{suite_arg}/mm.wast:1@instantiate");
    let export = dir.path().join("repro");
    let out = common::streamconform(
        &[
            "minimize",
            &failing,
            "--backend",
            "node",
            "--suite",
            suite_arg,
            "--export",
            export.to_str().unwrap(),
        ],
        dir.path(),
    );
    let text = common::text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let mjs = export.join(format!("{}.mjs", reproducer::file_stem(&failing)));
    let ran = node(&mjs);
    let printed = common::text(&ran);
    assert_eq!(ran.status.code(), Some(1), "{printed}");
    assert!(
        printed.contains(
            "REPRODUCED: instantiateStreaming fails spec (expected Instance, got CompileError)"
        ),
        "{printed}"
    );
    assert!(
        printed.contains("WebAssembly.instantiate(bytes, importObject):"),
        "{printed}"
    );
    // A module that instantiates, cut in three: the instance's exports are
    // read as the harness reads them, and nothing reproduces.
    let mut c = case("t/instantiates", module(40));
    c = c.instantiation(OutcomeClass::Instance.into(), Default::default());
    let exported = export_as_seen_on_node(&dir.path().join("passing"), &c, vec![3, 9]);
    let ran = node(&exported.mjs);
    let printed = common::text(&ran);
    assert_eq!(ran.status.code(), Some(0), "{printed}");
    assert!(
        printed.contains("instantiateStreaming:            Instance: ")
            && printed.contains(r#"{"exports":[]}"#),
        "{printed}"
    );
    assert!(printed.contains("not reproduced"), "{printed}");
    // A module that imports from a named instance: the reproducer builds
    // the same import object (without it, instantiating is a TypeError).
    // (module (import "env" "f" (func)) (export "g" (func 0)))
    let imports_env_f =
        b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0\x02\x09\x01\x03env\x01f\0\0\x07\x05\x01\x01g\0\0"
            .to_vec();
    // (module (func (export "f")))
    let exports_f = b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0\x03\x02\x01\0\x07\x05\x01\x01f\0\0\x0a\x04\x01\x02\0\x0b";
    let environment = streamconform::case::ImportObject::Instances(
        vec![streamconform::case::NamedModule {
            name: "env".into(),
            bytes: exports_f.as_slice().into(),
        }]
        .into(),
    );
    let c =
        case("t/imports", imports_env_f).instantiation(OutcomeClass::Instance.into(), environment);
    let exported = export_as_seen_on_node(&dir.path().join("imports"), &c, vec![5, 20]);
    let ran = node(&exported.mjs);
    let printed = common::text(&ran);
    assert_eq!(ran.status.code(), Some(0), "{printed}");
    assert!(
        printed.contains("instantiateStreaming:            Instance: ")
            && printed.contains(r#""name":"g","kind":"function","length":0"#),
        "{printed}"
    );
}

#[test]
fn an_exported_reproducer_of_a_passing_chunking_exits_0_under_node() {
    let dir = tempfile::tempdir().unwrap();
    let c = case("t/passing", module(40));
    let exported = export_as_seen_on_node(dir.path(), &c, vec![3, 9, 9, 30]);
    let ran = node(&exported.mjs);
    let printed = common::text(&ran);
    assert_eq!(ran.status.code(), Some(0), "{printed}");
    // Exactly those chunks, the empty one included.
    assert!(
        printed.contains("in 5 chunks (sizes 3, 6, 0, 21, 21;"),
        "{printed}"
    );
    assert!(printed.contains("not reproduced"), "{printed}");
    // The same file under deno and bun, as the README says.
    common::install_js_engines();
    for (engine, args) in [("deno", &["run", "--allow-read"][..]), ("bun", &[][..])] {
        let ran = Command::new(streamconform_engines::engine_binary(engine))
            .args(args)
            .arg(&exported.mjs)
            .output()
            .unwrap_or_else(|e| panic!("run {engine} (scripts/install-engines.sh): {e}"));
        let printed = common::text(&ran);
        assert_eq!(ran.status.code(), Some(0), "{engine}: {printed}");
        assert!(
            printed.contains("in 5 chunks (sizes 3, 6, 0, 21, 21;"),
            "{engine}: {printed}"
        );
    }
    let html = std::fs::read_to_string(&exported.html).unwrap();
    assert!(html.contains("const cuts = [3,9,9,30];") && html.contains("atob(\""));
}

#[test]
fn run_minimize_puts_minimized_into_the_report_of_failing_cases() {
    let dir = tempfile::tempdir().unwrap();
    let suite = node_suite(dir.path());
    let suite_arg = suite.to_str().unwrap();
    let out = common::streamconform(
        &[
            "run",
            "--backend",
            "node",
            "--suite",
            suite_arg,
            "--no-truncation",
            "--plans",
            "reduced",
            "--minimize",
            "--report",
            "r.json",
        ],
        dir.path(),
    );
    // The two-memory module fails unexpectedly (no expectations file).
    assert_eq!(out.status.code(), Some(1), "{}", common::text(&out));
    let report: Report =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).unwrap()).unwrap();
    let by_id = |suffix: &str| {
        report
            .results
            .iter()
            .find(|r| r.id.ends_with(suffix))
            .unwrap()
    };
    let failing = by_id("mm.wast:1");
    let m = failing.minimized.as_ref().expect("minimized");
    assert_eq!(m.minimized.cuts, Vec::<usize>::new());
    assert_eq!(m.minimized.failed, [Oracle::Spec]);
    assert!(m.repro.contains("--cuts ''"), "{}", m.repro);
    assert!(by_id("mm.wast:2").minimized.is_none());
}
