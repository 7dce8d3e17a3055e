//! The harness's own faults never become engine results (items 5, 6 and 7
//! of issue 20):
//! - 5: a flood of local connections trickling bytes at the loopback server
//!   (a fault-injection double) costs no case a FAIL;
//! - 6: a settle window JS timers cannot hold is refused, naming the flag
//!   and the limit (exit 2), by `run`, `minimize` and `fuzz`;
//! - 7: a closed body whose compile settles after the pending window is
//!   slow, not `pending`.
//!
//! Beside these, in the crates: the loopback server's total head deadline
//! and a flood past its limit of unidentified connections
//! (`loopback_server.rs`), a body not served as registered made a harness
//! error (`runner/case.rs`), the pending window capped for huge bodies
//! (`worker/client.rs`), and the node driver clamping a window and a
//! `pending` reply without a window as a protocol fault
//! (`engines/tests/engine_parts/process.rs`).

use crate::common::{self, scratch, streamconform};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use streamconform::reporter::json::Report;
use streamconform::verdict::Status;
use streamconform::verdict::Verdict;
use streamconform::{Outcome, OutcomeClass};

/// The longest delay a JS timer accepts (2^31 - 1 ms); past it the timer
/// fires at once and every compile would read `pending`.
const JS_TIMER_LIMIT_MS: u64 = (1 << 31) - 1;

#[test]
fn a_settle_window_js_timers_cannot_hold_is_a_usage_error() {
    let dir = scratch("hostile-settle");
    let too_long = JS_TIMER_LIMIT_MS + 1;
    // Each command once with the window one past the limit, and `run`
    // with the largest number the flag parses.
    let commands = [
        format!("run --backend reference --suite webapi --settle-ms {too_long}"),
        format!(
            "run --backend reference --suite webapi --settle-ms {}",
            u64::MAX
        ),
        format!(
            "minimize streaming/function-bodies.wast:21 --backend reference --settle-ms {too_long}"
        ),
        format!("fuzz --backend reference --seed 1 --count 1 --settle-ms {too_long}"),
    ];
    for command in &commands {
        let args: Vec<&str> = command.split(' ').collect();
        let out = streamconform(&args, &dir);
        let text = common::text(&out);
        assert_eq!(out.status.code(), Some(2), "{command}: {text}");
        assert!(
            text.contains("--settle-ms") && text.contains(&JS_TIMER_LIMIT_MS.to_string()),
            "{command}: the error names the flag and the limit: {text}"
        );
    }
    // The limit itself is accepted.
    let at_limit = format!(
        "run --backend reference --suite webapi --filter webapi/status --settle-ms {JS_TIMER_LIMIT_MS}"
    );
    let out = streamconform(&at_limit.split(' ').collect::<Vec<_>>(), &dir);
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out));
}

/// Load, simulated: with a pending window of 0 ms every compile settles
/// "late". A closed (or errored) body's compile that settles after the
/// window is slow, not pending: only a source or body that never ends is
/// judged by the window, and those are still `pending`.
#[test]
fn a_closed_body_that_settles_after_the_window_is_not_pending() {
    let dir = scratch("hostile-late-settle");
    let mut judged = 0;
    for (suite, filter) in [("webapi", "webapi/"), ("streaming", "function-bodies")] {
        let report = dir.join(format!("{suite}.json"));
        let out = streamconform(
            &[
                "run",
                "--backend",
                "node",
                "--suite",
                suite,
                "--filter",
                filter,
                "--plans",
                "reduced",
                "--no-truncation",
                "--settle-ms",
                "0",
                "--quiet",
                "--report",
                report.to_str().unwrap(),
            ],
            &dir,
        );
        let report: Report = serde_json::from_slice(
            &std::fs::read(&report).unwrap_or_else(|e| panic!("{e}: {}", common::text(&out))),
        )
        .unwrap();
        for case in &report.results {
            judged += 1;
            let expects_pending = case.expected == OutcomeClass::Pending;
            for failure in &case.failing_plans {
                assert!(
                    expects_pending || failure.actual != Outcome::Pending,
                    "{} (expected {:?}) judged pending under plan {} although its body ends",
                    case.id,
                    case.expected,
                    failure.plan
                );
            }
            if expects_pending {
                assert_eq!(
                    case.verdict,
                    Verdict::Pass,
                    "{}: the window still judges a body that never ends",
                    case.id
                );
            }
        }
    }
    assert!(judged > 100, "{judged} cases");
}

