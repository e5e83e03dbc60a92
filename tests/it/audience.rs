//! `bulletin audience` and `check` on contact lists as they really arrive: Excel and CRM exports
//! in several delimiters and encodings, duplicates across lists, filters and digests.

use crate::common;

use common::Project;

fn campaign(p: &Project, audience: &str, digest: bool) {
    p.write(
        "campaigns/test.toml",
        format!(
            "digest = {digest}\n[subject]\nen = \"News\"\nfr = \"Nouvelles\"\n[updates]\nfrom = 2026-10-01\nto = 2026-11-30\n[audience]\n{audience}\n"
        ),
    );
}

#[test]
fn messy_exports_load_the_same() {
    let p = Project::example();
    // French-locale Excel: semicolons, Windows-1252, CRLF, a quoted field with a newline and a
    // semicolon, interests split by commas, stray spaces, an upper-case address.
    let mut excel = Vec::new();
    excel.extend_from_slice(
        b"Adresse e-mail;Pr\xe9nom;Nom;Langue;Int\xe9r\xeats;Adresse postale\r\n",
    );
    excel.extend_from_slice(b" ZOE.Keller@Example.COM ;Zo\xe9;Keller; French ; small arms , Landmines ;\"Rue du Mont-Blanc 1;\r\n1201 Gen\xe8ve\"\r\n");
    excel.extend_from_slice(b";;;;;\r\n");
    p.write("lists/excel.csv", excel);
    // A CRM export: UTF-8 with BOM, tabs, pipes between interests, a "Name <address>" cell.
    p.write("lists/crm.tsv.csv", "\u{feff}Email\tFull Name\tLanguage\tTopics\tJob Title\n\"Ama Owusu <AMA@example.org>\"\t\tfr-CH\tpeace operations|small-arms\tDirector\n");
    // Excel's Unicode text export: UTF-16 with BOM.
    let utf16: Vec<u8> = std::iter::once(0xFEFFu16)
        .chain("email\tname\tlanguage\r\nleila@example.org\tLeïla Haddad\ten+fr\r\n".encode_utf16())
        .flat_map(|u| u.to_le_bytes())
        .collect();
    p.write("lists/unicode.csv", utf16);
    campaign(
        &p,
        "lists = [\"excel.csv\", \"crm.tsv.csv\", \"unicode.csv\"]",
        false,
    );

    let r = p.recipients("test");
    assert_eq!(r.len(), 3, "{r:?}");
    let zoe = r
        .iter()
        .find(|x| x["email"] == "zoe.keller@example.com")
        .expect("address lower-cased, trimmed");
    assert_eq!(zoe["name"], "Zoé Keller", "Windows-1252 decoded");
    assert_eq!(zoe["language"], "fr");
    assert_eq!(zoe["interests"], "small-arms;landmines");
    let ama = r.iter().find(|x| x["email"] == "ama@example.org").unwrap();
    assert_eq!(ama["name"], "Ama Owusu");
    assert_eq!(ama["language"], "fr");
    assert_eq!(ama["interests"], "peace-operations;small-arms");
    let leila = r
        .iter()
        .find(|x| x["email"] == "leila@example.org")
        .unwrap();
    assert_eq!(
        (leila["name"].as_str(), leila["language"].as_str()),
        ("Leïla Haddad", "en+fr")
    );

    // The extra column reaches the template: both as written and as a key.
    p.edit("templates/newsletter.txt", "{{ t.masthead | upper }}", "{{ t.masthead | upper }} {{ contact.fields[\"Job Title\"] | default(value=\"\") }}/{{ contact.job_title | default(value=\"\") }}");
    let out = p.path().join("out");
    p.bulletin()
        .args(["preview", "test", "--out", out.to_str().unwrap()])
        .ok();
    let eml = common::emls(&out)
        .into_iter()
        .find(|(n, _)| n.contains("ama_at_"))
        .unwrap()
        .1;
    let m = mail_parser::MessageParser::default().parse(&eml).unwrap();
    assert!(m
        .body_text(0)
        .unwrap()
        .contains("DISARMAMENT INSIGHT Director/Director"));
    // The postal address with its newline stays whole in the field.
    p.bulletin().args(["check"]).ok();
}

