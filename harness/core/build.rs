// The built-in suites are compiled into the crate (see
// `src/suites/tree.rs`; `suites` links to the repository's top-level
// `suites/`); rebuild when any file under it changes, is added or is
// removed.
fn main() {
    println!("cargo:rerun-if-changed=suites");
}
