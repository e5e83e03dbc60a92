//! One gate: a project's config in, everything that would make `send` refuse before its first
//! connection out, found without connecting, each a typed problem with its file and line. The
//! relays' settings (security against the host, the password's source, `ca_file`), the token
//! secret, the DKIM key, and the journal's continuity. `check` lists them; `send`, `send
//! --dry-run`, `due` and `test-send` refuse on them; `cron-line` lists the variables the same
//! settings read. No caller matches message text: each problem says what it is about.

use std::path::PathBuf;

use super::client::SettingError;
use super::relays::Relays;
use crate::config::{Config, SecretVar};
use crate::journal::Store;

/// What a problem is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// The config has no `[smtp]` section.
    NoRelay,
    /// A relay's setting (0 is `[smtp]`, n the n-th `[[smtp.relays]]`) and its key.
    Relay { relay: usize, key: &'static str },
    /// The unsubscribe token secret cannot be read, or is too weak.
    TokenSecret,
    /// The DKIM key `[dkim]` names cannot sign.
    DkimKey,
    /// The journal is not the one this project sent from (see `journal::Store::check_continuity`).
    Journal,
    /// `[approval] required`, and this version of the campaign is not approved.
    Approval,
}

/// One reason `send` would refuse.
#[derive(Debug, Clone)]
pub struct Problem {
    pub cause: Cause,
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// What the gate is asked to look at besides the config.
#[derive(Clone, Copy, Default)]
pub struct Asked<'a> {
    /// The journal, whose continuity matters to runs that will write deliveries.
    pub journal: Option<&'a Store>,
    /// `--new-journal`: a new journal is accepted.
    pub new_journal: bool,
}

/// What the gate found: the problems, the relays when they can be used, and the environment
/// variables the config reads secrets from.
pub struct Gate {
    pub problems: Vec<Problem>,
    pub relays: Option<Relays>,
    pub variables: Vec<SecretVar>,
}

impl Gate {
    pub fn is_open(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Looks at everything `send` needs before its first connection.
pub fn check(config: &Config, asked: Asked) -> Gate {
    let text = std::fs::read_to_string(&config.file).unwrap_or_default();
    let at = |key: &str| crate::config::key_line(&text, key);
    let mut problems = Vec::new();
    let mut problem = |cause: Cause, line: Option<usize>, message: String| {
        problems.push(Problem {
            cause,
            file: config.file.clone(),
            line,
            message,
        })
    };
    let relays = match &config.smtp {
        None => {
            problem(
                Cause::NoRelay,
                None,
                format!(
                    "{} has no [smtp] section: add one with the relay's host (see config.example.toml)",
                    config.file.display()
                ),
            );
            None
        }
        Some(smtp) => match Relays::new(smtp, &config.root, &config.rate) {
            Ok(r) => Some(r),
            Err(refused) => {
                for (relay, SettingError { key, message }) in refused {
                    // With several relays, which one.
                    let which = match (relay, smtp.relays.is_empty()) {
                        (_, true) => String::new(),
                        (0, false) => "[smtp]: ".to_string(),
                        (n, false) => format!("[[smtp.relays]] number {n}: "),
                    };
                    problem(
                        Cause::Relay { relay, key },
                        crate::config::relay_line(&text, relay, key),
                        format!("{which}{message}"),
                    );
                }
                None
            }
        },
    };
    if config.unsubscribe.offered() {
        if let Err(e) = config.token_secrets() {
            problem(
                Cause::TokenSecret,
                e.key()
                    .and_then(at)
                    .or(at("secret_env"))
                    .or(at("secret_command")),
                format!("cannot sign unsubscribe links: {e} (previews work without it, with a placeholder token)"),
            );
        }
    }
    if let Some(Err(e)) = crate::project::signer(config) {
        problem(
            Cause::DkimKey,
            at("key_file"),
            format!("cannot sign messages with DKIM as [dkim] asks: {e}"),
        );
    }
    if let Some(store) = asked.journal {
        if let Err(e) = store.check_continuity(asked.new_journal) {
            problems.push(Problem {
                cause: Cause::Journal,
                file: store.path().to_path_buf(),
                line: None,
                message: e.to_string(),
            });
        }
    }
    Gate {
        problems,
        relays,
        variables: variables(config),
    }
}

/// The environment variables the gate's settings read secrets from (each relay's password, the
/// token secret and the previous one), without reading them: for `cron-line`, which must not
/// run a `password_command`.
pub fn variables(config: &Config) -> Vec<SecretVar> {
    config.secret_variables()
}

/// The campaign's approval, when `[approval] required`: the problem when this version of it
/// is not approved (never, or changed since), naming what changed.
pub fn approval(p: &crate::project::Prepared, store: &Store) -> crate::Result<Option<Problem>> {
    let journal = store.existing()?;
    let standing = crate::approval::standing(p, journal.as_deref())?;
    Ok(standing.refusal(&p.campaign.id).map(|message| Problem {
        cause: Cause::Approval,
        file: p.campaign.path.clone(),
        line: None,
        message,
    }))
}
