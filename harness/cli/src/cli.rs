//! The `streamconform` command line. Exit codes: 0 when nothing is
//! unexpected, 1 when something is, 2 on a usage or input error.

use streamconform::backend::{self, BackendUnderTest};
use streamconform::case::Case;
use streamconform::error::Error;
use streamconform::expectations::{refuse_bless_in_ci, Expectations};
use streamconform::journal::{self, Journal, JournalWriter};
use streamconform::plan::{parse_cuts, PlanName, PlanSet};
use streamconform::reporter::bless::Bless;
use streamconform::reporter::json::{JsonReport, Report};
use crate::progress::{self, AroundBars, Progress};
use streamconform::reporter::terminal::Terminal;
use streamconform::reporter::ToFile;
use streamconform::runner::{
    shell_quote, PlanSelection, Replay, Reporter, Run, RunConfig, Shard, ShardRun,
};
use streamconform::suites::truncation::DEFAULT_MAX_TRUNCATIONS_PER_MODULE;
use streamconform::suites::{
    file_of_case_id, load_all, load_all_matching, Limits, LoadedSuite, SuiteSpec,
    DEFAULT_MAX_MODULE_BYTES,
};
use anyhow::Context as _;
use streamconform_publish as publish;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::{fuzz, minimize};
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "streamconform",
    version,
    about = "Conformance harness for WebAssembly streaming compilation"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run suites on backends and judge every case under every plan.
    Run(RunArgs),
    /// Print the chunk plans of a set for one .wasm file.
    Plans {
        file: PathBuf,
        #[arg(long, default_value = "default")]
        plans: String,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// List case ids with their expected outcome.
    List {
        #[arg(long = "suite", default_value = "spec")]
        suites: Vec<String>,
        #[arg(long)]
        filter: Option<String>,
        #[arg(long)]
        no_truncation: bool,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// List the available backends with their versions.
    Backends,
    /// Make JUnit XML, wptreport JSON, a Markdown summary and an HTML site
    /// from a saved JSON report, keeping history; or merge shard reports.
    Report(ReportArgs),
    /// Shrink a failing case's plan to the fewest cuts that still fail, and
    /// optionally export a standalone reproducer.
    Minimize(minimize::MinimizeArgs),
    /// Differential fuzzing: generated modules on every backend, judged
    /// against the reference's one-shot validation and for invariance.
    Fuzz(fuzz::FuzzArgs),
}

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
struct ReportArgs {
    #[command(subcommand)]
    command: Option<ReportCommand>,
    /// A JSON report written by `run --report`.
    file: Option<PathBuf>,
    #[command(flatten)]
    publish: PublishArgs,
}

#[derive(Subcommand, Debug)]
enum ReportCommand {
    /// Join the reports of one run's shards (`run --shard K/N`) into one,
    /// refusing reports of different runs.
    Merge {
        #[arg(required = true, num_args = 2..)]
        files: Vec<PathBuf>,
        /// Where to write the merged JSON report.
        #[arg(long, short)]
        output: PathBuf,
    },
}

/// What to make from a report (`run` and `report` share them).
#[derive(clap::Args, Debug, Clone, Default)]
struct PublishArgs {
    /// Write JUnit XML here: a testsuite per (backend, suite), a testcase per case.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write a wptreport JSON (the format wpt.fyi ingests) here.
    #[arg(long, value_name = "FILE")]
    wptreport: Option<PathBuf>,
    /// Write a Markdown summary, short enough for a pull-request comment.
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
    /// Write a self-contained HTML site into this directory.
    #[arg(long, value_name = "DIR")]
    html: Option<PathBuf>,
    /// Keep the report in this history directory (by date and commit); the
    /// site and the Markdown then show pass rates over time and what
    /// changed since the night before.
    #[arg(long, value_name = "DIR")]
    history: Option<PathBuf>,
    /// Exit 1 when a case regressed since the previous night (needs --history).
    #[arg(long, requires = "history")]
    fail_on_regression: bool,
}

impl PublishArgs {
    fn outputs(&self) -> Option<publish::Outputs> {
        let outputs = publish::Outputs {
            junit: self.junit.clone(),
            wptreport: self.wptreport.clone(),
            markdown: self.markdown.clone(),
            html: self.html.clone(),
            history: self.history.clone(),
        };
        let any = [
            &outputs.junit,
            &outputs.wptreport,
            &outputs.markdown,
            &outputs.html,
            &outputs.history,
        ]
        .iter()
        .any(|o| o.is_some());
        any.then_some(outputs)
    }

    /// The command-line arguments that ask for the same outputs.
    fn to_args(&self, option: &mut impl FnMut(&str, String)) {
        let PublishArgs {
            junit,
            wptreport,
            markdown,
            html,
            history,
            fail_on_regression: _,
        } = self;
        for (name, value) in [
            ("junit", junit),
            ("wptreport", wptreport),
            ("markdown", markdown),
            ("html", html),
            ("history", history),
        ] {
            if let Some(v) = value {
                option(name, v.to_string_lossy().into_owned());
            }
        }
    }
}

/// Makes the outputs `publish` asks for from `report`, prints what was
/// written and the changes since the night before; the exit code is 1 if
/// `--fail-on-regression` and a case regressed.
fn publish_report(report: &Report, args: &PublishArgs) -> anyhow::Result<i32> {
    let Some(outputs) = args.outputs() else {
        return Ok(0);
    };
    let published = publish::publish(report, &outputs)?;
    for path in &published.written {
        out(format_args!("wrote {}", path.display()))?;
    }
    let regressed = published.changes.as_ref().map_or(0, |c| c.regressed.len());
    if let Some(changes) = &published.changes {
        out(format_args!(
            "since {}: {} regressed, {} fixed",
            changes.previous,
            changes.regressed.len(),
            changes.fixed.len()
        ))?;
    }
    Ok(if args.fail_on_regression && regressed > 0 {
        1
    } else {
        0
    })
}

fn report_command(args: ReportArgs) -> anyhow::Result<i32> {
    match (args.command, args.file) {
        (Some(ReportCommand::Merge { files, output }), _) => {
            let shards = files
                .iter()
                .map(|f| publish::load(f))
                .collect::<Result<Vec<_>, _>>()?;
            let merged = publish::merge::merge(shards)?;
            let text = serde_json::to_string(&merged)?;
            std::fs::write(&output, text + "\n")
                .with_context(|| format!("writing {}", output.display()))?;
            out(format_args!(
                "merged {} shard reports into {}",
                files.len(),
                output.display()
            ))?;
            // What only the whole run can tell: rules judged over every
            // shard. The exit code is the unsharded run's.
            let finished = &merged.finished;
            for note in &finished.expectations_not_run {
                out(format_args!("note: {note}"))?;
            }
            for stale in &finished.stale_rules {
                out(format_args!("STALE RULE {stale}"))?;
            }
            out(format_args!(
                "{} (case, backend) pairs, {} unexpected",
                finished.cases_run, finished.unexpected
            ))?;
            Ok(finished.exit_code())
        }
        (None, Some(file)) => {
            if args.publish.outputs().is_none() {
                anyhow::bail!(
                    "nothing to make: give --junit, --wptreport, --markdown, --html or --history"
                );
            }
            let report = publish::load(&file)?;
            publish_report(&report, &args.publish)
        }
        (None, None) => {
            anyhow::bail!("give a JSON report (`run --report FILE`), or `report merge`")
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Text,
    Json,
}

/// What one module may cost a run (`run` and `list`).
#[derive(clap::Args, Debug)]
pub(crate) struct LimitArgs {
    /// A module longer than this many bytes is an input error naming its file
    /// and line; it costs its case only.
    #[arg(long, default_value_t = DEFAULT_MAX_MODULE_BYTES)]
    max_module_bytes: usize,
    /// At most this many truncation cases per module, evenly spaced; the
    /// offsets left out are counted as not applicable.
    #[arg(long, default_value_t = DEFAULT_MAX_TRUNCATIONS_PER_MODULE)]
    max_truncations_per_module: usize,
}

impl LimitArgs {
    pub(crate) fn limits(&self) -> Limits {
        Limits {
            max_module_bytes: self.max_module_bytes,
            max_truncations_per_module: self.max_truncations_per_module,
        }
    }

    /// The options a replay line needs: with other limits, a case may not
    /// exist (a module over the default size, a truncation offset the
    /// default cap leaves out).
    pub(crate) fn replay_options(&self) -> Vec<String> {
        let default = Limits::default();
        let mut options = Vec::new();
        if self.max_module_bytes != default.max_module_bytes {
            options.extend([
                "--max-module-bytes".into(),
                self.max_module_bytes.to_string(),
            ]);
        }
        if self.max_truncations_per_module != default.max_truncations_per_module {
            options.extend([
                "--max-truncations-per-module".into(),
                self.max_truncations_per_module.to_string(),
            ]);
        }
        options
    }
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// Backend to run (repeatable).
    #[arg(long = "backend", default_value = "reference")]
    backends: Vec<String>,
    /// `spec`, `streaming`, `webapi`, or a directory of .wast and Web API
    /// .toml case files (repeatable).
    #[arg(long = "suite", default_value = "spec")]
    suites: Vec<String>,
    /// Plan set: default, exhaustive, reduced, whole.
    #[arg(long, default_value = "default")]
    plans: String,
    /// Run a single plan by name instead of a set (replays a failure).
    #[arg(long, conflicts_with = "cuts")]
    plan: Option<String>,
    /// Run a single plan from an explicit cut list, e.g. `8,9,9,20`.
    #[arg(long)]
    cuts: Option<String>,
    /// Milliseconds a JS compile may stay unsettled before it counts as pending.
    #[arg(long)]
    settle_ms: Option<u64>,
    /// Seconds a worker may stay silent on a request it has taken, beyond
    /// the pending window, before it is killed as hung.
    #[arg(long, default_value_t = streamconform::backend::DEFAULT_HANG_GRACE.as_secs())]
    hang_timeout: u64,
    /// Only cases whose id contains this text.
    #[arg(long)]
    filter: Option<String>,
    /// Only the case with exactly this id (repeatable).
    #[arg(long = "case")]
    cases: Vec<String>,
    /// Known failures of one backend (repeatable; each file names its backend).
    #[arg(long = "expectations")]
    expectations: Vec<PathBuf>,
    /// Rewrite the expectations files from this run (refused when CI is set).
    #[arg(long)]
    bless: bool,
    /// Write the JSON report here (schema: reports/SCHEMA.md).
    #[arg(long)]
    report: Option<PathBuf>,
    /// Worker threads per backend [default: what the backend prefers, else one per core].
    #[arg(long)]
    jobs: Option<usize>,
    /// Seconds one case may take before it is recorded as a timeout.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Leave out the derived truncated-prefix cases.
    #[arg(long)]
    no_truncation: bool,
    /// How many failing cases to print in detail.
    #[arg(long, default_value_t = 30)]
    show_failures: usize,
    /// Continue an interrupted run from its journal (`FILE.journal` beside
    /// its `--report FILE`): with the options it recorded, running only the
    /// cases it lacks. Only --jobs, --show-failures and --quiet may go with it.
    #[arg(long, value_name = "JOURNAL")]
    resume: Option<PathBuf>,
    /// Run only shard K of N of the selected cases (a case is in shard K
    /// iff xxh64(its id) % N = K-1), e.g. `2/3`; join the shards' reports
    /// with `report merge`. Not with --bless: a shard sees part of the
    /// cases, so which rules are stale is known only once merged.
    #[arg(long, value_name = "K/N", conflicts_with = "bless")]
    shard: Option<Shard>,
    /// Shrink each failing case's first failing plan to the fewest cuts
    /// that still fail (see `minimize`); reports carry it as `minimized`.
    /// It takes at most half of what the case has left of --timeout.
    #[arg(long)]
    minimize: bool,
    /// The most compiles minimizing one case may spend.
    #[arg(long, value_name = "N", default_value_t = streamconform::runner::minimize::DEFAULT_MAX_ATTEMPTS, requires = "minimize")]
    minimize_attempts: usize,
    /// No progress bars (they are drawn only on a terminal anyway, and not
    /// when NO_COLOR is set).
    #[arg(long)]
    quiet: bool,
    #[command(flatten)]
    limits: LimitArgs,
    /// Reports made from the JSON report when the run ends (needs --report).
    #[command(flatten)]
    publish: PublishArgs,
}

/// Options that may go with `--resume`: they change neither which cases
/// run nor how they come out.
const RESUME_MAY_OVERRIDE: [&str; 3] = ["jobs", "show-failures", "quiet"];

impl RunArgs {
    /// The arguments that make this run again, every option explicit and in
    /// a fixed order: what a journal records.
    fn to_args(&self) -> Vec<String> {
        // Named one by one, so a new option cannot be left out unnoticed.
        let RunArgs {
            backends,
            suites,
            plans,
            plan,
            cuts,
            settle_ms,
            hang_timeout,
            filter,
            cases,
            expectations,
            bless,
            report,
            jobs,
            timeout,
            no_truncation,
            show_failures,
            resume: _,
            shard,
            minimize,
            minimize_attempts,
            quiet,
            limits:
                LimitArgs {
                    max_module_bytes,
                    max_truncations_per_module,
                },
            publish,
        } = self;
        let mut args = Vec::new();
        let mut option = |name: &str, value: String| args.extend([format!("--{name}"), value]);
        backends.iter().for_each(|b| option("backend", b.clone()));
        suites.iter().for_each(|s| option("suite", s.clone()));
        option("plans", plans.clone());
        plan.iter().for_each(|p| option("plan", p.clone()));
        cuts.iter().for_each(|c| option("cuts", c.clone()));
        settle_ms
            .iter()
            .for_each(|ms| option("settle-ms", ms.to_string()));
        option("hang-timeout", hang_timeout.to_string());
        filter.iter().for_each(|f| option("filter", f.clone()));
        cases.iter().for_each(|c| option("case", c.clone()));
        let path = |p: &PathBuf| p.to_string_lossy().into_owned();
        expectations
            .iter()
            .for_each(|e| option("expectations", path(e)));
        report.iter().for_each(|r| option("report", path(r)));
        jobs.iter().for_each(|j| option("jobs", j.to_string()));
        option("timeout", timeout.to_string());
        option("show-failures", show_failures.to_string());
        shard.iter().for_each(|s| option("shard", s.to_string()));
        if *minimize {
            option("minimize-attempts", minimize_attempts.to_string());
        }
        option("max-module-bytes", max_module_bytes.to_string());
        option(
            "max-truncations-per-module",
            max_truncations_per_module.to_string(),
        );
        publish.to_args(&mut option);
        for (flag, set) in [
            ("--bless", *bless),
            ("--no-truncation", *no_truncation),
            ("--minimize", *minimize),
            ("--fail-on-regression", publish.fail_on_regression),
            ("--quiet", *quiet),
        ] {
            if set {
                args.push(flag.to_string());
            }
        }
        args
    }
}

/// Parses the arguments a journal recorded.
#[derive(Parser, Debug)]
#[command(name = "streamconform run")]
struct RecordedRun {
    #[command(flatten)]
    args: RunArgs,
}

/// Runs the CLI; returns the process exit code.
pub fn main() -> i32 {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let result = match cli.command {
        Command::Run(args) => {
            let given = matches
                .subcommand_matches("run")
                .map(given_options)
                .unwrap_or_default();
            run(args, &given)
        }
        Command::Plans {
            file,
            plans,
            format,
        } => print_plans(&file, &plans, format),
        Command::List {
            suites,
            filter,
            no_truncation,
            limits,
        } => list(&suites, filter.as_deref(), !no_truncation, &limits.limits()),
        Command::Backends => list_backends(),
        Command::Report(args) => report_command(args),
        Command::Minimize(args) => minimize::minimize_command(args),
        Command::Fuzz(args) => fuzz::fuzz_command(args),
    };
    result.unwrap_or_else(|e| {
        // `streamconform ... | head`: the reader is gone; end quietly, as a
        // program killed by SIGPIPE would (exit 141).
        let closed_pipe = e.chain().any(|cause| {
            cause
                .downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
        });
        if closed_pipe {
            return 141;
        }
        eprintln!("error: {e:#}");
        2
    })
}

/// Writes a line to stdout, returning the error (println! panics on a
/// closed pipe).
pub(crate) fn out(line: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    stdout.write_fmt(line)?;
    stdout.write_all(b"\n")
}

fn print_plans(file: &Path, set: &str, format: Format) -> anyhow::Result<i32> {
    let set = PlanSet::parse(set)?;
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
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

fn list_backends() -> anyhow::Result<i32> {
    for name in streamconform_engines::BACKEND_NAMES {
        match streamconform_engines::by_name(name) {
            Ok(b) => out(format_args!("{:<12} {}", name, b.info().version))?,
            Err(e) => out(format_args!("{:<12} unavailable: {e}", name))?,
        }
    }
    Ok(0)
}

/// A flag the first SIGINT sets: the run starts no more cases, finishes and
/// reports the started ones, and exits 130. A second SIGINT exits at once.
pub(crate) fn stop_on_interrupt() -> Arc<std::sync::atomic::AtomicBool> {
    use std::sync::atomic::{AtomicBool, Ordering};
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

/// The long names of the options given on the command line (not those
/// left at their defaults), e.g. `suite`.
fn given_options(matches: &clap::ArgMatches) -> Vec<String> {
    let command = Cli::command();
    let run = command.find_subcommand("run").expect("the run subcommand");
    run.get_arguments()
        .filter(|a| {
            matches.value_source(a.get_id().as_str())
                == Some(clap::parser::ValueSource::CommandLine)
        })
        .filter_map(|a| a.get_long().map(str::to_string))
        .collect()
}

/// A file beside `path`: its name with `suffix` added. The report is
/// written to `FILE.partial` until the run completes; `FILE.journal`
/// keeps the results as they finish.
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// The command that continues the run `journal` recorded, from anywhere.
fn resume_command(program: Option<&str>, journal: &Path) -> String {
    let journal = std::path::absolute(journal).unwrap_or_else(|_| journal.to_path_buf());
    format!(
        "{} run --resume {}",
        shell_quote(program.unwrap_or("streamconform")),
        shell_quote(&journal.to_string_lossy())
    )
}

/// `run --resume JOURNAL`: the journal and the arguments it recorded, in
/// the directory the run began in (its relative paths are relative to
/// it), with `--jobs` and `--show-failures` taken from `given` if there.
fn resume(path: &Path, args: &RunArgs, given: &[String]) -> anyhow::Result<(RunArgs, Journal)> {
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
    let path = std::path::absolute(path).with_context(|| format!("reading {}", path.display()))?;
    let journal = journal::read(&path)?;
    let invalid = |message: String| Error::InvalidJournal {
        file: path.clone(),
        line: 1,
        message,
    };
    std::env::set_current_dir(&journal.header.directory).map_err(|e| {
        invalid(format!(
            "the directory the run began in, {}: {e}",
            journal.header.directory.display()
        ))
    })?;
    let recorded = RecordedRun::try_parse_from(
        std::iter::once("streamconform run".to_string()).chain(journal.header.args.clone()),
    )
    .map_err(|e| {
        invalid(format!(
            "its arguments do not parse: {}",
            e.render().to_string().trim()
        ))
    })?;
    let mut recorded = recorded.args;
    if recorded.report.is_none() || recorded.resume.is_some() {
        return Err(invalid("its arguments lack --report or have --resume".into()).into());
    }
    if given.iter().any(|o| o == "jobs") {
        recorded.jobs = args.jobs;
    }
    if given.iter().any(|o| o == "show-failures") {
        recorded.show_failures = args.show_failures;
    }
    if given.iter().any(|o| o == "quiet") {
        recorded.quiet = args.quiet;
    }
    Ok((recorded, journal))
}

pub(crate) fn parse_suites(names: &[String]) -> Result<Vec<SuiteSpec>, Error> {
    names.iter().map(|n| SuiteSpec::parse(n)).collect()
}

/// The suites' cases; when every `--case` id names its file (see
/// [`file_of_case_id`]), only those files' (a `fuzz:` case id regenerates
/// just its module), falling back to everything if that misses any of them.
pub(crate) fn load_for_cases(
    suites: &[SuiteSpec],
    truncation: bool,
    limits: &Limits,
    cases: &[String],
) -> LoadedSuite {
    let files: Option<std::collections::BTreeSet<&str>> =
        cases.iter().map(|id| file_of_case_id(id)).collect();
    if let Some(files) = files.filter(|f| !f.is_empty()) {
        let mut loaded = LoadedSuite::default();
        for file in files {
            loaded.extend(load_all_matching(suites, truncation, Some(file), limits));
        }
        if cases
            .iter()
            .all(|id| loaded.cases.iter().any(|c| &c.id == id))
        {
            return loaded;
        }
    }
    load_all(suites, truncation, limits)
}

/// The `--backend` names as backends, with the clocks of out-of-process
/// engines (`--settle-ms`, `--hang-timeout`).
pub(crate) fn backends_named(
    names: &[String],
    settle_ms: Option<u64>,
    hang_timeout: u64,
) -> Result<Vec<BackendUnderTest>, Error> {
    let timing = backend::WorkerTiming {
        settle: settle_ms.map_or(backend::DEFAULT_SETTLE, Duration::from_millis),
        hang_grace: Duration::from_secs(hang_timeout),
    };
    names
        .iter()
        .map(|n| streamconform_engines::by_name_with(n, timing))
        .collect()
}

/// How replay lines are built in this process: this executable, this
/// directory, and the options that decide pending and timeout outcomes
/// and which cases exist.
pub(crate) fn replay_here(settle_ms: Option<u64>, hang_timeout: u64, limits: Vec<String>) -> Replay {
    let mut options = Vec::new();
    if let Some(ms) = settle_ms {
        options.extend(["--settle-ms".into(), ms.to_string()]);
    }
    if hang_timeout != streamconform::backend::DEFAULT_HANG_GRACE.as_secs() {
        options.extend(["--hang-timeout".into(), hang_timeout.to_string()]);
    }
    options.extend(limits);
    Replay {
        program: std::env::current_exe()
            .ok()
            .map(|p| p.display().to_string()),
        directory: std::env::current_dir()
            .ok()
            .map(|d| d.display().to_string()),
        options,
    }
}

/// What a person sees of a run on the terminal: progress bars (on a
/// terminal, unless quiet) and the summary with each unexpected result.
pub(crate) struct TerminalOutput {
    progress: Option<Progress>,
    terminal: Terminal<AroundBars<std::io::StdoutLock<'static>>>,
}

impl TerminalOutput {
    pub(crate) fn new(quiet: bool, show_failures: usize) -> TerminalOutput {
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

    /// Adds both to a run's consumers, the bars first: they are cleared
    /// before the summary prints.
    pub(crate) fn push_into<'a>(&'a mut self, reporters: &mut Vec<&'a mut dyn Reporter>) {
        if let Some(progress) = self.progress.as_mut() {
            reporters.push(progress);
        }
        reporters.push(&mut self.terminal);
    }
}

fn select(cases: Vec<Case>, filter: Option<&str>, exact: &[String]) -> Vec<Case> {
    cases
        .into_iter()
        .filter(|c| filter.is_none_or(|f| c.id.contains(f)))
        .filter(|c| exact.is_empty() || exact.contains(&c.id))
        .collect()
}

fn list(
    suites: &[String],
    filter: Option<&str>,
    truncation: bool,
    limits: &Limits,
) -> anyhow::Result<i32> {
    let loaded = load_all(&parse_suites(suites)?, truncation, limits);
    for case in select(loaded.cases, filter, &[]) {
        out(format_args!("{}\t{}", case.id, case.expected()))?;
    }
    for e in &loaded.errors {
        eprintln!("error: {e}");
    }
    Ok(if loaded.errors.is_empty() { 0 } else { 2 })
}

fn run(args: RunArgs, given: &[String]) -> anyhow::Result<i32> {
    // First, so an interrupt while loading is handled like one mid-run.
    let stop = stop_on_interrupt();
    let (args, resumed) = match &args.resume {
        Some(path) => {
            let (recorded, journal) = resume(path, &args, given)?;
            (recorded, Some(journal))
        }
        None => (args, None),
    };
    if args.bless {
        refuse_bless_in_ci()?;
    }
    if args.publish.outputs().is_some() && args.report.is_none() {
        anyhow::bail!(
            "--junit, --wptreport, --markdown, --html and --history are made from the JSON report: give --report FILE too"
        );
    }
    let suites = parse_suites(&args.suites)?;
    let plans = match (&args.plan, &args.cuts) {
        (Some(name), _) => {
            PlanName::parse(name)?;
            PlanSelection::Named(name.clone())
        }
        (None, Some(cuts)) => PlanSelection::Cuts(parse_cuts(cuts)?),
        (None, None) => PlanSelection::Set(PlanSet::parse(&args.plans)?),
    };
    let backends = backends_named(&args.backends, args.settle_ms, args.hang_timeout)?;
    let mut expectations = Vec::new();
    for path in &args.expectations {
        let e = match Expectations::load(path) {
            Err(Error::Io { source, .. })
                if args.bless && source.kind() == std::io::ErrorKind::NotFound =>
            {
                let backend = path
                    .file_stem()
                    .map_or("?".into(), |s| s.to_string_lossy().into_owned());
                Expectations::empty(&backend, path)
            }
            other => other?,
        };
        expectations.push(e);
    }
    let names: Vec<String> = backends.iter().map(|b| b.info().name).collect();
    for (i, e) in expectations.iter().enumerate() {
        if !names.contains(&e.backend) {
            anyhow::bail!(
                "{}: its backend {:?} is not in this run (backends: {}); it would apply to nothing",
                e.path.display(),
                e.backend,
                names.join(", ")
            );
        }
        if let Some(first) = expectations[..i].iter().find(|f| f.backend == e.backend) {
            anyhow::bail!(
                "{} and {} are both for backend {:?}; give one file per backend",
                first.path.display(),
                e.path.display(),
                e.backend
            );
        }
    }
    if args.bless {
        for backend in &backends {
            let name = backend.info().name;
            if !expectations.iter().any(|e| e.backend == name) {
                anyhow::bail!("--bless needs an --expectations file whose `backend` is {name:?}");
            }
        }
    }
    let loaded = load_for_cases(
        &suites,
        !args.no_truncation,
        &args.limits.limits(),
        &args.cases,
    );
    let filtered = args.filter.is_some() || !args.cases.is_empty();
    let cases = select(loaded.cases, args.filter.as_deref(), &args.cases);
    if !args.cases.is_empty() && cases.is_empty() {
        anyhow::bail!(
            "no case has the id {:?} in suites {:?}",
            args.cases,
            args.suites
        );
    }
    let (cases, shard) = match args.shard {
        Some(shard) => {
            let selected = cases.len();
            let positions = shard.positions(cases.iter().map(|c| c.id.as_str()));
            if positions.is_empty() {
                anyhow::bail!(
                    "shard {shard} holds none of the {selected} selected cases; use fewer shards"
                );
            }
            let slice = cases
                .into_iter()
                .enumerate()
                .filter(|(i, _)| positions.binary_search(i).is_ok())
                .map(|(_, case)| case)
                .collect();
            (slice, Some(ShardRun { shard, positions }))
        }
        None => (cases, None),
    };
    // A named plan or a cut list must fit every selected case: one that
    // does not is a usage error, not an engine failure.
    if !matches!(plans, PlanSelection::Set(_)) {
        for case in cases
            .iter()
            .filter(|c| c.scenario.as_ref().is_none_or(|s| s.uses_plans()))
        {
            if let Err(e) = plans.plans_for(case) {
                anyhow::bail!("{}: {e}", case.id);
            }
        }
    }
    let run = Run {
        cases: Arc::new(cases),
        not_applicable: if filtered {
            Vec::new()
        } else {
            loaded.not_applicable
        },
        input_errors: loaded.errors.iter().map(ToString::to_string).collect(),
        suites: suites.iter().map(SuiteSpec::argument).collect(),
        backends,
        expectations: expectations.clone(),
        config: RunConfig {
            plans,
            jobs: args.jobs,
            case_timeout: Duration::from_secs(args.timeout),
            replay: replay_here(
                args.settle_ms,
                args.hang_timeout,
                args.limits.replay_options(),
            ),
            stop,
            minimize: args
                .minimize
                .then_some(streamconform::runner::minimize::MinimizeOptions {
                    max_attempts: args.minimize_attempts,
                }),
        },
        filtered,
        earlier: resumed
            .as_ref()
            .map(|journal| journal.results.clone())
            .unwrap_or_default(),
        shard,
    };
    if let Some(journal) = &resumed {
        let unmatched = run.unmatched_earlier_results();
        if !unmatched.is_empty() {
            anyhow::bail!(
                "{}: {} journaled results are of cases not in this run's suites (they changed since): {}{}; delete the journal and run afresh",
                journal.path.display(),
                unmatched.len(),
                unmatched[..unmatched.len().min(10)].join(", "),
                if unmatched.len() > 10 { ", ..." } else { "" }
            );
        }
    }

    let program = run.config.replay.program.as_deref();
    // Checked before the run, like the report path: the journal of a run
    // that did not finish is not replaced.
    let new_journal = match (&resumed, &args.report) {
        (None, Some(report)) => {
            let path = beside(report, ".journal");
            if path.exists() {
                anyhow::bail!(
                    "{}: the journal of a run that did not finish; continue it with `{}`, or delete it to start afresh",
                    path.display(),
                    resume_command(program, &path)
                );
            }
            Some(path)
        }
        _ => None,
    };
    let mut json = match &args.report {
        Some(path) => {
            // Created before the run: an unwritable path is an error now,
            // not after the run.
            let partial = beside(path, ".partial");
            let file = std::fs::File::create(&partial)
                .with_context(|| format!("writing report {}", partial.display()))?;
            Some(ToFile {
                path: partial,
                inner: JsonReport::new(std::io::BufWriter::new(file)),
            })
        }
        None => None,
    };
    // Results are kept as they finish, to resume an interrupted run with.
    let mut journal = match (&resumed, new_journal) {
        (Some(journal), _) => {
            let writer = JournalWriter::append(journal)
                .with_context(|| format!("appending to {}", journal.path.display()))?;
            out(format_args!(
                "resuming {}: {} results replayed, the rest runs",
                journal.path.display(),
                journal.results.len()
            ))?;
            Some((
                ToFile {
                    path: journal.path.clone(),
                    inner: writer,
                },
                journal.path.clone(),
            ))
        }
        (None, Some(path)) => {
            let header = journal::Header::new(std::env::current_dir()?, args.to_args());
            let writer = JournalWriter::create(&path, &header)
                .with_context(|| format!("writing {}", path.display()))?;
            Some((
                ToFile {
                    path: path.clone(),
                    inner: writer,
                },
                path,
            ))
        }
        (None, None) => None,
    };
    // Every output is a consumer of the run's events.
    let mut terminal = TerminalOutput::new(args.quiet, args.show_failures);
    let mut bless = args.bless.then(|| Bless::new(expectations));
    // The journal first: a result is kept before anything else sees it.
    let mut reporters: Vec<&mut dyn Reporter> = Vec::new();
    if let Some((writer, _)) = journal.as_mut() {
        reporters.push(writer);
    }
    terminal.push_into(&mut reporters);
    if let Some(json) = json.as_mut() {
        reporters.push(json);
    }
    if let Some(bless) = bless.as_mut() {
        reporters.push(bless);
    }
    let finished = run.execute(&mut reporters)?;
    drop(terminal);
    if let (Some(path), Some(json)) = (&args.report, json) {
        // Written beside the report and renamed over it only when complete:
        // a run that dies midway never leaves a truncated report, nor an
        // old one that looks current.
        let partial = json.inner.into_inner();
        let partial_path = beside(path, ".partial");
        partial
            .into_inner()
            .map_err(|e| e.into_error())
            .and_then(|file| file.sync_all())
            .and_then(|()| std::fs::rename(&partial_path, path))
            .with_context(|| format!("writing report {}", path.display()))?;
        out(format_args!("report: {}", path.display()))?;
    }
    // Made from the report as written, as `report FILE` would make them.
    let published = match (&args.report, finished.interrupted) {
        (Some(path), false) if args.publish.outputs().is_some() => {
            publish_report(&publish::load(path)?, &args.publish)?
        }
        _ => 0,
    };
    if let Some((writer, path)) = journal {
        drop(writer);
        if finished.interrupted {
            out(format_args!("resume: {}", resume_command(program, &path)))?;
        } else {
            // The report is complete: nothing is left to resume.
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        }
    }
    if let Some(bless) = &bless {
        for line in &bless.written {
            eprintln!("{line}");
        }
    }
    Ok(match finished.exit_code() {
        // Blessing records failures; it still fails on bad input.
        1 if args.bless => 0,
        0 => published,
        code => code,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[String]) -> RunArgs {
        RecordedRun::try_parse_from(std::iter::once("run".to_string()).chain(args.iter().cloned()))
            .unwrap()
            .args
    }

    #[test]
    fn recorded_arguments_make_the_same_run_again() {
        let given: Vec<String> = "--backend node --backend deno --suite spec --suite mine \
            --plans reduced --plan split@9 --settle-ms 5 --filter binary --case spec/x.wast:1 \
            --expectations e.toml --bless --report r.json --jobs 3 --timeout 9 --no-truncation \
            --show-failures 2 --minimize --minimize-attempts 40 --quiet"
            .split_whitespace()
            .map(String::from)
            .collect();
        let recorded = parse(&given).to_args();
        assert_eq!(
            format!("{:?}", parse(&recorded)),
            format!("{:?}", parse(&given))
        );
        assert_eq!(
            parse(&recorded).to_args(),
            recorded,
            "normalized once and for all"
        );
        // Defaults are written out.
        let defaults = parse(&["--report".into(), "r.json".into()]).to_args();
        assert!(
            defaults.windows(2).any(|w| w == ["--backend", "reference"])
                && defaults.windows(2).any(|w| w == ["--plans", "default"]),
            "{defaults:?}"
        );
        let cuts = parse(&["--cuts".into(), "8,9".into()]).to_args();
        assert!(cuts.windows(2).any(|w| w == ["--cuts", "8,9"]), "{cuts:?}");
        // Not with --bless above: they conflict.
        let sharded = parse(&["--shard".into(), "2/3".into()]).to_args();
        assert!(
            sharded.windows(2).any(|w| w == ["--shard", "2/3"]),
            "{sharded:?}"
        );
        assert_eq!(parse(&sharded).to_args(), sharded);
    }
}
