//! Campaigns in, the team's web archive out: a static site with, per language, one page per
//! campaign (its message as nobody in particular reads it: no name, no token), an index of
//! past campaigns and an Atom feed. Written whole to a staging folder first; then its files
//! are moved into the archive folder, and the files an earlier run wrote that this one does not
//! are removed. What others keep in that folder (`.git/`, `.htaccess`, notes) is left alone:
//! the marker file lists what bulletin wrote, and only that is ever replaced or removed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;

use crate::campaign::{self, Campaign};
use crate::config::Config;
use crate::problems::Problems;
use crate::render::Renderer;
use crate::{Error, Result};

/// The file that marks a folder as an archive bulletin wrote, and lists the files it wrote
/// there (one relative path a line, after the comment lines): those, and only those, a later
/// run may replace or remove.
const MARKER: &str = ".bulletin-archive";
const MARKER_HEAD: &str = "# Written by `bulletin archive`: the files below are bulletin's, and the next run replaces\n# or removes them; any other file in this folder is left alone.\n";

/// One campaign's web copy in one language.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    pub campaign: String,
    pub lang: String,
    pub subject: String,
    /// When it went out (its first delivery), else when it is planned, else its newest update.
    pub date: DateTime<Utc>,
    pub date_text: String,
    /// The page's file name inside the language's folder.
    pub file: String,
}

/// What was written.
#[derive(Debug, Default)]
pub struct Report {
    pub pages: Vec<Page>,
    pub languages: Vec<String>,
}

