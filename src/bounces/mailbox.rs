//! A mailbox on disk in, its messages out one at a time: an mbox file read as a stream (a
//! mailbox of hundreds of megabytes is never held whole), or a Maildir folder whose `new/` and
//! `cur/` files are read one by one. A Maildir entry that is a symbolic link is skipped with a
//! warning: it could point anywhere on the machine, and a mailbox's files are never links.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// A message larger than this is not a bounce or an unsubscribe: it is left unread.
const MAX_MESSAGE: u64 = 32 * 1024 * 1024;
/// Nor is a message with a line this long (mail lines are at most 998 octets).
const MAX_LINE: u64 = 1024 * 1024;

/// One message of a mailbox: where it is, and its bytes or why they could not be read.
pub struct Item {
    pub place: String,
    pub bytes: std::result::Result<Vec<u8>, String>,
}

/// What reading the mailbox skipped, for the report.
#[derive(Debug, Default)]
pub struct Skipped {
    pub links: Vec<PathBuf>,
}

/// Calls `each` on every message of an mbox file or Maildir folder, in order.
pub fn for_each(
    path: &Path,
    skipped: &mut Skipped,
    each: impl FnMut(Item) -> Result<()>,
) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io("read the mailbox", path, e))?;
    if meta.is_dir() {
        return maildir(path, skipped, each);
    }
    if !meta.is_file() {
        return Err(Error::Refused(format!(
            "{} is neither an mbox file nor a Maildir folder (a device or a pipe?): give the mailbox itself",
            path.display()
        )));
    }
    mbox(path, meta.len(), each)
}

/// An mbox file, a message at a time: a message is never held beyond the limit, nor the file
/// whole.
fn mbox(path: &Path, size: u64, mut each: impl FnMut(Item) -> Result<()>) -> Result<()> {
    let f = std::fs::File::open(path).map_err(|e| Error::io("read the mbox", path, e))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 16, f);
    let mut n = 0usize;
    let mut message: Vec<u8> = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    let mut started = false;
    let mut emit = |message: &mut Vec<u8>, n: &mut usize, oversized: &mut bool| -> Result<()> {
        *n += 1;
        let place = format!("{} (message {n})", path.display());
        let bytes = if message.len() as u64 > MAX_MESSAGE || std::mem::take(oversized) {
            Err(format!(
                "{place}: larger than 64 MB, which no bounce or unsubscribe mail is: not read"
            ))
        } else {
            Ok(unquote(std::mem::take(message)))
        };
        message.clear();
        each(Item { place, bytes })
    };
    let mut oversized = false;
    loop {
        line.clear();
        // A line is read at most up to the message limit: a file with no line ends is never
        // held whole.
        let got = std::io::Read::take(&mut reader, MAX_LINE + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io("read the mbox", path, e))?;
        if got == 0 {
            break;
        }
        if !line.ends_with(b"\n") && got as u64 > MAX_LINE {
            oversized = true;
            drop_rest_of_line(&mut reader).map_err(|e| Error::io("read the mbox", path, e))?;
            continue;
        }
        if line.starts_with(b"From ") {
            if started {
                // The blank line before "From " belongs to the mbox, not the message.
                if message.ends_with(b"\r\n\r\n") || message.ends_with(b"\n\n") {
                    message.pop();
                    if message.ends_with(b"\r") {
                        message.pop();
                    }
                }
                emit(&mut message, &mut n, &mut oversized)?;
            }
            started = true;
            continue;
        }
        if !started {
            // Text before the first "From " line: not an mbox message.
            continue;
        }
        if (message.len() as u64) <= MAX_MESSAGE {
            message.extend_from_slice(&line);
        } else {
            message.truncate(MAX_MESSAGE as usize + 1);
        }
    }
    if started {
        emit(&mut message, &mut n, &mut oversized)?;
    } else if size > 0 {
        return Err(Error::Refused(format!(
            "{} is not an mbox: no line starts with \"From \", which begins each message of one. Give the mbox file or the Maildir folder of the bounce mailbox",
            path.display()
        )));
    }
    Ok(())
}

/// Reads the rest of a line and drops it.
fn drop_rest_of_line(reader: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        match memchr::memchr(b'\n', buf) {
            Some(i) => {
                reader.consume(i + 1);
                return Ok(());
            }
            None => {
                let n = buf.len();
                reader.consume(n);
            }
        }
    }
}

/// mboxrd quoting: a body line ">From " (any number of ">") lost one ">" when written.
fn unquote(message: Vec<u8>) -> Vec<u8> {
    if !message.starts_with(b">") && memchr::memmem::find(&message, b"\n>").is_none() {
        return message;
    }
    let mut out = Vec::with_capacity(message.len());
    for l in message.split_inclusive(|b| *b == b'\n') {
        let quoted = l.iter().take_while(|b| **b == b'>').count();
        if quoted > 0 && l[quoted..].starts_with(b"From ") {
            out.extend_from_slice(&l[1..]);
        } else {
            out.extend_from_slice(l);
        }
    }
    out
}

fn maildir(
    dir: &Path,
    skipped: &mut Skipped,
    mut each: impl FnMut(Item) -> Result<()>,
) -> Result<()> {
    let mut files: Vec<PathBuf> = Vec::new();
    for sub in ["new", "cur"] {
        let d = dir.join(sub);
        // A folder of the Maildir that is a link leads anywhere: skipped like a linked message.
        if std::fs::symlink_metadata(&d).is_ok_and(|m| m.file_type().is_symlink()) {
            skipped.links.push(d);
            continue;
        }
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io("read the Maildir", &d, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("read the Maildir", &d, e))?;
            let p = entry.path();
            let kind = entry
                .file_type()
                .map_err(|e| Error::io("read the Maildir", &p, e))?;
            if kind.is_symlink() {
                skipped.links.push(p);
            } else if kind.is_file() && !entry.file_name().to_string_lossy().starts_with('.') {
                files.push(p);
            }
        }
    }
    files.sort();
    for p in files {
        let bytes = crate::limits::read_capped(&p, MAX_MESSAGE)
            .map_err(|e| format!("{}: {e}", p.display()));
        each(Item {
            place: p.display().to_string(),
            bytes,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_mbox_is_split_on_from_lines_and_unquoted() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m");
        std::fs::write(
            &p,
            "From a Tue\nSubject: one\n\nbody\n>From here\n\nFrom b Tue\nSubject: two\n\nx\n",
        )
        .unwrap();
        let mut got = Vec::new();
        for_each(&p, &mut Skipped::default(), |i| {
            got.push(String::from_utf8(i.bytes.unwrap()).unwrap());
            Ok(())
        })
        .unwrap();
        assert_eq!(
            got,
            ["Subject: one\n\nbody\nFrom here\n", "Subject: two\n\nx\n"]
        );
    }
}
