//! The reference backend over the spec and streaming suites, one trial per
//! case. `cargo test -p streamconform --test conformance -- FILTER` runs a
//! subset; `STREAMCONFORM_BLESS=1` rewrites `expectations/reference.toml`.

use streamconform::{Conformance, ReferenceBackend};

fn main() {
    let expectations = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../expectations/reference.toml"
    );
    Conformance::new(ReferenceBackend)
        .expectations(expectations)
        .run_as_test_harness()
}
