//! A recipient and their rendered message in, the finished RFC 5322 message out (bytes plus
//! envelope), built with lettre and signed (DKIM) when a key is given. Pure: no I/O, no clock, no
//! randomness of its own, so preview and send produce the same message from the same inputs.

use std::time::SystemTime;

use lettre::message::header::{ContentTransferEncoding, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::Address;

use crate::audience::Recipient;
use crate::config::Config;
use crate::render::Rendered;
use crate::sign::Signer;

#[derive(Debug, Clone)]
pub struct Composed {
    pub message_id: String,
    /// The envelope as it goes to the relay: addresses in their wire form (domains in ASCII).
    pub envelope_from: String,
    pub envelope_to: String,
    /// The envelope needs SMTPUTF8: an address has letters outside ASCII before the @.
    pub smtputf8: bool,
    pub bytes: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("invalid address {0:?}")]
    Address(String),
    #[error("cannot build the message: {0}")]
    Build(String),
}

/// A value made safe for a header: one line, so that it cannot start a new header.
pub use crate::text::one_line as header_text;

pub use crate::digest::recipient_key;

mod notice;
pub use notice::{confirmation_mail, notice, Notice};

/// What a run stamps on each message besides its content: the run's nonce, which tells two
/// sends of one campaign apart, and the journal's bounce key, which makes each recipient's tag
/// in the Message-ID and the VERP address unguessable (see [`crate::digest::recipient_tag`]).
/// Both are arguments, so that composing stays pure.
#[derive(Debug, Clone)]
pub struct Marks {
    pub nonce: String,
    pub bounce_key: Vec<u8>,
}

impl Marks {
    /// For messages that are not sent (previews, the dry run, the confirmation's samples) and
    /// for test sends, whose bounces nothing records: a key of zeros.
    pub fn unsent(nonce: &str) -> Marks {
        Marks {
            nonce: nonce.to_string(),
            bounce_key: vec![0; 32],
        }
    }
}

/// The Message-ID of a recipient's message: `<CAMPAIGN.TAG.NONCE@DOMAIN>`.
pub fn message_id(config: &Config, campaign_id: &str, email: &str, marks: &Marks) -> String {
    format!(
        "<{campaign_id}.{}.{}@{}>",
        crate::digest::recipient_tag(&marks.bounce_key, campaign_id, email),
        marks.nonce,
        config.message_id_domain()
    )
}

/// The tag of a Message-ID that [`message_id`] made, and its campaign.
pub fn tag_of_message_id(message_id: &str) -> Option<(&str, &str)> {
    let inner = message_id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    let (local, _) = inner.rsplit_once('@')?;
    let mut parts = local.rsplitn(3, '.');
    let (_nonce, tag, campaign) = (parts.next()?, parts.next()?, parts.next()?);
    (tag.len() == 16).then_some((campaign, tag))
}

/// What a placeholder's value may hold as it is in a URL: RFC 3986's unreserved characters.
const URL_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn url_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, URL_VALUE).to_string()
}

/// A recipient's ways to unsubscribe: the link and the mail address, each carrying their token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unsubscribe {
    pub url: Option<String>,
    /// The preference page, with the same token (not a header: only the body shows it).
    pub preferences: Option<String>,
    pub mailto: Option<String>,
}

impl Unsubscribe {
    /// The links of the recipient whose token is `token`, as the config describes them.
    pub fn new(config: &Config, campaign_id: &str, token: &str) -> Unsubscribe {
        let u = &config.unsubscribe;
        Unsubscribe {
            url: u.url.as_ref().map(|url| {
                url.replace("{token}", &url_encode(token))
                    .replace("{campaign}", &url_encode(campaign_id))
            }),
            preferences: u.preferences_url.as_ref().map(|url| {
                url.replace("{token}", &url_encode(token))
                    .replace("{campaign}", &url_encode(campaign_id))
            }),
            mailto: u
                .mailto
                .as_ref()
                .map(|m| format!("mailto:{m}?subject=unsubscribe%20{}", url_encode(token))),
        }
    }
}

