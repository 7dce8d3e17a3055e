//! `streamconform run`: arguments to a session, the terminal's consumers,
//! the published outputs, an exit code.

use crate::args::{RunArgs, RESUME_MAY_OVERRIDE};
use crate::report::publish_report;
use crate::terminal::{err, out, stop_on_interrupt, TerminalOutput};
use streamconform::session::{ResumeOverrides, Session};
use streamconform_engines::NamedBackends;

pub fn run(args: RunArgs, given: &[String]) -> anyhow::Result<i32> {
    // First, so an interrupt while loading is handled like one mid-run.
    let stop = stop_on_interrupt();
    let session = match &args.resume {
        Some(journal) => {
            let overrides = resume_overrides(&args, given)?;
            let session = Session::resume(journal, overrides, &NamedBackends, stop)?;
            if let Some((path, replayed)) = session.resumed() {
                out(format_args!(
                    "resuming {}: {replayed} results replayed, the rest runs",
                    path.display()
                ))?;
            }
            session
        }
        None => Session::prepare(args.spec(), &NamedBackends, stop)?,
    };
    let spec = session.spec().clone();
    let mut terminal = TerminalOutput::new(spec.quiet, spec.show_failures);
    let end = session.execute(&mut terminal.consumers())?;
    drop(terminal);
    if let Some(path) = &end.report {
        out(format_args!("report: {}", path.display()))?;
    }
    // Made from the report as written, as `report FILE` would make them.
    let published = match &end.report {
        Some(path) if !end.finished.interrupted && spec.publish.any() => {
            publish_report(&streamconform_publish::load(path)?, &spec.publish)?
        }
        _ => 0,
    };
    if let Some(command) = &end.resume_command {
        out(format_args!("resume: {command}"))?;
    }
    for line in &end.blessed {
        err(format_args!("{line}"));
    }
    Ok(match end.exit_code() {
        0 => published,
        code => code,
    })
}

/// What `--resume` takes from the command line: only options that change
/// neither which cases run nor how they come out.
fn resume_overrides(args: &RunArgs, given: &[String]) -> anyhow::Result<ResumeOverrides> {
    let others: Vec<String> = given
        .iter()
        .filter(|o| *o != "resume" && !RESUME_MAY_OVERRIDE.contains(&o.as_str()))
        .map(|o| format!("--{o}"))
        .collect();
    if !others.is_empty() {
        anyhow::bail!(
            "--resume runs with the options its journal recorded; only --{} and --{} may go with it, not {}",
            RESUME_MAY_OVERRIDE[..RESUME_MAY_OVERRIDE.len() - 1].join(", --"),
            RESUME_MAY_OVERRIDE[RESUME_MAY_OVERRIDE.len() - 1],
            others.join(", ")
        );
    }
    let has = |name: &str| given.iter().any(|o| o == name);
    Ok(ResumeOverrides {
        jobs: has("jobs").then_some(args.jobs),
        backends_at_once: has("backends-at-once").then_some(args.backends_at_once),
        show_failures: has("show-failures").then_some(args.show_failures),
        quiet: has("quiet").then_some(args.quiet),
        // Not among RESUME_MAY_OVERRIDE: a resumed run never blesses.
        bless: false,
    })
}
