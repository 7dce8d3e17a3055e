//! `streamconform fuzz --backend ... --seed S --count N`.

/// Generate modules from a seed, run them on the backends, and report (and
/// save, minimized) every disagreement with the reference and every
/// invariance failure.
#[derive(clap::Args, Debug)]
pub(super) struct FuzzArgs {}

pub(super) fn fuzz_command(args: FuzzArgs) -> anyhow::Result<i32> {
    let _ = args;
    anyhow::bail!("fuzz: not built yet")
}
