//! A prepared campaign in, a preview folder out: one `.eml` and one `.html` per recipient, an
//! `index.html` listing them, `summary.json`, and `rejects.csv` when rows were set aside. The
//! folder is built aside and swapped in whole, so a failure never leaves half a preview.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use std::io::Write as _;

use serde::Serialize;

use crate::project::Prepared;

mod folder;
mod produce;

use crate::{Error, Result};
pub use folder::MARKER;
use folder::{check_target, remove_stale_staging, staging_lock, swap_in, write_manifest};
use produce::produce;

#[derive(Debug, Clone)]
pub struct Options {
    pub out: PathBuf,
    pub limit: Option<usize>,
    /// Render and compose only, writing nothing (for the benchmark).
    pub dry: bool,
    /// Where the campaign stands with its approvers, for the index (`approval::Standing::line`).
    pub approval: Option<String>,
}

/// What is kept of each message once written: the rest is read from its recipient.
#[derive(Debug, Clone)]
pub struct Entry {
    pub recipient: usize,
    /// Shared by the messages with the same subject: most have one of a few.
    pub subject: Arc<str>,
    pub bytes: usize,
}

/// One message as `summary.json` lists it.
#[derive(Serialize)]
struct EntryView<'a> {
    eml: String,
    html: String,
    txt: String,
    /// The contact's interests, and why the message is in its languages, if not their choice.
    interests: &'a [String],
    language_note: &'a str,
    list_names: Vec<&'a str>,
    /// The updates' titles, in the message's first language.
    titles: Vec<String>,
    to: &'a str,
    name: String,
    langs: &'a [String],
    updates: Vec<&'a str>,
    /// The files the message carries, by name.
    attachments: Vec<String>,
    subject: &'a str,
    message_id: String,
    bytes: usize,
    list: &'a str,
    line: usize,
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
    /// Of those left out, how many are on the project's suppression list.
    pub suppressed: usize,
    /// Messages whose CSS had to be inlined on their own rather than from a cached shape.
    pub inlined_whole: usize,
    pub stats: crate::audience::Stats,
    /// The previous preview, kept under this name because files were put in it meanwhile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept: Option<PathBuf>,
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

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| Error::io("write", path, e))
}

/// Builds the preview. `now` dates the messages; the message-ID nonce keeps previews apart from
/// real sends.
pub fn run(prepared: &Prepared, opts: &Options, now: SystemTime) -> Result<Summary> {
    let recipients = &prepared.audience.recipients;
    let n = opts
        .limit
        .map_or(recipients.len(), |l| l.min(recipients.len()));
    // Ctrl-C and SIGTERM now ask the workers to stop; the staging folder is then removed.
    let _guard = crate::interrupt::Guard::new();
    let mut _staging_lock = None;
    let staging = if opts.dry {
        PathBuf::new()
    } else {
        check_target(&opts.out)?;
        let parent = opts
            .out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
        remove_stale_staging(parent);
        let name = opts
            .out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "preview".into());
        let staging = parent.join(format!(".{name}.partial-{}", std::process::id()));
        // The lock comes first: a folder without a held lock is a dead preview's leftover.
        let lock_path = staging_lock(&staging);
        let lock = std::fs::File::create(&lock_path)
            .and_then(|f| f.lock().map(|_| f))
            .map_err(|e| Error::io("lock", &lock_path, e))?;
        _staging_lock = Some((lock, lock_path));
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir_all(&staging).map_err(|e| Error::io("create", &staging, e))?;
        staging
    };
    let result = run_in(prepared, opts, now, n, &staging);
    if let Some((lock, path)) = _staging_lock {
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&staging);
        }
        let _ = std::fs::remove_file(&path);
        drop(lock);
    }
    result
}

fn interrupted() -> Result<()> {
    if crate::interrupt::requested() {
        return Err(Error::Interrupted(crate::interrupt::signal_name()));
    }
    Ok(())
}

