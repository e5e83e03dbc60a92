//! A relay's settings as a run uses them: the config's `[smtp]` section (or one of its
//! `[[smtp.relays]]`) checked and resolved once per run, the password read from the
//! environment and the pinned certificates loaded.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::TlsParameters;
use lettre::transport::smtp::extension::ClientId;

use super::trust::Trust;
use crate::config::{Security, Smtp};

/// Where and how to reach the relay, resolved once per run (password included).
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub helo: ClientId,
    pub credentials: Option<Credentials>,
    pub timeout: Duration,
    pub(super) tls: Option<TlsParameters>,
    /// What `ca_file` vouches for, checked once the connection is encrypted.
    pub(super) trust: Option<Arc<Trust>>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never prints the password.
        write!(f, "{}:{} ({:?})", self.host, self.port, self.security)
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A relay setting that cannot work, with the config key to fix: found before connecting.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SettingError {
    /// The key of the relay's table the problem is about (`security`, `password_env`).
    pub key: &'static str,
    pub message: String,
}

fn setting(key: &'static str, message: String) -> SettingError {
    SettingError { key, message }
}

/// Reads the SMTP password from the environment variable or command the config names.
fn password(smtp: &Smtp) -> Result<Option<String>, SettingError> {
    crate::secret::read(&crate::secret::Source {
        what: "the SMTP password",
        env_key: "password_env",
        command_key: "password_command",
        env: smtp.password_env.as_deref(),
        command: smtp.password_command.as_deref(),
    })
    .map_err(|e| setting(e.key(), e.to_string()))
}

impl Settings {
    pub fn from_config(smtp: &Smtp, root: &Path) -> Result<Settings, SettingError> {
        let port = smtp.port.unwrap_or(match smtp.security {
            Security::Tls => 465,
            Security::Starttls => 587,
            Security::Plain => 25,
        });
        if smtp.security == Security::Plain && !smtp.allow_insecure && !is_loopback(&smtp.host) {
            return Err(setting(
                "security",
                format!(
                    "security = \"plain\" would send passwords and messages unencrypted to {}: use \"starttls\" or \"tls\", or set allow_insecure = true if the network is trusted",
                    smtp.host
                ),
            ));
        }
        let mut trust = None;
        let tls = if smtp.security == Security::Plain {
            None
        } else {
            let mut b = TlsParameters::builder(smtp.host.clone());
            if let Some(ca) = &smtp.ca_file {
                let path = if ca.is_absolute() {
                    ca.clone()
                } else {
                    root.join(ca)
                };
                trust = Some(Arc::new(
                    Trust::from_file(&path).map_err(|e| setting("ca_file", e.to_string()))?,
                ));
                // The relay's certificate is then checked by `Trust` after the handshake, which
                // can pin a self-signed certificate that webpki refuses as a CA used as a leaf.
                b = b
                    .dangerous_accept_invalid_certs(true)
                    .dangerous_accept_invalid_hostnames(true);
            }
            Some(
                b.build_rustls()
                    .map_err(|e| setting("security", format!("TLS settings: {e}")))?,
            )
        };
        let helo = match &smtp.helo_name {
            Some(n) => ClientId::Domain(n.clone()),
            None => ClientId::default(),
        };
        let credentials = match (&smtp.username, password(smtp)?) {
            (Some(u), Some(p)) => Some(Credentials::new(u.clone(), p)),
            (Some(u), None) => {
                return Err(setting(
                    "username",
                    format!(
                    "username is {u} but no password source: set password_env or password_command"
                ),
                ))
            }
            _ => None,
        };
        Ok(Settings {
            host: smtp.host.clone(),
            port,
            security: smtp.security,
            helo,
            credentials,
            timeout: Duration::from_secs(smtp.timeout_secs),
            tls,
            trust,
        })
    }

    pub fn describe(&self) -> String {
        let sec = match self.security {
            Security::Tls => "TLS",
            Security::Starttls => "STARTTLS",
            Security::Plain => "unencrypted",
        };
        format!(
            "{}:{} ({sec}{})",
            self.host,
            self.port,
            if self.credentials.is_some() {
                ", authenticated"
            } else {
                ""
            }
        )
    }
}
