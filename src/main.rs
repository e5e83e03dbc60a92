//! The `bulletin` command: parses the command line and hands it to the library.

use std::process::ExitCode;

use clap::Parser;

// The pipeline allocates and frees many short strings per message on every core; mimalloc
// does that markedly faster than the system allocator (see bench/preview.sh).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    bulletin::interrupt::install();
    // `init` creates the project, config included: it is parsed without the others' --config.
    if std::env::args_os().nth(1).is_some_and(|a| a == "init") {
        return ExitCode::from(bulletin::cli::init::Alone::parse_args().run().code());
    }
    let cli = bulletin::cli::Cli::parse();
    ExitCode::from(bulletin::cli::run(cli).code())
}
