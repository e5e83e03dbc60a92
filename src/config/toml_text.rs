//! A TOML file's text in, a value or every mistake in it out, each with its line: the reading
//! every project file (config, campaigns, front matter) goes through.

use std::path::Path;

use crate::problems::Problems;

/// The line where `key = ...` is written in a TOML text, so that a message can point at it.
pub fn key_line(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let t = l.trim_start();
            t.starts_with(key) && t[key.len()..].trim_start().starts_with('=')
        })
        .map(|i| i + 1)
}

/// The 1-based line of a byte offset in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Reads a TOML document into `T`, turning a syntax error or an unknown key into a problem that
/// names the file and the line. Every mistake is reported in one pass: after one, the line it is
/// on is set aside and the document read again, so that three misspelt keys make three problems,
/// not three runs.
pub fn parse_toml<T: serde::de::DeserializeOwned>(
    text: &str,
    file: &Path,
    problems: &mut Problems,
) -> Option<T> {
    // toml finds the mistakes in its own order; they are told in the file's.
    let mut found = Problems::new();
    let parsed = parse_each(text, file, &mut found);
    found.0.sort_by_key(|p| (p.line.is_none(), p.line));
    problems.extend(found);
    parsed
}

fn parse_each<T: serde::de::DeserializeOwned>(
    text: &str,
    file: &Path,
    problems: &mut Problems,
) -> Option<T> {
    let mut current = text.to_string();
    let mut failed = false;
    // Enough for any real file; each round sets one line aside.
    for _ in 0..50 {
        match toml::from_str::<T>(&current) {
            Ok(v) if !failed => return Some(v),
            Ok(_) => return None,
            Err(e) => {
                failed = true;
                let line = e.span().map(|s| line_of(&current, s.start));
                let mut msg = e.message().trim().to_string();
                if msg.starts_with("unknown field `password`")
                    || msg.starts_with("unknown field `secret`")
                {
                    msg.push_str(
                        "; passwords never go in files: name an environment variable with \
                         `password_env` or a command with `password_command`",
                    );
                }
                let meant = msg
                    .starts_with("unknown field")
                    .then(|| meant_key(&msg))
                    .flatten();
                if let Some(k) = &meant {
                    msg.push_str(&format!("; did you mean `{k}`?"));
                } else if msg.starts_with("unknown field") && !msg.contains("passwords never") {
                    msg.push_str("; check the spelling, or remove the key");
                }
                let wrong = msg.split('`').nth(1).unwrap_or_default().to_string();
                problems.error(file, line, msg);
                // Without a line to set aside (a missing key), or when the line is a syntax
                // error, further reading would only repeat or mislead.
                let n = line?;
                let l = current.lines().nth(n - 1)?;
                let t = l.trim_start();
                let header = t.starts_with('[');
                if t.starts_with('#') || (!header && !t.contains('=')) {
                    return None;
                }
                // A key (or table) that was meant as another is read as that one, so that its
                // absence does not make a second error; any other line is set aside, and an
                // unknown table with every line under it.
                let mut in_unknown_table = false;
                current = current
                    .lines()
                    .enumerate()
                    .map(|(i, l)| {
                        if i + 1 == n {
                            in_unknown_table = header && meant.is_none();
                            return match &meant {
                                Some(k) => l.replacen(&wrong, k, 1),
                                None => format!("# {l}"),
                            };
                        }
                        if l.trim_start().starts_with('[') {
                            in_unknown_table = false;
                        }
                        if in_unknown_table {
                            format!("# {l}")
                        } else {
                            l.to_string()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
            }
        }
    }
    None
}

/// The expected key closest to the unknown one a toml error names, if one is close enough to
/// be a misspelling of it.
fn meant_key(message: &str) -> Option<String> {
    let mut names = message.split('`').skip(1).step_by(2);
    let wrong = names.next()?;
    names
        .map(|k| (strsim::damerau_levenshtein(wrong, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min()
        .map(|(_, k)| k.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn a_misspelt_table_hides_no_other_mistake() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct F {
            template: Option<String>,
            subject: Option<toml::Table>,
            updates: Option<toml::Table>,
        }
        let text =
            "templte = \"x\"\n[subjct]\nen = \"Hi\"\n[nonsense]\nfoo = 1\n[updates]\nform = 2\n";
        let mut p = Problems::new();
        let r: Option<F> = parse_toml(text, Path::new("c.toml"), &mut p);
        assert!(r.is_none());
        let lines: Vec<Option<usize>> = p.0.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![Some(1), Some(2), Some(4)], "{p}");
        let all = p.to_string();
        assert!(all.contains("did you mean `template`?"), "{all}");
        assert!(all.contains("did you mean `subject`?"), "{all}");
    }

    #[test]
    fn every_misspelt_key_is_reported_in_one_pass() {
        let example = include_str!("../../config.example.toml");
        let text = example
            .replacen("\naddress =", "\nadress =", 1)
            .replacen("\nsupported =", "\nsuported =", 1)
            .replacen("\nper_second =", "\nper_secnd =", 1)
            .replacen("\nport =", "\nprot_number =", 1);
        let mut p = Problems::new();
        let r: Option<Config> = parse_toml(&text, Path::new("b.toml"), &mut p);
        assert!(r.is_none());
        let line = |key: &str| text.lines().position(|l| l.starts_with(key)).map(|i| i + 1);
        let mut lines: Vec<Option<usize>> = p.0.iter().map(|e| e.line).collect();
        lines.sort();
        let mut want = vec![
            line("adress"),
            line("suported"),
            line("per_secnd"),
            line("prot_number"),
        ];
        want.sort();
        assert_eq!(lines, want, "{p}");
        let all = p.to_string();
        for hint in [
            "did you mean `address`?",
            "did you mean `supported`?",
            "did you mean `per_second`?",
        ] {
            assert!(all.contains(hint), "{hint}: {all}");
        }
        assert!(
            all.contains("`prot_number`") && all.contains("check the spelling"),
            "{all}"
        );
    }

    #[test]
    fn unknown_key_names_its_line() {
        let mut p = Problems::new();
        let text = "[sender]\nname = \"x\"\nfrm = \"y\"\n";
        let r: Option<Config> = parse_toml(text, Path::new("b.toml"), &mut p);
        assert!(r.is_none());
        let e =
            p.0.iter()
                .find(|e| e.message.contains("frm"))
                .expect("frm reported");
        assert_eq!(e.line, Some(3), "{p}");
        assert!(e.message.contains("unknown field `frm`"), "{}", e.message);
    }
}
