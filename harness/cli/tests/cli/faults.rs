//! The fault-injection suite: the real node driver behind a proxy that
//! injects worker faults at random (`fixtures/fault-proxy.mjs`: crashes,
//! hangs, garbage, replies to requests never sent, bytes that are not
//! UTF-8, stderr floods, slow and broken handshakes). Whatever it does, the
//! run completes, loses and misattributes nothing, and every case the
//! faults did not hit has the result of a clean run; no process outlives
//! the harness, even one killed with SIGKILL.
//!
//! `cargo test -p streamconform-cli --test cli faults:: -- --nocapture` prints the
//! figures (faults by kind, cases hit, wall times).

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use streamconform::reporter::json::{Report, ReportedCase};
use streamconform::verdict::Status;
use streamconform::Outcome;

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("streamconform-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `run --backend node` over the streaming suite with the reduced plans;
/// `faults`: the environment of the fault-injecting
/// proxy, if any.
fn streaming_run(dir: &Path, report: &str, faults: &[(&str, String)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_streamconform"));
    command
        .args(["run", "--backend", "node", "--suite", "streaming"])
        .args(["--plans", "reduced", "--report", report])
        .current_dir(dir)
        .env_remove("CI")
        .env_remove("STREAMCONFORM_NODE");
    if !faults.is_empty() {
        command.env("STREAMCONFORM_NODE", fixture("node-with-faults"));
        command.envs(faults.iter().map(|(k, v)| (k, v)));
    }
    command
}

fn read_report(path: &Path) -> Report {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Processes still alive (not zombies) whose environment has `marker`.
fn processes_with(marker: &str) -> Vec<u32> {
    common::live_processes()
        .into_iter()
        .filter(|p| {
            std::fs::read(p.dir.join("environ"))
                .is_ok_and(|environ| environ.split(|b| *b == 0).any(|v| v == marker.as_bytes()))
        })
        .map(|p| p.pid)
        .collect()
}

/// Waits up to `limit` for every process with `marker` to be gone.
fn assert_none_left(marker: &str, limit: Duration) {
    let started = Instant::now();
    loop {
        let left = processes_with(marker);
        if left.is_empty() {
            return;
        }
        assert!(
            started.elapsed() < limit,
            "processes outlived the harness: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A result that a fault can explain: it ran out of time or crashed.
fn hit_by_a_fault(case: &ReportedCase) -> bool {
    let faulty = |o: &Outcome| matches!(o, Outcome::Crash { .. } | Outcome::Timeout);
    case.one_shot.as_ref().is_some_and(faulty)
        || case.failing_plans.iter().any(|p| faulty(&p.actual))
        || case.aborted.is_some()
}

#[test]
fn a_hundred_injected_worker_faults_lose_and_misattribute_nothing() {
    let dir = scratch("faults");
    let clock = Instant::now();
    // The clean run keeps the default hang timeout: nothing hangs in it,
    // and a loaded machine must not turn a slow compile into a timeout.
    let clean = streaming_run(&dir, "clean.json", &[]).output().unwrap();
    let clean_secs = clock.elapsed().as_secs_f64();
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&clean.stdout)
    );
    let clean = read_report(&dir.join("clean.json"));

    let log = dir.join("faults.log");
    let marker = format!("FAULT_LOG={}", log.display());
    let clock = Instant::now();
    let faulty = streaming_run(
        &dir,
        "faulty.json",
        &[
            ("FAULT_SEED", "20261124".into()),
            ("FAULT_RATE", "0.007".into()),
            ("FAULT_START_RATE", "0.2".into()),
            ("FAULT_LOG", log.display().to_string()),
        ],
    )
    .args(["--hang-timeout", "2"])
    .output()
    .unwrap();
    let faulty_secs = clock.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&faulty.stdout);
    assert_none_left(&marker, Duration::from_secs(5));

    let mut faults: BTreeMap<String, usize> = BTreeMap::new();
    for kind in std::fs::read_to_string(&log).unwrap().lines() {
        *faults.entry(kind.to_string()).or_default() += 1;
    }
    let injected: usize = faults.values().sum();
    assert!(
        injected >= 100,
        "only {injected} faults injected: {faults:?}"
    );

    let report = read_report(&dir.join("faulty.json"));
    assert!(!report.finished.interrupted);
    assert!(report.finished.setup_errors.is_empty(), "{stdout}");
    // Nothing lost, nothing twice, in case order.
    let ids = |r: &Report| r.results.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&report), ids(&clean), "results lost or duplicated");
    let mut hit = Vec::new();
    for (faulty, clean) in report.results.iter().zip(&clean.results) {
        if common::judged(faulty) == common::judged(clean) {
            continue;
        }
        // A different result is only acceptable as a fault's visible cost
        // (a hang's timeout); anything else would be misattributed.
        assert!(
            hit_by_a_fault(faulty),
            "{} differs from the clean run without a fault to show for it:\n  clean: {}\n  faulty: {}",
            faulty.id,
            common::judged(clean),
            common::judged(faulty)
        );
        hit.push(faulty.id.clone());
    }
    // Most faults cost nothing visible (their requests ran again); a hung
    // request is a timeout, and a request lost with four workers in a row
    // a crash: rare.
    assert!(
        hit.len() * 10 <= injected,
        "{} of {injected} faults visible in results: {hit:?}",
        hit.len()
    );
    // Exits as specified: 1 exactly when some case failed.
    let expected_exit = if report.finished.unexpected > 0 { 1 } else { 0 };
    assert_eq!(faulty.status.code(), Some(expected_exit), "{stdout}");
    println!(
        "{injected} faults injected {faults:?}; {} results, {} differing from the clean run, each a timeout or crash; clean run {clean_secs:.1} s, with faults {faulty_secs:.1} s",
        report.results.len(),
        hit.len()
    );
}

/// A harness killed outright (SIGKILL) or interrupted leaves no worker
/// behind, even workers that ignore the end of their input and have
/// nothing left to write (every request hangs), so nothing tells them
/// their harness is gone.
#[test]
fn no_worker_outlives_a_killed_or_interrupted_harness() {
    for signal in ["-KILL", "-INT"] {
        let dir = scratch(&format!("orphans{signal}"));
        let marker = format!("FAULT_LOG={}", dir.join("faults.log").display());
        let mut child = streaming_run(
            &dir,
            "r.json",
            &[
                ("FAULT_RATE", "1".into()),
                ("FAULT_KINDS", "hang".into()),
                ("FAULT_LOG", dir.join("faults.log").display().to_string()),
            ],
        )
        // Every request hangs: time out fast.
        .args(["--settle-ms", "100", "--hang-timeout", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
        // Kill once the workers have gone quiet: every request taken and
        // hung (a worker writing to a dead harness would die of EPIPE and
        // prove nothing).
        let log = dir.join("faults.log");
        let started = Instant::now();
        while std::fs::read_to_string(&log).map_or(0, |l| l.lines().count()) < 8 {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no requests hung"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(300));
        assert!(!processes_with(&marker).is_empty());
        let killed = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        child.wait().unwrap();
        assert_none_left(&marker, Duration::from_secs(5));
    }
}

/// An engine that compiles a module and then throws when JS reads it back
/// (`WebAssembly.Module.exports`, as WebKit does for some modules) gave
/// that result: the case fails with the engine's error under every plan
/// and in the one-shot, never as a crash of the driver. A test double
/// (`fixtures/node-read-back-throws`) makes node throw for one module.
#[test]
fn a_module_the_engine_cannot_read_back_fails_as_the_engines_result_not_a_crash() {
    let dir = common::scratch("faults-read-back");
    std::fs::write(
        dir.join("suite/a.wast"),
        "(module (func (export \"fault:read-back\")))\n(module (func (export \"fine\")))\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_streamconform"))
        .args(["run", "--backend", "node", "--suite", "suite"])
        .args([
            "--plans",
            "reduced",
            "--no-truncation",
            "--report",
            "r.json",
        ])
        .current_dir(&dir)
        .env_remove("CI")
        .env("STREAMCONFORM_NODE", fixture("node-read-back-throws"))
        .output()
        .unwrap();
    let text = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let report = read_report(&dir.join("r.json"));
    let mut seen = 0;
    for case in &report.results {
        let reads_back = !case.id.starts_with("suite/a.wast:1");
        if reads_back {
            assert_eq!(case.status, Status::Passed, "{case:?}");
            continue;
        }
        seen += 1;
        assert_eq!(case.status, Status::Failed, "{case:?}");
        assert_eq!(case.aborted, None, "no crash: {case:?}");
        let read_back_threw = |o: &Outcome| {
            matches!(o, Outcome::OtherError { name, message }
                if name == "ReadBackThrew" && message.contains("TypeError: the test double refuses"))
        };
        assert!(
            case.one_shot.as_ref().is_some_and(read_back_threw),
            "{case:?}"
        );
        assert!(!case.failing_plans.is_empty());
        for plan in &case.failing_plans {
            assert!(read_back_threw(&plan.actual), "{plan:?}");
        }
    }
    assert!(seen >= 1, "{text}");
}

/// A worker that stops for good (no answer, no CPU time: Node 26 deadlocks
/// so, now and then) is given up on within seconds of being asked whether
/// it is alive, not after the hang timeout: its oldest request is a
/// timeout and the rest run again elsewhere. A worker that stops answering
/// because it is busy (a long synchronous compile: the CPU runs) is left
/// alone and costs nothing. The hang timeout here is an hour: only the
/// liveness check can end the stuck worker's requests in time.
#[test]
fn a_stuck_worker_is_given_up_on_early_and_a_busy_one_is_left_alone() {
    let dir = scratch("stuck");
    let log = dir.join("faults.log");
    let clock = Instant::now();
    let mut child = streaming_run(
        &dir,
        "r.json",
        &[
            ("FAULT_WEDGE_ONCE", dir.join("wedge").display().to_string()),
            ("FAULT_BUSY_ONCE", dir.join("busy").display().to_string()),
            ("FAULT_LOG", log.display().to_string()),
        ],
    )
    .args(["--hang-timeout", "3600"])
    // To a file, not a pipe nobody reads until the run ends.
    .stdout(std::fs::File::create(dir.join("stdout")).unwrap())
    .spawn()
    .unwrap();
    // A bound on a liveness check, not a measurement: failing it means a
    // request waited for the hour-long hang timeout.
    let bound = Duration::from_secs(600);
    while child.try_wait().unwrap().is_none() {
        if clock.elapsed() > bound {
            child.kill().unwrap();
            panic!("the run did not end within {bound:?}: the stuck worker was not given up on");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let status = child.wait().unwrap();
    let stdout = std::fs::read_to_string(dir.join("stdout")).unwrap();
    let mut faults: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    faults.sort();
    assert_eq!(faults, ["busy", "wedge"], "{stdout}");

    let report = read_report(&dir.join("r.json"));
    let hit: Vec<&ReportedCase> = report
        .results
        .iter()
        .filter(|c| hit_by_a_fault(c))
        .collect();
    // The stuck worker's oldest request, and nothing of the busy one.
    assert_eq!(
        hit.len(),
        1,
        "{:?}",
        hit.iter().map(|c| &c.id).collect::<Vec<_>>()
    );
    let timed_out = |o: &Outcome| *o == Outcome::Timeout;
    assert!(
        hit[0].one_shot.as_ref().is_some_and(timed_out)
            || hit[0].failing_plans.iter().any(|p| timed_out(&p.actual)),
        "{}",
        common::judged(hit[0])
    );
    assert!(!report.results.iter().any(|c| {
        let crash = |o: &Outcome| matches!(o, Outcome::Crash { .. });
        c.one_shot.as_ref().is_some_and(crash) || c.failing_plans.iter().any(|p| crash(&p.actual))
    }));
    assert_eq!(report.finished.unexpected, 1, "{stdout}");
    assert_eq!(status.code(), Some(1), "{stdout}");
    println!(
        "one stuck worker and one busy for 12 s: {} results, {} a timeout; {:.1} s with a one-hour hang timeout",
        report.results.len(),
        hit.len(),
        clock.elapsed().as_secs_f64()
    );
}
