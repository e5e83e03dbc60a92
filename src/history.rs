//! An address in, everything bulletin knows of it out: where it stands in each list now,
//! how it signed up, every message and test send, every change to the suppression list and
//! every preference, and whether anything was sent after it left. The answer to a
//! data-protection request (`bulletin history`).

use serde::Serialize;

use crate::config::Config;
use crate::journal::history::{About, Sent};
use crate::{Error, Result};

/// A row of a list that holds the address.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    pub file: String,
    pub line: usize,
    pub language: String,
    pub interests: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct History {
    pub address: String,
    pub lists: Vec<Listed>,
    #[serde(flatten)]
    pub journal: About,
    /// Messages handed over while the address was on the suppression list.
    pub sent_after_leaving: Vec<Sent>,
    /// Test sends that went to it while it was on the suppression list.
    pub tests_after_leaving: Vec<crate::journal::history::TestSent>,
    /// When it was erased (`bulletin forget`), if it was: the journal keeps only a keyed hash.
    pub erased_at_ms: Option<i64>,
}

/// Everything known of `address`, or `Error::Refused` when nothing is.
pub fn of(config: &Config, store: &crate::journal::Store, address: &str) -> Result<History> {
    let email = crate::address::check(address)
        .map_err(|e| Error::Refused(format!("{address:?} is not an e-mail address: {e}")))?;
    let mut lists = Vec::new();
    let aliases = crate::render::interest_aliases(config);
    for file in list_files_within(&config.lists_dir()) {
        let mut p = crate::problems::Problems::new();
        let Ok(list) = crate::project::load_list(config, &file, &aliases, &mut p) else {
            continue;
        };
        for c in list.contacts.iter().filter(|c| c.email() == email) {
            lists.push(Listed {
                file: file
                    .strip_prefix(&config.root)
                    .unwrap_or(&file)
                    .display()
                    .to_string(),
                line: c.line(),
                language: c.language_raw().to_string(),
                interests: c.interests().to_vec(),
            });
        }
    }
    let journal = match store.existing()? {
        Some(j) => j.about(&email)?,
        None => About::default(),
    };
    let erased_at_ms = store.erased()?.when(&email);
    if lists.is_empty() && journal.is_empty() && erased_at_ms.is_none() {
        return Err(Error::Refused(format!(
            "bulletin knows nothing of {email}: no list of {} holds it and the journal has no record of it",
            config.lists_dir().display()
        )));
    }
    let sent_after_leaving = journal
        .sent_while_suppressed()
        .into_iter()
        .cloned()
        .collect();
    let tests_after_leaving = journal
        .tests_while_suppressed()
        .into_iter()
        .cloned()
        .collect();
    Ok(History {
        address: email,
        lists,
        journal,
        sent_after_leaving,
        tests_after_leaving,
        erased_at_ms,
    })
}

