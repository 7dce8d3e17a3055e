//! The reference backend over the spec, streaming and Web API suites, one
//! trial per case. On `webapi` this checks that the executable model of the
//! algorithm agrees with every declared expectation, under every plan.
//!
//! `cargo test -p streamconform --test conformance -- FILTER` runs a subset;
//! `STREAMCONFORM_BLESS=1` rewrites `expectations/reference.toml`.

use streamconform::{Conformance, ReferenceBackend, SuiteSpec};

fn main() {
    let expectations = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../expectations/reference.toml"
    );
    // With its Web API capability: the `webapi` cases run on the model.
    Conformance::with_web_api(ReferenceBackend)
        .suites([SuiteSpec::Spec, SuiteSpec::Streaming, SuiteSpec::WebApi])
        .expectations(expectations)
        .run_as_test_harness()
}
