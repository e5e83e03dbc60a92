//! Several relays: connections spread by weight, a relay that stops mid-campaign set aside and
//! its share taken by the other, and back when it returns; nothing lost, nothing twice, and the
//! journal says which relay took each message.

use crate::common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::gate::Gate;
use common::smtp::{count_by_recipient, RealSmtp};
use common::Project;

const N: usize = 600;

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let t = Instant::now();
    while !ok() {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "waited too long for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_relay_stopped_mid_campaign_hands_its_share_to_the_other_and_takes_it_back() {
    let (a, b) = (RealSmtp::start(), RealSmtp::start());
    let (gate_a, gate_b) = (Gate::to(a.port), Gate::to(b.port));
    let p = Project::example();
    p.big_list(N);
    p.relay(
        gate_a.port,
        &format!(
            "connections = 4\nweight = 1\n\n[[smtp.relays]]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"plain\"\nweight = 3",
            gate_b.port
        ),
        "per_second = 100\nburst = 10",
    );
    let mut child = p.spawn_send("2026-11-digest");

    // By weight: three connections to b, one to a. Counted once every connection is under
    // way, since on a busy machine one relay's connections may open before the other's.
    wait_for("both relays' first messages", || {
        a.messages().len() >= 5 && b.messages().len() >= 15
    });
    let (a0, b0) = (a.messages().len(), b.messages().len());
    wait_for("b's next messages", || b.messages().len() >= b0 + 60);
    let (got_a, got_b) = (a.messages().len() - a0, b.messages().len() - b0);
    assert!(
        2 * got_b > 3 * got_a,
        "b weighs 3, a 1: a {got_a}, b {got_b} since both began"
    );

    // b stops: its share goes to a.
    gate_b.close();
    let b_when_closed = b.messages().len();
    let a_when_closed = a.messages().len();
    wait_for("a taking over", || a.messages().len() >= a_when_closed + 60);
    assert_eq!(b.messages().len(), b_when_closed, "b is down");

    // b returns: it takes its share again.
    gate_b.open();
    wait_for("b taking its share back", || {
        b.messages().len() >= b_when_closed + 30 || child.try_wait().unwrap().is_some()
    });
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        b.messages().len() >= b_when_closed + 30,
        "b back in use: {} then {}\n{stdout}\n{stderr}",
        b_when_closed,
        b.messages().len()
    );

    // Nothing twice: no address reached either relay twice, nor both.
    let (in_a, in_b) = (count_by_recipient(&a.inbox), count_by_recipient(&b.inbox));
    let mut both: HashMap<String, usize> = in_a.clone();
    for (k, n) in &in_b {
        *both.entry(k.clone()).or_default() += n;
    }
    assert!(both.values().all(|n| *n == 1), "a message went twice");

    // Nothing lost: every recipient is sent, or recorded as what it is (a message cut in
    // transit when b stopped is unknown; one not yet handed over went to a).
    let states = p.journal_states();
    assert_eq!(
        states.len(),
        p.recipients("2026-11-digest").len(),
        "every recipient has a row"
    );
    for (email, state) in &states {
        match state.as_str() {
            "sent" => assert_eq!(both.get(email), Some(&1), "{email} sent once"),
            "unknown" => assert!(both.get(email).copied().unwrap_or(0) <= 1),
            other => panic!("{email} left {other}\n{stdout}\n{stderr}"),
        }
    }
    let unknown = states.values().filter(|s| *s == "unknown").count();
    assert!(
        unknown <= 3,
        "at most b's connections were cut in transit: {unknown}"
    );

    // The journal says which relay took each message, and status shows it.
    let status = p
        .bulletin()
        .args(["status", "2026-11-digest", "--json"])
        .ok();
    let v: serde_json::Value = serde_json::from_str(&status.stdout()).unwrap();
    let by = &v[0]["sent_by_relay"];
    let name_a = format!("127.0.0.1:{}", gate_a.port);
    let name_b = format!("127.0.0.1:{}", gate_b.port);
    let sent_a = by[&name_a].as_u64().unwrap() as usize;
    let sent_b = by[&name_b].as_u64().unwrap() as usize;
    assert_eq!(sent_a, in_a.len(), "a never went down: all it got was sent");
    assert!(
        sent_b <= in_b.len() && in_b.len() <= sent_b + unknown,
        "{by}"
    );
    let text = p
        .bulletin()
        .args(["status", "2026-11-digest"])
        .ok()
        .stdout();
    assert!(
        text.contains(&format!("{name_a} {sent_a}"))
            && text.contains(&format!("{name_b} {sent_b}")),
        "{text}"
    );
}

