//! `streamconform minimize CASE --backend B [--plan NAME] [--export DIR]`.

/// Shrink a failing case's plan to a minimal cut list and print its replay
/// command; optionally export a standalone reproducer.
#[derive(clap::Args, Debug)]
pub(super) struct MinimizeArgs {}

pub(super) fn minimize_command(args: MinimizeArgs) -> anyhow::Result<i32> {
    let _ = args;
    anyhow::bail!("minimize: not built yet")
}
