//! A CSV contact list as it really arrives (Excel or CRM export: any of three delimiters, UTF-8,
//! UTF-16 or Windows-1252, CRLF, quoted newlines) in, typed [`Contact`]s out, with every bad row
//! named by file and line, or set aside as a reject when the user asks to skip bad rows.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::normalize_tag;

mod columns;
mod record;
mod rows;
mod source;
use crate::config::Column;
use crate::problems::Problems;
use crate::{Error, Result};
pub use columns::same_header;
use columns::{role_of, Role, COLUMN_HELP};
pub use record::{Contact, Interests, Language, Shape};
use rows::{header, shape_of, warn_doubled_roles, Row, Shared};

/// A row that could not be used, kept whole so it can be fixed and loaded again.
#[derive(Debug, Clone)]
pub struct Reject {
    pub list: Arc<str>,
    pub line: usize,
    pub reason: String,
    pub header: Arc<Vec<String>>,
    pub record: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ContactList {
    pub path: PathBuf,
    /// The file name, as campaigns refer to it.
    pub name: Arc<str>,
    pub encoding: &'static str,
    pub delimiter: u8,
    pub columns: Vec<String>,
    pub contacts: Vec<Contact>,
    pub rejects: Vec<Reject>,
}

/// Decodes a file's bytes the way the program that wrote it meant them. UTF-8, the common
/// case, is taken as it is, without a copy: a list may be a hundred megabytes.
pub fn decode(mut bytes: Vec<u8>) -> (String, &'static str) {
    if let Some(enc) = utf16_without_bom(&bytes) {
        let (text, _) = enc.decode_without_bom_handling(&bytes);
        let name = if enc == encoding_rs::UTF_16BE {
            "UTF-16BE (no byte order mark)"
        } else {
            "UTF-16LE (no byte order mark)"
        };
        return (text.into_owned(), name);
    }
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        bytes.drain(..3);
        let text = String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        return (text, "UTF-8 (BOM)");
    }
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        // Excel's "Unicode text" export.
        let (text, enc, _) = encoding_rs::UTF_16LE.decode(&bytes);
        return (
            text.into_owned(),
            if enc == encoding_rs::UTF_16BE {
                "UTF-16BE"
            } else {
                "UTF-16LE"
            },
        );
    }
    match String::from_utf8(bytes) {
        Ok(s) => (s, "UTF-8"),
        // French-locale Excel writes Windows-1252 ("Excel CSV"); no other legacy encoding is common
        // in these lists, and every byte sequence decodes, so this cannot fail.
        Err(e) => (
            encoding_rs::WINDOWS_1252
                .decode(e.as_bytes())
                .0
                .into_owned(),
            "Windows-1252",
        ),
    }
}

/// CRLF and a lone CR (an old Mac export) made LF, in place: a list may be a hundred megabytes.
pub(super) fn lf_only(text: String) -> String {
    if memchr::memchr(b'\r', text.as_bytes()).is_none() {
        return text;
    }
    let mut b = text.into_bytes();
    let mut w = 0;
    for i in 0..b.len() {
        let c = b[i];
        if c == b'\r' && b.get(i + 1) == Some(&b'\n') {
            continue;
        }
        b[w] = if c == b'\r' { b'\n' } else { c };
        w += 1;
    }
    b.truncate(w);
    // Only ASCII bytes were dropped or changed, so the text is as valid as it was.
    String::from_utf8(b).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Counts each candidate delimiter outside quotes in the header line and picks the most frequent.
pub(super) fn detect_delimiter(text: &str) -> u8 {
    let header = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    for b in header.bytes() {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted {
            for c in counts.iter_mut() {
                if c.0 == b {
                    c.1 += 1;
                }
            }
        }
    }
    // Ties (a one-column file) go to the comma, the format's namesake.
    counts
        .iter()
        .rev()
        .max_by_key(|c| c.1)
        .filter(|c| c.1 > 0)
        .map(|c| c.0)
        .unwrap_or(b',')
}

fn delimiter_name(d: u8) -> &'static str {
    match d {
        b';' => "semicolon",
        b'\t' => "tab",
        _ => "comma",
    }
}

