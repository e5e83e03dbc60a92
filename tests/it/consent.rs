//! The consent loop through the real binary: signed unsubscribe links, the project's suppression
//! list that every campaign obeys, and addresses the relay says do not exist.

use crate::common;

use common::smtp::{RealSmtp, Script, ScriptedSmtp};
use common::{csv_rows, Project};

const FAST: &str = "per_second = 1000\nburst = 1000";

#[test]
fn an_address_in_a_link_is_refused_and_tokens_need_their_secret() {
    let p = Project::example();
    p.edit("bulletin.toml", "/u/{token}", "/unsubscribe?email={email}");
    p.bulletin()
        .args(["check"])
        .fails()
        .stderr_has("must not carry {email}");

    let p = Project::example();
    p.edit(
        "bulletin.toml",
        "secret_env = \"BULLETIN_UNSUBSCRIBE_SECRET\"\n",
        "",
    );
    p.bulletin()
        .args(["check"])
        .fails()
        .stderr_has("needs a secret to sign tokens with");

    // The secret's variable unset: a preview shows placeholder links and says so; send refuses.
    let server = RealSmtp::start();
    let p = Project::example();
    p.relay(server.port, "connections = 1", FAST);
    p.bulletin()
        .env_remove("BULLETIN_UNSUBSCRIBE_SECRET")
        .args(["preview", "2026-11-digest"])
        .ok()
        .stderr_has("placeholder token");
    p.bulletin()
        .env_remove("BULLETIN_UNSUBSCRIBE_SECRET")
        .args(["send", "2026-11-digest", "--yes"])
        .fails()
        .stderr_has("cannot sign unsubscribe links")
        .stderr_has("BULLETIN_UNSUBSCRIBE_SECRET");
    assert!(server.messages().is_empty());
}

