//! The `roster` binary: arguments in, library calls, exit codes out.

mod cli;

/// The import's parser thread allocates rows that the writer thread frees;
/// mimalloc handles that cross-thread traffic far better than glibc's
/// allocator (measured: see bench/RESULTS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(cli::main());
}
