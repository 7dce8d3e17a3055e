//! Seeded-bug engines: does the deliberate plan set (the default set
//! without its seeded random plans) catch streaming-decoder bugs of the
//! kinds real engines have had, by design rather than by luck?
//!
//! `seeded_bugs/decoder.rs` is a small streaming decoder of the binary
//! format written for this test (a test double), with one flag per seeded
//! bug. Each engine runs through the harness's own runner (`Run`, plans
//! `--plans deliberate`) over the `streaming` suite and a slice of `spec`
//! chosen for the bug classes (framing, LEBs, custom sections and names,
//! bodies). The unbugged decoder (the control) must pass every case, which
//! shows the decoder is right; each bugged one must fail at least one case.
//!
//! `cargo test -p streamconform --test core seeded_bugs -- --nocapture` prints,
//! per bug, the cases and plans that caught it (`--case ID --plan NAME`,
//! the arguments that replay it with `streamconform run` on any engine).
//! `WITNESSES` names, per bug, one cut list that fires it.

#[path = "seeded_bugs/decoder.rs"]
mod decoder;

use decoder::{SeededBug, SeededEngine};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use streamconform::backend::BackendUnderTest;
use streamconform::plan::format_cuts;
use streamconform::runner::{PlanSelection, Reporter, Run, RunConfig, RunEvent};
use streamconform::verdict::{Verdict, MAX_RECORDED_FAILING_PLANS};
use streamconform::{suites, Case, PlanSet, SuiteSpec};

/// The `spec` files run besides the `streaming` suite: section framing and
/// LEBs (binary, binary-leb128), custom sections and their names (custom,
/// utf8-custom-section-id), names in general (names), function bodies and
/// the function/code section pair (func, start), and sections around them
/// (exports, imports, data).
const SPEC_FILES: &[&str] = &[
    "binary.wast",
    "binary-leb128.wast",
    "custom.wast",
    "utf8-custom-section-id.wast",
    "names.wast",
    "func.wast",
    "start.wast",
    "exports.wast",
    "imports.wast",
    "data.wast",
];

/// Failing cases shown per bug (all are counted).
const SHOWN_FAILURES: usize = 6;

/// The cases, loaded once for every test of this file.
fn corpus() -> Arc<Vec<Case>> {
    static CORPUS: OnceLock<Arc<Vec<Case>>> = OnceLock::new();
    CORPUS
        .get_or_init(|| {
            let mut cases = Vec::new();
            let mut sources = vec![("streaming".to_string(), suites::load(&SuiteSpec::Streaming))];
            for file in SPEC_FILES {
                let id = format!("spec/wasm-latest/{file}");
                let loaded = suites::load_matching(&SuiteSpec::Spec, Some(&id));
                sources.push((id, loaded));
            }
            for (name, loaded) in sources {
                assert!(
                    loaded.errors.is_empty(),
                    "{name} did not load: {:?}",
                    loaded.errors
                );
                assert!(!loaded.cases.is_empty(), "{name} has no cases");
                // The seeded engine is a decoder: it compiles and does not
                // instantiate, so the streaming suite's instantiation twins
                // would only be not applicable here.
                cases.extend(
                    loaded
                        .cases
                        .into_iter()
                        .filter(|c| c.function == streamconform::StreamingFunction::Compile),
                );
            }
            Arc::new(cases)
        })
        .clone()
}

/// One failing plan of a failing case.
struct Caught {
    plan: String,
    actual: String,
}

/// What one engine's run gave.
#[derive(Default)]
struct Results {
    cases_run: usize,
    plans_run: usize,
    /// Failing (or invalid) cases: id, expected class, failing plans
    /// (the recorded ones), how many plans failed in all.
    failures: Vec<(String, String, Vec<Caught>, usize)>,
    /// Cases that ended without a failing plan (aborted, invalid).
    broken: Vec<String>,
    seconds: f64,
}

struct Collect<'a>(&'a mut Results);

impl Reporter for Collect<'_> {
    fn report(&mut self, event: &RunEvent<'_>) -> std::io::Result<()> {
        if let RunEvent::CaseFinished(done) = event {
            let result = &done.result;
            self.0.cases_run += 1;
            self.0.plans_run += result.plans_run;
            if result.verdict != Verdict::Pass
                && (result.verdict != Verdict::Fail || result.failing_plans.is_empty())
            {
                // Aborted (a timeout, a crash) or invalid: not a plan that
                // caught the bug by its outcome.
                self.0.broken.push(format!(
                    "{} ({:?}): {}",
                    result.id,
                    result.verdict,
                    result.failure_summary()
                ));
            } else if result.verdict == Verdict::Fail {
                let caught = result
                    .failing_plans
                    .iter()
                    .map(|p| Caught {
                        plan: p.plan.clone(),
                        actual: p.actual.to_string(),
                    })
                    .collect();
                let why = result.aborted.clone().unwrap_or_default();
                self.0.failures.push((
                    result.id.clone(),
                    format!("expected {}{why}", result.expected),
                    caught,
                    result.failing_plans_total,
                ));
            }
        }
        Ok(())
    }
}

