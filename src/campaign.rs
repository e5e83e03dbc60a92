//! A `campaigns/ID.toml` file in, a resolved [`Campaign`] out: its subject and intro per
//! language, its template, the updates it carries (listed, or chosen by dates and tags) and the
//! audience rules, each checked against the project's updates, lists and languages.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::{normalize_tag, parse_toml, Config};
use crate::problems::Problems;
use crate::updates::Updates;
use crate::{Error, Result};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CampaignFile {
    id: Option<String>,
    #[serde(default = "default_template")]
    template: String,
    /// Each contact gets only the updates that match their interests.
    #[serde(default)]
    digest: bool,
    subject: BTreeMap<String, String>,
    /// The languages the campaign is written in (default: all the config supports).
    languages: Option<Vec<String>>,
    /// What contacts who read none of those languages get.
    #[serde(default)]
    other_languages: OtherLanguages,
    /// A short Markdown note per language, placed above the updates.
    #[serde(default)]
    intro: BTreeMap<String, String>,
    /// Files of the attachments folder that every message carries (`report.pdf`, or per
    /// language `report.en.pdf` and `report.fr.pdf` beside it).
    #[serde(default)]
    attachments: Vec<String>,
    updates: UpdateSelection,
    audience: AudienceSpec,
    /// When and in which hours it may go out; `bulletin schedule` marks it ready.
    schedule: Option<crate::window::ScheduleFile>,
}

/// What a campaign written in fewer languages than the project's does for the other readers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OtherLanguages {
    /// They get the campaign's default language.
    #[default]
    Default,
    /// They are left out.
    LeaveOut,
}

