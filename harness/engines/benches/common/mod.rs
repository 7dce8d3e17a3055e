//! What the engine benchmarks share: the same (module, plan) pairs for the
//! bare loop, the harness's run configuration, and the rounds and the
//! ratio they print.
// Each bench crate that includes this module uses its own part of it.
#![allow(dead_code)]

use base64::Engine as _;
use std::time::Duration;
use streamconform::case::Case;
use streamconform::runner::{PlanSelection, RunConfig};
use streamconform::PlanSet;

pub const ROUNDS: usize = 3;

/// The spec suite's cases, the first `STREAMCONFORM_BENCH_CASES` if set.
pub fn spec_cases() -> Vec<Case> {
    let limit: usize = std::env::var("STREAMCONFORM_BENCH_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX);
    let mut cases = streamconform::suites::load(&streamconform::suites::SuiteSpec::Spec).cases;
    cases.truncate(limit);
    cases
}

/// One harness round: the whole run, timed.
pub fn harness_round(run: &streamconform::runner::Run, case_count: usize) -> Duration {
    let start = std::time::Instant::now();
    let finished = run
        .execute(&mut [&mut streamconform::reporter::summary::Summary::default()])
        .expect("no reporter I/O");
    assert_eq!(finished.cases_run, case_count);
    start.elapsed()
}

/// The cases split round-robin into `n` shares, each case as
/// `{"b": base64 bytes, "p": [cut list of each reduced plan]}`.
pub fn shards(cases: &[Case], n: usize) -> Vec<Vec<serde_json::Value>> {
    let mut shards = vec![Vec::new(); n];
    for (i, case) in cases.iter().enumerate() {
        let plans: Vec<Vec<usize>> = PlanSet::Reduced
            .plans(&case.bytes)
            .into_iter()
            .map(|p| p.cuts)
            .collect();
        shards[i % n].push(serde_json::json!({
            "b": base64::engine::general_purpose::STANDARD.encode(&case.bytes[..]),
            "p": plans,
        }));
    }
    shards
}

/// The harness's side: the reduced plans, `in_flight` cases at a time.
pub fn harness_config(in_flight: usize) -> RunConfig {
    RunConfig {
        plans: PlanSelection::Set(PlanSet::Reduced),
        jobs: Some(in_flight),
        case_timeout: Duration::from_secs(600),
        // Every round runs on the same warm workers, as the bare loop's.
        release_finished_backends: false,
        ..RunConfig::default()
    }
}

/// Alternates `ROUNDS` harness and bare rounds and prints each, the
/// medians, and `LABEL overhead ratio: X.XX` (harness / bare).
pub fn compare(
    label: &str,
    mut harness: impl FnMut() -> Duration,
    mut bare: impl FnMut() -> Duration,
) {
    let (mut h, mut b) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        h.push(harness());
        b.push(bare());
        println!(
            "{label} round {round}: harness {:.2?}, bare {:.2?}",
            h[round], b[round]
        );
    }
    h.sort();
    b.sort();
    let (h, b) = (h[ROUNDS / 2], b[ROUNDS / 2]);
    println!(
        "{label}: harness median {h:.2?}, bare median {b:.2?}, throughput {:.2} of bare",
        b.as_secs_f64() / h.as_secs_f64()
    );
    println!(
        "{label} overhead ratio: {:.2}",
        h.as_secs_f64() / b.as_secs_f64()
    );
}
