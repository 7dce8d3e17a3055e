//! What an engine repo adds to run streamconform from `cargo test`:
//! a `[[test]] harness = false` target with this `main`. It compiles
//! (`compileStreaming`) and instantiates (`instantiateStreaming`) with
//! wasmi.

use streamconform::{Conformance, PlanSet, SuiteSpec};
use wasmi_backend::WasmiBackend;

fn main() {
    let expectations = concat!(env!("CARGO_MANIFEST_DIR"), "/wasmi-expectations.toml");
    Conformance::new(WasmiBackend)
        .instantiating(WasmiBackend)
        .suites([SuiteSpec::Spec, SuiteSpec::Streaming])
        .plans(PlanSet::Reduced)
        .expectations(expectations)
        .run_as_test_harness()
}
