//! `bulletin serve` over a real socket: a real HTTP client (ureq) for the protocol, 1,000
//! one-click POSTs from 50 clients at once, and a real Chromium (Debian's `chromium`, which
//! `.ci/run` installs) clicking through the page. The Chromium test fails when the browser is
//! missing: it is never skipped.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

use common::{Project, TOKEN_SECRET};

/// A running `bulletin serve` on a free port; stopped when dropped.
pub(crate) struct Server {
    child: Child,
    pub(crate) base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(p: &Project) -> Server {
    serve_with(p, &[])
}

/// `bulletin serve` with these variables set (a fixed clock).
pub(crate) fn serve_with(p: &Project, env: &[(&str, &str)]) -> Server {
    let mut cmd = common::command();
    cmd.envs(env.iter().copied());
    let mut child = cmd
        .current_dir(p.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    // The server logs each unsubscribe on stdout: keep reading it.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    Server { child, base }
}

fn token(campaign: &str, email: &str, lang: &str) -> String {
    bulletin::token::Keys::new(TOKEN_SECRET).token(campaign, email, lang)
}

pub(crate) fn agent() -> ureq::Agent {
    // A pooled connection is not reused once it has been idle for 2 s: the server closes
    // idle ones after its header timeout, and a request sent as it does so meets a closed
    // socket (seen on a loaded machine).
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_idle_age(std::time::Duration::from_secs(2))
        .build()
        .into()
}

#[test]
fn get_shows_post_suppresses_forgeries_change_nothing() {
    let p = Project::example();
    let s = serve(&p);
    let http = agent();
    let get = |path: &str| {
        let mut r = http.get(format!("{}{path}", s.base)).call().unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    };
    let post = |path: &str, body: &str| {
        let mut r = http
            .post(format!("{}{path}", s.base))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(body)
            .unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    };
    assert_eq!(get("/healthz"), (200, "ok\n".to_string()));

    let t = token("2026-11-digest", "amina.diallo@example.org", "fr");
    // A GET (a mail scanner fetching the link) shows the page, in French, and changes nothing.
    let (code, page) = get(&format!("/u/{t}"));
    assert_eq!(code, 200);
    assert!(
        page.contains("Me désabonner") && page.contains("lang=\"fr\""),
        "{page}"
    );
    assert!(
        page.contains("1211 Genève 10, Suisse") && !page.contains("Switzerland"),
        "the organisation's address in French: {page}"
    );
    assert!(
        page.contains("cette adresse\u{a0}?") && page.contains("qu’action"),
        "the page set as French is: {page}"
    );
    assert!(
        page.contains("amina.diallo@example.org"),
        "the page shows the address it is about: {page}"
    );
    assert!(p.suppressed().is_empty());

    // The one-click POST of RFC 8058 suppresses at once, and again is harmless.
    assert_eq!(
        post(&format!("/u/{t}"), "List-Unsubscribe=One-Click").0,
        200
    );
    assert_eq!(
        post(&format!("/u/{t}"), "List-Unsubscribe=One-Click").0,
        200
    );
    let rows = p.suppressed();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["email"], "amina.diallo@example.org");
    assert_eq!(rows[0]["reason"], "unsubscribed");
    assert_eq!(rows[0]["source"], "link");
    assert_eq!(rows[0]["campaign"], "2026-11-digest");

    // Forged, truncated, foreign and odd requests: 400 or 404, and nothing changes.
    let other = bulletin::token::Keys::new("another secret").token(
        "2026-11-digest",
        "j.okafor@example.org",
        "en",
    );
    let mut forged = token("2026-11-digest", "j.okafor@example.org", "en").into_bytes();
    let mid = forged.len() / 2;
    forged[mid] = if forged[mid] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let good = token("2026-11-digest", "j.okafor@example.org", "en");
    for bad in [
        other.as_str(),
        forged.as_str(),
        &good[..good.len() - 3],
        "x",
    ] {
        assert_eq!(get(&format!("/u/{bad}")).0, 400, "{bad}");
        assert_eq!(
            post(&format!("/u/{bad}"), "List-Unsubscribe=One-Click").0,
            400
        );
    }
    assert_eq!(post(&format!("/u/{good}"), "something else").0, 400);
    let big = format!("List-Unsubscribe=One-Click&{}", "x".repeat(10_000));
    assert_eq!(post(&format!("/u/{good}"), &big).0, 413);
    assert_eq!(get("/etc/passwd").0, 404);
    assert_eq!(get("/u/").0, 404);
    assert_eq!(p.suppressed().len(), 1);

    // The address is left out of the next campaign, which would have mailed it.
    let rows = p.recipients("2026-11-mpome-briefing");
    assert!(!rows.is_empty());
    assert!(!rows
        .iter()
        .any(|r| r["email"] == "amina.diallo@example.org"));
    p.bulletin()
        .args(["audience", "2026-11-mpome-briefing"])
        .ok()
        .stdout_has("suppressed 1");
}

#[test]
fn a_thousand_one_click_posts_from_fifty_clients_lose_none() {
    let p = Project::example();
    let s = serve(&p);
    let tokens: Vec<String> = (0..1000)
        .map(|i| token("2026-11-digest", &format!("reader{i}@example.org"), "en"))
        .collect();
    let chunks: Vec<Vec<String>> = tokens.chunks(20).map(|c| c.to_vec()).collect();
    assert_eq!(chunks.len(), 50);
    let handles: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            let base = s.base.clone();
            std::thread::spawn(move || {
                let http = agent();
                chunk
                    .iter()
                    .map(|t| {
                        http.post(format!("{base}/u/{t}"))
                            .send("List-Unsubscribe=One-Click")
                            .map(|r| r.status().as_u16())
                            .unwrap_or(0)
                    })
                    .collect::<Vec<u16>>()
            })
        })
        .collect();
    let codes: Vec<u16> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert_eq!(codes.len(), 1000);
    assert!(codes.iter().all(|c| *c == 200), "{codes:?}");
    let rows = p.suppressed();
    assert_eq!(rows.len(), 1000, "every one recorded");
    let distinct: std::collections::HashSet<_> = rows.iter().map(|r| &r["email"]).collect();
    assert_eq!(distinct.len(), 1000);
}

