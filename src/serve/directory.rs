//! Who a reader is by the team's lists, for the preference page of someone who has made no
//! choice yet: the languages and topics their rows give, every CSV list of the project read
//! as campaigns read them (the first row that gives a language stands, topics add up). Each
//! file is read again only when it changes, so a page costs no list reading in between.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::config::Config;

/// What the lists say of one address: languages (codes) and topics.
pub(super) type Listed = (Vec<String>, Vec<String>);

type Read = Arc<HashMap<String, Listed>>;
/// A file's reading, with the modification time and length it was read at.
type Entry = (Option<SystemTime>, u64, Read);

#[derive(Default)]
pub(super) struct Directory {
    files: Mutex<HashMap<PathBuf, Entry>>,
}

impl Directory {
    /// What the project's lists say of `email`, merged over its lists in name order.
    pub fn lookup(&self, config: &Config, email: &str) -> Listed {
        let Ok(files) = crate::project::list_files(config) else {
            return Listed::default();
        };
        let (mut langs, mut topics): Listed = Default::default();
        for file in files {
            let Some(read) = self.read(config, &file) else {
                continue;
            };
            if let Some((l, t)) = read.get(email) {
                if langs.is_empty() {
                    langs = l.clone();
                }
                for tag in t {
                    if !topics.contains(tag) {
                        topics.push(tag.clone());
                    }
                }
            }
        }
        (langs, topics)
    }

    fn read(&self, config: &Config, file: &PathBuf) -> Option<Read> {
        let meta = std::fs::metadata(file).ok()?;
        let stamp = (meta.modified().ok(), meta.len());
        if let Some((m, l, read)) = self.files.lock().ok()?.get(file) {
            if (*m, *l) == stamp {
                return Some(read.clone());
            }
        }
        let aliases = crate::render::interest_aliases(config);
        let list = crate::project::load_list(
            config,
            file,
            &aliases,
            &mut crate::problems::Problems::new(),
        )
        .ok()?;
        let mut map: HashMap<String, Listed> = HashMap::with_capacity(list.contacts.len());
        for c in &list.contacts {
            let e = map.entry(c.email().to_string()).or_default();
            if e.0.is_empty() {
                e.0 = c.languages().codes.clone();
            }
            for tag in c.interests() {
                if !e.1.contains(tag) {
                    e.1.push(tag.clone());
                }
            }
        }
        let read = Arc::new(map);
        self.files
            .lock()
            .ok()?
            .insert(file.clone(), (stamp.0, stamp.1, read.clone()));
        Some(read)
    }
}