#[test]
fn a_suppressed_address_is_left_out_of_every_campaign() {
    let server = RealSmtp::start();
    let p = Project::example();
    p.relay(server.port, "connections = 2", FAST);
    p.bulletin()
        .args([
            "suppress",
            "add",
            "J.Okafor@Example.org",
            "--reason",
            "unsubscribed",
        ])
        .ok()
        .stdout_has("1 address(es) suppressed");
    // Nothing in the campaign excludes this address: the project's list does.
    let report = p
        .bulletin()
        .args(["audience", "2026-11-digest"])
        .ok()
        .stdout();
    assert!(report.contains("suppressed: unsubscribed"), "{report}");
    let rows = p.recipients("2026-11-digest");
    assert!(!rows.iter().any(|r| r["email"] == "j.okafor@example.org"));

    p.bulletin().args(["preview", "2026-11-digest"]).ok();
    let summary: serde_json::Value =
        serde_json::from_str(&p.read("preview/2026-11-digest/summary.json")).unwrap();
    assert_eq!(summary["suppressed"], 1);
    assert!(p
        .read("preview/2026-11-digest/index.html")
        .contains("(1 suppressed)"));

    p.bulletin()
        .args(["send", "2026-11-digest", "--yes"])
        .ok()
        .stderr_has("1 on the suppression list, left out");
    assert!(!server
        .messages()
        .iter()
        .any(|m| m.to.contains(&"j.okafor@example.org".to_string())));

    // Their own choice is not undone by a plain remove: nothing changes, and the message says
    // what it takes.
    p.bulletin()
        .args(["suppress", "remove", "j.okafor@example.org"])
        .fails()
        .stderr_has("nothing was changed: j.okafor@example.org unsubscribed themselves")
        .stderr_has("--override-their-choice --by");
    assert_eq!(p.suppressed().len(), 1);
    p.bulletin()
        .args([
            "suppress",
            "remove",
            "j.okafor@example.org",
            "--override-their-choice",
        ])
        .run()
        .code_is(2);
    p.bulletin()
        .args([
            "suppress",
            "remove",
            "j.okafor@example.org",
            "--override-their-choice",
            "--by",
            "\u{200b}",
        ])
        .fails()
        .stderr_has("--by needs the name");
    assert_eq!(p.suppressed().len(), 1);
    // Taken off the list with the flag and a name, the address is mailed by the next campaign,
    // and the log says who did it.
    p.bulletin()
        .args([
            "suppress",
            "remove",
            "j.okafor@example.org",
            "--override-their-choice",
            "--by",
            "Amina Diallo",
        ])
        .ok()
        .stdout_has("by Amina Diallo");
    let by: String = rusqlite::Connection::open(p.path().join("bulletin.sqlite"))
        .unwrap()
        .query_row(
            "SELECT actor FROM suppression_log WHERE action = 'remove'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(by, "Amina Diallo");
    let rows = p.recipients("2026-11-digest");
    assert!(rows.iter().any(|r| r["email"] == "j.okafor@example.org"));
}

#[test]
fn import_list_and_export_the_suppression_list() {
    let p = Project::example();
    // A French Excel export: semicolons, Windows-1252, one row that is not an address.
    let mut bytes = b"Adresse e-mail;Nom\r\n".to_vec();
    bytes.extend_from_slice(b"amina.diallo@example.org;Diallo\r\n");
    bytes.extend_from_slice(b"pas-une-adresse;Dupr\xe9\r\n");
    bytes.extend_from_slice(b"HELENE.DUPRE@example.org;Dupr\xe9\r\n");
    p.write("optouts.csv", bytes);
    p.bulletin()
        .args(["suppress", "import", "optouts.csv"])
        .ok()
        .stdout_has("2 added, 0 already suppressed, 1 row refused")
        .stderr_has("optouts.csv:3");
    p.bulletin()
        .args(["suppress", "import", "optouts.csv"])
        .ok()
        .stdout_has("0 added, 2 already suppressed");
    let listed = csv_rows(
        &p.bulletin()
            .args(["suppress", "list", "--csv"])
            .ok()
            .stdout(),
    );
    let emails: Vec<&str> = listed.iter().map(|r| r["email"].as_str()).collect();
    assert_eq!(emails.len(), 2, "{emails:?}");
    assert!(emails.contains(&"helene.dupre@example.org"));
    assert!(listed
        .iter()
        .all(|r| r["reason"] == "unsubscribed" && r["source"] == "import"));
    p.bulletin().args(["suppress", "export", "out.csv"]).ok();
    assert_eq!(csv_rows(&p.read("out.csv")).len(), 2);
    // Both are left out of the digest, with the reason.
    let report = p
        .bulletin()
        .args(["audience", "2026-11-digest"])
        .ok()
        .stdout();
    assert!(report.contains("suppressed 2"), "{report}");
}

#[test]
fn a_mailbox_the_relay_says_does_not_exist_is_suppressed_for_good() {
    let server = ScriptedSmtp::start(Script {
        refuse_rcpt: [
            (
                "j.okafor@example.org".to_string(),
                "550 5.1.1 <j.okafor@example.org>: Recipient address rejected: User unknown"
                    .to_string(),
            ),
            (
                "m.schneider@example.net".to_string(),
                "550 5.7.1 Message rejected by policy".to_string(),
            ),
        ]
        .into(),
        ..Default::default()
    });
    let p = Project::example();
    p.relay(server.port, "connections = 1", FAST);
    p.bulletin().args(["send", "2026-11-digest", "--yes"]).ok();
    let listed = csv_rows(
        &p.bulletin()
            .args(["suppress", "list", "--csv"])
            .ok()
            .stdout(),
    );
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["email"], "j.okafor@example.org");
    assert_eq!(listed[0]["reason"], "bounced");
    assert_eq!(listed[0]["source"], "relay");
    assert_eq!(listed[0]["campaign"], "2026-11-digest");
    // The next campaign leaves the unknown mailbox out; a refusal for other reasons is not
    // carried over.
    let rows = p.recipients("2026-11-mpome-briefing");
    assert!(!rows.iter().any(|r| r["email"] == "j.okafor@example.org"));
}

