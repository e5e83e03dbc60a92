//! `bulletin preview` on the example project and variations of it: the messages written are
//! parsed back with a real MIME parser and their headers, parts and decoded text asserted.

use crate::common;

use std::collections::HashSet;

use common::{emls, Project};
use mail_parser::{MessageParser, MimeHeaders};

fn parse(bytes: &[u8]) -> mail_parser::Message<'_> {
    MessageParser::default()
        .parse(bytes)
        .expect("a parseable message")
}

fn preview(p: &Project, campaign: &str) -> std::path::PathBuf {
    let out = p.path().join("out");
    p.bulletin()
        .args(["preview", campaign, "--out"])
        .arg(&out)
        .ok();
    out
}

/// The message of one recipient, found by address.
fn message_for(out: &std::path::Path, needle: &str) -> Vec<u8> {
    let tag = needle.replace('@', "_at_");
    emls(out)
        .into_iter()
        .find(|(name, _)| name.contains(&tag))
        .unwrap_or_else(|| panic!("no message for {needle}"))
        .1
}

#[test]
fn every_message_is_well_formed_and_personal() {
    let p = Project::example();
    let out = preview(&p, "2026-11-digest");
    let all = emls(&out);
    let audience = p
        .bulletin()
        .args(["audience", "2026-11-digest", "--csv"])
        .ok()
        .stdout();
    let rows = common::csv_rows(&audience);
    assert_eq!(all.len(), rows.len(), "one message per recipient");
    assert!(all.len() >= 25);
    let mut ids = HashSet::new();
    for (name, bytes) in &all {
        let m = parse(bytes);
        let to = m.to().and_then(|a| a.first()).expect("To");
        let row = rows
            .iter()
            .find(|r| r["email"] == to.address().unwrap())
            .expect("recipient in audience");
        assert_eq!(
            to.name(),
            Some(row["name"].as_str()),
            "{name}: To carries the contact's name"
        );
        let from = m.from().and_then(|a| a.first()).unwrap();
        assert_eq!(from.address(), Some("news@disarmament-insight.example.org"));
        assert_eq!(from.name(), Some("Disarmament Insight"));
        assert_eq!(
            m.reply_to()
                .and_then(|a| a.first())
                .and_then(|a| a.address()),
            Some("dha-project@example.org")
        );
        assert!(m.date().is_some(), "{name}: Date");
        let id = m.message_id().expect("Message-ID").to_string();
        assert!(id.ends_with("@disarmament-insight.example.org"), "{id}");
        assert!(ids.insert(id), "Message-IDs are unique");
        assert_eq!(
            m.header_raw("Content-Language").unwrap().trim(),
            row["language"].replace('+', ", ")
        );
        assert_eq!(
            m.header_raw("List-Id").unwrap().trim(),
            "<newsletter.disarmament-insight.example.org>"
        );
        // One-click unsubscribing (RFC 8058) with the recipient's signed token, which names
        // them to the secret's holder only: their address is in no link.
        let unsub = m
            .header_raw("List-Unsubscribe")
            .unwrap()
            .replace("\r\n", "");
        let url = unsub
            .split(['<', '>'])
            .find(|p| p.starts_with("https://"))
            .expect("an https link");
        let token = url
            .strip_prefix("https://disarmament-insight.example.org/u/")
            .expect("the configured link");
        let keys = bulletin::token::Keys::new(common::TOKEN_SECRET);
        let named = keys.open(token).expect("the token opens");
        assert_eq!(
            (named.campaign.as_str(), named.email.as_str()),
            ("2026-11-digest", row["email"].as_str()),
            "the token names this recipient of this campaign"
        );
        assert_eq!(named.lang, row["language"].split('+').next().unwrap());
        assert!(
            unsub.contains(&format!(
                "<mailto:unsubscribe@disarmament-insight.example.org?subject=unsubscribe%20{token}>"
            )),
            "{unsub}"
        );
        assert_eq!(
            m.header_raw("List-Unsubscribe-Post").unwrap().trim(),
            "List-Unsubscribe=One-Click"
        );
        let (local, domain) = row["email"].split_once('@').unwrap();
        let raw = String::from_utf8_lossy(bytes).to_lowercase();
        for needle in [row["email"].clone(), format!("{local}%40{domain}")] {
            let in_link = raw
                .split(['"', '<', '>', ' ', '\n'])
                .any(|w| (w.starts_with("http") || w.starts_with("mailto")) && w.contains(&needle));
            assert!(!in_link, "{name}: a link carries the address");
        }
        let html = m.body_html(0).unwrap();
        assert!(
            html.contains(&format!("href=\"{url}\"")),
            "the body's link is the header's, not entity-escaped"
        );

        // multipart/alternative: text first, then HTML.
        let root = m.root_part();
        let ct = root.content_type().unwrap();
        assert_eq!(
            (ct.ctype(), ct.subtype()),
            ("multipart", Some("alternative"))
        );
        let kinds: Vec<String> = m.parts[1..]
            .iter()
            .map(|p| {
                let c = p.content_type().unwrap();
                format!("{}/{}", c.ctype(), c.subtype().unwrap_or(""))
            })
            .collect();
        assert_eq!(kinds, ["text/plain", "text/html"], "{name}");
        let text = m.body_text(0).unwrap();
        let html = m.body_html(0).unwrap();
        assert!(
            !text.contains("<p") && !text.contains("</"),
            "{name}: text part holds no HTML"
        );
        for update in row["updates"].split(';') {
            let first_lang = row["language"].split('+').next().unwrap();
            let title = update_title(&p, update, first_lang);
            assert!(
                text.contains(&title.chars().take(20).collect::<String>()) || text.contains(&title),
                "{name}: text has {title}"
            );
            let plain = html
                .replace("&#x27;", "'")
                .replace("&#39;", "'")
                .replace("&amp;", "&")
                .replace("&nbsp;", "\u{a0}");
            assert!(plain.contains(&title), "{name}: html has {title}");
        }
        assert!(html.contains("style=\""), "{name}: CSS is inlined");
        assert!(
            text.contains("Palais des Nations"),
            "footer with postal address"
        );
    }
}

