//! Contact lists as tools export them: every encoding, line end and quoting names the file's
//! own line numbers; Google Contacts' exports in the languages bulletin reads; interest values
//! in the list's own words; columns templates ask for by their header; and rows of one address
//! that disagree.

use crate::common;

use common::Project;

/// A list's text in one encoding, as bytes.
fn encode(text: &str, encoding: &str) -> Vec<u8> {
    match encoding {
        "utf-8" => text.as_bytes().to_vec(),
        "utf-8-bom" => [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat(),
        "windows-1252" => encoding_rs::WINDOWS_1252.encode(text).0.into_owned(),
        "utf-16le" => {
            let mut b = vec![0xFF, 0xFE];
            for u in text.encode_utf16() {
                b.extend_from_slice(&u.to_le_bytes());
            }
            b
        }
        "utf-16be" => {
            let mut b = vec![0xFE, 0xFF];
            for u in text.encode_utf16() {
                b.extend_from_slice(&u.to_be_bytes());
            }
            b
        }
        other => panic!("{other}"),
    }
}

/// Every combination of encoding, line end and quoting: each list has a bad row and a good row
/// after it, on lines an editor shows; `audience`, `check`, `rejects.csv` and the preview's
/// index all name those lines.
#[test]
fn every_encoding_line_end_and_quoting_names_the_files_own_lines() {
    let p = Project::example();
    let mut expected: Vec<(String, usize, usize)> = Vec::new();
    let mut names = Vec::new();
    for encoding in ["utf-8", "utf-8-bom", "windows-1252", "utf-16le", "utf-16be"] {
        for (le_name, le) in [("lf", "\n"), ("crlf", "\r\n"), ("cr", "\r")] {
            for quoting in ["plain", "quoted", "multiline"] {
                let q = |s: &str| {
                    if quoting == "plain" {
                        s.to_string()
                    } else {
                        format!("\"{s}\"")
                    }
                };
                let mut rows = vec![
                    format!("{},{},{}", q("email"), q("name"), q("language")),
                    format!("{},{},{}", q("anna@example.org"), q("Anna Dupré"), q("fr")),
                ];
                if quoting == "multiline" {
                    // A postal address over two lines, quoted as Excel writes it.
                    rows.push(format!(
                        "\"ben@example.org\",\"Ben{le}Rue du Lac 3\",\"en\""
                    ));
                }
                // Blank lines, as hand-edited exports have: the CSV reader skips them.
                rows.push(String::new());
                rows.push(String::new());
                rows.push(format!("{},{},{}", q("not-an-address"), q("Bad"), q("en")));
                rows.push(format!("{},{},{}", q("zoe@example.org"), q("Zoë"), q("en")));
                let text = rows.join(le) + le;
                // Lines as an editor counts them: every line end, inside quotes too.
                let bad_at = text[..text.find("not-an-address").unwrap()]
                    .matches(le)
                    .count()
                    + 1;
                let name = format!("{encoding}-{le_name}-{quoting}.csv");
                // UTF-16 is also written without its byte order mark.
                let bytes = encode(&text, encoding);
                let bytes = if name.starts_with("utf-16le-lf-plain") {
                    bytes[2..].to_vec()
                } else {
                    bytes
                };
                p.write(&format!("lists/{name}"), bytes);
                expected.push((name.clone(), bad_at, bad_at + 1));
                names.push(name);
            }
        }
    }
    let lists = names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    p.edit(
        "campaigns/2026-11-digest.toml",
        "lists = [\"practitioners.csv\", \"geneva-forum-export.csv\"]",
        &format!("lists = [{lists}]"),
    );
    let audience = p.bulletin().args(["audience", "2026-11-digest"]).fails();
    let check = p.bulletin().args(["check", "--files-only"]).fails();
    for (name, bad, _) in &expected {
        let want = format!("{name}:{bad}: \"not-an-address\" is not an e-mail address");
        assert!(
            audience.stderr().contains(&want),
            "audience: {want}\n{}",
            audience.stderr()
        );
        assert!(check.stderr().contains(&want), "check: {want}");
    }
    p.bulletin()
        .env("BULLETIN_NOW", "2026-12-01T08:00:00Z")
        .args(["preview", "2026-11-digest", "--skip-invalid"])
        .ok();
    let rejects = common::csv_rows(&p.read("preview/2026-11-digest/rejects.csv"));
    let index = p.read("preview/2026-11-digest/index.html");
    for (name, bad, good) in &expected {
        assert!(
            rejects
                .iter()
                .any(|r| &r["list"] == name && r["line"] == bad.to_string()),
            "rejects.csv: {name}:{bad}"
        );
        // The gallery names the row after it by its own line; its address is merged
        // with the other lists' rows, so the first list's line stands for it.
        if name == &names[0] {
            assert!(
                index.contains(&format!("{name}:{good}")),
                "index: {name}:{good}"
            );
        }
    }
}

/// A workbook or another binary file saved under a .csv name is named for what it is.
#[test]
fn a_spreadsheet_or_binary_file_is_named_for_what_it_is() {
    let p = Project::example();
    let mut xlsx = b"PK\x03\x04\x14\x00\x06\x00".to_vec();
    xlsx.extend(std::iter::repeat_n(b'x', 5000));
    p.write("lists/practitioners.csv", xlsx);
    p.bulletin()
        .args(["audience", "2026-11-digest"])
        .fails()
        .stderr_has("practitioners.csv: this is an Excel workbook (.xlsx)")
        .stderr_has("save it as CSV");
    p.write("lists/practitioners.csv", vec![0u8; 1 << 20]);
    let out = p.bulletin().args(["audience", "2026-11-digest"]).fails();
    assert!(out.stderr().contains("a binary file (it holds NUL bytes)"));
    assert!(
        out.stderr().len() < 2000,
        "no echo of the file: {}",
        out.stderr().len()
    );
}

/// Google Contacts' French export, as it writes it: its headers, and groups cells that hold
/// Google's own system groups beside the team's, joined by " ::: ".
#[test]
fn a_french_google_contacts_export_is_understood() {
    let p = Project::example();
    p.write(
        "lists/google.csv",
        "Prénom,Deuxième prénom,Nom de famille,E-mail 1 - Libellé,E-mail 1 - Valeur,Organisation 1 - Nom,Groupes\n\
         Amina,,Diallo,* Travail,amina.diallo@example.org,Mission du Sénégal,* myContacts ::: Désarmement humanitaire\n\
         Jean,,Mbeki,,jean.mbeki@example.org,Mission de paix au Sahel,* myContacts ::: * starred ::: Opérations de paix ::: Mines terrestres\n",
    );
    p.edit(
        "campaigns/2026-11-digest.toml",
        "lists = [\"practitioners.csv\", \"geneva-forum-export.csv\"]",
        "lists = [\"google.csv\"]",
    );
    let out = p.bulletin().args(["audience", "2026-11-digest"]).ok();
    assert!(!out.stderr().contains("mycontacts"), "{}", out.stderr());
    assert!(!out.stderr().contains("do not declare"), "{}", out.stderr());
    let rows = p.recipients("2026-11-digest");
    let by = |e: &str| rows.iter().find(|r| r["email"] == e).unwrap().clone();
    let amina = by("amina.diallo@example.org");
    assert_eq!(amina["name"], "Amina Diallo");
    assert_eq!(amina["interests"], "humanitarian-disarmament");
    assert_eq!(
        by("jean.mbeki@example.org")["interests"],
        "peace-operations;landmines"
    );
}

/// An interest in the list's own words: the warning says which line to add, and once added
/// the contact is selected by it.
#[test]
fn interest_values_in_the_lists_words_get_the_line_to_add() {
    let p = Project::example();
    p.write(
        "lists/practitioners.csv",
        "email,name,language,interests\nr.haddad@example.org,Rami Haddad,fr,Mines antipersonnel\n",
    );
    let warned = p.bulletin().args(["check", "--files-only"]).run();
    let err = warned.stderr();
    assert!(err.contains("\"mines-antipersonnel\" on line 2"), "{err}");
    assert!(err.contains("[lists.interests]"), "{err}");
    assert!(
        err.contains("\"Mines antipersonnel\" = \"landmines\""),
        "{err}"
    );
    assert!(!p
        .recipients("2026-11-digest")
        .iter()
        .any(|r| r["email"] == "r.haddad@example.org"));
    let config = p.read("bulletin.toml");
    p.write(
        "bulletin.toml",
        format!("{config}\n[lists.interests]\n\"Mines antipersonnel\" = \"landmines\"\n"),
    );
    let out = p.bulletin().args(["audience", "2026-11-digest"]).ok();
    assert!(
        !out.stderr().contains("mines-antipersonnel"),
        "{}",
        out.stderr()
    );
    let rows = p.recipients("2026-11-digest");
    let rami = rows
        .iter()
        .find(|r| r["email"] == "r.haddad@example.org")
        .unwrap();
    assert_eq!(rami["interests"], "landmines");
    // A mapping to a tag the project does not have is an error with its line.
    p.write(
        "bulletin.toml",
        format!("{config}\n[lists.interests]\n\"Mines antipersonnel\" = \"landmine\"\n"),
    );
    p.bulletin()
        .args(["check", "--files-only"])
        .fails()
        .stderr_has("[lists.interests] maps \"Mines antipersonnel\" to \"landmine\"");
}

/// A template asks for a column by the header the team sees (`contact.Topics`), which is also
/// the list's interests column; and a list with two interests columns is told which is used.
#[test]
fn columns_are_reached_by_their_header_and_doubled_roles_are_named() {
    let p = Project::example();
    p.write(
        "lists/practitioners.csv",
        "email,name,language,Topics\namina.diallo@example.org,Amina Diallo,fr,landmines\n",
    );
    p.write(
        "lists/geneva-forum-export.csv",
        "email,name,language,Topics,Interests\nj.okafor@example.org,James Okafor,en,landmines,small-arms\n",
    );
    p.edit(
        "campaigns/2026-11-digest.toml",
        "en = \"This month:",
        "en = \"{% if not web %}Your topics: {{ contact.Topics }}. {% endif %}This month:",
    );
    p.edit(
        "campaigns/2026-11-digest.toml",
        "fr = \"Ce mois-ci :",
        "fr = \"{% if not web %}Vos sujets : {{ contact.Topics }}. {% endif %}Ce mois-ci :",
    );
    let out = p.bulletin().args(["check", "--files-only"]).ok();
    assert!(
        !out.stderr().contains("has no \"Topics\" column"),
        "{}",
        out.stderr()
    );
    assert!(
        out.stderr().contains(
            "several columns mean interests: \"Topics\" (column 4), \"Interests\" (column 5); \"Topics\" (column 4) is used"
        ),
        "{}",
        out.stderr()
    );
    p.bulletin()
        .env("BULLETIN_NOW", "2026-12-01T08:00:00Z")
        .args(["preview", "2026-11-digest"])
        .ok();
    let eml = common::emls(&p.path().join("preview/2026-11-digest"));
    let all: String = eml
        .iter()
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .collect();
    assert!(
        all.contains("Your topics: landmines."),
        "the column reached the message"
    );
}

/// One address in two lists that disagree: the audience says which value was kept and why.
#[test]
fn rows_of_one_address_that_disagree_are_reported() {
    let p = Project::example();
    p.write(
        "lists/geneva-forum-export.csv",
        "email,name,language,organisation\namina.diallo@example.org,A. Diallo,English,Mission du Sénégal\n",
    );
    let out = p
        .bulletin()
        .args(["audience", "2026-11-digest"])
        .ok()
        .stdout();
    assert!(out.contains("rows that disagree (3;"), "{out}");
    assert!(
        out.contains("amina.diallo@example.org  language: \"fr\" from practitioners.csv:2 kept over \"English (en)\" from geneva-forum-export.csv:2"),
        "{out}"
    );
    assert!(
        out.contains("the first row is kept, by the order of the campaign's lists"),
        "{out}"
    );
    let rows = p.recipients("2026-11-digest");
    let amina = rows
        .iter()
        .find(|r| r["email"] == "amina.diallo@example.org")
        .unwrap();
    assert_eq!(amina["language"], "fr");
    // Two rows of one list, the first in a language the project does not write in: the
    // first still stands, and is named.
    p.write(
        "lists/practitioners.csv",
        "email,name,language\nb@example.org,B,es\nb@example.org,B,en\n",
    );
    let out = p
        .bulletin()
        .args(["audience", "2026-11-digest"])
        .ok()
        .stdout();
    assert!(
        out.contains("b@example.org  language: \"es\" from practitioners.csv:2 kept over \"en\" from practitioners.csv:3"),
        "{out}"
    );
}
