//! The suppression copy: every addition to and removal from the suppression list, appended to a
//! plain file beside the journal (`.NAME.suppressions`) before the journal records it. The
//! suppression list is the one thing a lost journal must not take with it: a journal made anew
//! (`--new-journal`), or restored from a backup older than the last unsubscribes, is brought up
//! to the copy's last word on each address when it is opened, and says so.
//!
//! Each line is one change, tab-separated: time (ms), `add` or `remove`, address, reason,
//! source, campaign, who. Lines are only ever appended (`O_APPEND`), each synced to disk
//! before the journal's transaction commits, so the copy never knows less than the journal.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The copy of the journal at `journal`.
pub fn copy_path(journal: &Path) -> PathBuf {
    beside(journal, "suppressions")
}

/// A hidden file beside the journal: `.NAME.WHAT` in its folder.
pub(super) fn beside(journal: &Path, what: &str) -> PathBuf {
    let name = journal
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "journal".into());
    journal.with_file_name(format!(".{name}.{what}"))
}

/// One change to the suppression list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub at_ms: i64,
    pub add: bool,
    pub email: String,
    pub reason: String,
    pub source: String,
    pub campaign: Option<String>,
    /// Who made a change by hand (`--by`), when the command was told.
    pub by: Option<String>,
}

const HEADER: &str = "# bulletin's suppression copy: every change to the suppression list, appended before the\n# journal records it. Do not edit or delete: a new or restored journal is brought up to it.\n";

/// A field never holds the separators.
fn field(s: &str) -> String {
    s.replace(['\t', '\n', '\r'], " ")
}

impl Change {
    fn line(&self) -> String {
        format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            self.at_ms,
            if self.add { "add" } else { "remove" },
            field(&self.email),
            field(&self.reason),
            field(&self.source),
            field(self.campaign.as_deref().unwrap_or("")),
            field(self.by.as_deref().unwrap_or("")),
        )
    }

    fn parse(line: &str) -> Option<Change> {
        let f: Vec<&str> = line.trim_end_matches(['\r', '\n']).split('\t').collect();
        let [at, action, email, reason, source, campaign, by] = f[..] else {
            return None;
        };
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        Some(Change {
            at_ms: at.parse().ok()?,
            add: match action {
                "add" => true,
                "remove" => false,
                _ => return None,
            },
            email: email.to_string(),
            reason: reason.to_string(),
            source: source.to_string(),
            campaign: opt(campaign),
            by: opt(by),
        })
    }
}

/// The copy opened to append, locked against a rewrite (`forget`): if a rewrite replaced the
/// file while this waited for the lock, the new file is opened instead, so no line goes to a
/// file that is no longer the copy.
pub(super) fn open_to_append(path: &Path) -> Result<std::fs::File> {
    loop {
        let mut opts = std::fs::OpenOptions::new();
        opts.append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let f = opts.open(path).map_err(|e| Error::io("write", path, e))?;
        f.lock().map_err(|e| Error::io("lock", path, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let (open, named) = (f.metadata(), std::fs::metadata(path));
            if let (Ok(o), Ok(n)) = (open, named) {
                if (o.dev(), o.ino()) != (n.dev(), n.ino()) {
                    continue;
                }
            }
        }
        return Ok(f);
    }
}

/// Appends changes and syncs them to disk; returns the file's length before and after, so the
/// caller can tell whether anyone else appended meanwhile.
pub(super) fn append(path: &Path, changes: &[Change]) -> Result<(u64, u64)> {
    let mut text = String::new();
    for c in changes {
        text.push_str(&c.line());
    }
    let mut f = open_to_append(path)?;
    let before = f.metadata().map_err(|e| Error::io("read", path, e))?.len();
    if before == 0 {
        text.insert_str(0, HEADER);
    }
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_data())
        .map_err(|e| Error::io("write", path, e))?;
    let after = f.metadata().map_err(|e| Error::io("read", path, e))?.len();
    Ok((before, after))
}

