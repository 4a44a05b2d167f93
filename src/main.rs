//! The `roster` binary: arguments in, library calls, exit codes out.

mod cli;

fn main() {
    std::process::exit(cli::main());
}
