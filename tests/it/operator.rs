//! The operator's day: what `check` and the other commands tell the person running them.

use crate::common;

use common::Project;

#[test]
fn an_unknown_campaign_is_refused_the_same_way_everywhere_and_reading_writes_nothing() {
    let p = Project::example();
    let expected = p.bulletin().args(["audience", "nov"]).fails().stderr();
    assert!(expected.contains("no campaign \"nov\""), "{expected}");
    assert!(
        expected.contains("2026-11-digest"),
        "the real ones are listed: {expected}"
    );
    for args in [
        &["status", "nov"][..],
        &["preview", "nov"][..],
        &["send", "nov", "--dry-run"][..],
        &["schedule", "nov", "--at", "2030-01-01T09:00"][..],
        &["check", "nov"][..],
        &["test-send", "nov", "--to", "me@example.org"][..],
    ] {
        let err = p.bulletin().args(args).fails().stderr();
        assert!(err.contains("no campaign \"nov\""), "{args:?}: {err}");
    }
    p.bulletin().args(["status"]).ok();
    p.bulletin().args(["due", "--dry-run"]).ok();
    assert!(
        !p.path().join("bulletin.sqlite").exists(),
        "status and a dry run read, never create"
    );
    p.bulletin()
        .env("BULLETIN_NOW", common::PLANNED)
        .args(["schedule", "2026-11-digest", "--at", "2030-01-01T09:00"])
        .ok();
    p.bulletin()
        .args(["status", "2026-11-mpome-briefing"])
        .ok()
        .stdout_has("2026-11-mpome-briefing: not sent yet");
    // A campaign file outside the campaigns folder could not be followed by id afterwards.
    p.write(
        "elsewhere/copy.toml",
        p.read("campaigns/2026-11-digest.toml"),
    );
    for cmd in ["audience", "preview", "schedule"] {
        p.bulletin()
            .args([cmd, "elsewhere/copy.toml"])
            .fails()
            .stderr_has("is not in the campaigns folder");
    }
    p.bulletin()
        .args(["audience", "campaigns/2026-11-digest.toml"])
        .ok();
}

#[test]
fn every_misspelt_key_of_the_config_is_reported_in_one_run() {
    let p = Project::example();
    p.edit("bulletin.toml", "\nname = ", "\nnmae = ")
        .edit("bulletin.toml", "\ntimezone = ", "\ntimezon = ")
        .edit("bulletin.toml", "\nburst = ", "\nbrust = ");
    let err = p.bulletin().args(["check"]).fails().stderr();
    for (key, meant) in [
        ("nmae", "name"),
        ("timezon", "timezone"),
        ("brust", "burst"),
    ] {
        let line = p
            .read("bulletin.toml")
            .lines()
            .position(|l| l.starts_with(key))
            .unwrap()
            + 1;
        assert!(
            err.contains(&format!("bulletin.toml:{line}: unknown field `{key}`")),
            "{key}: {err}"
        );
        assert!(err.contains(&format!("did you mean `{meant}`?")), "{err}");
    }
    assert!(err.contains("3 errors found"), "{err}");
}

/// A campaign's row in the `schedule` listing at `now`.
fn schedule_row(p: &Project, now: &str, campaign: &str) -> String {
    let list = p
        .bulletin()
        .args(["schedule"])
        .env("BULLETIN_NOW", now)
        .ok()
        .stdout();
    list.lines()
        .find(|l| l.starts_with(&format!("{campaign} ")))
        .unwrap_or_else(|| panic!("no row for {campaign}: {list}"))
        .to_string()
}

