//! The harness's own faults never become engine results (items 5, 6 and 7
//! of issue 20):
//! - 5: a flood of local connections trickling bytes at the loopback server
//!   (a fault-injection double) costs no case a FAIL;
//! - 6: a settle window JS timers cannot hold is refused, naming the flag
//!   and the limit (exit 2), by `run`, `minimize` and `fuzz`;
//! - 7: a closed body whose compile settles after the pending window is
//!   slow, not `pending`.

use crate::common::{self, scratch, streamconform};
use streamconform::reporter::json::Report;
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