#[test]
fn check_warns_when_a_bulk_campaign_offers_no_way_to_unsubscribe() {
    let p = Project::example();
    let mut csv = String::from("email,language,interests\n");
    for i in 0..400 {
        csv.push_str(&format!("r{i}@example.org,en,landmines\n"));
    }
    p.write("lists/practitioners.csv", csv);
    p.bulletin()
        .args(["check"])
        .ok()
        .stderr_lacks("no unsubscribe link");
    let config = p.read("bulletin.toml");
    let start = config.find("[unsubscribe]").unwrap();
    let end = config[start..].find("[smtp]").unwrap() + start;
    let config = format!("{}{}", &config[..start], &config[end..]);
    // The sign-up form signs its links with the same secret: it goes too.
    let start = config.find("[signup]").unwrap();
    let end = config[start..].find("# `bulletin bounces").unwrap() + start;
    p.write(
        "bulletin.toml",
        format!("{}{}", &config[..start], &config[end..]),
    );
    p.bulletin()
        .args(["check"])
        .ok()
        .stderr_has("2026-11-digest.toml: this campaign can reach 4");
}

#[test]
fn bounces_go_to_the_envelope_sender_with_verp_naming_the_recipient() {
    let server = ScriptedSmtp::start(Script::default());
    let p = Project::example();
    p.relay(
        server.port,
        "connections = 1\nenvelope_from = \"bounces@disarmament-insight.example.org\"\nverp = true",
        FAST,
    );
    p.bulletin().args(["send", "2026-11-digest", "--yes"]).ok();
    let cmds = server.commands.lock().unwrap().clone();
    // The tag is keyed with the journal's own bounce key: nobody else can make it.
    let key: String = rusqlite::Connection::open(p.path().join("bulletin.sqlite"))
        .unwrap()
        .query_row("SELECT value FROM meta WHERE key = 'bounce_key'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let key = data_encoding::HEXLOWER.decode(key.as_bytes()).unwrap();
    let key = bulletin::digest::recipient_tag(&key, "2026-11-digest", "j.okafor@example.org");
    assert_ne!(
        key,
        bulletin::compose::recipient_key("2026-11-digest", "j.okafor@example.org")
    );
    let want = format!("MAIL FROM:<bounces+{key}@disarmament-insight.example.org>");
    assert!(cmds.contains(&want), "{want} not in {cmds:?}");
    assert!(cmds
        .iter()
        .filter(|c| c.starts_with("MAIL FROM"))
        .all(|c| c.contains("<bounces+")));
    // The From header is still the sender's.
    let m = server.inbox.lock().unwrap()[0].data.clone();
    assert!(String::from_utf8_lossy(&m).contains("From: \"Disarmament Insight\" <news@"));

    p.edit(
        "bulletin.toml",
        "envelope_from = \"bounces@disarmament-insight.example.org\"\n",
        "",
    );
    p.bulletin()
        .args(["check"])
        .fails()
        .stderr_has("verp needs envelope_from");
}

/// An unsubscribe during a long run is honoured at once: each recipient's suppression is looked
/// at when they are claimed, not only when the run starts.
#[test]
fn addresses_that_leave_during_a_run_are_not_mailed() {
    let server = RealSmtp::start();
    let p = Project::example();
    p.big_list(120);
    p.relay(server.port, "connections = 2", "per_second = 40\nburst = 1");
    let child = p.spawn_send("2026-11-digest");
    // Once the run is under way, half the list leaves.
    let started = std::time::Instant::now();
    while server.messages().len() < 5 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the run never began"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let leaving: Vec<String> = (1..120)
        .step_by(2)
        .map(|i| format!("person{i}@example.org"))
        .collect();
    let mut args = vec![
        "suppress".to_string(),
        "add".into(),
        "--reason".into(),
        "unsubscribed".into(),
    ];
    args.extend(leaving.iter().cloned());
    p.bulletin().args(&args).ok();
    let before: std::collections::HashSet<String> = server
        .messages()
        .iter()
        .flat_map(|m| m.to.clone())
        .collect();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mailed_after: Vec<&String> = leaving
        .iter()
        .filter(|a| server.messages().iter().any(|m| m.to.contains(a)) && !before.contains(*a))
        .collect();
    // At most the messages already claimed when the list changed (one per connection) go.
    assert!(
        mailed_after.len() <= 2,
        "mailed after leaving: {mailed_after:?}"
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("left the list while this run was sending"),
        "{said}"
    );
    // Nobody waits in the journal for them: status counts no queued recipient for ever.
    let status = p
        .bulletin()
        .args(["status", "2026-11-digest"])
        .ok()
        .stdout();
    assert!(!status.contains("queued"), "{status}");
}

/// The suppression list survives a lost journal: a journal started anew with --new-journal,
/// or restored from a backup older than the last unsubscribes, is brought up to the copy kept
/// beside it, and says so.
#[test]
fn suppressions_survive_a_new_or_restored_journal() {
    let server = RealSmtp::start();
    let p = Project::example();
    p.relay(server.port, "connections = 1", FAST);
    p.bulletin()
        .args(["send", "2026-11-digest", "--yes", "--limit", "3"])
        .ok();
    // A backup now, then two people leave.
    std::fs::copy(
        p.path().join("bulletin.sqlite"),
        p.path().join("backup.sqlite"),
    )
    .unwrap();
    p.bulletin()
        .args([
            "suppress",
            "add",
            "j.okafor@example.org",
            "amina.diallo@example.org",
            "--reason",
            "unsubscribed",
        ])
        .ok();
    // Restored from the backup: the two are back on the list, and the command says why.
    std::fs::copy(
        p.path().join("backup.sqlite"),
        p.path().join("bulletin.sqlite"),
    )
    .unwrap();
    for f in ["bulletin.sqlite-wal", "bulletin.sqlite-shm"] {
        let _ = std::fs::remove_file(p.path().join(f));
    }
    p.bulletin()
        .args(["suppress", "list"])
        .ok()
        .stdout_has("j.okafor@example.org")
        .stdout_has("amina.diallo@example.org")
        .stderr_has("lacked 2 changes to the suppression list");

    // Lost entirely: a new journal on purpose starts with the list and says so.
    for f in [
        "bulletin.sqlite",
        "bulletin.sqlite-wal",
        "bulletin.sqlite-shm",
    ] {
        let _ = std::fs::remove_file(p.path().join(f));
    }
    let before = server.messages().len();
    // Before the new journal exists, the plan already leaves them out.
    let dry = p
        .bulletin()
        .args([
            "send",
            "2026-11-mpome-briefing",
            "--dry-run",
            "--new-journal",
        ])
        .ok();
    let n = p.recipients("2026-11-mpome-briefing").len();
    assert!(
        dry.stderr()
            .contains(&format!("{n} messages would be sent")),
        "{}",
        dry.stderr()
    );
    let sent = p
        .bulletin()
        .args(["send", "2026-11-mpome-briefing", "--yes", "--new-journal"])
        .ok()
        .stderr_has("starts with the 2 suppressed addresses kept in");
    assert!(!sent.stdout().contains("left the list while this run"));
    let mailed: Vec<String> = server.messages()[before..]
        .iter()
        .flat_map(|m| m.to.clone())
        .collect();
    assert!(!mailed.is_empty());
    assert!(!mailed.contains(&"j.okafor@example.org".to_string()));
    assert!(!mailed.contains(&"amina.diallo@example.org".to_string()));
}

/// A test send to an address that left the list is refused, naming its record, unless the
/// operator says so.
#[test]
fn a_test_send_to_a_suppressed_address_needs_saying_so() {
    let server = RealSmtp::start();
    let p = Project::example();
    p.relay(server.port, "connections = 1", FAST);
    p.bulletin()
        .args([
            "suppress",
            "add",
            "colleague@example.org",
            "--reason",
            "unsubscribed",
        ])
        .ok();
    p.bulletin()
        .args([
            "test-send",
            "2026-11-digest",
            "--to",
            "me@example.org",
            "--to",
            "Colleague@example.org",
        ])
        .fails()
        .stderr_has("colleague@example.org is on the suppression list (unsubscribed, command")
        .stderr_has("--to-suppressed");
    assert!(server.messages().is_empty(), "nothing was sent, to anyone");
    p.bulletin()
        .args([
            "test-send",
            "2026-11-digest",
            "--to",
            "colleague@example.org",
            "--to-suppressed",
        ])
        .ok();
    assert!(!server.messages().is_empty());
}

/// A short or repetitive token secret could be found from one link; it is refused everywhere
/// it would sign or read tokens, with how to make a good one, and `init` says it too.
#[test]
fn a_weak_token_secret_is_refused_with_how_to_make_one() {
    let server = RealSmtp::start();
    let p = Project::example();
    p.relay(server.port, "connections = 1", FAST);
    for weak in [
        "abc",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "abcdefghijklmnopqrstuvwxyz012345",
        "disarmament-insight.example.org/unsubscribe",
        "MyNewsletterSecretKey2026ForUnsubscribeLinks",
        "Disarmament Insight newsletter unsubscribe secret 2026",
        "Palais des Nations A.522, 1211 Geneva 10, Switzerland",
    ] {
        p.bulletin()
            .env("BULLETIN_UNSUBSCRIBE_SECRET", weak)
            .args(["check"])
            .fails()
            .stderr_has("is too weak")
            .stderr_has("openssl rand -base64 32");
        p.bulletin()
            .env("BULLETIN_UNSUBSCRIBE_SECRET", weak)
            .args(["send", "2026-11-digest", "--yes"])
            .fails()
            .stderr_has("is too weak");
        p.bulletin()
            .env("BULLETIN_UNSUBSCRIBE_SECRET", weak)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .fails()
            .stderr_has("is too weak");
    }
    // A mailbox is not read with a weak secret: its unsubscribe tokens could be forged.
    p.write("empty.mbox", "");
    p.bulletin()
        .env("BULLETIN_UNSUBSCRIBE_SECRET", "abc")
        .args(["bounces", "import", "empty.mbox"])
        .fails()
        .stderr_has("is too weak")
        .stderr_has("nothing was imported");
    assert!(server.messages().is_empty());
    // What `openssl rand` makes passes, as base64 or hexadecimal.
    for strong in [
        "tB8ihLaCNNkB5b5dAsbz0VWmCbZK9Pvbx02Z0dE5YV8=",
        "9f86d081884c7d659a2feaa0c55ad015",
    ] {
        p.bulletin()
            .env("BULLETIN_UNSUBSCRIBE_SECRET", strong)
            .args(["check"])
            .ok();
    }
    // A weak previous secret: stop accepting its links, rather than make a new one.
    p.write(
        "bulletin.toml",
        p.read("bulletin.toml").replace(
            "secret_env = \"BULLETIN_UNSUBSCRIBE_SECRET\"",
            "secret_env = \"BULLETIN_UNSUBSCRIBE_SECRET\"\nprevious_secret_env = \"OLD_SECRET\"",
        ),
    );
    p.bulletin()
        .env("OLD_SECRET", "secret")
        .args(["check"])
        .fails()
        .stderr_has("the previous unsubscribe token secret (from previous_secret_env OLD_SECRET) is too weak")
        .stderr_has("remove previous_secret_env");
    let dir = tempfile::tempdir().unwrap();
    common::Run::new()
        .current_dir(dir.path())
        .args(["init", "news"])
        .ok()
        .stdout_has("openssl rand -base64 32");
}