fn update_title(p: &Project, slug: &str, lang: &str) -> String {
    let src = p.read(&format!("updates/{slug}.{lang}.md"));
    let line = src.lines().find(|l| l.starts_with("title")).unwrap();
    let raw = line.split_once('=').unwrap().1.trim().trim_matches('"');
    // Titles are set as their language sets text.
    bulletin::typography::title(raw, lang)
}

#[test]
fn languages_dates_and_the_bilingual_message() {
    let p = Project::example();
    let out = preview(&p, "2026-11-digest");

    // French contact (language written "Français"): French subject, body and dates.
    let fr = message_for(&out, "helene.dupre@example.org");
    let m = parse(&fr);
    assert_eq!(
        m.subject(),
        Some("Disarmament Insight, novembre 2026\u{a0}: vos actualités")
    );
    let text = m.body_text(0).unwrap();
    assert!(text.contains("Bonjour Hélène,"), "{text}");
    assert!(text.contains("12 novembre 2026"), "French date: {text}");
    assert!(
        !text.contains("Read more"),
        "no English in a French message"
    );
    assert_eq!(m.header_raw("Content-Language").unwrap().trim(), "fr");

    // "fr-CH" and "FR" are French too.
    for who in ["claire.martin@example.org", "ines.moreau@example.org"] {
        let m = parse(&message_for(&out, who))
            .subject()
            .unwrap()
            .to_string();
        assert!(m.contains("novembre"), "{who}: {m}");
    }

    // en+fr: one message, English first, a link that jumps to the French section.
    let bi = message_for(&out, "yves.bernard@example.org");
    let m = parse(&bi);
    assert_eq!(m.header_raw("Content-Language").unwrap().trim(), "en, fr");
    let subject = m.subject().unwrap();
    assert!(
        subject.starts_with("Disarmament Insight, November 2026") && subject.contains("novembre"),
        "{subject}"
    );
    let html = m.body_html(0).unwrap();
    let jump = html.find("href=\"#lang-fr\"").expect("jump link");
    let en = html.find("id=\"lang-en\"").expect("English section");
    let fr_at = html.find("id=\"lang-fr\"").expect("French section");
    assert!(
        jump < en && en < fr_at,
        "jump link, then English, then French"
    );
    let text = m.body_text(0).unwrap();
    let (en_t, fr_t) = (
        text.find("Dear Yves").unwrap(),
        text.find("Bonjour Yves").unwrap(),
    );
    assert!(en_t < fr_t);
    assert!(
        text.contains("12 November 2026") && text.contains("12 novembre 2026"),
        "{text}"
    );

    // fr;en: French first.
    let raw2 = message_for(&out, "marie.girard@example.org");
    let m2 = parse(&raw2);
    assert_eq!(m2.header_raw("Content-Language").unwrap().trim(), "fr, en");
    let html = m2.body_html(0).unwrap();
    assert!(html.find("id=\"lang-fr\"").unwrap() < html.find("id=\"lang-en\"").unwrap());
}

