//! `bulletin bounces import` over mailboxes as relays and people fill them: an RFC 3464 report
//! from Postfix, Exchange's plain-text notice, a temporary failure, a mangled report that only
//! its VERP address explains, unsubscribe mails with and without a valid token, and junk; as an
//! mbox file and as a Maildir folder, imported twice.

use crate::common;

use common::smtp::{Script, ScriptedSmtp};
use common::{Project, TOKEN_SECRET};

const FAST: &str = "per_second = 1000\nburst = 1000";

/// Postfix's report: RFC 3464, with the returned message's headers (text/rfc822-headers),
/// which carry its Message-ID, when `returned` gives them.
fn postfix_dsn(to: &str, status: &str, returned: Option<&str>) -> String {
    let headers = returned
        .map(|id| {
            format!(
                "--B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: Disarmament Insight <news@disarmament-insight.example.org>\r\nTo: {to}\r\nMessage-ID: {id}\r\nSubject: Disarmament Insight\r\n"
            )
        })
        .unwrap_or_default();
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
{headers}--B--\r\n"
    )
}

/// Exchange's plain-text notice, which quotes the original message's headers.
fn exchange_ndr(to: &str, returned: &str) -> String {
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
Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'\r\n\
\r\n\
Original message headers:\r\n\
\r\n\
Message-ID: {returned}\r\n\
Subject: Disarmament Insight, November 2026\r\n"
    )
}

/// The Message-ID of the message the relay received for `to`.
fn message_id_for(server: &ScriptedSmtp, to: &str) -> String {
    let got = server.inbox.lock().unwrap();
    let m = got
        .iter()
        .find(|m| m.to.iter().any(|t| t == to))
        .unwrap_or_else(|| panic!("nothing was sent to {to}"));
    let text = String::from_utf8_lossy(&m.data);
    text.lines()
        .find_map(|l| l.strip_prefix("Message-ID: "))
        .expect("a Message-ID")
        .trim()
        .to_string()
}