/// The preview proper, into `staging` (which the caller removes on failure).
fn run_in(
    prepared: &Prepared,
    opts: &Options,
    now: SystemTime,
    n: usize,
    staging: &Path,
) -> Result<Summary> {
    let (entries, messages, bytes_written) = produce(prepared, n, staging, opts.dry, now)?;
    interrupted()?;
    let mut summary = Summary {
        campaign: prepared.campaign.id.clone(),
        generated_at: chrono::DateTime::<chrono::Utc>::from(now).to_rfc3339(),
        messages,
        bytes_written,
        files_written: if opts.dry { 0 } else { messages * 3 },
        rejects: prepared.rejects.len(),
        left_out: prepared.audience.left_out.len(),
        suppressed: prepared
            .audience
            .stats
            .left_out
            .get("suppressed")
            .copied()
            .unwrap_or(0),
        inlined_whole: prepared.renderer.whole_inlines(),
        stats: prepared.audience.stats.clone(),
        kept: None,
    };
    if opts.dry {
        return Ok(summary);
    }
    // One count everywhere: the files a person sees (the hidden bookkeeping file is not one).
    summary.files_written += 2 + usize::from(!prepared.rejects.is_empty());
    write_index(
        &staging.join("index.html"),
        prepared,
        &summary,
        &entries,
        now,
        opts.approval.as_deref(),
    )?;
    if !prepared.rejects.is_empty() {
        crate::contacts::write_rejects(&staging.join("rejects.csv"), &prepared.rejects)?;
    }
    write_summary_json(
        &staging.join("summary.json"),
        prepared,
        &summary,
        &entries,
        now,
    )?;
    interrupted()?;
    write_manifest(staging, prepared, &entries)?;
    summary.kept = swap_in(staging, &opts.out)?;
    Ok(summary)
}

/// The message-ID nonce of a preview made at `now`: it keeps previews apart from real sends.
fn nonce(now: SystemTime) -> String {
    format!(
        "{:x}",
        now.duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    )
}

/// Renders, composes and writes messages on every core; stops at the first failure.
fn entry_view<'a>(prepared: &'a Prepared, e: &'a Entry, now: SystemTime) -> EntryView<'a> {
    let r = &prepared.audience.recipients[e.recipient];
    let base = safe_name(e.recipient, r.contact.email());
    let lang = r.langs.first().map_or("", String::as_str);
    EntryView {
        eml: format!("{base}.eml"),
        html: format!("{base}.html"),
        txt: format!("{base}.txt"),
        interests: r.contact.interests(),
        language_note: r.language_note.as_deref().unwrap_or(""),
        list_names: r.lists.iter().map(|l| l.as_ref()).collect(),
        titles: r
            .updates
            .iter()
            .map(|&u| {
                let slug = &prepared.campaign.updates[u];
                prepared
                    .updates
                    .get(slug, lang)
                    .map_or_else(|| slug.clone(), |x| x.title.clone())
            })
            .collect(),
        to: r.contact.email(),
        name: r.contact.display_name(),
        langs: &r.langs,
        updates: r
            .updates
            .iter()
            .map(|&u| prepared.campaign.updates[u].as_str())
            .collect(),
        attachments: prepared
            .attachments
            .for_message(&r.langs, &r.updates)
            .iter()
            .map(|a| a.filename.clone())
            .collect(),
        subject: &e.subject,
        // Not kept per message: it is the same function of the address that composed it.
        message_id: crate::compose::message_id(
            &prepared.config,
            &prepared.campaign.id,
            r.contact.email(),
            &crate::compose::Marks::unsent(&nonce(now)),
        ),
        bytes: e.bytes,
        list: r.contact.list(),
        line: r.contact.line(),
    }
}

fn create(path: &Path) -> Result<std::io::BufWriter<std::fs::File>> {
    let f = std::fs::File::create(path).map_err(|e| Error::io("create", path, e))?;
    Ok(std::io::BufWriter::with_capacity(1 << 16, f))
}