/// Encodes a body as quoted-printable (RFC 2045 §6.7) with CRLF line ends, in one pass.
///
/// Our own rather than lettre's `Body::new`: that path scans the body to choose an encoding,
/// copies it to convert line ends, then runs the quoted_printable crate's encoder, and the three
/// together were over a quarter of the time of producing a message (bench/preview.sh). The rules
/// are few and fixed: printable ASCII but `=` passes as is; space and tab pass unless they end a
/// line; everything else is `=XX`; lines stay within 76 characters by soft breaks (`=` CRLF).
pub fn quoted_printable(text: &str) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    // Bytes that may stand as themselves (space and tab only when not ending a line).
    const LITERAL: [bool; 256] = {
        let mut t = [false; 256];
        let mut b = 33;
        while b <= 126 {
            t[b] = b != b'=' as usize;
            b += 1;
        }
        t[b' ' as usize] = true;
        t[b'\t' as usize] = true;
        t
    };
    let bytes = text.as_bytes();
    let n = bytes.len();
    let mut out = Vec::with_capacity(n + n / 16 + 16);
    let mut line = 0usize;
    let mut i = 0;
    while i < n {
        // Copy the longest run of literal bytes that fits on the line, in one go.
        let room = 75 - line;
        let limit = (i + room).min(n);
        let mut j = i;
        while j < limit && LITERAL[bytes[j] as usize] {
            j += 1;
        }
        // White space before a line end (or the end) must be encoded, so the run stops short of it.
        let at_line_end =
            j == n || bytes[j] == b'\n' || (bytes[j] == b'\r' && bytes.get(j + 1) == Some(&b'\n'));
        if at_line_end && j > i && matches!(bytes[j - 1], b' ' | b'\t') {
            j -= 1;
        }
        out.extend_from_slice(&bytes[i..j]);
        line += j - i;
        i = j;
        if i >= n {
            break;
        }
        let b = bytes[i];
        if b == b'\n' || (b == b'\r' && bytes.get(i + 1) == Some(&b'\n')) {
            out.extend_from_slice(b"\r\n");
            line = 0;
            i += if b == b'\r' { 2 } else { 1 };
            continue;
        }
        if LITERAL[b as usize] && !matches!(b, b' ' | b'\t') {
            // The run stopped because the line is full.
            out.extend_from_slice(b"=\r\n");
            line = 0;
            continue;
        }
        let ends_line = matches!(bytes.get(i + 1), None | Some(b'\n') | Some(b'\r'));
        if matches!(b, b' ' | b'\t') && !ends_line {
            // A space that merely did not fit.
            out.extend_from_slice(b"=\r\n");
            line = 0;
            continue;
        }
        if line + 3 > 75 {
            out.extend_from_slice(b"=\r\n");
            line = 0;
        }
        out.extend_from_slice(&[b'=', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
        line += 3;
        i += 1;
    }
    out
}

fn raw_header(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
}

/// The envelope sender, when the config sets one: `envelope_from`, or with VERP its
/// `LOCAL+TAG@DOMAIN` form, TAG naming the recipient to the journal only (see
/// [`crate::digest::recipient_tag`]).
pub fn envelope_sender(
    config: &Config,
    campaign_id: &str,
    email: &str,
    marks: &Marks,
) -> Option<String> {
    let smtp = config.smtp.as_ref()?;
    let base = crate::address::wire(smtp.envelope_from.as_ref()?);
    if !smtp.verp {
        return Some(base);
    }
    let (local, domain) = base.rsplit_once('@')?;
    Some(format!(
        "{local}+{}@{domain}",
        crate::digest::recipient_tag(&marks.bounce_key, campaign_id, email)
    ))
}

/// The MIME boundary of a message, derived from its Message-ID so that the same inputs give the
/// same bytes. It starts with `=_`, which quoted-printable text can never contain.
fn boundary(message_id: &str) -> String {
    format!("=_{}", crate::digest::of([message_id.as_bytes()]))
}

/// A file a message carries, read and encoded once for every message that carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// As the reader sees it; lettre encodes names outside ASCII per RFC 2231.
    pub filename: String,
    pub content_type: String,
    /// The content in base64, in lines of 76 characters ending in CRLF.
    pub base64: Vec<u8>,
}

impl Attachment {
    pub fn new(filename: &str, content_type: &str, content: &[u8]) -> Attachment {
        let encoded = data_encoding::BASE64.encode(content);
        let mut base64 = Vec::with_capacity(encoded.len() + encoded.len() / 38 + 2);
        for line in encoded.as_bytes().chunks(76) {
            base64.extend_from_slice(line);
            base64.extend_from_slice(b"\r\n");
        }
        Attachment {
            filename: filename.to_string(),
            content_type: content_type.to_string(),
            base64,
        }
    }
}