#[test]
fn digest_carries_only_matching_updates() {
    let p = Project::example();
    let out = preview(&p, "2026-11-digest");
    // James follows landmines only: the two updates tagged landmines, not the MPOME one.
    let m = parse(&message_for(&out, "j.okafor@example.org")).into_owned();
    let text = m.body_text(0).unwrap().into_owned();
    assert!(text.contains("Mine Ban Convention"), "{text}");
    assert!(
        !text.contains("peace operations: what our regional"),
        "{text}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let entry = summary["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["to"] == "j.okafor@example.org")
        .unwrap();
    assert_eq!(
        entry["updates"],
        serde_json::json!([
            "2026-11-humanitarian-perspectives",
            "2026-10-mine-ban-lessons"
        ])
    );
}

#[test]
fn contact_values_are_escaped_and_cannot_inject_headers() {
    let p = Project::example();
    p.write(
        "lists/practitioners.csv",
        "email,name,language,interests\n\
         evil@example.org,<b>Bold</b> & co,en,landmines\n\
         \"inject@example.org\",\"Jane\r\nBcc: victim@example.com\",en,landmines\n\
         accents@example.org,\"Zoë Ångström, PhD\",fr,landmines\n",
    );
    let out = preview(&p, "2026-11-digest");
    let html = std::fs::read_to_string(out.join("00001-evil_at_example.org.html")).unwrap();
    assert!(
        html.contains("&lt;b&gt;Bold&lt;&#x2F;b&gt; &amp; co")
            || html.contains("&lt;b&gt;Bold&lt;/b&gt; &amp; co"),
        "escaped name"
    );
    assert!(!html.contains("<b>Bold</b>"));

    let raw = message_for(&out, "inject@example.org");
    let head = String::from_utf8_lossy(&raw);
    let head = head.split("\r\n\r\n").next().unwrap();
    assert!(
        !head.lines().any(|l| l.to_lowercase().starts_with("bcc:")),
        "no injected header:\n{head}"
    );
    let m = parse(&raw);
    assert!(m.header_raw("Bcc").is_none());
    assert_eq!(
        m.to().unwrap().first().unwrap().name(),
        Some("Jane Bcc: victim@example.com")
    );

    let raw3 = message_for(&out, "accents@example.org");
    let m = parse(&raw3);
    assert_eq!(
        m.to().unwrap().first().unwrap().name(),
        Some("Zoë Ångström, PhD"),
        "RFC 2047 names decode back"
    );
}

#[test]
fn per_language_template_override_is_used() {
    let p = Project::example();
    let base = p.read("templates/newsletter.html");
    p.write(
        "templates/newsletter.fr.html",
        base.replace("<h1>{{ t.masthead }}</h1>", "<h1>Édition française</h1>"),
    );
    let out = preview(&p, "2026-11-digest");
    let fr = parse(&message_for(&out, "amina.diallo@example.org"))
        .body_html(0)
        .unwrap()
        .into_owned();
    assert!(
        fr.contains("Édition française"),
        "French contacts get newsletter.fr.html"
    );
    let en = parse(&message_for(&out, "j.okafor@example.org"))
        .body_html(0)
        .unwrap()
        .into_owned();
    assert!(
        !en.contains("Édition française"),
        "English contacts keep newsletter.html"
    );
}

