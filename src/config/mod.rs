//! `bulletin.toml` in, a validated [`Config`] out: sender identity, languages, interests, folder
//! paths (resolved against the config file's folder), and the SMTP and rate settings of `send`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::problems::Problems;

mod secrets;
mod smtp;
mod toml_text;
mod validate;
use crate::{Error, Result};
pub use secrets::{SecretError, SecretVar};
pub use smtp::{Relay, Security, Smtp};
pub use toml_text::{key_line, line_of, parse_toml};
pub use validate::relay_line;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Tags that updates, campaigns and contacts may use. Empty means any tag is accepted.
    #[serde(default)]
    pub interests: Vec<String>,
    pub sender: Sender,
    pub languages: Languages,
    #[serde(default)]
    pub paths: Paths,
    #[serde(default)]
    pub lists: Lists,
    #[serde(default)]
    pub site: Site,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub unsubscribe: Unsubscribe,
    pub smtp: Option<Smtp>,
    #[serde(default)]
    pub rate: Rate,
    #[serde(default)]
    pub schedule: ScheduleConfig,
    #[serde(default)]
    pub serve: Serve,
    #[serde(default)]
    pub bounces: Bounces,
    pub dkim: Option<Dkim>,
    /// The sign-up form `serve` offers, when present.
    pub signup: Option<Signup>,
    /// Clearance: who must approve a campaign before it goes.
    pub approval: Option<Approval>,

    /// The folder holding the config file; every relative path is read against it.
    #[serde(skip)]
    pub root: PathBuf,
    #[serde(skip)]
    pub file: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sender {
    pub name: String,
    pub address: String,
    pub reply_to: Option<String>,
    pub organisation: String,
    pub postal_address: String,
    pub website: Option<String>,
    /// `List-Id` value; defaults to `bulletin.` + the sender's domain.
    pub list_id: Option<String>,
    /// Domain of generated Message-IDs; defaults to the sender's domain.
    pub message_id_domain: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Fallback {
    /// Contacts with no usable language get the default language.
    #[default]
    Default,
    /// Contacts with no usable language get every supported language in one message.
    Bilingual,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Languages {
    pub supported: Vec<String>,
    pub default: String,
    #[serde(default)]
    pub fallback: Fallback,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Paths {
    pub templates: PathBuf,
    pub lists: PathBuf,
    pub updates: PathBuf,
    pub campaigns: PathBuf,
    pub journal: PathBuf,
    pub preview: PathBuf,
    /// Files that campaigns and updates attach (`attachments = ["report.pdf"]`).
    pub attachments: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Self {
            templates: "templates".into(),
            lists: "lists".into(),
            updates: "updates".into(),
            campaigns: "campaigns".into(),
            journal: "bulletin.sqlite".into(),
            preview: "preview".into(),
            attachments: "attachments".into(),
        }
    }
}

/// Sizes a message may reach.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// A message whose attachments would make it larger than this (in MB, as sent, encoded)
    /// is refused by `check`; above 5 MB it warns, as many mailboxes refuse large mail.
    pub max_message_mb: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_mb: 15.0,
        }
    }
}

/// The team's website, against which relative links in updates are resolved.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Such as "https://disarmament-insight.example.org/news/": `[report](report.pdf)` in an
    /// update then links to `https://disarmament-insight.example.org/news/report.pdf`.
    pub base_url: Option<String>,
    /// Where `bulletin archive`'s site is published, such as
    /// "https://disarmament-insight.example.org/archive/": messages then link to their web
    /// copy (`archive_url` in templates), and the feeds carry absolute addresses.
    pub archive_url: Option<String>,
}

/// How contact lists are read.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Lists {
    /// Headers of the team's exports mapped to what bulletin reads from them, for headers it
    /// does not know already: `"Mail pro" = "email"`.
    #[serde(default)]
    pub columns: std::collections::BTreeMap<String, Column>,
    /// Interest values as the team's exports write them, mapped to the project's tags:
    /// `"Mines antipersonnel" = "landmines"`. Each language's `[interests]` labels in the
    /// i18n files are understood already.
    #[serde(default)]
    pub interests: std::collections::BTreeMap<String, String>,
}

