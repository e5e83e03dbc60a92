//! Notices: short plain-text messages bulletin sends of its own, one at a time, in one
//! language: the sign-up's confirmation, the approval request. Pure, like the newsletters:
//! the date and the Message-ID's nonce are arguments, so whole messages are compared with
//! golden files.

use serde_json::Value;

use crate::config::Config;
use crate::token::SignupRequest;

/// A notice to one person: who, what, in which language.
pub struct Notice<'a> {
    pub to: &'a str,
    pub to_name: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    pub lang: &'a str,
    /// Names the Message-ID: `<KIND.NONCE@domain>`.
    pub kind: &'a str,
}

/// A notice's envelope sender and bytes.
pub fn notice(
    config: &Config,
    n: &Notice,
    date: std::time::SystemTime,
    nonce: &str,
) -> Result<(String, Vec<u8>), String> {
    use lettre::message::{header::ContentType, Mailbox};
    let from = Mailbox::new(
        Some(config.sender.name.clone()),
        crate::address::wire(&config.sender.address)
            .parse()
            .map_err(|e| format!("the sender's address: {e}"))?,
    );
    let to = Mailbox::new(
        (!n.to_name.is_empty()).then(|| n.to_name.to_string()),
        crate::address::wire(n.to)
            .parse()
            .map_err(|e| format!("the address {}: {e}", n.to))?,
    );
    let domain = config
        .sender
        .address
        .rsplit('@')
        .next()
        .unwrap_or("localhost");
    let mut b = lettre::message::Message::builder()
        .from(from)
        .to(to)
        .subject(n.subject)
        .date(date)
        .message_id(Some(format!(
            "<{}.{nonce}@{}>",
            n.kind,
            crate::address::wire(domain)
        )))
        .header(lettre::message::header::MIME_VERSION_1_0)
        .raw_header(super::raw_header("Content-Language", n.lang.to_string()))
        .header(ContentType::TEXT_PLAIN)
        .header(lettre::message::header::ContentTransferEncoding::QuotedPrintable);
    if let Some(r) = &config.sender.reply_to {
        if let Ok(m) = crate::address::wire(r).parse() {
            b = b.reply_to(Mailbox::new(None, m));
        }
    }
    let message = b.body(n.body.to_string()).map_err(|e| e.to_string())?;
    let envelope_from = config
        .smtp
        .as_ref()
        .and_then(|s| s.envelope_from.clone())
        .unwrap_or_else(|| config.sender.address.clone());
    Ok((crate::address::wire(&envelope_from), message.formatted()))
}

/// The confirmation mail of a sign-up, in its chosen language: its envelope sender and bytes.
/// `strings` are the pages' strings of that language (`serve::page_strings`), with the
/// organisation and its address as the language writes them under `sender`.
pub fn confirmation_mail(
    config: &Config,
    strings: &Value,
    request: &SignupRequest,
    link: &str,
    days: u32,
    date: std::time::SystemTime,
    nonce: &str,
) -> Result<(String, Vec<u8>), String> {
    let text = |k: &str| {
        strings
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or(k)
            .to_string()
    };
    let body = format!(
        "{}\n\n{}\n\n{link}\n\n{}\n\n{}\n\n-- \n{}\n{}\n",
        text("mail_hello"),
        text("mail_body"),
        text("mail_expires").replace("{days}", &days.to_string()),
        text("mail_ignore"),
        strings["sender"]["organisation"]
            .as_str()
            .unwrap_or(&config.sender.organisation),
        strings["sender"]["postal_address"]
            .as_str()
            .unwrap_or(&config.sender.postal_address),
    );
    let subject = text("mail_subject");
    notice(
        config,
        &Notice {
            to: &request.email,
            to_name: &request.name,
            subject: &subject,
            body: &body,
            lang: &request.languages[0],
            kind: "signup",
        },
        date,
        nonce,
    )
}