/// The bounce address (MAIL FROM) of the message sent to `to`.
fn bounce_address_for(server: &ScriptedSmtp, to: &str) -> String {
    let commands = server.commands.lock().unwrap();
    let i = commands
        .iter()
        .position(|c| c.to_lowercase() == format!("rcpt to:<{to}>"))
        .unwrap_or_else(|| panic!("no RCPT TO for {to}: {commands:?}"));
    let from = commands[..i]
        .iter()
        .rev()
        .find(|c| c.to_uppercase().starts_with("MAIL FROM:"))
        .unwrap();
    from[10..]
        .trim()
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_string()
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

fn sent_project(verp: bool) -> (Project, ScriptedSmtp) {
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
    (p, server)
}

#[test]
fn an_mbox_of_reports_and_unsubscribes_keeps_the_list_and_imports_once() {
    let (p, server) = sent_project(false);
    let id = |to: &str| message_id_for(&server, to);
    let token = bulletin::token::Keys::new(TOKEN_SECRET).token(
        "2026-11-digest",
        "amina.diallo@example.org",
        "fr",
    );
    let messages = vec![
        postfix_dsn(
            "j.okafor@example.org",
            "5.1.1",
            Some(&id("j.okafor@example.org")),
        ),
        exchange_ndr("m.schneider@example.net", &id("m.schneider@example.net")),
        postfix_dsn(
            "helene.dupre@example.org",
            "4.2.2",
            Some(&id("helene.dupre@example.org")),
        ),
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
    .stdout_has("1 unsubscribed by mail, 1 to review, 0 left for later, 1 unreadable")
    .stdout_has("to review: someone@example.com: an unsubscribe request without a valid token")
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
    // The address's history names the report that proved it.
    p.bulletin()
        .args(["history", "j.okafor@example.org"])
        .ok()
        .stdout_has("suppressed  bounced by bounce, campaign 2026-11-digest (status 5.1.1, report ")
        .stdout_has("bounces.mbox (message 1)");

    // Again over the same mailbox: nothing counted twice.
    p.bulletin()
        .args(["bounces", "import", "bounces.mbox"])
        .ok()
        .stdout_has("6 messages, 5 already imported; 0 hard bounces")
        .stdout_has("1 unreadable")
        .stderr_has("bounces.mbox (message 6)");
    assert_eq!(p.suppressed().len(), 3);

    // With the threshold at one campaign, that soft bounce is enough.
    let (p2, server2) = sent_project(false);
    let config = p2.read("bulletin.toml");
    p2.write(
        "bulletin.toml",
        format!("{config}\n[bounces]\nsoft_limit = 1\n"),
    );
    p2.write(
        "soft.mbox",
        mbox(&[postfix_dsn(
            "helene.dupre@example.org",
            "4.2.2",
            Some(&message_id_for(&server2, "helene.dupre@example.org")),
        )]),
    );
    p2.bulletin()
        .args(["bounces", "import", "soft.mbox"])
        .ok()
        .stdout_has("1 soft (1 address suppressed after 1 campaign in a row)");
    assert_eq!(p2.suppressed()[0]["email"], "helene.dupre@example.org");
}

#[test]
fn a_maildir_and_a_mangled_report_explained_by_verp() {
    let (p, server) = sent_project(true);
    let verp = bounce_address_for(&server, "sofia.ramirez@example.org");
    assert!(verp.starts_with("bounces+"), "{verp}");
    // The report names nobody useful; the address it came back to does.
    let mangled = format!(
        "From: MAILER-DAEMON@mx.example.net\r\nTo: {verp}\r\nSubject: Delivery Status Notification (Failure)\r\nMessage-ID: <mangled>\r\n\r\nThe following message to <alias@forwarder.example.com> was undeliverable.\r\nThe reason: 550 5.1.1 mailbox unavailable\r\n"
    );
    let dir = p.path().join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    std::fs::write(dir.join("new/1.mx"), &mangled).unwrap();
    std::fs::write(
        dir.join("cur/2.mx:2,S"),
        postfix_dsn(
            "j.okafor@example.org",
            "5.1.1",
            Some(&message_id_for(&server, "j.okafor@example.org")),
        ),
    )
    .unwrap();
    // A link to a file outside the mailbox: skipped, never read.
    std::os::unix::fs::symlink("/etc/passwd", dir.join("new/3.link")).unwrap();
    p.bulletin()
        .args(["bounces", "import", "Maildir"])
        .ok()
        .stdout_has("2 messages, 0 already imported; 2 hard bounces")
        .stderr_has("3.link: a symbolic link");
    // A folder of the Maildir that is itself a link to elsewhere is not followed.
    let outside = p.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(
        outside.join("1.mx"),
        postfix_dsn(
            "helene.dupre@example.org",
            "5.1.1",
            Some(&message_id_for(&server, "helene.dupre@example.org")),
        ),
    )
    .unwrap();
    let linked = p.path().join("Linked");
    std::fs::create_dir_all(linked.join("cur")).unwrap();
    std::os::unix::fs::symlink(&outside, linked.join("new")).unwrap();
    p.bulletin()
        .args(["bounces", "import", "Linked"])
        .ok()
        .stdout_has("0 messages")
        .stderr_has("Linked/new: a symbolic link");
    let emails: Vec<String> = p.suppressed().iter().map(|r| r["email"].clone()).collect();
    assert!(
        emails.contains(&"sofia.ramirez@example.org".to_string()),
        "{emails:?}"
    );
    assert!(emails.contains(&"j.okafor@example.org".to_string()));
    assert!(!emails.iter().any(|e| e.contains("forwarder")));
}

/// The bounce address is public: a stranger's mail titled "Delivery failure", a report naming
/// ten subscribers, and reports with tags computed without the journal's key all name real
/// subscribers, and none of them changes the list. Each goes to the review list with why.
#[test]
fn forged_bounces_change_nothing_and_are_listed_for_review() {
    let (p, server) = sent_project(true);
    let stranger = "From: Someone <someone@elsewhere.example>\r\nTo: bounces@disarmament-insight.example.org\r\nSubject: Delivery failure\r\nMessage-ID: <forged-1>\r\n\r\n550 5.1.1 <j.okafor@example.org>\r\n".to_string();
    let mut blocks = String::new();
    let subscribers: Vec<String> = p
        .recipients("2026-11-digest")
        .iter()
        .take(10)
        .map(|r| r["email"].clone())
        .collect();
    for s in &subscribers {
        blocks.push_str(&format!(
            "\r\nFinal-Recipient: rfc822; {s}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        ));
    }
    let ten = format!(
        "From: MAILER-DAEMON@mx.example.net\r\nTo: bounces@disarmament-insight.example.org\r\nSubject: Undelivered Mail\r\nMessage-ID: <forged-2>\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n{blocks}--B--\r\n"
    );
    // Tags made the way anyone could (an unkeyed hash of campaign and address).
    let guessed = bulletin::digest::recipient_key("2026-11-digest", "amina.diallo@example.org");
    let verp_guess = postfix_dsn("amina.diallo@example.org", "5.1.1", None).replace(
        "To: bounces@disarmament",
        &format!("To: bounces+{guessed}@disarmament"),
    );
    let id_guess = postfix_dsn(
        "helene.dupre@example.org",
        "5.1.1",
        Some(&format!(
            "<2026-11-digest.{}.19c@disarmament-insight.example.org>",
            bulletin::digest::recipient_key("2026-11-digest", "helene.dupre@example.org")
        )),
    );
    // And one that is real, to show the import does apply what it can tie.
    let real = postfix_dsn(
        "sofia.ramirez@example.org",
        "5.1.1",
        Some(&message_id_for(&server, "sofia.ramirez@example.org")),
    );
    p.write(
        "bounces.mbox",
        mbox(&[stranger, ten, verp_guess, id_guess, real]),
    );
    p.bulletin()
        .args(["bounces", "import", "bounces.mbox"])
        .ok()
        .stdout_has("1 hard bounce (suppressed)")
        .stdout_has("13 to review")
        .stdout_has("to review: j.okafor@example.org: a delivery report (5.1.1) from \"someone@elsewhere.example\"")
        .stdout_has("nothing ties it to a message this journal sent there");
    let suppressed: Vec<String> = p.suppressed().iter().map(|r| r["email"].clone()).collect();
    assert_eq!(suppressed, ["sofia.ramirez@example.org"]);
    // Listable later, with the reason, also as CSV.
    let listed = common::csv_rows(
        &p.bulletin()
            .args(["bounces", "review", "--csv"])
            .ok()
            .stdout(),
    );
    assert_eq!(listed.len(), 13);
    // Dealt with, the list is emptied; a second import adds nothing (all seen before).
    p.bulletin()
        .args(["bounces", "review", "--clear"])
        .ok()
        .stderr_has("13 entries taken off the review list");
    p.bulletin()
        .args(["bounces", "import", "bounces.mbox"])
        .ok();
    p.bulletin()
        .args(["bounces", "review"])
        .ok()
        .stdout_has("Nothing to review.");
    for s in &subscribers {
        assert!(listed.iter().any(|r| &r["who"] == s), "{s}");
    }
    assert!(listed.iter().all(|r| r["reason"].contains("not applied")));
}

/// Without the token secret an unsubscribe mail cannot be judged: it is left for the next
/// import, which has the secret and applies it. Nothing is lost in between.
#[test]
fn an_import_without_the_secret_leaves_unsubscribes_for_the_next() {
    let (p, _server) = sent_project(false);
    let token = bulletin::token::Keys::new(TOKEN_SECRET).token(
        "2026-11-digest",
        "amina.diallo@example.org",
        "fr",
    );
    p.write(
        "unsub.mbox",
        mbox(&[mailed_unsubscribe(
            "amina.diallo@example.org",
            &format!("unsubscribe {token}"),
            "u1",
        )]),
    );
    p.bulletin()
        .env_remove("BULLETIN_UNSUBSCRIBE_SECRET")
        .args(["bounces", "import", "unsub.mbox"])
        .ok()
        .stdout_has("0 to review, 1 left for later")
        .stderr_has("left for the next import");
    assert!(p.suppressed().is_empty());
    p.bulletin()
        .args(["bounces", "import", "unsub.mbox"])
        .ok()
        .stdout_has("0 already imported")
        .stdout_has("1 unsubscribed by mail");
    assert_eq!(p.suppressed()[0]["email"], "amina.diallo@example.org");
}

/// A large mbox is read as a stream: the import's memory stays far below the file's size.
#[test]
fn a_large_mbox_is_streamed() {
    let (p, _server) = sent_project(false);
    let line =
        "Ceci n'est pas un rapport de remise, seulement une longue lettre.\r\n".repeat(16_000);
    let mut f = std::io::BufWriter::new(std::fs::File::create(p.path().join("big.mbox")).unwrap());
    for i in 0..60 {
        use std::io::Write;
        write!(
            f,
            "From someone Tue Dec  1 08:00:00 2026\nFrom: a@example.com\nSubject: letter {i}\nMessage-ID: <big{i}>\n\n{line}\n"
        )
        .unwrap();
    }
    drop(f);
    let size = std::fs::metadata(p.path().join("big.mbox")).unwrap().len();
    assert!(size > 50_000_000, "{size}");
    p.write("empty.mbox", "");
    let import = |file: &str| {
        let child = common::command()
            .current_dir(p.path())
            .args(["bounces", "import", file])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let (out, peak_kb) = common::wait_with_peak_memory(child);
        assert!(out.status.success());
        (String::from_utf8_lossy(&out.stdout).into_owned(), peak_kb)
    };
    // What the program itself takes (a debug build maps much of itself), then the big one.
    let (_, base_kb) = import("empty.mbox");
    let (said, peak_kb) = import("big.mbox");
    assert!(said.contains("60 messages"), "{said}");
    let grew = peak_kb.saturating_sub(base_kb) * 1024;
    assert!(
        grew < size / 2,
        "{grew} bytes more than an empty import for a {size}-byte mbox: it was held whole"
    );
}
