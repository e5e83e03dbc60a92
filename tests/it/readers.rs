//! The reader's say, driven as readers and attackers drive it: the preference page and the
//! sign-up form filled in a real Chromium, the confirmation link followed from the message a
//! real SMTP server (mailin-embedded) received, then what `audience`, `preview` and the
//! journal say; forged, expired and replayed tokens; a bounded flood of sign-ups from 50
//! clients counted at the SMTP server.

use crate::common;
use crate::serve::{agent, serve_with, Server};

use std::time::{Duration, Instant};

use common::smtp::RealSmtp;
use common::{Project, TOKEN_SECRET};

/// Every process of these tests reads this clock: choices are dated 2026-12-08.
const NOW: &str = "2026-12-08T10:00:00Z";
const NOW_MS: i64 = 1_796_724_000_000;

fn at_now(p: &Project) -> common::Run {
    p.bulletin().env("BULLETIN_NOW", NOW)
}

fn start(p: &Project) -> Server {
    serve_with(p, &[("BULLETIN_NOW", NOW)])
}

fn token(campaign: &str, email: &str, lang: &str) -> String {
    bulletin::token::Keys::new(TOKEN_SECRET).token(campaign, email, lang)
}

fn get(url: &str) -> (u16, String) {
    let mut r = agent().get(url).call().unwrap();
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
}

fn post(url: &str, body: &str) -> (u16, String) {
    let mut r = agent()
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(body)
        .unwrap();
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
}

/// The example project with its relay on `port` and the sign-up form on, its confirmation
/// links pointing at a host the tests replace by the server's address.
fn with_signup(p: &Project, port: u16, signup: &str, rate: &str) {
    p.relay(port, "", rate);
    let config = p.read("bulletin.toml");
    p.write(
        "bulletin.toml",
        format!("{config}\n[signup]\nconfirm_url = \"http://bulletin.test/confirm/{{token}}\"\n{signup}\n"),
    );
}

/// The text of a received message.
fn text_of(data: &[u8]) -> String {
    let m = mail_parser::MessageParser::default().parse(data).unwrap();
    m.body_text(0).unwrap().into_owned()
}

/// The confirmation link of the last message to `to`, on the running server.
fn confirmation_link(smtp: &RealSmtp, to: &str, s: &Server) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found = smtp
            .messages()
            .into_iter()
            .rev()
            .find(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to)));
        if let Some(m) = found {
            let text = text_of(&m.data);
            let link = text
                .split_whitespace()
                .find(|w| w.starts_with("http://bulletin.test/confirm/"))
                .unwrap_or_else(|| panic!("no link in {text}"));
            return link.replace("http://bulletin.test", &s.base);
        }
        assert!(Instant::now() < deadline, "no confirmation mail to {to}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn journal(p: &Project) -> rusqlite::Connection {
    rusqlite::Connection::open(p.path().join("bulletin.sqlite")).unwrap()
}

