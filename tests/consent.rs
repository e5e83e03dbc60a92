//! The consent loop through the real binary: signed unsubscribe links, the project's suppression
//! list that every campaign obeys, and addresses the relay says do not exist.

mod common;

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
        .stderr_has("1 suppressed (never mailed)");
    assert!(!server
        .messages()
        .iter()
        .any(|m| m.to.contains(&"j.okafor@example.org".to_string())));

    // Taken off the list (and logged), the address is mailed by the next campaign.
    p.bulletin()
        .args(["suppress", "remove", "j.okafor@example.org"])
        .ok();
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
    let key = bulletin::compose::recipient_key("2026-11-digest", "j.okafor@example.org");
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
