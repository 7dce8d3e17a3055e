//! The `streamconform` command: arguments in, the work described as data
//! to the library, consumers picked, the result mapped to an exit code.
//! Exit codes: 0 when nothing is unexpected, 1 when something is, 2 on a
//! usage or input error, 130 when interrupted.

mod args;
mod commands;
mod fuzz;
mod minimize;
mod progress;
mod report;
mod run;
mod terminal;

use args::{Cli, Command};
use clap::{CommandFactory, FromArgMatches};

fn main() {
    std::process::exit(run_cli());
}

fn run_cli() -> i32 {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let result = match cli.command {
        Command::Run(run) => {
            let given = matches
                .subcommand_matches("run")
                .map(args::given_options)
                .unwrap_or_default();
            run::run(run, &given)
        }
        Command::Plans {
            file,
            plans,
            format,
        } => commands::print_plans(&file, &plans, format),
        Command::List {
            suites,
            filter,
            no_truncation,
            limits,
        } => commands::list(&suites, filter.as_deref(), !no_truncation, &limits.limits()),
        Command::Backends => commands::list_backends(),
        Command::Report(report) => report::report_command(report),
        Command::Minimize(minimize) => minimize::minimize_command(minimize),
        Command::Fuzz(fuzz) => fuzz::fuzz_command(fuzz),
    };
    result.unwrap_or_else(|e| {
        // `streamconform ... | head`: the reader is gone; end quietly, as a
        // program killed by SIGPIPE would (exit 141).
        let closed_pipe = e.chain().any(|cause| {
            cause
                .downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
                || matches!(
                    cause.downcast_ref::<streamconform::Error>(),
                    Some(streamconform::Error::Output(io)) if io.kind() == std::io::ErrorKind::BrokenPipe
                )
        });
        if closed_pipe {
            return 141;
        }
        terminal::err(format_args!("error: {e:#}"));
        2
    })
}