/// What a contact list's column holds, as far as bulletin is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Column {
    Email,
    Name,
    FirstName,
    LastName,
    Language,
    Interests,
    Organisation,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Unsubscribe {
    /// Per-recipient link (`https://.../u/{token}`): `{token}` is replaced by the recipient's
    /// signed token, `{campaign}` by the campaign id. Never `{email}`.
    pub url: Option<String>,
    /// The recipient's preference page (`https://.../p/{token}`), with the same token as the
    /// unsubscribe link: templates show it as `preferences_url`.
    pub preferences_url: Option<String>,
    /// Address for mail-based unsubscribing, offered beside the link in `List-Unsubscribe`,
    /// with the token in the subject.
    pub mailto: Option<String>,
    /// Where the token secret comes from: an environment variable's name, or a command.
    pub secret_env: Option<String>,
    pub secret_command: Option<String>,
    /// The secret used before the current one, so that links sent before a rotation still work.
    pub previous_secret_env: Option<String>,
    pub previous_secret_command: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rate {
    pub per_second: f64,
    pub burst: u32,
    pub per_hour: Option<u32>,
    pub per_day: Option<u32>,
}

impl Default for Rate {
    fn default() -> Self {
        Self {
            per_second: 10.0,
            burst: 10,
            per_hour: None,
            per_day: None,
        }
    }
}

/// DKIM signing of every message (RFC 6376): the key that signs, and where receivers find its
/// public half (`SELECTOR._domainkey.DOMAIN` in DNS).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dkim {
    /// The signing domain (`d=`). Defaults to the From address's domain; for DMARC it must be
    /// that domain or one it belongs to. Validation leaves it in ASCII (punycode).
    pub domain: Option<String>,
    /// The name of the key under `_domainkey` (`s=`), such as "bulletin2026".
    pub selector: String,
    /// The private key in PEM (`bulletin dkim keygen` writes one). Keep it out of version
    /// control and readable only by the user who sends.
    pub key_file: PathBuf,
}

/// How `bulletin bounces import` treats temporary failures.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Bounces {
    /// An address that soft-bounced in this many consecutive campaigns is suppressed.
    pub soft_limit: u32,
}

impl Default for Bounces {
    fn default() -> Self {
        Self { soft_limit: 3 }
    }
}

/// Where `bulletin serve` listens: loopback by default, behind the institute's reverse proxy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Serve {
    pub listen: String,
    /// Connections served at once; one more gets a 503 and is closed.
    pub max_connections: usize,
    /// Seconds for a request's headers to arrive, and for which a keep-alive connection may
    /// sit idle, before the connection is closed.
    pub header_timeout_secs: f64,
}

impl Default for Serve {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8025".into(),
            max_connections: 512,
            header_timeout_secs: 10.0,
        }
    }
}

/// Clearance before sending: `send`, `due` and `schedule` refuse a campaign without an
/// approval of exactly what goes out.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    #[serde(default)]
    pub required: bool,
    /// Who `approve --request` mails the samples and the approval link to.
    #[serde(default)]
    pub approvers: Vec<String>,
    /// The approval link (`https://.../approve/{token}`), answered by `serve`.
    pub approve_url: Option<String>,
    /// Days an approval link works.
    #[serde(default = "default_expiry_days")]
    pub expires_days: u32,
}

/// The double opt-in sign-up form of `bulletin serve`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signup {
    /// The confirmation link mailed to whoever signs up (`https://.../confirm/{token}`).
    pub confirm_url: String,
    /// Days a confirmation link works.
    #[serde(default = "default_expiry_days")]
    pub expires_days: u32,
    /// Confirmation mails to one address in a day, whoever asks.
    #[serde(default = "default_per_address")]
    pub per_address_per_day: u32,
    /// Confirmation mails asked for from one client address (IP) in a day.
    #[serde(default = "default_per_client")]
    pub per_client_per_day: u32,
    /// Confirmation mails in a day, all told: a flood from many clients stops here.
    #[serde(default = "default_signup_per_day")]
    pub max_per_day: u32,
    /// Take the client's address from this header (set by your proxy, such as
    /// "X-Forwarded-For"): behind a proxy every request comes from the proxy's address.
    pub client_header: Option<String>,
}

fn default_expiry_days() -> u32 {
    7
}
fn default_per_address() -> u32 {
    3
}
fn default_per_client() -> u32 {
    20
}
fn default_signup_per_day() -> u32 {
    500
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// The zone in which local send times and windows are read, such as "Europe/Zurich".
    #[serde(default = "default_tz")]
    pub timezone: String,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            timezone: default_tz(),
        }
    }
}

fn default_tz() -> String {
    "UTC".into()
}

/// A tag as the project writes it: lower case, words joined by hyphens.
pub fn normalize_tag(raw: &str) -> String {
    let lowered = raw.trim().to_lowercase();
    let mut out = String::with_capacity(lowered.len());
    for word in lowered.split(|c: char| c.is_whitespace() || c == '_' || c == '-') {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(word);
    }
    out
}

