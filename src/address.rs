//! An e-mail address as a contact list holds it (one cell, as people paste it) in, exactly one
//! address out: its canonical form (the key that dedupes and journals it), the form that goes on
//! the wire (domain in ASCII, RFC 5890 A-labels), and whether it needs SMTPUTF8 (RFC 6531) — or
//! the reason the cell is refused. Nothing is ever rewritten into another address: a cell that is
//! not exactly one address is refused, never guessed at.

use crate::term;

/// RFC 5321 §4.5.3.1: a path holds at most 256 octets, so an address at most 254.
pub const MAX_ADDRESS: usize = 254;
/// RFC 5321 §4.5.3.1.1.
pub const MAX_LOCAL: usize = 64;

/// One address read from a cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// Lower case, domain in Unicode: `user@bücher.example` and `USER@xn--bcher-kva.example`
    /// are the same recipient.
    pub email: String,
    /// The display name written around it (`Jane Doe <jane@example.org>`), if any.
    pub name: Option<String>,
}

/// Whether the address needs a relay that speaks SMTPUTF8: its local part is not ASCII. A
/// non-ASCII domain alone does not: it goes as punycode.
pub fn needs_smtputf8(email: &str) -> bool {
    !email.rsplit_once('@').map_or(email, |(l, _)| l).is_ascii()
}

/// The address as it goes to the relay and in headers: the domain in ASCII.
pub fn wire(email: &str) -> String {
    match email.rsplit_once('@') {
        Some((local, domain)) if !domain.is_ascii() => match idna::domain_to_ascii_strict(domain) {
            Ok(d) => format!("{local}@{d}"),
            Err(_) => email.to_string(),
        },
        _ => email.to_string(),
    }
}

fn forbidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200B}'..='\u{200F}' | '\u{2060}' | '\u{FEFF}' | '\u{2028}' | '\u{2029}')
}

/// Characters people leave around a cell's value: spaces, non-breaking spaces.
fn trim(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || c == '\u{a0}')
}

/// Why a cell or an address is refused. Addresses and cells are held quoted and cleaned for a
/// terminal ([`term::quoted`]), since they come from files anyone may have written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("the email cell is empty")]
    Empty,
    #[error(
        "the email cell {cell} contains a control character ({c}): one plain address per cell"
    )]
    ControlInCell { cell: String, c: String },
    #[error("the email cell is {0} bytes long: an address has at most {MAX_ADDRESS}")]
    CellTooLong(usize),
    #[error("{0} is not an e-mail address (no @)")]
    NoAt(String),
    #[error("the email cell {0} holds more than one @: give one address per cell")]
    SeveralAts(String),
    #[error("the email cell {0} is not one address: write `Name <address>` or the address alone")]
    NotOne(String),
    #[error("the name in the email cell {0} has stray quotes")]
    StrayQuotes(String),
    #[error("{addr} is not an e-mail address (it contains {what})")]
    Contains { addr: String, what: &'static str },
    #[error("{0} is not an e-mail address: something must stand on both sides of the @")]
    OneSided(String),
    #[error("{0} uses a quoted name or an IP address: bulletin accepts plain addresses at a domain name")]
    QuotedOrIp(String),
    #[error("{addr} has {len} bytes before the @: the limit is {MAX_LOCAL}")]
    LocalTooLong { addr: String, len: usize },
    #[error("{0} has no valid domain after the @")]
    BadDomain(String),
    #[error("{0} has no valid domain after the @ (a domain has a dot, as in example.org)")]
    NoDot(String),
    #[error("{0} is longer than the {MAX_ADDRESS} bytes an address may have")]
    TooLong(String),
    #[error("{0} is not a valid e-mail address")]
    NotValid(String),
    #[error("the domain of {0} holds characters that would change on the way (a soft hyphen, full-width letters or the like): write it plainly")]
    DomainChanges(String),
}

