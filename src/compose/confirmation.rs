//! The confirmation mail of a sign-up: the request and its link in, a plain-text message in
//! the chosen language out, with its envelope sender. Pure, like the newsletters: the date and
//! the Message-ID's nonce are arguments, so the whole message is compared with a golden file.

use serde_json::Value;

use crate::config::Config;
use crate::token::SignupRequest;

/// The confirmation mail, plain text in the chosen language: its envelope sender and bytes.
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
    use lettre::message::{header::ContentType, Mailbox};
    let text = |k: &str| {
        strings
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or(k)
            .to_string()
    };
    let from = Mailbox::new(
        Some(config.sender.name.clone()),
        crate::address::wire(&config.sender.address)
            .parse()
            .map_err(|e| format!("the sender's address: {e}"))?,
    );
    let to_name = (!request.name.is_empty()).then(|| request.name.clone());
    let to = Mailbox::new(
        to_name,
        crate::address::wire(&request.email)
            .parse()
            .map_err(|e| format!("the address: {e}"))?,
    );
    let domain = config
        .sender
        .address
        .rsplit('@')
        .next()
        .unwrap_or("localhost");
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
    let mut b = lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(text("mail_subject"))
        .date(date)
        .message_id(Some(format!(
            "<signup.{nonce}@{}>",
            crate::address::wire(domain)
        )))
        .header(lettre::message::header::MIME_VERSION_1_0)
        .raw_header(super::raw_header(
            "Content-Language",
            request.languages[0].clone(),
        ))
        .header(ContentType::TEXT_PLAIN)
        .header(lettre::message::header::ContentTransferEncoding::QuotedPrintable);
    if let Some(r) = &config.sender.reply_to {
        if let Ok(m) = crate::address::wire(r).parse() {
            b = b.reply_to(Mailbox::new(None, m));
        }
    }
    let message = b.body(body).map_err(|e| e.to_string())?;
    let envelope_from = config
        .smtp
        .as_ref()
        .and_then(|s| s.envelope_from.clone())
        .unwrap_or_else(|| config.sender.address.clone());
    Ok((crate::address::wire(&envelope_from), message.formatted()))
}
