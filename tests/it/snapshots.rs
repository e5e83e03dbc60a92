//! Same inputs, same bytes: with the clock fixed by `BULLETIN_NOW`, two previews of a project are
//! identical file for file, and whole messages match the golden files in tests/snapshots/ (an
//! English, a French and a bilingual announcement, and a digest), as do the preview's index and
//! `audience`'s report. A difference is shown as a diff. After an intended change,
//! `SNAPSHOTS=overwrite cargo test snapshots::` rewrites the golden files; review their diff
//! before committing it.

use crate::common;

use std::path::{Path, PathBuf};

use common::{repo, Project};

const NOW: &str = "2026-12-01T08:00:00Z";

fn preview(p: &Project, campaign: &str, out: &str) -> PathBuf {
    let dir = p.path().join(out);
    p.bulletin()
        .env("BULLETIN_NOW", NOW)
        .args(["preview", campaign, "--out"])
        .arg(&dir)
        .ok();
    dir
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn two_previews_are_byte_identical() {
    let p = Project::example();
    for campaign in ["2026-11-digest", "2026-11-mpome-briefing"] {
        let a = files(&preview(&p, campaign, "a"));
        let b = files(&preview(&p, campaign, "b"));
        assert!(a.len() > 20);
        assert_eq!(a.len(), b.len());
        for ((na, ba), (nb, bb)) in a.iter().zip(&b) {
            assert_eq!(na, nb);
            // The marker records when each file was written, to tell later edits apart: it is
            // the folder's bookkeeping, not part of the preview.
            if na == ".bulletin-preview" {
                continue;
            }
            assert!(ba == bb, "{campaign}: {na} differs between two previews");
        }
        std::fs::remove_dir_all(p.path().join("a")).unwrap();
        std::fs::remove_dir_all(p.path().join("b")).unwrap();
    }
}

#[test]
fn whole_messages_match_their_golden_files() {
    let p = Project::example();
    let cases = [
        (
            "2026-11-mpome-briefing",
            "t.nguyen_at_example.com",
            "announcement-en.eml",
        ),
        (
            "2026-11-mpome-briefing",
            "amina.diallo_at_example.org",
            "announcement-fr.eml",
        ),
        (
            "2026-11-mpome-briefing",
            "luc.favre_at_example.org",
            "announcement-bilingual.eml",
        ),
        (
            "2026-11-digest",
            "s.petrov_at_example.net",
            "digest-bilingual.eml",
        ),
    ];
    for (campaign, who, golden) in cases {
        let out = preview(&p, campaign, campaign);
        let (_, got) = files(&out)
            .into_iter()
            .find(|(n, _)| n.ends_with(&format!("{who}.eml")))
            .unwrap_or_else(|| panic!("no message for {who} in {campaign}"));
        matches_golden(&got, golden);
    }
}

/// Compares with a golden file of tests/snapshots, showing a diff (snapbox), then byte for
/// byte: a message's line ends are part of it. `SNAPSHOTS=overwrite` rewrites the file.
fn matches_golden(got: &[u8], golden: &str) {
    let path = repo().join("tests/snapshots").join(golden);
    if std::env::var("SNAPSHOTS").as_deref() == Ok("overwrite") {
        // Byte for byte: snapbox would write the text with its own line ends.
        std::fs::write(&path, got).unwrap();
        return;
    }
    snapbox::Assert::new()
        .action_env(snapbox::assert::DEFAULT_ACTION_ENV)
        .eq(got.to_vec(), snapbox::Data::read_from(&path, None).raw());
    assert!(
        std::fs::read(&path).unwrap() == got,
        "{golden}: the same text with other line ends (if intended: SNAPSHOTS=overwrite cargo test snapshots::)"
    );
}

#[test]
fn the_preview_index_and_the_audience_report_match_their_golden_files() {
    let p = Project::example();
    let out = preview(&p, "2026-11-digest", "index");
    matches_golden(
        &std::fs::read(out.join("index.html")).unwrap(),
        "index-digest.html",
    );
    let report = p
        .bulletin()
        .env("BULLETIN_NOW", NOW)
        .args(["audience", "2026-11-digest"])
        .ok()
        .stdout();
    matches_golden(report.as_bytes(), "audience-digest.txt");
}

/// The sign-up's confirmation mail, as `serve` composes it: in the chosen language, the link,
/// how long it works, what to do if it was not you.
#[test]
fn the_confirmation_mail_matches_its_golden_file() {
    let p = Project::example();
    let config = bulletin::config::Config::load(&p.path().join("bulletin.toml")).unwrap();
    let request = bulletin::token::SignupRequest {
        email: "nouvelle.lectrice@example.org".into(),
        name: "Nouvelle Lectrice".into(),
        languages: vec!["fr".into()],
        interests: vec!["landmines".into()],
        at_ms: 1_796_724_000_000,
        form_version: "0123456789abcdef".into(),
    };
    let strings = bulletin::serve::page_strings(&config, "fr").unwrap();
    let date = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_796_724_000_000);
    let (from, bytes) = bulletin::compose::confirmation_mail(
        &config,
        &strings,
        &request,
        "https://disarmament-insight.example.org/confirm/TOKEN",
        7,
        date,
        "0011223344556677",
    )
    .unwrap();
    assert_eq!(from, "news@disarmament-insight.example.org");
    matches_golden(&bytes, "confirmation-fr.eml");
}
