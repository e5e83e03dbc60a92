//! The web archive: `bulletin archive` writes a static site (per language a page per campaign,
//! an index and an Atom feed), clicked through in Debian's Chromium. The test fails when the
//! browser is missing; it is never skipped.

use crate::common;

use common::smtp::RealSmtp;
use common::Project;

const FAST: &str = "per_second = 500\nburst = 100";

/// Waits until the tab shows the page at an address ending in `end`: a click starts a
/// navigation that `wait_until_navigated` may not have seen begin.
fn arrives_at(tab: &headless_chrome::Tab, end: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !tab.get_url().ends_with(end) {
        assert!(
            std::time::Instant::now() < deadline,
            "still at {}",
            tab.get_url()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    tab.wait_until_navigated().unwrap();
}

#[test]
fn sent_campaigns_make_a_site_a_browser_can_walk_with_a_feed_per_language() {
    let server = RealSmtp::start();
    let p = Project::example();
    p.relay(server.port, "connections = 2", FAST);
    let site = p.path().join("site");
    p.bulletin()
        .args(["archive", "--out"])
        .arg(&site)
        .ok()
        .stdout_has("Nothing to archive yet");
    assert!(!site.exists());

    p.bulletin().args(["send", "2026-11-digest", "--yes"]).ok();
    // The digest went out; the English-only report is published before it goes.
    p.bulletin()
        .args(["archive", "2026-12-mpome-conference-report", "--out"])
        .arg(&site)
        .ok()
        .stdout_has("Wrote 3 pages in 2 languages (en, fr)");
    for f in [
        "index.html",
        "en/index.html",
        "en/feed.xml",
        "en/2026-11-digest.html",
        "en/2026-12-mpome-conference-report.html",
        "fr/index.html",
        "fr/feed.xml",
        "fr/2026-11-digest.html",
    ] {
        assert!(site.join(f).is_file(), "{f}");
    }
    assert!(
        !site
            .join("fr/2026-12-mpome-conference-report.html")
            .exists(),
        "written in en only"
    );

    // Titles without the fallback a nameless reader gets ("Colleagues: ...").
    let index = std::fs::read_to_string(site.join("en/index.html")).unwrap();
    assert!(
        index.contains(">The MPOME conference report, in English</a>")
            && !index.contains("Colleagues"),
        "{index}"
    );

    // Nobody's data: no address, no token, no name of a reader.
    for f in ["en/2026-11-digest.html", "fr/2026-11-digest.html"] {
        let page = std::fs::read_to_string(site.join(f)).unwrap();
        assert!(!page.contains("@example.org"), "{f} holds an address");
        assert!(!page.contains("/u/"), "{f} holds an unsubscribe link");
        for name in ["James", "Hélène", "Amina"] {
            assert!(!page.contains(name), "{f} names {name}");
        }
        assert!(
            !page.contains("archive/en/2026-11-digest.html"),
            "no link to itself"
        );
    }

    // The feeds: valid Atom, newest first, with the pages' full addresses.
    let feed = atom_syndication::Feed::read_from(std::io::BufReader::new(
        std::fs::File::open(site.join("en/feed.xml")).unwrap(),
    ))
    .expect("valid Atom");
    let links: Vec<String> = feed
        .entries()
        .iter()
        .map(|e| e.links()[0].href().to_string())
        .collect();
    assert_eq!(links.len(), 2);
    assert!(links.contains(
        &"https://disarmament-insight.example.org/archive/en/2026-11-digest.html".to_string()
    ));
    let fr = atom_syndication::Feed::read_from(std::io::BufReader::new(
        std::fs::File::open(site.join("fr/feed.xml")).unwrap(),
    ))
    .unwrap();
    assert_eq!(fr.entries().len(), 1);
    assert_eq!(
        fr.entries()[0].title().as_str(),
        "Disarmament Insight, novembre 2026\u{a0}: vos actualités"
    );

    // A real browser: the root offers each language in its own name, and leads to its index,
    // whose links lead to the pages and to the French index.
    let (browser, _profile) = common::chromium();
    let tab = browser.new_tab().unwrap();
    tab.navigate_to(&format!("file://{}", site.join("index.html").display()))
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    let root = tab
        .wait_for_element("#languages")
        .unwrap()
        .get_inner_text()
        .unwrap();
    assert!(
        root.contains("English") && root.contains("Français"),
        "{root}"
    );
    tab.wait_for_element("#languages a[hreflang=en]")
        .unwrap()
        .click()
        .unwrap();
    tab.wait_until_navigated().unwrap();
    let first = tab.wait_for_element("#campaigns li a").unwrap();
    assert!(
        tab.get_url().ends_with("/en/index.html"),
        "{}",
        tab.get_url()
    );
    let subject = first.get_inner_text().unwrap();
    first.click().unwrap();
    tab.wait_until_navigated().unwrap();
    let body = tab
        .wait_for_element("body")
        .unwrap()
        .get_inner_text()
        .unwrap();
    assert!(tab.get_url().contains("/en/2026-1"), "{}", tab.get_url());
    // Both campaigns carry the materiel update; the page is the message, not an empty shell.
    assert!(
        body.contains("Weapons lost from peace operations"),
        "{body}"
    );
    assert!(
        subject.starts_with("Disarmament Insight, November 2026"),
        "newest first: {subject}"
    );
    tab.navigate_to(&format!("file://{}", site.join("en/index.html").display()))
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    tab.wait_for_element("nav a[hreflang=fr]")
        .unwrap()
        .click()
        .unwrap();
    tab.wait_until_navigated().unwrap();
    let lang = tab
        .wait_for_element("html")
        .unwrap()
        .get_attribute_value("lang")
        .unwrap();
    assert_eq!(lang.as_deref(), Some("fr"));
    let french = tab
        .wait_for_element("#campaigns li a")
        .unwrap()
        .get_inner_text()
        .unwrap();
    assert_eq!(
        french,
        "Disarmament Insight, novembre 2026\u{a0}: vos actualités"
    );
    // A campaign's page leads over to its other languages and back to its index.
    tab.wait_for_element("#campaigns li a")
        .unwrap()
        .click()
        .unwrap();
    tab.wait_until_navigated().unwrap();
    tab.wait_for_element("nav.archive-nav a[hreflang=en]")
        .unwrap()
        .click()
        .unwrap();
    arrives_at(&tab, "/en/2026-11-digest.html");
    assert_eq!(
        tab.get_title().unwrap(),
        "Disarmament Insight, November 2026: your updates · Disarmament Insight"
    );
    tab.wait_for_element("nav.archive-nav a[rel=index]")
        .unwrap()
        .click()
        .unwrap();
    arrives_at(&tab, "/en/index.html");

    // Every message links to its page, in each of its languages.
    let sent = server.messages();
    let bilingual = sent
        .iter()
        .map(|m| String::from_utf8_lossy(&m.data).to_string())
        .find(|t| t.contains("Content-Language: en, fr") || t.contains("Content-Language: fr, en"))
        .expect("a bilingual message");
    let decoded = bilingual.replace("=\r\n", "");
    assert!(
        decoded.contains("https://disarmament-insight.example.org/archive/en/2026-11-digest.html")
    );
    assert!(
        decoded.contains("https://disarmament-insight.example.org/archive/fr/2026-11-digest.html")
    );

    // What others keep in the published folder: a git checkout, server settings, notes, a
    // page of their own in a language folder.
    p.write("site/.git/HEAD", "ref: refs/heads/main\n");
    p.write("site/.htaccess", "Options -Indexes\n");
    p.write("site/NOTES.md", "published by hand\n");
    p.write("site/en/about.html", "<p>ours</p>");
    // Run again with one campaign fewer: bulletin's pages are replaced, the one it no longer
    // writes is removed, and everything else stays as it was.
    p.bulletin()
        .args(["archive", "--out"])
        .arg(&site)
        .ok()
        .stdout_has("Wrote 2 pages");
    assert!(!site
        .join("en/2026-12-mpome-conference-report.html")
        .exists());
    assert!(site.join("en/2026-11-digest.html").exists());
    assert_eq!(p.read("site/.git/HEAD"), "ref: refs/heads/main\n");
    assert_eq!(p.read("site/.htaccess"), "Options -Indexes\n");
    assert_eq!(p.read("site/NOTES.md"), "published by hand\n");
    assert_eq!(p.read("site/en/about.html"), "<p>ours</p>");
    // A file of someone else's where the archive has one of its own: nothing changes.
    p.write("site/fr/index.html", "mine");
    std::fs::remove_file(site.join(".bulletin-archive")).unwrap();
    p.write(
        "site/.bulletin-archive",
        "# Written by `bulletin archive`: the files below are bulletin's, and the next run replaces\n# or removes them; any other file in this folder is left alone.\nen/index.html\n",
    );
    p.bulletin()
        .args(["archive", "--out"])
        .arg(&site)
        .fails()
        .stderr_has("was not written by bulletin archive");
    assert_eq!(p.read("site/fr/index.html"), "mine");
    let other = p.path().join("other");
    p.write("other/keep.txt", "mine");
    p.bulletin()
        .args(["archive", "--out"])
        .arg(&other)
        .fails()
        .stderr_has("is not an archive bulletin wrote");
    assert_eq!(p.read("other/keep.txt"), "mine");

    // The list is a file of a folder others write to: a line leading out of it is refused,
    // and what it names stays.
    std::fs::remove_file(site.join("fr/index.html")).unwrap();
    let head = "# Written by `bulletin archive`: the files below are bulletin's, and the next run replaces\n# or removes them; any other file in this folder is left alone.\n";
    let victim = p.path().join("victim.txt");
    p.write("victim.txt", "precious");
    for line in ["../victim.txt".to_string(), victim.display().to_string()] {
        p.write(
            "site/.bulletin-archive",
            format!("{head}en/index.html\n{line}\n"),
        );
        p.bulletin()
            .args(["archive", "--out"])
            .arg(&site)
            .fails()
            .stderr_has("which is not a page or feed inside the folder");
        assert_eq!(p.read("victim.txt"), "precious");
    }
    // Lines added by hand for files of others: not pages, refused; a page of others listed
    // with a made-up digest is not removed.
    let site2 = p.path().join("site2");
    p.bulletin().args(["archive", "--out"]).arg(&site2).ok();
    let listed = p.read("site2/.bulletin-archive");
    p.write("site2/notes.txt", "mine");
    p.write("site2/.bulletin-archive", format!("{listed}notes.txt\n"));
    p.bulletin()
        .args(["archive", "--out"])
        .arg(&site2)
        .fails()
        .stderr_has("which is not a page or feed inside the folder");
    p.write("site2/theirs.html", "their page");
    p.write(
        "site2/.bulletin-archive",
        format!("{listed}0123456789abcdef0123456789abcdef theirs.html\n"),
    );
    p.bulletin().args(["archive", "--out"]).arg(&site2).ok();
    assert_eq!(p.read("site2/theirs.html"), "their page");
    assert_eq!(p.read("site2/notes.txt"), "mine");
    // A marker bulletin did not write makes the folder a foreign one.
    p.write("site/.bulletin-archive", "hello\n");
    p.bulletin()
        .args(["archive", "--out"])
        .arg(&site)
        .fails()
        .stderr_has("is not a list bulletin wrote");
    // A language folder made a link to elsewhere: nothing is written through it.
    p.write("site/.bulletin-archive", format!("{head}en/index.html\n"));
    let elsewhere = p.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::remove_dir_all(site.join("fr")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, site.join("fr")).unwrap();
    p.bulletin()
        .args(["archive", "--out"])
        .arg(&site)
        .fails()
        .stderr_has("is a symbolic link");
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}
