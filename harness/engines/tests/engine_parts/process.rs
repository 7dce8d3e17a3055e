//! Out-of-process workers that crash or hang cost only the cases they had
//! in flight; the run completes and later cases run on a fresh worker.
//! Uses a named test double (`fixtures/fault-injecting-worker.mjs`) under
//! the machine's node.

use std::sync::Arc;
use std::time::Duration;
use streamconform::backend::BackendUnderTest;
use streamconform::case::{Case, CaseOrigin};
use streamconform::runner::{run_cases, PlanSelection, RunConfig};
use streamconform::verdict::Verdict;
use streamconform::Features;
use streamconform::{Outcome, OutcomeClass, PlanSet};
use streamconform_engines::process::ProcessBackend;

/// A valid module with a custom section "x" carrying `marker`.
fn module_with(marker: &[u8]) -> Vec<u8> {
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    m.extend([0, 2 + marker.len() as u8, 1, b'x']);
    m.extend_from_slice(marker);
    m
}

fn case(id: &str, marker: &[u8]) -> Case {
    Case {
        id: id.into(),
        suite: "t".into(),
        group: "t".into(),
        origin: CaseOrigin::Directive,
        bytes: module_with(marker).into(),
        expected: OutcomeClass::Module.into(),
        features: Arc::new(Features::baseline()),
        scenario: None,
        function: Default::default(),
        imports: Default::default(),
    }
}

/// The named test double, one worker.
fn faulty_backend() -> ProcessBackend {
    faulty_backend_with(&[])
}

/// The test double with command-line options (see the fixture).
fn faulty_backend_with(options: &[String]) -> ProcessBackend {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/fault-injecting-worker.mjs"
    );
    let mut command = vec!["node".to_string(), fixture.to_string()];
    command.extend(options.iter().cloned());
    streamconform_engines::process::backend("faulty", command, 1, Duration::from_millis(100))
}

