//! `streamconform minimize CASE --backend B [--plan NAME | --cuts LIST] [--export DIR]`.
//! Exit codes: 0 minimized, 1 the case does not fail (or the failure does
//! not reproduce), 2 on a usage or input error.

use crate::cli::{load_for_cases, out, parse_suites, replay_here, LimitArgs};
use streamconform::backend::{self, WorkerTiming};
use streamconform::plan::{format_cuts, parse_cuts, PlanName, PlanSet};
use streamconform_engines::reproducer::{self, Reproducer};
use streamconform::runner::minimize::{minimize_with_one_shot, MinimizeOptions, DEFAULT_MAX_ATTEMPTS};
use streamconform::runner::{run_case, PlanSelection};
use streamconform::verdict::{Oracle, Verdict};
use std::path::PathBuf;
use std::time::Duration;

/// Shrink a failing case's plan to a minimal cut list and print its replay
/// command; optionally export a standalone reproducer.
#[derive(clap::Args, Debug)]
pub(super) struct MinimizeArgs {
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

pub(super) fn minimize_command(args: MinimizeArgs) -> anyhow::Result<i32> {
    let suites = parse_suites(&args.suites)?;
    let selection = match (&args.plan, &args.cuts) {
        (Some(name), _) => {
            PlanName::parse(name)?;
            PlanSelection::Named(name.clone())
        }
        (None, Some(cuts)) => PlanSelection::Cuts(parse_cuts(cuts)?),
        (None, None) => PlanSelection::Set(PlanSet::parse(&args.plans)?),
    };
    let timing = WorkerTiming {
        settle: args
            .settle_ms
            .map_or(backend::DEFAULT_SETTLE, Duration::from_millis),
        hang_grace: Duration::from_secs(args.hang_timeout),
    };
    let backend = streamconform_engines::by_name_with(&args.backend, timing)?;
    // Truncated prefixes are cases too (their ids end in `/truncated@N`).
    let loaded = load_for_cases(
        &suites,
        true,
        &args.limits.limits(),
        std::slice::from_ref(&args.case),
    );
    let Some(case) = loaded.cases.into_iter().find(|c| c.id == args.case) else {
        let errors = loaded
            .errors
            .iter()
            .map(|e| format!("\n  input error: {e}"))
            .collect::<String>();
        anyhow::bail!(
            "no case has the id {:?} in suites {:?} (`streamconform list --suite ...` lists them){errors}",
            args.case,
            args.suites
        );
    };
    if args.export.is_some() && case.scenario.is_some() {
        // Refused before minimizing, not after (see `reproducer::export`).
        anyhow::bail!(
            "{}: Web API cases (scenarios) cannot be exported yet, only byte-level cases",
            case.id
        );
    }
    let name = backend.info().name;
    if let Err(message) = backend.engine.ready() {
        anyhow::bail!("backend {name} is unavailable: {message}");
    }
    let result = run_case(&backend, &case, &selection);
    if let Some(why) = &result.aborted {
        if result.verdict != Verdict::Invalid {
            anyhow::bail!("{}: {why}", case.id);
        }
    }
    let first = match (result.verdict, result.failing_plans.first()) {
        (Verdict::Fail, Some(first)) => first,
        _ => {
            out(format_args!(
                "{} does not fail on {name} under {}: {}; nothing to minimize",
                case.id,
                selection.argument(),
                result.failure_summary()
            ))?;
            return Ok(1);
        }
    };
    let oracles = |failed: &[Oracle]| {
        failed
            .iter()
            .map(Oracle::to_string)
            .collect::<Vec<_>>()
            .join("+")
    };
    out(format_args!(
        "{} on {name}: expected {}, one-shot {}; plan {} ({} cuts) fails {}: {}",
        case.id,
        case.expected(),
        result
            .one_shot
            .as_ref()
            .map_or("-".into(), |o| o.class().to_string()),
        first.plan,
        first.cuts.len(),
        oracles(&first.failed),
        first.actual
    ))?;
    let options = MinimizeOptions {
        max_attempts: args.max_attempts,
    };
    let minimized =
        match minimize_with_one_shot(&backend, &case, first, result.one_shot.as_ref(), &options) {
            Ok(m) => m,
            Err(e) => {
                out(format_args!("{e}"))?;
                return Ok(1);
            }
        };
    let replay = replay_here(
        args.settle_ms,
        args.hang_timeout,
        args.limits.replay_options(),
    )
    .run_line(
        &name,
        &case,
        &PlanSelection::Cuts(minimized.cuts.clone()).argument(),
    );
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
                case: &case,
                // Versions of JS engines already start with the name.
                backend: match backend.info().version {
                    v if v.starts_with(&name) => v,
                    v => format!("{name} {v}"),
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