#[test]
fn schedules_refuse_the_past_and_a_finished_campaign_unless_asked() {
    let server = common::smtp::RealSmtp::start();
    let p = Project::example();
    p.relay(
        server.port,
        "connections = 2",
        "per_second = 500\nburst = 100",
    );
    let now = "2026-11-30T10:00:00Z";
    // A year typo: refused, nothing scheduled.
    p.bulletin()
        .args(["schedule", "2026-11-digest", "--at", "2025-11-30T11:00"])
        .env("BULLETIN_NOW", now)
        .fails()
        .stderr_has("is in the past")
        .stderr_has("--now");
    let row = schedule_row(&p, now, "2026-11-digest");
    assert!(row.contains("draft"), "{row}");
    // Kept with --now; a wrong call is a usage error; so is a clock that is no time.
    p.bulletin()
        .args([
            "schedule",
            "2026-11-digest",
            "--at",
            "2025-11-30T11:00",
            "--now",
        ])
        .env("BULLETIN_NOW", now)
        .ok()
        .stdout_has("scheduled for 2025-11-30");
    p.bulletin().args(["schedule", "--now"]).fails().code_is(2);
    p.bulletin()
        .args(["schedule"])
        .env("BULLETIN_NOW", "2026-12-01T09:00")
        .fails()
        .code_is(2)
        .stderr_has("BULLETIN_NOW");
    // Within the hour is fine; --now means the next `due`.
    p.bulletin()
        .args(["schedule", "2026-11-digest", "--at", "2026-11-30T10:30"])
        .env("BULLETIN_NOW", now)
        .ok();
    p.bulletin()
        .args(["schedule", "2026-11-digest", "--now"])
        .env("BULLETIN_NOW", now)
        .ok()
        .stdout_has("scheduled for");
    p.bulletin()
        .env("BULLETIN_NOW", common::PLANNED)
        .args(["schedule", "2026-11-digest", "--cancel"])
        .ok();

    // Sent by hand: `schedule` says finished, and scheduling it again needs --again.
    p.bulletin()
        .args(["send", "2026-11-mpome-briefing", "--yes"])
        .env("BULLETIN_NOW", now)
        .ok();
    let sent = server.messages().len();
    assert!(sent > 0);
    // Eleven messages within the burst: no average over milliseconds that reads like a
    // broken limit.
    p.bulletin()
        .args(["status", "2026-11-mpome-briefing"])
        .env("BULLETIN_NOW", now)
        .ok()
        .stdout_has("all within a second, as the burst allows (limit 500/s, bursts of 100)");
    let row = schedule_row(&p, now, "2026-11-mpome-briefing");
    assert!(
        row.contains("finished") && row.contains("sent by hand"),
        "{row}"
    );
    p.bulletin()
        .args(["schedule", "2026-11-mpome-briefing", "--now"])
        .env("BULLETIN_NOW", now)
        .fails()
        .stderr_has("has already gone out")
        .stderr_has("--again");
    // A few minutes on (each run's clock starts at BULLETIN_NOW).
    let now = "2026-11-30T10:05:00Z";
    p.bulletin()
        .args(["schedule", "2026-11-mpome-briefing", "--now", "--again"])
        .env("BULLETIN_NOW", now)
        .ok();
    // Scheduled again, not yet taken up: due, with what went before, not "sending".
    let row = schedule_row(&p, now, "2026-11-mpome-briefing");
    assert!(
        row.contains(" due ") && row.contains(&format!("{sent} sent before")),
        "{row}"
    );
    p.bulletin().args(["due"]).env("BULLETIN_NOW", now).ok();
    assert_eq!(
        server.messages().len(),
        sent,
        "--again never mails anyone twice"
    );
}

#[test]
fn check_and_dry_run_refuse_what_send_would_refuse_before_connecting() {
    let p = Project::example();
    let config = p.read("bulletin.toml");
    let line = |text: &str, key: &str| {
        text.lines()
            .position(|l| l.starts_with(key))
            .map_or(0, |i| i + 1)
    };
    // The example as shipped, with its password and secret in the environment: fine.
    p.bulletin().args(["check"]).ok();
    p.bulletin()
        .args(["send", "2026-11-digest", "--dry-run"])
        .ok();

    // The password's variable unset.
    let err = p
        .bulletin()
        .args(["check"])
        .env_remove("BULLETIN_SMTP_PASSWORD")
        .fails()
        .stderr();
    assert!(
        err.contains(&format!(
            "bulletin.toml:{}: `send` would refuse",
            line(&config, "password_env")
        )),
        "{err}"
    );
    assert!(err.contains("BULLETIN_SMTP_PASSWORD"), "{err}");
    p.bulletin()
        .args(["send", "2026-11-digest", "--dry-run"])
        .env_remove("BULLETIN_SMTP_PASSWORD")
        .fails()
        .stderr_has("BULLETIN_SMTP_PASSWORD");
    // --files-only checks what a previewing machine needs, no more.
    p.bulletin()
        .args(["check", "--files-only"])
        .env_remove("BULLETIN_SMTP_PASSWORD")
        .env_remove("BULLETIN_UNSUBSCRIBE_SECRET")
        .ok();
    // The token secret unset: an error for check, as send refuses; preview still works.
    p.bulletin()
        .args(["check"])
        .env_remove("BULLETIN_UNSUBSCRIBE_SECRET")
        .fails()
        .stderr_has("`send` would refuse: cannot sign unsubscribe links");

    // Plain SMTP to a relay elsewhere.
    p.edit(
        "bulletin.toml",
        "security = \"starttls\"",
        "security = \"plain\"",
    );
    let text = p.read("bulletin.toml");
    let err = p.bulletin().args(["check"]).fails().stderr();
    assert!(
        err.contains(&format!(
            "bulletin.toml:{}: `send` would refuse: security = \"plain\"",
            line(&text, "security")
        )),
        "{err}"
    );
    p.bulletin()
        .args(["send", "2026-11-digest", "--dry-run"])
        .fails()
        .stderr_has("security = \"plain\"");

    // No [smtp] at all: refused before any question is asked.
    let head = &config[..config.find("[smtp]").unwrap()];
    let tail = &config[config.find("[schedule]").unwrap()..];
    p.write("bulletin.toml", format!("{head}{tail}"));
    p.bulletin()
        .args(["check"])
        .fails()
        .stderr_has("no [smtp] section");
    p.bulletin()
        .args(["send", "2026-11-digest"])
        .fails()
        .stderr_has("no [smtp] section")
        .stderr_lacks("--yes");
    p.bulletin()
        .args(["send", "2026-11-digest", "--dry-run"])
        .fails()
        .stderr_has("no [smtp] section");
}

