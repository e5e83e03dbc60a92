//! Time values: a campaign's `[schedule]` text (send time, time zone, sending window) in, checked
//! values out that answer what `due` asks: is it time, is the window open, until when, when does
//! it open next. Local times are read in the campaign's or the config's zone, across
//! daylight-saving changes.

use chrono::{
    DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::Deserialize;

/// The `[schedule]` section of a campaign file.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ScheduleFile {
    /// When to send: a local date-time (read in the zone) or one with an offset.
    pub send_at: Option<toml::value::Datetime>,
    /// IANA zone name such as "Europe/Zurich"; defaults to the config's.
    pub timezone: Option<String>,
    /// Days on which sending is allowed ("mon".."sun"); all when left out.
    #[serde(default)]
    pub days: Vec<String>,
    /// Hours in which sending is allowed, "08:00-18:00"; all day when left out.
    pub hours: Option<String>,
}

/// A campaign's schedule, checked.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub tz: Tz,
    /// The planned send time from the file, if any (a plan, not a go).
    pub send_at: Option<DateTime<Utc>>,
    pub window: Window,
}

/// When sending is allowed: some weekdays, between two local times.
#[derive(Debug, Clone)]
pub struct Window {
    pub days: Vec<Weekday>,
    pub hours: Option<(NaiveTime, NaiveTime)>,
}

impl Window {
    pub fn always() -> Window {
        Window {
            days: Vec::new(),
            hours: None,
        }
    }

    pub fn is_always(&self) -> bool {
        self.days.is_empty() && self.hours.is_none()
    }

    fn day_allowed(&self, d: Weekday) -> bool {
        self.days.is_empty() || self.days.contains(&d)
    }

    /// Whether sending is allowed at `now`; if so, until when (None: no end).
    pub fn open_until(&self, tz: Tz, now: DateTime<Utc>) -> Option<Option<DateTime<Utc>>> {
        let local = now.with_timezone(&tz);
        if !self.day_allowed(local.weekday()) {
            return None;
        }
        match self.hours {
            None => Some(self.days_end(tz, local.date_naive())),
            Some((from, to)) => {
                let t = local.time();
                if t >= from && t < to {
                    Some(Some(resolve(tz, local.date_naive().and_time(to))))
                } else {
                    None
                }
            }
        }
    }

    /// The end of an all-day window: midnight after the last allowed day in a row.
    fn days_end(&self, tz: Tz, mut day: NaiveDate) -> Option<DateTime<Utc>> {
        if self.days.is_empty() {
            return None;
        }
        for _ in 0..7 {
            day = day.succ_opt()?;
            if !self.day_allowed(day.weekday()) {
                return Some(resolve(tz, day.and_time(NaiveTime::MIN)));
            }
        }
        None
    }

    /// The next moment after `now` at which the window opens.
    pub fn next_open(&self, tz: Tz, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = now.with_timezone(&tz);
        let start = self.hours.map_or(NaiveTime::MIN, |(f, _)| f);
        let mut day = local.date_naive();
        for _ in 0..8 {
            if self.day_allowed(day.weekday()) {
                let at = resolve(tz, day.and_time(start));
                if at > now {
                    return Some(at);
                }
            }
            day = day.succ_opt()?;
        }
        None
    }
}

/// A local time in a zone as an instant. In the hour that daylight saving repeats, the first;
/// in the hour it skips, the moment the clocks jump to.
pub fn resolve(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, _) => a.with_timezone(&Utc),
        LocalResult::None => {
            // Walk forward to the first minute that exists.
            let mut l = local;
            for _ in 0..180 {
                l += chrono::Duration::minutes(1);
                if let Some(t) = tz.from_local_datetime(&l).earliest() {
                    return t.with_timezone(&Utc);
                }
            }
            Utc.from_utc_datetime(&local)
        }
    }
}

/// A schedule value that cannot be read, with the key it was given under.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unreadable {
    #[error("\"{0}\" is not a time zone name; use one such as \"Europe/Zurich\" or \"UTC\"")]
    Zone(String),
    #[error("\"{0}\" is not a day: use mon, tue, wed, thu, fri, sat, sun")]
    Day(String),
    #[error("hours \"{0}\" should read like \"08:00-18:00\"")]
    Hours(String),
    #[error("hours \"{0}\": the window must end after it starts, within one day")]
    HoursBackwards(String),
    #[error("{text} does not exist in {tz}: the clocks jump forward then; pick another time")]
    Skipped { text: String, tz: Tz },
    #[error("cannot read \"{text}\" as a time: write 2026-12-01T09:00 (read in {tz}) or 2026-12-01T09:00:00+01:00")]
    Time { text: String, tz: Tz },
}

impl Unreadable {
    /// The key of a campaign's `[schedule]` the value was given under, so that a problem names
    /// its own line.
    pub fn key(&self) -> &'static str {
        match self {
            Unreadable::Zone(_) => "timezone",
            Unreadable::Day(_) => "days",
            Unreadable::Hours(_) | Unreadable::HoursBackwards(_) => "hours",
            Unreadable::Skipped { .. } | Unreadable::Time { .. } => "send_at",
        }
    }
}

pub fn parse_tz(name: &str) -> Result<Tz, Unreadable> {
    name.parse::<Tz>()
        .map_err(|_| Unreadable::Zone(name.to_string()))
}

fn parse_day(s: &str) -> Result<Weekday, Unreadable> {
    let l = s.trim().to_lowercase();
    let w = match l.get(..3).unwrap_or(&l) {
        "mon" | "lun" => Weekday::Mon,
        "tue" | "mar" => Weekday::Tue,
        "wed" | "mer" => Weekday::Wed,
        "thu" | "jeu" => Weekday::Thu,
        "fri" | "ven" => Weekday::Fri,
        "sat" | "sam" => Weekday::Sat,
        "sun" | "dim" => Weekday::Sun,
        _ => return Err(Unreadable::Day(s.to_string())),
    };
    Ok(w)
}

