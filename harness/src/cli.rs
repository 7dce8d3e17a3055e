//! The `streamconform` command line. Exit codes: 0 when nothing is
//! unexpected, 1 when something is, 2 on a usage or input error.

use crate::backend::{self, Backend, BACKEND_NAMES};
use crate::case::Case;
use crate::error::Error;
use crate::expectations::{refuse_bless_in_ci, Expectations};
use crate::plan::{parse_cuts, PlanName, PlanSet};
use crate::report::{format_summary, summarize, Report, ReportedCase, SCHEMA, SCHEMA_VERSION};
use crate::runner::{run_cases, CaseResult, PlanSelection, RunConfig};
use crate::suites::{load_all, SuiteSpec};
use crate::verdict::Status;
use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    },
    /// List the available backends with their versions.
    Backends,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// Backend to run (repeatable).
    #[arg(long = "backend", default_value = "reference")]
    backends: Vec<String>,
    /// `spec`, `streaming`, or a directory of .wast files (repeatable).
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
    /// Worker threads per backend [default: number of cores].
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
        } => list(&suites, filter.as_deref(), !no_truncation),
        Command::Backends => {
            for name in BACKEND_NAMES {
                match backend::by_name(name) {
                    Ok(b) => println!("{:<12} {}", name, b.info().version),
                    Err(e) => println!("{:<12} unavailable: {e}", name),
                }
            }
            Ok(0)
        }
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        2
    })
}