/// Reads one cell. Accepted: `addr`, `mailto:addr`, `<addr>`, `Name <addr>`, `"Name" <addr>`.
pub fn parse_cell(raw: &str) -> Result<Parsed, Invalid> {
    let s = trim(raw);
    if s.is_empty() {
        return Err(Invalid::Empty);
    }
    if let Some(c) = s.chars().find(|c| forbidden(*c)) {
        return Err(Invalid::ControlInCell {
            cell: term::quoted(s),
            c: term::clean(&c.to_string()).into_owned(),
        });
    }
    if s.len() > 4 * MAX_ADDRESS {
        return Err(Invalid::CellTooLong(s.len()));
    }
    let (name, addr) = match (s.find('<'), s.ends_with('>')) {
        (Some(open), true) => {
            let inner = &s[open + 1..s.len() - 1];
            let before = trim(&s[..open]);
            if inner.contains(['<', '>']) || before.contains(['<', '>']) {
                return Err(Invalid::NotOne(term::quoted(s)));
            }
            let n = trim(
                before
                    .strip_prefix('"')
                    .and_then(|b| b.strip_suffix('"'))
                    .unwrap_or(before),
            );
            if n.contains('"') {
                return Err(Invalid::StrayQuotes(term::quoted(s)));
            }
            ((!n.is_empty()).then_some(n), trim(inner))
        }
        (None, false) if !s.contains('>') => (None, s),
        _ => return Err(Invalid::NotOne(term::quoted(s))),
    };
    let addr = addr
        .strip_prefix("mailto:")
        .or_else(|| addr.strip_prefix("MAILTO:"))
        .unwrap_or(addr);
    // Outlook writes the address as the name too (`"jane@example.org" <jane@example.org>`):
    // that is one address, with no name, and its @ are counted in the address alone. A name
    // that is another address is not one address.
    let name = match name {
        Some(n) if n.contains('@') && n.eq_ignore_ascii_case(addr) => None,
        Some(n) if n.contains('@') => return Err(Invalid::NotOne(term::quoted(s))),
        n => n.map(str::to_string),
    };
    let ats = addr.matches('@').count();
    if ats == 0 {
        return Err(Invalid::NoAt(term::quoted(s)));
    }
    if ats > 1 {
        return Err(Invalid::SeveralAts(term::quoted(s)));
    }
    let email = check(addr)?;
    Ok(Parsed { email, name })
}

