//! `bulletin init`: a new project that works at once, and never over existing files.

use crate::common;

use common::Run;

#[test]
fn init_creates_a_working_project_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("news");
    Run::new()
        .current_dir(dir.path())
        .args(["init", "news"])
        .ok()
        .stdout_has("Created news");
    for f in [
        "bulletin.toml",
        "templates/newsletter.html",
        "templates/i18n/fr.toml",
        "lists/practitioners.csv",
        "campaigns/2026-11-digest.toml",
    ] {
        assert!(target.join(f).is_file(), "{f}");
    }
    Run::new().current_dir(&target).args(["check"]).ok();
    Run::new()
        .current_dir(&target)
        .args(["preview", "2026-11-digest"])
        .ok();
    assert!(target.join("preview/2026-11-digest/index.html").is_file());

    std::fs::write(target.join("bulletin.toml"), "# mine").unwrap();
    Run::new()
        .current_dir(dir.path())
        .args(["init", "news"])
        .fails()
        .stderr_has("already holds files that init would overwrite");
    assert_eq!(
        std::fs::read_to_string(target.join("bulletin.toml")).unwrap(),
        "# mine"
    );
}

/// `init` plans the example campaign for the next weekday of the day it runs, so that its
/// `schedule` works on any date: on a fixed Friday it plans Monday, and on today's date too.
#[test]
fn the_example_campaign_can_be_scheduled_whatever_the_day() {
    let dir = tempfile::tempdir().unwrap();
    // Friday 30 May 2031, evening in Geneva.
    let friday = "2031-05-30T19:00:00Z";
    Run::new()
        .current_dir(dir.path())
        .env("BULLETIN_NOW", friday)
        .args(["init", "news"])
        .ok();
    let target = dir.path().join("news");
    assert!(
        std::fs::read_to_string(target.join("campaigns/2026-11-mpome-briefing.toml"))
            .unwrap()
            .contains("send_at = 2031-06-02T09:00:00"),
        "the next weekday"
    );
    Run::new()
        .current_dir(&target)
        .env("BULLETIN_NOW", friday)
        .args(["schedule", "2026-11-mpome-briefing"])
        .ok()
        .stdout_has("scheduled for 2031-06-02T09:00:00+02:00");
    // And on whatever day this runs: no fixed clock at all.
    let today = dir.path().join("today");
    Run::new().arg("init").arg(&today).ok();
    Run::new()
        .current_dir(&today)
        .args(["schedule", "2026-11-mpome-briefing"])
        .ok()
        .stdout_has("scheduled for");
}

#[test]
fn every_command_has_help_with_examples() {
    for cmd in [
        "check",
        "audience",
        "preview",
        "init",
        "send",
        "test-send",
        "status",
        "schedule",
        "due",
        "cron-line",
    ] {
        Run::new().args([cmd, "--help"]).ok().stdout_has("Example");
    }
    Run::new().args(["--help"]).ok().stdout_has("Exit codes");
}

#[test]
fn init_takes_no_config_and_its_help_offers_none() {
    let help = common::Run::new().args(["init", "--help"]).ok().stdout();
    assert!(help.contains("Usage: bulletin init <DIR>"), "{help}");
    assert!(!help.contains("--config"), "{help}");
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("news");
    common::Run::new()
        .arg("init")
        .arg(&target)
        .args(["--config", "x.toml"])
        .run()
        .code_is(2)
        .stderr_has("unexpected argument '--config'");
    assert!(!target.exists(), "nothing created");
    common::Run::new()
        .args(["-c", "x.toml", "init"])
        .arg(&target)
        .run()
        .code_is(2)
        .stderr_has("takes no --config");
    assert!(!target.exists(), "nothing created");
    // The other commands keep their --config.
    let other = common::Run::new().args(["check", "--help"]).ok().stdout();
    assert!(other.contains("--config"), "{other}");
}