/// The copy's last word on each address, and the file's length read.
pub(super) fn last_words(path: &Path) -> Result<Option<(HashMap<String, Change>, u64)>> {
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read", path, e)),
    };
    let mut len = 0u64;
    let mut last: HashMap<String, Change> = HashMap::new();
    let mut reader = std::io::BufReader::new(f);
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .map_err(|e| Error::io("read", path, e))?;
        // A line cut short (a crash mid-append) is left for the next complete one.
        if n == 0 || !line.ends_with('\n') {
            break;
        }
        len += n as u64;
        if line.starts_with('#') {
            continue;
        }
        if let Some(c) = Change::parse(&line) {
            match last.get(&c.email) {
                Some(old) if old.at_ms > c.at_ms => {}
                _ => {
                    last.insert(c.email.clone(), c);
                }
            }
        }
    }
    Ok(Some((last, len)))
}

/// Appends one line as it is (an erasure, the erasure key), synced.
pub(super) fn append_line(path: &Path, line: &str) -> Result<()> {
    let mut f = open_to_append(path)?;
    let empty = f.metadata().map_err(|e| Error::io("read", path, e))?.len() == 0;
    let text = if empty {
        format!("{HEADER}{line}\n")
    } else {
        format!("{line}\n")
    };
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_data())
        .map_err(|e| Error::io("write", path, e))
}

/// The erasure key, if the copy has one, and each erased hash with its time.
pub(super) type Erasures = (Option<String>, Vec<(String, i64)>);

/// The erasures the copy records: the key their hashes are made with, and each hash with
/// when it was erased. Lines `TIME\terasekey\tHEX` and `TIME\terase\tHASH`.
pub(super) fn erasures(path: &Path) -> Result<Erasures> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((None, Vec::new())),
        Err(e) => return Err(Error::io("read", path, e)),
    };
    let (mut key, mut hashes) = (None, Vec::new());
    for line in text.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
        let f: Vec<&str> = line.trim_end().split('\t').collect();
        match f[..] {
            [_, "erasekey", k, ..] if key.is_none() => key = Some(k.to_string()),
            [at, "erase", h, ..] => hashes.push((h.to_string(), at.parse().unwrap_or(0))),
            _ => {}
        }
    }
    Ok((key, hashes))
}

/// Rewrites a copy with only the lines `keep` keeps (an erased address's go), in a new file
/// renamed over the old one, synced, while holding the old one's lock; returns the new length.
pub(super) fn rewrite_without(path: &Path, keep: impl Fn(&str) -> bool) -> Result<u64> {
    if !path.exists() {
        return Ok(0);
    }
    let held = open_to_append(path)?;
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
    let kept: String = text.split_inclusive('\n').filter(|l| keep(l)).collect();
    let tmp = path.with_extension("rewrite");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp).map_err(|e| Error::io("write", &tmp, e))?;
    f.write_all(kept.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io("write", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io("replace", path, e))?;
    drop(held);
    Ok(kept.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_word_on_each_address_stands_and_a_cut_line_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".j.suppressions");
        let c = |at_ms, add, email: &str| Change {
            at_ms,
            add,
            email: email.into(),
            reason: "unsubscribed".into(),
            source: "link".into(),
            campaign: Some("c".into()),
            by: None,
        };
        append(&p, &[c(1, true, "a@x.org"), c(2, true, "b@x.org")]).unwrap();
        let (_, after) = append(&p, &[c(3, false, "a@x.org")]).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .unwrap()
            .write_all(b"4\tadd\tc@x.org")
            .unwrap();
        let (words, len) = last_words(&p).unwrap().unwrap();
        assert_eq!(len, after);
        assert!(!words["a@x.org"].add);
        assert!(words["b@x.org"].add);
        assert!(!words.contains_key("c@x.org"));
    }
}
