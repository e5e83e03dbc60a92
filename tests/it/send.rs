//! `bulletin send`, `test-send` and `status` against real SMTP servers on loopback: mailin-embedded
//! for what arrives, the scripted server of `common::smtp` for the relay's faults.

use crate::common;

use std::time::Duration;

use common::smtp::{count_by_recipient, RealSmtp, Script, ScriptedSmtp};
use common::{csv_rows, Project};
use mail_parser::MessageParser;

const FAST: &str = "per_second = 1000\nburst = 1000";

#[test]
fn a_campaign_arrives_once_per_recipient_in_their_language() {
    let server = RealSmtp::start();
    let p = Project::example();
    p.relay(server.port, "connections = 3", FAST);
    let rows = p.recipients("2026-11-digest");
    let done = p.bulletin().args(["send", "2026-11-digest", "--yes"]).ok();
    assert!(
        done.stdout()
            .contains(&format!("{} sent, 0 failed", rows.len())),
        "{}",
        done.stdout()
    );

    let got = server.messages();
    assert_eq!(got.len(), rows.len());
    let counts = count_by_recipient(&server.inbox);
    for row in &rows {
        assert_eq!(
            counts.get(&row["email"]),
            Some(&1),
            "{} got exactly one message",
            row["email"]
        );
    }
    for m in &got {
        let parsed = MessageParser::default().parse(&m.data).unwrap();
        let to = parsed
            .to()
            .unwrap()
            .first()
            .unwrap()
            .address()
            .unwrap()
            .to_string();
        assert_eq!(m.to, vec![to.clone()], "envelope and header agree");
        let row = rows.iter().find(|r| r["email"] == to).unwrap();
        let text = parsed.body_text(0).unwrap();
        let first = row["language"].split('+').next().unwrap();
        let greeting = if first == "fr" { "Bonjour" } else { "Dear" };
        assert!(
            text.trim_start().lines().any(|l| l.starts_with(greeting)),
            "{to} ({}) greeted in {first}",
            row["language"]
        );
        assert_eq!(
            parsed.header_raw("Content-Language").unwrap().trim(),
            row["language"].replace('+', ", ")
        );
    }
    let states = p.journal_states();
    assert_eq!(states.len(), rows.len());
    assert!(states.values().all(|s| s == "sent"));

    // Again: nothing new.
    p.bulletin()
        .args(["send", "2026-11-digest", "--yes"])
        .ok()
        .stderr_has("Nothing to send");
    assert_eq!(server.messages().len(), rows.len());
    p.bulletin()
        .args(["status", "2026-11-digest"])
        .ok()
        .stdout_has(&format!("{} recipients: sent {}", rows.len(), rows.len()));
}

#[test]
fn asks_for_yes_off_a_terminal_and_dry_run_sends_nothing() {
    let server = RealSmtp::start();
    let p = Project::example();
    p.relay(server.port, "", FAST);
    p.bulletin()
        .args(["send", "2026-11-digest"])
        .fails()
        .stderr_has("pass --yes");
    // A dry run says what it does, and never that it is sending.
    p.bulletin()
        .args(["send", "2026-11-digest", "--dry-run"])
        .ok()
        .stdout_has("none sent, nothing recorded")
        .stderr_has("[dry run: each message is produced and signed as it would be sent; none goes to the relay")
        .stderr_has("messages would be sent")
        .stderr_lacks(" sending ");
    assert!(server.messages().is_empty());
    assert!(
        !p.path().join("bulletin.sqlite").exists(),
        "a dry run of a project that never sent makes no journal"
    );
}

#[test]
fn test_send_marks_samples_and_leaves_the_journal_alone() {
    let server = RealSmtp::start();
    let p = Project::example();
    p.relay(server.port, "", FAST);
    p.bulletin()
        .args(["test-send", "2026-11-digest", "--to", "editor@example.org"])
        .ok();
    let got = server.messages();
    assert_eq!(got.len(), 3, "en, fr and bilingual samples");
    let mut langs = Vec::new();
    for m in &got {
        assert_eq!(m.to, vec!["editor@example.org".to_string()]);
        let parsed = MessageParser::default().parse(&m.data).unwrap();
        assert!(parsed.subject().unwrap().starts_with("[TEST] "));
        langs.push(
            parsed
                .header_raw("Content-Language")
                .unwrap()
                .trim()
                .to_string(),
        );
    }
    assert_eq!(langs, ["en", "fr", "en, fr"]);
    assert!(!p.path().join("bulletin.sqlite").exists() || p.journal_states().is_empty());
}