/// Writes `summary.json` as it goes: a large campaign's summary is never held in memory whole.
fn write_summary_json(
    path: &Path,
    prepared: &Prepared,
    s: &Summary,
    entries: &[Entry],
    now: SystemTime,
) -> Result<()> {
    let io = |e: std::io::Error| Error::io("write", path, e);
    let mut w = create(path)?;
    let head = serde_json::to_string_pretty(s).map_err(|e| io(e.into()))?;
    // The summary's closing brace is replaced by the two long arrays.
    let head = head.trim_end().trim_end_matches('}').trim_end();
    write!(w, "{head},\n  \"entries\": [").map_err(io)?;
    for (i, e) in entries.iter().enumerate() {
        w.write_all(if i == 0 { b"\n    " } else { b",\n    " })
            .map_err(io)?;
        serde_json::to_writer(&mut w, &entry_view(prepared, e, now)).map_err(|e| io(e.into()))?;
    }
    write!(w, "\n  ],\n  \"left_out_contacts\": [").map_err(io)?;
    for (i, l) in prepared.audience.left_out.iter().enumerate() {
        w.write_all(if i == 0 { b"\n    " } else { b",\n    " })
            .map_err(io)?;
        serde_json::to_writer(&mut w, l).map_err(|e| io(e.into()))?;
    }
    w.write_all(b"\n  ]\n}\n").map_err(io)?;
    w.flush().map_err(io)
}

/// The index page, from embedded templates (autoescaped: every value is HTML-escaped): its head,
/// one row per message, its tail. Rows are rendered one by one and streamed to the file, so that
/// the index of a large campaign is never held in memory whole.
const INDEX: [(&str, &str); 5] = [
    ("head.html", include_str!("index-head.html")),
    ("row.html", include_str!("index-row.html")),
    ("mid.html", include_str!("index-mid.html")),
    ("left-row.html", include_str!("index-left-row.html")),
    ("tail.html", include_str!("index-tail.html")),
];

fn write_index(
    path: &Path,
    prepared: &Prepared,
    s: &Summary,
    entries: &[Entry],
    now: SystemTime,
    approval: Option<&str>,
) -> Result<()> {
    let io = |e: std::io::Error| Error::io("write", path, e);
    let fail = |e: tera::Error| {
        Error::Template(format!(
            "the preview index: {}",
            crate::render::tera_error_text(&e)
        ))
    };
    let mut tera = tera::Tera::default();
    tera.add_raw_templates(INDEX).map_err(fail)?;
    let mut o = create(path)?;
    let mut ctx = tera::Context::new();
    ctx.insert("summary", s);
    ctx.insert("approval", &approval);
    ctx.insert("left_out", &!prepared.audience.left_out.is_empty());
    ctx.insert("stats", &prepared.audience.stats);
    let when = chrono::DateTime::parse_from_rfc3339(&s.generated_at).map_or_else(
        |_| s.generated_at.clone(),
        |d| {
            d.with_timezone(&prepared.config.tz())
                .format("%Y-%m-%d %H:%M %Z")
                .to_string()
        },
    );
    ctx.insert("generated", &when);
    let titles: Vec<(String, String)> = prepared
        .campaign
        .updates
        .iter()
        .map(|slug| {
            let t = prepared
                .updates
                .any(slug)
                .map_or_else(|| slug.clone(), |u| u.title.clone());
            (slug.clone(), t)
        })
        .collect();
    ctx.insert("update_titles", &titles);
    tera.render_to("head.html", &ctx, &mut o).map_err(fail)?;
    let mut row = tera::Context::new();
    for (i, e) in entries.iter().enumerate() {
        row.insert("n", &(i + 1));
        row.insert("e", &entry_view(prepared, e, now));
        tera.render_to("row.html", &row, &mut o).map_err(fail)?;
    }
    tera.render_to("mid.html", &ctx, &mut o).map_err(fail)?;
    for l in &prepared.audience.left_out {
        row.insert("l", l);
        tera.render_to("left-row.html", &row, &mut o)
            .map_err(fail)?;
    }
    tera.render_to("tail.html", &ctx, &mut o).map_err(fail)?;
    o.flush().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_names_hold_no_path_or_odd_characters() {
        assert_eq!(
            safe_name(0, "Jane.Doe@Example.org"),
            "00001-jane.doe_at_example.org"
        );
        let n = safe_name(41, "../../etc/passwd\"<x>@e.org");
        assert!(
            !n.contains('/') && !n.contains('"') && !n.contains('<'),
            "{n}"
        );
        assert!(n.starts_with("00042-"));
    }
}