/// Checks a bare address and gives its canonical form.
pub fn check(addr: &str) -> Result<String, Invalid> {
    if addr.is_empty() {
        return Err(Invalid::Empty);
    }
    if let Some(c) = addr.chars().find(|c| c.is_whitespace() || forbidden(*c)) {
        let what = if c.is_whitespace() && !c.is_control() {
            "a space"
        } else {
            "a control character"
        };
        return Err(Invalid::Contains {
            addr: term::quoted(addr),
            what,
        });
    }
    let quoted = || term::quoted(addr);
    let Some((local, domain)) = addr.rsplit_once('@') else {
        return Err(Invalid::NoAt(quoted()));
    };
    if local.is_empty() || domain.is_empty() {
        return Err(Invalid::OneSided(quoted()));
    }
    if local.starts_with('"') || domain.starts_with('[') {
        return Err(Invalid::QuotedOrIp(quoted()));
    }
    if local.len() > MAX_LOCAL {
        return Err(Invalid::LocalTooLong {
            addr: quoted(),
            len: local.len(),
        });
    }
    let ascii_domain =
        idna::domain_to_ascii_strict(domain).map_err(|_| Invalid::BadDomain(quoted()))?;
    if !ascii_domain.contains('.') || ascii_domain.ends_with('.') {
        return Err(Invalid::NoDot(quoted()));
    }
    let local = local.to_lowercase();
    if local.len() + 1 + ascii_domain.len() > MAX_ADDRESS {
        return Err(Invalid::TooLong(quoted()));
    }
    // lettre's own check of the local part (RFC 5321 atoms and dots, RFC 6531 UTF-8).
    if lettre::Address::new(&local, &ascii_domain).is_err() {
        return Err(Invalid::NotValid(quoted()));
    }
    let (unicode_domain, _) = idna::domain_to_unicode(&ascii_domain);
    // IDNA maps some characters away (soft hyphens, full-width letters): the address would then
    // go to another domain than the one written. Only a change of case is accepted.
    let lower = domain.to_lowercase();
    let written = if domain.is_ascii() {
        &ascii_domain
    } else {
        &unicode_domain
    };
    if *written != lower {
        return Err(Invalid::DomainChanges(quoted()));
    }
    Ok(format!("{local}@{unicode_domain}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(s: &str) -> String {
        parse_cell(s).unwrap().email
    }

    #[test]
    fn accepts_what_people_paste() {
        assert_eq!(email(" <MAILTO:X@Y.org> "), "x@y.org");
        assert_eq!(
            parse_cell("Jane Doe <jane@example.org>").unwrap(),
            Parsed {
                email: "jane@example.org".into(),
                name: Some("Jane Doe".into())
            }
        );
        assert_eq!(
            parse_cell("\"Doe, Jane\" <jane@example.org>")
                .unwrap()
                .name
                .as_deref(),
            Some("Doe, Jane")
        );
        assert_eq!(email("\u{a0}anne@example.org\u{a0}"), "anne@example.org");
        // Outlook's export: the address as its own name.
        assert_eq!(
            parse_cell("\"Jane3@Example.org\" <jane3@example.org>").unwrap(),
            Parsed {
                email: "jane3@example.org".into(),
                name: None
            }
        );
    }

    #[test]
    fn refuses_anything_but_one_address() {
        for bad in [
            "a@b.c\r\nRCPT TO:<v@x.y>",
            "a@b.c\nv@x.y",
            "a@b.c <v@x.y>",
            "a@x.org, b@y.org",
            "a@x.org; b@y.org",
            "<a@x.org> <b@y.org>",
            "Jane <jane@example.org> x",
            "jane doe@example.org",
            "jane@example",
            "jane@",
            "@example.org",
            "\"a b\"@example.org",
            "jane@[127.0.0.1]",
            "ja\u{1b}[31mne@example.org",
            "jane@exa\u{202e}mple.org",
            "ann@exa\u{ad}mple.net",
            "ann@\u{ff45}xample.net",
            "ann@example\u{3002}net",
            "",
        ] {
            assert!(parse_cell(bad).is_err(), "accepted {bad:?}");
        }
        let e = parse_cell("a@b.c\r\nRCPT TO:<v@x.y>").unwrap_err();
        assert!(matches!(e, Invalid::ControlInCell { .. }), "{e}");
        let e = e.to_string();
        assert!(!e.contains('\r') && !e.contains('\n'), "{e}");
        let e = parse_cell("x\u{1b}]0;pwned\u{7}@example.org")
            .unwrap_err()
            .to_string();
        assert!(!e.contains('\u{1b}') && !e.contains('\u{7}'), "{e}");
    }

    #[test]
    fn limits_lengths() {
        let long_local = format!("{}@example.org", "a".repeat(65));
        assert!(matches!(
            parse_cell(&long_local),
            Err(Invalid::LocalTooLong { len: 65, .. })
        ));
        let long_domain = format!("a@{}.org", "b".repeat(250));
        assert!(parse_cell(&long_domain).is_err());
        let huge = "x".repeat(50_000_000);
        assert_eq!(parse_cell(&huge), Err(Invalid::CellTooLong(50_000_000)));
    }

    #[test]
    fn internationalised_addresses() {
        assert_eq!(email("User@Bücher.example"), "user@bücher.example");
        assert_eq!(email("user@xn--bcher-kva.example"), "user@bücher.example");
        assert_eq!(wire("user@bücher.example"), "user@xn--bcher-kva.example");
        assert!(!needs_smtputf8("user@bücher.example"));
        assert_eq!(email("José@example.org"), "josé@example.org");
        assert!(needs_smtputf8("josé@example.org"));
        assert_eq!(wire("josé@example.org"), "josé@example.org");
        assert_eq!(wire("plain@example.org"), "plain@example.org");
    }
}