#[test]
fn every_relay_that_cannot_work_is_named_at_its_line() {
    let p = Project::example();
    p.relay(
        2525,
        "password_env = \"FIRST_RELAY_PASSWORD\"\nusername = \"news\"\nallow_insecure = true\n\n[[smtp.relays]]\nhost = \"127.0.0.1\"\nport = 2526\nsecurity = \"plain\"\nallow_insecure = true\nusername = \"news\"\npassword_env = \"SECOND_RELAY_PASSWORD\"",
        "per_second = 100",
    );
    let err = p.bulletin().args(["check"]).fails().stderr();
    let text = p.read("bulletin.toml");
    let line = |needle: &str| {
        text.lines()
            .position(|l| l.contains(needle))
            .map(|i| i + 1)
            .unwrap()
    };
    for var in ["FIRST_RELAY_PASSWORD", "SECOND_RELAY_PASSWORD"] {
        assert!(
            err.lines()
                .any(|l| l.contains(&format!("bulletin.toml:{}: ", line(var))) && l.contains(var)),
            "{var} at line {}: {err}",
            line(var)
        );
    }
}

#[test]
fn relays_are_checked_and_shown_before_sending() {
    let (a, b) = (RealSmtp::start(), RealSmtp::start());
    let p = Project::example();
    p.relay(
        a.port,
        &format!(
            "connections = 2\n\n[[smtp.relays]]\nhost = \"127.0.0.1\"\nport = {}\nweight = 0\n\n[[smtp.relays]]\nhost = \"127.0.0.1\"\nport = {}",
            b.port, a.port
        ),
        "per_second = 100",
    );
    let err = p.bulletin().args(["check"]).fails().stderr();
    // Each names its relay and the line in that relay's table.
    let text = p.read("bulletin.toml");
    let line_of = |needle: &str, nth: usize| {
        text.lines()
            .enumerate()
            .filter(|(_, l)| l.trim() == needle)
            .nth(nth)
            .map(|(i, _)| i + 1)
            .unwrap()
    };
    let weight = line_of("weight = 0", 0);
    assert!(
        err.contains(&format!(
            "bulletin.toml:{weight}: [[smtp.relays]] number 1 (127.0.0.1:{}): weight must be between 1 and 1000",
            b.port
        )),
        "{err}"
    );
    let twice = line_of("host = \"127.0.0.1\"", 2);
    assert!(
        err.contains(&format!(
            "bulletin.toml:{twice}: [[smtp.relays]] number 2 (127.0.0.1:{0}): 127.0.0.1:{0} is named twice",
            a.port
        )),
        "{err}"
    );
    assert!(err.contains("fewer than the 3 relays"), "{err}");

    // A relay with its own cap: once full, the other takes every message.
    p.relay(
        a.port,
        &format!(
            "connections = 2\n\n[[smtp.relays]]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"plain\"\nper_hour = 3",
            b.port
        ),
        "per_second = 200\nburst = 20",
    );
    p.bulletin()
        .args(["send", "2026-11-digest", "--dry-run"])
        .ok()
        .stderr_has(&format!(
            "relays 127.0.0.1:{} (unencrypted) (weight 1), 127.0.0.1:{} (unencrypted) (weight 1)",
            a.port, b.port
        ));
    p.bulletin().args(["send", "2026-11-digest", "--yes"]).ok();
    let total = p.recipients("2026-11-digest").len();
    assert_eq!(b.messages().len(), 3, "b's own cap");
    assert_eq!(a.messages().len(), total - 3);
}

#[test]
fn every_relay_down_stops_the_run_and_names_them() {
    let (dx, dy) = (common::gate::Gate::closed(), common::gate::Gate::closed());
    let (x, y) = (dx.port, dy.port);
    let p = Project::example();
    p.relay(
        x,
        &format!(
            "connections = 2\nmax_consecutive_failures = 2\ntimeout_secs = 2\n\n[[smtp.relays]]\nhost = \"127.0.0.1\"\nport = {y}\nsecurity = \"plain\""
        ),
        "per_second = 100",
    );
    let t = Instant::now();
    let out = p
        .bulletin()
        .args(["send", "2026-11-digest", "--yes"])
        .run()
        .code_is(75);
    assert!(t.elapsed() < Duration::from_secs(60));
    let text = format!("{}{}", out.stdout(), out.stderr());
    assert!(
        text.contains("set aside for refusing or timing out")
            && text.contains(&format!("127.0.0.1:{x}"))
            && text.contains(&format!("127.0.0.1:{y}")),
        "{text}"
    );
    // Nothing was handed over, and nothing is lost: every recipient waits for the next run.
    let states = p.journal_states();
    assert!(
        states.values().all(|s| s == "queued" || s == "deferred"),
        "{states:?}"
    );
}
