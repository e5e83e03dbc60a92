//! The safety holes found by fault and hostile-input trials (issue 7), each tried through the real
//! binary: two configs on one journal, templates reading the environment, hostile cells, Ctrl-C
//! and SIGTERM in every command, a hung relay, a lost journal, internationalised addresses.

use crate::common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::smtp::{count_by_recipient, RealSmtp, Script, ScriptedSmtp};
use common::{csv_rows, Project};

const FAST: &str = "per_second = 5000\nburst = 1000";

/// Starts the binary the way a shell without job control starts a background job: with SIGINT
/// ignored, which the program must override to be stoppable at all.
fn spawn_ignoring_sigint(p: &Project, args: &[&str]) -> Child {
    let exe = env!("CARGO_BIN_EXE_bulletin");
    let mut script = format!("trap '' INT; exec '{exe}'");
    for a in args {
        script.push_str(&format!(" '{a}'"));
    }
    let mut cmd = Command::new("sh");
    common::shift_clock(&mut cmd);
    cmd.args(["-c", &script])
        .current_dir(p.path())
        .env_remove("BULLETIN_SMTP_PASSWORD")
        .env("BULLETIN_UNSUBSCRIBE_SECRET", common::TOKEN_SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Whether the process `pid` catches signal `sig` (its bit in /proc's SigCgt mask).
fn catches(pid: u32, sig: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|t| {
            let mask = t.lines().find_map(|l| l.strip_prefix("SigCgt:"))?;
            u64::from_str_radix(mask.trim(), 16).ok()
        })
        .is_some_and(|m| m & (1 << (sig - 1)) != 0)
}

/// Whether signal `sig` waits to be delivered to the process `pid` (its bit in /proc's ShdPnd).
fn pending(pid: u32, sig: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|t| {
            let mask = t.lines().find_map(|l| l.strip_prefix("ShdPnd:"))?;
            u64::from_str_radix(mask.trim(), 16).ok()
        })
        .is_some_and(|m| m & (1 << (sig - 1)) != 0)
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig}");
}