pub fn valid_address(addr: &str) -> bool {
    addr.parse::<lettre::Address>().is_ok()
}

/// A name DNS takes as it is: dot-separated labels of letters, digits and inner hyphens.
pub fn is_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

pub fn domain_of(addr: &str) -> &str {
    addr.rsplit_once('@').map(|(_, d)| d).unwrap_or("localhost")
}

impl Config {
    /// Loads and validates the config file, listing every mistake found.
    pub fn load(file: &Path) -> Result<Config> {
        let text =
            crate::limits::read_text_capped(file, crate::limits::TEXT_FILE).map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    Error::NoConfig(file.to_path_buf())
                } else {
                    Error::io("read", file, e)
                }
            })?;
        let mut problems = Problems::new();
        let Some(mut config) = parse_toml::<Config>(&text, file, &mut problems) else {
            return Err(Error::Invalid(problems));
        };
        let abs = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
        config.root = abs.parent().map(Path::to_path_buf).unwrap_or_default();
        config.file = file.to_path_buf();
        config.validate(&text, &mut problems);
        problems.into_result()?;
        Ok(config)
    }

    pub fn path(&self, rel: &Path) -> PathBuf {
        if rel.is_absolute() {
            rel.to_path_buf()
        } else {
            self.root.join(rel)
        }
    }

    pub fn templates_dir(&self) -> PathBuf {
        self.path(&self.paths.templates)
    }
    pub fn lists_dir(&self) -> PathBuf {
        self.path(&self.paths.lists)
    }
    pub fn updates_dir(&self) -> PathBuf {
        self.path(&self.paths.updates)
    }
    pub fn campaigns_dir(&self) -> PathBuf {
        self.path(&self.paths.campaigns)
    }
    pub fn journal_path(&self) -> PathBuf {
        self.path(&self.paths.journal)
    }
    pub fn attachments_dir(&self) -> PathBuf {
        self.path(&self.paths.attachments)
    }
    pub fn preview_dir(&self) -> PathBuf {
        self.path(&self.paths.preview)
    }

    /// `[site] base_url` as a URL ending in `/`, if it is one (validation reports it if not).
    pub fn base_url(&self) -> Option<ammonia::Url> {
        site_url(self.site.base_url.as_deref()?)
    }

    /// `[site] archive_url` as a URL ending in `/`, if it is one.
    pub fn archive_url(&self) -> Option<ammonia::Url> {
        site_url(self.site.archive_url.as_deref()?)
    }
}

/// A site address as a URL ending in `/`: relative links resolve inside it.
fn site_url(raw: &str) -> Option<ammonia::Url> {
    let raw = raw.trim();
    let with_slash = if raw.ends_with('/') {
        raw.to_string()
    } else {
        format!("{raw}/")
    };
    ammonia::Url::parse(&with_slash)
        .ok()
        .filter(|u| matches!(u.scheme(), "https" | "http"))
}

impl Config {
    /// The zone of local times; UTC when the config's is not valid (validation reports it).
    pub fn tz(&self) -> chrono_tz::Tz {
        crate::window::parse_tz(&self.schedule.timezone).unwrap_or(chrono_tz::UTC)
    }

    pub fn list_id(&self) -> String {
        self.sender
            .list_id
            .clone()
            .unwrap_or_else(|| format!("bulletin.{}", domain_of(&self.sender.address)))
    }

    /// The DKIM signing domain, in ASCII: the configured one, else the From address's domain.
    pub fn dkim_domain(&self) -> Option<String> {
        let d = self.dkim.as_ref()?;
        let name = d
            .domain
            .clone()
            .unwrap_or_else(|| domain_of(&self.sender.address).to_string());
        Some(crate::address::wire(&format!("x@{name}"))[2..].to_ascii_lowercase())
    }

    pub fn message_id_domain(&self) -> String {
        self.sender
            .message_id_domain
            .clone()
            .unwrap_or_else(|| domain_of(&self.sender.address).to_string())
    }

    /// Whether a tag is one the project declared (any tag is, when none are declared).
    pub fn knows_interest(&self, tag: &str) -> bool {
        self.interests.is_empty() || self.interests.iter().any(|t| t == tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_normalized() {
        assert_eq!(normalize_tag(" Small Arms "), "small-arms");
        assert_eq!(normalize_tag("peace_operations"), "peace-operations");
        assert_eq!(normalize_tag("LANDMINES"), "landmines");
    }
}