#[test]
fn preview_files_index_and_summary() {
    let p = Project::example();
    let out = preview(&p, "2026-11-digest");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let entries = summary["entries"].as_array().unwrap();
    assert_eq!(
        summary["messages"].as_u64().unwrap() as usize,
        entries.len()
    );
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    for e in entries {
        let eml = e["eml"].as_str().unwrap();
        let html = e["html"].as_str().unwrap();
        assert!(out.join(eml).is_file() && out.join(html).is_file());
        assert!(
            index.contains(&format!("href=\"{eml}\"")),
            "index links {eml}"
        );
        assert!(
            eml.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)),
            "safe name {eml}"
        );
    }
    assert!(index.contains("Left out") && index.contains("p.kowalski@example.net"));
    // --limit
    let out2 = p.path().join("few");
    p.bulletin()
        .args(["preview", "2026-11-digest", "--limit", "3", "--out"])
        .arg(&out2)
        .ok();
    assert_eq!(emls(&out2).len(), 3);
}

#[test]
fn rerun_replaces_a_preview_but_never_a_foreign_folder() {
    let p = Project::example();
    let out = preview(&p, "2026-11-digest");
    let first = emls(&out).len();
    preview(&p, "2026-11-digest");
    assert_eq!(emls(&out).len(), first, "previous preview replaced cleanly");

    // A file the user put in a preview since, or one they changed, is never thrown away.
    std::fs::write(out.join("notes.txt"), "my review notes").unwrap();
    p.bulletin()
        .args(["preview", "2026-11-digest", "--out"])
        .arg(&out)
        .fails()
        .stderr_has("holds 1 file that the last preview did not write")
        .stderr_has("notes.txt");
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "my review notes"
    );
    std::fs::remove_file(out.join("notes.txt")).unwrap();
    let index = out.join("index.html");
    let mut html = std::fs::read_to_string(&index).unwrap();
    html.push_str("<!-- reviewed: ok -->");
    std::fs::write(&index, &html).unwrap();
    p.bulletin()
        .args(["preview", "2026-11-digest", "--out"])
        .arg(&out)
        .fails()
        .stderr_has("index.html");
    assert_eq!(std::fs::read_to_string(&index).unwrap(), html);
    std::fs::remove_file(&index).unwrap();
    preview(&p, "2026-11-digest");
    assert!(index.exists());

    // An edit that keeps the size is an edit all the same.
    let (name, _) = emls(&out).into_iter().next().unwrap();
    let eml = out.join(&name);
    let text = std::fs::read_to_string(&eml).unwrap();
    let edited = text.replacen("Disarmament Insight", "MY NOTES HERE!!!!!!", 1);
    assert_eq!(edited.len(), text.len());
    std::fs::write(&eml, &edited).unwrap();
    // Made later than the preview wrote it, however fast this runs.
    std::fs::File::options()
        .write(true)
        .open(&eml)
        .unwrap()
        .set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();
    p.bulletin()
        .args(["preview", "2026-11-digest", "--out"])
        .arg(&out)
        .fails()
        .stderr_has(&name);
    assert_eq!(std::fs::read_to_string(&eml).unwrap(), edited);

    let foreign = p.path().join("documents");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("thesis.docx"), "precious").unwrap();
    p.bulletin()
        .args(["preview", "2026-11-digest", "--out"])
        .arg(&foreign)
        .fails()
        .stderr_has("is not a bulletin preview");
    assert_eq!(
        std::fs::read_to_string(foreign.join("thesis.docx")).unwrap(),
        "precious"
    );
    assert_eq!(std::fs::read_dir(&foreign).unwrap().count(), 1);
}

