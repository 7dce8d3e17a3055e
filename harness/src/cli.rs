//! The `streamconform` command line. Exit codes: 0 when nothing is
//! unexpected, 1 when something is, 2 on a usage or input error.

use crate::backend::{self, BackendUnderTest, BACKEND_NAMES};
use crate::case::Case;
use crate::error::Error;
use crate::expectations::{refuse_bless_in_ci, Expectations};
use crate::plan::{parse_cuts, PlanName, PlanSet};
use crate::reporter::bless::Bless;
use crate::reporter::json::JsonReport;
use crate::reporter::terminal::Terminal;
use crate::runner::{PlanSelection, Replay, Reporter, Run, RunConfig};
use crate::suites::truncation::DEFAULT_MAX_TRUNCATIONS_PER_MODULE;
use crate::suites::{load_all, Limits, SuiteSpec, DEFAULT_MAX_MODULE_BYTES};
use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::sync::Arc;
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
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Text,
    Json,
}

/// What one module may cost a run (`run` and `list`).
#[derive(clap::Args, Debug)]
struct LimitArgs {
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
    fn limits(&self) -> Limits {
        Limits {
            max_module_bytes: self.max_module_bytes,
            max_truncations_per_module: self.max_truncations_per_module,
        }
    }

    /// The options a replay line needs: with other limits, a case may not
    /// exist (a module over the default size, a truncation offset the
    /// default cap leaves out).
    fn replay_options(&self) -> Vec<String> {
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
    #[command(flatten)]
    limits: LimitArgs,
}

/// Runs the CLI; returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
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
fn out(line: std::fmt::Arguments<'_>) -> std::io::Result<()> {
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
                    crate::plan::format_cuts(&plan.cuts)
                ))?;
            }
        }
    }
    Ok(0)
}

fn list_backends() -> anyhow::Result<i32> {
    for name in BACKEND_NAMES {
        match backend::by_name(name) {
            Ok(b) => out(format_args!("{:<12} {}", name, b.info().version))?,
            Err(e) => out(format_args!("{:<12} unavailable: {e}", name))?,
        }
    }
    Ok(0)
}

/// A flag the first SIGINT sets: the run starts no more cases, finishes and
/// reports the started ones, and exits 130. A second SIGINT exits at once.
fn stop_on_interrupt() -> Arc<std::sync::atomic::AtomicBool> {
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

/// Where a report is written until the run completes.
fn partial_report_path(path: &Path) -> std::path::PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

fn parse_suites(names: &[String]) -> Result<Vec<SuiteSpec>, Error> {
    names.iter().map(|n| SuiteSpec::parse(n)).collect()
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

fn run(args: RunArgs) -> anyhow::Result<i32> {
    // First, so an interrupt while loading is handled like one mid-run.
    let stop = stop_on_interrupt();
    if args.bless {
        refuse_bless_in_ci()?;
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
    let settle = args
        .settle_ms
        .map_or(backend::DEFAULT_SETTLE, Duration::from_millis);
    let backends: Vec<BackendUnderTest> = args
        .backends
        .iter()
        .map(|n| backend::by_name_with(n, settle))
        .collect::<Result<_, _>>()?;
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
    let loaded = load_all(&suites, !args.no_truncation, &args.limits.limits());
    let filtered = args.filter.is_some() || !args.cases.is_empty();
    let cases = select(loaded.cases, args.filter.as_deref(), &args.cases);
    if !args.cases.is_empty() && cases.is_empty() {
        anyhow::bail!(
            "no case has the id {:?} in suites {:?}",
            args.cases,
            args.suites
        );
    }
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
            replay: Replay {
                program: std::env::current_exe()
                    .ok()
                    .map(|p| p.display().to_string()),
                directory: std::env::current_dir()
                    .ok()
                    .map(|d| d.display().to_string()),
                options: args
                    .settle_ms
                    .map(|ms| vec!["--settle-ms".into(), ms.to_string()])
                    .unwrap_or_default()
                    .into_iter()
                    .chain(args.limits.replay_options())
                    .collect(),
            },
            stop,
        },
        filtered,
    };

    // Every output is a consumer of the run's events.
    let mut terminal = Terminal::new(std::io::stdout().lock(), args.show_failures);
    let mut json = match &args.report {
        Some(path) => {
            // Created before the run: an unwritable path is an error now,
            // not after the run.
            let partial = partial_report_path(path);
            let file = std::fs::File::create(&partial)
                .with_context(|| format!("writing report {}", partial.display()))?;
            Some(JsonReport::new(std::io::BufWriter::new(file)))
        }
        None => None,
    };
    let mut bless = args.bless.then(|| Bless::new(expectations));
    let mut reporters: Vec<&mut dyn Reporter> = vec![&mut terminal];
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
        let partial = json.into_inner();
        let partial_path = partial_report_path(path);
        partial
            .into_inner()
            .map_err(|e| e.into_error())
            .and_then(|file| file.sync_all())
            .and_then(|()| std::fs::rename(&partial_path, path))
            .with_context(|| format!("writing report {}", path.display()))?;
        out(format_args!("report: {}", path.display()))?;
    }
    if let Some(bless) = &bless {
        for line in &bless.written {
            eprintln!("{line}");
        }
    }
    Ok(match finished.exit_code() {
        // Blessing records failures; it still fails on bad input.
        1 if args.bless => 0,
        code => code,
    })
}