fn parse_hours(s: &str) -> Result<(NaiveTime, NaiveTime), Unreadable> {
    let bad = || Unreadable::Hours(s.to_string());
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let t = |x: &str| NaiveTime::parse_from_str(x.trim(), "%H:%M").map_err(|_| bad());
    let (from, to) = (t(a)?, t(b)?);
    if from >= to {
        return Err(Unreadable::HoursBackwards(s.to_string()));
    }
    Ok((from, to))
}

/// Reads a TOML date-time: with an offset it is exact; without, it is read in `tz`.
pub fn toml_datetime(dt: &toml::value::Datetime, tz: Tz) -> Result<DateTime<Utc>, Unreadable> {
    parse_at(&dt.to_string(), tz)
}

/// Reads a time given on the command line or in a file: RFC 3339 with an offset, or a local
/// date and time ("2026-12-01 09:00", "2026-12-01T09:00:00") read in `tz`.
pub fn parse_at(s: &str, tz: Tz) -> Result<DateTime<Utc>, Unreadable> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(local) = NaiveDateTime::parse_from_str(s, fmt) {
            if tz.from_local_datetime(&local).earliest().is_none() {
                return Err(Unreadable::Skipped {
                    text: s.to_string(),
                    tz,
                });
            }
            return Ok(resolve(tz, local));
        }
    }
    Err(Unreadable::Time {
        text: s.to_string(),
        tz,
    })
}

impl Schedule {
    pub fn from_file(f: &ScheduleFile, default_tz: Tz) -> Result<Schedule, Vec<Unreadable>> {
        let mut errs = Vec::new();
        let tz = match &f.timezone {
            Some(n) => parse_tz(n).unwrap_or_else(|e| {
                errs.push(e);
                default_tz
            }),
            None => default_tz,
        };
        let send_at = f
            .send_at
            .as_ref()
            .and_then(|d| toml_datetime(d, tz).map_err(|e| errs.push(e)).ok());
        let days = f
            .days
            .iter()
            .filter_map(|d| parse_day(d).map_err(|e| errs.push(e)).ok())
            .collect();
        let hours = f
            .hours
            .as_deref()
            .and_then(|h| parse_hours(h).map_err(|e| errs.push(e)).ok());
        if errs.is_empty() {
            Ok(Schedule {
                tz,
                send_at,
                window: Window { days, hours },
            })
        } else {
            Err(errs)
        }
    }

    pub fn describe_window(&self) -> String {
        if self.window.is_always() {
            return "any time".into();
        }
        let days = if self.window.days.is_empty() {
            "every day".to_string()
        } else {
            self.window
                .days
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        match self.window.hours {
            Some((f, t)) => format!(
                "{days} {}-{} {}",
                f.format("%H:%M"),
                t.format("%H:%M"),
                self.tz
            ),
            None => format!("{days} ({})", self.tz),
        }
    }
}

/// The local time of an instant, as log lines show it.
pub fn stamp(tz: Tz, t: DateTime<Utc>) -> String {
    t.with_timezone(&tz)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zurich() -> Tz {
        parse_tz("Europe/Zurich").unwrap()
    }

    #[test]
    fn local_times_follow_daylight_saving() {
        // Winter: UTC+1; summer: UTC+2.
        assert_eq!(
            parse_at("2026-12-01 09:00", zurich()).unwrap().to_rfc3339(),
            "2026-12-01T08:00:00+00:00"
        );
        assert_eq!(
            parse_at("2026-07-01T09:00", zurich()).unwrap().to_rfc3339(),
            "2026-07-01T07:00:00+00:00"
        );
        assert_eq!(
            parse_at("2026-12-01T09:00:00-05:00", zurich())
                .unwrap()
                .to_rfc3339(),
            "2026-12-01T14:00:00+00:00"
        );
        // 29 March 2026, 02:30 does not exist in Zurich.
        let skipped = parse_at("2026-03-29 02:30", zurich()).unwrap_err();
        assert!(matches!(skipped, Unreadable::Skipped { .. }), "{skipped}");
        assert_eq!(skipped.key(), "send_at");
        // 25 October 2026, 02:30 happens twice: the first.
        assert_eq!(
            parse_at("2026-10-25 02:30", zurich()).unwrap().to_rfc3339(),
            "2026-10-25T00:30:00+00:00"
        );
    }

    #[test]
    fn windows_open_close_and_reopen() {
        let w = Window {
            days: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            hours: Some(parse_hours("08:00-18:00").unwrap()),
        };
        let tz = zurich();
        // Tuesday 24 November 2026, 10:00 in Zurich: open until 18:00 local.
        let tue10 = parse_at("2026-11-24 10:00", tz).unwrap();
        assert_eq!(
            w.open_until(tz, tue10),
            Some(Some(parse_at("2026-11-24 18:00", tz).unwrap()))
        );
        // 19:00: closed; opens Wednesday 08:00.
        let tue19 = parse_at("2026-11-24 19:00", tz).unwrap();
        assert_eq!(w.open_until(tz, tue19), None);
        assert_eq!(
            w.next_open(tz, tue19),
            Some(parse_at("2026-11-25 08:00", tz).unwrap())
        );
        // Friday evening: next Monday.
        let fri = parse_at("2026-11-27 18:30", tz).unwrap();
        assert_eq!(
            w.next_open(tz, fri),
            Some(parse_at("2026-11-30 08:00", tz).unwrap())
        );
        assert!(parse_hours("18:00-08:00").is_err());
        assert!(parse_day("funday").is_err());
    }
}