/// Waits for the child to exit, for at most `limit`; kills it and fails the test otherwise.
fn exit_within(mut child: Child, limit: Duration, what: &str) -> std::process::Output {
    let t = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{what}: still running after {limit:?}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_until(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn two_configs_on_one_journal_through_a_symlink_send_each_recipient_once() {
    let server = RealSmtp::start();
    let p = Project::example();
    p.big_list(1000);
    p.relay(server.port, "connections = 4", FAST);
    // A second config whose journal is the same file, reached through a symlinked folder.
    std::os::unix::fs::symlink(p.path(), p.path().join("alias")).unwrap();
    let second = p.read("bulletin.toml").replace(
        "journal = \"bulletin.sqlite\"",
        "journal = \"alias/bulletin.sqlite\"",
    );
    assert!(second.contains("alias/bulletin.sqlite"));
    p.write("second.toml", second);

    let start = |config: &str| {
        common::command()
            .current_dir(p.path())
            .args(["--config", config, "send", "2026-11-digest", "--yes"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (start("bulletin.toml"), start("second.toml"));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    for o in [&a, &b] {
        let code = o.status.code();
        assert!(
            code == Some(0) || code == Some(75),
            "each run either sends or stops because the other one is sending: {code:?}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let got = count_by_recipient(&server.inbox);
    let expected = p.recipients("2026-11-digest").len();
    assert!(expected >= 1000);
    let twice: Vec<_> = got.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "mailed twice: {} recipients", twice.len());
    // Whatever the second run did, a third run from either config completes without a resend.
    p.bulletin()
        .args(["--config", "second.toml", "send", "2026-11-digest", "--yes"])
        .ok();
    let got = count_by_recipient(&server.inbox);
    assert_eq!(got.len(), expected);
    assert!(got.values().all(|n| *n == 1));
}

#[test]
fn a_run_waiting_for_the_lock_does_not_call_in_flight_messages_unknown() {
    let server = ScriptedSmtp::start(Script {
        hang_after_data: true,
        ..Default::default()
    });
    let p = Project::example();
    p.relay(server.port, "connections = 2\ntimeout_secs = 30", FAST);
    let first = p.spawn_send("2026-11-digest");
    wait_until(Duration::from_secs(20), "two messages in flight", || {
        server.attempts.lock().unwrap().values().sum::<usize>() >= 2
    });
    let second = p
        .bulletin()
        .args(["send", "2026-11-digest", "--yes", "--wait", "0"])
        .run();
    assert_eq!(second.code(), 75, "{}", second.stderr());
    let err = second.stderr();
    assert!(
        err.contains("2 being sent by another run right now"),
        "{err}"
    );
    assert!(!err.contains("unknown"), "{err}");
    assert!(err.contains("another bulletin run is sending"), "{err}");
    // `status` says the same while the first run lives...
    let st = p
        .bulletin()
        .args(["status", "2026-11-digest"])
        .ok()
        .stdout();
    assert!(st.contains("sending 2"), "{st}");
    // ...and, once it is killed, calls them what they are.
    let mut first = first;
    first.kill().unwrap();
    first.wait().unwrap();
    let st = p
        .bulletin()
        .args(["status", "2026-11-digest"])
        .ok()
        .stdout();
    assert!(st.contains("unknown 2"), "{st}");
    assert!(st.contains("a run stopped while sending"), "{st}");
    assert!(!st.contains("sending 2"), "{st}");
    p.bulletin()
        .args(["status", "2026-11-digest", "--failed-csv", "failed.csv"])
        .ok();
    let rows = csv_rows(&p.read("failed.csv"));
    let stopped: Vec<_> = rows
        .iter()
        .filter(|r| r["smtp_reply"].contains("a run stopped while sending"))
        .collect();
    assert_eq!(stopped.len(), 2, "{rows:?}");
    assert!(stopped.iter().all(|r| r["state"] == "unknown"));
}

#[test]
fn templates_cannot_read_the_environment() {
    let p = Project::example();
    let html = p.read("templates/newsletter.html");
    let leak = "<p>{{ get_env(name=\"BULLETIN_SMTP_PASSWORD\") }}</p>";
    p.write(
        "templates/newsletter.html",
        html.replacen("<body", &format!("{leak}\n<body"), 1),
    );
    let line = p
        .read("templates/newsletter.html")
        .lines()
        .position(|l| l.contains("get_env"))
        .unwrap()
        + 1;
    p.bulletin()
        .env("BULLETIN_SMTP_PASSWORD", "s3cret-relay-password")
        .args(["check"])
        .fails()
        .stderr_has(&format!(
            "templates/newsletter.html:{line}: templates cannot call get_env()"
        ));
    let out = p
        .bulletin()
        .env("BULLETIN_SMTP_PASSWORD", "s3cret-relay-password")
        .args(["preview", "2026-11-digest"])
        .fails();
    assert!(!p.path().join("preview").exists());
    assert!(!out.stdout().contains("s3cret") && !out.stderr().contains("s3cret"));

    // In a campaign's subject too.
    let p = Project::example();
    p.edit(
        "campaigns/2026-11-digest.toml",
        "en = \"Disarmament Insight, November 2026: your updates\"",
        "en = \"News {{ get_env(name='HOME') }}\"",
    );
    p.bulletin()
        .args(["check"])
        .fails()
        .stderr_has("campaigns/2026-11-digest.toml:")
        .stderr_has("templates cannot call get_env()");
}

#[test]
fn a_cell_that_is_not_exactly_one_address_is_refused_never_rewritten() {
    let server = RealSmtp::start();
    let p = Project::example();
    p.relay(server.port, "connections = 1", FAST);
    let csv = "email,name,language,interests\n\
               \"a@b.c\r\nRCPT TO:<v@x.y>\",Mallory,en,landmines\n\
               \"Eve <eve@example.org> <w@x.y>\",Eve,en,landmines\n\
               \"one@example.org, two@example.org\",Pair,en,landmines\n\
               ok@example.org,Olga,en,landmines\n";
    p.write("lists/practitioners.csv", csv);
    let check = p.bulletin().args(["check"]).fails();
    check
        .stderr_has("lists/practitioners.csv:2:")
        .stderr_has("control character")
        .stderr_has("lists/practitioners.csv:4:")
        .stderr_has("lists/practitioners.csv:5:");
    p.bulletin()
        .args(["send", "2026-11-digest", "--yes", "--skip-invalid"])
        .ok();
    let got = count_by_recipient(&server.inbox);
    assert!(got.contains_key("ok@example.org"));
    for bad in [
        "v@x.y",
        "w@x.y",
        "a@b.c",
        "eve@example.org",
        "one@example.org",
    ] {
        assert!(!got.contains_key(bad), "mailed {bad}");
    }
}

#[test]
fn untrusted_bytes_never_reach_the_terminal_and_cells_have_limits() {
    let p = Project::example();
    let huge = "N".repeat(50_000);
    let csv = format!(
        "email,name,language\n\
         x\u{1b}]0;pwned\u{7}@example.org,Esc,en\n\
         big@example.org,{huge},en\n\
         fine@example.org,Fine\u{1b}[2J,en\n"
    );
    p.write("lists/practitioners.csv", csv);
    let out = p.bulletin().args(["check"]).fails();
    let err = out.stderr();
    assert!(
        !err.contains('\u{1b}') && !err.contains('\u{7}'),
        "raw control bytes on the terminal: {err:?}"
    );
    assert!(err.contains("lists/practitioners.csv:2:"), "{err}");
    assert!(err.contains("control character"), "{err}");
    assert!(!err.contains("it contains a space"), "{err}");
    assert!(err.contains("lists/practitioners.csv:3:"), "{err}");
    assert!(err.contains("50000 characters long"), "{err}");
    assert!(err.len() < 10_000, "the huge cell is not echoed back");
}

#[test]
fn ctrl_c_and_sigterm_stop_preview_check_and_audience_and_leave_nothing_behind() {
    let p = Project::example();
    p.big_list(60_000);
    for (sig, code) in [("INT", 130), ("TERM", 143)] {
        let child = spawn_ignoring_sigint(&p, &["preview", "2026-11-digest"]);
        // Wait until it is writing messages into its staging folder.
        wait_until(
            Duration::from_secs(60),
            "the preview to start writing",
            || {
                std::fs::read_dir(p.path().join("preview")).is_ok_and(|rd| {
                    rd.flatten().any(|e| {
                        e.file_name().to_string_lossy().contains(".partial-")
                            && std::fs::read_dir(e.path()).is_ok_and(|d| d.count() > 50)
                    })
                })
            },
        );
        signal(&child, sig);
        let out = exit_within(child, Duration::from_secs(10), "preview");
        assert_eq!(out.status.code(), Some(code), "{sig}");
        let left: Vec<_> = std::fs::read_dir(p.path().join("preview"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(left.is_empty(), "{sig}: left behind {left:?}");
    }
    for cmd in [&["check"][..], &["audience", "2026-11-digest"][..]] {
        let child = spawn_ignoring_sigint(&p, cmd);
        // Signalled once it listens for the signal: its handler is installed.
        wait_until(Duration::from_secs(20), "a SIGINT handler", || {
            catches(child.id(), 2)
        });
        assert!(
            child.id() > 0
                && Command::new("kill")
                    .args(["-0", &child.id().to_string()])
                    .status()
                    .unwrap()
                    .success(),
            "{cmd:?} still running when signalled"
        );
        signal(&child, "INT");
        let out = exit_within(child, Duration::from_secs(10), cmd[0]);
        assert_eq!(out.status.code(), Some(130), "{cmd:?}");
    }
}

#[test]
fn a_dead_previews_staging_folder_is_removed_a_live_ones_is_not() {
    let p = Project::example();
    let parent = p.path().join("preview");
    std::fs::create_dir_all(parent.join(".2026-11-digest.partial-999999")).unwrap();
    std::fs::write(
        parent.join(".2026-11-digest.partial-999999/00001-x.eml"),
        "x",
    )
    .unwrap();
    // An earlier preview set aside by a preview that died before putting its own in place.
    std::fs::create_dir_all(parent.join(".other.partial-12.old")).unwrap();
    std::fs::write(parent.join(".other.partial-12.old/index.html"), "earlier").unwrap();
    std::fs::write(parent.join(".other.partial-12.lock"), "").unwrap();
    // A live preview's folder: its lock file is held.
    std::fs::create_dir_all(parent.join(".live.partial-77")).unwrap();
    let lock = std::fs::File::create(parent.join(".live.partial-77.lock")).unwrap();
    lock.lock().unwrap();
    p.bulletin().args(["preview", "2026-11-digest"]).ok();
    assert!(!parent.join(".2026-11-digest.partial-999999").exists());
    assert!(!parent.join(".other.partial-12.old").exists());
    assert_eq!(
        std::fs::read_to_string(parent.join("other/index.html")).unwrap(),
        "earlier",
        "put back in place"
    );
    assert!(!parent.join(".other.partial-12.lock").exists());
    assert!(parent.join(".live.partial-77").exists());
    assert!(parent.join("2026-11-digest/index.html").exists());
    drop(lock);
}

#[test]
fn ctrl_c_during_a_hung_relay_stops_at_once_and_a_second_one_aborts() {
    // Hung before the message is handed over: one Ctrl-C stops now, the recipient is deferred.
    let server = ScriptedSmtp::start(Script {
        hang_at_rcpt: true,
        ..Default::default()
    });
    let p = Project::example();
    p.relay(server.port, "connections = 1\ntimeout_secs = 60", FAST);
    let child = spawn_ignoring_sigint(&p, &["send", "2026-11-digest", "--yes"]);
    wait_until(Duration::from_secs(20), "RCPT sent", || {
        server
            .commands
            .lock()
            .unwrap()
            .iter()
            .any(|c| c.starts_with("RCPT TO"))
    });
    signal(&child, "INT");
    let out = exit_within(child, Duration::from_secs(5), "send hung at RCPT");
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let st = p.journal_states();
    assert_eq!(
        st.values().filter(|s| *s == "deferred").count(),
        1,
        "{st:?}"
    );
    assert!(!st
        .values()
        .any(|s| s == "sending" || s == "unknown" || s == "sent"));

    // A slow relay holding the message when the signal comes: it is given a moment, and its
    // answer, within that moment, is recorded. Exit as the signal says.
    let server = ScriptedSmtp::start(Script {
        answer_data_after: Some(Duration::from_millis(300)),
        ..Default::default()
    });
    let p = Project::example();
    p.relay(server.port, "connections = 1\ntimeout_secs = 60", FAST);
    let child = spawn_ignoring_sigint(&p, &["send", "2026-11-digest", "--yes"]);
    wait_until(Duration::from_secs(20), "data sent", || {
        !server.attempts.lock().unwrap().is_empty()
    });
    signal(&child, "TERM");
    let out = exit_within(child, Duration::from_secs(5), "send, a slow relay");
    assert_eq!(out.status.code(), Some(143));
    let st = p.journal_states();
    assert!(
        st.values().any(|s| s == "sent"),
        "the message in transit was given a moment, and its answer recorded: {st:?}"
    );
    assert!(
        !st.values().any(|s| s == "sending" || s == "unknown"),
        "{st:?}"
    );

    // Hung holding the message: past that moment it is given up as unknown, so that even one
    // SIGTERM (cron, systemd, `timeout`) stops the run within a second or so; a second signal
    // gives it up at once.
    for second in [false, true] {
        let server = ScriptedSmtp::start(Script {
            hang_after_data: true,
            ..Default::default()
        });
        let p = Project::example();
        p.relay(server.port, "connections = 1\ntimeout_secs = 60", FAST);
        let child = spawn_ignoring_sigint(&p, &["send", "2026-11-digest", "--yes"]);
        wait_until(Duration::from_secs(20), "data sent", || {
            !server.attempts.lock().unwrap().is_empty()
        });
        signal(&child, "TERM");
        if second {
            // Delivered first, as a person's second Ctrl-C comes after the first: two signals
            // pending at once are delivered by number, SIGINT before SIGTERM.
            wait_until(Duration::from_secs(5), "SIGTERM delivered", || {
                !pending(child.id(), 15)
            });
            signal(&child, "INT");
        }
        let out = exit_within(child, Duration::from_secs(5), "send hung after data");
        assert_eq!(
            out.status.code(),
            Some(143),
            "the first signal names the exit"
        );
        let st = p.journal_states();
        assert_eq!(st.values().filter(|s| *s == "unknown").count(), 1, "{st:?}");
        assert!(!st.values().any(|s| s == "sending" || s == "sent"));
    }
}

#[test]
fn a_lost_replaced_or_older_journal_refuses_to_send_until_told() {
    let server = RealSmtp::start();
    let p = Project::example();
    p.relay(server.port, "connections = 2", FAST);
    let copy = |from: &str, to: &str| {
        std::fs::copy(p.path().join(from), p.path().join(to)).unwrap();
    };
    // A first run sends a few; a backup is taken; a second run sends the rest.
    p.bulletin()
        .args(["send", "2026-11-digest", "--yes", "--limit", "5"])
        .ok();
    copy("bulletin.sqlite", "before-last-run.sqlite");
    p.bulletin().args(["send", "2026-11-digest", "--yes"]).ok();
    copy("bulletin.sqlite", "current.sqlite");
    let n = server.messages().len();
    assert!(n > 10);
    let marker = p.path().join(".bulletin.sqlite.sent");
    assert!(marker.exists());

    // Deleted: nothing is sent, and the message says why and what to do.
    p.remove("bulletin.sqlite");
    p.bulletin()
        .args(["send", "2026-11-digest", "--yes"])
        .fails()
        .stderr_has("is missing")
        .stderr_has("--new-journal");
    p.bulletin().args(["due"]).fails().stderr_has("is missing");
    p.bulletin()
        .args(["status"])
        .fails()
        .stderr_has("is missing");
    assert!(
        !p.path().join("bulletin.sqlite").exists(),
        "status created nothing"
    );
    assert_eq!(server.messages().len(), n);

    // Its write-ahead log left behind tells the same story, even without the marker.
    std::fs::rename(&marker, p.path().join("marker.bak")).unwrap();
    p.write("bulletin.sqlite-wal", "leftover");
    p.bulletin()
        .args(["send", "2026-11-digest", "--yes"])
        .fails()
        .stderr_has("write-ahead log");
    assert_eq!(server.messages().len(), n);
    std::fs::remove_file(p.path().join("bulletin.sqlite-wal")).unwrap();
    std::fs::rename(p.path().join("marker.bak"), &marker).unwrap();

    // Replaced by another project's journal.
    let other = Project::example();
    other.relay(server.port, "connections = 1", FAST);
    other.write(
        "lists/practitioners.csv",
        "email,language,interests\nsolo@example.org,en,landmines\n",
    );
    other
        .bulletin()
        .args(["send", "2026-11-digest", "--yes"])
        .ok();
    let n = server.messages().len();
    std::fs::copy(
        other.path().join("bulletin.sqlite"),
        p.path().join("bulletin.sqlite"),
    )
    .unwrap();
    p.bulletin()
        .args(["send", "2026-11-digest", "--yes"])
        .fails()
        .stderr_has("it was replaced");
    assert_eq!(server.messages().len(), n);

    // A backup from before the last run: the same journal, but older.
    copy("before-last-run.sqlite", "bulletin.sqlite");
    p.bulletin()
        .args(["send", "2026-11-digest", "--yes"])
        .fails()
        .stderr_has("older copy");
    assert_eq!(server.messages().len(), n);

    // The journal as it was after the last run: nothing more to send, nothing sent twice.
    copy("current.sqlite", "bulletin.sqlite");
    p.bulletin()
        .args(["send", "2026-11-digest", "--yes"])
        .ok()
        .stderr_has("Nothing to send");
    assert_eq!(server.messages().len(), n);

    // Told to start afresh, it does (and mails everyone again, as asked).
    p.remove("bulletin.sqlite");
    p.bulletin()
        .args(["send", "2026-11-digest", "--yes", "--new-journal"])
        .ok();
    assert!(server.messages().len() > n);
}

#[test]
fn a_bad_row_in_an_exclusion_list_is_never_skipped() {
    let p = Project::example();
    let mut unsub = p.read("lists/unsubscribed.csv");
    unsub.push_str("\"j.okafor@example.org, m.schneider@example.net\",2026-09-14\n");
    p.write("lists/unsubscribed.csv", unsub);
    p.bulletin()
        .args(["preview", "2026-11-digest", "--skip-invalid"])
        .fails()
        .stderr_has("cannot be skipped");
    p.bulletin()
        .args(["send", "2026-11-digest", "--skip-invalid", "--dry-run"])
        .fails()
        .stderr_has("cannot be skipped");
}

#[test]
fn the_audience_report_escapes_what_the_cells_hold() {
    let p = Project::example();
    p.write(
        "lists/practitioners.csv",
        "email,name,language,interests\nx@example.org,Evil\u{1b}]0;PWNED\u{7}\u{202e},xx\u{1b}[31m,landmines\n",
    );
    for args in [
        &["audience", "2026-11-digest"][..],
        &["audience", "2026-11-digest", "--csv"][..],
    ] {
        let out = p.bulletin().args(args).run();
        let all = out.stdout() + &out.stderr();
        // Off a terminal, --csv is data and keeps the cells as they are.
        if args.len() == 2 {
            assert!(
                !all.contains('\u{1b}') && !all.contains('\u{202e}'),
                "{all:?}"
            );
        } else {
            // Cells are made one line when read (control characters become spaces), so even
            // the CSV holds no escape; the rest of the cell is kept as it is.
            assert!(out.stdout().contains("Evil ]0;PWNED"), "{:?}", out.stdout());
            assert!(!out.stdout().contains('\u{1b}'), "{:?}", out.stdout());
        }
    }
}

#[test]
fn the_journal_is_private_and_its_log_stays_small_during_a_long_run() {
    use std::os::unix::fs::PermissionsExt;
    let server = RealSmtp::start();
    let p = Project::example();
    // Enough deliveries that a log never checkpointed would pass the bound below several times.
    p.big_list(3000);
    p.relay(server.port, "connections = 8", FAST);
    let child = p.spawn_send("2026-11-digest");
    let wal = p.path().join("bulletin.sqlite-wal");
    let mut biggest = 0;
    let mut child = child;
    while child.try_wait().unwrap().is_none() {
        if let Ok(m) = std::fs::metadata(&wal) {
            biggest = biggest.max(m.len());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(child.wait().unwrap().success());
    assert!(server.messages().len() >= 3000);
    assert!(
        biggest <= 6 * 1024 * 1024,
        "the write-ahead log reached {biggest} bytes"
    );
    let mode = std::fs::metadata(p.path().join("bulletin.sqlite"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn attempts_count_every_try() {
    let server = ScriptedSmtp::start(Script {
        refuse_rcpt: [(
            "j.okafor@example.org".to_string(),
            "550 5.1.1 no such user".to_string(),
        )]
        .into(),
        defer_times: [("m.schneider@example.net".to_string(), 1)].into(),
        ..Default::default()
    });
    let p = Project::example();
    p.relay(server.port, "connections = 1", FAST);
    p.bulletin().args(["send", "2026-11-digest", "--yes"]).ok();
    p.bulletin()
        .args(["status", "2026-11-digest", "--failed-csv", "f.csv"])
        .ok();
    let rows = csv_rows(&p.read("f.csv"));
    let refused = rows
        .iter()
        .find(|r| r["email"] == "j.okafor@example.org")
        .expect("refused row");
    assert_eq!(refused["attempts"], "1");
    let conn = rusqlite::Connection::open(p.path().join("bulletin.sqlite")).unwrap();
    let (state, attempts): (String, i64) = conn
        .query_row(
            "SELECT state, attempts FROM deliveries WHERE email = 'm.schneider@example.net'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (state.as_str(), attempts),
        ("sent", 2),
        "deferred once, then sent"
    );
}

#[test]
fn internationalised_addresses_go_as_punycode_or_with_smtputf8() {
    let csv = "email,name,language,interests\nuser@bücher.example,Ulrike,en,landmines\njosé@example.org,José,fr,landmines\n";
    // No relay declared to speak SMTPUTF8: the non-ASCII local part is refused up front.
    let p = Project::example();
    p.write("lists/practitioners.csv", csv);
    p.bulletin()
        .args(["check"])
        .fails()
        .stderr_has("lists/practitioners.csv:3:")
        .stderr_has("smtputf8 = true")
        .stderr_lacks("practitioners.csv:2:");

    // A lenient relay that offers SMTPUTF8: both delivered.
    let lenient = ScriptedSmtp::start(Script {
        smtputf8: true,
        ..Default::default()
    });
    let p = Project::example();
    p.write("lists/practitioners.csv", csv);
    p.relay(lenient.port, "connections = 1\nsmtputf8 = true", FAST);
    p.bulletin().args(["check"]).ok();
    p.bulletin().args(["send", "2026-11-digest", "--yes"]).ok();
    let cmds = lenient.commands.lock().unwrap().clone();
    assert!(
        cmds.iter()
            .any(|c| c == "RCPT TO:<user@xn--bcher-kva.example>"),
        "{cmds:?}"
    );
    assert!(
        cmds.iter().any(|c| c == "RCPT TO:<josé@example.org>"),
        "{cmds:?}"
    );
    let mails: Vec<&String> = cmds.iter().filter(|c| c.starts_with("MAIL FROM")).collect();
    assert_eq!(
        mails.iter().filter(|c| c.ends_with(" SMTPUTF8")).count(),
        1,
        "SMTPUTF8 only for the address that needs it: {mails:?}"
    );
    let got = lenient.delivered();
    assert_eq!(got.get("user@xn--bcher-kva.example"), Some(&1), "{got:?}");
    assert_eq!(got.get("josé@example.org"), Some(&1), "{got:?}");
    let puny = lenient
        .inbox
        .lock()
        .unwrap()
        .iter()
        .find(|m| m.to[0].contains("xn--"))
        .map(|m| String::from_utf8_lossy(&m.data).into_owned())
        .unwrap();
    assert!(
        puny.contains("user@xn--bcher-kva.example"),
        "To header in ASCII"
    );

    // A strict relay without SMTPUTF8: punycode goes, the other waits (deferred, not failed).
    let strict = ScriptedSmtp::start(Script::default());
    let p = Project::example();
    p.write("lists/practitioners.csv", csv);
    p.relay(strict.port, "connections = 1\nsmtputf8 = true", FAST);
    let out = p.bulletin().args(["send", "2026-11-digest", "--yes"]).run();
    assert_eq!(out.code(), 75, "{}", out.stdout());
    assert!(out.stdout().contains("SMTPUTF8"), "{}", out.stdout());
    let st = p.journal_states();
    assert_eq!(st["user@bücher.example"], "sent");
    assert_eq!(st["josé@example.org"], "deferred");
    assert!(strict.commands.lock().unwrap().iter().all(|c| c.is_ascii()));
}

/// Files that lead out of the project or cannot be files at all: an attachment linked to
/// /etc/passwd is refused, never attached; a DKIM key, a template and a list linked to
/// /dev/zero are refused at once with their file named, instead of being read until memory
/// runs out.
#[test]
fn links_out_of_the_project_and_endless_files_are_refused() {
    let p = Project::example();
    std::os::unix::fs::symlink("/etc/passwd", p.path().join("attachments/contacts.pdf")).unwrap();
    p.edit(
        "campaigns/2026-11-digest.toml",
        "digest = true",
        "digest = true\nattachments = [\"contacts.pdf\"]",
    );
    p.bulletin()
        .args(["check", "--files-only"])
        .fails()
        .stderr_has("attachment \"contacts.pdf\"")
        .stderr_has("outside the attachments folder");
    p.bulletin().args(["preview", "2026-11-digest"]).fails();
    assert!(!p.path().join("preview/2026-11-digest").exists());
    // Inside the project is not enough: the project's own key or journal is no attachment.
    std::fs::remove_file(p.path().join("attachments/contacts.pdf")).unwrap();
    p.write("dkim/s1.pem", "-----BEGIN PRIVATE KEY-----\n");
    std::os::unix::fs::symlink("../dkim/s1.pem", p.path().join("attachments/contacts.pdf"))
        .unwrap();
    p.bulletin()
        .args(["check", "--files-only"])
        .fails()
        .stderr_has("outside the attachments folder");
    // The folder itself a link to another: refused whatever file is named.
    std::fs::rename(
        p.path().join("attachments"),
        p.path().join("attachments.real"),
    )
    .unwrap();
    std::os::unix::fs::symlink("/etc", p.path().join("attachments")).unwrap();
    p.edit(
        "campaigns/2026-11-digest.toml",
        "attachments = [\"contacts.pdf\"]",
        "attachments = [\"passwd\"]",
    );
    p.bulletin()
        .args(["check", "--files-only"])
        .fails()
        .stderr_has("is a symbolic link: make it a folder of the project");

    let p = Project::example();
    p.write(
        "bulletin.toml",
        p.read("bulletin.toml") + "\n[dkim]\nselector = \"s1\"\nkey_file = \"dkim/s1.pem\"\n",
    );
    std::fs::create_dir_all(p.path().join("dkim")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", p.path().join("dkim/s1.pem")).unwrap();
    p.bulletin()
        .args(["check"])
        .fails()
        .stderr_has("s1.pem")
        .stderr_has("not a regular file");

    let p = Project::example();
    std::fs::remove_file(p.path().join("templates/newsletter.txt")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", p.path().join("templates/newsletter.txt")).unwrap();
    p.bulletin()
        .args(["check", "--files-only"])
        .fails()
        .stderr_has("newsletter.txt: this template is a link to a file outside");
    // A template of 17 MB is no template: refused, not read whole.
    let p = Project::example();
    p.write("templates/newsletter.txt", "x".repeat(17 * 1024 * 1024));
    p.bulletin()
        .args(["check", "--files-only"])
        .fails()
        .stderr_has("newsletter.txt")
        .stderr_has("larger than 16 MB");

    let p = Project::example();
    std::fs::remove_file(p.path().join("lists/practitioners.csv")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", p.path().join("lists/practitioners.csv")).unwrap();
    p.bulletin()
        .args(["audience", "2026-11-digest"])
        .fails()
        .stderr_has("practitioners.csv")
        .stderr_has("not a regular file");
}
