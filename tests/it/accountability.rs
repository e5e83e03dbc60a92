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
    // A sample sent to it on purpose after it left is named as the exception it is.
    p.bulletin()
        .args([
            "test-send",
            "2026-11-digest",
            "--to",
            who,
            "--to-suppressed",
        ])
        .ok();
    p.bulletin()
        .args(["history", who])
        .ok()
        .stdout_has("Sent while it was on the suppression list (")
        .stdout_has("a test send, to an address given with --to-suppressed");

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

    p.bulletin()
        .args(["preview", "2026-11-digest", "--out"])
        .arg(p.path().join("out"))
        .ok();
    let mailed_before = common::smtp::count_by_recipient(&smtp.inbox)[who];
    let out = p.bulletin().args(["forget", who, "--yes"]).ok().stdout();
    assert!(out.contains("Erased amina.diallo@example.org"), "{out}");
    assert!(out.contains("lists/practitioners.csv:2"), "{out}");
    assert!(
        out.contains("out/index.html"),
        "the preview that holds it is named: {out}"
    );
    // Its history now says only that it was erased.
    p.bulletin()
        .args(["history", who])
        .ok()
        .stdout_has("Erased on ")
        .stdout_has("Messages (0)");
    assert_eq!(files_holding(&p, who), Vec::<String>::new());
    // The other test-send address stays.
    assert!(files_holding(&p, "editor@example.org").contains(&"bulletin.sqlite".to_string()));

    // Sending goes on as before: the journal's count and its marker both lost its messages.
    p.bulletin()
        .args(["send", "2026-11-mpome-briefing", "--yes", "--dry-run"])
        .ok();

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

/// The example project with `[approval]` appended (after `relay`, which rewrites the tail).
fn with_approval(p: &Project, extra: &str) {
    let config = p.read("bulletin.toml");
    p.write(
        "bulletin.toml",
        format!("{config}\n[approval]\nrequired = true\n{extra}\n"),
    );
}

#[test]
fn an_approval_holds_for_exactly_what_goes_out() {
    let smtp = RealSmtp::start();
    let p = Project::example();
    p.relay(smtp.port, "connections = 2", FAST);
    with_approval(&p, "");
    let c = "2026-11-mpome-briefing";
    p.bulletin()
        .args(["send", c, "--yes"])
        .fails()
        .stderr_has("2026-11-mpome-briefing is not approved");
    p.bulletin()
        .args(["schedule", c, "--now"])
        .fails()
        .stderr_has("is not approved");
    p.bulletin()
        .args(["check", c])
        .fails()
        .stderr_has("`send` would refuse: 2026-11-mpome-briefing is not approved");
    assert!(smtp.messages().is_empty());

    p.bulletin()
        .args([
            "approve",
            c,
            "--by",
            "Amina Diallo",
            "--note",
            "cleared with legal",
        ])
        .ok()
        .stdout_has("Approved 2026-11-mpome-briefing by Amina Diallo");
    let out = p.path().join("out");
    p.bulletin().args(["preview", c, "--out"]).arg(&out).ok();
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(index.contains("approved by Amina Diallo on "), "{index}");

    // An update edited after the approval: refused, naming it; the list grown: named, with
    // how the audience moved.
    let update = "updates/2026-11-peace-operations-materiel.en.md";
    let body = p.read(update);
    p.write(update, format!("{body}\nOne more sentence.\n"));
    p.bulletin()
        .args(["send", c, "--yes"])
        .fails()
        .stderr_has("changed since Amina Diallo approved it")
        .stderr_has("update 2026-11-peace-operations-materiel (en) changed");
    p.write(update, body);
    let list = p.read("lists/practitioners.csv");
    p.write(
        "lists/practitioners.csv",
        format!("{list}new.reader@example.org,New,Reader,UNIDIR,en,peace-operations,Researcher\n"),
    );
    p.bulletin()
        .args(["send", c, "--yes", "--dry-run"])
        .fails()
        .stderr_has("list practitioners.csv changed")
        .stderr_has("recipients: ");
    p.write("lists/practitioners.csv", list);
    // The config's part in what goes out (here the reply address) is covered too; a relay
    // setting is not.
    let config = p.read("bulletin.toml");
    p.write(
        "bulletin.toml",
        config.replace("reply_to = \"", "reply_to = \"x"),
    );
    p.bulletin()
        .args(["send", c, "--yes", "--dry-run"])
        .fails()
        .stderr_has("config (sender, languages, links, lists) changed");
    p.write(
        "bulletin.toml",
        config.replace("timeout_secs = 5", "timeout_secs = 6"),
    );
    p.bulletin().args(["send", c, "--yes", "--dry-run"]).ok();
    p.write("bulletin.toml", &config);
    // Put back as approved: it goes, and status says who cleared it.
    p.bulletin().args(["send", c, "--yes"]).ok();
    assert!(!smtp.messages().is_empty());
    p.bulletin()
        .args(["status", c])
        .ok()
        .stdout_has("approved by Amina Diallo on ")
        .stdout_has("by command");
    let json: serde_json::Value =
        serde_json::from_str(&p.bulletin().args(["status", c, "--json"]).ok().stdout()).unwrap();
    assert_eq!(json[0]["approval"]["note"], "cleared with legal");
}

