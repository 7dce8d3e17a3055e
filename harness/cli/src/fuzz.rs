//! `streamconform fuzz --backend ... --seed S --count N`.

use crate::terminal::{out, stop_on_interrupt, TerminalOutput};
use std::path::PathBuf;
use std::time::Duration;
use streamconform::fuzz::{fuzz, FuzzOptions, FuzzReport};
use streamconform::plan::PlanSet;
use streamconform::runner::Replay;
use streamconform::session::{self, outcome_options, BackendRegistry};
use streamconform::suites::Limits;
use streamconform_engines::NamedBackends;

/// Generate modules from a seed, run them on the backends, and report (and
/// save, minimized) every disagreement with the reference and every
/// invariance failure.
#[derive(clap::Args, Debug)]
pub struct FuzzArgs {
    /// Backend to run (repeatable).
    #[arg(long = "backend", default_value = "reference")]
    backends: Vec<String>,
    /// The seed: module I of seed S is the case `fuzz:S/I`, the same bytes
    /// in every run.
    #[arg(long)]
    seed: u64,
    /// How many modules to generate (indices 0 to N-1).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    count: u64,
    /// Leave this proposal out of the generated modules, beyond those a
    /// backend lacks (repeatable), e.g. one a backend has only as an
    /// older experimental draft.
    #[arg(long, value_name = "PROPOSAL")]
    without: Vec<String>,
    /// Plan set each module runs under.
    #[arg(long, default_value = "default")]
    plans: String,
    /// Where each finding is written (a JSON file and the .wasm).
    #[arg(long, value_name = "DIR", default_value = "fuzz-findings")]
    findings: PathBuf,
    /// Do not shrink findings' failing plans.
    #[arg(long)]
    no_minimize: bool,
    /// Worker threads per backend [default: what the backend prefers, else one per core].
    #[arg(long)]
    jobs: Option<usize>,
    /// Seconds one case may take before it is recorded as a timeout.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Milliseconds a JS compile may stay unsettled before it counts as pending.
    #[arg(long)]
    settle_ms: Option<u64>,
    /// Seconds a worker may stay silent on a request it has taken, beyond
    /// the pending window, before it is killed as hung.
    #[arg(long, default_value_t = streamconform::backend::DEFAULT_HANG_GRACE.as_secs())]
    hang_timeout: u64,
    /// How many failing cases to print in detail while running.
    #[arg(long, default_value_t = 30)]
    show_failures: usize,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

pub fn fuzz_command(args: FuzzArgs) -> anyhow::Result<i32> {
    let stop = stop_on_interrupt();
    let plans = PlanSet::parse(&args.plans)?;
    let mut bounds = session::clock_bounds(args.hang_timeout, Some(args.timeout));
    bounds.extend(session::jobs_bound(args.jobs));
    session::check_bounds(&bounds)?;
    session::check_backends_distinct(&args.backends)?;
    let timing = streamconform::session::timing(args.settle_ms, args.hang_timeout)?;
    let backends = NamedBackends.backends(&args.backends, timing)?;
    let options = FuzzOptions {
        seed: args.seed,
        count: args.count,
        plans,
        jobs: args.jobs,
        case_timeout: Duration::from_secs(args.timeout),
        minimize: !args.no_minimize,
        without: args.without.clone(),
        findings_dir: Some(args.findings.clone()),
        replay: Replay::here(outcome_options(
            args.settle_ms,
            args.hang_timeout,
            &Limits::default(),
        )),
        stop,
    };
    let mut terminal = TerminalOutput::new(args.quiet, args.show_failures);
    let report = fuzz(backends, &options, &mut terminal.consumers())?;
    drop(terminal);
    print_report(&report, &args)?;
    Ok(report.exit_code())
}

/// What the fuzz run found, for a person.
fn print_report(report: &FuzzReport, args: &FuzzArgs) -> std::io::Result<()> {
    out(format_args!(
        "fuzz {}: {} modules generated ({} valid, {} invalid; {} mutated)",
        report.suite.argument(),
        report.generated,
        report.valid,
        report.invalid,
        report.mutated
    ))?;
    if !report.suite.without.is_empty() {
        let left_out: Vec<&str> = report.suite.without.iter().map(String::as_str).collect();
        out(format_args!(
            "  proposals left out (a backend lacks them): {}",
            left_out.join(", ")
        ))?;
    }
    let by_kind = report.findings_by_backend_and_kind();
    for (backend, cases) in &report.cases_per_backend {
        let of_backend: Vec<(&str, usize)> = by_kind
            .iter()
            .filter(|((b, _), _)| b == backend)
            .map(|((_, kind), n)| (kind.as_str(), *n))
            .collect();
        let kinds: Vec<String> = of_backend
            .iter()
            .map(|(kind, n)| format!("{n} {kind}"))
            .collect();
        out(format_args!(
            "  {backend}: {cases} cases run, {} findings{}",
            of_backend.iter().map(|(_, n)| n).sum::<usize>(),
            if kinds.is_empty() {
                String::new()
            } else {
                format!(" ({})", kinds.join(", "))
            }
        ))?;
    }
    for finding in &report.findings {
        out(format_args!(
            "FINDING {} on {}: {} (expected {}, one-shot {}, streamed {}){}{}\n  replay: {}",
            finding.case,
            finding.backend,
            finding.kind,
            finding.expected,
            finding
                .one_shot
                .as_ref()
                .map_or("-".into(), |o| o.class().to_string()),
            finding
                .actual
                .as_ref()
                .map_or("-".into(), |o| o.class().to_string()),
            match (&finding.minimized, &finding.minimize_error) {
                (Some(m), _) => format!(", minimized to {} cuts", m.cuts.len()),
                (None, Some(e)) => format!(", not minimized: {e}"),
                (None, None) => String::new(),
            },
            if finding.switched_proposals_used.is_empty() {
                String::new()
            } else {
                format!(
                    "; uses {}, which {} has only behind a switch",
                    finding.switched_proposals_used.join(", "),
                    finding.backend
                )
            },
            finding.replay
        ))?;
    }
    if !report.written.is_empty() {
        out(format_args!(
            "findings written to {} ({} files)",
            args.findings.display(),
            report.written.len()
        ))?;
    }
    out(format_args!(
        "{} findings in {:.1}s",
        report.findings.len(),
        report.elapsed.as_secs_f64()
    ))
}