/// The pieces of an interests cell: split on `;`, `|`, `,` and Google Contacts' ` ::: `, with
/// Google's own system groups (`* myContacts`, `* starred`) left out: they say nothing of a
/// reader's interests.
pub fn interest_pieces(cell: &str) -> impl Iterator<Item = &str> {
    cell.split(":::")
        .flat_map(|p| p.split([';', '|', ',']))
        .map(str::trim)
        .filter(|p| !p.is_empty() && !p.starts_with('*'))
}

/// A header row as a message shows it: at most 20 columns of 40 characters each.
fn shown_headers(columns: &[String]) -> String {
    let mut shown: Vec<String> = columns
        .iter()
        .take(20)
        .map(|c| {
            let short: String = c.chars().take(40).collect();
            if short.len() < c.len() {
                format!("{short}…")
            } else {
                short
            }
        })
        .collect();
    if columns.len() > 20 {
        shown.push(format!("and {} more", columns.len() - 20));
    }
    shown.join(" | ")
}

/// UTF-16 written without its byte order mark, told by where the zero bytes of its first
/// characters fall: after each letter (little-endian) or before it (big-endian).
pub(super) fn utf16_without_bom(bytes: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let head = &bytes[..bytes.len().min(512) & !1];
    if head.len() < 8 || bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return None;
    }
    let pairs = head.len() / 2;
    let zero_at = |k: usize| head.iter().skip(k).step_by(2).filter(|b| **b == 0).count();
    let (even, odd) = (zero_at(0), zero_at(1));
    if odd * 10 >= pairs * 9 && even * 10 < pairs {
        Some(encoding_rs::UTF_16LE)
    } else if even * 10 >= pairs * 9 && odd * 10 < pairs {
        Some(encoding_rs::UTF_16BE)
    } else {
        None
    }
}

