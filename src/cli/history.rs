//! `bulletin history ADDRESS`: everything bulletin knows of one address, for a data-protection
//! request.

use std::path::Path;

use super::{clean, load, Exit};

#[derive(clap::Args)]
pub struct Args {
    /// The address.
    #[arg(value_name = "ADDRESS")]
    address: String,
    /// As JSON on stdout.
    #[arg(long)]
    json: bool,
}

pub fn run(config: &Path, a: Args) -> anyhow::Result<Exit> {
    let config = load(config)?;
    let store = super::store(&config);
    let h = crate::history::of(&config, &store, &a.address)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&h)?);
    } else {
        print!("{}", clean(&crate::history::text(&h)));
    }
    Ok(Exit::Success)
}
