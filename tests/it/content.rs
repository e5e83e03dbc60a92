//! What outreach teams write: merge fields over lists that differ (empty cells, missing
//! columns), and cells that would break a line.

use crate::common;

use common::Project;
use mail_parser::MimeHeaders;

/// Every previewed message of a campaign: (recipient, subject, text part, HTML part).
fn previewed(p: &Project, campaign: &str) -> Vec<(String, String, String, String)> {
    let out = p.path().join("out");
    p.bulletin()
        .args(["preview", campaign, "--out"])
        .arg(&out)
        .ok();
    common::emls(&out)
        .into_iter()
        .map(|(_, bytes)| {
            let m = mail_parser::MessageParser::default().parse(&bytes).unwrap();
            let to = m
                .to()
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .unwrap_or_default()
                .to_string();
            (
                to,
                m.subject().unwrap_or_default().to_string(),
                m.body_text(0).unwrap_or_default().to_string(),
                m.body_html(0).unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn an_empty_cell_takes_the_default_and_a_missing_column_is_named_with_its_list() {
    let p = Project::example();
    // A practitioner with no first name, interested in peace operations.
    let list = p.read("lists/practitioners.csv");
    p.write(
        "lists/practitioners.csv",
        format!("{list}nofirst@example.org,,Nameless,UNIDIR,en,peace-operations,Researcher\n"),
    );
    let messages = previewed(&p, "2026-11-mpome-briefing");
    let (_, subject, _, _) = messages
        .iter()
        .find(|(to, ..)| to == "nofirst@example.org")
        .expect("the contact is mailed");
    assert!(
        subject.starts_with("Briefing: "),
        "default applies to an empty cell: {subject:?}"
    );

    // `role` is a column of practitioners.csv only: for the Geneva Forum's contacts it is
    // missing. Printed bare, check names the line, the list, the count and the way out.
    p.edit(
        "campaigns/2026-11-mpome-briefing.toml",
        "en = \"{{ contact.first_name",
        "en = \"{{ contact.role }} {{ contact.first_name",
    );
    let line = p
        .read("campaigns/2026-11-mpome-briefing.toml")
        .lines()
        .position(|l| l.contains("contact.role"))
        .unwrap()
        + 1;
    let err = p.bulletin().args(["check"]).fails().stderr();
    assert!(
        err.contains(&format!(
            "2026-11-mpome-briefing.toml:{line}: contact.role is missing for"
        )),
        "{err}"
    );
    assert!(
        err.contains("geneva-forum-export.csv has no \"role\" column"),
        "{err}"
    );
    assert!(err.contains("default(value="), "{err}");
    assert!(!err.contains("practitioners.csv has no"), "{err}");
    // preview and send stop before writing or sending anything.
    p.bulletin()
        .args(["preview", "2026-11-mpome-briefing"])
        .fails()
        .stderr_has("contact.role is missing");
    assert!(!p.path().join("preview/2026-11-mpome-briefing").exists());

    // With a default, everyone is mailed: the role where there is one, the default elsewhere.
    p.edit(
        "campaigns/2026-11-mpome-briefing.toml",
        "{{ contact.role }}",
        "{{ contact.role | default(value='Colleague') }} /",
    );
    p.edit(
        "campaigns/2026-11-mpome-briefing.toml",
        "fr = \"{{ contact.first_name",
        "fr = \"{{ contact.role | default(value='Collègue') }} / {{ contact.first_name",
    );
    p.bulletin().args(["check"]).ok();
    let messages = previewed(&p, "2026-11-mpome-briefing");
    let subject_of = |addr: &str| {
        messages
            .iter()
            .find(|(to, ..)| to == addr)
            .map(|m| m.1.clone())
            .unwrap_or_else(|| panic!("{addr} is mailed"))
    };
    assert!(subject_of("nofirst@example.org").starts_with("Researcher / Briefing"));
    let geneva = messages
        .iter()
        .find(|(to, ..)| to == "mathieu.perrin@example.org")
        .expect("a Geneva Forum contact");
    assert!(geneva.1.starts_with("Collègue / Mathieu"), "{}", geneva.1);
}

#[test]
fn a_line_break_in_a_name_never_reaches_a_header_or_the_greeting() {
    let p = Project::example();
    let list = p.read("lists/practitioners.csv");
    p.write(
        "lists/practitioners.csv",
        format!(
            "{list}mallory@example.org,\"Mallory\r\nBcc: victim@example.net\",Evil,\"Org\nInc\",en,peace-operations,\"Role\rX\"\n"
        ),
    );
    let messages = previewed(&p, "2026-11-mpome-briefing");
    let (_, subject, text, html) = messages
        .iter()
        .find(|(to, ..)| to == "mallory@example.org")
        .expect("the contact is mailed");
    assert!(
        subject.starts_with("Mallory Bcc: victim@example.net"),
        "{subject:?}"
    );
    assert!(text.contains("Mallory Bcc: victim@example.net,"), "{text}");
    assert!(html.contains("Mallory Bcc: victim@example.net,"), "{html}");
    for part in [subject, text, html] {
        assert!(!part.contains("Mallory\r") && !part.contains("Mallory\n"));
    }
    // And the message has exactly one recipient header, with one address.
    let out = p.path().join("out");
    for (_, bytes) in common::emls(&out) {
        let s = String::from_utf8_lossy(&bytes);
        assert!(!s.lines().any(|l| l.starts_with("Bcc:")), "{s}");
    }
}

#[test]
fn exports_as_teams_have_them_outlook_in_french_and_a_header_mapped_in_the_config() {
    let p = Project::example();
    // Outlook's French export: Windows-1252, semicolons, its own header for the address, and an
    // interests cell quoted because it holds semicolons.
    p.write(
        "lists/outlook.csv",
        b"Pr\xe9nom;Nom;Adresse de messagerie;Langue;Centres d'int\xe9r\xeat;Soci\xe9t\xe9\r\n\
H\xe9l\xe8ne;Dupr\xe9;helene.dupre@example.org;Fran\xe7ais;\"small arms;peace operations\";Mission permanente\r\n\
Karl;Weber;karl.weber@example.org;en;\"landmines|peace operations\";ICBL\r\n"
            .as_slice(),
    );
    // A CRM's export with a header no table knows.
    p.write(
        "lists/crm.csv",
        "Mail pro,Given,Lang,Sujets\nzoe.martin@example.org,Zo\u{e9},fr,Peace operations\n",
    );
    p.edit(
        "campaigns/2026-11-mpome-briefing.toml",
        "lists = [\"practitioners.csv\", \"geneva-forum-export.csv\"]",
        "lists = [\"outlook.csv\", \"crm.csv\"]\ninterests_any = [\"peace-operations\"]",
    );
    let campaign = p.read("campaigns/2026-11-mpome-briefing.toml");
    // The campaign already filters on peace-operations; keep one filter line.
    let first = campaign.find("interests_any").unwrap();
    let second = campaign[first + 1..]
        .find("interests_any")
        .map(|i| i + first + 1);
    if let Some(i) = second {
        let end = campaign[i..]
            .find('\n')
            .map_or(campaign.len(), |e| i + e + 1);
        p.write(
            "campaigns/2026-11-mpome-briefing.toml",
            format!("{}{}", &campaign[..i], &campaign[end..]),
        );
    }
    let err = p
        .bulletin()
        .args(["check", "2026-11-mpome-briefing"])
        .fails()
        .stderr();
    assert!(err.contains("crm.csv:1: no `email` column"), "{err}");
    assert!(err.contains("Mail pro | Given | Lang | Sujets"), "{err}");
    assert!(err.contains("[lists.columns]"), "{err}");

    let config = p.read("bulletin.toml");
    let at = config.find("[unsubscribe]").unwrap();
    p.write(
        "bulletin.toml",
        format!(
            "{}[lists.columns]\n\"Mail pro\" = \"email\"\n\"Given\" = \"first_name\"\nSujets = \"interests\"\n\n{}",
            &config[..at],
            &config[at..]
        ),
    );
    p.bulletin().args(["check", "2026-11-mpome-briefing"]).ok();
    let rows = p.recipients("2026-11-mpome-briefing");
    let emails: Vec<&str> = rows.iter().map(|r| r["email"].as_str()).collect();
    for want in [
        "helene.dupre@example.org",
        "karl.weber@example.org",
        "zoe.martin@example.org",
    ] {
        assert!(emails.contains(&want), "{want} in {emails:?}");
    }
    let messages = previewed(&p, "2026-11-mpome-briefing");
    let helene = messages
        .iter()
        .find(|(to, ..)| to == "helene.dupre@example.org")
        .unwrap();
    assert!(helene.1.starts_with("Hélène"), "{}", helene.1);
    let zoe = messages
        .iter()
        .find(|(to, ..)| to == "zoe.martin@example.org")
        .unwrap();
    assert!(zoe.1.starts_with("Zoé"), "{}", zoe.1);

    // A mapping to something bulletin does not read is an error naming the line.
    p.edit(
        "bulletin.toml",
        "\"Given\" = \"first_name\"",
        "\"Given\" = \"firstname\"",
    );
    p.bulletin()
        .args(["check"])
        .fails()
        .stderr_has("bulletin.toml:")
        .stderr_has("firstname");
}

#[test]
fn merge_fields_in_update_bodies_and_intros_are_rendered_per_recipient_and_checked() {
    let p = Project::example();
    let update = "updates/2026-11-peace-operations-materiel.en.md";
    let body = p.read(update);
    let at = body.find("Peace operations now deploy").unwrap();
    p.write(
        update,
        format!(
            "{}Dear {{{{ contact.first_name | default(value=\"colleague\") }}}}, \"this\" is for {{{{ contact.organisation | default(value=\"you\") }}}}.\n\n{}",
            &body[..at],
            &body[at..]
        ),
    );
    let messages = previewed(&p, "2026-11-mpome-briefing");
    let amina = messages
        .iter()
        .find(|(to, ..)| to == "amina.diallo@example.org")
        .expect("Amina gets the briefing");
    // Amina reads French; find an English reader of the update instead when she does not.
    let english = messages
        .iter()
        .find(|(_, _, text, _)| text.contains("Peace operations now deploy"))
        .expect("someone reads the English update");
    assert!(english.2.contains("Dear "), "{}", english.2);
    assert!(
        !english.2.contains("{{"),
        "rendered, not sent literally: {}",
        english.2
    );
    assert!(!english.3.contains("{{"), "{}", english.3);
    // Markdown's typography curls the text's quotes, never a merge field's.
    assert!(english.3.contains("\u{201c}this\u{201d}"), "{}", english.3);
    assert!(!amina.2.contains("{{"));

    // A default's text is escaped once, as any text: "l'équipe & co" reads as written.
    p.edit(
        update,
        "{{ contact.organisation | default(value=\"you\") }}",
        "{{ contact.organisation | default(value=\"you\") }} {{ contact.nickname | default(value=\"l'équipe & co\") }}",
    );
    previewed(&p, "2026-11-mpome-briefing");
    let english_html = std::fs::read_dir(p.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|f| f.extension().is_some_and(|x| x == "html") && !f.ends_with("index.html"))
        .map(|f| std::fs::read_to_string(f).unwrap())
        .find(|h| h.contains("Peace operations now deploy"))
        .expect("an English message");
    assert!(
        english_html.contains("l&#x27;équipe &amp; co")
            || english_html.contains("l'équipe &amp; co"),
        "escaped once"
    );
    assert!(!english_html.contains("&amp;#x27;") && !english_html.contains("&amp;amp;"));
    p.edit(
        update,
        " {{ contact.nickname | default(value=\"l'équipe & co\") }}",
        "",
    );
    // A value's HTML never gets past the sanitizer: `safe` and `include` are refused.
    p.edit(update, "\"you\") }}", "\"you\") | safe }}");
    p.bulletin()
        .args(["check"])
        .fails()
        .stderr_has("the safe filter would let");
    p.edit(update, "\"you\") | safe }}", "\"you\") }}");

    // Printed bare, a value some recipients lack is named with the update's file and line.
    p.edit(
        update,
        "{{ contact.organisation | default(value=\"you\") }}",
        "{{ contact.role }}",
    );
    let line = p
        .read(update)
        .lines()
        .position(|l| l.contains("contact.role"))
        .unwrap()
        + 1;
    let err = p.bulletin().args(["check"]).fails().stderr();
    assert!(
        err.contains(&format!(
            "2026-11-peace-operations-materiel.en.md:{line}: contact.role is missing"
        )),
        "{err}"
    );
    // A merge field that does not compile, and a forbidden call, are named too.
    p.edit(
        update,
        "{{ contact.role }}",
        "{{ contact.role | default(value=\"x\" }}",
    );
    let err = p.bulletin().args(["check"]).fails().stderr();
    assert!(
        err.contains(&format!(
            "2026-11-peace-operations-materiel.en.md:{line}: a merge field does not compile"
        )),
        "{err}"
    );
    p.edit(
        update,
        "{{ contact.role | default(value=\"x\" }}",
        "{{ get_env(name=\"HOME\") }}",
    );
    p.bulletin()
        .args(["check"])
        .fails()
        .stderr_has("2026-11-peace-operations-materiel.en.md")
        .stderr_has("get_env");
}

#[test]
fn a_campaign_in_one_language_reaches_readers_of_the_other_in_its_own() {
    let p = Project::example();
    // An update written in English only: the English-only campaign needs no French version.
    p.write(
        "updates/2026-11-conference-report.en.md",
        "+++\ntitle = \"Conference report\"\ndate = 2026-11-20\ninterests = [\"peace-operations\"]\n+++\nThe report is out.\n",
    );
    p.edit(
        "campaigns/2026-12-mpome-conference-report.toml",
        "include = [\"2026-11-peace-operations-materiel\"]",
        "include = [\"2026-11-conference-report\"]",
    );
    p.bulletin()
        .args(["check", "2026-12-mpome-conference-report"])
        .ok()
        .stderr_lacks("missing translation");
    // The digest, written in both languages, picks the update by date and asks for French.
    p.bulletin()
        .args(["check", "2026-11-digest"])
        .fails()
        .stderr_has("update \"2026-11-conference-report\" has no \"fr\" version");

    let report = p
        .bulletin()
        .args(["audience", "2026-12-mpome-conference-report"])
        .ok()
        .stdout();
    assert!(
        report.contains("reads fr; this campaign is written in en only → en"),
        "{report}"
    );
    let rows = p.recipients("2026-12-mpome-conference-report");
    let amina = rows
        .iter()
        .find(|r| r["email"] == "amina.diallo@example.org")
        .expect("a French reader is mailed");
    assert_eq!(amina["language"], "en");
    assert!(
        amina["language_note"].contains("written in en only"),
        "{amina:?}"
    );
    let messages = previewed(&p, "2026-12-mpome-conference-report");
    let subject = &messages
        .iter()
        .find(|(to, ..)| to == "amina.diallo@example.org")
        .unwrap()
        .1;
    assert!(
        subject.ends_with("the MPOME conference report, in English"),
        "{subject}"
    );

    // Or the campaign says to leave them out, and audience says why.
    p.edit(
        "campaigns/2026-12-mpome-conference-report.toml",
        "languages = [\"en\"]",
        "languages = [\"en\"]\nother_languages = \"leave-out\"",
    );
    let rows = p.recipients("2026-12-mpome-conference-report");
    assert!(!rows
        .iter()
        .any(|r| r["email"] == "amina.diallo@example.org"));
    p.bulletin()
        .args(["audience", "2026-12-mpome-conference-report"])
        .ok()
        .stdout_has(
            "amina.diallo@example.org  language: asks for fr but this campaign goes out in en",
        );
    // A language the project does not support is named with its line.
    p.edit(
        "campaigns/2026-12-mpome-conference-report.toml",
        "languages = [\"en\"]",
        "languages = [\"en\", \"xx\"]",
    );
    p.bulletin()
        .args(["check", "2026-12-mpome-conference-report"])
        .fails()
        .stderr_has("2026-12-mpome-conference-report.toml:5: unknown language \"xx\"");
}

#[test]
fn raw_html_is_cleaned_and_relative_links_need_a_base() {
    let p = Project::example();
    let update = "updates/2026-11-peace-operations-materiel.en.md";
    let body = p.read(update);
    p.write(
        update,
        format!(
            "{body}\n<script>alert('x')</script>\n<p onclick=\"steal()\">Click</p>\n\nRead [the report](reports/mpome.pdf).\n\n![Chart](chart.png)\n"
        ),
    );
    let text = p.read(update);
    let line = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let err = p.bulletin().args(["check"]).fails().stderr();
    assert!(
        err.contains(&format!(
            "{update}:{}: HTML that messages must not carry was removed: <script>, onclick=",
            line("<script>")
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{update}:{}: relative address \"reports/mpome.pdf\"",
            line("reports/mpome.pdf")
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{update}:{}: relative address \"chart.png\"",
            line("chart.png")
        )),
        "{err}"
    );

    // With the site's address, relative links resolve against it.
    p.edit(
        "bulletin.toml",
        "# base_url = \"https://disarmament-insight.example.org/news/\"",
        "base_url = \"https://disarmament-insight.example.org/news/\"",
    );
    p.bulletin()
        .args(["check"])
        .ok()
        .stderr_has("HTML that messages must not carry was removed");
    let messages = previewed(&p, "2026-11-mpome-briefing");
    let english = messages
        .iter()
        .find(|(_, _, text, _)| text.contains("Peace operations now deploy"))
        .expect("an English reader");
    let html = &english.3;
    assert!(
        html.contains("href=\"https://disarmament-insight.example.org/news/reports/mpome.pdf\""),
        "{html}"
    );
    assert!(
        html.contains("src=\"https://disarmament-insight.example.org/news/chart.png\""),
        "{html}"
    );
    assert!(
        !html.contains("<script") && !html.contains("onclick") && !html.contains("steal()"),
        "{html}"
    );
    assert!(html.contains("Click"), "the text stays: {html}");
}

#[test]
fn attachments_per_language_with_accented_names_and_size_limits() {
    let p = Project::example();
    // The example campaign attaches mpome-summary.pdf: .en.pdf and .fr.pdf per reader.
    let out = p.path().join("out");
    p.bulletin()
        .args(["preview", "2026-11-mpome-briefing", "--out"])
        .arg(&out)
        .ok();
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(index.contains("mpome-summary.fr.pdf") && index.contains("mpome-summary.en.pdf"));
    let mut seen = 0;
    for (_, bytes) in common::emls(&out) {
        let m = mail_parser::MessageParser::default().parse(&bytes).unwrap();
        let lang = m
            .header_raw("Content-Language")
            .unwrap_or_default()
            .trim()
            .to_string();
        let names: Vec<String> = m
            .attachments()
            .map(|a| a.attachment_name().unwrap_or_default().to_string())
            .collect();
        let want: Vec<String> = lang
            .split(", ")
            .map(|l| format!("mpome-summary.{l}.pdf"))
            .collect();
        assert_eq!(names, want, "a {lang} message");
        let pdf = m.attachments().next().unwrap();
        assert!(pdf.contents().starts_with(b"%PDF-1.4"), "the file whole");
        assert_eq!(
            pdf.content_type().map(|c| format!(
                "{}/{}",
                c.ctype(),
                c.subtype().unwrap_or_default()
            )),
            Some("application/pdf".to_string())
        );
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.contains("Content-Type: multipart/mixed;"),
            "mixed around the alternative"
        );
        assert!(text.contains("Content-Type: multipart/alternative;"));
        seen += 1;
    }
    assert!(seen > 5);

    // An update attaches a file with an accented name: encoded per RFC 2231, read back whole.
    p.write("attachments/Synthèse régionale.pdf", b"%PDF-1.4 accents");
    let update = "updates/2026-11-peace-operations-materiel.fr.md";
    p.edit(
        update,
        "+++\n",
        "+++\nattachments = [\"Synthèse régionale.pdf\"]\n",
    );
    let out2 = p.path().join("out2");
    p.bulletin()
        .args(["preview", "2026-11-mpome-briefing", "--out"])
        .arg(&out2)
        .ok();
    let french = common::emls(&out2)
        .into_iter()
        .find(|(_, b)| String::from_utf8_lossy(b).contains("Content-Language: fr\r\n"))
        .expect("a French message");
    let raw = String::from_utf8_lossy(&french.1).to_string();
    assert!(
        raw.contains("utf-8''Synth%C3%A8se%20r%C3%A9gionale.pdf"),
        "RFC 2231 name"
    );
    let m = mail_parser::MessageParser::default()
        .parse(&french.1)
        .unwrap();
    let names: Vec<String> = m
        .attachments()
        .map(|a| a.attachment_name().unwrap_or_default().to_string())
        .collect();
    assert!(
        names.contains(&"Synthèse régionale.pdf".to_string()),
        "{names:?}"
    );

    // A missing file names the file and line that asks for it.
    p.edit(update, "Synthèse régionale.pdf\"]", "absent.pdf\"]");
    p.bulletin()
        .args(["check"])
        .fails()
        .stderr_has(&format!("{update}:2: attachment \"absent.pdf\" not found"));
    p.edit(update, "absent.pdf\"]", "../bulletin.toml\"]");
    p.bulletin()
        .args(["check"])
        .fails()
        .stderr_has("inside the attachments folder");
    p.edit(update, "attachments = [\"../bulletin.toml\"]\n", "");

    // Heavy messages: a warning above 5 MB, an error above [limits] max_message_mb.
    p.write(
        "attachments/mpome-summary.en.pdf",
        vec![b'x'; 6 * 1024 * 1024],
    );
    p.bulletin().args(["check"]).ok().stderr_has("above 5 MB");
    let config = p.read("bulletin.toml");
    let at = config.find("[unsubscribe]").unwrap();
    p.write(
        "bulletin.toml",
        format!(
            "{}[limits]\nmax_message_mb = 7\n\n{}",
            &config[..at],
            &config[at..]
        ),
    );
    p.bulletin()
        .args(["check"])
        .fails()
        .stderr_has("over [limits] max_message_mb (7)");
    p.bulletin()
        .args(["preview", "2026-11-mpome-briefing"])
        .fails()
        .stderr_has("max_message_mb");
}

#[test]
fn what_a_fresh_clone_trial_found_stays_fixed() {
    let p = Project::example();
    // A mapping that matches no list's header is named.
    let config = p.read("bulletin.toml");
    let at = config.find("[unsubscribe]").unwrap();
    p.write(
        "bulletin.toml",
        format!(
            "{}[lists.columns]\n\"Portable\" = \"name\"\n\n{}",
            &config[..at],
            &config[at..]
        ),
    );
    p.bulletin()
        .args(["check"])
        .ok()
        .stderr_has("[lists.columns] maps \"Portable\", but no list has that header");
    p.write("bulletin.toml", config);
    // An unknown filter in an update names its line.
    let update = "updates/2026-11-peace-operations-materiel.en.md";
    let body = p.read(update);
    p.write(
        update,
        format!("{body}\nFor {{{{ contact.organisation | nofilter }}}}.\n"),
    );
    let line = p
        .read(update)
        .lines()
        .position(|l| l.contains("nofilter"))
        .unwrap()
        + 1;
    p.bulletin()
        .args(["check", "--files-only"])
        .fails()
        .stderr_has(&format!("{update}:{line}:"));
    p.write(update, body);
    // A list named by a campaign is checked whatever its extension (Excel's .txt, a .tsv).
    p.write(
        "lists/crm.tsv",
        "Mail pro\tRôle\nzoe@example.org\tChercheuse\n",
    );
    p.edit(
        "campaigns/2026-11-mpome-briefing.toml",
        "lists = [\"practitioners.csv\", \"geneva-forum-export.csv\"]",
        "lists = [\"practitioners.csv\", \"geneva-forum-export.csv\", \"crm.tsv\"]",
    );
    p.bulletin()
        .args(["check", "2026-11-mpome-briefing"])
        .fails()
        .stderr_has("crm.tsv:1: no `email` column");
    p.remove("lists/crm.tsv");
    p.edit(
        "campaigns/2026-11-mpome-briefing.toml",
        ", \"crm.tsv\"]",
        "]",
    );

    // A column with an accent is reachable without it: "Rôle" as contact.role.
    let list = p
        .read("lists/practitioners.csv")
        .replacen(",role\n", ",Rôle\n", 1);
    p.write("lists/practitioners.csv", list);
    p.edit(
        "campaigns/2026-11-mpome-briefing.toml",
        "en = \"{{ contact.first_name",
        "en = \"{{ contact.role | default(value='?') }} {{ contact.first_name",
    );
    let messages = previewed(&p, "2026-11-mpome-briefing");
    assert!(
        messages.iter().any(|m| m.1.starts_with("Trainer ")),
        "{:?}",
        messages.iter().map(|m| &m.1).collect::<Vec<_>>()
    );
    // Looked up with the accent, it is refused with the way out, not a crash.
    p.edit(
        "campaigns/2026-11-mpome-briefing.toml",
        "contact.role | default(value='?')",
        "contact.fields['Rôle'] | default(value='?')",
    );
    p.bulletin()
        .args(["check"])
        .fails()
        .stderr_has("letters outside ASCII")
        .stderr_has("contact.role");
    p.edit(
        "campaigns/2026-11-mpome-briefing.toml",
        "{{ contact.fields['Rôle'] | default(value='?') }} ",
        "",
    );

    // Titles are the same for everyone: merge fields there are refused.
    let update = "updates/2026-11-peace-operations-materiel.en.md";
    p.edit(
        update,
        "title = \"Weapons",
        "title = \"{{ contact.first_name }}: Weapons",
    );
    p.bulletin()
        .args(["check"])
        .fails()
        .stderr_has(&format!("{update}:2: a title is the same for every reader"));
    p.edit(
        update,
        "title = \"{{ contact.first_name }}: Weapons",
        "title = \"Weapons",
    );

    // With an archive, every campaign's web copy must render without a reader. A subject
    // may greet its reader (the page's title leaves the greeting out); a body may not.
    p.edit(
        "campaigns/2026-11-mpome-briefing.toml",
        "en = \"{{ contact.first_name | default(value='Briefing') }}",
        "en = \"{{ contact.first_name }}",
    );
    p.bulletin().args(["check", "2026-11-mpome-briefing"]).ok();
    let body = p.read(update);
    p.write(
        update,
        format!("{body}\nFor {{{{ contact.organisation }}}}.\n"),
    );
    p.bulletin()
        .args(["check", "2026-11-mpome-briefing"])
        .fails()
        .stderr_has("the web copy in \"en\" cannot be made");
    p.write(update, body);

    // A bilingual message carries both languages' files: its size decides.
    p.edit(
        "campaigns/2026-11-mpome-briefing.toml",
        "en = \"{{ contact.first_name }}",
        "en = \"{{ contact.first_name | default(value='Briefing') }}",
    );
    p.write(
        "attachments/mpome-summary.en.pdf",
        vec![b'x'; 6 * 1024 * 1024],
    );
    p.write(
        "attachments/mpome-summary.fr.pdf",
        vec![b'x'; 6 * 1024 * 1024],
    );
    let config = p.read("bulletin.toml");
    let at = config.find("[unsubscribe]").unwrap();
    p.write(
        "bulletin.toml",
        format!(
            "{}[limits]\nmax_message_mb = 10\n\n{}",
            &config[..at],
            &config[at..]
        ),
    );
    let line = p
        .read("campaigns/2026-11-mpome-briefing.toml")
        .lines()
        .position(|l| l.starts_with("attachments"))
        .unwrap()
        + 1;
    p.bulletin()
        .args(["check", "2026-11-mpome-briefing"])
        .fails()
        .stderr_has(&format!(
            "2026-11-mpome-briefing.toml:{line}: the en+fr message carries"
        ));
}