/// What varies from one sending of a message to the next, given by the caller so that
/// [`compose`] stays pure: same inputs, same bytes.
pub struct Stamp<'a> {
    /// The Date header, and the DKIM signature's time.
    pub date: SystemTime,
    pub message_id: &'a str,
    /// The recipient's unsubscribe links.
    pub unsubscribe: &'a Unsubscribe,
    /// The envelope sender, when bounces go elsewhere than From.
    pub envelope_from: Option<&'a str>,
    /// The DKIM key, when messages are signed.
    pub dkim: Option<&'a Signer>,
    /// The files the message carries.
    pub attachments: &'a [std::sync::Arc<Attachment>],
}

/// Builds the message.
pub fn compose(
    config: &Config,
    r: &Recipient,
    rendered: &Rendered,
    stamp: &Stamp,
) -> Result<Composed, ComposeError> {
    let Stamp {
        date,
        message_id,
        unsubscribe,
        envelope_from,
        dkim,
        attachments,
    } = *stamp;
    let s = &config.sender;
    // Domains outside ASCII go as punycode, in headers as on the wire.
    let from_addr: Address = crate::address::wire(&s.address)
        .parse()
        .map_err(|_| ComposeError::Address(s.address.clone()))?;
    let to_addr: Address = crate::address::wire(r.contact.email())
        .parse()
        .map_err(|_| ComposeError::Address(r.contact.email().to_string()))?;
    let to_name = header_text(&r.contact.display_name());
    let mut b = lettre::Message::builder()
        .from(Mailbox::new(Some(header_text(&s.name)), from_addr.clone()))
        .to(Mailbox::new(
            (!to_name.is_empty()).then_some(to_name),
            to_addr.clone(),
        ))
        .subject(header_text(&rendered.subject))
        .date(date)
        .message_id(Some(message_id.to_string()))
        .raw_header(raw_header("Content-Language", r.langs.join(", ")))
        .raw_header(raw_header(
            "List-Id",
            format!("<{}>", header_text(&config.list_id())),
        ));
    if let Some(reply) = &s.reply_to {
        let addr: Address = reply
            .parse()
            .map_err(|_| ComposeError::Address(reply.clone()))?;
        b = b.reply_to(Mailbox::new(Some(header_text(&s.name)), addr));
    }
    let b = unsubscribe_headers(b, unsubscribe);
    let body = parts(rendered, message_id, attachments)?;
    let msg = b
        .multipart(body)
        .map_err(|e| ComposeError::Build(e.to_string()))?;
    let mut bytes = msg.formatted();
    check_header_lines(&bytes)?;
    if let Some(signer) = dkim {
        let t = date
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        bytes = signer.sign(bytes, t);
    }
    let envelope_from = envelope_from.map_or_else(|| from_addr.to_string(), str::to_string);
    let envelope_to = to_addr.to_string();
    Ok(Composed {
        message_id: message_id.to_string(),
        smtputf8: crate::address::needs_smtputf8(&envelope_from)
            || crate::address::needs_smtputf8(&envelope_to),
        envelope_from,
        envelope_to,
        bytes,
    })
}

/// RFC 2369's List-Unsubscribe with the recipient's links, and RFC 8058's one-click POST when
/// the web link is secure.
fn unsubscribe_headers(
    mut b: lettre::message::MessageBuilder,
    unsubscribe: &Unsubscribe,
) -> lettre::message::MessageBuilder {
    let links: Vec<String> = [&unsubscribe.url, &unsubscribe.mailto]
        .into_iter()
        .flatten()
        .map(|l| format!("<{}>", header_text(l)))
        .collect();
    if !links.is_empty() {
        b = b.raw_header(raw_header("List-Unsubscribe", links.join(", ")));
    }
    if unsubscribe
        .url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"))
    {
        // RFC 8058: the link unsubscribes with one POST, no page to read first.
        b = b.raw_header(raw_header(
            "List-Unsubscribe-Post",
            "List-Unsubscribe=One-Click".to_string(),
        ));
    }
    b
}

