//! A project folder and a campaign name in, a [`Prepared`] campaign out: config, updates, the
//! campaign, its contact lists, the selected audience and a checked renderer, with every problem
//! of the files involved collected on the way.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::audience::{self, Audience};
use crate::campaign::{self, Campaign};
use crate::config::Config;
use crate::contacts::Reject;
use crate::problems::{Problems, Severity};
use crate::render::Renderer;
use crate::sign::{KeyFileError, Signer};
use crate::updates::{self, Updates};
use crate::{Error, Result};

mod check;
mod lists;
pub use check::check;
pub use lists::{list_files, load_list};

/// The token in unsubscribe links when the secret is not at hand: previews still show where the
/// link goes, and `send` never goes without the real one.
pub const PLACEHOLDER_TOKEN: &str = "PREVIEW-WITHOUT-SECRET";

#[derive(Debug, Clone)]
pub struct ListInfo {
    pub name: String,
    pub path: PathBuf,
    pub encoding: &'static str,
    pub delimiter: u8,
    pub rows: usize,
    pub rejects: usize,
}

pub struct Prepared {
    pub config: Config,
    pub updates: Updates,
    pub campaign: Campaign,
    /// Per list the campaign names: its file, encoding, delimiter and columns (contacts moved out).
    pub lists: Vec<ListInfo>,
    pub audience: Audience,
    pub renderer: Renderer,
    /// Warnings, and with `skip_invalid` the bad rows set aside.
    pub problems: Problems,
    /// The unsubscribe token secrets, or why they could not be read. Without them messages carry
    /// [`PLACEHOLDER_TOKEN`] (fine for a preview); `send` refuses to start.
    pub secrets:
        std::result::Result<std::sync::Arc<crate::token::Secrets>, crate::config::SecretError>,
    /// The DKIM key, when the config has a `[dkim]` section, or why it cannot sign. Previews go
    /// unsigned without it; `send` refuses to start.
    pub signer: Option<std::result::Result<std::sync::Arc<Signer>, KeyFileError>>,
    /// The files the campaign and its updates attach.
    pub attachments: crate::attachments::Attachments,
    pub rejects: Vec<Reject>,
}

/// Reads the DKIM key the config names, if it names one.
pub fn signer(config: &Config) -> Option<std::result::Result<Signer, KeyFileError>> {
    let d = config.dkim.as_ref()?;
    let path = config.path(&d.key_file);
    let bytes = match crate::limits::read_capped(&path, crate::limits::KEY_FILE) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Some(Err(KeyFileError::Missing {
                path,
                selector: d.selector.clone(),
            }))
        }
        Err(source) => return Some(Err(KeyFileError::Unreadable { path, source })),
    };
    let domain = config.dkim_domain().unwrap_or_default();
    Some(
        Signer::from_key_file(&bytes, &domain, &d.selector)
            .map_err(|source| KeyFileError::NotAKey { path, source }),
    )
}

/// Prepares a campaign for preview or sending. Bad rows stop it unless `skip_invalid`, in which
/// case they are set aside as rejects and reported as warnings.
pub fn prepare(
    config: Config,
    store: &crate::journal::Store,
    campaign_name: &str,
    skip_invalid: bool,
) -> Result<Prepared> {
    let mut p = Problems::new();
    let path = campaign::locate_id(&config, campaign_name)?;
    let updates = updates::load(&config, &mut p)?;
    let campaign = campaign::load(&path, &config, &updates, &mut p);
    let Some(campaign) = campaign else {
        return Err(Error::Invalid(p));
    };
    let (lists, rejects) = load_lists(&config, store, &campaign, skip_invalid, &mut p)?;
    let renderer = Renderer::new(&config, &campaign, &updates, &mut p);
    let attachments = crate::attachments::Attachments::load(&config, &campaign, &updates, &mut p);
    let p = p.into_result()?;
    let Some(renderer) = renderer else {
        return Err(Error::Template("the templates could not be loaded".into()));
    };
    let infos = lists
        .iter()
        .map(|(name, l)| ListInfo {
            name: name.clone(),
            path: l.path.clone(),
            encoding: l.encoding,
            delimiter: l.delimiter,
            rows: l.contacts.len(),
            rejects: l.rejects.len(),
        })
        .collect();
    // The project's suppression list; nobody on it is mailed. Without a journal (lost, or
    // not made yet) it is the copy kept beside where the journal goes.
    let suppressed: HashMap<String, String> = store.suppressed_addresses()?;
    let choices = readers_choices(store)?;
    let erased = store.erased()?;
    let audience = audience::select(
        &config,
        &campaign,
        lists,
        &updates,
        &suppressed,
        &choices,
        &erased,
    );
    // A merge field some recipients lack would fail their messages half-way through a send.
    let mut missing = Problems::new();
    renderer.check_missing(&campaign, &audience.recipients, &mut missing);
    if missing.has_errors() {
        return Err(Error::Invalid(missing));
    }
    let secrets = if config.unsubscribe.offered() {
        config.token_secrets().map(std::sync::Arc::new)
    } else {
        Err(crate::config::SecretError::NotOffered)
    };
    let signer = signer(&config).map(|r| r.map(std::sync::Arc::new));
    Ok(Prepared {
        signer,
        attachments,
        config,
        updates,
        campaign,
        lists: infos,
        audience,
        renderer,
        problems: p,
        rejects,
        secrets,
    })
}

