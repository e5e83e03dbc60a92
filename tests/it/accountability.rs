//! Accountability: `history` answers a data-protection request from what the journal really
//! holds after real sends (mailin-embedded as the relay); `forget` erases an address so that its
//! bytes are in none of the journal's files, while a keyed hash keeps it from being mailed again.

use crate::common;

use common::smtp::RealSmtp;
use common::Project;

const FAST: &str = "per_second = 500\nburst = 100";

/// Whether any of the project's journal files holds `needle`'s bytes.
fn files_holding(p: &Project, needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for name in [
        "bulletin.sqlite",
        "bulletin.sqlite-wal",
        ".bulletin.sqlite.sent",
        ".bulletin.sqlite.suppressions",
        ".bulletin.sqlite.readers",
    ] {
        if let Ok(bytes) = std::fs::read(p.path().join(name)) {
            if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                out.push(name.to_string());
            }
        }
    }
    out
}

#[test]
fn history_tells_everything_and_forget_leaves_no_byte_of_the_address() {
    let smtp = RealSmtp::start();
    let p = Project::example();
    p.relay(smtp.port, "connections = 2", FAST);
    let who = "amina.diallo@example.org";
    p.bulletin().args(["send", "2026-11-digest", "--yes"]).ok();
    p.bulletin()
        .args([
            "test-send",
            "2026-11-digest",
            "--to",
            who,
            "--to",
            "editor@example.org",
        ])
        .ok();
    p.bulletin()
        .args(["suppress", "add", who, "--reason", "unsubscribed"])
        .ok();

    let text = p.bulletin().args(["history", who]).ok().stdout();
    assert!(text.contains("lists/practitioners.csv:2"), "{text}");
    assert!(text.contains("2026-11-digest  sent"), "{text}");
    assert!(text.contains("Test sends to it (1)"), "{text}");
    assert!(
        text.contains("suppressed  unsubscribed by command"),
        "{text}"
    );
    assert!(
        text.contains("Nothing was sent to it while it was on the suppression list."),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&p.bulletin().args(["history", who, "--json"]).ok().stdout()).unwrap();
    assert_eq!(json["messages"][0]["campaign"], "2026-11-digest");
    assert!(json["messages"][0]["message_id"]
        .as_str()
        .unwrap()
        .contains('@'));
    assert_eq!(json["sent_after_leaving"].as_array().unwrap().len(), 0);

    // A message that went after the address left is named as the exception it is.
    p.bulletin()
        .args([
            "suppress",
            "add",
            "j.okafor@example.org",
            "--reason",
            "manual",
        ])
        .ok();
    let conn = rusqlite::Connection::open(p.path().join("bulletin.sqlite")).unwrap();
    conn.execute(
        "UPDATE suppression_log SET at_ms = 1 WHERE email = 'j.okafor@example.org'",
        [],
    )
    .unwrap();
    drop(conn);
    let text = p
        .bulletin()
        .args(["history", "j.okafor@example.org"])
        .ok()
        .stdout();
    assert!(
        text.contains("Sent while it was on the suppression list (1)"),
        "{text}"
    );

    // Unknown: says so, changes nothing; without --yes off a terminal: refuses.
    p.bulletin()
        .args(["history", "nobody@example.org"])
        .fails()
        .stderr_has("bulletin knows nothing of nobody@example.org");
    p.bulletin()
        .args(["forget", "nobody@example.org", "--yes"])
        .fails()
        .stderr_has("knows nothing of nobody@example.org");
    p.bulletin()
        .args(["forget", who])
        .fails()
        .stderr_has("pass --yes");
    assert!(!files_holding(&p, who).is_empty(), "nothing erased yet");

    let mailed_before = common::smtp::count_by_recipient(&smtp.inbox)[who];
    let out = p.bulletin().args(["forget", who, "--yes"]).ok().stdout();
    assert!(out.contains("Erased amina.diallo@example.org"), "{out}");
    assert!(out.contains("lists/practitioners.csv:2"), "{out}");
    assert_eq!(files_holding(&p, who), Vec::<String>::new());
    // The other test-send address stays.
    assert!(files_holding(&p, "editor@example.org").contains(&"bulletin.sqlite".to_string()));

    // Still in the list: left out, with what to do.
    let report = p
        .bulletin()
        .args(["audience", "2026-11-digest"])
        .ok()
        .stdout();
    assert!(
        report.contains("erased on ") && report.contains(": remove from practitioners.csv:2"),
        "{report}"
    );
    // A journal made anew still knows: the hash and its key are in the suppression copy.
    for f in [
        "bulletin.sqlite",
        "bulletin.sqlite-wal",
        "bulletin.sqlite-shm",
    ] {
        let _ = std::fs::remove_file(p.path().join(f));
    }
    let report = p
        .bulletin()
        .args(["audience", "2026-11-digest"])
        .ok()
        .stdout();
    assert!(report.contains("erased on "), "{report}");
    p.bulletin()
        .args(["send", "2026-11-digest", "--yes", "--new-journal"])
        .ok();
    assert_eq!(
        common::smtp::count_by_recipient(&smtp.inbox)[who],
        mailed_before,
        "mailed after it was erased"
    );
    assert_eq!(files_holding(&p, who), Vec::<String>::new());
}
