//! Secrets that never live in files: the name of an environment variable, or a command that
//! prints the secret (`pass show smtp/relay`), in; the secret out, or a message saying how to
//! provide it.

/// Where a secret comes from, as the config names it.
pub struct Source<'a> {
    /// What the secret is for, in messages ("the SMTP password").
    pub what: &'static str,
    /// The config keys that name its sources, in messages ("password_env").
    pub env_key: &'static str,
    pub command_key: &'static str,
    pub env: Option<&'a str>,
    pub command: Option<&'a str>,
}

/// Why a secret cannot be read, with the config key that names where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    #[error("{what} is read from the environment variable {var} ({key} in the config), which is not set: export {var}=... (in cron, set it in the crontab or a wrapper script)")]
    NotSet {
        what: &'static str,
        key: &'static str,
        var: String,
    },
    #[error("cannot run {key} `{command}`: {why}")]
    CannotRun {
        key: &'static str,
        command: String,
        why: String,
    },
    #[error("{key} `{command}` failed or printed nothing ({status}), so {what} is unknown")]
    Failed {
        what: &'static str,
        key: &'static str,
        command: String,
        status: String,
    },
}

impl Unavailable {
    /// The config key to fix.
    pub fn key(&self) -> &'static str {
        match self {
            Unavailable::NotSet { key, .. }
            | Unavailable::CannotRun { key, .. }
            | Unavailable::Failed { key, .. } => key,
        }
    }
}

/// Reads the secret; `Ok(None)` when the config names no source.
pub fn read(s: &Source) -> Result<Option<String>, Unavailable> {
    if let Some(var) = s.env {
        return match std::env::var(var) {
            Ok(v) if !v.is_empty() => Ok(Some(v)),
            _ => Err(Unavailable::NotSet {
                what: s.what,
                key: s.env_key,
                var: var.to_string(),
            }),
        };
    }
    if let Some(cmd) = s.command {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| Unavailable::CannotRun {
                key: s.command_key,
                command: cmd.to_string(),
                why: e.to_string(),
            })?;
        let text = String::from_utf8_lossy(&out.stdout);
        let first = text
            .lines()
            .next()
            .unwrap_or("")
            .trim_end_matches('\r')
            .to_string();
        if !out.status.success() || first.is_empty() {
            return Err(Unavailable::Failed {
                what: s.what,
                key: s.command_key,
                command: cmd.to_string(),
                status: out.status.to_string(),
            });
        }
        return Ok(Some(first));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src<'a>(env: Option<&'a str>, command: Option<&'a str>) -> Source<'a> {
        Source {
            what: "the test secret",
            env_key: "secret_env",
            command_key: "secret_command",
            env,
            command,
        }
    }

    #[test]
    fn from_a_command_or_a_variable() {
        assert_eq!(
            read(&src(None, Some("printf 's3cret\\nmore'"))),
            Ok(Some("s3cret".into()))
        );
        let failed = read(&src(None, Some("false"))).unwrap_err();
        assert!(matches!(failed, Unavailable::Failed { .. }), "{failed}");
        assert_eq!(failed.key(), "secret_command");
        let unset = read(&src(Some("BULLETIN_TEST_SURELY_UNSET"), None)).unwrap_err();
        assert_eq!(unset.key(), "secret_env");
        assert!(
            unset.to_string().contains("secret_env in the config"),
            "{unset}"
        );
        assert_eq!(read(&src(None, None)), Ok(None));
    }
}
