//! The command line, and how each subcommand's arguments become the
//! library's description of the work (`RunSpec`, `MinimizeSpec`).

use crate::fuzz::FuzzArgs;
use crate::minimize::MinimizeArgs;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use streamconform::runner::Shard;
use streamconform::session::{PlanChoice, PublishSpec, RunSpec};
use streamconform::suites::truncation::DEFAULT_MAX_TRUNCATIONS_PER_MODULE;
use streamconform::suites::{Limits, DEFAULT_MAX_MODULE_BYTES};

#[derive(Parser, Debug)]
#[command(
    name = "streamconform",
    version,
    about = "Conformance harness for WebAssembly streaming compilation"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
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
    Minimize(MinimizeArgs),
    /// Differential fuzzing: generated modules on every backend, judged
    /// against the reference's one-shot validation and for invariance.
    Fuzz(FuzzArgs),
}

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ReportArgs {
    #[command(subcommand)]
    pub command: Option<ReportCommand>,
    /// A JSON report written by `run --report`.
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub publish: PublishArgs,
}

#[derive(Subcommand, Debug)]
pub enum ReportCommand {
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
pub struct PublishArgs {
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
    /// With --history, the site also lists what regressed and was fixed
    /// over the last N nights (default 7; at least 2).
    #[arg(long, value_name = "N", requires = "history", value_parser = clap::value_parser!(u64).range(2..=100_000))]
    history_window: Option<u64>,
    /// Exit 1 when a case regressed since the previous night (needs --history).
    #[arg(long, requires = "history")]
    fail_on_regression: bool,
}

impl PublishArgs {
    pub fn spec(&self) -> PublishSpec {
        PublishSpec {
            junit: self.junit.clone(),
            wptreport: self.wptreport.clone(),
            markdown: self.markdown.clone(),
            html: self.html.clone(),
            history: self.history.clone(),
            history_window: self.history_window.map(|n| n as usize),
            fail_on_regression: self.fail_on_regression,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// What one module may cost a run (`run`, `list`, `minimize`).
#[derive(clap::Args, Debug)]
pub struct LimitArgs {
    /// A module longer than this many bytes is an input error naming its file
    /// and line; it costs its case only.
    #[arg(long, default_value_t = DEFAULT_MAX_MODULE_BYTES)]
    max_module_bytes: usize,
    /// At most this many truncation cases per module, evenly spaced; the
    /// offsets left out are counted as not applicable.
    #[arg(long, default_value_t = DEFAULT_MAX_TRUNCATIONS_PER_MODULE)]
    max_truncations_per_module: usize,
    /// Let cases name module files outside their suite directory (by
    /// `..`, an absolute path or a link); without it such a case is an
    /// input error. Only for suites you trust.
    #[arg(long)]
    allow_files_outside_suite: bool,
}

impl LimitArgs {
    pub fn limits(&self) -> Limits {
        Limits {
            max_module_bytes: self.max_module_bytes,
            max_truncations_per_module: self.max_truncations_per_module,
            files_outside_suite: self.allow_files_outside_suite,
        }
    }
}

/// `--plans SET`, `--plan NAME` or `--cuts LIST`, as given.
pub fn plan_choice(plans: &str, plan: &Option<String>, cuts: &Option<String>) -> PlanChoice {
    match (plan, cuts) {
        (Some(name), _) => PlanChoice::Plan(name.clone()),
        (None, Some(cuts)) => PlanChoice::Cuts(cuts.clone()),
        (None, None) => PlanChoice::Set(plans.to_string()),
    }
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
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
    pub jobs: Option<usize>,
    /// How many backends run side by side, each on its own workers; the
    /// reports are the same whatever it is.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub backends_at_once: usize,
    /// Seconds one case may take before it is recorded as a timeout.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Leave out the derived truncated-prefix cases.
    #[arg(long)]
    no_truncation: bool,
    /// How many failing cases to print in detail.
    #[arg(long, default_value_t = 30)]
    pub show_failures: usize,
    /// Continue an interrupted run from its journal (`FILE.journal` beside
    /// its `--report FILE`): with the options it recorded, running only the
    /// cases it lacks. Only --jobs, --backends-at-once, --show-failures and
    /// --quiet may go with it.
    #[arg(long, value_name = "JOURNAL")]
    pub resume: Option<PathBuf>,
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
    /// Run a case that fails unexpectedly again, up to N times, each time on
    /// fresh workers (new engine processes, a new browser); one that passes
    /// on a retry is flaky: its own status everywhere, never a pass. A case
    /// that fails every time keeps its first result.
    #[arg(long, value_name = "N", default_value_t = 0)]
    retries: usize,
    /// What a flaky case counts as for the exit code: `fail` (as nextest) or
    /// `pass`; it is reported as flaky either way.
    #[arg(long, value_name = "fail|pass", default_value = "fail", value_parser = streamconform::verdict::FlakyResult::parse)]
    flaky_result: streamconform::verdict::FlakyResult,
    /// No progress bars (they are drawn only on a terminal anyway, and not
    /// when NO_COLOR is set).
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    limits: LimitArgs,
    /// Reports made from the JSON report when the run ends (needs --report).
    #[command(flatten)]
    publish: PublishArgs,
}

/// Options that may go with `--resume`: they change neither which cases
/// run nor how they come out.
pub const RESUME_MAY_OVERRIDE: [&str; 4] = ["jobs", "backends-at-once", "show-failures", "quiet"];

impl RunArgs {
    /// The run these arguments describe.
    pub fn spec(&self) -> RunSpec {
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
            backends_at_once,
            timeout,
            no_truncation,
            show_failures,
            resume: _,
            shard,
            minimize,
            minimize_attempts,
            retries,
            flaky_result,
            quiet,
            limits,
            publish,
        } = self;
        RunSpec {
            backends: backends.clone(),
            suites: suites.clone(),
            plans: plan_choice(plans, plan, cuts),
            settle_ms: *settle_ms,
            hang_timeout_secs: *hang_timeout,
            filter: filter.clone(),
            cases: cases.clone(),
            expectations: expectations.clone(),
            bless: *bless,
            report: report.clone(),
            jobs: *jobs,
            backends_at_once: *backends_at_once,
            case_timeout_secs: *timeout,
            truncation: !no_truncation,
            shard: *shard,
            minimize_attempts: minimize.then_some(*minimize_attempts),
            retries: *retries,
            flaky_result: *flaky_result,
            limits: limits.limits(),
            publish: publish.spec(),
            show_failures: *show_failures,
            quiet: *quiet,
        }
    }
}

/// The long names of the options of `run` given on the command line (not
/// those left at their defaults), e.g. `suite`.
pub fn given_options(matches: &clap::ArgMatches) -> Vec<String> {
    use clap::CommandFactory;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(args: &str) -> RunSpec {
        let cli = Cli::try_parse_from(
            ["streamconform", "run"]
                .into_iter()
                .chain(args.split_whitespace()),
        )
        .unwrap();
        match cli.command {
            Command::Run(run) => run.spec(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_run_option_reaches_the_spec() {
        let given = spec(
            "--backend node --backend deno --suite spec --suite mine \
             --plan split@9 --settle-ms 5 --hang-timeout 7 --filter binary --case spec/x.wast:1 \
             --expectations e.toml --bless --report r.json --jobs 3 --timeout 9 --no-truncation \
             --show-failures 2 --minimize --minimize-attempts 40 --quiet \
             --retries 2 --flaky-result pass --backends-at-once 3 \
             --max-module-bytes 100 --max-truncations-per-module 4 --allow-files-outside-suite \
             --html site --history h \
             --fail-on-regression",
        );
        assert_eq!(
            given,
            RunSpec {
                backends: vec!["node".into(), "deno".into()],
                suites: vec!["spec".into(), "mine".into()],
                plans: PlanChoice::Plan("split@9".into()),
                settle_ms: Some(5),
                hang_timeout_secs: 7,
                filter: Some("binary".into()),
                cases: vec!["spec/x.wast:1".into()],
                expectations: vec!["e.toml".into()],
                bless: true,
                report: Some("r.json".into()),
                jobs: Some(3),
                case_timeout_secs: 9,
                truncation: false,
                shard: None,
                minimize_attempts: Some(40),
                retries: 2,
                flaky_result: streamconform::verdict::FlakyResult::Pass,
                backends_at_once: 3,
                limits: Limits {
                    max_module_bytes: 100,
                    max_truncations_per_module: 4,
                    files_outside_suite: true,
                },
                publish: PublishSpec {
                    html: Some("site".into()),
                    history: Some("h".into()),
                    fail_on_regression: true,
                    ..PublishSpec::default()
                },
                show_failures: 2,
                quiet: true,
            }
        );
        assert_eq!(
            spec(""),
            RunSpec::default(),
            "the defaults are the library's"
        );
        assert_eq!(spec("--cuts 8,9").plans, PlanChoice::Cuts("8,9".into()));
        assert_eq!(spec("--shard 2/3").shard, Some("2/3".parse().unwrap()));
    }
}