/// The text and HTML as alternatives, quoted-printable; with attachments, inside a
/// multipart/mixed. Boundaries come from the Message-ID, so a message is made the same twice.
fn parts(
    rendered: &Rendered,
    message_id: &str,
    attachments: &[std::sync::Arc<Attachment>],
) -> Result<MultiPart, ComposeError> {
    let qp = |s: &str| {
        Body::dangerous_pre_encoded(
            quoted_printable(s),
            ContentTransferEncoding::QuotedPrintable,
        )
    };
    let body = MultiPart::alternative()
        .boundary(boundary(message_id))
        .singlepart(SinglePart::plain(qp(&rendered.text)))
        .singlepart(SinglePart::html(qp(&rendered.html)));
    if attachments.is_empty() {
        return Ok(body);
    }
    // multipart/mixed around the alternative, with a boundary of its own.
    let mut mixed = MultiPart::mixed()
        .boundary(boundary(&format!("mixed{message_id}")))
        .multipart(body);
    for a in attachments {
        let content_type = lettre::message::header::ContentType::parse(&a.content_type)
            .map_err(|e| ComposeError::Build(format!("{}: {e}", a.filename)))?;
        mixed = mixed.singlepart(lettre::message::Attachment::new(a.filename.clone()).body(
            Body::dangerous_pre_encoded(a.base64.clone(), ContentTransferEncoding::Base64),
            content_type,
        ));
    }
    Ok(mixed)
}

/// RFC 5322 §2.1.1: no line of a message may exceed 998 octets. Bodies are quoted-printable and
/// folded headers stay short, but a value without spaces (a pasted token in a subject) cannot be
/// folded: such a message is refused, not sent broken.
fn check_header_lines(bytes: &[u8]) -> Result<(), ComposeError> {
    let head_end = memchr::memmem::find(bytes, b"\r\n\r\n").unwrap_or(bytes.len());
    for line in bytes[..head_end].split(|b| *b == b'\n') {
        if line.len() > 999 {
            let name = line.split(|b| *b == b':').next().unwrap_or_default();
            return Err(ComposeError::Build(format!(
                "the {} header would be a line of {} octets, over the 998 that mail allows: shorten the value that fills it",
                String::from_utf8_lossy(&name[..name.len().min(40)]),
                line.len() - 1
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipient_key_is_stable_and_distinct() {
        assert_eq!(recipient_key("c", "a@x.org"), recipient_key("c", "a@x.org"));
        assert_ne!(recipient_key("c", "a@x.org"), recipient_key("c", "b@x.org"));
        assert_ne!(recipient_key("c", "a@x.org"), recipient_key("d", "a@x.org"));
    }

    #[test]
    fn quoted_printable_round_trips_and_keeps_lines_short() {
        let long = "é".repeat(100) + " fin ";
        for text in [
            "plain ascii\nsecond line\n",
            "a = b\ttab \ntrailing space \r\nend",
            long.as_str(),
            &"x".repeat(300),
            "<p style=\"color: #fff\">Français → ok</p>\n\n\n",
            "lone\rcarriage",
            "many spaces   \t \nand at the end  \t",
            &(" ".repeat(200) + "\n" + &"\t".repeat(90)),
            &("=".repeat(80) + &"ab ".repeat(60)),
        ] {
            let enc = quoted_printable(text);
            for l in enc.split(|b| *b == b'\n') {
                assert!(
                    l.len() <= 77,
                    "line too long: {}",
                    String::from_utf8_lossy(l)
                );
                let l = l.strip_suffix(b"\r").unwrap_or(l);
                assert!(
                    !l.ends_with(b" ") && !l.ends_with(b"\t"),
                    "trailing white space"
                );
            }
            assert!(enc.iter().all(|b| b.is_ascii()));
            let dec =
                mail_parser::decoders::quoted_printable::quoted_printable_decode(&enc).unwrap();
            let want = text.replace("\r\n", "\n").replace('\n', "\r\n");
            assert_eq!(String::from_utf8(dec).unwrap(), want, "{text:?}");
        }
    }

    #[test]
    fn url_encoding_of_placeholders() {
        assert_eq!(url_encode("a+b@x.org"), "a%2Bb%40x.org");
        assert_eq!(url_encode("AbC-_9"), "AbC-_9", "tokens go as they are");
    }
}
