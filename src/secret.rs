//! Secrets that never live in files: the name of an environment variable, or a command that
//! prints the secret (`pass show smtp/relay`), in; the secret out, or a message saying how to
//! provide it.

/// Where a secret comes from, as the config names it.
pub struct Source<'a> {
    /// What the secret is for, in messages ("the SMTP password").
    pub what: &'a str,
    /// The config keys that name its sources, in messages ("password_env").
    pub env_key: &'a str,
    pub command_key: &'a str,
    pub env: Option<&'a str>,
    pub command: Option<&'a str>,
}

/// Reads the secret; `Ok(None)` when the config names no source.
pub fn read(s: &Source) -> Result<Option<String>, String> {
    if let Some(var) = s.env {
        return match std::env::var(var) {
            Ok(v) if !v.is_empty() => Ok(Some(v)),
            _ => Err(format!(
                "{} is read from the environment variable {var} ({} in the config), which is not set: export {var}=... (in cron, set it in the crontab or a wrapper script)",
                s.what, s.env_key
            )),
        };
    }
    if let Some(cmd) = s.command {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run {} `{cmd}`: {e}", s.command_key))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let first = text
            .lines()
            .next()
            .unwrap_or("")
            .trim_end_matches('\r')
            .to_string();
        if !out.status.success() || first.is_empty() {
            return Err(format!(
                "{} `{cmd}` failed or printed nothing ({}), so {} is unknown",
                s.command_key, out.status, s.what
            ));
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
        assert!(read(&src(None, Some("false")))
            .unwrap_err()
            .contains("failed"));
        assert!(read(&src(Some("BULLETIN_TEST_SURELY_UNSET"), None))
            .unwrap_err()
            .contains("secret_env"));
        assert_eq!(read(&src(None, None)), Ok(None));
    }
}
