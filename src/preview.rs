//! A prepared campaign in, a preview folder out: one `.eml` and one `.html` per recipient, an
//! `index.html` listing them, `summary.json`, and `rejects.csv` when rows were set aside. The
//! folder is built aside and swapped in whole, so a failure never leaves half a preview.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::Serialize;

use crate::project::Prepared;
use crate::{Error, Result};

/// Marks a folder as a bulletin preview, which bulletin may replace.
pub const MARKER: &str = ".bulletin-preview";

#[derive(Debug, Clone)]
pub struct Options {
    pub out: PathBuf,
    pub limit: Option<usize>,
    /// Render and compose only, writing nothing (for the benchmark).
    pub dry: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub eml: String,
    pub html: String,
    pub to: String,
    pub name: String,
    pub langs: Vec<String>,
    pub updates: Vec<String>,
    pub subject: String,
    pub message_id: String,
    pub bytes: usize,
    pub list: String,
    pub line: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub campaign: String,
    pub generated_at: String,
    pub messages: usize,
    pub bytes_written: u64,
    pub files_written: usize,
    pub rejects: usize,
    pub left_out: usize,
    pub stats: crate::audience::Stats,
    pub entries: Vec<Entry>,
    pub left_out_contacts: Vec<crate::audience::LeftOut>,
}

/// A file name that is safe on every system whatever the address holds.
pub fn safe_name(index: usize, email: &str) -> String {
    let mut s = String::with_capacity(email.len() + 8);
    for c in email.chars().take(64) {
        match c {
            'a'..='z' | '0'..='9' | '.' | '-' | '_' => s.push(c),
            'A'..='Z' => s.push(c.to_ascii_lowercase()),
            '@' => s.push_str("_at_"),
            _ => s.push('_'),
        }
    }
    let s = s.trim_start_matches('.');
    format!("{:05}-{s}", index + 1)
}

fn html_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

/// Refuses a folder that holds anything but an earlier preview: bulletin never empties a folder it
/// did not make.
fn check_target(out: &Path) -> Result<()> {
    if !out.exists() {
        return Ok(());
    }
    if !out.is_dir() {
        return Err(Error::Refused(format!("{} exists and is not a folder: choose another --out", out.display())));
    }
    let mut entries = std::fs::read_dir(out).map_err(|e| Error::io("read", out, e))?;
    if entries.next().is_none() || out.join(MARKER).is_file() {
        return Ok(());
    }
    Err(Error::Refused(format!(
        "{} is not empty and is not a bulletin preview: bulletin will not empty it. Choose another --out, or move its files away",
        out.display()
    )))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| Error::io("write", path, e))
}

