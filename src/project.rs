//! A project folder and a campaign name in, a [`Prepared`] campaign out: config, updates, the
//! campaign, its contact lists, the selected audience and a checked renderer, with every problem
//! of the files involved collected on the way.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::audience::{self, Audience};
use crate::campaign::{self, Campaign};
use crate::config::Config;
use crate::contacts::{self, ContactList, Reject};
use crate::problems::{Problems, Severity};
use crate::render::Renderer;
use crate::sign::Signer;
use crate::updates::{self, Updates};
use crate::{Error, Result};

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
    pub signer: Option<std::result::Result<std::sync::Arc<Signer>, String>>,
    /// The files the campaign and its updates attach.
    pub attachments: crate::attachments::Attachments,
    pub rejects: Vec<Reject>,
}

/// Reads the DKIM key the config names, if it names one.
pub fn signer(config: &Config) -> Option<std::result::Result<Signer, String>> {
    let d = config.dkim.as_ref()?;
    let path = config.path(&d.key_file);
    let bytes = match crate::limits::read_capped(&path, crate::limits::KEY_FILE) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Some(Err(format!(
                "the DKIM key file {} does not exist: make a key with `bulletin dkim keygen --selector {}`, or copy the key there",
                path.display(),
                d.selector
            )))
        }
        Err(e) => {
            return Some(Err(format!(
                "cannot read the DKIM key file {}: {e}",
                path.display()
            )))
        }
    };
    let domain = config.dkim_domain().unwrap_or_default();
    Some(
        Signer::from_key_file(&bytes, &domain, &d.selector)
            .map_err(|e| format!("{}: {e}", path.display())),
    )
}

/// Loads a list and adds summaries of what it holds that the project does not know.
/// `aliases` maps translated interest labels to tags (see `render::interest_aliases`).
fn load_list(
    config: &Config,
    path: &Path,
    aliases: &HashMap<String, String>,
    p: &mut Problems,
) -> Result<ContactList> {
    let rules = contacts::Rules {
        supported: &config.languages.supported,
        smtputf8: config.smtp.as_ref().is_some_and(|s| s.smtputf8),
        columns: Some(&config.lists.columns),
    };
    let mut list = contacts::load(path, &rules, p)?;
    map_interests(config, aliases, &mut list);
    warn_of_unknown_values(config, aliases, path, &list, p);
    Ok(list)
}

/// Each row's interests as the project's tags, through the list's aliases.
fn map_interests(config: &Config, aliases: &HashMap<String, String>, list: &mut ContactList) {
    // Rows share their interest cells, so each cell is mapped once.
    let mut mapped_cells: HashMap<String, Arc<crate::contacts::Interests>> = HashMap::new();
    for c in &mut list.contacts {
        let set = c.interests_shared();
        let mapped = match mapped_cells.get(&set.raw) {
            Some(m) => Arc::clone(m),
            None => {
                let mut tags: Vec<String> = Vec::with_capacity(set.tags.len());
                for i in &set.tags {
                    let tag = match aliases.get(i) {
                        Some(t) if !config.knows_interest(i) || config.interests.is_empty() => {
                            t.clone()
                        }
                        _ => i.clone(),
                    };
                    if !tags.contains(&tag) {
                        tags.push(tag);
                    }
                }
                let mapped = Arc::new(crate::contacts::Interests {
                    raw: set.raw.clone(),
                    tags,
                });
                mapped_cells.insert(set.raw.clone(), Arc::clone(&mapped));
                mapped
            }
        };
        c.set_interests(mapped);
    }
}

/// Warnings for the interests and languages a list holds that the project does not know.
fn warn_of_unknown_values(
    config: &Config,
    aliases: &HashMap<String, String>,
    path: &Path,
    list: &ContactList,
    p: &mut Problems,
) {
    // Per value, the rows that hold it.
    let mut unknown_interests: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut unsupported: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    // Per unknown tag, the value as the list writes it.
    let mut written: HashMap<&str, &str> = HashMap::new();
    for c in &list.contacts {
        for i in c.interests() {
            if !config.knows_interest(i) {
                unknown_interests.entry(i).or_default().push(c.line());
                if !written.contains_key(i.as_str()) {
                    let raw = crate::contacts::interest_pieces(&c.interests_shared().raw)
                        .find(|p| crate::config::normalize_tag(p) == *i);
                    if let Some(raw) = raw {
                        written.insert(i, raw);
                    }
                }
            }
        }
        if c.languages().is_empty() && !c.language_raw().trim().is_empty() {
            unsupported
                .entry(c.language_raw().trim())
                .or_default()
                .push(c.line());
        }
    }
    if !unknown_interests.is_empty() {
        // For each, the line that makes it one of the project's: the closest tag or label.
        let lines: Vec<String> = unknown_interests
            .keys()
            .map(|tag| {
                let as_written = written.get(tag).copied().unwrap_or(tag);
                let guess = closest_interest(config, aliases, tag);
                format!("\"{}\" = \"{guess}\"", as_written.replace('"', "'"))
            })
            .collect();
        p.warning(path, None, format!(
            "interests the config does not declare: {}. Contacts are selected by interest only for the project's own tags, so these rows match no interest filter or digest update. If the list means one of yours, map it in bulletin.toml (each language's [interests] labels in templates/i18n are understood already):\n  [lists.interests]\n  {}\nor add a new tag to `interests`, or fix the spelling",
            on_lines(&unknown_interests),
            lines.join("\n  ")));
    }
    if !unsupported.is_empty() {
        let what = match config.languages.fallback {
            crate::config::Fallback::Default => {
                format!("the default language ({})", config.languages.default)
            }
            crate::config::Fallback::Bilingual => "the bilingual message".to_string(),
        };
        p.warning(
            path,
            None,
            format!(
                "languages not supported, these contacts get {what}: {}",
                on_lines(&unsupported)
            ),
        );
    }
}

