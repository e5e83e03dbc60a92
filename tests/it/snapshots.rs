//! Same inputs, same bytes: with the clock fixed by `BULLETIN_NOW`, two previews of a project are
//! identical file for file, and whole messages match the golden files in tests/snapshots/ (an
//! English, a French and a bilingual announcement, and a digest). After an intended change of the
//! messages, `BULLETIN_BLESS=1 cargo test snapshots::` rewrites the golden files; review
//! their diff before committing it.

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
    let bless = std::env::var_os("BULLETIN_BLESS").is_some();
    let mut differ = Vec::new();
    for (campaign, who, golden) in cases {
        let out = preview(&p, campaign, campaign);
        let (_, got) = files(&out)
            .into_iter()
            .find(|(n, _)| n.ends_with(&format!("{who}.eml")))
            .unwrap_or_else(|| panic!("no message for {who} in {campaign}"));
        let path = repo().join("tests/snapshots").join(golden);
        if bless {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        let want = std::fs::read(&path)
            .unwrap_or_else(|_| panic!("{} is missing: run with BULLETIN_BLESS=1", path.display()));
        if want != got {
            let first = want
                .split(|b| *b == b'\n')
                .zip(got.split(|b| *b == b'\n'))
                .position(|(a, b)| a != b)
                .map_or("the length".to_string(), |i| format!("line {}", i + 1));
            differ.push(format!(
                "{golden} ({campaign}, {who}): first difference at {first}"
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "messages differ from their golden files:\n{}\n(if intended: BULLETIN_BLESS=1 cargo test snapshots::, then review the diff)",
        differ.join("\n")
    );
}