#[test]
fn duplicates_merge_across_lists_and_exclusions_apply() {
    let p = Project::example();
    p.write("lists/a.csv", "email,name,language,interests\nX@Example.org,Xu,fr,landmines\ny@example.org,Yan,en,small-arms\nz@example.org,Zed,en,landmines\n");
    p.write("lists/b.csv", "email;name;language;interests\nx@example.org;;;small-arms\nw@example.org;Wen;en;peace-operations\n");
    p.write("lists/stop.csv", "email\nZ@EXAMPLE.ORG\n");
    campaign(
        &p,
        "lists = [\"a.csv\", \"b.csv\"]\nexclude = [\"stop.csv\"]",
        false,
    );
    let r = p.recipients("test");
    let emails: Vec<&str> = r.iter().map(|x| x["email"].as_str()).collect();
    assert_eq!(emails, ["x@example.org", "y@example.org", "w@example.org"]);
    let x = &r[0];
    assert_eq!(x["interests"], "landmines;small-arms", "interests merged");
    assert_eq!(x["lists"], "a.csv;b.csv");
    assert_eq!(x["name"], "Xu");
    let report = p.bulletin().args(["audience", "test"]).ok().stdout();
    assert!(
        report.contains("3 recipients (5 contacts read, 1 duplicate merged, 1 left out)"),
        "{report}"
    );
    assert!(
        report.contains("z@example.org  excluded: listed in stop.csv"),
        "{report}"
    );
    assert!(
        report.contains("by list:      a.csv 2, b.csv 2"),
        "{report}"
    );
}

#[test]
fn interest_and_language_filters() {
    let p = Project::example();
    p.write(
        "lists/l.csv",
        "email,language,interests\n\
         a@example.org,en,landmines;small-arms\n\
         b@example.org,fr,landmines\n\
         c@example.org,en,small-arms\n\
         d@example.org,en+fr,peace-operations\n",
    );
    let emails = |p: &Project| {
        p.recipients("test")
            .iter()
            .map(|x| x["email"].clone())
            .collect::<Vec<_>>()
    };
    campaign(
        &p,
        "lists = [\"l.csv\"]\ninterests_any = [\"landmines\", \"peace-operations\"]",
        false,
    );
    assert_eq!(
        emails(&p),
        ["a@example.org", "b@example.org", "d@example.org"]
    );
    campaign(
        &p,
        "lists = [\"l.csv\"]\ninterests_all = [\"landmines\", \"small-arms\"]",
        false,
    );
    assert_eq!(emails(&p), ["a@example.org"]);
    campaign(
        &p,
        "lists = [\"l.csv\"]\ninterests_none = [\"landmines\"]",
        false,
    );
    assert_eq!(emails(&p), ["c@example.org", "d@example.org"]);
    campaign(&p, "lists = [\"l.csv\"]\nlanguages = [\"French\"]", false);
    let r = p.recipients("test");
    assert_eq!(
        r.iter().map(|x| x["email"].as_str()).collect::<Vec<_>>(),
        ["b@example.org", "d@example.org"]
    );
    assert_eq!(
        r[1]["language"], "fr",
        "a bilingual contact gets only the campaign's language"
    );
    let report = p.bulletin().args(["audience", "test"]).ok().stdout();
    assert!(
        report.contains("a@example.org  language: asks for en but this campaign goes out in fr"),
        "{report}"
    );
}

#[test]
fn fallback_language_follows_the_config() {
    let p = Project::example();
    p.write(
        "lists/l.csv",
        "email,language\nnone@example.org,\nklingon@example.org,Klingon\n",
    );
    campaign(&p, "lists = [\"l.csv\"]", false);
    let r = p.recipients("test");
    assert!(
        r.iter().all(|x| x["language"] == "en+fr"),
        "example config: bilingual fallback {r:?}"
    );
    assert_eq!(r[1]["language_note"], "language \"Klingon\" not supported");
    p.edit(
        "bulletin.toml",
        "fallback = \"bilingual\"",
        "fallback = \"default\"",
    );
    let r = p.recipients("test");
    assert!(r.iter().all(|x| x["language"] == "en"), "{r:?}");
    p.bulletin().args(["check"]).ok().stderr_has(
        "languages not supported, these contacts get the default language (en): \"Klingon\" on line 3",
    );
}

#[test]
fn digest_leaves_out_and_counts_contacts_no_update_matches() {
    let p = Project::example();
    p.write(
        "lists/l.csv",
        "email,language,interests\na@example.org,en,landmines\nb@example.org,en,\n",
    );
    campaign(&p, "lists = [\"l.csv\"]", true);
    let r = p.recipients("test");
    assert_eq!(r.len(), 1);
    assert_eq!(
        r[0]["updates"],
        "2026-11-humanitarian-perspectives;2026-10-mine-ban-lessons"
    );
    let report = p.bulletin().args(["audience", "test"]).ok().stdout();
    assert!(report.contains("left out (digest 1)"), "{report}");
    assert!(
        report.contains(
            "b@example.org  digest: no update matches the contact's interests (no interests given)"
        ),
        "{report}"
    );
}

#[test]
fn translated_interest_labels_are_understood() {
    let p = Project::example();
    p.write(
        "lists/l.csv",
        "email;language;interests\na@example.org;fr;Mines terrestres, Opérations de paix\n",
    );
    campaign(&p, "lists = [\"l.csv\"]", false);
    assert_eq!(
        p.recipients("test")[0]["interests"],
        "landmines;peace-operations"
    );
}
