//! A recipient and their rendered message in, the finished RFC 5322 message out (bytes plus
//! envelope), built with lettre. Pure: no I/O, no clock, no randomness of its own, so preview and
//! send produce the same message from the same inputs.

use std::time::SystemTime;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::Address;
use sha2::{Digest, Sha256};

use crate::audience::Recipient;
use crate::config::Config;
use crate::render::Rendered;

#[derive(Debug, Clone)]
pub struct Composed {
    pub message_id: String,
    pub from: Address,
    pub to: Address,
    pub bytes: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("invalid address {0:?}")]
    Address(String),
    #[error("cannot build the message: {0}")]
    Build(String),
}

/// A value made safe for a header: control characters (CR and LF above all, which would start a
/// new header) become spaces, and runs of white space fold into one.
pub fn header_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split(|c: char| c.is_whitespace() || c.is_control()) {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// A short stable digest of a recipient within a campaign, used in Message-IDs and file names.
pub fn recipient_key(campaign_id: &str, email: &str) -> String {
    let mut h = Sha256::new();
    h.update(campaign_id.as_bytes());
    h.update([0]);
    h.update(email.as_bytes());
    let d = h.finalize();
    d.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The Message-ID of a recipient's message; `nonce` tells apart two sends of one campaign.
pub fn message_id(config: &Config, campaign_id: &str, email: &str, nonce: &str) -> String {
    format!("<{campaign_id}.{}.{nonce}@{}>", recipient_key(campaign_id, email), config.message_id_domain())
}

fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The recipient's own unsubscribe link, when the config sets one.
pub fn unsubscribe_url(config: &Config, campaign_id: &str, email: &str) -> Option<String> {
    let url = config.unsubscribe.url.as_ref()?;
    Some(url.replace("{email}", &url_encode(email)).replace("{campaign}", &url_encode(campaign_id)))
}

fn raw_header(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
}

/// Builds the message. `date` and `message_id` come from the caller, keeping this function pure.
pub fn compose(
    config: &Config,
    campaign_id: &str,
    r: &Recipient,
    rendered: &Rendered,
    date: SystemTime,
    message_id: &str,
) -> Result<Composed, ComposeError> {
    let s = &config.sender;
    let from_addr: Address = s.address.parse().map_err(|_| ComposeError::Address(s.address.clone()))?;
    let to_addr: Address = r.contact.email.parse().map_err(|_| ComposeError::Address(r.contact.email.clone()))?;
    let to_name = header_text(&r.contact.display_name());
    let mut b = lettre::Message::builder()
        .from(Mailbox::new(Some(header_text(&s.name)), from_addr.clone()))
        .to(Mailbox::new((!to_name.is_empty()).then_some(to_name), to_addr.clone()))
        .subject(header_text(&rendered.subject))
        .date(date)
        .message_id(Some(message_id.to_string()))
        .raw_header(raw_header("Content-Language", r.langs.join(", ")))
        .raw_header(raw_header("List-Id", format!("<{}>", header_text(&config.list_id()))));
    if let Some(reply) = &s.reply_to {
        let addr: Address = reply.parse().map_err(|_| ComposeError::Address(reply.clone()))?;
        b = b.reply_to(Mailbox::new(Some(header_text(&s.name)), addr));
    }
    let mut unsub = Vec::new();
    if let Some(url) = unsubscribe_url(config, campaign_id, &r.contact.email) {
        unsub.push(format!("<{}>", header_text(&url)));
    }
    if let Some(m) = &config.unsubscribe.mailto {
        unsub.push(format!("<mailto:{m}?subject=unsubscribe>"));
    }
    if !unsub.is_empty() {
        b = b.raw_header(raw_header("List-Unsubscribe", unsub.join(", ")));
    }
    let body = MultiPart::alternative()
        .singlepart(SinglePart::plain(rendered.text.clone()))
        .singlepart(SinglePart::html(rendered.html.clone()));
    let msg = b.multipart(body).map_err(|e| ComposeError::Build(e.to_string()))?;
    Ok(Composed {
        message_id: message_id.to_string(),
        from: from_addr,
        to: to_addr,
        bytes: msg.formatted(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_text_cannot_start_a_header() {
        assert_eq!(header_text("Jane\r\nBcc: evil@example.com"), "Jane Bcc: evil@example.com");
        assert_eq!(header_text("  a \t b\u{0}c "), "a b c");
    }

    #[test]
    fn recipient_key_is_stable_and_distinct() {
        assert_eq!(recipient_key("c", "a@x.org"), recipient_key("c", "a@x.org"));
        assert_ne!(recipient_key("c", "a@x.org"), recipient_key("c", "b@x.org"));
        assert_ne!(recipient_key("c", "a@x.org"), recipient_key("d", "a@x.org"));
    }

    #[test]
    fn url_encoding_of_placeholders() {
        assert_eq!(url_encode("a+b@x.org"), "a%2Bb%40x.org");
    }
}
