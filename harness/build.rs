// The built-in suites are compiled into the crate (see
// `src/suites/tree.rs`); rebuild when any file under `suites/` changes,
// is added or is removed.
fn main() {
    println!("cargo:rerun-if-changed=../suites");
}
