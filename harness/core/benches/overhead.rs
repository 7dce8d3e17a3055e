//! Harness overhead against the raw engine loop, on the same work.
//!
//! Both sides see the spec suite's cases under the default plan set, on
//! one thread each, alternating in one process so machine noise hits both:
//! - harness: a whole `Run` on the reference backend (plan generation, the
//!   one-shot oracle, fingerprints, verdicts, the worker pool, events to the
//!   summary reporter);
//! - bare: the same (case, plan) pairs, precomputed: a `compileStreaming`
//!   case through a minimal incremental wasmparser `Parser` + `Validator`
//!   loop, an `instantiateStreaming` case through the reference engine's
//!   own `instantiate_streaming` (the engine, called in a loop, without
//!   the harness around it).
//!
//! Prints `overhead ratio: X.XX` (harness / bare, medians of the rounds).
//! Run: `cargo bench -p streamconform` (STREAMCONFORM_BENCH_ROUNDS=N to change rounds).

use std::sync::Arc;
use std::time::{Duration, Instant};
use streamconform::backend::{BackendUnderTest, BodyEnd, InstantiateBackend, StreamingBody};
use streamconform::case::{ImportObject, StreamingFunction};
use streamconform::features::wasm_features;
use streamconform::reporter::summary::Summary;
use streamconform::runner::{PlanSelection, Run, RunConfig};
use streamconform::suites::{load, SuiteSpec};
use streamconform::{ChunkPlan, Features, Outcome};
use streamconform::{PlanSet, ReferenceBackend};
use wasmparser::{Chunk, FuncValidatorAllocations, Parser, ValidPayload, Validator, WasmFeatures};

fn main() {
    // libtest passes `--bench`; this harness has no options of its own.
    let rounds: usize = std::env::var("STREAMCONFORM_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let cases = load(&SuiteSpec::Spec).cases;
    let case_count = cases.len();
    let pairs: Vec<BareCase> = cases
        .iter()
        .map(|c| BareCase {
            bytes: Arc::from(&*c.bytes),
            wasm_features: wasm_features(&c.features),
            features: (*c.features).clone(),
            instantiate: (c.function == StreamingFunction::Instantiate).then(|| c.imports.clone()),
            plans: PlanSet::Default.plans(&c.bytes),
        })
        .collect();
    let plan_count: usize = pairs.iter().map(|p| p.plans.len()).sum();
    let instantiations = pairs.iter().filter(|p| p.instantiate.is_some()).count();
    println!(
        "{case_count} cases ({instantiations} of them instantiateStreaming), {plan_count} (case, plan) pairs, {rounds} rounds, 1 thread each"
    );

    let config = RunConfig {
        plans: PlanSelection::Set(PlanSet::Default),
        jobs: Some(1),
        case_timeout: Duration::from_secs(600),
        ..RunConfig::default()
    };
    let run = Run::new(
        cases,
        vec![BackendUnderTest::complete(ReferenceBackend)],
        config,
    );
    let (mut harness, mut bare) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let start = Instant::now();
        let mut summary = Summary::default();
        let finished = run.execute(&mut [&mut summary]).expect("no reporter I/O");
        harness.push(start.elapsed());
        assert_eq!(finished.cases_run, case_count);

        let start = Instant::now();
        let mut valid = 0usize;
        for case in &pairs {
            for plan in &case.plans {
                valid += usize::from(match &case.instantiate {
                    None => bare_streaming_validate(&case.bytes, &plan.cuts, case.wasm_features),
                    Some(imports) => {
                        let body = StreamingBody {
                            chunks: plan.chunks(&case.bytes),
                            end: BodyEnd::Close,
                        };
                        let outcome =
                            ReferenceBackend.instantiate_streaming(body, &case.features, imports);
                        matches!(outcome, Outcome::Instance { .. })
                    }
                });
            }
        }
        bare.push(start.elapsed());
        std::hint::black_box(valid);
        println!(
            "round {round}: harness {:.2?}, bare {:.2?}",
            harness[round], bare[round]
        );
    }
    let (h, b) = (median(&mut harness), median(&mut bare));
    println!("harness median {h:.2?}, bare median {b:.2?}");
    println!("overhead ratio: {:.2}", h.as_secs_f64() / b.as_secs_f64());
}

/// One case as the bare loop takes it: its bytes and plans, and the import
/// object when it instantiates.
struct BareCase {
    bytes: Arc<[u8]>,
    wasm_features: WasmFeatures,
    features: Features,
    instantiate: Option<ImportObject>,
    plans: Vec<ChunkPlan>,
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// The raw engine loop: feed chunks to wasmparser as they arrive, validate
/// each payload, then end the stream. No outcome, fingerprint or verdict.
fn bare_streaming_validate(bytes: &[u8], cuts: &[usize], features: WasmFeatures) -> bool {
    let mut parser = Parser::new(0);
    let mut validator = Validator::new_with_features(features);
    let mut allocs = FuncValidatorAllocations::default();
    let mut buffer: Vec<u8> = Vec::new();
    let mut consumed = 0;
    let mut start = 0;
    let ends = cuts.iter().copied().chain(std::iter::once(bytes.len()));
    let last = cuts.len();
    for (i, end) in ends.enumerate() {
        let chunk = &bytes[start.min(end)..end];
        start = end;
        let eof = i == last;
        if chunk.is_empty() && !eof {
            continue;
        }
        buffer.extend_from_slice(chunk);
        loop {
            let (n, payload) = match parser.parse(&buffer[consumed..], eof) {
                Ok(Chunk::NeedMoreData(_)) => break,
                Ok(Chunk::Parsed {
                    consumed: n,
                    payload,
                }) => (n, payload),
                Err(_) => return false,
            };
            consumed += n;
            match validator.payload(&payload) {
                Ok(ValidPayload::Func(func, body)) => {
                    let mut func = func.into_validator(std::mem::take(&mut allocs));
                    if func.validate(&body).is_err() {
                        return false;
                    }
                    allocs = func.into_allocations();
                }
                Ok(ValidPayload::End(_)) => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
    }
    false
}
