//! End-to-end throughput of the harness on Node against a bare in-engine
//! loop over the same work, in one run.
//!
//! - harness: a whole `Run` on the `node` backend (process protocol, the shared
//!   driver building a Response per plan, verdicts), reduced plan set;
//! - bare: `benches/bare-loop.mjs`, the same (module, plan) pairs compiled
//!   with `compileStreaming` inside node, as many node processes as the
//!   harness has workers, each with the same cases in flight.
//!
//! Prints `node overhead ratio: X.XX` (harness time / bare time; throughput
//! is its inverse). Run: `cargo bench -p streamconform-engines --bench node_overhead`.
//! `STREAMCONFORM_BENCH_CASES=N` limits the cases (default: the spec suite).

#[path = "common/mod.rs"]
mod common;

use std::io::Write;
use std::process::Command;
use std::time::Instant;

use streamconform::runner::Run;

fn main() {
    let cases = common::spec_cases();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let backend = streamconform_engines::by_name("node").expect("node backend");
    println!(
        "{} cases, reduced plans, node {}, {workers} workers",
        cases.len(),
        backend.engine.info().version
    );
    let in_flight = backend.engine.preferred_jobs().unwrap_or(workers);

    // The same work for the bare loop, split over as many node processes.
    let dir = std::env::temp_dir().join(format!("streamconform-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for (i, shard) in common::shards(&cases, workers).iter().enumerate() {
        let path = dir.join(format!("shard-{i}.jsonl"));
        let mut file = std::fs::File::create(&path).unwrap();
        for line in shard {
            writeln!(file, "{line}").unwrap();
        }
        files.push(path);
    }
    let bare_loop = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/bare-loop.mjs");
    let per_process = (in_flight / workers).max(1).to_string();

    let case_count = cases.len();
    let run = Run::new(cases, vec![backend], common::harness_config(in_flight));
    common::compare(
        "node",
        || common::harness_round(&run, case_count),
        || {
            let start = Instant::now();
            let children: Vec<_> = files
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
            start.elapsed()
        },
    );
    let _ = std::fs::remove_dir_all(&dir);
}
