//! Helpers shared by the tests that drive the `streamconform` binary.

use std::path::Path;
use std::process::{Command, Output};

/// Runs the binary in `dir`, outside CI (so `--bless` is allowed).
pub fn streamconform(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_streamconform"))
        .args(args)
        .current_dir(dir)
        .env_remove("CI")
        .output()
        .expect("run streamconform")
}

/// stdout then stderr, for assertions and failure messages.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