#[test]
fn default_output_and_running_from_another_folder() {
    let p = Project::example();
    let elsewhere = tempfile::tempdir().unwrap();
    common::Run::new()
        .current_dir(elsewhere.path())
        .args(["--config"])
        .arg(p.path().join("bulletin.toml"))
        .args(["preview", "2026-11-mpome-briefing"])
        .ok()
        .stdout_has("Wrote");
    let out = p.path().join("preview/2026-11-mpome-briefing");
    let all = emls(&out);
    assert!(!all.is_empty());
    // Only peace-operations followers; subjects carry the first name.
    for (_, bytes) in &all {
        let m = parse(bytes);
        let to = m.to().unwrap().first().unwrap().name().unwrap().to_string();
        let first = to.split(' ').next().unwrap();
        assert!(
            m.subject().unwrap().starts_with(first),
            "{:?} for {to}",
            m.subject()
        );
    }
    assert!(all.iter().any(|(n, _)| n.contains("t.nguyen")));
    assert!(
        !all.iter().any(|(n, _)| n.contains("j.okafor")),
        "landmines-only contact left out"
    );
}

fn many_contacts(p: &Project, n: usize) {
    let mut csv = String::from("email,first_name,last_name,language,interests\n");
    let langs = ["en", "fr", "en+fr", "fr;en", ""];
    let tags = [
        "landmines",
        "small-arms;peace-operations",
        "multilateral-negotiations",
        "humanitarian-disarmament;landmines",
    ];
    for i in 0..n {
        csv.push_str(&format!(
            "c{i}@example.org,First{i},Last{i},{},{}\n",
            langs[i % langs.len()],
            tags[i % tags.len()]
        ));
    }
    p.write("lists/practitioners.csv", csv);
}

#[test]
fn the_example_templates_reuse_inlined_shapes() {
    let p = Project::example();
    many_contacts(&p, 200);
    let out = preview(&p, "2026-11-digest");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert!(summary["messages"].as_u64().unwrap() >= 200);
    assert_eq!(
        summary["inlined_whole"], 0,
        "every message reused a cached shape: a template change broke the cache"
    );
}

#[test]
fn a_template_that_transforms_personal_values_is_still_right() {
    let p = Project::example();
    many_contacts(&p, 20);
    p.edit(
        "templates/newsletter.html",
        "<h1>{{ t.masthead }}</h1>",
        "<h1>{{ t.masthead }} for {{ contact.last_name | upper }}</h1>",
    );
    let out = preview(&p, "2026-11-digest");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert!(
        summary["inlined_whole"].as_u64().unwrap() > 0,
        "the cache must not be used here"
    );
    for (name, bytes) in emls(&out) {
        let m = parse(&bytes);
        let last = m
            .to()
            .unwrap()
            .first()
            .unwrap()
            .name()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .to_uppercase();
        let html = m.body_html(0).unwrap();
        assert!(html.contains(&format!("for {last}</h1>")), "{name}: {last}");
        assert!(html.contains("style=\""), "{name}: still inlined");
    }
}