/// Runs one engine over the corpus under the deliberate plans, on one
/// thread: the prefix-keyed cache makes results depend on compile order,
/// which must be the same every run.
fn run(engine: SeededEngine) -> Results {
    let cases = corpus();
    let run = Run {
        cases,
        ..Run::new(
            Vec::new(),
            vec![BackendUnderTest::bytes_only(engine)],
            RunConfig {
                plans: PlanSelection::Set(PlanSet::Deliberate),
                jobs: Some(1),
                ..RunConfig::default()
            },
        )
    };
    let mut results = Results::default();
    let started = Instant::now();
    let finished = run.execute(&mut [&mut Collect(&mut results)]).unwrap();
    results.seconds = started.elapsed().as_secs_f64();
    assert!(
        finished.setup_errors.is_empty(),
        "{:?}",
        finished.setup_errors
    );
    assert_eq!(results.cases_run, run.cases.len());
    results
}

/// Checks and prints what caught `bug`.
fn assert_caught(bug: SeededBug) {
    let results = run(SeededEngine::with(Some(bug)));
    // Cases caught per plan; the two-chunk splits together (with the
    // offsets that caught), as they are one family of the set.
    let mut by_plan: BTreeMap<&str, usize> = BTreeMap::new();
    let mut split_offsets: BTreeMap<usize, usize> = BTreeMap::new();
    for (_, _, caught, _) in &results.failures {
        let mut kinds: Vec<&str> = Vec::new();
        for c in caught {
            match c.plan.strip_prefix("split@") {
                // A pair of cuts (`split@K,L`) is a family of its own.
                Some(pair) if pair.contains(',') => kinds.push("split@K,L"),
                Some(k) => {
                    *split_offsets.entry(k.parse().unwrap()).or_default() += 1;
                    kinds.push("split@K");
                }
                None => kinds.push(&c.plan),
            }
        }
        kinds.sort_unstable();
        kinds.dedup();
        for kind in kinds {
            *by_plan.entry(kind).or_default() += 1;
        }
    }
    println!(
        "{}: {} of {} cases failed ({} plans, {:.1} s)",
        bug.name(),
        results.failures.len(),
        results.cases_run,
        results.plans_run,
        results.seconds
    );
    println!("  failing cases per plan (of the first {MAX_RECORDED_FAILING_PLANS} failing plans of each): {by_plan:?}");
    let offsets: Vec<usize> = split_offsets.keys().copied().take(20).collect();
    println!(
        "  split offsets that caught it: {} distinct, first {offsets:?}",
        split_offsets.len()
    );
    for (id, expected, caught, total) in results.failures.iter().take(SHOWN_FAILURES) {
        println!("  {id} ({expected}; {total} plans failed)");
        for c in caught.iter().take(3) {
            println!("    --case {id} --plan {}: {}", c.plan, c.actual);
        }
    }
    // Narrow by construction: the whole body in one chunk decodes right
    // (except through the cache, whose key can be another case's first
    // chunk). A bug is caught by a plan's outcome, never by a hang or crash.
    for (id, _, caught, _) in &results.failures {
        for c in caught {
            assert!(
                c.plan != "whole" || bug == SeededBug::CacheKeyedByFirstChunk,
                "{} fails {id} on the whole body",
                bug.name()
            );
        }
    }
    assert!(
        results.broken.is_empty(),
        "{}: {:?}",
        bug.name(),
        results.broken
    );
    assert!(
        !results.failures.is_empty(),
        "the deliberate plan set does not catch {} on any of {} cases ({} plans)",
        bug.name(),
        results.cases_run,
        results.plans_run
    );
}

/// For each bug, cases and one cut list under which it fires (on the last
/// case; the ones before it run first, on the same engine): proof that each
/// bug can be caught, and what a plan set needs to catch it.
const WITNESSES: &[(SeededBug, &[&str], &[usize])] = {
    // type 8..14, function 14..18, start 18..21, code 21..27 (id, size,
    // count, body size, 2-byte body).
    const SHORT: &[&str] = &["streaming/short-final-section.wast:11"];
    const CUSTOM: &[&str] = &["spec/wasm-latest/custom.wast:1"];
    &[
        // The chunk ends right after the function section.
        (SeededBug::FunctionCountLostAtChunkEnd, SHORT, &[18]),
        // A 19-byte chunk ends between the start section's id and size.
        (SeededBug::LongChunkTailDropped, SHORT, &[19]),
        // An empty chunk after the 18-byte first chunk, mid-module.
        (
            SeededBug::EmptyReadAfterLongChunkEndsStream,
            SHORT,
            &[18, 18],
        ),
        // Between the code section's id and its size.
        (SeededBug::SplitCodeHeaderOffByOne, SHORT, &[22]),
        // Inside the 3-byte BOM that starts the sixth custom section's
        // name (bytes 161..177), and inside the 3-byte character that ends
        // the seventh's (bytes 199..215).
        (SeededBug::NameUtf8ValidatedPerChunk, CUSTOM, &[162]),
        (SeededBug::NameUtf8ValidatedPerChunk, CUSTOM, &[163]),
        (SeededBug::NameUtf8ValidatedPerChunk, CUSTOM, &[213]),
        (SeededBug::NameUtf8ValidatedPerChunk, CUSTOM, &[214]),
        // A 1-byte final chunk.
        (SeededBug::ReadAheadNotFlushedAtEnd, SHORT, &[26]),
        // Both modules start with the same 16 bytes; the first has a custom
        // section, the second none.
        (
            SeededBug::CacheKeyedByFirstChunk,
            &[
                "streaming/short-final-section.wast:16",
                "streaming/short-final-section.wast:21",
            ],
            &[16],
        ),
    ]
};

