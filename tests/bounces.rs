//! `bulletin bounces import` over mailboxes as relays and people fill them: an RFC 3464 report
//! from Postfix, Exchange's plain-text notice, a temporary failure, a mangled report that only
//! its VERP address explains, unsubscribe mails with and without a valid token, and junk; as an
//! mbox file and as a Maildir folder, imported twice.

mod common;

use common::smtp::{Script, ScriptedSmtp};
use common::{Project, TOKEN_SECRET};

const FAST: &str = "per_second = 1000\nburst = 1000";

fn postfix_dsn(to: &str, status: &str) -> String {
    format!(
        "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r\n\
To: bounces@disarmament-insight.example.org\r\n\
Subject: Undelivered Mail Returned to Sender\r\n\
Message-ID: <dsn-{status}-{to}>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\
\r\n\
--B\r\n\
Content-Type: text/plain\r\n\
\r\n\
I'm sorry to have to inform you that your message could not be delivered.\r\n\
--B\r\n\
Content-Type: message/delivery-status\r\n\
\r\n\
Reporting-MTA: dns; mx.example.net\r\n\
\r\n\
Final-Recipient: rfc822; {to}\r\n\
Action: failed\r\n\
Status: {status}\r\n\
Diagnostic-Code: smtp; 550 {status} mailbox problem\r\n\
--B--\r\n"
    )
}

fn exchange_ndr(to: &str) -> String {
    format!(
        "From: postmaster@corp.example.net\r\n\
To: bounces@disarmament-insight.example.org\r\n\
Subject: Undeliverable: Disarmament Insight, November 2026\r\n\
Message-ID: <ndr-{to}>\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Delivery has failed to these recipients or groups:\r\n\
\r\n\
{to}\r\n\
The e-mail address you entered couldn't be found.\r\n\
\r\n\
Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'\r\n"
    )
}

fn mailed_unsubscribe(from: &str, subject: &str, id: &str) -> String {
    format!(
        "From: {from}\r\nTo: unsubscribe@disarmament-insight.example.org\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\n\r\nPlease take me off.\r\n"
    )
}

fn mbox(messages: &[String]) -> String {
    let mut o = String::new();
    for m in messages {
        o.push_str("From MAILER-DAEMON Tue Dec  1 08:00:00 2026\n");
        o.push_str(&m.replace("\r\n", "\n"));
        o.push('\n');
    }
    o
}

fn sent_project(verp: bool) -> Project {
    let server = ScriptedSmtp::start(Script::default());
    let p = Project::example();
    p.relay(
        server.port,
        &format!(
            "connections = 1\nenvelope_from = \"bounces@disarmament-insight.example.org\"\nverp = {verp}"
        ),
        FAST,
    );
    p.bulletin().args(["send", "2026-11-digest", "--yes"]).ok();
    p
}

#[test]
fn an_mbox_of_reports_and_unsubscribes_keeps_the_list_and_imports_once() {
    let p = sent_project(false);
    let token = bulletin::token::Keys::new(TOKEN_SECRET).token(
        "2026-11-digest",
        "amina.diallo@example.org",
        "fr",
    );
    let messages = vec![
        postfix_dsn("j.okafor@example.org", "5.1.1"),
        exchange_ndr("m.schneider@example.net"),
        postfix_dsn("helene.dupre@example.org", "4.2.2"),
        mailed_unsubscribe(
            "Amina Diallo <amina.diallo@example.org>",
            &format!("unsubscribe {token}"),
            "u1",
        ),
        mailed_unsubscribe("someone@example.com", "Unsubscribe me please", "u2"),
        "From: MAILER-DAEMON@mx.example.net\r\nSubject: Undelivered Mail\r\nMessage-ID: <junk>\r\nContent-Type: multipart/report; boundary=\"Z\"\r\n\r\n--Z\r\nContent-Type: text/plain\r\n\r\nsomething went wrong\r\n--Z--\r\n".to_string(),
    ];
    p.write("bounces.mbox", mbox(&messages));
    let out = p
        .bulletin()
        .args(["bounces", "import", "bounces.mbox"])
        .ok();
    out.stdout_has(
        "6 messages, 0 already imported; 2 hard bounces (suppressed), 1 soft (0 addresses",
    )
    .stdout_has("1 unsubscribed by mail, 1 to review, 1 unreadable")
    .stdout_has(
        "to review (an unsubscribe request without a valid token): from someone@example.com",
    )
    .stderr_has("bounces.mbox (message 6)");
    let rows = p.suppressed();
    let by: std::collections::HashMap<&str, &std::collections::HashMap<String, String>> =
        rows.iter().map(|r| (r["email"].as_str(), r)).collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(by["j.okafor@example.org"]["reason"], "bounced");
    assert_eq!(by["j.okafor@example.org"]["source"], "bounce");
    assert_eq!(by["m.schneider@example.net"]["reason"], "bounced");
    assert_eq!(by["amina.diallo@example.org"]["reason"], "unsubscribed");
    assert_eq!(by["amina.diallo@example.org"]["source"], "mailto");
    assert!(
        !by.contains_key("helene.dupre@example.org"),
        "one soft bounce is not enough"
    );

    // Again over the same mailbox: nothing counted twice.
    p.bulletin()
        .args(["bounces", "import", "bounces.mbox"])
        .ok()
        .stdout_has("6 messages, 5 already imported; 0 hard bounces")
        .stdout_has("1 unreadable")
        .stderr_has("bounces.mbox (message 6)");
    assert_eq!(p.suppressed().len(), 3);

    // With the threshold at one campaign, that soft bounce is enough.
    let p2 = sent_project(false);
    let config = p2.read("bulletin.toml");
    p2.write(
        "bulletin.toml",
        format!("{config}\n[bounces]\nsoft_limit = 1\n"),
    );
    p2.write(
        "soft.mbox",
        mbox(&[postfix_dsn("helene.dupre@example.org", "4.2.2")]),
    );
    p2.bulletin()
        .args(["bounces", "import", "soft.mbox"])
        .ok()
        .stdout_has("1 soft (1 address suppressed after 1 campaign in a row)");
    assert_eq!(p2.suppressed()[0]["email"], "helene.dupre@example.org");
}

#[test]
fn a_maildir_and_a_mangled_report_explained_by_verp() {
    let p = sent_project(true);
    let key = bulletin::digest::recipient_key("2026-11-digest", "sofia.ramirez@example.org");
    // The report names nobody useful; the address it came back to does.
    let mangled = format!(
        "From: MAILER-DAEMON@mx.example.net\r\nTo: bounces+{key}@disarmament-insight.example.org\r\nSubject: Delivery Status Notification (Failure)\r\nMessage-ID: <mangled>\r\n\r\nThe following message to <alias@forwarder.example.com> was undeliverable.\r\nThe reason: 550 5.1.1 mailbox unavailable\r\n"
    );
    let dir = p.path().join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    std::fs::write(dir.join("new/1.mx"), &mangled).unwrap();
    std::fs::write(
        dir.join("cur/2.mx:2,S"),
        postfix_dsn("j.okafor@example.org", "5.1.1"),
    )
    .unwrap();
    p.bulletin()
        .args(["bounces", "import", "Maildir"])
        .ok()
        .stdout_has("2 messages, 0 already imported; 2 hard bounces");
    let emails: Vec<String> = p.suppressed().iter().map(|r| r["email"].clone()).collect();
    assert!(
        emails.contains(&"sofia.ramirez@example.org".to_string()),
        "{emails:?}"
    );
    assert!(emails.contains(&"j.okafor@example.org".to_string()));
    assert!(!emails.iter().any(|e| e.contains("forwarder")));
}