#[test]
fn permanent_refusal_fails_one_recipient_and_the_campaign_goes_on() {
    refusals(false);
}

#[test]
fn permanent_refusal_with_pipelining() {
    refusals(true);
}

fn refusals(pipelining: bool) {
    let mut script = Script {
        pipelining,
        ..Default::default()
    };
    script.refuse_rcpt.insert(
        "j.okafor@example.org".into(),
        "550 5.1.1 <j.okafor@example.org>: no such user".into(),
    );
    script
        .defer_times
        .insert("amina.diallo@example.org".into(), 2);
    let server = ScriptedSmtp::start(script);
    let p = Project::example();
    p.relay(server.port, "max_attempts = 3", FAST);
    let rows = p.recipients("2026-11-digest");
    let done = p
        .bulletin()
        .args(["send", "2026-11-digest", "--yes"])
        .run()
        .code_is(0);
    assert!(
        done.stdout()
            .contains(&format!("{} sent, 1 failed, 0 deferred", rows.len() - 1)),
        "{}",
        done.stdout()
    );
    assert!(
        done.stdout().contains("failed j.okafor@example.org: 550"),
        "{}",
        done.stdout()
    );
    let delivered = server.delivered();
    assert_eq!(
        delivered.get("amina.diallo@example.org"),
        Some(&1),
        "4xx twice, then delivered once"
    );
    assert_eq!(
        server.attempts.lock().unwrap()["amina.diallo@example.org"],
        3
    );
    assert!(!delivered.contains_key("j.okafor@example.org"));

    let states = p.journal_states();
    assert_eq!(states["j.okafor@example.org"], "failed");
    let csv_path = p.path().join("failed.csv");
    p.bulletin()
        .args([
            "status",
            "2026-11-digest",
            "--failed-csv",
            csv_path.to_str().unwrap(),
        ])
        .ok()
        .stdout_has("failed j.okafor@example.org: 550");
    let failed = csv_rows(&std::fs::read_to_string(&csv_path).unwrap());
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["smtp_code"], "550");
    assert!(failed[0]["smtp_reply"].contains("no such user"));
    let json: serde_json::Value =
        serde_json::from_str(&p.bulletin().args(["status", "--json"]).ok().stdout()).unwrap();
    assert_eq!(json[0]["counts"]["failed"], 1);

    // Failed ones are not retried silently; --retry-failed does.
    p.bulletin()
        .args(["send", "2026-11-digest", "--yes"])
        .ok()
        .stderr_has("Nothing to send");
    p.bulletin()
        .args(["send", "2026-11-digest", "--yes", "--retry-failed"])
        .ok();
    assert_eq!(
        server.attempts.lock().unwrap().get("j.okafor@example.org"),
        None,
        "refused at RCPT again, no data"
    );
}

#[test]
fn deferred_after_the_runs_tries_then_retried_by_the_next_run() {
    let mut script = Script::default();
    script
        .defer_times
        .insert("amina.diallo@example.org".into(), 2);
    let server = ScriptedSmtp::start(script);
    let p = Project::example();
    p.relay(server.port, "max_attempts = 2", FAST);
    p.bulletin()
        .args(["send", "2026-11-digest", "--yes"])
        .run()
        .code_is(75)
        .stdout_has("1 deferred");
    assert_eq!(p.journal_states()["amina.diallo@example.org"], "deferred");
    p.bulletin()
        .args(["send", "2026-11-digest", "--yes"])
        .run()
        .code_is(0)
        .stdout_has("1 sent");
    assert_eq!(server.delivered()["amina.diallo@example.org"], 1);
}