fn count(p: &Project, sql: &str) -> i64 {
    journal(p).query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Every input a person fills has a label: what a screen reader says of it.
const UNLABELLED: &str = "[...document.querySelectorAll('input:not([type=hidden]), select, textarea')].filter(i => !i.closest('[aria-hidden=true]') && !i.closest('label') && !(i.id && document.querySelector('label[for=\"' + i.id + '\"]'))).length";

pub(crate) fn eval_i64(tab: &headless_chrome::Tab, js: &str) -> i64 {
    tab.evaluate(js, false)
        .unwrap()
        .value
        .and_then(|v| v.as_i64())
        .unwrap_or(-1)
}

fn eval_str(tab: &headless_chrome::Tab, js: &str) -> String {
    tab.evaluate(js, false)
        .unwrap()
        .value
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

#[test]
fn a_reader_changes_language_and_topics_in_a_browser_and_the_next_campaign_follows() {
    let p = Project::example();
    let s = start(&p);
    let t = token("2026-11-digest", "amina.diallo@example.org", "fr");
    let (browser, _profile) = common::chromium();
    let tab = browser.new_tab().unwrap();
    tab.navigate_to(&format!("{}/p/{t}", s.base))
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    tab.wait_for_element("#save").unwrap();
    assert_eq!(eval_str(&tab, "document.documentElement.lang"), "fr");
    let body = tab.get_content().unwrap();
    assert!(body.contains("amina.diallo@example.org"), "{body}");
    // What the lists say, before any choice: French, small arms and peace operations.
    assert_eq!(
        eval_str(
            &tab,
            "document.querySelector('input[name=language]:checked').value"
        ),
        "fr"
    );
    assert_eq!(
        eval_str(&tab, "[...document.querySelectorAll('input[name=interests]:checked')].map(i => i.value).join(',')"),
        "small-arms,peace-operations"
    );
    assert!(body.contains("Armes légères"), "topics in French: {body}");
    assert_eq!(eval_i64(&tab, UNLABELLED), 0, "an input without a label");
    assert_eq!(
        count(&p, "SELECT COUNT(*) FROM preferences"),
        0,
        "a GET changes nothing"
    );

    // English, landmines instead of small arms; sent from the keyboard.
    tab.find_element("input[value=en]")
        .unwrap()
        .click()
        .unwrap();
    tab.find_element("input[value=small-arms]")
        .unwrap()
        .click()
        .unwrap();
    tab.find_element("input[value=landmines]")
        .unwrap()
        .click()
        .unwrap();
    tab.find_element("#save").unwrap().focus().unwrap();
    tab.press_key("Enter").unwrap();
    let saved = tab.wait_for_element("#saved").unwrap();
    assert_eq!(
        saved.get_inner_text().unwrap(),
        "Vos choix sont enregistrés"
    );
    let body = tab.get_content().unwrap();
    assert!(body.contains("Français → English"), "{body}");
    assert!(
        body.contains("+ Mines terrestres") && body.contains("− Armes légères"),
        "{body}"
    );

    // The choice is kept, dated, with its source; the page shows it from now on.
    let rows = common::csv_rows(
        &at_now(&p)
            .args(["preferences", "list", "--csv"])
            .ok()
            .stdout(),
    );
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["email"], "amina.diallo@example.org");
    assert_eq!(rows[0]["language"], "en");
    assert_eq!(rows[0]["interests"], "landmines;peace-operations");
    assert_eq!(rows[0]["chosen_at"], "2026-12-08T10:00:00Z");
    assert_eq!(rows[0]["source"], "page");
    let (_, again) = get(&format!("{}/p/{t}", s.base));
    assert!(again.contains("value=\"en\" checked"), "{again}");

    // The audience applies it, says so, and lists what the list says otherwise.
    let report = at_now(&p)
        .args(["audience", "2026-11-digest"])
        .ok()
        .stdout();
    assert!(
        report.contains("amina.diallo@example.org  en; landmines, peace-operations (the reader's choice of 2026-12-08)"),
        "{report}"
    );
    assert!(
        report.contains("amina.diallo@example.org  language: \"en\" (the reader's choice of 2026-12-08) kept over \"fr\" from practitioners.csv:2"),
        "{report}"
    );
    let rows = p.recipients("2026-11-digest");
    let amina = rows
        .iter()
        .find(|r| r["email"] == "amina.diallo@example.org")
        .unwrap();
    assert_eq!(amina["language"], "en");
    assert!(amina["language_note"]
        .starts_with("languages and topics from the reader's choice of 2026-12-08"));
    // A later export that disagrees does not win.
    p.edit(
        "lists/practitioners.csv",
        "Senegal,fr,peace-operations;small-arms",
        "Senegal,fr,small-arms",
    );
    let report = at_now(&p)
        .args(["audience", "2026-11-digest"])
        .ok()
        .stdout();
    assert!(report.contains("interests: \"landmines, peace-operations\" (the reader's choice of 2026-12-08) kept over \"small-arms\""), "{report}");

    // The preview writes her message in English.
    let out = p.path().join("out");
    at_now(&p)
        .args(["preview", "2026-11-digest", "--out"])
        .arg(&out)
        .ok();
    let (_, eml) = common::emls(&out)
        .into_iter()
        .find(|(n, _)| n.contains("amina.diallo"))
        .unwrap();
    let text = text_of(&eml);
    assert!(
        text.contains("Unsubscribe") && !text.contains("Se désabonner"),
        "{text}"
    );

    // A reader whose list gives no language gets every language (the example's fallback):
    // the page says so, and saving it as shown changes nothing.
    let rh = token("2026-11-digest", "r.haddad@example.org", "en");
    let (_, page) = get(&format!("{}/p/{rh}", s.base));
    assert!(page.contains("value=\"all\" checked"), "{page}");

    // A choice outside the project's languages saves nothing; a forged token changes nothing.
    let (code, page) = post(
        &format!("{}/p/{t}", s.base),
        "language=de&interests=landmines",
    );
    assert_eq!(code, 422, "{page}");
    let forged = bulletin::token::Keys::new("another secret of thirty-two chars!!").token(
        "2026-11-digest",
        "j.okafor@example.org",
        "en",
    );
    assert_eq!(
        post(&format!("{}/p/{forged}", s.base), "language=fr").0,
        400
    );
    assert_eq!(count(&p, "SELECT COUNT(*) FROM preferences"), 1);
    assert_eq!(count(&p, "SELECT COUNT(*) FROM preference_log"), 1);
}

#[test]
fn the_unsubscribe_page_says_it_is_done_and_lets_the_reader_take_it_back() {
    let p = Project::example();
    let s = start(&p);
    let t = token("2026-11-digest", "j.okafor@example.org", "en");
    let url = format!("{}/u/{t}", s.base);
    assert_eq!(post(&url, "confirm=yes").0, 200);
    let (code, page) = get(&url);
    assert_eq!(code, 200);
    assert!(
        page.contains("You are already unsubscribed") && page.contains("j.okafor@example.org"),
        "{page}"
    );
    assert!(
        page.contains("id=\"manage\""),
        "a link to the preference page: {page}"
    );
    let (code, page) = post(&url, "action=resubscribe");
    assert_eq!(code, 200);
    assert!(page.contains("You are subscribed again"), "{page}");
    assert!(p.suppressed().is_empty());
    let (action, source, actor): (String, String, String) = journal(&p)
        .query_row(
            "SELECT action, source, actor FROM suppression_log ORDER BY rowid DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((action.as_str(), source.as_str()), ("remove", "link"));
    assert!(actor.contains("the reader"), "{actor}");

    // What the team decided is not the reader's to undo from a link.
    at_now(&p)
        .args([
            "suppress",
            "add",
            "j.okafor@example.org",
            "--reason",
            "manual",
        ])
        .ok();
    let (_, page) = get(&url);
    assert!(!page.contains("id=\"resubscribe\""), "{page}");
    post(&url, "action=resubscribe");
    assert_eq!(p.suppressed().len(), 1, "still suppressed");
}

#[test]
fn a_stranger_signs_up_in_a_browser_and_confirms_from_the_mail_received() {
    let smtp = RealSmtp::start();
    let p = Project::example();
    with_signup(&p, smtp.port, "", "per_second = 50");
    // Someone who left once, and comes back through the form.
    at_now(&p)
        .args([
            "suppress",
            "add",
            "returning@example.org",
            "--reason",
            "unsubscribed",
        ])
        .ok();
    // And someone the team itself took off: that stays the team's decision.
    at_now(&p)
        .args([
            "suppress",
            "add",
            "barred@example.org",
            "--reason",
            "manual",
        ])
        .ok();
    let s = start(&p);
    let (browser, _profile) = common::chromium();
    let tab = browser.new_tab().unwrap();
    tab.navigate_to(&format!("{}/subscribe?lang=fr", s.base))
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    assert_eq!(eval_str(&tab, "document.documentElement.lang"), "fr");
    assert_eq!(eval_i64(&tab, UNLABELLED), 0, "an input without a label");
    // Typed as a browser takes text in at once (Input.insertText): key by key, the
    // DevTools protocol takes a quarter of a second a character.
    tab.find_element("#email").unwrap().click().unwrap();
    tab.send_character("Nouvelle.Lectrice@Example.org").unwrap();
    tab.find_element("#name").unwrap().click().unwrap();
    tab.send_character("Nouvelle Lectrice").unwrap();
    tab.find_element("input[name=language][value=fr]")
        .unwrap()
        .click()
        .unwrap();
    tab.find_element("input[value=landmines]")
        .unwrap()
        .click()
        .unwrap();
    tab.find_element("#email").unwrap().focus().unwrap();
    tab.press_key("Enter").unwrap();
    tab.wait_for_element("#signup_sent").unwrap();
    assert_eq!(
        count(&p, "SELECT COUNT(*) FROM subscribers"),
        0,
        "no consent before the confirmation"
    );

    let link = confirmation_link(&smtp, "nouvelle.lectrice@example.org", &s);
    let mail = smtp.messages().last().unwrap().data.clone();
    let head = String::from_utf8_lossy(&mail);
    assert!(
        head.contains("Subject: Merci de confirmer votre abonnement"),
        "{head}"
    );
    tab.navigate_to(&link)
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    tab.wait_for_element("#confirm").unwrap();
    assert_eq!(
        count(&p, "SELECT COUNT(*) FROM subscribers"),
        0,
        "a GET changes nothing"
    );
    tab.find_element("#confirm").unwrap().click().unwrap();
    let done = tab.wait_for_element("#confirmed").unwrap();
    assert_eq!(done.get_inner_text().unwrap(), "Vous êtes abonné·e");

    let rows = common::csv_rows(&at_now(&p).args(["subscribers", "export"]).ok().stdout());
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["email"], "nouvelle.lectrice@example.org");
    assert_eq!(rows[0]["name"], "Nouvelle Lectrice");
    assert_eq!(rows[0]["language"], "fr");
    assert_eq!(rows[0]["interests"], "landmines");
    assert_eq!(rows[0]["requested_at"], "2026-12-08T10:00:00Z");
    assert_eq!(rows[0]["form_version"].len(), 16);
    // What a stranger typed cannot run as a formula in the team's spreadsheet.
    let conn = journal(&p);
    conn.execute(
        "UPDATE subscribers SET name = '=HYPERLINK(\"http://evil.example\")'",
        [],
    )
    .unwrap();
    drop(conn);
    let rows = common::csv_rows(&at_now(&p).args(["subscribers", "export"]).ok().stdout());
    assert!(rows[0]["name"].starts_with("'="), "{:?}", rows[0]);

    // Her preference page shows what she signed up for; saving it as shown changes nothing.
    let pt = token("signup", "nouvelle.lectrice@example.org", "fr");
    let (_, page) = get(&format!("{}/p/{pt}", s.base));
    assert!(
        page.contains("value=\"fr\" checked") && page.contains("value=\"landmines\" checked"),
        "{page}"
    );
    let (_, saved) = post(
        &format!("{}/p/{pt}", s.base),
        "language=fr&interests=landmines",
    );
    assert!(saved.contains("rien n’a changé"), "{saved}");

    // Replayed, the link changes nothing.
    let (code, page) = post(&link, "confirm=yes");
    assert_eq!(code, 200);
    assert!(page.contains("déjà confirmé"), "{page}");

    // A campaign names them as a list, and mails them in their language.
    p.edit(
        "campaigns/2026-11-digest.toml",
        "lists = [\"practitioners.csv\", \"geneva-forum-export.csv\"]",
        "lists = [\"practitioners.csv\", \"geneva-forum-export.csv\", \"subscribers\"]",
    );
    let rows = p.recipients("2026-11-digest");
    let her = rows
        .iter()
        .find(|r| r["email"] == "nouvelle.lectrice@example.org")
        .unwrap();
    assert_eq!(her["language"], "fr");
    assert_eq!(her["lists"], "subscribers");
    let out = p.path().join("out");
    at_now(&p)
        .args(["preview", "2026-11-digest", "--out"])
        .arg(&out)
        .ok();
    assert!(common::emls(&out)
        .iter()
        .any(|(n, _)| n.contains("nouvelle.lectrice")));

    // Someone on the suppression list who signs up and confirms is taken off it, logged.
    let (code, _) = post(
        &format!("{}/subscribe", s.base),
        "email=returning%40example.org&language=en",
    );
    assert_eq!(code, 200);
    let link = confirmation_link(&smtp, "returning@example.org", &s);
    let suppressed = |p: &Project| -> Vec<String> {
        p.suppressed().iter().map(|r| r["email"].clone()).collect()
    };
    assert!(
        suppressed(&p).contains(&"returning@example.org".to_string()),
        "still suppressed before confirming"
    );
    assert_eq!(post(&link, "confirm=yes").0, 200);
    assert_eq!(suppressed(&p), vec!["barred@example.org"]);
    let source: String = journal(&p)
        .query_row(
            "SELECT source FROM suppression_log WHERE email = 'returning@example.org' AND action = 'remove'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(source, "signup");
    let (code, _) = post(
        &format!("{}/subscribe", s.base),
        "email=barred%40example.org&language=en",
    );
    assert_eq!(code, 200);
    let link = confirmation_link(&smtp, "barred@example.org", &s);
    assert_eq!(post(&link, "confirm=yes").0, 200);
    assert_eq!(
        suppressed(&p),
        vec!["barred@example.org"],
        "the team's decision stands"
    );
}

#[test]
fn forged_expired_and_replayed_confirmations_change_nothing() {
    let smtp = RealSmtp::start();
    let p = Project::example();
    with_signup(&p, smtp.port, "", "per_second = 50");
    let s = start(&p);
    let keys = bulletin::token::Keys::new(TOKEN_SECRET);
    let request = |email: &str, at_ms: i64| bulletin::token::SignupRequest {
        email: email.into(),
        name: String::new(),
        languages: vec!["en".into()],
        interests: vec![],
        at_ms,
        form_version: "test".into(),
    };
    // Eight days old: past the seven days a link works.
    let old = keys.signup_token(&request("old@example.org", NOW_MS - 8 * 86_400_000));
    let (code, page) = post(&format!("{}/confirm/{old}", s.base), "confirm=yes");
    assert_eq!(code, 410, "{page}");
    assert!(page.contains("This link has expired"), "{page}");
    // Made with another secret, or an unsubscribe token in its place.
    let forged = bulletin::token::Keys::new("another secret of thirty-two chars!!")
        .signup_token(&request("forged@example.org", NOW_MS));
    assert_eq!(
        post(&format!("{}/confirm/{forged}", s.base), "confirm=yes").0,
        400
    );
    let unsub = token("2026-11-digest", "j.okafor@example.org", "en");
    assert_eq!(
        post(&format!("{}/confirm/{unsub}", s.base), "confirm=yes").0,
        400
    );
    assert_eq!(count(&p, "SELECT COUNT(*) FROM subscribers"), 0);

    // Confirmed, then unsubscribed: replaying the confirmation does not take it back.
    let fresh = keys.signup_token(&request("fresh@example.org", NOW_MS - 1000));
    assert_eq!(
        post(&format!("{}/confirm/{fresh}", s.base), "confirm=yes").0,
        200
    );
    let u = token("signup", "fresh@example.org", "en");
    assert_eq!(
        post(&format!("{}/u/{u}", s.base), "List-Unsubscribe=One-Click").0,
        200
    );
    let (code, page) = post(&format!("{}/confirm/{fresh}", s.base), "confirm=yes");
    assert_eq!(code, 200);
    assert!(page.contains("has unsubscribed since"), "{page}");
    assert_eq!(p.suppressed().len(), 1, "the unsubscribe stands");
    assert!(smtp.messages().is_empty(), "none of this mails anyone");
}

#[test]
fn a_flood_of_sign_ups_from_fifty_clients_stays_within_every_limit() {
    let smtp = RealSmtp::start();
    let p = Project::example();
    with_signup(
        &p,
        smtp.port,
        "per_address_per_day = 2\nper_client_per_day = 3\nmax_per_day = 60\nclient_header = \"X-Forwarded-For\"",
        "per_second = 100\nper_hour = 400",
    );
    let s = start(&p);
    let base = s.base.clone();
    // 50 clients, 8 requests each: most at ten shared victims, some with the hidden field
    // filled, a few at an address of their own.
    let threads: Vec<_> = (0..50)
        .map(|c| {
            let base = base.clone();
            std::thread::spawn(move || {
                let mut codes = Vec::new();
                for i in 0..8 {
                    let (email, trap) = match i {
                        0 => (format!("own{c}@example.org"), ""),
                        1 => (format!("trapped{c}@example.org"), "http://spam.example"),
                        _ => (format!("victim{}@example.org", (c + i) % 10), ""),
                    };
                    let body = format!(
                        "email={}&language=en&website={}",
                        email.replace('@', "%40"),
                        trap
                    );
                    let mut r = agent()
                        .post(format!("{base}/subscribe"))
                        .header("Content-Type", "application/x-www-form-urlencoded")
                        .header("X-Forwarded-For", format!("203.0.113.{c}"))
                        .send(&body)
                        .unwrap();
                    let _ = r.body_mut().read_to_string();
                    codes.push(r.status().as_u16());
                }
                codes
            })
        })
        .collect();
    let codes: Vec<u16> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert!(codes.iter().all(|c| *c == 200 || *c == 429), "{codes:?}");
    // Every mail the journal let go reaches the server; then nothing more comes.
    let recorded = count(&p, "SELECT COUNT(*) FROM signup_mails WHERE mailed");
    let deadline = Instant::now() + Duration::from_secs(60);
    while (smtp.messages().len() as i64) < recorded {
        assert!(
            Instant::now() < deadline,
            "{} of {recorded} arrived",
            smtp.messages().len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let by = common::smtp::count_by_recipient(&smtp.inbox);
    let total: usize = by.values().sum();
    assert_eq!(total as i64, recorded);
    // 50 own addresses and 20 to the victims (two each) were allowed; sign-ups may take a
    // tenth of the relay's hourly cap of 400, and that cuts them.
    assert_eq!(total, 40, "sign-ups' share of the hourly cap: {by:?}");
    assert!(
        by.values().all(|n| *n <= 2),
        "more than two to one address: {by:?}"
    );
    assert!(
        by.keys().all(|a| !a.starts_with("trapped")),
        "the honeypot mailed: {by:?}"
    );
    // Three sign-ups asked for per client: the four after them were refused (429).
    assert_eq!(codes.iter().filter(|c| **c == 429).count(), 50 * 4);
}

/// Sets the tab's viewport: `width` CSS pixels wide, as a phone when `mobile`.
pub(crate) fn viewport(tab: &headless_chrome::Tab, width: u32, mobile: bool) {
    viewport_of(tab, width, if mobile { 844 } else { 900 }, mobile);
}

/// Sets the tab's viewport to `width` × `height` CSS pixels.
pub(crate) fn viewport_of(tab: &headless_chrome::Tab, width: u32, height: u32, mobile: bool) {
    use headless_chrome::protocol::cdp::Emulation::SetDeviceMetricsOverride;
    tab.call_method(SetDeviceMetricsOverride {
        width,
        height,
        device_scale_factor: 1.0,
        mobile,
        scale: None,
        screen_width: None,
        screen_height: None,
        position_x: None,
        position_y: None,
        dont_set_visible_size: None,
        screen_orientation: None,
        viewport: None,
        display_feature: None,
        device_posture: None,
    })
    .unwrap();
}

#[test]
fn every_page_answers_in_the_readers_language_and_fits_a_desktop() {
    every_page_in_the_readers_language_fits(1280, false, "desktop");
}

#[test]
fn every_page_answers_in_the_readers_language_and_fits_a_phone() {
    every_page_in_the_readers_language_fits(390, true, "phone");
}

/// Each page `serve` shows, and the archive's, at one screen width: in the language asked
/// for, every input labelled, no wider than the screen; a screenshot of each for a person.
fn every_page_in_the_readers_language_fits(width: u32, mobile: bool, size: &'static str) {
    let smtp = RealSmtp::start();
    let p = Project::example();
    with_signup(&p, smtp.port, "", "per_second = 50");
    let s = start(&p);
    let keys = bulletin::token::Keys::new(TOKEN_SECRET);
    let fr = token("2026-11-digest", "amina.diallo@example.org", "fr");
    let en = token("2026-11-digest", "j.okafor@example.org", "en");
    let signup = |lang: &str, at_ms: i64| {
        keys.signup_token(&bulletin::token::SignupRequest {
            email: "shot@example.org".into(),
            name: "Shot".into(),
            languages: vec![lang.into()],
            interests: vec![],
            at_ms,
            form_version: "t".into(),
        })
    };
    let done = format!(
        "/u/{}",
        token("2026-11-digest", "m.schneider@example.net", "en")
    );
    assert_eq!(post(&format!("{}{done}", s.base), "confirm=yes").0, 200);

    // Without a token, the browser's languages choose (by primary subtag), else the default.
    for (accept, lang) in [
        ("fr-CH, en;q=0.5", "fr"),
        ("de-DE, de;q=0.9", "en"),
        ("", "en"),
    ] {
        let mut r = agent()
            .get(format!("{}/subscribe", s.base))
            .header("Accept-Language", accept)
            .call()
            .unwrap();
        let page = r.body_mut().read_to_string().unwrap();
        assert!(
            page.contains(&format!("<html lang=\"{lang}\">")),
            "{accept}: {page}"
        );
        // The switch leads to the other language.
        let other = if lang == "fr" { "en" } else { "fr" };
        assert!(
            page.contains(&format!("?lang={other}\" lang=\"{other}\"")),
            "{page}"
        );
    }
    // A token's language beats the browser's; the switch beats both.
    let mut r = agent()
        .get(format!("{}/p/{fr}", s.base))
        .header("Accept-Language", "en")
        .call()
        .unwrap();
    assert!(r
        .body_mut()
        .read_to_string()
        .unwrap()
        .contains("<html lang=\"fr\">"));
    assert!(get(&format!("{}/p/{fr}?lang=en", s.base))
        .1
        .contains("<html lang=\"en\">"));

    let pages = [
        ("unsubscribe", format!("/u/{fr}"), "fr", "#unsubscribe"),
        ("unsubscribed", done.clone(), "en", "#resubscribe"),
        ("preferences", format!("/p/{en}"), "en", "#save"),
        ("preferences-fr", format!("/p/{fr}"), "fr", "#save"),
        ("subscribe", "/subscribe?lang=fr".into(), "fr", "#subscribe"),
        (
            "confirm",
            format!("/confirm/{}", signup("fr", NOW_MS - 1000)),
            "fr",
            "#confirm",
        ),
        (
            "expired",
            format!("/confirm/{}", signup("en", NOW_MS - 9 * 86_400_000)),
            "en",
            "#expired",
        ),
        ("invalid", "/u/not-a-token?lang=fr".into(), "fr", "#invalid"),
    ];
    let (browser, _profile) = common::chromium();
    let screen = Screen {
        width,
        mobile,
        size,
    };
    // Each page in a tab of its own, side by side: a page load takes most of a second.
    std::thread::scope(|scope| {
        for (name, path, lang, mark) in &pages {
            let (browser, screen, base) = (&browser, &screen, &s.base);
            scope.spawn(move || {
                let url = format!("{base}{path}");
                let text = looks_right(browser, screen, name, &url, lang, mark);
                // Every page names the organisation and its postal address in its language.
                let city = if *lang == "fr" { "Genève" } else { "Geneva" };
                assert!(text.contains(city), "{name}: {text}");
            });
        }
    });

    // The archive's pages too: its first page, an index, a campaign's page.
    let site = p.path().join("site");
    at_now(&p)
        .args([
            "archive",
            "2026-11-digest",
            "2026-12-mpome-conference-report",
            "--out",
        ])
        .arg(&site)
        .ok();
    std::thread::scope(|scope| {
        for (name, file, lang) in [
            ("archive-root", "index.html", "en"),
            ("archive-index-fr", "fr/index.html", "fr"),
            ("archive-page-fr", "fr/2026-11-digest.html", "fr"),
        ] {
            let (browser, screen, site) = (&browser, &screen, &site);
            scope.spawn(move || {
                let url = format!("file://{}", site.join(file).display());
                looks_right(browser, screen, name, &url, lang, "body");
            });
        }
    });
}

/// Saves what the tab shows as `target/tmp/screenshots/NAME.png`, for a person to look at.
pub(crate) fn screenshot(tab: &headless_chrome::Tab, name: &str) {
    let png = tab
        .capture_screenshot(
            headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption::Png,
            None,
            None,
            true,
        )
        .unwrap();
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    std::fs::write(shots.join(format!("{name}.png")), png).unwrap();
}

/// A screen width, and what to call it.
struct Screen {
    width: u32,
    mobile: bool,
    size: &'static str,
}

/// Opens `url` in a tab of its own at the screen's width and checks the page once `mark` is
/// there: in `lang`, every input labelled, no wider than the screen. Saves a screenshot for a
/// person to look at, and returns the page's text.
fn looks_right(
    browser: &headless_chrome::Browser,
    screen: &Screen,
    name: &str,
    url: &str,
    lang: &str,
    mark: &str,
) -> String {
    let tab = browser.new_tab().unwrap();
    viewport(&tab, screen.width, screen.mobile);
    tab.navigate_to(url)
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    tab.wait_for_element(mark).unwrap();
    let size = screen.size;
    assert_eq!(
        eval_str(&tab, "document.documentElement.lang"),
        lang,
        "{name}"
    );
    assert_eq!(
        eval_i64(&tab, UNLABELLED),
        0,
        "{name}: an input without a label"
    );
    assert!(
        eval_i64(
            &tab,
            "document.documentElement.scrollWidth - window.innerWidth"
        ) <= 0,
        "{name} is wider than a {size} screen"
    );
    let text = eval_str(&tab, "document.body.innerText");
    screenshot(&tab, &format!("{name}-{size}"));
    let _ = tab.close(true);
    text
}