#[test]
fn a_real_browser_clicks_the_button_and_the_address_is_suppressed() {
    let p = Project::example();
    let s = serve(&p);
    let (browser, _profile) = common::chromium();
    let tab = browser.new_tab().unwrap();
    let t = token("2026-11-digest", "helene.dupre@example.org", "fr");
    tab.navigate_to(&format!("{}/u/{t}", s.base))
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    let button = tab.wait_for_element("#unsubscribe").unwrap();
    assert_eq!(button.get_inner_text().unwrap(), "Me désabonner");
    assert!(
        p.suppressed().is_empty(),
        "showing the page changes nothing"
    );
    button.click().unwrap();
    let done = tab.wait_for_element("#done").unwrap();
    assert_eq!(done.get_inner_text().unwrap(), "Vous êtes désabonné·e");
    let rows = p.suppressed();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["email"], "helene.dupre@example.org");
}

/// curl, as a mail program would: the status code of a POST with `args`.
fn curl_post(url: &str, args: &[&str]) -> u16 {
    let out = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST"])
        .args(args)
        .arg(url)
        .output()
        .expect("curl is needed for this test (apt-get install curl; tests/run installs it)");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

/// RFC 8058 asks mail programs for `multipart/form-data`; others send the field url-encoded
/// with more fields beside it. Every form is honoured; a body without the field is not.
#[test]
fn one_click_in_every_form_real_clients_send_it() {
    let p = Project::example();
    let s = serve(&p);
    let url = |email: &str| format!("{}/u/{}", s.base, token("2026-11-digest", email, "en"));
    assert_eq!(
        curl_post(&url("a@example.org"), &["-F", "List-Unsubscribe=One-Click"]),
        200
    );
    assert_eq!(
        curl_post(
            &url("b@example.org"),
            &["-F", "utm_source=mail", "-F", "List-Unsubscribe=One-Click"]
        ),
        200
    );
    assert_eq!(
        curl_post(
            &url("c@example.org"),
            &["-d", "List-Unsubscribe=One-Click&utm=x"]
        ),
        200
    );
    assert_eq!(
        curl_post(
            &url("d@example.org"),
            &[
                "-H",
                "Content-Type: text/plain",
                "--data-binary",
                "List-Unsubscribe=One-Click\r\n"
            ]
        ),
        200
    );
    // Not a one-click, whatever its form.
    assert_eq!(
        curl_post(&url("e@example.org"), &["-F", "List-Unsubscribe=Other"]),
        400
    );
    assert_eq!(curl_post(&url("f@example.org"), &["-d", "utm=x"]), 400);
    let mut got: Vec<String> = p.suppressed().iter().map(|r| r["email"].clone()).collect();
    got.sort();
    assert_eq!(
        got,
        [
            "a@example.org",
            "b@example.org",
            "c@example.org",
            "d@example.org"
        ]
    );
}

/// A journal restored from a backup (a file renamed over the old name) while `serve` runs:
/// the unsubscribe lands in the journal the path names now. With no journal there at all the
/// client is told to retry (503), never that it is done.
#[test]
fn an_unsubscribe_lands_in_the_journal_the_path_names_now() {
    let p = Project::example();
    let s = serve(&p);
    let url = |email: &str| format!("{}/u/{}", s.base, token("2026-11-digest", email, "en"));
    assert_eq!(
        curl_post(
            &url("first@example.org"),
            &["-d", "List-Unsubscribe=One-Click"]
        ),
        200
    );
    // The backup: the journal as it was, copied aside while nothing writes.
    let journal = p.path().join("bulletin.sqlite");
    let backup = p.path().join("backup.sqlite");
    rusqlite::Connection::open(&journal)
        .unwrap()
        .execute_batch(&format!("VACUUM INTO '{}'", backup.display()))
        .unwrap();
    // Restored: renamed over the journal's name.
    std::fs::rename(&backup, &journal).unwrap();
    assert_eq!(
        curl_post(
            &url("second@example.org"),
            &["-d", "List-Unsubscribe=One-Click"]
        ),
        200
    );
    let conn = rusqlite::Connection::open(&journal).unwrap();
    let in_file: Vec<String> = conn
        .prepare("SELECT email FROM suppressions ORDER BY email")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    drop(conn);
    assert_eq!(in_file, ["first@example.org", "second@example.org"]);

    // Moved away: nothing to record in, and the client hears so.
    std::fs::rename(&journal, p.path().join("elsewhere.sqlite")).unwrap();
    assert_eq!(
        curl_post(
            &url("third@example.org"),
            &["-d", "List-Unsubscribe=One-Click"]
        ),
        503
    );
    // And the proxy's health check says so.
    let r = agent().get(format!("{}/healthz", s.base)).call().unwrap();
    assert_eq!(r.status().as_u16(), 503);
    // An empty file, or a folder, in its place is no journal: nothing is made of it.
    for what in ["empty", "folder"] {
        if what == "empty" {
            std::fs::write(&journal, "").unwrap();
        } else {
            std::fs::create_dir(&journal).unwrap();
        }
        assert_eq!(
            curl_post(
                &url("fourth@example.org"),
                &["-d", "List-Unsubscribe=One-Click"]
            ),
            503,
            "{what}"
        );
        let r = agent().get(format!("{}/healthz", s.base)).call().unwrap();
        assert_eq!(r.status().as_u16(), 503, "{what}");
        if what == "empty" {
            assert_eq!(
                std::fs::metadata(&journal).unwrap().len(),
                0,
                "left as it was"
            );
            std::fs::remove_file(&journal).unwrap();
        }
    }
}

/// Idle and slow-header connections are closed after the header timeout; over the cap, a new
/// connection makes the oldest close; so `/healthz` answers at once while an attacker holds
/// every slot and keeps reopening them. And every answer, errors too, has a content type and
/// refuses framing.
#[test]
fn idle_and_slow_connections_cannot_starve_the_server() {
    use std::io::{Read, Write};
    let p = Project::example();
    p.write(
        "bulletin.toml",
        p.read("bulletin.toml") + "\n[serve]\nmax_connections = 40\nheader_timeout_secs = 2\n",
    );
    let s = serve(&p);
    let addr = s.base.trim_start_matches("http://").to_string();
    let open_idle = move |slow: bool| {
        let mut c = std::net::TcpStream::connect(&addr).unwrap();
        if slow {
            // A slowloris: headers begun, never finished.
            c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .unwrap();
        }
        c
    };
    // An attacker holding every slot, reopening each one the server closes.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let attacker = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut held: Vec<std::net::TcpStream> =
                (0..60).map(|i| open_idle(i % 2 == 1)).collect();
            let mut reopened = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                for c in held.iter_mut() {
                    c.set_nonblocking(true).unwrap();
                    let mut b = [0u8; 64];
                    let closed = matches!(c.read(&mut b), Ok(0))
                        || matches!(c.read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset);
                    if closed {
                        *c = open_idle(reopened % 2 == 1);
                        reopened += 1;
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            reopened
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(500));
    let started = std::time::Instant::now();
    for _ in 0..20 {
        // A new connection each time, as a monitor opens one.
        let r = agent().get(format!("{}/healthz", s.base)).call().unwrap();
        assert_eq!(r.status().as_u16(), 200, "healthz while the slots are held");
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "healthz answered at once: {:?}",
        started.elapsed()
    );
    // Longer than the header timeout: the server closed every idle connection it held.
    std::thread::sleep(std::time::Duration::from_secs(3));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let reopened = attacker.join().unwrap();
    assert!(
        reopened >= 60,
        "the server closed the held connections: {reopened}"
    );

    let http = agent();
    for path in [
        "/healthz",
        "/nowhere",
        &format!("/u/{}", token("c", "a@example.org", "en")),
        "/u/forged",
    ] {
        let r = http.get(format!("{}{path}", s.base)).call().unwrap();
        let h = r.headers();
        assert!(
            h.get("content-type")
                .is_some_and(|v| v.to_str().unwrap().contains("charset=utf-8")),
            "{path}: {h:?}"
        );
        assert_eq!(h.get("x-frame-options").unwrap(), "DENY", "{path}");
        assert!(
            h.get("content-security-policy")
                .is_some_and(|v| v.to_str().unwrap().contains("frame-ancestors 'none'")),
            "{path}"
        );
    }
    // An error without a body of its own: a POST too large.
    let r = http
        .post(format!(
            "{}/u/{}",
            s.base,
            token("c", "a@example.org", "en")
        ))
        .send("x".repeat(100_000))
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    assert!(r.headers().get("content-type").is_some());
}

/// `/healthz` must not drop the server's locks on its journal: another process that opens and
/// closes the journal (a backup, `sqlite3`) would then delete the write-ahead log the server
/// still writes to, and the next unsubscribe would be lost.
#[test]
fn a_health_check_and_another_reader_lose_no_unsubscribe() {
    let p = Project::example();
    let s = serve(&p);
    let one_click = |who: &str| {
        let t = token("2026-11-digest", who, "en");
        agent()
            .post(format!("{}/u/{t}", s.base))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send("List-Unsubscribe=One-Click")
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(one_click("j.okafor@example.org"), 200);
    for _ in 0..3 {
        let r = agent().get(format!("{}/healthz", s.base)).call().unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    // Another process reads the journal and closes it, as a backup script would (Python's
    // sqlite3, with the system's SQLite).
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg("import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute('select count(*) from suppressions').fetchone()[0]); c.close()")
        .arg(p.path().join("bulletin.sqlite"))
        .output()
        .expect("python3 (tests/run installs it)");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");
    assert!(
        p.path().join("bulletin.sqlite-wal").exists(),
        "the server's log is still there"
    );
    assert_eq!(one_click("m.schneider@example.net"), 200);
    drop(s);
    let emails: Vec<String> = p.suppressed().iter().map(|r| r["email"].clone()).collect();
    assert!(
        emails.contains(&"m.schneider@example.net".to_string()),
        "{emails:?}"
    );
    assert_eq!(emails.len(), 2);
}
