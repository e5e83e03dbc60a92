//! A send killed with SIGKILL, or stopped with SIGINT/SIGTERM, mid-campaign: the journal stays
//! consistent and the next run delivers every message exactly once, except those reported unknown.

use crate::common;

use std::time::{Duration, Instant};

use common::smtp::{count_by_recipient, RealSmtp};
use common::Project;

/// Starts a send in the background and waits until the relay has some of its messages.
fn start_and_wait(p: &Project, server: &RealSmtp, at_least: usize) -> std::process::Child {
    let child = p.spawn_send("2026-11-digest");
    let t = Instant::now();
    while server.messages().len() < at_least {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the send never got going"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

#[test]
fn killed_mid_campaign_then_rerun_delivers_each_message_once() {
    let server = RealSmtp::start();
    let p = Project::example();
    p.big_list(400);
    p.relay(
        server.port,
        "connections = 4",
        "per_second = 150\nburst = 10",
    );
    let mut child = start_and_wait(&p, &server, 60);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = server.messages().len();
    assert!(before < 400, "killed before the end ({before})");

    p.relay(
        server.port,
        "connections = 4",
        "per_second = 2000\nburst = 100",
    );
    let rerun = p.bulletin().args(["send", "2026-11-digest", "--yes"]).ok();
    let out = rerun.stdout();
    let st = p.journal_states();
    let unknown: Vec<&String> = st
        .iter()
        .filter(|(_, s)| *s == "unknown")
        .map(|(e, _)| e)
        .collect();
    assert!(
        unknown.len() <= 4,
        "at most one message per connection can be in doubt: {unknown:?}"
    );
    if !unknown.is_empty() {
        assert!(
            out.contains(&format!(
                "{} left 'sending' by an interrupted run now marked unknown",
                if unknown.len() == 1 {
                    "1 message".to_string()
                } else {
                    format!("{} messages", unknown.len())
                }
            )),
            "{out}"
        );
    }
    let got = count_by_recipient(&server.inbox);
    for i in 0..400 {
        let email = format!("person{i}@example.org");
        let n = got.get(&email).copied().unwrap_or(0);
        if unknown.contains(&&email) {
            assert!(n <= 1, "{email} in doubt, delivered {n} times");
        } else {
            assert_eq!(n, 1, "{email} delivered exactly once");
            assert_eq!(st[&email], "sent");
        }
    }
}

#[test]
fn interrupted_run_finishes_in_flight_records_and_exits_130_or_143() {
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        let server = RealSmtp::start();
        let p = Project::example();
        p.big_list(300);
        p.relay(
            server.port,
            "connections = 4",
            "per_second = 100\nburst = 10",
        );
        let child = start_and_wait(&p, &server, 30);
        let status = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(code),
            "{signal}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("Interrupted: every message is recorded"),
            "{stdout}"
        );

        let st = p.journal_states();
        assert!(
            !st.values().any(|s| s == "sending" || s == "unknown"),
            "{signal}: nothing left in doubt"
        );
        let got = count_by_recipient(&server.inbox);
        let sent: Vec<&String> = st
            .iter()
            .filter(|(_, s)| *s == "sent")
            .map(|(e, _)| e)
            .collect();
        assert_eq!(
            sent.len(),
            got.len(),
            "{signal}: the journal records exactly what the relay took"
        );
        assert!(sent.iter().all(|e| got.get(*e) == Some(&1)));

        p.relay(
            server.port,
            "connections = 4",
            "per_second = 2000\nburst = 100",
        );
        p.bulletin().args(["send", "2026-11-digest", "--yes"]).ok();
        let got = count_by_recipient(&server.inbox);
        let expected = p.recipients("2026-11-digest").len();
        assert!(expected >= 300);
        assert_eq!(got.len(), expected);
        assert!(got.values().all(|n| *n == 1), "{signal}: exactly once each");
    }
}
