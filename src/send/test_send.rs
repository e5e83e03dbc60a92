//! Test sends: a prepared campaign and an address in, one sample per language (and a bilingual
//! one) sent to it, marked "[TEST]", outside the journal.

use std::sync::Arc;

use serde::Serialize;

use super::client::Client;
use super::SendError;
use crate::clock;
use crate::project::Prepared;
use crate::Error;

/// One test message per language the campaign goes out in, and a bilingual one, to `to`.
#[derive(Debug, Clone, Serialize)]
pub struct TestSent {
    pub langs: String,
    pub sample_of: String,
    pub to: String,
    pub subject: String,
    pub reply: String,
}

/// Sends samples of the campaign to test addresses, marked "[TEST]": one per language and a
/// bilingual one, or with `as_contact` that contact's own message. Nobody's delivery is
/// recorded; the journal only notes that this content was test-sent, for `send` to say.
/// A `--to` address on the suppression list is refused unless `to_suppressed` says the
/// operator means it: someone who left must not get mail because a colleague typed them.
pub fn test_send(
    p: &Prepared,
    store: &crate::journal::Store,
    to: &[String],
    as_contact: Option<&str>,
    to_suppressed: bool,
) -> std::result::Result<Vec<TestSent>, SendError> {
    let mut addrs: Vec<lettre::Address> = Vec::new();
    for t in to {
        addrs.push(
            t.parse().map_err(|_| {
                SendError::Setup(format!("--to {t:?} is not a valid e-mail address"))
            })?,
        );
    }
    if addrs.is_empty() {
        return Err(SendError::Setup("give at least one --to address".into()));
    }
    if !to_suppressed {
        refuse_suppressed(store, to)?;
    }
    // The gate, as for a send, but for the journal: a test send records no delivery.
    let g = super::gate::check(&p.config, super::gate::Asked::default());
    let settings = match g.relays {
        Some(r) if g.problems.is_empty() => r.list[0].settings.clone(),
        _ => return Err(SendError::Refused(g.problems)),
    };
    let chosen = samples_of(p, as_contact)?;
    let mut samples = Vec::new();
    for r in chosen {
        for addr in &addrs {
            let mut r = r.clone();
            let sample_of = r.contact.email().to_string();
            r.contact = r.contact.with_email(addr.as_ref());
            samples.push((r, sample_of));
        }
    }
    transmit(p, settings, samples).and_then(|out| {
        let journal = store.journal()?;
        journal.record_test_send(&p.campaign.id, &p.content_hash(), &to.join(", "))?;
        Ok(out)
    })
}

/// The recipients whose messages are sampled: the one asked for (`--as`), else a real
/// recipient of each language and of the bilingual combination. Without one, the first
/// recipient stands in with the combination's languages.
fn samples_of(
    p: &Prepared,
    as_contact: Option<&str>,
) -> std::result::Result<Vec<crate::audience::Recipient>, SendError> {
    if let Some(who) = as_contact {
        let who = who.trim().to_lowercase();
        let r = p
            .audience
            .recipients
            .iter()
            .find(|r| r.contact.email() == who)
            .ok_or_else(|| {
                SendError::Setup(format!(
                    "{who} is not among the campaign's recipients (left out, or on no list): `bulletin audience {}` says who is",
                    p.campaign.id
                ))
            })?;
        return Ok(vec![r.clone()]);
    }
    let mut combos: Vec<Vec<String>> = p
        .campaign
        .languages
        .iter()
        .map(|l| vec![l.clone()])
        .collect();
    if p.campaign.languages.len() > 1 {
        combos.push(p.campaign.languages.clone());
    }
    let first = p.audience.recipients.first().ok_or_else(|| {
        SendError::Setup("the campaign has no recipients to take samples from".into())
    })?;
    Ok(combos
        .into_iter()
        .map(|langs| {
            let mut r = p
                .audience
                .recipients
                .iter()
                .find(|r| r.langs == langs)
                .unwrap_or(first)
                .clone();
            Arc::make_mut(&mut r.profile).langs = langs;
            r
        })
        .collect())
}

/// Hands each sample to the relay over one connection, marked [TEST], each with Message-IDs of
/// its own (mailboxes drop a message whose ID they have seen).
fn transmit(
    p: &Prepared,
    settings: Arc<super::client::Settings>,
    samples: Vec<(crate::audience::Recipient, String)>,
) -> std::result::Result<Vec<TestSent>, SendError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| SendError::Setup(e.to_string()))?;
    runtime.block_on(async {
        let mut client = Client::connect(settings)
            .await
            .map_err(|e| SendError::Setup(e.to_string()))?;
        let mut out = Vec::new();
        let marks = crate::compose::Marks::unsent(&format!("test{:x}", clock::now_ms()));
        let refused = |e: super::client::SmtpError| {
            SendError::Setup(format!("the relay refused the test message: {e}"))
        };
        for (r, sample_of) in samples {
            let (rendered, composed) = p
                .message_marked(&r, clock::now(), &marks, "[TEST] ")
                .map_err(|e| SendError::Other(Error::Message(e.to_string())))?;
            client
                .begin(
                    &composed.envelope_from,
                    &composed.envelope_to,
                    composed.smtputf8,
                )
                .await
                .map_err(refused)?;
            let reply = client.finish(&composed.bytes).await.map_err(refused)?;
            out.push(TestSent {
                langs: r.langs.join("+"),
                sample_of,
                to: r.contact.email().to_string(),
                subject: rendered.subject,
                reply,
            });
        }
        client.quit().await;
        Ok(out)
    })
}

/// Refuses `--to` addresses on the suppression list, naming each one's record.
fn refuse_suppressed(
    store: &crate::journal::Store,
    to: &[String],
) -> std::result::Result<(), SendError> {
    let Some(journal) = store.existing()? else {
        return Ok(());
    };
    let mut found = Vec::new();
    for t in to {
        let Ok(email) = crate::address::check(t) else {
            continue;
        };
        if let Some(s) = journal.suppression(&email)? {
            found.push(format!(
                "{email} is on the suppression list ({}, {}, {})",
                s.reason,
                s.source,
                clock::from_ms(s.at_ms).format("%Y-%m-%d")
            ));
        }
    }
    if found.is_empty() {
        return Ok(());
    }
    Err(SendError::Setup(format!(
        "{}: nothing was sent. If this address should get the samples all the same (a colleague who reviews the newsletter but left its list), add --to-suppressed",
        found.join("; ")
    )))
}
