// The streaming suite is compiled into the crate (see `suites/directory.rs`);
// rebuild when its files change.
fn main() {
    println!("cargo:rerun-if-changed=../suites/streaming");
}