fn print_plans(file: &Path, set: &str, format: Format) -> anyhow::Result<i32> {
    let set = PlanSet::parse(set)?;
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let plans = set.plans(&bytes);
    match format {
        Format::Json => println!("{}", serde_json::to_string(&plans)?),
        Format::Text => {
            for plan in plans {
                println!("{}\t{}", plan.name, crate::plan::format_cuts(&plan.cuts));
            }
        }
    }
    Ok(0)
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

fn list(suites: &[String], filter: Option<&str>, truncation: bool) -> anyhow::Result<i32> {
    let loaded = load_all(&parse_suites(suites)?, truncation);
    for case in select(loaded.cases, filter, &[]) {
        println!("{}\t{}", case.id, case.expected());
    }
    for e in &loaded.errors {
        eprintln!("error: {e}");
    }
    Ok(if loaded.errors.is_empty() { 0 } else { 2 })
}

fn run(args: RunArgs) -> anyhow::Result<i32> {
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
    let backends: Vec<Arc<dyn Backend>> = args
        .backends
        .iter()
        .map(|n| backend::by_name_with(n, settle).map(Arc::from))
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
    let started = Instant::now();
    let loaded = load_all(&suites, !args.no_truncation);
    for e in &loaded.errors {
        eprintln!("input error: {e}");
    }
    let cases = Arc::new(select(loaded.cases, args.filter.as_deref(), &args.cases));
    if !args.cases.is_empty() && cases.is_empty() {
        anyhow::bail!(
            "no case has the id {:?} in suites {:?}",
            args.cases,
            args.suites
        );
    }
    let config = RunConfig {
        plans: plans.clone(),
        jobs: args.jobs.unwrap_or_else(|| {
            backends
                .iter()
                .filter_map(|b| b.preferred_jobs())
                .max()
                .unwrap_or(RunConfig::default().jobs)
        }),
        case_timeout: Duration::from_secs(args.timeout),
    };
    let plan_arg = match &plans {
        PlanSelection::Set(set) => format!("--plans {}", set.name()),
        PlanSelection::Named(name) => format!("--plan {name}"),
        PlanSelection::Cuts(cuts) => format!("--cuts {}", crate::plan::format_cuts(cuts)),
    };

    let mut reported = Vec::new();
    let mut infos = Vec::new();
    let mut not_run = Vec::new();
    for backend in &backends {
        let info = backend.info();
        let results = run_cases(backend.clone(), cases.clone(), &config);
        let mine = expectations.iter().find(|e| e.backend == info.name);
        if let Some(e) = mine {
            let ran: HashSet<&str> = results.iter().map(|r| r.id.as_str()).collect();
            let unfiltered = args.filter.is_none() && args.cases.is_empty();
            if unfiltered {
                not_run.extend(
                    e.not_run(&ran)
                        .into_iter()
                        .map(|id| format!("{}: {id}", info.name)),
                );
            }
        }
        if args.bless {
            let e = mine.cloned().ok_or_else(|| {
                anyhow::anyhow!(
                    "--bless needs an --expectations file whose `backend` is {:?}",
                    info.name
                )
            })?;
            let blessed = e.blessed(&results);
            blessed.write()?;
            eprintln!(
                "blessed {} known failures into {}",
                blessed.len(),
                blessed.path.display()
            );
        }
        for (case, result) in cases.iter().zip(results) {
            reported.push(report_case(case, result, &info.name, mine, &plan_arg));
        }
        infos.push(info);
    }

    let summary = summarize(&reported, &loaded.not_applicable, &infos);
    let unexpected: Vec<&ReportedCase> = reported
        .iter()
        .filter(|r| r.status.is_unexpected())
        .collect();
    for r in unexpected.iter().take(args.show_failures) {
        let what = if r.status == Status::UnexpectedPass {
            "UNEXPECTED PASS"
        } else {
            "FAIL"
        };
        println!("{what} [{}] {}", r.backend, r.id);
        if let Some(reason) = &r.expectation_reason {
            println!("    listed as failing: {reason}");
        }
        for p in r.failing_plans.iter().take(3) {
            println!(
                "    plan {} [{}]: {}",
                p.plan,
                p.failed
                    .iter()
                    .map(|o| o.to_string())
                    .collect::<Vec<_>>()
                    .join("+"),
                p.actual
            );
        }
        if let Some(why) = &r.aborted {
            println!("    {why}");
        }
        if let Some(repro) = &r.repro {
            println!("    repro: {repro}");
        }
    }
    if unexpected.len() > args.show_failures {
        println!(
            "... and {} more unexpected results (see --report)",
            unexpected.len() - args.show_failures
        );
    }
    print!("{}", format_summary(&summary));
    println!(
        "{} cases x {} backend(s), plans: {plan_arg}, in {:.1}s",
        cases.len(),
        backends.len(),
        started.elapsed().as_secs_f64()
    );
    for id in &not_run {
        println!("note: expectation entry not in this run: {id}");
    }

    if let Some(path) = &args.report {
        let report = Report {
            schema: SCHEMA.into(),
            schema_version: SCHEMA_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").into(),
            plans: plan_arg.clone(),
            suites: suites.iter().map(SuiteSpec::argument).collect(),
            backends: infos,
            summary,
            input_errors: loaded.errors.iter().map(ToString::to_string).collect(),
            expectations_not_run: not_run,
            not_applicable: loaded.not_applicable,
            results: reported.clone(),
        };
        let json = serde_json::to_string(&report)?;
        std::fs::write(path, json).with_context(|| format!("writing report {}", path.display()))?;
        println!("report: {}", path.display());
    }

    Ok(if !loaded.errors.is_empty() {
        2
    } else if !unexpected.is_empty() && !args.bless {
        1
    } else {
        0
    })
}

fn report_case(
    case: &Case,
    result: CaseResult,
    backend: &str,
    expectations: Option<&Expectations>,
    plan_arg: &str,
) -> ReportedCase {
    let reason = expectations
        .and_then(|e| e.reason(&case.id))
        .map(str::to_string);
    let status = Status::from_verdict(result.verdict, reason.is_some());
    let repro = (result.verdict == crate::verdict::Verdict::Fail).then(|| {
        let plan = match result.failing_plans.first() {
            Some(p) if p.plan == "cuts" => format!(" --cuts {}", crate::plan::format_cuts(&p.cuts)),
            Some(p) => format!(" --plan '{}'", p.plan),
            None => format!(" {plan_arg}"),
        };
        format!(
            "cargo run -q --release -p streamconform -- run --backend {backend} --suite '{}' --case '{}'{plan}",
            case.suite, case.id
        )
    });
    ReportedCase {
        id: result.id,
        backend: backend.into(),
        suite: case.suite.clone(),
        group: case.group.clone(),
        expected: result.expected,
        verdict: result.verdict,
        status,
        expectation_reason: reason,
        one_shot: result.one_shot,
        plans_run: result.plans_run,
        failing_plans_total: result.failing_plans_total,
        failing_plans: result.failing_plans,
        aborted: result.aborted,
        repro,
    }
}
