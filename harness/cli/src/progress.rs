//! Progress bars for long runs on a terminal: one per backend (cases
//! done of the run's cases, rate, ETA), drawn on stderr by `indicatif`
//! and cleared when the run finishes, before the summary is printed.
//!
//! Whether to show them at all is [`should_show`]: only on a terminal,
//! never with `NO_COLOR` or `run --quiet`. Lines the terminal reporter
//! prints meanwhile go through [`AroundBars`], which lifts the bars off
//! the screen while they are written, so the two never mix.

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::io::{self, Write};
use streamconform::runner::{Reporter, RunEvent};

/// What decides whether the bars are drawn.
#[derive(Clone, Copy, Debug, Default)]
pub struct Surroundings {
    /// `run --quiet`.
    pub quiet: bool,
    /// `NO_COLOR` is set, to any value (even empty): the user asked for
    /// plain output, and a redrawn bar is the opposite of that.
    pub no_color: bool,
    pub stdout_is_terminal: bool,
    pub stderr_is_terminal: bool,
}

impl Surroundings {
    /// This process's.
    pub fn current(quiet: bool) -> Surroundings {
        use std::io::IsTerminal;
        Surroundings {
            quiet,
            no_color: std::env::var_os("NO_COLOR").is_some(),
            stdout_is_terminal: io::stdout().is_terminal(),
            stderr_is_terminal: io::stderr().is_terminal(),
        }
    }
}

/// Bars only for a person watching a terminal: not when either stream
/// goes to a file, pipe or CI log, not with `NO_COLOR`, not with `--quiet`.
pub fn should_show(s: Surroundings) -> bool {
    !s.quiet && !s.no_color && s.stdout_is_terminal && s.stderr_is_terminal
}

/// The bars, as a reporter.
pub struct Progress {
    bars: MultiProgress,
    /// Per backend, in run order.
    per_backend: Vec<(String, ProgressBar)>,
}

impl Progress {
    /// Bars on stderr.
    pub fn new() -> Progress {
        Progress::with_bars(MultiProgress::new())
    }

    /// Bars drawn wherever `bars` draws (tests: hidden).
    pub fn with_bars(bars: MultiProgress) -> Progress {
        Progress {
            bars,
            per_backend: Vec::new(),
        }
    }

    /// Per backend: cases done, of how many, and whether its bar is done.
    #[cfg(test)]
    pub(crate) fn state(&self) -> Vec<(String, u64, Option<u64>, bool)> {
        self.per_backend
            .iter()
            .map(|(name, bar)| {
                (
                    name.clone(),
                    bar.position(),
                    bar.length(),
                    bar.is_finished(),
                )
            })
            .collect()
    }

    /// A handle for [`AroundBars`].
    pub fn bars(&self) -> MultiProgress {
        self.bars.clone()
    }

    fn bar(&self, backend: &str) -> Option<&ProgressBar> {
        self.per_backend
            .iter()
            .find(|(name, _)| name == backend)
            .map(|(_, bar)| bar)
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

impl Reporter for Progress {
    fn report(&mut self, event: &RunEvent<'_>) -> io::Result<()> {
        match event {
            RunEvent::RunStarted(info) => {
                let style = ProgressStyle::with_template(
                    "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} cases, {rate}, eta {eta} {msg}",
                )
                .map_err(io::Error::other)?
                // Whole cases per second: `{per_sec}` shows four decimals.
                .with_key(
                    "rate",
                    |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.0}/s", state.per_sec());
                    },
                )
                .progress_chars("=> ");
                let width = info.backends.iter().map(|b| b.name.len()).max();
                for backend in &info.backends {
                    let bar = self.bars.add(ProgressBar::new(info.cases as u64));
                    bar.set_style(style.clone());
                    bar.set_prefix(format!(
                        "{:>1$}",
                        streamconform::escape::terminal(&backend.name),
                        width.unwrap_or(0)
                    ));
                    self.per_backend.push((backend.name.clone(), bar));
                }
            }
            RunEvent::CaseFinished(done) => {
                if let Some(bar) = self.bar(done.backend) {
                    bar.inc(1);
                }
            }
            RunEvent::SetupError { backend, .. } => {
                if let Some(bar) = self.bar(backend) {
                    bar.abandon_with_message("unavailable");
                }
            }
            RunEvent::RunFinished(_) => {
                // Gone before the summary is printed below where they were.
                for (_, bar) in &self.per_backend {
                    bar.finish_and_clear();
                }
                self.bars.clear()?;
            }
            RunEvent::InputError(_) | RunEvent::NotApplicable(_) => {}
        }
        Ok(())
    }
}

