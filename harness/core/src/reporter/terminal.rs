//! What a person reads during and after a CLI run: each unexpected result
//! as it happens (with a replay line), then the summary table, then what
//! the run concluded.

use super::releases::{Direction, ReleaseDiff, ReleaseDiffs};
use super::summary::Summary;
use crate::escape;
use crate::runner::{Reporter, RunEvent};
use crate::verdict::Status;
use std::io::{self, Write};

pub struct Terminal<W: Write> {
    out: W,
    summary: Summary,
    releases: ReleaseDiffs,
    /// Unexpected results printed in full; the rest are counted.
    show_failures: usize,
    unexpected_seen: usize,
    backends: usize,
}

impl<W: Write> Terminal<W> {
    pub fn new(out: W, show_failures: usize) -> Terminal<W> {
        Terminal {
            out,
            summary: Summary::default(),
            releases: ReleaseDiffs::default(),
            show_failures,
            unexpected_seen: 0,
            backends: 0,
        }
    }
}

/// Releases listed in full per pair; the Markdown summary and the site
/// list every one.
const RELEASE_CHANGES_SHOWN: usize = 10;

fn write_release_diffs(out: &mut Vec<u8>, diffs: &[ReleaseDiff]) -> io::Result<()> {
    if diffs.is_empty() {
        return Ok(());
    }
    writeln!(out, "between releases (cases whose result differs):")?;
    for diff in diffs {
        writeln!(
            out,
            "  {} ({}) -> {} ({}): {} cases compared, {} regressed, {} fixed, {} changed",
            diff.older.name,
            diff.older.version,
            diff.newer.name,
            diff.newer.version,
            diff.compared,
            diff.count(Direction::Regressed),
            diff.count(Direction::Fixed),
            diff.count(Direction::Changed)
        )?;
        for change in diff.changes.iter().take(RELEASE_CHANGES_SHOWN) {
            writeln!(
                out,
                "    {:<9} {}: {} -> {}",
                change.direction.as_str(),
                change.id,
                change.before.as_str(),
                change.after.as_str()
            )?;
        }
        if diff.changes.len() > RELEASE_CHANGES_SHOWN {
            writeln!(
                out,
                "    ... and {} more (--markdown, --html)",
                diff.changes.len() - RELEASE_CHANGES_SHOWN
            )?;
        }
    }
    Ok(())
}

impl<W: Write> Reporter for Terminal<W> {
    fn report(&mut self, event: &RunEvent<'_>) -> io::Result<()> {
        self.summary.report(event)?;
        self.releases.report(event)?;
        // Case ids are file names and messages quote modules: what is
        // printed is escaped as a whole, so no datum reaches the terminal
        // with its control characters.
        let mut out = Vec::new();
        match event {
            RunEvent::RunStarted(info) => {
                self.backends = info.backends.len();
                let engines: Vec<String> = info
                    .backends
                    .iter()
                    .map(|b| format!("{} {}", b.name, b.version))
                    .collect();
                writeln!(
                    out,
                    "streamconform {}: {} cases x {} backend(s) ({}), plans: {}",
                    info.tool_version,
                    info.cases,
                    self.backends,
                    engines.join(", "),
                    info.plans
                )?;
                for (backend, support) in &info.proposal_support {
                    let switched: Vec<String> = support
                        .switched_on
                        .iter()
                        .map(|(p, s)| format!("{p} ({s})"))
                        .collect();
                    writeln!(
                        out,
                        "  {backend}: with switches: {}; lacks: {}",
                        if switched.is_empty() {
                            "none".into()
                        } else {
                            switched.join(", ")
                        },
                        if support.lacking.is_empty() {
                            "nothing".into()
                        } else {
                            support.lacking.join(", ")
                        },
                    )?;
                }
            }
            RunEvent::InputError(e) => writeln!(out, "input error: {e}")?,
            RunEvent::NotApplicable(_) => {}
            RunEvent::SetupError { message, .. } => writeln!(out, "setup error: {message}")?,
            RunEvent::CaseFinished(done) if done.status.is_unexpected() => {
                self.unexpected_seen += 1;
                if self.unexpected_seen > self.show_failures {
                    return Ok(());
                }
                let what = match done.status {
                    Status::UnexpectedPass => "UNEXPECTED PASS",
                    Status::Invalid => "INVALID CASE",
                    Status::Flaky => "FLAKY",
                    _ => "FAIL",
                };
                writeln!(out, "{what} [{}] {}", done.backend, done.case.id)?;
                if let Some(retried) = done.result.retried {
                    match retried.passed_on {
                        Some(on) => writeln!(
                            out,
                            "    failed, then passed on retry {on} (fresh workers); the first run:"
                        )?,
                        None => writeln!(
                            out,
                            "    failed on {} retries too (fresh workers)",
                            retried.retries
                        )?,
                    }
                }
                if let Some(reason) = &done.expectation {
                    writeln!(out, "    listed as failing: {reason}")?;
                }
                if !done.unsupported.is_empty() {
                    writeln!(
                        out,
                        "    unsupported proposal {}: the backend lacks it even with its switches",
                        done.unsupported.join(", ")
                    )?;
                }
                for p in done.result.failing_plans.iter().take(3) {
                    let oracles: Vec<String> = p.failed.iter().map(|o| o.to_string()).collect();
                    writeln!(
                        out,
                        "    plan {} [{}]: {}",
                        p.plan,
                        oracles.join("+"),
                        p.actual_text()
                    )?;
                }
                if let Some(why) = &done.result.aborted {
                    writeln!(out, "    {why}")?;
                }
                if let Some(repro) = &done.repro {
                    writeln!(out, "    repro: {repro}")?;
                }
                if let (Some(m), Some(repro)) = (&done.result.minimized, &done.minimized_repro) {
                    writeln!(
                        out,
                        "    minimized from {} to {} cuts ({} compiles{}): {repro}",
                        m.from_cut_count,
                        m.cuts.len(),
                        m.attempts,
                        if m.budget_exhausted {
                            ", budget exhausted"
                        } else {
                            ""
                        }
                    )?;
                }
            }
            RunEvent::CaseFinished(_) => {}
            RunEvent::RunFinished(finished) => {
                if self.unexpected_seen > self.show_failures {
                    writeln!(
                        out,
                        "... and {} more unexpected results (see --report)",
                        self.unexpected_seen - self.show_failures
                    )?;
                }
                write!(out, "{}", self.summary.table())?;
                write_release_diffs(&mut out, &self.releases.diffs())?;
                writeln!(
                    out,
                    "{} (case, backend) pairs on {} backend(s) in {:.1}s",
                    finished.cases_run, self.backends, finished.elapsed_secs
                )?;
                for note in &finished.expectations_not_run {
                    writeln!(out, "note: {note}")?;
                }
                for stale in &finished.stale_rules {
                    writeln!(out, "STALE RULE {stale}")?;
                }
                if finished.interrupted {
                    writeln!(
                        out,
                        "interrupted: the results above are those of the cases that finished"
                    )?;
                }
                if finished.cases_run == 0 {
                    writeln!(
                        out,
                        "error: no case ran; a run with nothing to judge is not a pass"
                    )?;
                }
            }
        }
        self.out
            .write_all(escape::terminal_lines(&String::from_utf8_lossy(&out)).as_bytes())?;
        self.out.flush()
    }
}
