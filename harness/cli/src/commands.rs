//! The small subcommands: `list`, `plans`, `backends`.

use crate::args::Format;
use crate::terminal::{err, out};
use std::path::Path;
use streamconform::escape;
use streamconform::plan::PlanSet;
use streamconform::session::select;
use streamconform::suites::tree::{read_regular_file, ReadBounds};
use streamconform::suites::{load_all, Limits, SuiteSpec, DEFAULT_MAX_MODULE_BYTES};

pub fn print_plans(file: &Path, set: &str, format: Format) -> anyhow::Result<i32> {
    let set = PlanSet::parse(set)?;
    // Like a suite's module file: a regular file, read no further than the
    // module limit.
    let bounds = ReadBounds {
        max_bytes: DEFAULT_MAX_MODULE_BYTES,
        limit_name: "the module limit",
        outside_root: true,
    };
    let bytes = read_regular_file(file, bounds)?;
    let plans = set.plans(&bytes);
    match format {
        Format::Json => out(format_args!("{}", serde_json::to_string(&plans)?))?,
        Format::Text => {
            for plan in plans {
                out(format_args!(
                    "{}\t{}",
                    plan.name,
                    streamconform::plan::format_cuts(&plan.cuts)
                ))?;
            }
        }
    }
    Ok(0)
}

pub fn list_backends() -> anyhow::Result<i32> {
    for name in streamconform_engines::BACKEND_NAMES {
        match streamconform_engines::by_name(name) {
            Ok(b) => out(format_args!("{:<12} {}", name, b.info().version))?,
            Err(e) => out(format_args!("{:<12} unavailable: {e}", name))?,
        }
    }
    // Not started (that would install each): what `--backend SPEC` runs.
    for pinned in streamconform_engines::releases::pinned() {
        out(format_args!(
            "{:<12} pinned: {} {} (engines/versions.lock; installed on first use)",
            pinned.spec, pinned.package, pinned.release
        ))?;
    }
    Ok(0)
}

pub fn list(
    suites: &[String],
    filter: Option<&str>,
    truncation: bool,
    limits: &Limits,
) -> anyhow::Result<i32> {
    let suites = SuiteSpec::parse_all(suites)?;
    let loaded = load_all(&suites, truncation, limits);
    for case in select(loaded.cases, filter, &[]) {
        // A tab in an id is shown escaped: the tab here separates columns.
        out(format_args!(
            "{}\t{}",
            escape::terminal(&case.id),
            case.expected()
        ))?;
    }
    for e in &loaded.errors {
        err(format_args!("error: {e}"));
    }
    Ok(if loaded.errors.is_empty() { 0 } else { 2 })
}
