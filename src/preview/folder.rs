//! The preview's folder: an output path in, the guarantee that bulletin only ever replaces a
//! folder it wrote and nobody has touched since (a manifest of every file, with its size and
//! time), swapped in whole, with what dead previews left behind tidied away.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::{create, safe_name, Entry};
use crate::project::Prepared;
use crate::{Error, Result};

/// Marks a folder as a bulletin preview, which bulletin may replace.
pub const MARKER: &str = ".bulletin-preview";

/// The first line of the marker; the lines after it list what the preview wrote, as
/// `SIZE<TAB>NAME`, so that a later preview can tell the folder holds nothing else.
const MARKER_HEAD: &str =
    "This folder was written by `bulletin preview` and is replaced by the next one, unless files were added or changed since.";

/// Whether a name is one that a preview writes (for previews of bulletin versions that did not
/// list their files in the marker).
fn preview_name(name: &str) -> bool {
    let numbered = name.len() > 6
        && name.as_bytes()[..5].iter().all(u8::is_ascii_digit)
        && name.as_bytes()[5] == b'-'
        && (name.ends_with(".eml") || name.ends_with(".html"));
    numbered || matches!(name, "index.html" | "summary.json" | "rejects.csv" | MARKER)
}

/// Refuses a folder that holds anything but an earlier preview as that preview left it:
/// bulletin never empties a folder it did not make, nor one where someone has since put or
/// changed a file.
pub(super) fn check_target(out: &Path) -> Result<()> {
    if !out.exists() {
        return Ok(());
    }
    if !out.is_dir() {
        return Err(Error::Refused(format!(
            "{} exists and is not a folder: choose another --out",
            out.display()
        )));
    }
    let mut entries = std::fs::read_dir(out).map_err(|e| Error::io("read", out, e))?;
    if entries.next().is_none() {
        return Ok(());
    }
    let Ok(marker) = std::fs::read_to_string(out.join(MARKER)) else {
        return Err(Error::Refused(format!(
            "{} is not empty and is not a bulletin preview: bulletin will not empty it. Choose another --out, or move its files away",
            out.display()
        )));
    };
    // SIZE<TAB>MTIME_NS<TAB>NAME per file the last preview wrote.
    let listed: std::collections::HashMap<&str, (u64, u128)> = marker
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.splitn(3, '\t');
            let (size, mtime, name) = (f.next()?, f.next()?, f.next()?);
            Some((name, (size.parse().ok()?, mtime.parse().ok()?)))
        })
        .collect();
    let mut foreign = Vec::new();
    for e in std::fs::read_dir(out).map_err(|e| Error::io("read", out, e))? {
        let e = e.map_err(|e| Error::io("read", out, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name == MARKER {
            continue;
        }
        let meta = e
            .metadata()
            .map_err(|err| Error::io("read", e.path(), err))?;
        let ours = if listed.is_empty() {
            meta.is_file() && preview_name(&name)
        } else {
            meta.is_file() && listed.get(name.as_str()) == Some(&(meta.len(), mtime_ns(&meta)))
        };
        if !ours {
            foreign.push(name);
        }
    }
    if foreign.is_empty() {
        return Ok(());
    }
    foreign.sort();
    let n = foreign.len();
    let shown: Vec<String> = foreign
        .iter()
        .take(5)
        .map(|f| crate::term::quoted(f))
        .collect();
    Err(Error::Refused(format!(
        "{} holds {n} file{} that the last preview did not write, or that changed since ({}{}): bulletin will not replace it. Move them away, or choose another --out",
        out.display(),
        if n == 1 { "" } else { "s" },
        shown.join(", "),
        if n > 5 { ", …" } else { "" }
    )))
}

/// A staging folder's lock file, beside it: held while its preview is being written.
pub(super) fn staging_lock(staging: &Path) -> PathBuf {
    PathBuf::from(format!("{}.lock", staging.display()))
}

/// Tidies what previews that died left in `parent`: staging folders whose lock no live process
/// holds are removed, and their locks; a set-aside earlier preview (`.partial-PID.old`) goes back
/// in place if the preview it was set aside for never arrived, and is removed otherwise.
pub(super) fn remove_stale_staging(parent: &Path) {
    let Ok(rd) = std::fs::read_dir(parent) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some((base, tail)) = name
            .strip_prefix('.')
            .and_then(|n| n.rsplit_once(".partial-"))
        else {
            continue;
        };
        let (pid, kind) = match (tail.strip_suffix(".old"), tail.strip_suffix(".lock")) {
            (Some(p), _) => (p, "old"),
            (_, Some(p)) => (p, "lock"),
            _ => (tail, "staging"),
        };
        if base.is_empty() || pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let staging = parent.join(format!(".{base}.partial-{pid}"));
        let lock = staging_lock(&staging);
        let alive = std::fs::File::open(&lock)
            .is_ok_and(|f| matches!(f.try_lock(), Err(std::fs::TryLockError::WouldBlock)));
        if alive {
            continue;
        }
        match kind {
            "lock" => {
                if !staging.exists() {
                    let _ = std::fs::remove_file(&lock);
                }
            }
            "old" => {
                let out = parent.join(base);
                if !out.exists() {
                    let _ = std::fs::rename(e.path(), &out);
                } else if check_target(&e.path()).is_ok() {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
            _ => {
                let _ = std::fs::remove_dir_all(e.path());
                let _ = std::fs::remove_file(&lock);
            }
        }
    }
}

/// The marker, with every file the preview wrote and its size.
pub(super) fn write_manifest(dir: &Path, prepared: &Prepared, entries: &[Entry]) -> Result<()> {
    let path = dir.join(MARKER);
    let io = |e: std::io::Error| Error::io("write", &path, e);
    let mut w = create(&path)?;
    writeln!(w, "{MARKER_HEAD}").map_err(io)?;
    let mut names = Vec::with_capacity(entries.len() * 3 + 3);
    for e in entries {
        let base = safe_name(
            e.recipient,
            prepared.audience.recipients[e.recipient].contact.email(),
        );
        names.push(format!("{base}.eml"));
        names.push(format!("{base}.html"));
        names.push(format!("{base}.txt"));
    }
    names.extend(["index.html", "summary.json", "rejects.csv"].map(String::from));
    for name in names {
        if let Ok(m) = std::fs::metadata(dir.join(&name)) {
            writeln!(w, "{}\t{}\t{name}", m.len(), mtime_ns(&m)).map_err(io)?;
        }
    }
    w.flush().map_err(io)
}

/// When a file was last written, in nanoseconds: an edit that keeps the size still changes it.
fn mtime_ns(m: &std::fs::Metadata) -> u128 {
    m.modified()
        .ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos())
}

/// Replaces `out` with `staging`: the old preview is moved aside first and removed last, so at
/// every moment one whole preview exists. If someone put a file in the old preview while this one
/// was being made, the old folder is kept (renamed) instead of removed: its path is returned.
pub(super) fn swap_in(staging: &Path, out: &Path) -> Result<Option<PathBuf>> {
    let old = PathBuf::from(format!("{}.old", staging.display()));
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
    if !had_old {
        return Ok(None);
    }
    if check_target(&old).is_ok() {
        let _ = std::fs::remove_dir_all(&old);
        return Ok(None);
    }
    let stamp = crate::clock::utc().format("%Y%m%dT%H%M%S");
    let kept = PathBuf::from(format!("{}.kept-{stamp}", out.display()));
    std::fs::rename(&old, &kept).map_err(|e| Error::io("keep", &old, e))?;
    Ok(Some(kept))
}
