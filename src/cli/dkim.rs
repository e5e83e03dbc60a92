//! `bulletin dkim keygen`: a selector in, a new private key in a file only its owner can read
//! out, with the DNS record to publish and the `[dkim]` lines to add printed. `bulletin dkim
//! record`: the configured key's DNS record, printed again.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::Exit;
use crate::config::Config;
use crate::sign::{self, Algorithm};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(clap::Subcommand)]
enum Sub {
    /// Make a key pair: the private key goes to a file, the DNS record to publish is printed.
    #[command(
        after_help = "Examples:\n  bulletin dkim keygen --selector bulletin2026\n  bulletin dkim keygen --selector ed2026 --algorithm ed25519 --out /etc/bulletin/ed2026.pem\n\nThe key file is created readable only by you, and never overwritten. In the default\nfolder (dkim/ beside the config) a .gitignore keeps keys out of version control."
    )]
    Keygen(Keygen),

    /// Print the DNS record of the key the config's [dkim] names.
    Record,
}

#[derive(clap::Args)]
struct Keygen {
    /// The key's name in DNS (the s= tag), new for each key: such as bulletin2026.
    #[arg(long)]
    selector: String,

    /// The signing domain (d=). Defaults to the config's [dkim] domain, else the From
    /// address's domain.
    #[arg(long)]
    domain: Option<String>,

    /// rsa: verified by every receiver. ed25519: short, but some large receivers do not verify
    /// it yet, so alone it may count as no signature.
    #[arg(long, value_enum, default_value_t = Alg::Rsa)]
    algorithm: Alg,

    /// The RSA key's size: 2048 (the default), 3072 or 4096.
    #[arg(long)]
    bits: Option<usize>,

    /// Where to write the private key. Defaults to dkim/SELECTOR.pem beside the config.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Alg {
    Rsa,
    Ed25519,
}

pub fn run(config_path: &Path, a: Args) -> anyhow::Result<Exit> {
    match a.command {
        Sub::Keygen(k) => keygen(config_path, k),
        Sub::Record => record(config_path),
    }
}

fn record(config_path: &Path) -> anyhow::Result<Exit> {
    let config = crate::config::Config::load(config_path)?;
    let Some(signer) = crate::project::signer(&config) else {
        bail!(
            "{} has no [dkim] section: make a key with `bulletin dkim keygen --selector NAME`",
            config_path.display()
        );
    };
    let signer = signer.map_err(anyhow::Error::msg)?;
    print_record(&signer);
    Ok(Exit::Success)
}

fn print_record(signer: &sign::Signer) {
    println!(
        "Publish this TXT record in the DNS of {}:\n",
        signer.domain()
    );
    println!(
        "  {}.  IN TXT  ( {} )\n",
        signer.dns_name(),
        crate::dns::zone_strings(&signer.dns_value())
    );
    println!(
        "(DNS consoles that take the value alone: {})\n",
        signer.dns_value()
    );
}

fn keygen(config_path: &Path, k: Keygen) -> anyhow::Result<Exit> {
    let config = optional_config(config_path, &k)?;
    let domain = key_domain(config_path, &k, config.as_ref())?;
    if !crate::config::is_dns_name(&k.selector) {
        bail!("--selector \"{}\" must be letters, digits and hyphens (dots between parts), such as bulletin2026: it becomes a DNS name", k.selector);
    }
    if !crate::config::is_dns_name(&domain) || !domain.contains('.') {
        bail!("\"{domain}\" is not a domain name such as example.org");
    }
    let (algorithm, bits) = key_kind(&k)?;
    let root = config
        .as_ref()
        .map_or_else(PathBuf::new, |c| c.root.clone());
    let default_dir = root.join("dkim");
    let out = match &k.out {
        // As given, from the current folder; shown below relative to the config when inside it.
        Some(o) => std::path::absolute(o).unwrap_or_else(|_| o.clone()),
        None => default_dir.join(format!("{}.pem", k.selector)),
    };
    if out.exists() {
        bail!(
            "{} already exists, and a key is never overwritten: choose another --selector (each new key gets a new one) or --out. `bulletin dkim record` prints the record of the key the config names",
            out.display()
        );
    }
    let pem = sign::generate(algorithm, bits)?;
    let signer = sign::Signer::from_pem(&pem, &domain, &k.selector)?;
    create_parent(&out, &default_dir)?;
    write_new_private(&out, pem.as_bytes())?;

    // key_file is read against the config's folder: relative when the key is inside it.
    let shown = config
        .as_ref()
        .and_then(|c| out.strip_prefix(&c.root).ok())
        .map_or_else(|| out.clone(), Path::to_path_buf);
    println!(
        "Wrote the private key to {} ({}, {} bits), readable only by you. Back it up where\nsecrets go, never in version control.\n",
        out.display(),
        algorithm.name(),
        signer.bits()
    );
    print_record(&signer);
    println!("Then add to the config:\n");
    println!(
        "  [dkim]\n  domain = \"{domain}\"\n  selector = \"{}\"\n  key_file = \"{}\"\n",
        k.selector,
        shown.display()
    );
    println!("`bulletin check` then shows every record the domain needs; once the record is live,\ntry a message with `bulletin test-send`.");
    Ok(Exit::Success)
}

