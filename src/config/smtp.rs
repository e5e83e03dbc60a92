//! The `[smtp]` section in: the relay, or relays, that messages go through, each as a whole
//! setting of its own.

use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// TLS from the first byte (port 465).
    Tls,
    /// Plain connection upgraded with STARTTLS, which must succeed (port 587).
    #[default]
    Starttls,
    /// No encryption: allowed to a loopback relay, or elsewhere only with `allow_insecure`.
    Plain,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smtp {
    pub host: String,
    pub port: Option<u16>,
    #[serde(default)]
    pub security: Security,
    pub username: Option<String>,
    /// Name of the environment variable that holds the password.
    pub password_env: Option<String>,
    /// A command whose first line of output is the password (`pass show smtp/relay`).
    pub password_command: Option<String>,
    /// Permits `security = "plain"` to a relay that is not on this machine.
    #[serde(default)]
    pub allow_insecure: bool,
    /// The envelope sender (Return-Path): where bounces go. Defaults to the From address; set it
    /// to a mailbox the team reads, or that `bulletin bounces import` reads.
    pub envelope_from: Option<String>,
    /// VERP: each message's envelope sender is `LOCAL+KEY@DOMAIN` of `envelope_from`, KEY naming
    /// the recipient and campaign, so that a bounce names its recipient even when the relay's
    /// report is mangled. The relay's mailbox must accept `LOCAL+anything` (most do).
    #[serde(default)]
    pub verp: bool,
    /// The relay speaks SMTPUTF8 (RFC 6531), so addresses with letters outside ASCII before the
    /// @ can be delivered; checked again when connecting. Domains outside ASCII need nothing:
    /// they go as punycode.
    #[serde(default)]
    pub smtputf8: bool,
    #[serde(default = "default_connections")]
    pub connections: usize,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Name given in EHLO; defaults to this machine's host name.
    pub helo_name: Option<String>,
    /// A PEM file of certificates to trust besides the public ones (an institute's own CA).
    pub ca_file: Option<PathBuf>,
    /// Tries per message within one run for temporary failures (4xx, dropped connection).
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// Wait before the first retry, in seconds; doubled at each further try.
    #[serde(default = "default_retry_delay")]
    pub retry_delay_secs: f64,
    /// The run stops after this many failures in a row: the relay is down or refuses everything.
    #[serde(default = "default_max_consecutive")]
    pub max_consecutive_failures: u32,
    /// This relay's share of the connections beside the `relays`.
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// This relay's own limits, within the run's `[rate]`: what one relay (an ESP's plan, a
    /// colleague's Postfix) accepts.
    pub per_second: Option<f64>,
    pub per_hour: Option<u32>,
    pub per_day: Option<u32>,
    /// More relays to spread the connections over, by weight: each `[[smtp.relays]]` names its
    /// host and takes every other setting from `[smtp]` unless it gives its own.
    #[serde(default)]
    pub relays: Vec<Relay>,
}

/// One of `[[smtp.relays]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Relay {
    pub host: String,
    pub port: Option<u16>,
    pub security: Option<Security>,
    pub username: Option<String>,
    pub password_env: Option<String>,
    pub password_command: Option<String>,
    pub allow_insecure: Option<bool>,
    pub helo_name: Option<String>,
    pub ca_file: Option<PathBuf>,
    #[serde(default = "default_weight")]
    pub weight: u32,
    pub per_second: Option<f64>,
    pub per_hour: Option<u32>,
    pub per_day: Option<u32>,
}

impl Smtp {
    /// The relay's name in the journal and in reports.
    pub fn name(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.clone(),
        }
    }

    /// Every relay as a whole `[smtp]` of its own: the first is `[smtp]` itself, the others
    /// take what they do not set from it.
    pub fn each_relay(&self) -> Vec<Smtp> {
        let mut all = vec![Smtp {
            relays: Vec::new(),
            ..self.clone()
        }];
        for r in &self.relays {
            // A relay with its own user keeps its own password source, never the first's.
            let own_login = r.username.is_some();
            all.push(Smtp {
                host: r.host.clone(),
                port: r.port,
                security: r.security.unwrap_or(self.security),
                username: r.username.clone().or_else(|| self.username.clone()),
                password_env: if own_login {
                    r.password_env.clone()
                } else {
                    r.password_env.clone().or_else(|| self.password_env.clone())
                },
                password_command: if own_login {
                    r.password_command.clone()
                } else {
                    r.password_command
                        .clone()
                        .or_else(|| self.password_command.clone())
                },
                allow_insecure: r.allow_insecure.unwrap_or(self.allow_insecure),
                helo_name: r.helo_name.clone().or_else(|| self.helo_name.clone()),
                ca_file: r.ca_file.clone().or_else(|| self.ca_file.clone()),
                weight: r.weight,
                per_second: r.per_second,
                per_hour: r.per_hour,
                per_day: r.per_day,
                relays: Vec::new(),
                ..self.clone()
            });
        }
        all
    }
}

fn default_weight() -> u32 {
    1
}

fn default_attempts() -> u32 {
    3
}
fn default_retry_delay() -> f64 {
    2.0
}
fn default_max_consecutive() -> u32 {
    20
}

fn default_connections() -> usize {
    4
}
fn default_timeout() -> u64 {
    30
}