/// The lists a campaign names (sending and exclusion lists), each loaded once, with the rows
/// set aside under `skip_invalid`. Problems go to `p`; bad rows of an exclusion list always
/// stop the command.
fn load_lists(
    config: &Config,
    store: &crate::journal::Store,
    campaign: &Campaign,
    skip_invalid: bool,
    p: &mut Problems,
) -> Result<(HashMap<String, crate::contacts::ContactList>, Vec<Reject>)> {
    let mut lists = HashMap::new();
    let mut rejects = Vec::new();
    let aliases = crate::render::interest_aliases(config);
    for name in campaign
        .audience
        .lists
        .iter()
        .chain(&campaign.audience.exclude)
    {
        if name == campaign::SUBSCRIBERS && !lists.contains_key(name) {
            lists.insert(name.clone(), lists::subscribers(config, store)?);
            continue;
        }
        let file = config.lists_dir().join(name);
        if lists.contains_key(name) || !file.is_file() {
            continue;
        }
        let mut lp = Problems::new();
        let list = load_list(config, &file, &aliases, &mut lp)?;
        // A bad row of an exclusion list names someone who must not be mailed: skipping it
        // would mail them, so it always stops the command.
        let excludes = campaign.audience.exclude.contains(name);
        if excludes && skip_invalid && !list.rejects.is_empty() {
            lp.error(
                &file,
                None,
                "this exclusion list has rows bulletin cannot read (listed above); they cannot be skipped, since the people they name would be mailed: fix them",
            );
        }
        if skip_invalid && !excludes {
            // A row that was set aside is no longer an error; the file-wide ones still are.
            for prob in &mut lp.0 {
                let is_row = list.rejects.iter().any(|r| Some(r.line) == prob.line);
                if prob.severity == Severity::Error && is_row {
                    prob.severity = Severity::Warning;
                    prob.message = format!("skipped: {}", prob.message);
                }
            }
            rejects.extend(list.rejects.iter().cloned());
        }
        p.extend(lp);
        lists.insert(name.clone(), list);
    }
    Ok((lists, rejects))
}

/// The readers' own choices (the preference page), which beat their lists' cells, by address.
fn readers_choices(
    store: &crate::journal::Store,
) -> Result<HashMap<String, crate::journal::Choice>> {
    Ok(match store.existing()? {
        Some(j) => j
            .preferences()?
            .into_iter()
            .map(|c| (c.email.clone(), c))
            .collect(),
        None => HashMap::new(),
    })
}

/// A message that could not be produced, naming the recipient's list row.
#[derive(Debug, thiserror::Error)]
#[error("{list}:{line} ({email}): {message}")]
pub struct MessageError {
    pub list: String,
    pub line: usize,
    pub email: String,
    pub message: String,
}

impl Prepared {
    /// A digest of what the campaign's messages are made of, from what was loaded: the campaign
    /// file (its schedule left out), its updates, the templates its messages use (and those
    /// they include, extend or import), the strings of its languages and the files it
    /// attaches. Nothing else: restyling the unsubscribe page changes no message. Contact lists
    /// are left out too: adding contacts to a running campaign is normal.
    pub fn content_hash(&self) -> String {
        let updates: Vec<String> = self
            .campaign
            .updates
            .iter()
            .filter_map(|slug| self.updates.by_slug.get(slug))
            .flat_map(|versions| versions.values())
            .map(|u| serde_json::to_string(u).unwrap_or_default())
            .collect();
        crate::digest::of(
            [
                self.campaign.content_digest.as_bytes(),
                self.renderer.sources_digest().as_bytes(),
                self.attachments.digest().as_bytes(),
            ]
            .into_iter()
            .chain(updates.iter().map(|u| u.as_bytes())),
        )
    }

