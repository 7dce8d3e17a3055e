//! Peak memory and time per case count, on the reference backend.
//!
//! Runs the `streamconform` command (one process per run, so each peak is
//! its own) on the generated suite `fuzz:1:COUNT` twice: a small run, then
//! one with at least ten times the spec suite's cases (truncation cases
//! are derived as in any run, so a module gives many cases). Each writes
//! its JSON report to a file, as a nightly does. Prints per run the
//! (case, backend) pairs, wall time, peak RSS, and both per 100k pairs;
//! then how much the peak grew per 100k pairs added. A run whose memory
//! does not grow with its cases shows a growth near zero: the report
//! streams to disk, so only what the run keeps per case shows up here.
//!
//! Run: `cargo bench -p streamconform-cli --bench memory`
//! (STREAMCONFORM_BENCH_MODULES=N: the small run's module count, default
//! 1000).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

struct Measured {
    modules: u64,
    pairs: u64,
    secs: f64,
    /// `None`: no higher than an earlier run's (see `children_peak_bytes`).
    peak_bytes: Option<u64>,
}

fn main() {
    let small_modules: u64 = std::env::var("STREAMCONFORM_BENCH_MODULES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let spec_cases = streamconform::suites::load(&streamconform::suites::SuiteSpec::Spec)
        .cases
        .len() as u64;
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let small = run(small_modules, scratch.path());
    // Enough modules for ten times the spec suite's cases, at the small
    // run's cases per module (the seed fixes both).
    let per_module = (small.pairs as f64 / small.modules as f64).max(1.0);
    let large_modules = ((10 * spec_cases) as f64 / per_module).ceil() as u64;
    let large = run(large_modules.max(small_modules * 10), scratch.path());
    println!(
        "spec suite: {spec_cases} cases; the large run has {:.1} times as many",
        large.pairs as f64 / spec_cases as f64
    );
    for m in [&small, &large] {
        let per_100k = 100_000.0 / m.pairs as f64;
        let peak = m
            .peak_bytes
            .map_or("no higher than the small run's".into(), |b| {
                format!("{:.0} MB, {:.1} MB per 100k pairs", mb(b), mb(b) * per_100k)
            });
        println!(
            "fuzz:1:{}: {} pairs in {:.1} s ({:.1} s per 100k pairs); peak RSS {peak}",
            m.modules,
            m.pairs,
            m.secs,
            m.secs * per_100k,
        );
    }
    if let (Some(small_peak), Some(large_peak)) = (small.peak_bytes, large.peak_bytes) {
        let added = (large.pairs - small.pairs) as f64 / 100_000.0;
        println!(
            "peak growth: {:.1} MB per 100k pairs added",
            mb(large_peak - small_peak) / added
        );
    }
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1_000_000.0
}

/// One run of the command on `fuzz:1:modules`, measured.
fn run(modules: u64, scratch: &Path) -> Measured {
    let report = scratch.join(format!("report-{modules}.json"));
    let before = children_peak_bytes();
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_streamconform"))
        .args(["run", "--backend", "reference", "--quiet"])
        .arg("--suite")
        .arg(format!("fuzz:1:{modules}"))
        .arg("--report")
        .arg(&report)
        .output()
        .expect("the streamconform command starts");
    let secs = started.elapsed().as_secs_f64();
    // Exit 1 is a run with unexpected results, which a generated suite may
    // have; anything else is no measurement.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "fuzz:1:{modules}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let after = children_peak_bytes();
    // A child's peak shows only if it is the highest yet, and runs go
    // from small to large.
    let peak_bytes = if after > before || before == 0 {
        Some(after)
    } else {
        None
    };
    // The run's own count line: the report of a large run is hundreds of
    // MB, not worth parsing here.
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let pairs = said
        .lines()
        .find_map(|line| {
            line.split_once(" (case, backend) pairs")?
                .0
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("fuzz:1:{modules}: no pair count in its output:\n{said}"));
    assert!(report.is_file(), "fuzz:1:{modules} wrote no report");
    Measured {
        modules,
        pairs,
        secs,
        peak_bytes,
    }
}

/// The largest peak RSS of any child process waited for so far.
fn children_peak_bytes() -> u64 {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage), 0);
        usage
    };
    // Linux reports kilobytes.
    usage.ru_maxrss as u64 * 1024
}