/// Splits an interests cell into tags (see [`interest_pieces`]).
pub fn split_interests(cell: &str) -> Vec<String> {
    // Whatever the file's delimiter: a cell holding it was quoted, so the CSV reader has
    // already told the cells apart, and within one cell every separator separates tags.
    let mut out: Vec<String> = Vec::new();
    for part in interest_pieces(cell) {
        let t = normalize_tag(part);
        if !t.is_empty() && !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// Longest value accepted in a name-like cell (name, first and last name, organisation): it
/// goes into headers, where RFC 5322 allows 998 octets per line.
pub const MAX_NAME: usize = 256;
/// Longest value accepted in any other cell.
pub const MAX_CELL: usize = 4096;

/// What a list is read against.
#[derive(Debug, Clone, Default)]
pub struct Rules<'a> {
    /// The project's language codes.
    pub supported: &'a [String],
    /// The relay is declared to speak SMTPUTF8, so addresses whose local part is not ASCII can be
    /// delivered (`[smtp] smtputf8 = true`). Without it they are refused here, where the user can
    /// see them, instead of failing at the relay.
    pub smtputf8: bool,
    /// The config's own header mapping (`[lists.columns]`), which comes before the built-in one.
    pub columns: Option<&'a std::collections::BTreeMap<String, crate::config::Column>>,
}

/// Loads one contact list. Bad rows go to `problems` as errors naming file and line, and are kept
/// as rejects; the caller decides whether they stop the command.
pub fn load(path: &Path, rules: &Rules, problems: &mut Problems) -> Result<ContactList> {
    let source = source::open(path)?;
    let delimiter = source.delimiter;
    let name: Arc<str> = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .into();
    let mut list = ContactList {
        path: path.to_path_buf(),
        name: name.clone(),
        encoding: source.encoding,
        delimiter,
        columns: Vec::new(),
        contacts: Vec::new(),
        rejects: Vec::new(),
    };

    list.contacts.reserve_exact(source.lines);
    let unbalanced = source.unbalanced;
    let lines = source::LineIndex::default();
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(lines.watch(source.reader));
    let line_of = |p: Option<&csv::Position>| p.and_then(|p| lines.line_at(p.byte()));
    let mut records = reader.records();

    let Some((header_line, header)) =
        header(&mut records, &line_of, source.sep_line, path, problems)
    else {
        return Ok(list);
    };
    let columns: Vec<String> = header
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    let roles: Vec<Role> = columns.iter().map(|c| role_of(c, rules.columns)).collect();
    list.columns = columns.clone();

    let Some(email_col) = roles.iter().position(|r| *r == Some(Column::Email)) else {
        problems.error(
            path,
            Some(header_line),
            format!(
                "no `email` column: the header row ({} delimited) reads [{}]; rename the column of addresses `email`, or {COLUMN_HELP}",
                delimiter_name(delimiter),
                shown_headers(&columns),
            ),
        );
        return Ok(list);
    };
    warn_doubled_roles(path, header_line, &roles, &columns, problems);
    let head = Head {
        shape: Arc::new(shape_of(&name, &columns, &roles, email_col)),
        names: Arc::new(columns.clone()),
        columns,
        roles,
        email_col,
        unbalanced,
    };
    read_rows(records, &lines, &head, rules, &mut list, problems);
    Ok(list)
}

/// What every row of a list is read by: its header, and what the header says.
struct Head {
    columns: Vec<String>,
    roles: Vec<Role>,
    /// The header as rejected rows carry it.
    names: Arc<Vec<String>>,
    email_col: usize,
    shape: Arc<record::Shape>,
    /// Whether the file has unbalanced quotes (see `source`).
    unbalanced: bool,
}

/// The rows under the header: each becomes a contact or, with why, a reject.
fn read_rows(
    records: impl Iterator<Item = csv::Result<csv::StringRecord>>,
    lines: &source::LineIndex,
    head: &Head,
    rules: &Rules,
    list: &mut ContactList,
    problems: &mut Problems,
) {
    // A record's line as an editor shows it (see `LineIndex`).
    let line_of = |p: Option<&csv::Position>| p.and_then(|p| lines.line_at(p.byte()));
    let path = list.path.clone();
    // Rows share what they hold in common: a list has few language cells and interest sets.
    let mut shared = Shared::default();
    for rec in records {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = line_of(e.position());
                if e.is_io_error() {
                    // The file cannot be read on (a line too long to be a row): stop here.
                    problems.error(&path, line, format!("cannot read on: {e}"));
                    break;
                }
                problems.error(
                    &path,
                    line,
                    format!("cannot read this row: {e}; check its quotes"),
                );
                continue;
            }
        };
        if let Some(p) = rec.position() {
            lines.row_at(p.byte());
        }
        let line = line_of(rec.position()).unwrap_or(0);
        if rec.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let record: Vec<String> = rec.iter().map(str::to_string).collect();
        let row = Row {
            record: &record,
            columns: &head.columns,
            roles: &head.roles,
            unbalanced: head.unbalanced,
            delimiter: list.delimiter,
            email_col: head.email_col,
            smtputf8: rules.smtputf8,
        };
        match row.contact(&head.shape, &mut shared, rules.supported, line) {
            Ok(contact) => list.contacts.push(contact),
            Err(reason) => {
                problems.error(&path, Some(line), reason.clone());
                list.rejects.push(Reject {
                    list: list.name.clone(),
                    line,
                    reason,
                    header: head.names.clone(),
                    record,
                });
            }
        }
    }
}

