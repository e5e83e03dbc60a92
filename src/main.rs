//! The `bulletin` command: parses the command line and hands it to the library.

use std::process::ExitCode;

use clap::Parser;

// The pipeline allocates and frees many short strings per message on every core; mimalloc
// does that markedly faster than the system allocator (see bench/preview.sh).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    bulletin::interrupt::install();
    let cli = bulletin::cli::Cli::parse();
    ExitCode::from(bulletin::cli::run(cli).code())
}
