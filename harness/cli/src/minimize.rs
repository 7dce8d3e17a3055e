//! `streamconform minimize CASE --backend B [--plan NAME | --cuts LIST] [--export DIR]`.
//! Exit codes: 0 minimized, 1 the case does not fail (or the failure does
//! not reproduce), 2 on a usage or input error.

use crate::args::{plan_choice, LimitArgs};
use crate::terminal::out;
use std::path::PathBuf;
use streamconform::plan::format_cuts;
use streamconform::runner::minimize::DEFAULT_MAX_ATTEMPTS;
use streamconform::session::minimize::{minimize_case, MinimizeSpec};
use streamconform::verdict::Oracle;
use streamconform_engines::reproducer::{self, Reproducer};
use streamconform_engines::NamedBackends;

/// Shrink a failing case's plan to a minimal cut list and print its replay
/// command; optionally export a standalone reproducer.
#[derive(clap::Args, Debug)]
pub struct MinimizeArgs {
    /// The case id, as `run` prints it (e.g. `spec/wasm-latest/binary.wast:123`).
    case: String,
    /// The backend the case fails on.
    #[arg(long, default_value = "reference")]
    backend: String,
    /// The suites the case is in (repeatable), as for `run`.
    #[arg(long = "suite", default_value = "spec")]
    suites: Vec<String>,
    /// Start from this failing plan, by name [default: the first failing
    /// plan of --plans].
    #[arg(long, conflicts_with = "cuts")]
    plan: Option<String>,
    /// Start from this failing cut list, e.g. `1..400,512`.
    #[arg(long)]
    cuts: Option<String>,
    /// The plan set searched for a failing plan when neither --plan nor
    /// --cuts is given.
    #[arg(long, default_value = "default")]
    plans: String,
    /// The most compiles minimization may spend.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_ATTEMPTS)]
    max_attempts: usize,
    /// Write a standalone reproducer here: the .wasm, a .mjs for
    /// node/deno/bun, a .html for browsers and a README.txt.
    #[arg(long, value_name = "DIR")]
    export: Option<PathBuf>,
    /// Milliseconds a JS compile may stay unsettled before it counts as pending.
    #[arg(long)]
    settle_ms: Option<u64>,
    /// Seconds a worker may stay silent on a request beyond the pending
    /// window before it is killed as hung.
    #[arg(long, default_value_t = streamconform::backend::DEFAULT_HANG_GRACE.as_secs())]
    hang_timeout: u64,
    #[command(flatten)]
    limits: LimitArgs,
}

impl MinimizeArgs {
    fn spec(&self) -> MinimizeSpec {
        MinimizeSpec {
            case: self.case.clone(),
            backend: self.backend.clone(),
            suites: self.suites.clone(),
            plans: plan_choice(&self.plans, &self.plan, &self.cuts),
            max_attempts: self.max_attempts,
            settle_ms: self.settle_ms,
            hang_timeout_secs: self.hang_timeout,
            limits: self.limits.limits(),
        }
    }
}

fn oracles(failed: &[Oracle]) -> String {
    failed
        .iter()
        .map(Oracle::to_string)
        .collect::<Vec<_>>()
        .join("+")
}

pub fn minimize_command(args: MinimizeArgs) -> anyhow::Result<i32> {
    let exporting = args.export.is_some();
    // Refused before minimizing, not after (see `reproducer::export`).
    let refuse = |case: &streamconform::case::Case| {
        (exporting && case.scenario.is_some()).then(|| {
            format!(
                "{}: Web API cases (scenarios) cannot be exported yet, only byte-level cases",
                case.id
            )
        })
    };
    let session = minimize_case(&args.spec(), &NamedBackends, refuse)?;
    let (name, version) = &session.backend;
    let case = &session.case;
    let Some((first, minimized)) = &session.failure else {
        out(format_args!(
            "{} does not fail on {name} under {}: {}; nothing to minimize",
            case.id,
            session.plans,
            session.result.failure_summary()
        ))?;
        return Ok(1);
    };
    out(format_args!(
        "{} on {name}: expected {}, one-shot {}; plan {} ({} cuts) fails {}: {}",
        case.id,
        case.expected(),
        session.one_shot(),
        first.plan,
        first.cuts.len(),
        oracles(&first.failed),
        first.actual
    ))?;
    let minimized = match minimized {
        Ok(m) => m,
        Err(e) => {
            out(format_args!("{e}"))?;
            return Ok(1);
        }
    };
    let replay = session.replay_line(minimized);
    out(format_args!(
        "minimized to {} cuts in {} compiles{}: {}",
        minimized.cuts.len(),
        minimized.attempts,
        if minimized.budget_exhausted {
            " (the budget ran out: smaller, but maybe not minimal)"
        } else {
            ""
        },
        if minimized.cuts.is_empty() {
            "none (the failure does not depend on chunking)".to_string()
        } else {
            format_cuts(&minimized.cuts)
        }
    ))?;
    out(format_args!(
        "outcome: {}, failing {}",
        minimized.actual,
        oracles(&minimized.failed)
    ))?;
    out(format_args!("replay: {replay}"))?;
    if let Some(dir) = &args.export {
        let exported = reproducer::export(
            dir,
            &Reproducer {
                case,
                // Versions of JS engines already start with the name.
                backend: if version.starts_with(name.as_str()) {
                    version.clone()
                } else {
                    format!("{name} {version}")
                },
                cuts: minimized.cuts.clone(),
                actual: minimized.actual.clone(),
                failed: minimized.failed.clone(),
                replay,
            },
        )?;
        for path in [
            &exported.wasm,
            &exported.mjs,
            &exported.html,
            &exported.readme,
        ] {
            out(format_args!("wrote {}", path.display()))?;
        }
    }
    Ok(0)
}
