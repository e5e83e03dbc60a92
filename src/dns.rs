//! A config and its DKIM key (if any) in, the DNS records its sending domains need out (SPF,
//! DKIM, DMARC), as guidance for people to publish. No lookups: checking what is published is
//! left to the team's DNS tools, so `check` works offline and says the same thing every time.

use crate::config::{domain_of, Config};
use crate::sign::Signer;

/// One record to publish, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// What it is for: "SPF", "DKIM", "DMARC".
    pub kind: &'static str,
    /// The DNS name (a TXT record), without the final dot.
    pub name: String,
    /// The TXT value, or what to put in it when only the team can know (their relay's SPF).
    pub value: String,
    pub note: String,
}

fn ascii_domain(addr: &str) -> String {
    domain_of(&crate::address::wire(addr)).to_ascii_lowercase()
}

/// The records for sending as the config's From address through its relay.
/// `signer` is the loaded DKIM key: without it the DKIM record cannot be written out.
pub fn records(config: &Config, signer: Option<&Signer>) -> Vec<Record> {
    let from = ascii_domain(&config.sender.address);
    let smtp = config.smtp.as_ref();
    let bounce = smtp
        .and_then(|s| s.envelope_from.as_deref())
        .map_or_else(|| from.clone(), ascii_domain);
    let relay = smtp.map(|s| s.host.trim().to_string());
    let mut out = Vec::new();

    let (value, mut note) = match relay.as_deref() {
        Some(h) if !is_local(h) => (
            format!("v=spf1 a:{h} ~all"),
            format!("SPF names the servers that send for {bounce} (the envelope sender's domain): a:{h} stands for the relay's address, which may not be the address its mail leaves from, so use the include: your provider documents if there is one. If the domain already has a v=spf1 record, add to it rather than publishing a second one; move to -all once every sender of the domain is listed"),
        ),
        _ => (
            "v=spf1 include:<your relay provider's SPF> ~all".to_string(),
            format!("SPF names the servers that send for {bounce}; the relay is not set or is on this machine, so bulletin cannot say which: use what your mail provider documents"),
        ),
    };
    if !aligned(&bounce, &from) {
        note.push_str(&format!(". {bounce} is not in {from}'s organisational domain, so SPF cannot align with From for DMARC: DMARC then rests on DKIM alone"));
    }
    out.push(Record {
        kind: "SPF",
        name: bounce.clone(),
        value,
        note,
    });

    match (config.dkim.as_ref(), signer) {
        (Some(_), Some(s)) => out.push(Record {
            kind: "DKIM",
            name: s.dns_name(),
            value: s.dns_value(),
            note: format!(
                "the public half of {} ({} bits); bulletin signs every message with it",
                config.dkim.as_ref().map_or_else(String::new, |d| d.key_file.display().to_string()),
                s.bits()
            ),
        }),
        (Some(d), None) => out.push(Record {
            kind: "DKIM",
            name: format!(
                "{}._domainkey.{}",
                d.selector,
                config.dkim_domain().unwrap_or_default()
            ),
            value: "(the key file cannot be read here: run `bulletin dkim record` where it is)"
                .to_string(),
            note: "the public half of the [dkim] key".to_string(),
        }),
        (None, _) => out.push(Record {
            kind: "DKIM",
            name: format!("SELECTOR._domainkey.{from}"),
            value: "(no [dkim] section: bulletin does not sign)".to_string(),
            note: format!("Gmail, Yahoo and Outlook require bulk mail signed for {from}: run `bulletin dkim keygen --selector NAME` and add [dkim], or have your relay sign for {from} and publish its key"),
        }),
    }

    out.push(Record {
        kind: "DMARC",
        name: format!("_dmarc.{from}"),
        value: format!("v=DMARC1; p=none; rua=mailto:dmarc-reports@{from}"),
        note: format!("required of bulk senders; start with p=none and read the reports sent to dmarc-reports@{from} (or another mailbox), then move to p=quarantine once SPF and DKIM pass"),
    });
    out
}

/// The organisational domain of `domain` (RFC 7489 §3.2): the registrable domain under the
/// public suffix list, `example.co.uk` for `news.example.co.uk`.
pub fn org_domain(domain: &str) -> String {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    psl::domain_str(&d).unwrap_or(&d).to_string()
}

/// Whether two domains align under DMARC's default relaxed mode: one organisational domain.
pub fn aligned(a: &str, b: &str) -> bool {
    org_domain(a) == org_domain(b)
}

/// A relay on this machine (a local Postfix, a test server) says nothing about the outside.
fn is_local(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A TXT value as a zone file takes it: quoted strings of at most 255 characters each (an RSA
/// key's record is longer than one string may be).
pub fn zone_strings(value: &str) -> String {
    value
        .as_bytes()
        .chunks(255)
        .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_split_for_zone_files() {
        let v = "p=".to_string() + &"A".repeat(400);
        let z = zone_strings(&v);
        let parts: Vec<&str> = z.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.len() <= 257 && p.starts_with('"')));
        assert_eq!(z.replace(['"', ' '], ""), v);
    }

    #[test]
    fn alignment_is_by_organisational_domain() {
        assert!(aligned("news.example.org", "example.org"));
        assert!(aligned("news.example.org", "mail.example.org"));
        assert!(aligned("a.example.co.uk", "b.example.co.uk"));
        assert!(
            !aligned("example.co.uk", "other.co.uk"),
            "co.uk is a public suffix"
        );
        assert!(!aligned("example.org", "example.net"));
    }

    #[test]
    fn loopback_relays_are_local() {
        assert!(is_local("127.0.0.1"));
        assert!(is_local("localhost"));
        assert!(is_local("[::1]"));
        assert!(!is_local("smtp.example.org"));
    }
}
