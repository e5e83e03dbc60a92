//! The secrets a config names but never holds: the unsubscribe token secrets (read from an
//! environment variable or a command, refused when weak) and the variables a sending run
//! reads, which `cron-line` lists.

use super::{domain_of, Config, Unsubscribe};

/// Why the unsubscribe token secrets cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The config offers no way to unsubscribe, so there are no tokens to sign.
    #[error("the config offers no way to unsubscribe")]
    NotOffered,
    /// Not at hand: the config names none, or its variable or command gives none.
    #[error("{message}")]
    Missing { key: &'static str, message: String },
    /// At hand, but too weak to sign with: links could be forged.
    #[error("{message}")]
    Weak { key: &'static str, message: String },
}

impl SecretError {
    /// The `[unsubscribe]` key to fix (`secret_env`, `previous_secret_command`...).
    pub fn key(&self) -> Option<&'static str> {
        match self {
            SecretError::NotOffered => None,
            SecretError::Missing { key, .. } | SecretError::Weak { key, .. } => Some(key),
        }
    }
}

/// Which of a secret's two keys the config uses.
fn named(env: &Option<String>, env_key: &'static str, command_key: &'static str) -> &'static str {
    if env.is_some() {
        env_key
    } else {
        command_key
    }
}

impl Unsubscribe {
    /// Whether messages offer a way to unsubscribe, and so need tokens.
    pub fn offered(&self) -> bool {
        self.url.is_some() || self.mailto.is_some()
    }

    /// Reads the token secrets from where the config says.
    /// Reads the token secrets; `known` are values anyone who reads a message knows (the
    /// sender's name and address), which a secret must not be made of.
    pub fn secrets(
        &self,
        known: &[&str],
    ) -> std::result::Result<crate::token::Secrets, SecretError> {
        let read = |what, env_key, command_key, env: &Option<String>, command: &Option<String>| {
            crate::secret::read(&crate::secret::Source {
                what,
                env_key,
                command_key,
                env: env.as_deref(),
                command: command.as_deref(),
            })
        };
        let current = read(
            "the unsubscribe token secret",
            "secret_env",
            "secret_command",
            &self.secret_env,
            &self.secret_command,
        )
        .map_err(|e| SecretError::Missing {
            key: e.key(),
            message: e.to_string(),
        })?
        .ok_or_else(|| SecretError::Missing {
            key: "secret_env",
            message: "[unsubscribe] names no secret: set secret_env (or secret_command)".into(),
        })?;
        let previous = read(
            "the previous unsubscribe token secret",
            "previous_secret_env",
            "previous_secret_command",
            &self.previous_secret_env,
            &self.previous_secret_command,
        )
        .map_err(|e| SecretError::Missing {
            key: e.key(),
            message: e.to_string(),
        })?;
        let weak = |which: &str, key: &str, value: &str| {
            crate::token::weakness(value, known).map(|why| {
                format!(
                    "{which} (from {key}) is too weak: {why}; {}",
                    crate::token::HOW_TO_MAKE
                )
            })
        };
        let key = |env: &Option<String>, env_key: &str, command_key: &str| match env {
            Some(v) => format!("{env_key} {v}"),
            None => command_key.to_string(),
        };
        if let Some(e) = weak(
            "the unsubscribe token secret",
            &key(&self.secret_env, "secret_env", "secret_command"),
            &current,
        ) {
            return Err(SecretError::Weak {
                key: named(&self.secret_env, "secret_env", "secret_command"),
                message: e,
            });
        }
        if let Some(why) = previous
            .as_deref()
            .and_then(|p| crate::token::weakness(p, known))
        {
            let which = named(
                &self.previous_secret_env,
                "previous_secret_env",
                "previous_secret_command",
            );
            return Err(SecretError::Weak {
                key: which,
                message: format!(
                "the previous unsubscribe token secret (from {}) is too weak: {why}. Links signed with it can be forged, so stop accepting them: remove {} (links sent with the old secret then stop working)",
                key(
                    &self.previous_secret_env,
                    "previous_secret_env",
                    "previous_secret_command",
                ),
                which
            ),
            });
        }
        Ok(crate::token::Secrets {
            current: crate::token::Keys::new(&current),
            previous: previous.map(|p| crate::token::Keys::new(&p)),
        })
    }
}

impl Config {
    /// The unsubscribe token secrets, refused when weak or made of what the config itself says
    /// (the sender's name, organisation, address, website, domain).
    pub fn token_secrets(&self) -> std::result::Result<crate::token::Secrets, SecretError> {
        let s = &self.sender;
        let mut known: Vec<&str> = vec![
            &s.name,
            &s.organisation,
            &s.postal_address,
            &s.address,
            domain_of(&s.address),
        ];
        if let Some(w) = &s.website {
            known.push(w);
        }
        self.unsubscribe.secrets(&known)
    }
}

/// A secret the config says to read from an environment variable: what a run of `send` or
/// `due` needs set, and what `cron-line` lists, since cron passes almost no environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretVar {
    /// The variable's name.
    pub var: String,
    /// What it holds, for people ("the SMTP password of smtp.example.org:587").
    pub what: String,
    /// The config key that names it (`password_env`).
    pub key: &'static str,
}

impl Config {
    /// Every environment variable a sending run reads a secret from: each relay's password, the
    /// unsubscribe token secret and the previous one. Each variable once, in the config's order.
    pub fn secret_variables(&self) -> Vec<SecretVar> {
        let mut out: Vec<SecretVar> = Vec::new();
        let mut add = |var: &Option<String>, what: String, key: &'static str| {
            if let Some(var) = var {
                if !out.iter().any(|v| &v.var == var) {
                    out.push(SecretVar {
                        var: var.clone(),
                        what,
                        key,
                    });
                }
            }
        };
        if let Some(smtp) = &self.smtp {
            for r in smtp.each_relay() {
                add(
                    &r.password_env,
                    format!("the SMTP password of {}", r.name()),
                    "password_env",
                );
            }
        }
        let u = &self.unsubscribe;
        if u.offered() {
            add(
                &u.secret_env,
                "the unsubscribe token secret".into(),
                "secret_env",
            );
            add(
                &u.previous_secret_env,
                "the previous unsubscribe token secret".into(),
                "previous_secret_env",
            );
        }
        out
    }
}