/// The verdict of each of `ids` (run in that order) under one cut list.
fn verdicts(engine: SeededEngine, ids: &[&str], cuts: &[usize]) -> Vec<Verdict> {
    let all = corpus();
    let cases: Vec<Case> = ids
        .iter()
        .map(|id| {
            all.iter()
                .find(|c| c.id == *id)
                .unwrap_or_else(|| panic!("no case {id} in the corpus"))
                .clone()
        })
        .collect();
    let config = RunConfig {
        plans: PlanSelection::Cuts(cuts.to_vec()),
        jobs: Some(1),
        ..RunConfig::default()
    };
    let results = streamconform::runner::run_cases(
        &BackendUnderTest::bytes_only(engine),
        &Arc::new(cases),
        &config,
    );
    results.into_iter().map(|r| r.verdict).collect()
}

#[test]
fn each_seeded_bug_fires_at_its_witness_cut_where_the_control_passes() {
    for bug in SeededBug::ALL {
        assert!(
            WITNESSES.iter().any(|(b, _, _)| *b == bug),
            "no witness for {}",
            bug.name()
        );
    }
    for &(bug, ids, cuts) in WITNESSES {
        let control = verdicts(SeededEngine::control(), ids, cuts);
        assert!(
            control.iter().all(|v| *v == Verdict::Pass),
            "control on {ids:?} --cuts {}: {control:?}",
            format_cuts(cuts)
        );
        let bugged = verdicts(SeededEngine::with(Some(bug)), ids, cuts);
        assert_eq!(
            bugged.last(),
            Some(&Verdict::Fail),
            "{} on {ids:?} --cuts {}",
            bug.name(),
            format_cuts(cuts)
        );
        // The same cases as one chunk each pass.
        let whole = verdicts(SeededEngine::with(Some(bug)), ids, &[]);
        assert!(whole.iter().all(|v| *v == Verdict::Pass), "{}", bug.name());
    }
}

#[test]
fn the_unbugged_decoder_passes_every_case_under_every_deliberate_plan() {
    let results = run(SeededEngine::control());
    println!(
        "control: {} cases, {} plans, {:.1} s",
        results.cases_run, results.plans_run, results.seconds
    );
    assert!(results.cases_run > 0 && results.plans_run > results.cases_run);
    let shown: Vec<String> = results
        .failures
        .iter()
        .take(SHOWN_FAILURES)
        .map(|(id, expected, caught, _)| {
            let first = caught.first().map_or(String::new(), |c| {
                format!("--plan {}: {}", c.plan, c.actual)
            });
            format!("{id} ({expected}): {first}")
        })
        .collect();
    assert!(
        results.failures.is_empty() && results.broken.is_empty(),
        "the control fails {} cases: {shown:#?}; aborted or invalid: {:?}",
        results.failures.len(),
        results.broken
    );
}

/// One test per bug, so that a run names each bug the set misses.
macro_rules! caught {
    ($($test:ident: $bug:ident,)*) => {
        $(
            #[test]
            fn $test() {
                assert_caught(SeededBug::$bug);
            }
        )*
    };
}

caught! {
    seeded_bug_a_function_count_lost_at_chunk_end_is_caught: FunctionCountLostAtChunkEnd,
    seeded_bug_b_long_chunk_tail_dropped_is_caught: LongChunkTailDropped,
    seeded_bug_c_empty_read_after_long_chunk_ends_stream_is_caught: EmptyReadAfterLongChunkEndsStream,
    seeded_bug_d_split_code_header_off_by_one_is_caught: SplitCodeHeaderOffByOne,
    seeded_bug_e_name_utf8_validated_per_chunk_is_caught: NameUtf8ValidatedPerChunk,
    seeded_bug_f_read_ahead_not_flushed_at_end_is_caught: ReadAheadNotFlushedAtEnd,
    seeded_bug_g_cache_keyed_by_first_chunk_is_caught: CacheKeyedByFirstChunk,
}
