//! The JS engines (node, deno, bun) and the browsers (chromium, firefox)
//! on the Web API suite and, with the reduced plan set, the spec and
//! streaming suites (the latter's `instantiateStreaming` cases included);
//! judged against each engine's
//! expectations file in `expectations/`, both ways: an unlisted failure,
//! an unexpected pass, or a rule that covered no failure fails the run.
//!
//! `cargo test -p streamconform-engines --test engines -- node::` runs one engine
//! (`node@22::` one release).
//! deno, bun and the browsers come from `scripts/install-engines.sh`
//! (npm and apt), which this test
//! runs first (it is idempotent, and quick when they are installed); an
//! engine that still cannot start fails its trial with the reason, never
//! silently.

use libtest_mimic::{Arguments, Trial};
use std::process::Command;
use streamconform::{Conformance, PlanSet, SuiteSpec};

// Not yet webkit: with its browser beside the others, one CI run had V8 fail
// to allocate a multi-memory instance's memories ("Out of memory") under
// the added memory pressure. Until the engines test can hold it, webkit's
// expectations are checked only by docs/running.md's browser command.
// node@22 and node@24 are releases beside the machine's node, installed on
// first use (engines/versions.lock). Not yet node@26: its V8 deadlocks a
// worker now and then (see expectations/node@26.toml), so which of its
// cases time out differs from run to run.
const ENGINES: &[&str] = &[
    "node", "node@22", "node@24", "deno", "bun", "chromium", "firefox",
];

/// Runs the project's install script once, before the trials are made,
/// for the engines the trials to run need: all of them, unless the filter
/// starts with one engine's trials (`[deno] spec/...`, as nextest passes
/// when it runs each trial in a process of its own, or `deno::start`).
/// Its failure becomes a failing trial. Runs in other test processes at
/// the same time wait for each other on the script's lock.
fn install_engines(args: &Arguments) -> Result<(), String> {
    let filter = args.filter.as_deref().unwrap_or("");
    let engine = match filter.strip_prefix('[') {
        Some(kinded) => kinded.split_once(']').map(|(kind, _)| kind),
        None => filter.split_once("::").map(|(engine, _)| engine),
    };
    let what = match engine {
        // The machine's node; a release installs itself on first use.
        Some(engine) if engine == "node" || engine.starts_with("node@") => return Ok(()),
        Some("deno" | "bun") => "js",
        Some("chromium" | "firefox" | "webkit") => "browsers",
        _ => "all",
    };
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/install-engines.sh"
    );
    let out = Command::new("bash")
        .args([script, what])
        .output()
        .map_err(|e| format!("cannot run {script}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{script} {what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn main() {
    let mut args = Arguments::from_args();
    args.test_threads = args.test_threads.or(Some(16));
    let mut trials = Vec::new();
    // Also when only listing: which trials there are depends on which
    // engines start (one that cannot has a single `ENGINE::start` trial),
    // and nextest runs each trial it listed in a process of its own.
    if let Err(message) = install_engines(&args) {
        trials.push(Trial::test("install-engines", move || Err(message.into())));
    }
    let mut judged_against = Vec::new();
    for engine in ENGINES {
        let backend = match streamconform_engines::by_name(engine) {
            Ok(b) => b,
            Err(e) => {
                let message = e.to_string();
                trials.push(Trial::test(format!("{engine}::start"), move || {
                    Err(message.into())
                }));
                continue;
            }
        };
        let info = backend.engine.info();
        if info.version.starts_with("unavailable") {
            let message = format!("{engine} {}; run scripts/install-engines.sh", info.version);
            trials.push(Trial::test(format!("{engine}::start"), move || {
                Err(message.into())
            }));
            continue;
        }
        let expectations = format!(
            "{}/../../expectations/{engine}.toml",
            env!("CARGO_MANIFEST_DIR")
        );
        let (engine_trials, judged) = Conformance::for_backend(backend)
            .suites([SuiteSpec::WebApi, SuiteSpec::Spec, SuiteSpec::Streaming])
            .plans(PlanSet::Reduced)
            .truncation(false)
            .expectations(expectations)
            .trials(None);
        judged_against.extend(judged.ok());
        trials.extend(engine_trials.into_iter().map(|t| t.with_kind(*engine)));
    }
    let conclusion = libtest_mimic::run(&args, trials);
    if streamconform::libtest::report_stale_rules(&args, &judged_against) {
        std::process::exit(101);
    }
    conclusion.exit()
}
