//! The JS engines (node, deno, bun) on the Web API suite and, with the
//! reduced plan set, the spec suite; judged against each engine's
//! expectations file in `expectations/`, both ways.
//!
//! `cargo test -p streamconform --test engines -- node::` runs one engine.
//! deno and bun come from `scripts/install-engines.sh`; an engine that
//! cannot start fails its trial with the reason, never silently.

use libtest_mimic::{Arguments, Trial};
use streamconform::{backend, Conformance, PlanSet, SuiteSpec};

const ENGINES: &[&str] = &["node", "deno", "bun"];

fn main() {
    let mut args = Arguments::from_args();
    args.test_threads = args.test_threads.or(Some(16));
    let mut trials = Vec::new();
    for engine in ENGINES {
        let backend = match backend::by_name(engine) {
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
        let (engine_trials, _) = Conformance::for_backend(backend)
            .suites([SuiteSpec::WebApi, SuiteSpec::Spec])
            .plans(PlanSet::Reduced)
            .truncation(false)
            .expectations(expectations)
            .trials(None);
        trials.extend(engine_trials.into_iter().map(|t| t.with_kind(*engine)));
    }
    libtest_mimic::run(&args, trials).exit()
}