#[test]
fn test_sends_go_to_several_colleagues_as_a_given_contact_and_send_says_so() {
    let server = common::smtp::RealSmtp::start();
    let p = Project::example();
    p.relay(
        server.port,
        "connections = 2",
        "per_second = 500\nburst = 100",
    );
    p.bulletin()
        .args(["send", "2026-11-mpome-briefing", "--dry-run"])
        .ok()
        .stderr_has("from Disarmament Insight <news@disarmament-insight.example.org>")
        .stderr_has("subject (en, for ")
        .stderr_has("not test-sent");
    p.bulletin()
        .args([
            "test-send",
            "2026-11-mpome-briefing",
            "--to",
            "editor@example.org",
            "--to",
            "director@example.org",
            "--as",
            "Amina.Diallo@example.org",
        ])
        .ok();
    let got = server.messages();
    assert_eq!(got.len(), 2, "her message, to each colleague");
    for m in &got {
        let parsed = mail_parser::MessageParser::default()
            .parse(&m.data)
            .unwrap();
        let subject = parsed.subject().unwrap();
        assert!(subject.starts_with("[TEST] Amina\u{a0}: "), "{subject}");
        assert_eq!(
            parsed.header_raw("Content-Language").map(str::trim),
            Some("fr"),
            "her language"
        );
    }
    let to: Vec<String> = got.iter().flat_map(|m| m.to.clone()).collect();
    assert!(
        to.contains(&"editor@example.org".into()) && to.contains(&"director@example.org".into())
    );
    assert!(p.journal_states().is_empty(), "no delivery recorded");
    p.bulletin()
        .args(["send", "2026-11-mpome-briefing", "--dry-run"])
        .ok()
        .stderr_has("test-sent to editor@example.org, director@example.org at ");
    // Changed content is not the content that was tested.
    p.edit(
        "campaigns/2026-11-mpome-briefing.toml",
        ": weapons lost",
        ": weapons lost (revised)",
    );
    p.bulletin()
        .args(["send", "2026-11-mpome-briefing", "--dry-run"])
        .ok()
        .stderr_has("not test-sent");
    // Someone who is not a recipient cannot be sampled.
    p.bulletin()
        .args([
            "test-send",
            "2026-11-mpome-briefing",
            "--to",
            "editor@example.org",
            "--as",
            "nobody@example.org",
        ])
        .fails()
        .stderr_has("nobody@example.org is not among the campaign's recipients");
}