#[test]
fn a_dropped_connection_after_data_is_unknown_and_not_resent_unless_asked() {
    let mut script = Script::default();
    script
        .drop_after_data
        .push("helene.dupre@example.org".into());
    let server = ScriptedSmtp::start(script);
    let p = Project::example();
    p.relay(server.port, "", FAST);
    let rows = p.recipients("2026-11-digest");
    let done = p
        .bulletin()
        .args(["send", "2026-11-digest", "--yes"])
        .run()
        .code_is(0);
    assert!(done.stdout().contains("1 unknown"), "{}", done.stdout());
    assert_eq!(p.journal_states()["helene.dupre@example.org"], "unknown");
    assert_eq!(
        server.delivered().len(),
        rows.len() - 1,
        "every other recipient delivered on new connections"
    );
    p.bulletin()
        .args(["send", "2026-11-digest", "--yes"])
        .ok()
        .stderr_has("1 unknown (--resend-unknown)");
    assert_eq!(
        server.attempts.lock().unwrap()["helene.dupre@example.org"],
        1
    );
    p.bulletin()
        .args(["send", "2026-11-digest", "--yes", "--resend-unknown"])
        .ok()
        .stdout_has("1 sent");
    assert_eq!(server.delivered()["helene.dupre@example.org"], 1);
}

#[test]
fn a_relay_that_is_down_stops_the_run_with_everything_recorded() {
    // A relay that hangs up on every connection.
    let dead = common::gate::Gate::closed();
    let p = Project::example();
    p.relay(
        dead.port,
        "max_consecutive_failures = 5\nmax_attempts = 2",
        FAST,
    );
    let done = p
        .bulletin()
        .args(["send", "2026-11-digest", "--yes"])
        .run()
        .code_is(75);
    assert!(
        done.stdout().contains("Stopped after 5 failures in a row"),
        "{}",
        done.stdout()
    );
    assert!(
        done.stdout()
            .contains("the relay last said: incomplete response"),
        "{}",
        done.stdout()
    );
    let states = p.journal_states();
    assert!(
        states.values().all(|s| s == "queued" || s == "deferred"),
        "{states:?}"
    );

    // A relay that refuses every message.
    let server = ScriptedSmtp::start(Script {
        greeting_refusal: Some("421 4.3.2 too busy".into()),
        ..Default::default()
    });
    p.relay(
        server.port,
        "max_consecutive_failures = 4\nmax_attempts = 1",
        FAST,
    );
    p.bulletin()
        .args(["send", "2026-11-digest", "--yes"])
        .run()
        .code_is(75)
        .stdout_has("Stopped after 4 failures in a row");
}

#[test]
fn a_slow_relay_times_out_into_deferred() {
    let server = ScriptedSmtp::start(Script {
        delay: Duration::from_millis(1500),
        ..Default::default()
    });
    let p = Project::example();
    p.relay(
        server.port,
        "max_attempts = 1\nmax_consecutive_failures = 3\nconnections = 1",
        FAST,
    );
    p.edit("bulletin.toml", "timeout_secs = 5", "timeout_secs = 1");
    let done = p
        .bulletin()
        .args(["send", "2026-11-digest", "--yes"])
        .run()
        .code_is(75);
    assert!(
        done.stdout()
            .contains("no answer to the greeting within 1 s"),
        "{}",
        done.stdout()
    );
}

#[test]
fn an_hourly_cap_holds_across_runs() {
    let server = RealSmtp::start();
    let p = Project::example();
    p.relay(
        server.port,
        "",
        "per_second = 1000\nburst = 1000\nper_hour = 7",
    );
    let first = p
        .bulletin()
        .args(["send", "2026-11-digest", "--yes"])
        .run()
        .code_is(3);
    assert!(
        first
            .stdout()
            .contains("Paused by the per_hour cap of 7 until"),
        "{}",
        first.stdout()
    );
    assert_eq!(server.messages().len(), 7);
    let second = p
        .bulletin()
        .args(["send", "2026-11-digest", "--yes", "--json"])
        .run()
        .code_is(3);
    let report: serde_json::Value = serde_json::from_str(&second.stdout()).unwrap();
    assert_eq!(report["sent"], 0);
    assert_eq!(report["stopped"]["reason"], "capped");
    assert_eq!(
        server.messages().len(),
        7,
        "the cap counts the first run too"
    );
    let states = p.journal_states();
    assert_eq!(states.values().filter(|s| *s == "sent").count(), 7);
    assert!(states.values().all(|s| s == "sent" || s == "queued"));
}

