//! The JS engines (node, deno, bun) and the browsers (chromium, firefox)
//! on the Web API suite and, with the reduced plan set, the spec suite; judged against each engine's
//! expectations file in `expectations/`, both ways: an unlisted failure,
//! an unexpected pass, or a rule that covered no failure fails the run.
//!
//! `cargo test -p streamconform-engines --test engines -- node::` runs one engine.
//! deno, bun and the browsers come from `scripts/install-engines.sh`
//! (npm and apt), which this test
//! runs first (it is idempotent, and quick when they are installed); an
//! engine that still cannot start fails its trial with the reason, never
//! silently.

use libtest_mimic::{Arguments, Trial};
use std::process::Command;
use streamconform::{Conformance, PlanSet, SuiteSpec};

const ENGINES: &[&str] = &["node", "deno", "bun", "chromium", "firefox"];

/// Runs the project's install script for every engine; its failure
/// becomes a failing trial.
fn install_engines() -> Result<(), String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/install-engines.sh");
    let out = Command::new("bash")
        .args([script, "all"])
        .output()
        .map_err(|e| format!("cannot run {script}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{script} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn main() {
    let mut args = Arguments::from_args();
    args.test_threads = args.test_threads.or(Some(16));
    let mut trials = Vec::new();
    if !args.list {
        if let Err(message) = install_engines() {
            trials.push(Trial::test("install-engines", move || Err(message.into())));
        }
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
            "{}/../expectations/{engine}.toml",
            env!("CARGO_MANIFEST_DIR")
        );
        let (engine_trials, judged) = Conformance::for_backend(backend)
            .suites([SuiteSpec::WebApi, SuiteSpec::Spec])
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