/// Every contact list under the lists folder, its subfolders included (a campaign may name
/// `sub/list.csv`), in name order.
fn list_files_within(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            let Ok(kind) = e.file_type() else { continue };
            if kind.is_dir() && !e.file_name().to_string_lossy().starts_with('.') {
                todo.push(path);
            } else if kind.is_file()
                && path.extension().is_some_and(|x| {
                    ["csv", "tsv", "txt"]
                        .iter()
                        .any(|k| x.eq_ignore_ascii_case(k))
                })
            {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn when(ms: i64) -> String {
    crate::clock::from_ms(ms)
        .format("%Y-%m-%d %H:%M:%S UTC")
        .to_string()
}

/// The history as a person reads it.
pub fn text(h: &History) -> String {
    let mut o = format!("History of {}\n", h.address);
    o.push_str("\nIn the lists now:\n");
    if h.lists.is_empty() {
        o.push_str("  in no list\n");
    }
    for l in &h.lists {
        o.push_str(&format!(
            "  {}:{}  language \"{}\", interests {}\n",
            l.file,
            l.line,
            l.language,
            if l.interests.is_empty() {
                "none".to_string()
            } else {
                l.interests.join(", ")
            }
        ));
    }
    let j = &h.journal;
    o.push_str("\nSigned up through the form:\n");
    match &j.subscriber {
        Some(s) => o.push_str(&format!(
            "  form sent {}, confirmed {} (form version {}); languages {}, interests {}\n",
            when(s.requested_at_ms),
            when(s.confirmed_at_ms),
            s.form_version,
            s.languages.join("+"),
            s.interests.join(", ")
        )),
        None => o.push_str("  not confirmed\n"),
    }
    for (at, client, mailed) in &j.signup_requests {
        o.push_str(&format!(
            "  asked {} from {client}{}\n",
            when(*at),
            if *mailed {
                ", a confirmation mailed"
            } else {
                ", no confirmation mailed (over a limit)"
            }
        ));
    }
    messages_and_changes(h, &mut o);
    statement(h, &mut o);
    o
}

/// Every message, test send, change to the suppression list and preference, oldest first.
fn messages_and_changes(h: &History, o: &mut String) {
    let j = &h.journal;
    o.push_str(&format!("\nMessages ({}):\n", j.messages.len()));
    for m in &j.messages {
        let reply = match (m.state.as_str(), &m.smtp_reply) {
            ("sent", _) | (_, None) => String::new(),
            (_, Some(r)) => format!("\n      the relay said: {r}"),
        };
        o.push_str(&format!(
            "  {}  {}  {}  relay {}  {}  content {}{reply}\n",
            m.sent_at_ms
                .or(m.last_attempt_at_ms)
                .map(when)
                .unwrap_or_else(|| "not tried".into()),
            m.campaign,
            m.state,
            m.relay.as_deref().unwrap_or("-"),
            m.message_id.as_deref().unwrap_or("-"),
            m.content_hash
                .as_deref()
                .map(|h| &h[..h.len().min(16)])
                .unwrap_or("-"),
        ));
    }
    o.push_str(&format!("\nTest sends to it ({}):\n", j.test_sends.len()));
    for t in &j.test_sends {
        o.push_str(&format!(
            "  {}  {}  content {}\n",
            when(t.at_ms),
            t.campaign,
            &t.content_hash[..t.content_hash.len().min(16)]
        ));
    }
    o.push_str(&format!(
        "\nSuppression list ({} changes):\n",
        j.suppression_log.len()
    ));
    for c in &j.suppression_log {
        o.push_str(&format!(
            "  {}  {}  {} by {}{}{}{}\n",
            when(c.at_ms),
            if c.action == "add" {
                "suppressed"
            } else {
                "taken off"
            },
            c.reason,
            c.source,
            c.campaign
                .as_deref()
                .map(|c| format!(", campaign {c}"))
                .unwrap_or_default(),
            c.actor
                .as_deref()
                .map(|a| format!(", by {a}"))
                .unwrap_or_default(),
            c.evidence
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default(),
        ));
    }
    o.push_str(&format!(
        "\nPreference changes ({}):\n",
        j.preference_log.len()
    ));
    for c in &j.preference_log {
        o.push_str(&format!(
            "  {}  languages {}, interests {} ({})\n",
            when(c.at_ms),
            c.languages.join("+"),
            if c.interests.is_empty() {
                "none".to_string()
            } else {
                c.interests.join(", ")
            },
            c.source
        ));
    }
    if !j.reviews.is_empty() {
        o.push_str(&format!(
            "\nBounce-mailbox findings left for a person ({}):\n",
            j.reviews.len()
        ));
        for (at, reason, place) in &j.reviews {
            o.push_str(&format!("  {}  {reason} ({place})\n", when(*at)));
        }
    }
}

/// Whether anything was sent while the address was suppressed, and its erasure.
fn statement(h: &History, o: &mut String) {
    let j = &h.journal;
    o.push('\n');
    if let Some(at) = h.erased_at_ms {
        o.push_str(&format!(
            "Erased on {} (bulletin forget): the journal keeps only a keyed hash of it, and no campaign mails it.\n",
            when(at)
        ));
    }
    if h.erased_at_ms.is_some() && j.suppression_log.is_empty() {
        // What it was on before the erasure went with it.
    } else if j.suppression_log.iter().all(|c| c.action != "add") {
        o.push_str("It was never on the suppression list.\n");
    } else if h.sent_after_leaving.is_empty() && h.tests_after_leaving.is_empty() {
        o.push_str("Nothing was sent to it while it was on the suppression list.\n");
    } else {
        o.push_str(&format!(
            "Sent while it was on the suppression list ({}):\n",
            h.sent_after_leaving.len() + h.tests_after_leaving.len()
        ));
        for m in &h.sent_after_leaving {
            o.push_str(&format!(
                "  {}  {}\n",
                m.sent_at_ms.map(when).unwrap_or_default(),
                m.campaign
            ));
        }
        for t in &h.tests_after_leaving {
            o.push_str(&format!(
                "  {}  {} (a test send, to an address given with --to-suppressed)\n",
                when(t.at_ms),
                t.campaign
            ));
        }
    }
}