#[test]
fn the_proven_fast_path_writes_the_same_html_as_the_checked_path() {
    let fast = Project::example();
    many_contacts(&fast, 60);
    let slow = Project::example();
    many_contacts(&slow, 60);
    // A `set` that prints nothing, but makes the template unproven: each message is then
    // rendered and compared with its shape before the cached inlining is used.
    slow.edit(
        "templates/newsletter.html",
        "<body>",
        "<body>{% set unused = contact.last_name %}",
    );
    let (a, b) = (
        preview(&fast, "2026-11-digest"),
        preview(&slow, "2026-11-digest"),
    );
    let htmls = |dir: &std::path::Path| {
        let mut v: Vec<(String, String)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "html") && !p.ends_with("index.html"))
            .map(|p| {
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    std::fs::read_to_string(&p).unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let (ha, hb) = (htmls(&a), htmls(&b));
    assert_eq!(ha.len(), hb.len());
    assert!(ha.len() >= 60);
    for ((na, ta), (nb, tb)) in ha.iter().zip(&hb) {
        assert_eq!(na, nb);
        assert_eq!(ta, tb, "{na} differs between the two paths");
    }
}

#[test]
fn a_file_put_in_the_old_preview_while_a_new_one_is_made_is_kept() {
    let p = Project::example();
    let mut csv = String::from("email,name,language,interests\n");
    // Enough messages that the new preview takes a second or more to write.
    for i in 0..1_500 {
        csv.push_str(&format!("p{i}@example.org,P {i},en,landmines\n"));
    }
    p.write("lists/practitioners.csv", csv);
    let out = p.path().join("out");
    // The old preview: one message is enough to be one.
    p.bulletin()
        .args(["preview", "2026-11-digest", "--limit", "1", "--out"])
        .arg(&out)
        .ok();
    let child = common::command()
        .current_dir(p.path())
        .args(["preview", "2026-11-digest", "--out"])
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once the new preview is being written, someone saves notes into the old one.
    let t = std::time::Instant::now();
    while !std::fs::read_dir(p.path())
        .unwrap()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().starts_with(".out.partial-"))
    {
        assert!(t.elapsed().as_secs() < 60);
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    std::fs::write(out.join("my-notes.txt"), "keep me").unwrap();
    let done = child.wait_with_output().unwrap();
    assert!(done.status.success());
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(stderr.contains("it is kept as"), "{stderr}");
    let kept: Vec<_> = std::fs::read_dir(p.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("out.kept-"))
        .collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(
        std::fs::read_to_string(kept[0].path().join("my-notes.txt")).unwrap(),
        "keep me"
    );
    assert!(out.join("index.html").exists() && !out.join("my-notes.txt").exists());
}

/// A French message reads as French is written: a greeting that fits everyone, titles set like
/// bodies (’ rather than '), no-break spaces before the colon in the text part too, and the
/// organisation and its postal address in French; the English one has them in English, and a
/// bilingual one both.
#[test]
fn french_messages_are_set_as_french_is_written() {
    let p = Project::example();
    let out = preview(&p, "2026-11-digest");
    let fr = message_for(&out, "helene.dupre@example.org");
    let m = parse(&fr);
    let text = m.body_text(0).unwrap().to_string();
    let html = m.body_html(0).unwrap().to_string();
    assert!(text.contains("Bonjour Hélène,"), "{text}");
    assert!(!text.contains("Chère, cher"));
    for part in [&text, &html] {
        assert!(part.contains("l’interdiction des mines"), "curled title");
        assert!(
            !part.contains("l'interdiction"),
            "no straight apostrophe left"
        );
        assert!(part.contains("Projet Le désarmement en tant qu’action humanitaire"));
        assert!(part.contains("1211 Genève 10, Suisse"));
        assert!(!part.contains("Switzerland"), "no English address");
    }
    assert!(text.contains("Lire la suite\u{a0}: https://"), "{text}");
    assert!(
        text.contains("De la perspective à la pratique\u{a0}: trois publications"),
        "{text}"
    );
    assert!(
        !text.contains(" :"),
        "every French colon keeps its space: {text}"
    );
    assert!(
        !text.contains('\''),
        "no straight apostrophe in French text: {text}"
    );
    assert!(
        html.contains("Le désarmement en tant qu’action humanitaire"),
        "project names curled too"
    );

    let en = message_for(&out, "j.okafor@example.org");
    let en_text = parse(&en).body_text(0).unwrap().to_string();
    assert!(en_text.contains("Dear James,"));
    assert!(en_text.contains("1211 Geneva 10, Switzerland"));
    assert!(en_text.contains("Read more: https://"));
    assert!(!en_text.contains('\u{a0}'), "no French spaces in English");

    let both = message_for(&out, "yves.bernard@example.org");
    let both_text = parse(&both).body_text(0).unwrap().to_string();
    assert!(both_text.contains("1211 Geneva 10, Switzerland"));
    assert!(both_text.contains("1211 Genève 10, Suisse"));
}
