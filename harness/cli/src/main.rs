//! The `streamconform` command: arguments in, a run described as data to
//! the library, consumers picked, the result mapped to an exit code.

mod cli;
mod fuzz;
mod minimize;
mod progress;

fn main() {
    std::process::exit(cli::main());
}