#[test]
fn the_preview_index_is_a_review_tool_its_filters_narrow_the_rows_in_a_real_browser() {
    let p = Project::example();
    let out = p.path().join("review");
    p.bulletin()
        .args(["preview", "2026-11-digest", "--out"])
        .arg(&out)
        .env("BULLETIN_NOW", "2026-12-01T08:00:00Z")
        .ok();
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    // Titles, not slugs; interests; the text part; a readable local time (the config's zone).
    assert!(
        index.contains("What the 1997 Mine Ban Convention teaches today"),
        "update titles"
    );
    assert!(index.contains(".txt\">text</a>"));
    assert!(
        index.contains("Generated 2026-12-01 09:00 CET."),
        "local time"
    );
    assert!(
        index.contains("bilingual") || index.contains("not supported"),
        "why a fallback"
    );
    let total = index.matches("<tr data-lang").count();
    assert!(total > 20);

    let (browser, _profile) = common::chromium();
    let tab = browser.new_tab().unwrap();
    tab.navigate_to(&format!("file://{}", out.join("index.html").display()))
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    let visible = |tab: &headless_chrome::Tab| -> u64 {
        tab.evaluate(
            "document.querySelectorAll('#messages tbody tr:not(.hidden)').length",
            false,
        )
        .unwrap()
        .value
        .unwrap()
        .as_u64()
        .unwrap()
    };
    assert_eq!(visible(&tab), total as u64);
    // Typing narrows to the one contact named.
    tab.wait_for_element("#q").unwrap().click().unwrap();
    tab.type_str("okafor").unwrap();
    assert_eq!(visible(&tab), 1);
    let shown = tab
        .wait_for_element("#shown")
        .unwrap()
        .get_inner_text()
        .unwrap();
    assert_eq!(shown, format!("1 of {total} shown"));
    // Cleared, then each language option: it shows as many rows as its label counts, all
    // in exactly that language, bilingual ones included.
    tab.evaluate(
        "var q = document.getElementById('q'); q.value = ''; q.dispatchEvent(new Event('input'));",
        false,
    )
    .unwrap();
    let options = tab
        .evaluate(
            "JSON.stringify(Array.from(document.querySelectorAll('#f-lang option')).filter(o => o.value).map(o => [o.value, o.textContent]))",
            false,
        )
        .unwrap()
        .value
        .unwrap();
    let options: Vec<(String, String)> = serde_json::from_str(options.as_str().unwrap()).unwrap();
    assert!(options.iter().any(|(v, _)| v.contains('+')), "{options:?}");
    let mut seen = 0;
    for (value, label) in &options {
        tab.evaluate(
            &format!("var s = document.getElementById('f-lang'); s.value = '{value}'; s.dispatchEvent(new Event('change'));"),
            false,
        )
        .unwrap();
        let n = visible(&tab);
        assert!(label.ends_with(&format!("({n})")), "{label}: {n} shown");
        let exact = tab
            .evaluate(
                &format!("Array.from(document.querySelectorAll('#messages tbody tr:not(.hidden)')).every(r => r.dataset.lang === '{value}')"),
                false,
            )
            .unwrap()
            .value
            .unwrap();
        assert_eq!(exact, serde_json::Value::Bool(true), "{value}");
        seen += n;
    }
    assert_eq!(
        seen, total as u64,
        "every message is under one language option"
    );
}

#[test]
fn due_says_a_lists_warning_once_with_its_line_whatever_the_campaigns_sharing_it() {
    let p = Project::example();
    let csv = p.read("lists/practitioners.csv");
    let line = csv.lines().count() + 1;
    p.write(
        "lists/practitioners.csv",
        format!("{csv}ana.ruiz@example.org,Ana,Ruiz,UNIDIR,pt,landmines,Researcher\n"),
    );
    let now = "2026-11-30T10:00:00Z";
    for c in ["2026-11-digest", "2026-11-mpome-briefing"] {
        p.bulletin()
            .args(["schedule", c, "--now"])
            .env("BULLETIN_NOW", now)
            .ok();
    }
    let out = p
        .bulletin()
        .args(["due", "--dry-run"])
        .env("BULLETIN_NOW", now)
        .ok()
        .stdout();
    let warned: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("languages not supported"))
        .collect();
    assert_eq!(warned.len(), 1, "{out}");
    assert!(
        warned[0].contains("practitioners.csv")
            && warned[0].contains(&format!("\"pt\" on line {line}")),
        "{out}"
    );
    // Both campaigns were still looked at.
    assert_eq!(out.matches("would send").count(), 2, "{out}");
    // --quiet keeps a cron mailbox free of it.
    let quiet = p
        .bulletin()
        .args(["due", "--dry-run", "--quiet"])
        .env("BULLETIN_NOW", now)
        .ok()
        .stdout();
    assert!(quiet.is_empty(), "{quiet}");
}
