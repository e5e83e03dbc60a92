//! The attachments a campaign and its updates name in, each file read, typed and encoded once
//! out, per language (`report.fr.pdf` beside `report.pdf` goes to readers of French); and
//! which of them a recipient's message carries. Missing files are errors and heavy messages
//! warnings or errors, named with the file and line that asks for them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::campaign::Campaign;
use crate::compose::Attachment;
use crate::config::Config;
use crate::problems::Problems;
use crate::updates::Updates;

/// Above this, many mailboxes refuse a message or its recipients' servers slow it down.
const WARN_BYTES: usize = 5 * 1024 * 1024;

/// The campaign's attachments, ready for its messages.
#[derive(Default)]
pub struct Attachments {
    /// Per language, the files the campaign itself attaches.
    campaign: BTreeMap<String, Vec<Arc<Attachment>>>,
    /// Per update (its place in the campaign) and language, the files it attaches.
    updates: BTreeMap<(usize, String), Vec<Arc<Attachment>>>,
}

impl Attachments {
    /// Reads every file the campaign and its updates attach, in each of the campaign's
    /// languages.
    pub fn load(
        config: &Config,
        campaign: &Campaign,
        updates: &Updates,
        p: &mut Problems,
    ) -> Attachments {
        let dir = Folders {
            attachments: config.attachments_dir(),
        };
        let mut read: BTreeMap<PathBuf, Option<Arc<Attachment>>> = BTreeMap::new();
        let mut a = Attachments::default();
        let wanted = !campaign.attachments.is_empty()
            || campaign.updates.iter().any(|slug| {
                campaign.languages.iter().any(|l| {
                    updates
                        .get(slug, l)
                        .is_some_and(|u| !u.attachments.is_empty())
                })
            });
        if wanted {
            if let Err(why) = folder_inside(&dir.attachments, &config.root) {
                p.error(&campaign.path, None, why);
                return a;
            }
        }
        for lang in &campaign.languages {
            let line = crate::config::key_line(&campaign.text, "attachments");
            for name in &campaign.attachments {
                if let Some(f) = resolve(&dir, name, lang, &campaign.path, line, &mut read, p) {
                    a.campaign.entry(lang.clone()).or_default().push(f);
                }
            }
            for (i, slug) in campaign.updates.iter().enumerate() {
                let Some(u) = updates.get(slug, lang) else {
                    continue;
                };
                let text = std::fs::read_to_string(&u.path).unwrap_or_default();
                let line = text
                    .lines()
                    .position(|l| l.trim_start().starts_with("attachments"))
                    .map(|i| i + 1);
                for name in &u.attachments {
                    if let Some(f) = resolve(&dir, name, lang, &u.path, line, &mut read, p) {
                        a.updates.entry((i, lang.clone())).or_default().push(f);
                    }
                }
            }
        }
        a.check_size(config, campaign, p);
        a
    }

    /// The files a message in `langs` with the campaign's updates `updates` carries: the
    /// campaign's, then each update's, in each language, each file once.
    /// A digest of every file attached, in every language: part of the campaign's content
    /// hash, since the messages carry them.
    pub fn digest(&self) -> String {
        let all = self
            .campaign
            .iter()
            .map(|(k, v)| (format!("campaign {k}"), v))
            .chain(
                self.updates
                    .iter()
                    .map(|((i, lang), v)| (format!("update {i} {lang}"), v)),
            );
        let mut parts: Vec<Vec<u8>> = Vec::new();
        for (at, files) in all {
            parts.push(at.into_bytes());
            for f in files {
                parts.push(f.filename.as_bytes().to_vec());
                parts.push(f.content_type.as_bytes().to_vec());
                parts.push(crate::digest::of([f.base64.as_slice()]).into_bytes());
            }
        }
        crate::digest::of(parts.iter().map(Vec::as_slice))
    }

    pub fn for_message(&self, langs: &[String], updates: &[usize]) -> Vec<Arc<Attachment>> {
        let mut out: Vec<Arc<Attachment>> = Vec::new();
        for lang in langs {
            let own = self.campaign.get(lang).into_iter().flatten();
            let of_updates = updates
                .iter()
                .filter_map(|&i| self.updates.get(&(i, lang.clone())))
                .flatten();
            for f in own.chain(of_updates) {
                if !out.iter().any(|o| Arc::ptr_eq(o, f)) {
                    out.push(f.clone());
                }
            }
        }
        out
    }

