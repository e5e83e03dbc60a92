//! `bulletin init`: a new project that works at once, and never over existing files.

mod common;

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
