//! What a person sees: lines on stdout, progress bars and the summary on
//! a terminal, and an interrupt that ends a run gracefully.

use crate::progress::{self, AroundBars, Progress};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use streamconform::escape;
use streamconform::reporter::terminal::Terminal;
use streamconform::runner::Reporter;

/// Writes a line to stdout, returning the error (println! panics on a
/// closed pipe). Control characters in it (from case ids, which are file
/// names, and engine messages) are shown escaped.
pub fn out(line: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    use std::io::Write;
    let line = line.to_string();
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(escape::terminal_lines(&line).as_bytes())?;
    stdout.write_all(b"\n")
}

/// Writes a line to stderr, control characters shown escaped.
pub fn err(line: std::fmt::Arguments<'_>) {
    eprintln!("{}", escape::terminal_lines(&line.to_string()));
}

/// A flag the first SIGINT sets: the run starts no more cases, finishes and
/// reports the started ones, and exits 130. A second SIGINT exits at once.
pub fn stop_on_interrupt() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let installed = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("interrupted: finishing the cases already started (interrupt again to quit now)");
    });
    if let Err(e) = installed {
        eprintln!("warning: no SIGINT handler ({e}); an interrupt ends the run without a report");
    }
    stop
}

/// Progress bars (on a terminal, unless quiet) and the summary with each
/// unexpected result.
pub struct TerminalOutput {
    progress: Option<Progress>,
    terminal: Terminal<AroundBars<std::io::StdoutLock<'static>>>,
}

impl TerminalOutput {
    pub fn new(quiet: bool, show_failures: usize) -> TerminalOutput {
        let progress =
            progress::should_show(progress::Surroundings::current(quiet)).then(Progress::new);
        let terminal = Terminal::new(
            AroundBars::new(
                std::io::stdout().lock(),
                progress.as_ref().map(Progress::bars),
            ),
            show_failures,
        );
        TerminalOutput { progress, terminal }
    }

    /// Both as a run's consumers, the bars first: they are cleared before
    /// the summary prints.
    pub fn consumers(&mut self) -> Vec<&mut dyn Reporter> {
        let mut consumers: Vec<&mut dyn Reporter> = Vec::new();
        if let Some(progress) = self.progress.as_mut() {
            consumers.push(progress);
        }
        consumers.push(&mut self.terminal);
        consumers
    }
}
