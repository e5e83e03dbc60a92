//! The time bulletin runs at: the system clock, or for tests a starting point given in the
//! environment variable `BULLETIN_NOW` (RFC 3339) from which time then runs on as usual.

use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

/// Name of the variable that sets "now" for tests.
pub const NOW_VAR: &str = "BULLETIN_NOW";

/// Refuses a `BULLETIN_NOW` that is set but not a time: ignoring it would run on today's date
/// while its user believes otherwise.
pub fn check_env() -> Result<(), BadNow> {
    match std::env::var(NOW_VAR) {
        Ok(s) if !s.trim().is_empty() => match chrono::DateTime::parse_from_rfc3339(s.trim()) {
            Ok(t) if t.timestamp() < 0 => Err(BadNow {
                value: s.clone(),
                why: "mail dates start in 1970".into(),
            }),
            Ok(_) => Ok(()),
            Err(e) => Err(BadNow {
                value: s.clone(),
                why: e.to_string(),
            }),
        },
        _ => Ok(()),
    }
}

/// A `BULLETIN_NOW` that is not a time.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{NOW_VAR}={value:?} is not a time bulletin can use ({why}): write it as 2026-12-01T09:00:00Z or 2026-12-01T10:00:00+01:00, or unset it")]
pub struct BadNow {
    pub value: String,
    pub why: String,
}

fn base() -> &'static (SystemTime, Instant) {
    static BASE: OnceLock<(SystemTime, Instant)> = OnceLock::new();
    BASE.get_or_init(|| {
        let start = std::env::var(NOW_VAR)
            .ok()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s.trim()).ok())
            .map(|d| SystemTime::from(d.with_timezone(&chrono::Utc)))
            .unwrap_or_else(SystemTime::now);
        (start, Instant::now())
    })
}

/// The clock's starting point: `BULLETIN_NOW` exactly when it is set, else when the process
/// first asked the time. What a preview dates its messages with, so that it is reproducible.
pub fn start() -> SystemTime {
    base().0
}

pub fn now() -> SystemTime {
    let (start, at) = base();
    *start + at.elapsed()
}

pub fn now_ms() -> i64 {
    now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

pub fn utc() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::<chrono::Utc>::from(now())
}

pub fn from_ms(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::<chrono::Utc>::from(
        SystemTime::UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64),
    )
}