#[test]
fn an_approver_clears_a_campaign_from_the_mailed_link_in_a_browser() {
    let smtp = RealSmtp::start();
    let p = Project::example();
    p.relay(smtp.port, "connections = 2", FAST);
    with_approval(
        &p,
        "approvers = [\"director@example.org\"]\napprove_url = \"http://bulletin.test/approve/{token}\"",
    );
    let c = "2026-11-mpome-briefing";
    p.bulletin()
        .args(["approve", c, "--request"])
        .ok()
        .stdout_has("Asked director@example.org to approve");
    let to_director: Vec<_> = smtp
        .messages()
        .into_iter()
        .filter(|m| m.to.iter().any(|t| t == "director@example.org"))
        .collect();
    let texts: Vec<String> = to_director
        .iter()
        .map(|m| String::from_utf8_lossy(&m.data).replace("=\r\n", ""))
        .collect();
    assert!(
        texts
            .iter()
            .filter(|t| t.contains("Subject: [TEST]"))
            .count()
            >= 2,
        "the samples"
    );
    let request = texts
        .iter()
        .find(|t| t.contains("Subject: Approval requested: 2026-11-mpome-briefing"))
        .expect("the request");
    let token_at = request.find("http://bulletin.test/approve/").unwrap();
    let link: String = request[token_at..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();

    let s = crate::serve::serve_with(&p, &[]);
    let link = link.replace("http://bulletin.test", &s.base);
    let (browser, _profile) = common::chromium();
    let tab = browser.new_tab().unwrap();
    tab.navigate_to(&link)
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    let page = tab
        .wait_for_element("main")
        .unwrap()
        .get_inner_text()
        .unwrap();
    assert!(
        page.contains("Weapons lost from peace operations"),
        "the subject, without a reader: {page}"
    );
    assert!(page.contains("recipients"), "{page}");
    p.bulletin()
        .args(["send", c, "--yes", "--dry-run"])
        .fails()
        .stderr_has("is not approved");
    tab.find_element("#approve").unwrap().click().unwrap();
    tab.wait_for_element("#approved").unwrap();
    p.bulletin()
        .args(["status", c])
        .ok()
        .stdout_has("approved by director@example.org")
        .stdout_has("by the mailed link");
    p.bulletin().args(["send", c, "--yes", "--dry-run"]).ok();

    // Replayed: nothing more; forged: nothing; a later version: the old link cannot clear it.
    let post = |url: &str| {
        let out = std::process::Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-X",
                "POST",
                "-d",
                "confirm=yes",
                url,
            ])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(post(&link), "200");
    let count = || {
        let conn = rusqlite::Connection::open(p.path().join("bulletin.sqlite")).unwrap();
        conn.query_row("SELECT COUNT(*) FROM approvals", [], |r| r.get::<_, i64>(0))
            .unwrap()
    };
    assert_eq!(count(), 1, "a replay approves nothing more");
    let forged = bulletin::token::Keys::new("another secret of thirty-two chars!!").approval_token(
        &bulletin::token::ApprovalRequest {
            campaign: c.into(),
            hash: "x".into(),
            approver: "director@example.org".into(),
            at_ms: 0,
        },
    );
    assert_eq!(post(&format!("{}/approve/{forged}", s.base)), "400");
    // Older than the week a link works: gone; for someone not among the approvers: nothing.
    let keys = bulletin::token::Keys::new(common::TOKEN_SECRET);
    // The time the mailed link was made, on bulletin's clock (which the suite may move).
    let now_ms = keys
        .open_approval(link.rsplit('/').next().unwrap())
        .expect("the mailed link opens")
        .at_ms;
    let hash: String = {
        let conn = rusqlite::Connection::open(p.path().join("bulletin.sqlite")).unwrap();
        conn.query_row("SELECT hash FROM approvals", [], |r| r.get(0))
            .unwrap()
    };
    let link_for = |who: &str, age_days: i64| {
        let t = keys.approval_token(&bulletin::token::ApprovalRequest {
            campaign: c.into(),
            hash: hash.clone(),
            approver: who.into(),
            at_ms: now_ms - age_days * 86_400_000,
        });
        format!("{}/approve/{t}", s.base)
    };
    assert_eq!(post(&link_for("director@example.org", 8)), "410");
    assert_eq!(post(&link_for("intern@example.org", 0)), "200");
    assert_eq!(
        count(),
        1,
        "someone not among the approvers approves nothing"
    );
    let update = "updates/2026-11-peace-operations-materiel.en.md";
    let body = p.read(update);
    p.write(update, format!("{body}\nOne more sentence.\n"));
    tab.navigate_to(&link)
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    tab.wait_for_element("#changed").unwrap();
    assert_eq!(post(&link), "200");
    assert_eq!(
        count(),
        1,
        "a changed campaign is not approved by an old link"
    );
    p.bulletin()
        .args(["send", c, "--yes", "--dry-run"])
        .fails()
        .stderr_has("changed since director@example.org approved it");
}

