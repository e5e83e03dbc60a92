//! The journal's file: a path in, a file fit to open out (private to its owner, one name only,
//! not a lost journal's leftover log), and an older journal brought to the current layout.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};

use crate::{Error, Result};

/// A file's identity: the same name may come to mean another file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Identity(u64, u64);

pub(super) fn identity(path: &Path) -> std::io::Result<Identity> {
    let m = std::fs::metadata(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Ok(Identity(m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        Ok(Identity(0, m.len()))
    }
}

/// The journal's write-ahead log and shared-memory files, beside it.
pub fn side_files(path: &Path) -> [PathBuf; 2] {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let mut shm = path.as_os_str().to_owned();
    shm.push("-shm");
    [PathBuf::from(wal), PathBuf::from(shm)]
}

/// The journal holds every address and every reply: only its owner may read it. Files made
/// before this rule are tightened when opened.
#[cfg(unix)]
pub(super) fn owner_only(path: &Path) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if !path.exists() {
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(|e| Error::io("create", path, e))?;
    }
    for p in std::iter::once(path.to_path_buf()).chain(side_files(path)) {
        if let Ok(m) = std::fs::metadata(&p) {
            if m.permissions().mode() & 0o077 != 0 {
                let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600));
            }
        }
    }
    Ok(())
}

#[cfg(not(unix))]
pub(super) fn owner_only(_path: &Path) -> Result<()> {
    Ok(())
}

/// The journal's layout version: 2 keys every address in its canonical form (see
/// [`crate::address::check`]), where earlier versions kept the cell lower-cased as written.
const SCHEMA_VERSION: i64 = 2;

/// How far a journal state has got: when two rows turn out to be one recipient, the furthest
/// is kept, so that nobody recorded as mailed is mailed again.
fn progress(state: &str) -> u8 {
    match state {
        "sent" => 5,
        "sending" | "unknown" => 4,
        "failed" => 3,
        "deferred" => 2,
        _ => 1,
    }
}

/// Adds the relay columns to a journal from before several relays: a message's relay, and
/// each hand-over's, for per-relay caps.
pub(super) fn add_relay_columns(conn: &Connection) -> rusqlite::Result<()> {
    for table in ["deliveries", "handovers"] {
        add_column(conn, table, "relay")?;
    }
    Ok(())
}

/// Adds a text column that an older journal's table lacks.
pub(super) fn add_column(conn: &Connection, table: &str, column: &str) -> rusqlite::Result<()> {
    let has: bool = conn
        .prepare(&format!(
            "SELECT 1 FROM pragma_table_info('{table}') WHERE name = '{column}'"
        ))?
        .exists([])?;
    if !has {
        conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} TEXT"))?;
    }
    Ok(())
}

/// Brings a journal written by an earlier version to the current layout, once.
pub(super) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let version: i64 = conn
        .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
            r.get::<_, String>(0)
        })
        .optional()?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if version >= SCHEMA_VERSION {
        return Ok(());
    }
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = (|| {
        let rows: Vec<(i64, String, String, String)> = conn
            .prepare("SELECT id, campaign, email, state FROM deliveries")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (id, campaign, email, state) in rows {
            let Ok(canonical) = crate::address::check(&email) else {
                continue;
            };
            if canonical == email {
                continue;
            }
            let twin: Option<(i64, String)> = conn
                .query_row(
                    "SELECT id, state FROM deliveries WHERE campaign = ?1 AND email = ?2",
                    params![campaign, canonical],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            match twin {
                Some((_, twin_state)) if progress(&twin_state) >= progress(&state) => {
                    conn.execute("DELETE FROM deliveries WHERE id = ?1", [id])?;
                }
                twin => {
                    if let Some((twin_id, _)) = twin {
                        conn.execute("DELETE FROM deliveries WHERE id = ?1", [twin_id])?;
                    }
                    conn.execute(
                        "UPDATE deliveries SET email = ?2 WHERE id = ?1",
                        params![id, canonical],
                    )?;
                }
            }
        }
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('schema', ?1) ON CONFLICT(key) DO UPDATE SET value = ?1",
            [SCHEMA_VERSION.to_string()],
        )?;
        Ok(())
    })();
    conn.execute_batch(if result.is_ok() { "COMMIT" } else { "ROLLBACK" })?;
    result
}

/// SQLite names its write-ahead log after the path it was given: two names of one file (hard
/// links) would keep two logs of one database, and runs through each would not see each other.
#[cfg(unix)]
pub(super) fn refuse_hard_links(path: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata(path) {
        Ok(m) if m.nlink() > 1 => Err(Error::Refused(format!(
            "the journal {} has {} names (hard links): SQLite cannot share a journal that way. Keep one name and point the other configs at it (a symbolic link is fine)",
            path.display(),
            m.nlink()
        ))),
        _ => Ok(()),
    }
}

#[cfg(not(unix))]
pub(super) fn refuse_hard_links(_path: &Path) -> Result<()> {
    Ok(())
}

/// A journal whose main file is gone while its write-ahead log is still there: opening it would
/// make a new, empty journal (and SQLite might replay the old log into it).
pub(crate) fn orphaned_log(path: &Path) -> Option<PathBuf> {
    let [wal, _] = side_files(path);
    (!path.exists() && wal.exists()).then_some(wal)
}