    /// The heaviest message the campaign can produce, per language and bilingual: a warning
    /// above 5 MB, an error above `[limits] max_message_mb`.
    fn check_size(&self, config: &Config, campaign: &Campaign, p: &mut Problems) {
        let all: Vec<usize> = (0..campaign.updates.len()).collect();
        let mut combos: Vec<Vec<String>> =
            campaign.languages.iter().map(|l| vec![l.clone()]).collect();
        if campaign.languages.len() > 1 {
            combos.push(campaign.languages.clone());
        }
        let max = (config.limits.max_message_mb * 1024.0 * 1024.0) as usize;
        let line = crate::config::key_line(&campaign.text, "attachments");
        // The heaviest message decides: a bilingual one carries both languages' files.
        let heaviest = combos
            .into_iter()
            .map(|langs| {
                let files = self.for_message(&langs, &all);
                let bytes: usize = files.iter().map(|f| f.base64.len()).sum();
                (bytes, langs, files)
            })
            .max_by_key(|(bytes, ..)| *bytes);
        let Some((bytes, langs, files)) = heaviest else {
            return;
        };
        let names: Vec<&str> = files.iter().map(|f| f.filename.as_str()).collect();
        let mb = bytes as f64 / (1024.0 * 1024.0);
        let what = format!(
            "the {} message carries {mb:.1} MB of attachments as sent ({})",
            langs.join("+"),
            names.join(", ")
        );
        if bytes > max {
            p.error(&campaign.path, line, format!("{what}, over [limits] max_message_mb ({}): link to the files on your website instead, or raise the limit if your relay and readers accept it", config.limits.max_message_mb));
        } else if bytes > WARN_BYTES {
            p.warning(&campaign.path, line, format!("{what}: above 5 MB many mailboxes refuse mail or file it late; consider linking to the files instead"));
        }
    }
}

/// Where attachments are looked for, which none may lead out of.
struct Folders {
    attachments: PathBuf,
}

/// The attachments folder must be a folder of the project: a link in its place (to /etc, or to
/// the folder of the DKIM key) would attach whatever it leads to.
fn folder_inside(dir: &Path, project: &Path) -> std::result::Result<(), String> {
    if std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(format!(
            "the attachments folder {} is a symbolic link: make it a folder of the project and copy the files into it",
            dir.display()
        ));
    }
    match (dir.canonicalize(), project.canonicalize()) {
        (Ok(d), Ok(root)) if !d.starts_with(&root) => Err(format!(
            "the attachments folder {} leads to {}, outside the project folder: make it a folder of the project",
            dir.display(),
            d.display()
        )),
        _ => Ok(()),
    }
}

/// No attachment is read past this: far above what any message may carry ([limits]), and low
/// enough that a device or a huge file named by mistake cannot exhaust memory.
const MAX_ATTACHMENT: u64 = 256 * 1024 * 1024;

/// The file `name` stands for in `lang`: `stem.LANG.ext` when there is one, else `name`.
fn resolve(
    dirs: &Folders,
    name: &str,
    lang: &str,
    asked_in: &Path,
    line: Option<usize>,
    read: &mut BTreeMap<PathBuf, Option<Arc<Attachment>>>,
    p: &mut Problems,
) -> Option<Arc<Attachment>> {
    let dir = &dirs.attachments;
    let plain = Path::new(name);
    if plain.is_absolute()
        || plain
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        p.error(asked_in, line, format!("attachment \"{name}\": name a file inside the attachments folder ({}), without .. or a leading /", dir.display()));
        return None;
    }
    let localized = match (plain.file_stem(), plain.extension()) {
        (Some(stem), Some(ext)) => plain.with_file_name(format!(
            "{}.{lang}.{}",
            stem.to_string_lossy(),
            ext.to_string_lossy()
        )),
        _ => plain.with_file_name(format!("{name}.{lang}")),
    };
    let path = [dir.join(&localized), dir.join(plain)]
        .into_iter()
        .find(|f| f.is_file());
    let Some(path) = path else {
        p.error(
            asked_in,
            line,
            format!(
                "attachment \"{name}\" not found: put {} (or {} for this language) in {}",
                plain.display(),
                localized.display(),
                dir.display()
            ),
        );
        return None;
    };
    if let Some(done) = read.get(&path) {
        return done.clone();
    }
    // A symbolic link in the folder may point anywhere: at /etc/passwd, or at the project's
    // own DKIM key or journal. What an attachment names must be a file of the attachments
    // folder itself.
    let outside = match (path.canonicalize(), dir.canonicalize()) {
        (Ok(real), Ok(folder)) => (!real.starts_with(&folder)).then_some(real),
        _ => None,
    };
    if let Some(real) = outside {
        p.error(
            asked_in,
            line,
            format!(
                "attachment \"{name}\": {} leads to {}, outside the attachments folder {}: copy the file into that folder instead of linking to it",
                path.display(),
                real.display(),
                dir.display()
            ),
        );
        read.insert(path, None);
        return None;
    }
    let file = match crate::limits::read_capped(&path, MAX_ATTACHMENT) {
        Ok(bytes) => {
            let filename = path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            let content_type = mime_guess::from_path(&path)
                .first_or_octet_stream()
                .to_string();
            Some(Arc::new(Attachment::new(&filename, &content_type, &bytes)))
        }
        Err(e) => {
            p.error(
                asked_in,
                line,
                format!("cannot read attachment {}: {e}", path.display()),
            );
            None
        }
    };
    read.insert(path, file.clone());
    file
}