fn default_template() -> String {
    "newsletter".into()
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct UpdateSelection {
    /// Slugs, in the order they appear in the message.
    #[serde(default)]
    include: Vec<String>,
    from: Option<toml::value::Datetime>,
    to: Option<toml::value::Datetime>,
    /// With from/to: keep only updates that carry one of these tags.
    #[serde(default)]
    interests: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AudienceSpec {
    /// Contact list files in the lists folder.
    pub lists: Vec<String>,
    /// Lists whose addresses never receive this campaign.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Only contacts who get one of these languages (empty: all).
    #[serde(default)]
    pub languages: Vec<String>,
    #[serde(default)]
    pub interests_any: Vec<String>,
    #[serde(default)]
    pub interests_all: Vec<String>,
    #[serde(default)]
    pub interests_none: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Campaign {
    pub id: String,
    pub path: PathBuf,
    pub template: String,
    pub digest: bool,
    pub subject: BTreeMap<String, String>,
    /// Intro per language, as HTML and as text.
    pub intro_html: BTreeMap<String, String>,
    pub intro_text: BTreeMap<String, String>,
    /// Updates in the order the message shows them.
    pub updates: Vec<String>,
    /// Attachments every message carries, as the file names them.
    pub attachments: Vec<String>,
    pub audience: AudienceSpec,
    /// The languages a recipient of this campaign may get.
    pub languages: Vec<String>,
    /// Whether the file names the languages it is written in (`languages = [...]`).
    pub written_in_some: bool,
    /// The language given to readers of none of `languages`, unless they are left out.
    pub default_language: String,
    pub other_languages: OtherLanguages,
    pub schedule: crate::window::Schedule,
    /// A digest of what the file says the messages are, its `[schedule]` left out: moving a
    /// campaign's time does not change its content.
    pub content_digest: String,
    /// The file's text, for messages that point at a line of it.
    pub text: String,
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn date_of(dt: &toml::value::Datetime) -> Option<chrono::NaiveDate> {
    let d = dt.date?;
    chrono::NaiveDate::from_ymd_opt(d.year as i32, d.month as u32, d.day as u32)
}

/// Finds a campaign file by id or path: `2026-11`, `2026-11.toml` or `campaigns/2026-11.toml`.
pub fn locate(config: &Config, name: &str) -> Result<PathBuf> {
    let as_path = Path::new(name);
    let dir = config.campaigns_dir();
    if as_path.extension().is_some_and(|e| e == "toml") && as_path.is_file() {
        // Only a campaign in the folder can be followed: `status`, `schedule` and `due` find
        // campaigns there, by id.
        let inside = as_path
            .parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            })
            .and_then(|p| p.canonicalize().ok())
            .zip(dir.canonicalize().ok())
            .is_some_and(|(parent, dir)| parent == dir);
        if !inside {
            return Err(Error::Refused(format!(
                "{} is not in the campaigns folder {}: campaigns are kept there, where `status`, `schedule` and `due` find them; move it there and name it by its id",
                as_path.display(),
                dir.display()
            )));
        }
        return Ok(as_path.to_path_buf());
    }
    let file = dir.join(if name.ends_with(".toml") {
        name.to_string()
    } else {
        format!("{name}.toml")
    });
    if file.is_file() {
        return Ok(file);
    }
    let known = list_files(config).unwrap_or_default();
    let names: Vec<String> = known
        .iter()
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    Err(Error::UnknownCampaign {
        name: name.to_string(),
        folder: dir,
        known: names,
    })
}

/// Finds a campaign by the id it carries, which may differ from its file name.
pub fn locate_id(config: &Config, id: &str) -> Result<PathBuf> {
    if let Ok(p) = locate(config, id) {
        return Ok(p);
    }
    for file in list_files(config)? {
        let declared = crate::limits::read_text_capped(&file, crate::limits::TEXT_FILE)
            .ok()
            .and_then(|t| t.parse::<toml::Table>().ok())
            .and_then(|t| t.get("id").and_then(|v| v.as_str().map(str::to_string)));
        if declared.as_deref() == Some(id) {
            return Ok(file);
        }
    }
    locate(config, id)
}

/// Every campaign file of the project, sorted by name.
pub fn list_files(config: &Config) -> Result<Vec<PathBuf>> {
    let dir = config.campaigns_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| Error::io("read the campaigns folder", &dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

/// The id a campaign name stands for: the id written in its file when it has one, else the file's
/// name, else the name as given (so that a campaign whose file is gone can still be taken back).
pub fn resolve_id(config: &Config, name: &str) -> String {
    let Ok(path) = locate_id(config, name) else {
        return name.to_string();
    };
    crate::limits::read_text_capped(&path, crate::limits::TEXT_FILE)
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .and_then(|t| t.get("id")?.as_str().map(str::to_string))
        .or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| name.to_string())
}

/// Reads and resolves a campaign, adding every problem found to `p`.
pub fn load(path: &Path, config: &Config, updates: &Updates, p: &mut Problems) -> Option<Campaign> {
    let text = match crate::limits::read_text_capped(path, crate::limits::TEXT_FILE) {
        Ok(t) => t,
        Err(e) => {
            p.error(path, None, format!("cannot read: {e}"));
            return None;
        }
    };
    let file: CampaignFile = parse_toml(&text, path, p)?;
    let r = Reading {
        path,
        text: &text,
        file: &file,
        config,
    };
    let line = |key: &str| r.line(key);
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let id = file.id.clone().unwrap_or(stem);
    if !valid_id(&id) {
        p.error(path, line("id"), format!(
            "campaign id \"{id}\" may hold only letters, digits, '-', '_' and '.' (at most 64): it goes into Message-IDs and the journal"));
    }

    let (languages, default_language) = languages_of(&r, p);
    check_texts(&r, &languages, p);
    let slugs = select_updates(&r, updates, &languages, p);
    let audience = audience_of(&r, &languages, p);
    let (intro_html, intro_text) = intros_of(&r, p);
    let schedule = schedule_of(&r, p)?;
    let content_digest = {
        let mut t = text.parse::<toml::Table>().unwrap_or_default();
        t.remove("schedule");
        crate::digest::of([t.to_string().as_bytes()])
    };
    Some(Campaign {
        schedule,
        content_digest,
        text: text.clone(),
        id,
        path: path.to_path_buf(),
        template: file.template,
        digest: file.digest,
        subject: file.subject,
        intro_html,
        intro_text,
        updates: slugs,
        attachments: file.attachments,
        audience,
        languages,
        written_in_some: file.languages.is_some(),
        default_language,
        other_languages: file.other_languages,
    })
}

/// A campaign file being read: where it is, its text and what it holds, for the checks that
/// name its lines.
struct Reading<'a> {
    path: &'a Path,
    text: &'a str,
    file: &'a CampaignFile,
    config: &'a Config,
}

impl Reading<'_> {
    fn line(&self, key: &str) -> Option<usize> {
        crate::config::key_line(self.text, key)
    }
}

/// The languages the campaign is written in, and the one it leads with.
fn languages_of(r: &Reading, p: &mut Problems) -> (Vec<String>, String) {
    let supported = &r.config.languages.supported;
    let known = |raw: &String, key: &str, p: &mut Problems| {
        let code = crate::language::code_of(raw).filter(|c| supported.contains(c));
        if code.is_none() {
            p.error(
                r.path,
                r.line(key),
                format!(
                    "unknown language \"{raw}\" in {key}: the config supports {}",
                    supported.join(", ")
                ),
            );
        }
        code
    };
    // Written in: the file's `languages`, else every supported one; then narrowed to the
    // audience's languages, if it names some.
    let mut languages: Vec<String> = match &r.file.languages {
        Some(list) => {
            let mut v: Vec<String> = Vec::new();
            for raw in list {
                if let Some(c) = known(raw, "languages", p) {
                    if !v.contains(&c) {
                        v.push(c);
                    }
                }
            }
            if list.is_empty() {
                p.error(r.path, r.line("languages"), "languages is empty: list the languages the campaign is written in, such as [\"en\"]");
            }
            v
        }
        None => supported.clone(),
    };
    if !r.file.audience.languages.is_empty() {
        let mut only = Vec::new();
        for raw in &r.file.audience.languages {
            if let Some(c) = known(raw, "[audience] languages", p) {
                only.push(c);
            }
        }
        languages.retain(|l| only.contains(l));
    }
    let default_language = if languages.contains(&r.config.languages.default) {
        r.config.languages.default.clone()
    } else {
        languages.first().cloned().unwrap_or_default()
    };

    (languages, default_language)
}

/// Each language's subject and intro, present and supported.
fn check_texts(r: &Reading, languages: &[String], p: &mut Problems) {
    let supported = &r.config.languages.supported;
    for (lang, subject) in &r.file.subject {
        if !supported.contains(lang) {
            p.error(
                r.path,
                r.line(lang),
                format!(
                    "subject for \"{lang}\", which the config does not support ({})",
                    supported.join(", ")
                ),
            );
        } else if subject.trim().is_empty() {
            p.error(
                r.path,
                r.line(lang),
                format!("subject for \"{lang}\" is empty"),
            );
        }
    }
    for lang in languages {
        if !r.file.subject.contains_key(lang) {
            p.error(r.path, None, format!(
                "missing translation: no subject for \"{lang}\"; add `{lang} = \"...\"` under [subject], or say which languages the campaign is written in (languages = [\"en\"])"));
        }
    }
    for lang in r.file.intro.keys() {
        if !supported.contains(lang) {
            p.error(
                r.path,
                None,
                format!("intro for \"{lang}\", which the config does not support"),
            );
        }
    }
    if !r.file.intro.is_empty() {
        for lang in languages {
            if !r.file.intro.contains_key(lang) {
                p.error(r.path, None, format!("missing translation: [intro] has no \"{lang}\" text while other languages have one"));
            }
        }
    }
}

/// The updates the campaign carries: listed ones in the given order, or those in a date range,
/// newest first; each in every language the campaign is written in.
fn select_updates(
    r: &Reading,
    updates: &Updates,
    languages: &[String],
    p: &mut Problems,
) -> Vec<String> {
    // Updates: listed ones in the given order, or those in a date range, newest first.
    let sel = &r.file.updates;
    let mut slugs: Vec<String> = Vec::new();
    if !sel.include.is_empty() && (sel.from.is_some() || sel.to.is_some()) {
        p.error(
            r.path,
            r.line("include"),
            "[updates] takes either `include` or `from`/`to`, not both",
        );
    }
    if !sel.include.is_empty() {
        for slug in &sel.include {
            if updates.by_slug.contains_key(slug) {
                if !slugs.contains(slug) {
                    slugs.push(slug.clone());
                }
            } else {
                p.error(
                    r.path,
                    r.line("include"),
                    format!(
                        "no update \"{slug}\" in {}: its files would be {slug}.LANG.md",
                        r.config.updates_dir().display()
                    ),
                );
            }
        }
    } else if sel.from.is_some() || sel.to.is_some() {
        let from = sel.from.as_ref().and_then(date_of);
        let to = sel.to.as_ref().and_then(date_of);
        if sel.from.is_some() && from.is_none() || sel.to.is_some() && to.is_none() {
            p.error(
                r.path,
                r.line("from"),
                "[updates] from and to must be plain dates such as 2026-11-01",
            );
        }
        let tags: Vec<String> = sel.interests.iter().map(|t| normalize_tag(t)).collect();
        let mut found: Vec<(chrono::NaiveDate, String)> = updates
            .by_slug
            .keys()
            .filter_map(|slug| {
                let u = updates.any(slug)?;
                let in_range = from.is_none_or(|f| u.date >= f) && to.is_none_or(|t| u.date <= t);
                let tagged = tags.is_empty() || u.interests.iter().any(|i| tags.contains(i));
                (in_range && tagged).then(|| (u.date, slug.clone()))
            })
            .collect();
        found.sort_by(|a, b| b.cmp(a));
        slugs = found.into_iter().map(|(_, s)| s).collect();
        if slugs.is_empty() {
            p.error(
                r.path,
                r.line("from"),
                "no update falls in this date range (and tags): the mailing would be empty",
            );
        }
    } else {
        p.error(
            r.path,
            None,
            "[updates] selects nothing: list slugs in `include`, or give `from` and `to` dates",
        );
    }
    for slug in &slugs {
        for lang in languages {
            if updates.get(slug, lang).is_none() {
                p.error(r.path, r.line("include"), format!(
                    "missing translation: update \"{slug}\" has no \"{lang}\" version; write {}/{slug}.{lang}.md, or say which languages the campaign is written in (languages = [\"en\"])",
                    r.config.updates_dir().display()));
            }
        }
    }

    slugs
}

/// The list name that means the people who signed up through the form and confirmed
/// (`bulletin serve`), read from the journal rather than a file.
pub const SUBSCRIBERS: &str = "subscribers";

/// Who the campaign goes to: its lists present, its interest filters the project's own.
fn audience_of(r: &Reading, languages: &[String], p: &mut Problems) -> AudienceSpec {
    let aud = &r.file.audience;
    if aud.lists.is_empty() {
        p.error(
            r.path,
            r.line("lists"),
            "[audience] lists is empty: name at least one CSV file of the lists folder",
        );
    }
    for list in aud.lists.iter().chain(&aud.exclude) {
        if list == SUBSCRIBERS {
            continue;
        }
        let f = r.config.lists_dir().join(list);
        if !f.is_file() {
            let what = if f.exists() {
                format!("the contact list {} is not a regular file (a device, pipe or folder, perhaps through a symbolic link): give the CSV file itself", f.display())
            } else {
                format!("no contact list {}", f.display())
            };
            p.error(
                r.path,
                r.line(if aud.lists.contains(list) {
                    "lists"
                } else {
                    "exclude"
                }),
                what,
            );
        }
    }
    let mut audience = aud.clone();
    for (key, tags) in [
        ("interests_any", &mut audience.interests_any),
        ("interests_all", &mut audience.interests_all),
        ("interests_none", &mut audience.interests_none),
    ] {
        for t in tags.iter_mut() {
            *t = normalize_tag(t);
            if !r.config.knows_interest(t) {
                p.error(
                    r.path,
                    r.line(key),
                    format!(
                        "unknown interest \"{t}\": the config declares [{}]",
                        r.config.interests.join(", ")
                    ),
                );
            }
        }
    }
    audience.languages = languages.to_vec();

    audience
}

/// Each language's intro, from Markdown to HTML and text.
fn intros_of(
    r: &Reading,
    p: &mut Problems,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut intro_html = BTreeMap::new();
    let mut intro_text = BTreeMap::new();
    for (lang, md) in &r.file.intro {
        let base = r.config.base_url();
        let b = crate::updates::markdown_body(md, base.as_ref());
        b.report(r.path, r.text, 1, base.is_some(), p);
        let set = |t: &str| crate::typography::spaces(t, lang);
        intro_text.insert(lang.clone(), set(&b.text));
        intro_html.insert(lang.clone(), set(&b.html));
    }

    (intro_html, intro_text)
}

/// When and within which hours the campaign goes.
fn schedule_of(r: &Reading, p: &mut Problems) -> Option<crate::window::Schedule> {
    let schedule = match &r.file.schedule {
        None => crate::window::Schedule {
            tz: r.config.tz(),
            send_at: None,
            window: crate::window::Window::always(),
        },
        Some(f) => match crate::window::Schedule::from_file(f, r.config.tz()) {
            Ok(s) => s,
            Err(errs) => {
                for e in errs {
                    let key = e.key();
                    let named = if key == "send_at" { "send_at: " } else { "" };
                    p.error(r.path, r.line(key), format!("[schedule] {named}{e}"));
                }
                return None;
            }
        },
    };

    Some(schedule)
}