/// Writes rejected rows as a CSV that can be fixed and loaded again: where each came from, why it
/// was set aside, then its cells under the header of its list.
pub fn write_rejects(path: &Path, rejects: &[Reject]) -> Result<()> {
    let io = |e: std::io::Error| Error::io("write rejects", path, e);
    let mut w = csv::Writer::from_path(path).map_err(|e| io(e.into()))?;
    let width = rejects
        .iter()
        .map(|r| r.header.len().max(r.record.len()))
        .max()
        .unwrap_or(0);
    let mut head = vec!["list".to_string(), "line".into(), "reason".into()];
    head.extend((0..width).map(|i| format!("column_{}", i + 1)));
    w.write_record(&head).map_err(|e| io(e.into()))?;
    let mut last_header: Option<&Arc<Vec<String>>> = None;
    for r in rejects {
        // Each list's header is written once before its rows, so the cells stay readable.
        if last_header.is_none_or(|h| !Arc::ptr_eq(h, &r.header)) {
            let mut row = vec![r.list.to_string(), String::new(), "(header)".into()];
            row.extend(r.header.iter().cloned());
            row.resize(3 + width, String::new());
            w.write_record(&row).map_err(|e| io(e.into()))?;
            last_header = Some(&r.header);
        }
        let mut row = vec![r.list.to_string(), r.line.to_string(), r.reason.clone()];
        row.extend(r.record.iter().cloned());
        row.resize(3 + width, String::new());
        w.write_record(&row).map_err(|e| io(e.into()))?;
    }
    w.flush().map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sup() -> Vec<String> {
        vec!["en".into(), "fr".into()]
    }

    fn load_bytes(bytes: &[u8]) -> (ContactList, Problems) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l.csv");
        std::fs::write(&p, bytes).unwrap();
        let mut probs = Problems::new();
        let langs = sup();
        let rules = Rules {
            supported: &langs,
            smtputf8: false,
            columns: None,
        };
        let l = load(&p, &rules, &mut probs).unwrap();
        (l, probs)
    }

    #[test]
    fn detects_delimiters() {
        assert_eq!(detect_delimiter("email;name;\"a,b\"\n"), b';');
        assert_eq!(detect_delimiter("email\tname\n"), b'\t');
        assert_eq!(detect_delimiter("email,name\n"), b',');
        assert_eq!(detect_delimiter("email\n"), b',');
    }

    #[test]
    fn reads_windows_1252_semicolons_crlf() {
        let bytes = b"E-mail;Pr\xe9nom;Nom;Langue;Int\xe9r\xeats\r\n ANNE@Example.ORG ;H\xe9l\xe8ne;Dupr\xe9;Fran\xe7ais;small arms, landmines\r\n";
        let (l, p) = load_bytes(bytes);
        assert!(p.is_empty(), "{p}");
        assert_eq!(l.encoding, "Windows-1252");
        let c = &l.contacts[0];
        assert_eq!(c.email(), "anne@example.org");
        assert_eq!(c.display_name(), "Hélène Dupré");
        assert_eq!(c.languages().codes, vec!["fr"]);
        assert_eq!(c.interests(), vec!["small-arms", "landmines"]);
        assert_eq!(c.line(), 2);
    }

    #[test]
    fn reads_bom_quoted_newlines_and_names_lines() {
        let text = "\u{feff}email,name,note\n\"a@example.org\",\"Doe, Jane\",\"two\nlines\"\nnot-an-address,Bob,x\n";
        let (l, p) = load_bytes(text.as_bytes());
        assert_eq!(l.contacts.len(), 1);
        assert_eq!(l.contacts[0].name(), "Doe, Jane");
        // Cells are one line wherever they are printed (a greeting, a header).
        assert_eq!(l.contacts[0].fields().nth(2).unwrap().1, "two lines");
        let e: Vec<_> = p.errors().collect();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].line, Some(4), "quoted newline counts as a line");
        assert_eq!(l.rejects.len(), 1);
    }

    #[test]
    fn missing_email_column_is_named() {
        let (_, p) = load_bytes(b"mail address,name\nx@example.org,X\n");
        assert!(p.has_errors());
        assert!(p.to_string().contains("no `email` column"), "{p}");
    }

    #[test]
    fn excels_sep_line_names_the_delimiter() {
        let (l, p) = load_bytes(b"sep=;\nE-mail;Pr\xe9nom\nanne@example.org;Anne\n");
        assert!(p.is_empty(), "{p}");
        assert_eq!(l.delimiter, b';');
        assert_eq!(l.contacts[0].first_name(), "Anne");
        assert_eq!(l.contacts[0].line(), 3);
    }

    #[test]
    fn an_unclosed_quote_is_named_not_swallowed() {
        let (l, p) = load_bytes(
            b"email;name;language\na@example.fr;A;fr\nb@example.fr;\"unterminated;fr\nc@example.fr;C;fr\n",
        );
        assert_eq!(l.contacts.len(), 1, "only the row before the quote");
        let e: Vec<_> = p.errors().collect();
        assert_eq!(e[0].line, Some(3), "{p}");
        assert!(e[0].message.contains("never closed"), "{p}");
    }

    #[test]
    fn interests_split_on_every_separator_whatever_the_delimiter() {
        assert_eq!(split_interests("a;b|c"), vec!["a", "b", "c"]);
        // A semicolon export whose interests cell was quoted because it holds semicolons.
        let (l, p) = load_bytes(b"email;interests\na@example.org;\"small arms;landmines\"\n");
        assert!(p.is_empty(), "{p}");
        assert_eq!(l.contacts[0].interests(), vec!["small-arms", "landmines"]);
        let (l, _) = load_bytes(
            b"email,interests\na@example.org,\"peace operations, small arms|landmines\"\n",
        );
        assert_eq!(
            l.contacts[0].interests(),
            vec!["peace-operations", "small-arms", "landmines"]
        );
        assert_eq!(
            split_interests("Small Arms, Peace Operations"),
            vec!["small-arms", "peace-operations"]
        );
    }

    #[test]
    fn hostile_cells_are_refused_with_their_line() {
        let name = "N".repeat(MAX_NAME + 1);
        let text = "email,name\n\"a@b.c\r\nRCPT TO:<v@x.y>\",Mallory\nok@example.org,NAME\nfine@example.org,Fine\nx\u{1b}[2J@example.org,Esc\n"
            .replace("NAME", &name);
        let (l, p) = load_bytes(text.as_bytes());
        assert_eq!(l.contacts.len(), 1, "{p}");
        assert_eq!(l.contacts[0].email(), "fine@example.org");
        let errs: Vec<_> = p.errors().map(|e| (e.line, e.message.clone())).collect();
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert_eq!(errs[0].0, Some(2));
        assert!(errs[0].1.contains("control character"), "{}", errs[0].1);
        assert!(errs[1].1.contains("characters long"), "{}", errs[1].1);
        assert_eq!(errs[2].0, Some(6), "a quoted line break counts as a line");
        for (_, m) in &errs {
            assert!(
                !m.contains('\u{1b}') && !m.contains('\r'),
                "raw control byte in {m:?}"
            );
        }
        assert!(!l.contacts.iter().any(|c| c.email().contains("x.y")));
    }

    #[test]
    fn non_ascii_local_parts_need_a_relay_that_says_so() {
        let text = "email\njos\u{e9}@example.org\nuser@b\u{fc}cher.example\n";
        let (l, p) = load_bytes(text.as_bytes());
        assert_eq!(l.contacts.len(), 1);
        assert_eq!(l.contacts[0].email(), "user@b\u{fc}cher.example");
        assert!(p.to_string().contains("smtputf8 = true"), "{p}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.csv");
        std::fs::write(&path, text).unwrap();
        let mut probs = Problems::new();
        let langs = sup();
        let rules = Rules {
            supported: &langs,
            smtputf8: true,
            columns: None,
        };
        let l = load(&path, &rules, &mut probs).unwrap();
        assert_eq!(l.contacts.len(), 2, "{probs}");
    }
}