#[test]
fn a_changed_campaign_is_not_continued_without_consent() {
    let server = RealSmtp::start();
    let p = Project::example();
    p.relay(server.port, "", FAST);
    p.bulletin()
        .args(["send", "2026-11-digest", "--yes", "--limit", "5"])
        .ok()
        .stdout_has("5 sent");
    // What messages are not made of changes nothing: the unsubscribe page restyled, its
    // strings reworded, a template no campaign uses added.
    p.write(
        "templates/unsubscribe.html",
        "<!DOCTYPE html><html lang=\"{{ lang }}\"><title>{{ p.title }}</title><h1>{{ p.title }}</h1></html>",
    );
    p.edit(
        "templates/i18n/en.toml",
        "button = \"Unsubscribe\"",
        "button = \"Leave the list\"",
    );
    p.write("templates/poster.html", "<p>{{ t.masthead }}</p>");
    p.bulletin()
        .args(["send", "2026-11-digest", "--yes", "--limit", "3"])
        .ok()
        .stdout_has("3 sent");
    assert_eq!(server.messages().len(), 8);
    // A string the messages print, or an update, is part of them.
    p.edit(
        "templates/i18n/en.toml",
        "read_more = \"Read more\"",
        "read_more = \"Read on\"",
    );
    p.bulletin()
        .args(["send", "2026-11-digest", "--yes"])
        .fails()
        .stderr_has("the campaign changed since it was partly sent (8 sent so far)");
    p.edit(
        "templates/i18n/en.toml",
        "read_more = \"Read on\"",
        "read_more = \"Read more\"",
    );
    p.edit(
        "updates/2026-11-disarmament-insight.en.md",
        "stalled negotiations",
        "negotiations that have stalled",
    );
    p.bulletin()
        .args(["send", "2026-11-digest", "--yes"])
        .fails()
        .stderr_has("the campaign changed since it was partly sent (8 sent so far)");
    assert_eq!(server.messages().len(), 8);
    p.bulletin()
        .args(["send", "2026-11-digest", "--yes", "--allow-changed"])
        .ok();
    let rows = p.recipients("2026-11-digest");
    assert_eq!(server.messages().len(), rows.len());
}

#[test]
fn relay_settings_are_checked_before_anything_is_sent() {
    let server = ScriptedSmtp::start(Script::default());
    let p = Project::example();
    // STARTTLS is required by default and this relay does not offer it.
    p.relay(server.port, "", FAST);
    p.edit(
        "bulletin.toml",
        "security = \"plain\"",
        "security = \"starttls\"",
    );
    p.bulletin()
        .args(["send", "2026-11-digest", "--yes"])
        .fails()
        .stderr_has("does not offer STARTTLS");
    assert!(server.delivered().is_empty());
    // Plain text to a relay elsewhere is refused.
    p.edit(
        "bulletin.toml",
        "security = \"starttls\"",
        "security = \"plain\"",
    );
    p.edit(
        "bulletin.toml",
        "host = \"127.0.0.1\"",
        "host = \"smtp.example.org\"",
    );
    p.bulletin()
        .args(["send", "2026-11-digest", "--yes"])
        .fails()
        .stderr_has("unencrypted");
    // A password source that is not there.
    p.edit(
        "bulletin.toml",
        "host = \"smtp.example.org\"",
        "host = \"127.0.0.1\"\nusername = \"news\"\npassword_env = \"BULLETIN_TEST_NO_SUCH_VAR\"",
    );
    p.bulletin()
        .args(["send", "2026-11-digest", "--yes"])
        .fails()
        .stderr_has("BULLETIN_TEST_NO_SUCH_VAR (password_env in the config), which is not set");
}

#[test]
fn moving_the_schedule_is_not_a_content_change() {
    let server = RealSmtp::start();
    let p = Project::example();
    p.relay(server.port, "", FAST);
    p.bulletin()
        .args(["send", "2026-11-mpome-briefing", "--yes", "--limit", "2"])
        .ok()
        .stdout_has("2 sent");
    p.edit(
        "campaigns/2026-11-mpome-briefing.toml",
        "send_at = 2026-12-01T09:00:00",
        "send_at = 2026-12-02T09:00:00",
    );
    p.bulletin()
        .args(["send", "2026-11-mpome-briefing", "--yes", "--limit", "2"])
        .ok()
        .stdout_has("2 sent");
    p.edit(
        "campaigns/2026-11-mpome-briefing.toml",
        "include = [",
        "include = [\"2026-10-mine-ban-lessons\", ",
    );
    p.bulletin()
        .args(["send", "2026-11-mpome-briefing", "--yes"])
        .fails()
        .stderr_has("the campaign changed");
}