/// "es" on lines 7 and 12; five lines at most, then a count.
fn on_lines(m: &BTreeMap<&str, Vec<usize>>) -> String {
    m.iter()
        .map(|(k, lines)| {
            let shown: Vec<String> = lines.iter().take(5).map(usize::to_string).collect();
            let more = lines.len().saturating_sub(5);
            let rest = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            let word = if lines.len() == 1 { "line" } else { "lines" };
            format!("\"{k}\" on {word} {}{rest}", shown.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The project's tag closest to an unknown value: by its tag, or by one of its labels.
fn closest_interest(config: &Config, aliases: &HashMap<String, String>, value: &str) -> String {
    let candidates = config
        .interests
        .iter()
        .map(|t| (t.as_str(), t.as_str()))
        .chain(
            aliases
                .iter()
                .map(|(label, t)| (label.as_str(), t.as_str())),
        );
    candidates
        .map(|(name, tag)| (strsim::jaro_winkler(name, value), tag))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, tag)| tag.to_string())
        .unwrap_or_else(|| "TAG".into())
}

/// Every CSV file of the lists folder.
pub fn list_files(config: &Config) -> Result<Vec<PathBuf>> {
    let dir = config.lists_dir();
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| Error::io("read the lists folder", &dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")))
        .collect();
    v.sort();
    Ok(v)
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
    let mut lists = HashMap::new();
    let mut rejects = Vec::new();
    let aliases = crate::render::interest_aliases(&config);
    for name in campaign
        .audience
        .lists
        .iter()
        .chain(&campaign.audience.exclude)
    {
        let file = config.lists_dir().join(name);
        if lists.contains_key(name) || !file.is_file() {
            continue;
        }
        let mut lp = Problems::new();
        let list = load_list(&config, &file, &aliases, &mut lp)?;
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
    let audience = audience::select(&config, &campaign, lists, &updates, &suppressed);
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

/// Checks the whole project, or one campaign: config, every list, every update, each campaign
/// with its templates and translations. Returns every problem found.
/// With `sending`, also what only sending needs: the token secret and the DKIM key.
pub fn check(config: &Config, campaign_name: Option<&str>, sending: bool) -> Result<Problems> {
    let mut p = Problems::new();
    let updates = updates::load(config, &mut p)?;
    let aliases = crate::render::interest_aliases(config);
    let mut loaded: HashMap<String, ContactList> = HashMap::new();
    for file in list_files(config)? {
        let list = load_list(config, &file, &aliases, &mut p)?;
        loaded.insert(list.name.to_string(), list);
    }
    unused_column_mappings(config, &loaded, &mut p);
    let campaigns = match campaign_name {
        Some(name) => vec![campaign::locate(config, name)?],
        None => campaign::list_files(config)?,
    };
    for path in campaigns {
        if let Some(c) = campaign::load(&path, config, &updates, &mut p) {
            check_campaign(config, &c, &updates, &aliases, &mut loaded, &mut p)?;
        }
    }
    if sending {
        check_signing(config, &mut p);
    }
    p.dedup();
    Ok(p)
}

/// A mapping no list's header matches is a typo, or a header the export has since renamed.
fn unused_column_mappings(
    config: &Config,
    loaded: &HashMap<String, ContactList>,
    p: &mut Problems,
) {
    let text = std::fs::read_to_string(&config.file).unwrap_or_default();
    for key in config.lists.columns.keys() {
        let used = loaded
            .values()
            .any(|l| l.columns.iter().any(|h| contacts::same_header(key, h)));
        if !used && !loaded.is_empty() {
            p.warning(
                &config.file,
                text.lines().position(|l| l.contains(key.as_str())).map(|i| i + 1),
                format!("[lists.columns] maps \"{key}\", but no list has that header: check its spelling against the list's first row"),
            );
        }
    }
}

/// What would go wrong in one campaign's messages: its lists, merge fields, web copies, and
/// an unsubscribe link when it is bulk.
fn check_campaign(
    config: &Config,
    c: &Campaign,
    updates: &Updates,
    aliases: &HashMap<String, String>,
    loaded: &mut HashMap<String, ContactList>,
    p: &mut Problems,
) -> Result<()> {
    // Lists named by the campaign whatever their extension (.tsv, Excel's .txt), as
    // `preview` and `send` read them.
    for name in c.audience.lists.iter().chain(&c.audience.exclude) {
        let file = config.lists_dir().join(name);
        if !loaded.contains_key(name) && file.is_file() {
            let list = load_list(config, &file, aliases, p)?;
            loaded.insert(name.clone(), list);
        }
    }
    let renderer = Renderer::new(config, c, updates, p);
    crate::attachments::Attachments::load(config, c, updates, p);
    let reach: usize = c
        .audience
        .lists
        .iter()
        .filter_map(|l| loaded.get(l))
        .map(|l| l.contacts.len())
        .sum();
    if let Some(renderer) = renderer {
        let lists = c
            .audience
            .lists
            .iter()
            .chain(&c.audience.exclude)
            .filter_map(|l| loaded.get(l).map(|list| (l.clone(), list.clone())))
            .collect();
        let audience = audience::select(config, c, lists, updates, &HashMap::new());
        renderer.check_missing(c, &audience.recipients, p);
        // Messages link to a web copy that `archive` must be able to make.
        if config.archive_url().is_some() {
            for lang in &c.languages {
                if let Err(e) = renderer.render_web(lang) {
                    p.error(&c.path, None, format!(
                        "[site] archive_url is set, but the web copy in \"{lang}\" cannot be made, as it has no reader: {e}. Give each merge field a default, or put it inside {{% if not web %}}...{{% endif %}}"));
                }
            }
        }
    }
    if reach > BULK && config.unsubscribe.url.is_none() {
        p.warning(
            &c.path,
            None,
            format!("this campaign can reach {reach} contacts, but messages carry no unsubscribe link: set [unsubscribe] url (with {{token}}) and run `bulletin serve`. Gmail and Yahoo require one-click unsubscribing of bulk senders"),
        );
    }
    Ok(())
}

/// What would stop a send (the token secret, a key that cannot sign) is the gate's to say
/// (`send::gate`); what is only unwise about the key is said here.
fn check_signing(config: &Config, p: &mut Problems) {
    if let Some(r) = signer(config) {
        let line = crate::config::key_line(
            &std::fs::read_to_string(&config.file).unwrap_or_default(),
            "key_file",
        );
        match r {
            Err(_) => {}
            Ok(s) => {
                key_file_private(config, line, p);
                if s.algorithm() == crate::sign::Algorithm::Ed25519 {
                    p.warning(&config.file, line, "[dkim] the key is Ed25519, which several large mailbox providers do not verify yet: to them these messages are unsigned. Use an RSA key (`bulletin dkim keygen` makes one by default)");
                }
            }
        }
        let domain = config.dkim_domain().unwrap_or_default();
        let from = crate::address::wire(&config.sender.address).to_ascii_lowercase();
        let from = crate::config::domain_of(&from);
        if !crate::dns::aligned(from, &domain) {
            let text = std::fs::read_to_string(&config.file).unwrap_or_default();
            p.warning(&config.file, crate::config::key_line(&text, "domain"), format!("[dkim] domain \"{domain}\" is not in the From address's organisational domain ({}): receivers' DMARC checks will not count this signature for the From address", crate::dns::org_domain(from)));
        }
    }
}

/// A private key others on the machine can read is a key others can sign with.
fn key_file_private(config: &Config, line: Option<usize>, p: &mut Problems) {
    #[cfg(unix)]
    if let Some(d) = &config.dkim {
        use std::os::unix::fs::PermissionsExt;
        let path = config.path(&d.key_file);
        if let Ok(m) = std::fs::metadata(&path) {
            if m.permissions().mode() & 0o077 != 0 {
                p.warning(
                    &config.file,
                    line,
                    format!(
                        "[dkim] the key file {} can be read by other users of this machine: chmod 600 it",
                        path.display()
                    ),
                );
            }
        }
    }
}

/// Above this many contacts a campaign is bulk mail, and mailbox providers expect one-click
/// unsubscribing (see the README's bulk-sender rules).
const BULK: usize = 300;

/// The token in unsubscribe links when the secret is not at hand: previews still show where the
/// link goes, and `send` never goes without the real one.
pub const PLACEHOLDER_TOKEN: &str = "PREVIEW-WITHOUT-SECRET";

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
        let mut rendered = self
            .renderer
            .render(r, unsub.url.as_deref())
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
            Err(crate::config::SecretError::Weak(_))
        ));
        let unset = crate::config::Unsubscribe {
            secret_env: Some("BULLETIN_TEST_UNSET_SECRET".into()),
            ..config.unsubscribe.clone()
        };
        assert!(matches!(
            unset.secrets(&[]),
            Err(crate::config::SecretError::Missing(_))
        ));
    }
}
