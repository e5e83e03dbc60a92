//! `check`'s look at a whole project: what would go wrong in each campaign's messages, and
//! what is unwise about its lists and DKIM key, before anything is sent.

use std::collections::HashMap;

use super::lists::{list_files, load_list};
use super::signer;
use crate::audience;
use crate::campaign::{self, Campaign};
use crate::config::Config;
use crate::contacts::{self, ContactList};
use crate::problems::Problems;
use crate::render::Renderer;
use crate::updates::{self, Updates};
use crate::Result;

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
    // The config's own lines, which problems about it point at.
    let text = std::fs::read_to_string(&config.file).unwrap_or_default();
    unused_column_mappings(config, &text, &loaded, &mut p);
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
        check_signing(config, &text, &mut p);
    }
    p.dedup();
    Ok(p)
}

/// A mapping no list's header matches is a typo, or a header the export has since renamed.
fn unused_column_mappings(
    config: &Config,
    text: &str,
    loaded: &HashMap<String, ContactList>,
    p: &mut Problems,
) {
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
        let audience = audience::select(
            config,
            c,
            lists,
            updates,
            &HashMap::new(),
            &HashMap::new(),
            &Default::default(),
        );
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
fn check_signing(config: &Config, text: &str, p: &mut Problems) {
    if let Some(r) = signer(config) {
        let line = crate::config::key_line(text, "key_file");
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
            p.warning(&config.file, crate::config::key_line(text, "domain"), format!("[dkim] domain \"{domain}\" is not in the From address's organisational domain ({}): receivers' DMARC checks will not count this signature for the From address", crate::dns::org_domain(from)));
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