/// A fault-injection double of a local process flooding the run's loopback
/// server: it finds the harness's listening ports in `/proc` (no prefix
/// needed), and keeps `per_port` connections on each trickling a request
/// line a byte at a time, never finishing it, reopening any the server
/// closes, until dropped.
struct FloodDouble {
    stop: Arc<AtomicBool>,
    /// Connections opened so far (reopened ones included).
    opened: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl FloodDouble {
    fn start(harness_pid: u32, per_port: usize) -> FloodDouble {
        let stop = Arc::new(AtomicBool::new(false));
        let opened = Arc::new(AtomicUsize::new(0));
        let (stop_flag, count) = (stop.clone(), opened.clone());
        let thread = std::thread::spawn(move || {
            let mut ports = Vec::new();
            while ports.len() < 2 && !stop_flag.load(Ordering::SeqCst) {
                ports = common::loopback_ports(harness_pid);
                std::thread::sleep(Duration::from_millis(10));
            }
            let connect = |port: u16| {
                let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
                stream.write_all(b"GET /").ok()?;
                stream.set_nonblocking(true).ok()?;
                count.fetch_add(1, Ordering::SeqCst);
                Some(stream)
            };
            let mut flood: Vec<(u16, Option<TcpStream>)> = ports
                .iter()
                .flat_map(|&port| (0..per_port).map(move |_| port))
                .map(|port| (port, connect(port)))
                .collect();
            while !stop_flag.load(Ordering::SeqCst) {
                for (port, stream) in &mut flood {
                    let alive = stream.as_mut().is_some_and(|s| {
                        let mut buf = [0u8; 256];
                        let closed = !matches!(s.read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
                        !closed && s.write_all(b"a").is_ok()
                    });
                    if !alive {
                        *stream = connect(*port);
                    }
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        FloodDouble {
            stop,
            opened,
            thread: Some(thread),
        }
    }
}

impl Drop for FloodDouble {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Item 5: 300 local connections trickling a request line at the loopback
/// server while node fetches the Web API suite's bodies from it. Before,
/// they filled its 256 slots and node got the harness's own 503s, read as
/// `unsupported MIME type 'null'` FAILs.
#[test]
fn a_flooded_loopback_server_costs_no_case_a_fail() {
    let dir = scratch("hostile-flood");
    let expectations = concat!(env!("CARGO_MANIFEST_DIR"), "/../../expectations/node.toml");
    let report = dir.join("r.json");
    let run = Command::new(env!("CARGO_BIN_EXE_streamconform"))
        .args(["run", "--backend", "node", "--suite", "webapi"])
        .args([
            "--filter",
            "webapi/fetch/",
            "--settle-ms",
            "1000",
            "--quiet",
        ])
        .args(["--expectations", expectations, "--report"])
        .arg(&report)
        .env_remove("CI")
        .current_dir(&dir)
        // Both captured, for the failure message.
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let flood = FloodDouble::start(run.id(), 150);
    let started = Instant::now();
    let out = run.wait_with_output().unwrap();
    let opened = flood.opened.load(Ordering::SeqCst);
    drop(flood);
    assert!(opened >= 300, "the flood opened only {opened} connections");
    assert!(started.elapsed() < Duration::from_secs(120));
    let report: Report = serde_json::from_slice(
        &std::fs::read(&report).unwrap_or_else(|e| panic!("{e}: {}", common::text(&out))),
    )
    .unwrap();
    let failed: Vec<String> = report
        .results
        .iter()
        .filter(|c| matches!(c.status, Status::Failed | Status::Invalid))
        .map(|c| {
            format!(
                "{} {:?} {:?}",
                c.id,
                c.aborted,
                c.failing_plans.first().map(|p| &p.actual)
            )
        })
        .collect();
    assert!(failed.is_empty(), "{failed:#?}\n{}", common::text(&out));
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out));
}