/// A handshake that is not protocol, or of another protocol version, makes
/// the backend unavailable (a setup error, never engine failures); one
/// missed only by the first worker is retried, and the backend works.
#[test]
fn bad_handshakes_are_setup_errors_and_a_missed_one_is_retried() {
    use streamconform::backend::Backend;
    let garbage = faulty_backend_with(&["--hello=garbage".into()]);
    let error = garbage.ready().unwrap_err();
    assert!(
        error.contains("bad handshake") && error.contains("Welcome"),
        "{error}"
    );
    assert!(error.contains("attempt 3 of 3"), "{error}");
    let old = faulty_backend_with(&["--hello=old-protocol".into()]);
    let error = old.ready().unwrap_err();
    assert!(error.contains("speaks protocol 2"), "{error}");

    let counter = std::env::temp_dir().join(format!(
        "streamconform-hello-counter-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&counter);
    let once = faulty_backend_with(&[
        "--hello=garbage".into(),
        "--hello-times=1".into(),
        format!("--counter={}", counter.display()),
    ]);
    assert_eq!(once.ready(), Ok(()));
    let starts = std::fs::read_to_string(&counter).unwrap().lines().count();
    assert_eq!(starts, 2, "one failed start, one good");
    let _ = std::fs::remove_file(&counter);
}

/// One job, so the order is deterministic and each fault hits a live worker.
fn one_job() -> RunConfig {
    RunConfig {
        plans: PlanSelection::Set(PlanSet::Whole),
        jobs: Some(1),
        case_timeout: Duration::from_secs(60),
        ..RunConfig::default()
    }
}

#[test]
fn a_crashing_and_a_hanging_worker_cost_only_their_cases() {
    let mut backend = faulty_backend();
    backend.set_hang_grace(Duration::from_secs(2));
    let cases = Arc::new(vec![
        case("ok-before", b"fine"),
        case("exits", b"fault:exit"),
        case("ok-between", b"fine too"),
        case("hangs", b"fault:hang"),
        case("ok-after", b"still fine"),
    ]);
    let config = one_job();
    let results = run_cases(&BackendUnderTest::bytes_only(backend), &cases, &config);
    let verdicts: Vec<_> = results.iter().map(|r| (r.id.as_str(), r.verdict)).collect();
    assert_eq!(
        verdicts,
        [
            ("ok-before", Verdict::Pass),
            ("exits", Verdict::Fail),
            ("ok-between", Verdict::Pass),
            ("hangs", Verdict::Fail),
            ("ok-after", Verdict::Pass),
        ]
    );
    assert!(
        matches!(results[1].one_shot, Some(Outcome::Crash { .. })),
        "{:?}",
        results[1].one_shot
    );
    assert_eq!(results[3].one_shot, Some(Outcome::Timeout));
    // A hang ends its case: reported the same way whichever deadline
    // would have fired first, with no further hang windows spent on it.
    let why = results[3].aborted.as_deref().unwrap_or_default();
    assert!(
        why.starts_with("timeout: the engine did not answer under one-shot"),
        "{why}"
    );
}

/// The hang timer of a request starts when the worker takes it: requests
/// queued behind slow ones (each well within the limit, together far
/// beyond it) are not taken for hung, and nothing is killed or rerun.
#[test]
fn requests_queued_behind_slow_ones_are_not_hung() {
    // Limit: 100 ms settle + 400 ms grace; six requests of 300 ms each on
    // one worker, all in flight at once: the last is taken after 1.5 s.
    let mut backend = faulty_backend();
    backend.set_hang_grace(Duration::from_millis(400));
    let cases = Arc::new(
        (0..6)
            .map(|i| case(&format!("slow-{i}"), format!("fault:slow {i}").as_bytes()))
            .collect::<Vec<_>>(),
    );
    let config = RunConfig {
        jobs: Some(6),
        ..one_job()
    };
    let results = run_cases(&BackendUnderTest::bytes_only(backend), &cases, &config);
    for r in &results {
        assert_eq!(
            r.verdict,
            Verdict::Pass,
            "{}: {}",
            r.id,
            r.failure_summary()
        );
    }
}

/// Cases a worker cannot run are counted not applicable, with the reason
/// its handshake gives: no `fetch` capability (the test double), or no
/// origin (node has `fetch` but no document origin, so cross-origin does
/// not apply); what it can run, it runs.
#[test]
fn capabilities_from_the_handshake_decide_what_is_not_applicable() {
    use streamconform::runner::run_case;
    use streamconform::suites::{load_matching, SuiteSpec};
    let loaded = load_matching(&SuiteSpec::WebApi, Some("webapi/fetch"));
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let case = |id: &str| {
        loaded
            .cases
            .iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("{id} is in suites/webapi/fetch.toml"))
    };
    let same_origin = case("webapi/fetch/fetch-promise");
    let cross_origin = case("webapi/fetch/cross-origin-cors");
    let whole = PlanSelection::Set(PlanSet::Whole);

    // The test double's handshake lists no capabilities.
    let no_fetch = faulty_backend();
    let result = run_case(
        &BackendUnderTest::with_web_api(no_fetch),
        same_origin,
        &whole,
    );
    assert_eq!(result.verdict, Verdict::NotApplicable);
    assert!(result.aborted.unwrap().contains("no `fetch` capability"));

    let node = streamconform_engines::by_name("node").unwrap();
    let result = run_case(&node, same_origin, &whole);
    assert_eq!(
        result.verdict,
        Verdict::Pass,
        "{}",
        result.failure_summary()
    );
    let result = run_case(&node, cross_origin, &whole);
    assert_eq!(result.verdict, Verdict::NotApplicable);
    assert!(result.aborted.unwrap().contains("no `origin` capability"));
}

/// The driver reports what the reader did; a case whose stream errors
/// "after one chunk" but enqueues everything at once (so `error()` discards
/// the chunk unread) did not test what it says, and is invalid, not a pass.
#[test]
fn a_case_whose_premise_does_not_hold_is_invalid_on_a_real_engine() {
    use streamconform::runner::run_case;
    use streamconform::suites::{load, SuiteSpec};
    let dir = std::env::temp_dir().join(format!("streamconform-premise-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let case = |name: &str, pacing: &str| {
        format!(
            "[[case]]\nname = \"{name}\"\nstep = \"C7\"\nstream-end = \"error\"\nerror-after-chunks = 1\nreason = \"object\"\nmodule = \"exports\"\npacing = \"{pacing}\"\nexpect = \"passed-through\"\n\n"
        )
    };
    std::fs::write(
        dir.join("cases.toml"),
        case("queued", "enqueue-all") + &case("read", "pull"),
    )
    .unwrap();
    let loaded = load(&SuiteSpec::Directory(dir.clone()));
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let node = streamconform_engines::by_name("node").unwrap();
    let whole = PlanSelection::Set(PlanSet::Whole);
    let queued = run_case(&node, &loaded.cases[0], &whole);
    assert_eq!(
        queued.verdict,
        Verdict::Invalid,
        "{}",
        queued.failure_summary()
    );
    assert!(queued.aborted.unwrap().contains("had taken 0"));
    let read = run_case(&node, &loaded.cases[1], &whole);
    assert_eq!(read.verdict, Verdict::Pass, "{}", read.failure_summary());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The node driver on stdio, spoken to by hand.
fn node_driver(stdout: std::process::Stdio) -> std::process::Child {
    std::process::Command::new("node")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/js/stdio.mjs"))
        .stdin(std::process::Stdio::piped())
        .stdout(stdout)
        .spawn()
        .unwrap()
}

/// A driver whose harness has gone away (stdin closed) exits within a
/// moment, even with a compile still pending: no worker outlives its run.
#[test]
fn the_driver_exits_soon_after_its_input_ends() {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = node_driver(Stdio::null());
    let mut stdin = child.stdin.take().unwrap();
    writeln!(
        stdin,
        r#"{{"type":"module","module":1,"bytes":"AGFzbQEAAAA="}}"#
    )
    .unwrap();
    writeln!(
        stdin,
        r#"{{"type":"case","id":1,"module":1,"settle_ms":600000,"scenario":{{"argument":"never-settles"}},"cuts":[],"events":[["chunks",0,1],["close"]]}}"#
    )
    .unwrap();
    drop(stdin);
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the driver outlived its input"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A module the harness told the driver to `forget` is gone from it: a
/// request that still named it would find no bytes (the client never sends
/// one without the bytes again), so the driver holds no more than the
/// harness accounts for.
#[test]
fn the_driver_drops_a_forgotten_module() {
    use std::io::{BufRead, Write};
    use std::process::Stdio;
    let mut child = node_driver(Stdio::piped());
    let mut stdin = child.stdin.take().unwrap();
    // The empty module, then a one-shot of it, then forgotten and asked for
    // again.
    for line in [
        r#"{"type":"module","module":1,"bytes":"AGFzbQEAAAA="}"#,
        r#"{"type":"one-shot","id":1,"module":1,"settle_ms":3000}"#,
        r#"{"type":"forget","module":1}"#,
        r#"{"type":"one-shot","id":2,"module":1,"settle_ms":3000}"#,
        r#"{"type":"exit"}"#,
    ] {
        writeln!(stdin, "{line}").unwrap();
    }
    let results: Vec<serde_json::Value> = std::io::BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .filter(|v: &serde_json::Value| v["type"] == "result")
        .collect();
    child.wait().unwrap();
    assert_eq!(results.len(), 2, "{results:?}");
    assert_eq!(results[0]["outcome"]["class"], "module", "{results:?}");
    assert_ne!(results[1]["outcome"]["class"], "module", "{results:?}");
}

/// A pending window past what a JS timer can wait (2^31 - 1 ms) is clamped
/// by the driver, not overflowed: an overflowing `setTimeout` fires at
/// once, and every compile read `pending` (issue 20, item 6).
#[test]
fn the_driver_clamps_a_window_js_timers_cannot_hold() {
    use std::io::{BufRead, Write};
    use std::process::Stdio;
    let mut child = node_driver(Stdio::piped());
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let value: serde_json::Value = serde_json::from_str(&line).unwrap();
            if value["type"] == "result" {
                let _ = tx.send(value);
            }
        }
    });
    let window = (1u64 << 31).to_string();
    // The empty module: streamed and closed, then streamed and never ended.
    for line in [
        r#"{"type":"module","module":1,"bytes":"AGFzbQEAAAA="}"#.to_string(),
        format!(
            r#"{{"type":"case","id":1,"module":1,"settle_ms":{window},"scenario":{{}},"cuts":[],"events":[["chunks",0,1],["close"]]}}"#
        ),
        format!(
            r#"{{"type":"case","id":2,"module":1,"settle_ms":{window},"scenario":{{}},"cuts":[],"events":[["chunks",0,1]]}}"#
        ),
    ] {
        writeln!(stdin, "{line}").unwrap();
    }
    let closed = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(closed["id"], 1, "{closed}");
    assert_eq!(closed["outcome"]["class"], "module", "{closed}");
    let never_ends = rx.recv_timeout(Duration::from_secs(1));
    assert!(never_ends.is_err(), "judged at once: {never_ends:?}");
    writeln!(stdin, r#"{{"type":"exit"}}"#).unwrap();
    child.wait().unwrap();
}

/// A worker that breaks the protocol (garbage, a reply to a request not in
/// flight, bytes that are not UTF-8) is given up on at once: its case ends
/// as a crash naming the offending line, quickly, and no reply lands on
/// another case.
#[test]
fn protocol_faults_cost_only_their_case_and_are_named() {
    let backend = faulty_backend();
    let cases = Arc::new(vec![
        case("ok-before", b"fine"),
        case("garbage", b"fault:garbage"),
        case("wrong-id", b"fault:wrong-id"),
        case("not-utf8", b"fault:not-utf8"),
        case("pending-without-window", b"fault:pending"),
        case("ok-after", b"still fine"),
    ]);
    let config = one_job();
    let started = std::time::Instant::now();
    let results = run_cases(&BackendUnderTest::bytes_only(backend), &cases, &config);
    // Given up on at once, not after the 60 s hang grace.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    let verdicts: Vec<_> = results.iter().map(|r| (r.id.as_str(), r.verdict)).collect();
    assert_eq!(
        verdicts,
        [
            ("ok-before", Verdict::Pass),
            ("garbage", Verdict::Fail),
            ("wrong-id", Verdict::Fail),
            ("not-utf8", Verdict::Fail),
            ("pending-without-window", Verdict::Fail),
            ("ok-after", Verdict::Pass),
        ]
    );
    for (r, what) in results[1..5].iter().zip([
        "not protocol",
        "not in flight",
        "not UTF-8",
        "no pending window",
    ]) {
        let Some(Outcome::Crash { message }) = &r.one_shot else {
            panic!("{}: {:?}", r.id, r.one_shot)
        };
        assert!(
            message.contains("broke the protocol") && message.contains(what),
            "{message}"
        );
    }
}

/// Whether process `pid` has ended (gone, or a zombie not yet reaped).
fn ended(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // The state follows the command in parentheses.
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
    }
}

/// A backend the run is done with stops its workers then, not when it is
/// dropped (backends side by side would otherwise keep every finished
/// one's processes), and starts new ones if it is asked for work again.
#[test]
fn a_released_backend_stops_its_workers_and_starts_afresh_when_used_again() {
    let pids = std::env::temp_dir().join(format!("streamconform-pids-{}", std::process::id()));
    let _ = std::fs::remove_file(&pids);
    let backend = Arc::new(BackendUnderTest::complete(faulty_backend_with(&[format!(
        "--pid-file={}",
        pids.display()
    )])));
    let cases = Arc::new(vec![case("a", b"fine")]);
    let started = |expected: usize| -> Vec<u32> {
        let text = std::fs::read_to_string(&pids).unwrap();
        let pids: Vec<u32> = text.lines().map(|l| l.parse().unwrap()).collect();
        assert_eq!(pids.len(), expected, "{text}");
        pids
    };
    let results = run_cases(&backend, &cases, &one_job());
    assert_eq!(results[0].verdict, Verdict::Pass);
    let first = started(1)[0];
    assert!(
        !ended(first),
        "a worker lives while its backend may be used"
    );
    backend.engine.release();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !ended(first) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(ended(first), "the worker of a released backend ended");
    let again = run_cases(&backend, &cases, &one_job());
    assert_eq!(again[0].verdict, Verdict::Pass);
    assert_ne!(started(2)[1], first);
    let _ = std::fs::remove_file(&pids);
}