/// The config is optional here: a key can be made before the project exists, and with
/// --domain a config that does not load yet is no obstacle.
fn optional_config(config_path: &Path, k: &Keygen) -> anyhow::Result<Option<Config>> {
    Ok(if config_path.exists() {
        match crate::config::Config::load(config_path) {
            Ok(c) => Some(c),
            Err(e) if k.domain.is_some() => {
                eprintln!(
                    "note: {} does not load, so the key goes beside the current folder ({e})",
                    config_path.display()
                );
                None
            }
            Err(e) => return Err(e.into()),
        }
    } else {
        None
    })
}

/// The domain the key signs for: --domain, else the config's [dkim] domain, else its From's.
fn key_domain(config_path: &Path, k: &Keygen, config: Option<&Config>) -> anyhow::Result<String> {
    Ok(match (&k.domain, config) {
        (Some(d), _) => crate::address::wire(&format!("x@{d}"))[2..].to_ascii_lowercase(),
        (None, Some(c)) => match c.dkim_domain() {
            Some(d) => d,
            None => crate::config::domain_of(&crate::address::wire(&c.sender.address))
                .to_ascii_lowercase(),
        },
        (None, None) => bail!(
            "no config at {} to take the domain from: give --domain example.org",
            config_path.display()
        ),
    })
}

/// The algorithm and size asked for, with RSA's 2048 bits when none is given.
fn key_kind(k: &Keygen) -> anyhow::Result<(Algorithm, usize)> {
    let algorithm = match k.algorithm {
        Alg::Rsa => Algorithm::Rsa,
        Alg::Ed25519 => Algorithm::Ed25519,
    };
    Ok((
        algorithm,
        match (algorithm, k.bits) {
            (Algorithm::Ed25519, Some(_)) => {
                bail!("--bits is for RSA keys: an Ed25519 key has one size")
            }
            (Algorithm::Ed25519, None) => 256,
            (Algorithm::Rsa, None) => 2048,
            (Algorithm::Rsa, Some(b)) if sign::RSA_SIZES.contains(&b) => b,
            (Algorithm::Rsa, Some(b)) => {
                bail!("--bits {b}: an RSA key for DKIM has 2048, 3072 or 4096 bits (2048 is usual)")
            }
        },
    ))
}

/// The key's folder: the default one private and ignored by git, another made as asked.
fn create_parent(out: &Path, default_dir: &Path) -> anyhow::Result<()> {
    match out.parent() {
        Some(dir) if dir == default_dir => create_private_dir(default_dir)?,
        Some(dir) if !dir.as_os_str().is_empty() && !dir.exists() => {
            let mut b = std::fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
            b.create(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        _ => {}
    }
    Ok(())
}

/// The default keys folder: only its owner may enter it, and git ignores what is in it.
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        let mut b = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let ignore = dir.join(".gitignore");
    if !ignore.exists() {
        std::fs::write(&ignore, "# Private keys: never commit them.\n*\n")
            .with_context(|| format!("cannot write {}", ignore.display()))?;
    }
    Ok(())
}

/// Writes `bytes` to a new file readable only by its owner. The key is written whole to a
/// temporary file first and linked into place, so an interruption leaves no half key behind and
/// an existing file is never replaced.
fn write_new_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let guard = crate::interrupt::Guard::new();
    let written = (|| -> std::io::Result<()> {
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        let mut f = o.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        if crate::interrupt::requested() {
            return Err(std::io::Error::other("interrupted"));
        }
        std::fs::hard_link(&tmp, path)
    })();
    let _ = std::fs::remove_file(&tmp);
    drop(guard);
    // Once linked, the key is whole: an interruption after that loses nothing.
    if written.is_err() && crate::interrupt::requested() {
        return Err(crate::Error::Interrupted(crate::interrupt::signal_name()).into());
    }
    written.with_context(|| format!("cannot write the key to {}", path.display()))
}