/// Builds the preview. `now` dates the messages; the message-ID nonce keeps previews apart from
/// real sends.
pub fn run(prepared: &Prepared, opts: &Options, now: SystemTime) -> Result<Summary> {
    let recipients = &prepared.audience.recipients;
    let n = opts.limit.map_or(recipients.len(), |l| l.min(recipients.len()));
    let staging = if opts.dry {
        PathBuf::new()
    } else {
        check_target(&opts.out)?;
        let parent = opts.out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
        let name = opts.out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "preview".into());
        let staging = parent.join(format!(".{name}.partial-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir_all(&staging).map_err(|e| Error::io("create", &staging, e))?;
        staging
    };
    let result = produce(prepared, n, &staging, opts.dry, now);
    let (entries, bytes_written) = match result {
        Ok(v) => v,
        Err(e) => {
            if !opts.dry {
                let _ = std::fs::remove_dir_all(&staging);
            }
            return Err(e);
        }
    };
    let mut summary = Summary {
        campaign: prepared.campaign.id.clone(),
        generated_at: chrono::DateTime::<chrono::Utc>::from(now).to_rfc3339(),
        messages: entries.len(),
        bytes_written,
        files_written: if opts.dry { 0 } else { entries.len() * 2 },
        rejects: prepared.rejects.len(),
        left_out: prepared.audience.left_out.len(),
        stats: prepared.audience.stats.clone(),
        entries,
        left_out_contacts: prepared.audience.left_out.clone(),
    };
    if opts.dry {
        return Ok(summary);
    }
    let finish = || -> Result<()> {
        write_file(&staging.join(MARKER), b"This folder was written by `bulletin preview` and is replaced by the next one.\n")?;
        write_file(&staging.join("index.html"), index_html(&summary).as_bytes())?;
        if !prepared.rejects.is_empty() {
            crate::contacts::write_rejects(&staging.join("rejects.csv"), &prepared.rejects)?;
        }
        let json = serde_json::to_vec_pretty(&summary).map_err(|e| Error::Refused(e.to_string()))?;
        write_file(&staging.join("summary.json"), &json)?;
        Ok(())
    };
    if let Err(e) = finish() {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    summary.files_written += 3 + usize::from(!prepared.rejects.is_empty());
    swap_in(&staging, &opts.out)?;
    Ok(summary)
}

/// Replaces `out` with `staging`: the old preview is moved aside first and removed last, so at
/// every moment one whole preview exists.
fn swap_in(staging: &Path, out: &Path) -> Result<()> {
    let old = staging.with_extension("old");
    let had_old = out.exists();
    if had_old {
        std::fs::rename(out, &old).map_err(|e| Error::io("move aside", out, e))?;
    }
    if let Err(e) = std::fs::rename(staging, out) {
        if had_old {
            let _ = std::fs::rename(&old, out);
        }
        return Err(Error::io("move into place", out, e));
    }
    if had_old {
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(())
}

/// Renders, composes and writes messages on every core; stops at the first failure.
fn produce(prepared: &Prepared, n: usize, dir: &Path, dry: bool, now: SystemTime) -> Result<(Vec<Entry>, u64)> {
    let recipients = &prepared.audience.recipients;
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    let written = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).min(16);
    let nonce = format!("{:x}", now.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs()));
    const CHUNK: usize = 64;
    let mut all: Vec<Entry> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut local = Vec::new();
                    let fail = |e: Error| {
                        failed.store(true, Ordering::Relaxed);
                        first_error.lock().unwrap().get_or_insert(e);
                    };
                    'outer: loop {
                        let start = next.fetch_add(CHUNK, Ordering::Relaxed);
                        if start >= n || failed.load(Ordering::Relaxed) {
                            break;
                        }
                        for i in start..(start + CHUNK).min(n) {
                            let r = &recipients[i];
                            let (rendered, composed) = match prepared.message(r, now, &nonce) {
                                Ok(m) => m,
                                Err(e) => {
                                    fail(Error::Refused(format!("cannot produce the message for {e}")));
                                    break 'outer;
                                }
                            };
                            let base = safe_name(i, &r.contact.email);
                            let (eml, html) = (format!("{base}.eml"), format!("{base}.html"));
                            if !dry {
                                let w = write_file(&dir.join(&eml), &composed.bytes)
                                    .and_then(|_| write_file(&dir.join(&html), rendered.html.as_bytes()));
                                if let Err(e) = w {
                                    fail(e);
                                    break 'outer;
                                }
                                written.fetch_add(composed.bytes.len() + rendered.html.len(), Ordering::Relaxed);
                            }
                            local.push(Entry {
                                eml,
                                html,
                                to: r.contact.email.clone(),
                                name: r.contact.display_name(),
                                langs: r.langs.clone(),
                                updates: r.updates.iter().map(|&u| prepared.campaign.updates[u].clone()).collect(),
                                subject: rendered.subject,
                                message_id: composed.message_id,
                                bytes: composed.bytes.len(),
                                list: r.contact.list.to_string(),
                                line: r.contact.line,
                            });
                        }
                    }
                    local
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    if let Some(e) = first_error.into_inner().unwrap() {
        return Err(e);
    }
    all.sort_by(|a, b| a.eml.cmp(&b.eml));
    Ok((all, written.load(Ordering::Relaxed) as u64))
}

fn index_html(s: &Summary) -> String {
    let mut o = String::with_capacity(256 * s.entries.len() + 2048);
    o.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Preview: ");
    o.push_str(&html_escape(&s.campaign));
    o.push_str("</title><style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f4f4f4}</style></head><body>\n");
    o.push_str(&format!(
        "<h1>Preview of {}</h1>\n<p>{} messages, generated {}. {} contacts left out, {} rows set aside as rejects.</p>\n",
        html_escape(&s.campaign), s.messages, html_escape(&s.generated_at), s.left_out, s.rejects
    ));
    o.push_str("<table><thead><tr><th>#</th><th>Recipient</th><th>Language</th><th>Updates</th><th>Subject</th><th>Files</th></tr></thead><tbody>\n");
    for (i, e) in s.entries.iter().enumerate() {
        o.push_str(&format!(
            "<tr><td>{}</td><td>{}<br><small>{}</small></td><td>{}</td><td>{}</td><td>{}</td><td><a href=\"{}\">html</a> · <a href=\"{}\">eml</a></td></tr>\n",
            i + 1,
            html_escape(&e.name),
            html_escape(&e.to),
            html_escape(&e.langs.join("+")),
            html_escape(&e.updates.join(", ")),
            html_escape(&e.subject),
            html_escape(&e.html),
            html_escape(&e.eml),
        ));
    }
    o.push_str("</tbody></table>\n");
    if !s.left_out_contacts.is_empty() {
        o.push_str("<h2>Left out</h2><table><thead><tr><th>Address</th><th>List</th><th>Reason</th></tr></thead><tbody>\n");
        for l in &s.left_out_contacts {
            o.push_str(&format!(
                "<tr><td>{}</td><td>{}:{}</td><td>{}</td></tr>\n",
                html_escape(&l.email), html_escape(&l.list), l.line, html_escape(&l.reason)
            ));
        }
        o.push_str("</tbody></table>\n");
    }
    o.push_str("</body></html>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_names_hold_no_path_or_odd_characters() {
        assert_eq!(safe_name(0, "Jane.Doe@Example.org"), "00001-jane.doe_at_example.org");
        let n = safe_name(41, "../../etc/passwd\"<x>@e.org");
        assert!(!n.contains('/') && !n.contains('"') && !n.contains('<'), "{n}");
        assert!(n.starts_with("00042-"));
    }
}
