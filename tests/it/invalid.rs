//! One folder per kind of bad input under `fixtures/invalid/`, laid over the example project:
//! `bulletin check` must fail and say each line of the folder's `expected` file, and `preview`
//! must fail without writing anything.

use crate::common;

use common::{repo, Project};

#[test]
fn every_invalid_fixture_is_reported_with_file_and_line() {
    let root = repo().join("tests/fixtures/invalid");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 10);
    let mut failures = Vec::new();
    for case in cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let p = Project::fixture(&case);
        let _ = std::fs::remove_file(p.path().join("expected"));
        let expected = std::fs::read_to_string(case.join("expected")).unwrap();
        let done = p.bulletin().args(["check"]).run();
        if done.code() != 1 {
            failures.push(format!(
                "{name}: check exited {} (want 1)\n{}",
                done.code(),
                done.stderr()
            ));
            continue;
        }
        for line in expected.lines().filter(|l| !l.is_empty()) {
            if !done.stderr().contains(line) {
                failures.push(format!("{name}: stderr lacks {line:?}:\n{}", done.stderr()));
            }
        }
        // The same mistake stops a preview before any file is written.
        let out = p.path().join("out");
        let pv = p
            .bulletin()
            .args(["preview", "2026-11-digest", "--out", out.to_str().unwrap()])
            .run();
        if pv.code() != 1 {
            failures.push(format!(
                "{name}: preview exited {}\n{}",
                pv.code(),
                pv.stderr()
            ));
        }
        if out.exists() {
            failures.push(format!("{name}: preview wrote {}", out.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn skip_invalid_sets_bad_rows_aside_in_rejects_csv() {
    let case = repo().join("tests/fixtures/invalid/invalid-addresses");
    let p = Project::fixture(&case);
    let out = p.path().join("out");
    p.bulletin()
        .args([
            "preview",
            "2026-11-digest",
            "--skip-invalid",
            "--out",
            out.to_str().unwrap(),
        ])
        .ok()
        .stdout_has("3 invalid rows set aside")
        .stderr_has("skipped:");
    let rejects = std::fs::read_to_string(out.join("rejects.csv")).unwrap();
    let rows = common::csv_rows(&rejects);
    let lines: Vec<&str> = rows
        .iter()
        .filter(|r| r["reason"] != "(header)")
        .map(|r| r["line"].as_str())
        .collect();
    assert_eq!(lines, ["3", "4", "5"]);
    assert!(rejects.contains("bad-at-example.org") && rejects.contains("two words@example.org"));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["rejects"], 3);
    let sent: Vec<&str> = summary["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["to"].as_str().unwrap())
        .collect();
    assert!(sent.contains(&"good@example.org") && sent.contains(&"also-good@example.org"));
    assert!(!sent.iter().any(|s| s.contains("bad")));
}

#[test]
fn missing_config_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    common::Run::new()
        .current_dir(dir.path())
        .args(["check"])
        .fails()
        .stderr_has("no config file at bulletin.toml")
        .stderr_has("bulletin init DIR");
}

#[test]
fn a_file_error_says_its_cause_once_and_a_clock_before_1970_is_refused() {
    let p = Project::example();
    let err = p
        .bulletin()
        .args(["bounces", "import", "no-such-mailbox"])
        .fails()
        .stderr();
    assert!(
        err.contains("cannot read the mailbox no-such-mailbox"),
        "{err}"
    );
    assert_eq!(err.matches("(os error 2)").count(), 1, "{err}");
    // Mail dates cannot be before 1970: refused before anything is made, not half a preview.
    p.bulletin()
        .env("BULLETIN_NOW", "1969-12-31T23:59:59Z")
        .args(["preview", "2026-11-digest"])
        .fails()
        .stderr_has("mail dates start in 1970");
    assert!(!p.path().join("preview").exists());
}

#[test]
fn unknown_campaign_lists_the_known_ones() {
    let p = Project::example();
    p.bulletin()
        .args(["preview", "2026-12"])
        .fails()
        .stderr_has("no campaign \"2026-12\"")
        .stderr_has("2026-11-digest");
}