/// The campaigns to archive: those named, and every one the journal says has gone out.
pub fn campaigns(
    config: &Config,
    store: &crate::journal::Store,
    named: &[String],
) -> Result<Vec<PathBuf>> {
    let mut ids: Vec<String> = named.to_vec();
    if let Some(j) = store.existing()? {
        for c in j.campaigns()? {
            if j.sent_span(&c)?.is_some() && !ids.contains(&c) {
                ids.push(c);
            }
        }
    }
    let mut paths = Vec::new();
    for id in &ids {
        let path = campaign::locate_id(config, id)?;
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    Ok(paths)
}

/// Writes the archive of `campaign_paths` to `out`, replacing an earlier archive there.
pub fn write(
    config: &Config,
    store: &crate::journal::Store,
    campaign_paths: &[PathBuf],
    out: &Path,
) -> Result<Report> {
    let mut p = Problems::new();
    let updates = crate::updates::load(config, &mut p)?;
    let journal = store.existing()?;
    let mut pages: Vec<(Page, String)> = Vec::new();
    for path in campaign_paths {
        let Some(c) = campaign::load(path, config, &updates, &mut p) else {
            continue;
        };
        let Some(renderer) = Renderer::new(config, &c, &updates, &mut p) else {
            continue;
        };
        let date = campaign_date(&c, &updates, journal.as_deref())?;
        for lang in &c.languages {
            let web = renderer.render_web(lang).map_err(|e| {
                Error::Refused(format!(
                    "{}: the web copy in \"{lang}\" cannot be made, as it has no reader: {e}. Give each merge field a default, or put it inside {{% if web %}}...{{% endif %}}",
                    c.path.display()
                ))
            })?;
            pages.push((
                Page {
                    campaign: c.id.clone(),
                    lang: lang.clone(),
                    subject: web.subject,
                    date,
                    date_text: crate::language::format_date(date.date_naive(), lang),
                    file: format!("{}.html", c.id),
                },
                web.html,
            ));
        }
    }
    p.into_result()?;
    pages.sort_by(|a, b| {
        b.0.date
            .cmp(&a.0.date)
            .then(a.0.campaign.cmp(&b.0.campaign))
    });
    let mut languages: Vec<String> = Vec::new();
    for (page, _) in &pages {
        if !languages.contains(&page.lang) {
            languages.push(page.lang.clone());
        }
    }
    languages.sort_by_key(|l| config.languages.supported.iter().position(|s| s == l));

    let staging = staging_path(out);
    let _ = std::fs::remove_dir_all(&staging);
    let guard = crate::interrupt::Guard::new();
    let written = write_site(config, &pages, &languages, &staging);
    let result = written.and_then(|()| {
        if crate::interrupt::requested() {
            return Err(Error::Interrupted(crate::interrupt::signal_name()));
        }
        swap_in(&staging, out)
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    drop(guard);
    result?;
    Ok(Report {
        pages: pages.into_iter().map(|(p, _)| p).collect(),
        languages,
    })
}

fn campaign_date(
    c: &Campaign,
    updates: &crate::updates::Updates,
    journal: Option<&crate::journal::Journal>,
) -> Result<DateTime<Utc>> {
    if let Some(j) = journal {
        if let Some((first, _)) = j.sent_span(&c.id)? {
            if let Some(d) = Utc.timestamp_millis_opt(first).single() {
                return Ok(d);
            }
        }
    }
    if let Some(at) = c.schedule.send_at {
        return Ok(at);
    }
    let newest = c
        .updates
        .iter()
        .filter_map(|s| updates.any(s))
        .map(|u| u.date)
        .max()
        .unwrap_or_default();
    Ok(Utc.from_utc_datetime(&newest.and_hms_opt(0, 0, 0).unwrap_or_default()))
}

fn staging_path(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "archive".into());
    out.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

/// The files under `dir`, as relative paths with `/`, the marker left out.
fn files_under(dir: &Path) -> Result<Vec<String>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
        for e in std::fs::read_dir(dir).map_err(|e| Error::io("read", dir, e))? {
            let e = e.map_err(|e| Error::io("read", dir, e))?;
            let p = e.path();
            if e.file_type()
                .map_err(|e| Error::io("read", &p, e))?
                .is_dir()
            {
                walk(root, &p, out)?;
            } else if let Ok(rel) = p.strip_prefix(root) {
                let rel = rel.to_string_lossy().replace('\\', "/");
                if rel != MARKER {
                    out.push(rel);
                }
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

/// The files an earlier run says it wrote, each with a digest of what it wrote there (none
/// from bulletin before digests were kept); None when the folder has no marker.
fn manifest(out: &Path, new: &[String]) -> Result<Option<BTreeMap<String, Option<String>>>> {
    let marker = out.join(MARKER);
    if std::fs::symlink_metadata(&marker).is_ok_and(|m| !m.is_file()) {
        return Err(Error::Refused(format!(
            "{} is not a plain file (a link?): the folder {} will not be written into",
            marker.display(),
            out.display()
        )));
    }
    let Ok(text) = std::fs::read_to_string(&marker) else {
        return Ok(None);
    };
    if text == LEGACY_MARKER {
        return Ok(Some(new.iter().map(|f| (f.clone(), None)).collect()));
    }
    if !text.starts_with(MARKER_HEAD) {
        return Err(Error::Refused(format!(
            "{} is not a list bulletin wrote: the folder {} will not be written into. Remove that file if the folder is an archive bulletin wrote, or choose another --out",
            marker.display(),
            out.display()
        )));
    }
    let mut files = BTreeMap::new();
    for l in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (digest, f) = l.split_once(' ').unwrap_or(("", l));
        // The list is a file in a folder others write to: nothing it names may lead out of
        // it, and only pages and feeds are the archive's.
        if !plain_relative(f) || !(f.ends_with(".html") || f.ends_with(".xml")) {
            return Err(Error::Refused(format!(
                "{} names {f:?}, which is not a page or feed inside the folder: it was edited by hand, and bulletin will not remove what it names. Fix or remove that line",
                marker.display()
            )));
        }
        files.insert(f.to_string(), Some(digest.to_string()));
    }
    Ok(Some(files))
}

/// Whether the file at `rel` under `out` is still as bulletin wrote it: its digest is the
/// listed one (a file from before digests were kept counts as bulletin's).
fn still_ours(out: &Path, rel: &str, listed: &Option<String>) -> bool {
    match listed {
        None => true,
        Some(d) => {
            std::fs::read(out.join(rel)).is_ok_and(|b| &crate::digest::of([b.as_slice()]) == d)
        }
    }
}

/// The marker of bulletin before it listed its files.
const LEGACY_MARKER: &str = "Written by `bulletin archive`; replaced whole at each run.\n";

/// A path of the archive's own making: relative, of plain names, none of them `..`.
fn plain_relative(f: &str) -> bool {
    let p = Path::new(f);
    !f.is_empty()
        && !f.contains('\\')
        && p.components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// Whether writing `rel` under `out` would go through a symbolic link (a language folder
/// made a link to somewhere else), or replace one.
fn through_a_link(out: &Path, rel: &str) -> Option<PathBuf> {
    let mut at = out.to_path_buf();
    for part in Path::new(rel).components() {
        at.push(part);
        if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
            return Some(at);
        }
    }
    None
}

fn write_manifest(out: &Path, files: &BTreeMap<String, String>) -> Result<()> {
    let mut text = MARKER_HEAD.to_string();
    for (f, digest) in files {
        text.push_str(&format!("{digest} {f}\n"));
    }
    let tmp = out.join(format!("{MARKER}.tmp"));
    std::fs::write(&tmp, text).map_err(|e| Error::io("write", &tmp, e))?;
    std::fs::rename(&tmp, out.join(MARKER)).map_err(|e| Error::io("write", out, e))
}

/// Puts the finished site where it belongs. A folder is written into only if bulletin wrote
/// it before (it holds the marker) or it is empty; then bulletin's own files are replaced,
/// those it no longer writes are removed, and every other file stays. A file of someone
/// else's where the new site has one of its own stops the run before anything changes.
fn swap_in(staging: &Path, out: &Path) -> Result<()> {
    let new_files = files_under(staging)?;
    let mut new: BTreeMap<String, String> = BTreeMap::new();
    for f in &new_files {
        let bytes = std::fs::read(staging.join(f)).map_err(|e| Error::io("read", staging, e))?;
        new.insert(f.clone(), crate::digest::of([bytes.as_slice()]));
    }
    let empty = !out.exists()
        || std::fs::read_dir(out)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
    let old = match manifest(out, &new_files)? {
        Some(m) => m,
        None if empty => BTreeMap::new(),
        None => {
            return Err(Error::Refused(format!(
                "{} is not empty and is not an archive bulletin wrote: it will not be written into. Choose another --out, or move its files away",
                out.display()
            )))
        }
    };
    if let Some(link) = new
        .keys()
        .chain(old.keys())
        .find_map(|f| through_a_link(out, f))
    {
        return Err(Error::Refused(format!(
            "{} is a symbolic link: the archive writes and removes only files of its own folder, so it stops here (nothing was changed)",
            link.display()
        )));
    }
    // A file of the new site's name that is not bulletin's, or no longer as bulletin wrote it,
    // stops the run before anything changes.
    for f in new.keys().filter(|f| out.join(f).exists()) {
        let why = match old.get(f) {
            None => "was not written by bulletin archive",
            Some(d) if !still_ours(out, f, d) => "was changed since bulletin archive wrote it",
            Some(_) => continue,
        };
        return Err(Error::Refused(format!(
            "{} {why}, and the archive has a file of that name: move it away and run again (nothing was changed)",
            out.join(f).display()
        )));
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io("create", out, e))?;
    // Every file that may be bulletin's from here on is listed before any moves, so that an
    // interruption leaves nothing of bulletin's unaccounted for.
    let gone: Vec<&String> = old
        .iter()
        .filter(|(f, d)| !new.contains_key(*f) && still_ours(out, f, d))
        .map(|(f, _)| f)
        .collect();
    let mut both = new.clone();
    for f in &gone {
        if let Ok(b) = std::fs::read(out.join(f)) {
            both.insert((*f).clone(), crate::digest::of([b.as_slice()]));
        }
    }
    write_manifest(out, &both)?;
    for f in new.keys() {
        let to = out.join(f);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
        }
        std::fs::rename(staging.join(f), &to).map_err(|e| Error::io("put in place", &to, e))?;
    }
    for f in gone {
        let file = out.join(f);
        let _ = std::fs::remove_file(&file);
        // A language folder emptied of bulletin's pages goes too, if nothing else is in it.
        if let Some(parent) = file.parent().filter(|p| *p != out) {
            let _ = std::fs::remove_dir(parent);
        }
    }
    write_manifest(out, &new)?;
    let _ = std::fs::remove_dir_all(staging);
    Ok(())
}

const INDEX: &str = include_str!("archive-index.html");
const ROOT: &str = include_str!("archive-root.html");

fn write_site(
    config: &Config,
    pages: &[(Page, String)],
    languages: &[String],
    dir: &Path,
) -> Result<()> {
    let mk = |d: &Path| std::fs::create_dir_all(d).map_err(|e| Error::io("create", d, e));
    let put =
        |f: &Path, bytes: &[u8]| std::fs::write(f, bytes).map_err(|e| Error::io("write", f, e));
    mk(dir)?;
    let mut tera = tera::Tera::default();
    tera.add_raw_templates([("index.html", INDEX), ("root.html", ROOT)])
        .map_err(|e| Error::Template(format!("the archive's index template: {e}")))?;
    let base = config.archive_url().map(|u| u.to_string());
    let title = |lang: &str| {
        let strings = crate::render::strings(config, lang);
        strings
            .get("masthead")
            .and_then(|v| v.as_str())
            .unwrap_or(&config.sender.organisation)
            .to_string()
    };
    for lang in languages {
        let ldir = dir.join(lang);
        mk(&ldir)?;
        let mine: Vec<&Page> = pages
            .iter()
            .map(|(p, _)| p)
            .filter(|p| &p.lang == lang)
            .collect();
        for (page, html) in pages.iter().filter(|(p, _)| &p.lang == lang) {
            let others: Vec<&Page> = pages
                .iter()
                .map(|(p, _)| p)
                .filter(|p| p.campaign == page.campaign && p.lang != page.lang)
                .collect();
            let html = page_with_navigation(html, page, &others, &title(lang));
            put(&ldir.join(&page.file), html.as_bytes())?;
        }
        let mut ctx = tera::Context::new();
        ctx.insert("lang", lang);
        ctx.insert("title", &title(lang));
        ctx.insert(
            "tagline",
            crate::render::strings(config, lang)
                .get("tagline")
                .and_then(|v| v.as_str())
                .unwrap_or(""),
        );
        ctx.insert("pages", &mine);
        ctx.insert(
            "languages",
            &languages
                .iter()
                .map(|l| (l.clone(), crate::language::native_name(l)))
                .collect::<Vec<_>>(),
        );
        let index = tera
            .render("index.html", &ctx)
            .map_err(|e| Error::Template(format!("the archive's index: {e}")))?;
        put(&ldir.join("index.html"), index.as_bytes())?;
        let feed = feed(config, lang, &title(lang), &mine, base.as_deref());
        put(&ldir.join("feed.xml"), feed.as_bytes())?;
    }
    // The site's root: a choice of language, each in its own words.
    if !languages.is_empty() {
        let choices: Vec<serde_json::Value> = languages
            .iter()
            .map(|l| {
                let strings = crate::render::strings(config, l);
                serde_json::json!({
                    "code": l,
                    "name": crate::language::native_name(l),
                    "title": title(l),
                    "tagline": strings.get("tagline").and_then(|v| v.as_str()).unwrap_or(""),
                    "count": pages.iter().filter(|(p, _)| &p.lang == l).count(),
                })
            })
            .collect();
        let mut ctx = tera::Context::new();
        ctx.insert("lang", &languages[0]);
        ctx.insert("title", &title(&languages[0]));
        ctx.insert("choices", &choices);
        let mut titles: Vec<String> = languages.iter().map(|l| title(l)).collect();
        titles.dedup();
        ctx.insert("titles", &titles.join(" · "));
        let root = tera
            .render("root.html", &ctx)
            .map_err(|e| Error::Template(format!("the archive's root page: {e}")))?;
        put(&dir.join("index.html"), root.as_bytes())?;
    }
    Ok(())
}

/// "All issues" in the page's language, for the link back to its index.
fn all_issues(lang: &str) -> &'static str {
    match lang {
        "fr" => "Tous les numéros",
        "de" => "Alle Ausgaben",
        "es" => "Todos los números",
        "it" => "Tutti i numeri",
        _ => "All issues",
    }
}

/// A campaign's page with the archive's navigation: back to its language's index, over to its
/// other languages; and the page's title made its own ("Weapons lost... · Disarmament
/// Insight") where the message's is the masthead alone.
fn page_with_navigation(html: &str, page: &Page, others: &[&Page], masthead: &str) -> String {
    let esc = crate::render::escape_html;
    let mut nav = format!(
        "<nav class=\"archive-nav\" style=\"font-family: Arial, Helvetica, sans-serif; font-size: 14px; max-width: 600px; margin: 0 auto; padding: 12px 16px; box-sizing: border-box;\"><a href=\"index.html\" rel=\"index\" style=\"color: #0b3d61;\">← {}</a>",
        esc(all_issues(&page.lang))
    );
    for o in others {
        nav.push_str(&format!(
            " · <a href=\"../{lang}/{file}\" hreflang=\"{lang}\" lang=\"{lang}\" rel=\"alternate\" style=\"color: #0b3d61;\">{name}</a>",
            lang = esc(&o.lang),
            file = esc(&o.file),
            name = esc(crate::language::native_name(&o.lang)),
        ));
    }
    nav.push_str("</nav>");
    let mut out = html.to_string();
    if let Some(start) = out.find("<title>") {
        if let Some(len) = out[start..].find("</title>") {
            let title = format!("<title>{} · {}</title>", esc(&page.subject), esc(masthead));
            out.replace_range(start..start + len + "</title>".len(), &title);
        }
    }
    if let Some(body) = out.find("<body") {
        if let Some(end) = out[body..].find('>') {
            out.insert_str(body + end + 1, &nav);
        }
    }
    out
}

/// The Atom feed of one language's pages, newest first.
fn feed(config: &Config, lang: &str, title: &str, pages: &[&Page], base: Option<&str>) -> String {
    use atom_syndication::{Entry, Feed, Link, Text};
    let here = |file: &str| match base {
        Some(b) => format!("{b}{lang}/{file}"),
        None => file.to_string(),
    };
    let id = |what: &str| match base {
        Some(b) => format!("{b}{lang}/{what}"),
        None => format!("urn:bulletin:{}:{lang}:{what}", config.list_id()),
    };
    let mut f = Feed::default();
    f.set_title(Text::plain(title));
    f.set_id(id("feed.xml"));
    f.set_lang(Some(lang.to_string()));
    let newest = pages.first().map_or_else(Utc::now, |p| p.date);
    f.set_updated(newest.fixed_offset());
    let mut me = Link::default();
    me.set_href(here("feed.xml"));
    me.set_rel("self");
    let mut site = Link::default();
    site.set_href(here("index.html"));
    site.set_rel("alternate");
    f.set_links(vec![me, site]);
    let mut author = atom_syndication::Person::default();
    author.set_name(config.sender.organisation.clone());
    f.set_authors(vec![author]);
    let entries: Vec<Entry> = pages
        .iter()
        .map(|p| {
            let mut e = Entry::default();
            e.set_title(Text::plain(p.subject.clone()));
            e.set_id(id(&p.file));
            e.set_updated(p.date.fixed_offset());
            e.set_published(Some(p.date.fixed_offset()));
            let mut l = Link::default();
            l.set_href(here(&p.file));
            l.set_rel("alternate");
            l.set_mime_type(Some("text/html".to_string()));
            e.set_links(vec![l]);
            e
        })
        .collect();
    f.set_entries(entries);
    f.to_string()
}