    /// Renders and composes one recipient's message: the single path shared by preview and send.
    pub fn message(
        &self,
        r: &audience::Recipient,
        date: std::time::SystemTime,
        marks: &crate::compose::Marks,
    ) -> std::result::Result<(crate::render::Rendered, crate::compose::Composed), MessageError>
    {
        self.message_marked(r, date, marks, "")
    }

    /// As [`Prepared::message`], with `prefix` put before the subject (test sends).
    pub fn message_marked(
        &self,
        r: &audience::Recipient,
        date: std::time::SystemTime,
        marks: &crate::compose::Marks,
        prefix: &str,
    ) -> std::result::Result<(crate::render::Rendered, crate::compose::Composed), MessageError>
    {
        let err = |message: String| MessageError {
            list: r.contact.list().to_string(),
            line: r.contact.line(),
            email: r.contact.email().to_string(),
            message,
        };
        let id = &self.campaign.id;
        let token = match &self.secrets {
            Ok(s) => s.token(id, r.contact.email(), &r.langs[0]),
            Err(_) => PLACEHOLDER_TOKEN.to_string(),
        };
        let unsub = crate::compose::Unsubscribe::new(&self.config, id, &token);
        let links = crate::render::Links {
            unsubscribe: unsub.url.as_deref(),
            preferences: unsub.preferences.as_deref(),
        };
        let mut rendered = self
            .renderer
            .render(r, &links)
            .map_err(|e| err(e.to_string()))?;
        if !prefix.is_empty() {
            rendered.subject = format!("{prefix}{}", rendered.subject);
        }
        let mid = crate::compose::message_id(&self.config, id, r.contact.email(), marks);
        let envelope = crate::compose::envelope_sender(&self.config, id, r.contact.email(), marks);
        let stamp = crate::compose::Stamp {
            date,
            message_id: &mid,
            unsubscribe: &unsub,
            envelope_from: envelope.as_deref(),
            dkim: self.signer.as_ref().and_then(|s| s.as_deref().ok()),
            attachments: &self.attachments.for_message(&r.langs, &r.updates),
        };
        let composed = crate::compose::compose(&self.config, r, &rendered, &stamp)
            .map_err(|e| err(e.to_string()))?;
        Ok((rendered, composed))
    }
}

#[cfg(test)]
mod tests {
    /// The cases a caller tells apart come as their own variants: no config where one was
    /// looked for, a campaign that is not there (with those that are), a secret that is weak
    /// rather than missing.
    #[test]
    fn errors_a_caller_decides_on_are_typed() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("bulletin.toml");
        assert!(
            matches!(crate::config::Config::load(&missing), Err(crate::Error::NoConfig(p)) if p == missing)
        );

        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        crate::scaffold::init(&dir.path().join("p"), today).unwrap();
        let config = crate::config::Config::load(&dir.path().join("p/bulletin.toml")).unwrap();
        match crate::campaign::locate(&config, "no-such-campaign") {
            Err(crate::Error::UnknownCampaign { name, known, .. }) => {
                assert_eq!(name, "no-such-campaign");
                assert!(!known.is_empty());
            }
            other => panic!("{other:?}"),
        }
        let weak = crate::config::Unsubscribe {
            secret_env: Some("BULLETIN_TEST_WEAK_SECRET".into()),
            ..config.unsubscribe.clone()
        };
        std::env::set_var("BULLETIN_TEST_WEAK_SECRET", "abc");
        assert!(matches!(
            weak.secrets(&[]),
            Err(crate::config::SecretError::Weak { .. })
        ));
        let unset = crate::config::Unsubscribe {
            secret_env: Some("BULLETIN_TEST_UNSET_SECRET".into()),
            ..config.unsubscribe.clone()
        };
        assert!(matches!(
            unset.secrets(&[]),
            Err(crate::config::SecretError::Missing {
                key: "secret_env",
                ..
            })
        ));
        // The previous secret's own key, so that `check` points at its line.
        std::env::set_var(
            "BULLETIN_TEST_STRONG_SECRET",
            "kq3VhV8Zr2pX7wNc4tYb9LmJ5sGd1FeA",
        );
        let previous_unset = crate::config::Unsubscribe {
            secret_env: Some("BULLETIN_TEST_STRONG_SECRET".into()),
            secret_command: None,
            previous_secret_env: Some("BULLETIN_TEST_UNSET_PREVIOUS".into()),
            ..config.unsubscribe.clone()
        };
        match previous_unset.secrets(&[]) {
            Err(e) => assert_eq!(e.key(), Some("previous_secret_env"), "{e}"),
            Ok(_) => panic!("an unset previous secret was accepted"),
        }
    }
}
