//! A target folder in, a new mailing project out: `bulletin.toml` and the example templates,
//! lists, updates and campaigns, embedded in the binary so that `init` works anywhere.

use std::path::Path;

use crate::{Error, Result};

/// Every file of the example project, by its path inside a new project.
const FILES: &[(&str, &[u8])] = &[
    (
        "attachments/mpome-summary.en.pdf",
        include_bytes!("../attachments/mpome-summary.en.pdf"),
    ),
    (
        "attachments/mpome-summary.fr.pdf",
        include_bytes!("../attachments/mpome-summary.fr.pdf"),
    ),
    (
        "campaigns/2026-11-digest.toml",
        include_bytes!("../campaigns/2026-11-digest.toml"),
    ),
    (
        "campaigns/2026-11-mpome-briefing.toml",
        include_bytes!("../campaigns/2026-11-mpome-briefing.toml"),
    ),
    (
        "campaigns/2026-12-mpome-conference-report.toml",
        include_bytes!("../campaigns/2026-12-mpome-conference-report.toml"),
    ),
    (
        "lists/geneva-forum-export.csv",
        include_bytes!("../lists/geneva-forum-export.csv"),
    ),
    (
        "lists/practitioners.csv",
        include_bytes!("../lists/practitioners.csv"),
    ),
    (
        "lists/unsubscribed.csv",
        include_bytes!("../lists/unsubscribed.csv"),
    ),
    (
        "templates/i18n/en.toml",
        include_bytes!("../templates/i18n/en.toml"),
    ),
    (
        "templates/i18n/fr.toml",
        include_bytes!("../templates/i18n/fr.toml"),
    ),
    (
        "templates/newsletter.html",
        include_bytes!("../templates/newsletter.html"),
    ),
    (
        "templates/newsletter.txt",
        include_bytes!("../templates/newsletter.txt"),
    ),
    (
        "updates/2026-10-mine-ban-lessons.en.md",
        include_bytes!("../updates/2026-10-mine-ban-lessons.en.md"),
    ),
    (
        "updates/2026-10-mine-ban-lessons.fr.md",
        include_bytes!("../updates/2026-10-mine-ban-lessons.fr.md"),
    ),
    (
        "updates/2026-11-disarmament-insight.en.md",
        include_bytes!("../updates/2026-11-disarmament-insight.en.md"),
    ),
    (
        "updates/2026-11-disarmament-insight.fr.md",
        include_bytes!("../updates/2026-11-disarmament-insight.fr.md"),
    ),
    (
        "updates/2026-11-humanitarian-perspectives.en.md",
        include_bytes!("../updates/2026-11-humanitarian-perspectives.en.md"),
    ),
    (
        "updates/2026-11-humanitarian-perspectives.fr.md",
        include_bytes!("../updates/2026-11-humanitarian-perspectives.fr.md"),
    ),
    (
        "updates/2026-11-peace-operations-materiel.en.md",
        include_bytes!("../updates/2026-11-peace-operations-materiel.en.md"),
    ),
    (
        "updates/2026-11-peace-operations-materiel.fr.md",
        include_bytes!("../updates/2026-11-peace-operations-materiel.fr.md"),
    ),
];

/// The example config: its paths are those of a project's own folders.
pub const CONFIG: &str = include_str!("../config.example.toml");

/// The example's planned send time, as the repository's campaign file writes it.
const PLANNED_SEND_AT: &str = "send_at = 2026-12-01T09:00:00";

/// The first weekday after `today`: when a new project's example campaign plans to go, so that
/// `bulletin schedule` works on it whatever day `init` ran (a fixed date would soon be past).
pub fn example_send_day(today: chrono::NaiveDate) -> chrono::NaiveDate {
    use chrono::Datelike;
    let mut day = today.succ_opt().unwrap_or(today);
    while matches!(day.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun) {
        day = day.succ_opt().unwrap_or(day);
    }
    day
}

/// Creates a project in `dir`, refusing to overwrite any file already there. `today` is the
/// date in the example's time zone: the example campaign plans to go on the next weekday.
/// Returns how many files were written.
pub fn init(dir: &Path, today: chrono::NaiveDate) -> Result<usize> {
    let config = CONFIG;
    let planned = example_send_day(today)
        .format("send_at = %Y-%m-%dT09:00:00")
        .to_string();
    let mut owned: Vec<(&str, Vec<u8>)> = Vec::new();
    for (rel, bytes) in FILES {
        let text = std::str::from_utf8(bytes).ok();
        if let Some(t) = text.filter(|t| t.contains(PLANNED_SEND_AT)) {
            owned.push((rel, t.replace(PLANNED_SEND_AT, &planned).into_bytes()));
        }
    }
    let mut all: Vec<(&str, &[u8])> = vec![("bulletin.toml", config.as_bytes())];
    for (rel, bytes) in FILES {
        match owned.iter().find(|(r, _)| r == rel) {
            Some((_, b)) => all.push((rel, b.as_slice())),
            None => all.push((rel, bytes)),
        }
    }
    let existing: Vec<String> = all
        .iter()
        .filter(|(rel, _)| dir.join(rel).exists())
        .map(|(rel, _)| dir.join(rel).display().to_string())
        .collect();
    if !existing.is_empty() {
        return Err(Error::Refused(format!(
            "{} already holds files that init would overwrite: {}. Choose a new folder",
            dir.display(),
            existing.join(", ")
        )));
    }
    for (rel, bytes) in &all {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
        }
        // create_new: a file appearing since the check above is still never overwritten.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io("create", &path, e))?;
        std::io::Write::write_all(&mut f, bytes).map_err(|e| Error::io("write", &path, e))?;
    }
    Ok(all.len())
}

#[cfg(test)]
mod tests {
    #[test]
    fn init_writes_every_file_of_the_example_project() {
        fn walk(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(root, &p, out);
                } else {
                    out.push(p.strip_prefix(root).unwrap().display().to_string());
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut on_disk = Vec::new();
        for folder in ["templates", "lists", "updates", "campaigns", "attachments"] {
            walk(root, &root.join(folder), &mut on_disk);
        }
        on_disk.sort();
        let mut embedded: Vec<String> = super::FILES.iter().map(|(p, _)| p.to_string()).collect();
        embedded.sort();
        assert_eq!(
            embedded, on_disk,
            "scaffold.rs lists the example project's files"
        );
    }

    #[test]
    fn the_example_plans_the_next_weekday() {
        let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        // Friday, Saturday, Sunday: Monday. Monday: Tuesday.
        for (today, day) in [
            ("2031-05-30", "2031-06-02"),
            ("2031-05-31", "2031-06-02"),
            ("2031-06-01", "2031-06-02"),
            ("2031-06-02", "2031-06-03"),
        ] {
            assert_eq!(super::example_send_day(d(today)), d(day), "{today}");
        }
        let briefing = super::FILES
            .iter()
            .find(|(p, _)| p.ends_with("mpome-briefing.toml"))
            .unwrap();
        assert!(std::str::from_utf8(briefing.1)
            .unwrap()
            .contains(super::PLANNED_SEND_AT));
    }

    #[test]
    fn project_config_points_inside_the_project() {
        let c = super::CONFIG;
        assert!(c.contains("templates = \"templates\""));
        assert!(!c.contains("example/"));
    }
}