#[test]
fn the_campaign_report_shows_status_numbers_in_pictures_a_browser_renders() {
    use common::smtp::{Script, ScriptedSmtp};
    let mut script = Script::default();
    script.refuse_rcpt.insert(
        "j.okafor@example.org".into(),
        "550 5.1.1 no such user".into(),
    );
    let server = ScriptedSmtp::start(script);
    let p = Project::example();
    p.relay(server.port, "connections = 2", FAST);
    p.bulletin().args(["send", "2026-11-digest", "--yes"]).run();
    p.bulletin()
        .args(["approve", "2026-11-digest", "--by", "Amina Diallo"])
        .ok();
    // Someone leaves through the campaign's own link.
    let s = crate::serve::serve_with(&p, &[]);
    let t = bulletin::token::Keys::new(common::TOKEN_SECRET).token(
        "2026-11-digest",
        "helene.dupre@example.org",
        "fr",
    );
    let code = std::process::Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-d",
            "List-Unsubscribe=One-Click",
        ])
        .arg(format!("{}/u/{t}", s.base))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&code.stdout), "200");

    let out = p.path().join("report");
    p.bulletin()
        .args(["report", "2026-11-digest", "--out"])
        .arg(&out)
        .ok()
        .stdout_has("Wrote 2 pages");
    let html = std::fs::read_to_string(out.join("2026-11-digest.html")).unwrap();
    assert!(!html.contains("<script"), "no scripts");
    assert!(
        !html.contains("src=\"http") && !html.contains("url(http"),
        "nothing from elsewhere"
    );

    let status: serde_json::Value = serde_json::from_str(
        &p.bulletin()
            .args(["status", "2026-11-digest", "--json"])
            .ok()
            .stdout(),
    )
    .unwrap();
    let (browser, _profile) = common::chromium();
    let tab = browser.new_tab().unwrap();
    tab.navigate_to(&format!(
        "file://{}",
        out.join("2026-11-digest.html").display()
    ))
    .unwrap()
    .wait_until_navigated()
    .unwrap();
    let number = |id: &str| -> u64 {
        tab.wait_for_element(&format!("#count-{id}"))
            .unwrap()
            .get_inner_text()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(number("total"), status[0]["total"].as_u64().unwrap());
    for state in ["sent", "failed", "deferred", "unknown"] {
        let expected = status[0]["counts"][state].as_u64().unwrap_or(0);
        assert_eq!(number(state), expected, "{state}");
    }
    assert!(number("failed") >= 1);
    // The pictures are there, each with its numbers.
    let svgs =
        crate::readers::eval_i64(&tab, "document.querySelectorAll('section svg rect').length");
    assert!(svgs >= 6, "{svgs} bars");
    let section = |id: &str| tab.wait_for_element(id).unwrap().get_inner_text().unwrap();
    let reasons = section("#reasons");
    assert!(reasons.contains("550"), "{reasons}");
    let left = section("#left-how");
    assert!(left.contains("unsubscribed (link)"), "{left}");
    let approval = section("#approval");
    assert!(approval.contains("by Amina Diallo"), "{approval}");
    tab.wait_for_element("#no-tracking").unwrap();
    crate::readers::viewport(&tab, 390, true);
    assert!(
        crate::readers::eval_i64(
            &tab,
            "document.documentElement.scrollWidth - window.innerWidth"
        ) <= 0,
        "the report is wider than a phone"
    );
    crate::readers::viewport_of(&tab, 1000, 1800, false);
    crate::readers::screenshot(&tab, "report-desktop");
}