/// A writer for what is printed while bars may be drawn: it keeps what is
/// written until flushed, then writes it with the bars lifted off the
/// screen (and redrawn after). Without bars it passes writes straight on.
pub struct AroundBars<W: Write> {
    inner: W,
    bars: Option<MultiProgress>,
    pending: Vec<u8>,
}

impl<W: Write> AroundBars<W> {
    pub fn new(inner: W, bars: Option<MultiProgress>) -> AroundBars<W> {
        AroundBars {
            inner,
            bars,
            pending: Vec::new(),
        }
    }
}

impl<W: Write> Write for AroundBars<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &self.bars {
            Some(_) => {
                self.pending.extend_from_slice(buf);
                Ok(buf.len())
            }
            None => self.inner.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        let AroundBars {
            inner,
            bars,
            pending,
        } = self;
        let lift = bars.as_ref().filter(|_| !pending.is_empty());
        let mut write_out = || -> io::Result<()> {
            inner.write_all(pending)?;
            pending.clear();
            inner.flush()
        };
        match lift {
            Some(bars) => bars.suspend(write_out),
            None => write_out(),
        }
    }
}

impl<W: Write> Drop for AroundBars<W> {
    fn drop(&mut self) {
        // What was written but never flushed is not lost.
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_only_for_a_person_at_a_terminal() {
        let tty = Surroundings {
            quiet: false,
            no_color: false,
            stdout_is_terminal: true,
            stderr_is_terminal: true,
        };
        assert!(should_show(tty));
        for (why, s) in [
            ("--quiet", Surroundings { quiet: true, ..tty }),
            (
                "NO_COLOR",
                Surroundings {
                    no_color: true,
                    ..tty
                },
            ),
            (
                "stdout redirected",
                Surroundings {
                    stdout_is_terminal: false,
                    ..tty
                },
            ),
            (
                "stderr redirected",
                Surroundings {
                    stderr_is_terminal: false,
                    ..tty
                },
            ),
        ] {
            assert!(!should_show(s), "{why}");
        }
    }

    #[test]
    fn text_written_around_bars_arrives_whole_and_in_order() {
        let bars = MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden());
        let bar = bars.add(ProgressBar::new(3));
        let mut out = AroundBars::new(Vec::new(), Some(bars.clone()));
        write!(out, "FAIL [reference] ").unwrap();
        bar.inc(1);
        writeln!(out, "a.wast:1").unwrap();
        out.flush().unwrap();
        writeln!(out, "summary").unwrap();
        out.flush().unwrap();
        assert_eq!(
            String::from_utf8(std::mem::take(&mut out.inner)).unwrap(),
            "FAIL [reference] a.wast:1\nsummary\n"
        );
    }

    #[test]
    fn progress_counts_each_backends_cases_and_ends_with_the_run() {
        use streamconform::backend::fault_injection::FaultInjectingBackend;
        use streamconform::backend::BackendUnderTest;
        use streamconform::runner::{PlanSelection, Run, RunConfig};
        use streamconform::suites::{load_all, Limits};
        use streamconform::{PlanSet, ReferenceBackend, SuiteSpec};
        let loaded = load_all(&[SuiteSpec::Streaming], false, &Limits::default());
        let cases: Vec<_> = loaded.cases.into_iter().take(3).collect();
        assert_eq!(cases.len(), 3);
        let mut run = Run::new(
            cases.clone(),
            vec![
                BackendUnderTest::bytes_only(ReferenceBackend),
                BackendUnderTest::bytes_only(FaultInjectingBackend),
            ],
            RunConfig {
                plans: PlanSelection::Set(PlanSet::Whole),
                jobs: Some(1),
                ..RunConfig::default()
            },
        );
        // One result replayed from a journal counts like one run.
        let replayed = streamconform::verdict::CaseResult::aborted(&cases[1], "journaled".into());
        run.earlier.insert(
            "fault-injecting",
            replayed,
            std::time::Duration::from_millis(3),
        );
        let hidden = MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden());
        let mut progress = Progress::with_bars(hidden);
        run.execute(&mut [&mut progress]).unwrap();
        let done = |name: &str| (name.to_string(), 3, Some(3), true);
        assert_eq!(
            progress.state(),
            [done("reference"), done("fault-injecting")]
        );
    }
}
