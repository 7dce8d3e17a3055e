//! End-to-end throughput of the harness on Node against a bare in-engine
//! loop over the same work, in one run.
//!
//! - harness: a whole `Run` on the `node` backend (process protocol, the shared
//!   driver building a Response per plan, verdicts), reduced plan set;
//! - bare: `benches/bare-loop.mjs`, the same (module, plan) pairs compiled
//!   with `compileStreaming` inside node, as many node processes as the
//!   harness has workers, each with the same cases in flight.
//!
//! Prints `overhead ratio: X.XX` (harness time / bare time; throughput is its
//! inverse). Run: `cargo bench -p streamconform --bench node_overhead`.
//! `STREAMCONFORM_BENCH_CASES=N` limits the cases (default: the spec suite).

use base64::Engine as _;
use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};
use streamconform::backend;
use streamconform::plan::format_cuts;
use streamconform::reporter::summary::Summary;
use streamconform::runner::{PlanSelection, Run, RunConfig};
use streamconform::suites::{load, SuiteSpec};
use streamconform::PlanSet;

fn main() {
    let limit: usize = std::env::var("STREAMCONFORM_BENCH_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX);
    let mut cases = load(&SuiteSpec::Spec).cases;
    cases.truncate(limit);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let backend = backend::by_name("node").expect("node backend");
    println!(
        "{} cases, reduced plans, node {}, {workers} workers",
        cases.len(),
        backend.engine.info().version
    );
    let in_flight = backend.engine.preferred_jobs().unwrap_or(workers);

    // The same work for the bare loop, split over as many node processes.
    let dir = std::env::temp_dir().join(format!("streamconform-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let shards: Vec<_> = (0..workers)
        .map(|i| dir.join(format!("shard-{i}.jsonl")))
        .collect();
    let mut files: Vec<_> = shards
        .iter()
        .map(|p| std::fs::File::create(p).unwrap())
        .collect();
    for (i, case) in cases.iter().enumerate() {
        let plans: Vec<String> = PlanSet::Reduced
            .plans(&case.bytes)
            .iter()
            .map(|p| format_cuts(&p.cuts))
            .collect();
        let line = serde_json::json!({"b": base64::engine::general_purpose::STANDARD.encode(&case.bytes[..]), "p": plans});
        writeln!(files[i % workers], "{line}").unwrap();
    }
    drop(files);
    let bare_loop = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/bare-loop.mjs");
    let per_process = (in_flight / workers).max(1).to_string();

    let config = RunConfig {
        plans: PlanSelection::Set(PlanSet::Reduced),
        jobs: Some(in_flight),
        case_timeout: Duration::from_secs(600),
        ..RunConfig::default()
    };
    let case_count = cases.len();
    let run = Run::new(cases, vec![backend], config);
    let (mut harness, mut bare) = (Vec::new(), Vec::new());
    for round in 0..3 {
        let start = Instant::now();
        let mut summary = Summary::default();
        let finished = run.execute(&mut [&mut summary]).expect("no reporter I/O");
        harness.push(start.elapsed());
        assert_eq!(finished.cases_run, case_count);

        let start = Instant::now();
        let children: Vec<_> = shards
            .iter()
            .map(|shard| {
                Command::new("node")
                    .arg(bare_loop)
                    .arg(shard)
                    .arg(&per_process)
                    .output()
            })
            .collect();
        for child in children {
            let out = child.expect("run node");
            assert!(
                out.status.success(),
                "bare loop failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        bare.push(start.elapsed());
        println!(
            "round {round}: harness {:.2?}, bare {:.2?}",
            harness[round], bare[round]
        );
    }
    harness.sort();
    bare.sort();
    let (h, b) = (harness[1], bare[1]);
    println!(
        "harness median {h:.2?}, bare median {b:.2?}, throughput {:.2} of bare",
        b.as_secs_f64() / h.as_secs_f64()
    );
    println!("overhead ratio: {:.2}", h.as_secs_f64() / b.as_secs_f64());
    let _ = std::fs::remove_dir_all(&dir);
}
