//! `bulletin serve`: the project in, the pages its links point to, running.

use std::net::SocketAddr;
use std::path::Path;

use super::{load, Exit};

#[derive(clap::Args)]
pub struct Args {
    /// Address and port to listen on [default: the config's [serve] listen, else 127.0.0.1:8025].
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<SocketAddr>,
    /// Accept a journal made anew although the project has sent before (the old one is lost
    /// and no backup is left): unsubscribes, choices and sign-ups come back from the copies
    /// beside it.
    #[arg(long)]
    new_journal: bool,
}

pub fn run(config: &Path, a: Args) -> anyhow::Result<Exit> {
    let config = load(config)?;
    let listen = match a.listen {
        Some(l) => l,
        None => config.serve.listen.parse()?,
    };
    crate::serve::run(
        &config,
        super::store(&config),
        listen,
        a.new_journal,
        |bound, signup| {
            use std::io::Write;
            let signup = if signup {
                "sign-up: /subscribe, /confirm/TOKEN"
            } else {
                "sign-up: closed"
            };
            println!("listening on http://{bound} (unsubscribe: /u/TOKEN; preferences: /p/TOKEN; {signup}; approval: /approve/TOKEN; health: /healthz)");
            let _ = std::io::stdout().flush();
        },
    )?;
    Ok(Exit::Success)
}
