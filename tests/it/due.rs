//! `bulletin schedule` and `bulletin due` with the clock under the test's control
//! (`BULLETIN_NOW`), against mailin-embedded on loopback.

use crate::common;

use std::process::Stdio;

use common::smtp::{count_by_recipient, RealSmtp};
use common::Project;

const CAMPAIGN: &str = "2026-11-mpome-briefing";
// Tuesday 1 December 2026 in Geneva is UTC+1.
const BEFORE: &str = "2026-12-01T07:59:00Z";
const AFTER: &str = "2026-12-01T08:05:00Z";

/// Schedules the campaign for Tuesday 1 December 2026, 09:00 in the project's zone, on the
/// tests' fixed clock.
fn schedule_at_nine(p: &Project) {
    p.bulletin()
        .env("BULLETIN_NOW", common::PLANNED)
        .args(["schedule", CAMPAIGN, "--at", "2026-12-01T09:00"])
        .ok();
}

fn project(server: &RealSmtp, rate: &str) -> Project {
    let p = Project::example();
    p.relay(server.port, "", rate);
    p.edit(
        "bulletin.toml",
        "[rate]",
        "[schedule]\ntimezone = \"Europe/Zurich\"\n\n[rate]",
    );
    p
}

fn recipients(p: &Project) -> usize {
    p.recipients(CAMPAIGN).len()
}

fn due(p: &Project, now: &str) -> common::Done {
    p.bulletin().env("BULLETIN_NOW", now).args(["due"]).run()
}

fn state_of(p: &Project, now: &str) -> String {
    let out = p
        .bulletin()
        .env("BULLETIN_NOW", now)
        .args(["schedule"])
        .ok()
        .stdout();
    out.lines()
        .find(|l| l.starts_with(CAMPAIGN))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn nothing_before_its_time_everything_after_and_then_finished() {
    let server = RealSmtp::start();
    let p = project(&server, "per_second = 1000\nburst = 1000");
    let n = recipients(&p);
    p.bulletin()
        .env("BULLETIN_NOW", "2026-11-30T10:00:00Z")
        .args(["schedule", CAMPAIGN])
        .ok()
        .stdout_has("scheduled for 2026-12-01T09:00:00+01:00");
    assert!(state_of(&p, BEFORE).contains("scheduled  for 2026-12-01T09:00:00+01:00"));

    let d = due(&p, BEFORE).success();
    assert!(
        d.stdout()
            .contains("nothing due; next: 2026-11-mpome-briefing at 2026-12-01T09:00:00+01:00"),
        "{}",
        d.stdout()
    );
    assert!(server.messages().is_empty());

    let d = due(&p, AFTER).success();
    assert!(
        d.stdout()
            .contains(&format!("{CAMPAIGN}: {n} sent, 0 failed")),
        "{}",
        d.stdout()
    );
    assert!(d.stdout().contains("finished"), "{}", d.stdout());
    assert!(
        d.stdout().starts_with("2026-12-01T09:05"),
        "timestamped in the configured zone: {}",
        d.stdout()
    );
    assert_eq!(server.messages().len(), n);
    assert!(state_of(&p, AFTER).contains("finished"));

    due(&p, "2026-12-01T09:00:00Z").success().stdout_has(
        "nothing due: every scheduled campaign is finished (the last, 2026-11-mpome-briefing",
    );
    assert_eq!(server.messages().len(), n);
}

#[test]
fn a_draft_is_never_sent_and_cancel_takes_it_back() {
    let server = RealSmtp::start();
    let p = project(&server, "per_second = 1000\nburst = 1000");
    // The file plans 1 December; it was never marked ready.
    assert!(state_of(&p, AFTER)
        .contains("draft      plans 2026-12-01T09:00:00+01:00 (not marked ready)"));
    due(&p, AFTER)
        .success()
        .stdout_has("no campaign is scheduled");
    schedule_at_nine(&p);
    p.bulletin()
        .env("BULLETIN_NOW", common::PLANNED)
        .args(["schedule", CAMPAIGN, "--cancel"])
        .ok()
        .stdout_has("back to draft");
    due(&p, AFTER).success();
    assert!(server.messages().is_empty());
}

#[test]
fn local_times_are_read_in_the_zone_and_impossible_ones_refused() {
    let server = RealSmtp::start();
    let p = project(&server, "per_second = 1000\nburst = 1000");
    // Summer time: 09:00 in Geneva is 07:00 UTC.
    p.bulletin()
        .env("BULLETIN_NOW", common::PLANNED)
        .args(["schedule", CAMPAIGN, "--at", "2027-07-01 09:00"])
        .ok()
        .stdout_has("2027-07-01T09:00:00+02:00");
    p.bulletin()
        .env("BULLETIN_NOW", common::PLANNED)
        .args(["schedule", CAMPAIGN, "--at", "2027-03-28T02:30"])
        .fails()
        .stderr_has("does not exist in Europe/Zurich");
    p.bulletin()
        .env("BULLETIN_NOW", common::PLANNED)
        .args(["schedule", CAMPAIGN, "--at", "next tuesday"])
        .fails()
        .stderr_has("cannot read");
    due(&p, "2027-07-01T06:59:00Z")
        .success()
        .stdout_has("nothing due");
    due(&p, "2027-07-01T07:01:00Z").success().stdout_has("sent");
}

#[test]
fn a_cap_interrupts_and_later_runs_finish() {
    let server = RealSmtp::start();
    let p = project(&server, "per_second = 1000\nburst = 1000\nper_hour = 5");
    let n = recipients(&p);
    assert!(n > 5 && n <= 15, "{n}");
    schedule_at_nine(&p);

    let d = due(&p, "2026-12-01T08:00:00Z").success();
    assert!(
        d.stdout()
            .contains("paused by the per_hour cap of 5 until 2026-12-01T10:00"),
        "{}",
        d.stdout()
    );
    assert_eq!(server.messages().len(), 5);
    assert!(state_of(&p, "2026-12-01T08:10:00Z").contains("paused"));
    due(&p, "2026-12-01T08:30:00Z")
        .success()
        .stdout_has("paused by the per_hour cap (5) until");
    assert_eq!(server.messages().len(), 5);
    due(&p, "2026-12-01T09:01:00Z").success();
    assert_eq!(server.messages().len(), 10.min(n));
    due(&p, "2026-12-01T10:02:00Z").success();
    due(&p, "2026-12-01T11:03:00Z").success();
    assert_eq!(server.messages().len(), n);
    assert!(count_by_recipient(&server.inbox).values().all(|c| *c == 1));
    assert!(state_of(&p, "2026-12-01T11:04:00Z").contains("finished"));
}

#[test]
fn the_sending_window_is_respected() {
    let server = RealSmtp::start();
    let p = project(&server, "per_second = 2\nburst = 1");
    let n = recipients(&p);
    p.bulletin()
        .env("BULLETIN_NOW", common::PLANNED)
        .args(["schedule", CAMPAIGN, "--at", "2026-12-04T17:00"])
        .ok();
    // Friday 17:59:58 in Geneva: two seconds of window left at two messages a second.
    let d = due(&p, "2026-12-04T16:59:58Z").success();
    assert!(
        d.stdout().contains(
            "the sending window closed; continues when it opens, 2026-12-07T08:00:00+01:00"
        ),
        "{}",
        d.stdout()
    );
    let first = server.messages().len();
    assert!(
        first > 0 && first < n,
        "stopped when the window closed ({first} of {n})"
    );
    // Saturday: closed.
    due(&p, "2026-12-05T10:00:00Z").success().stdout_has("outside its sending window (Mon,Tue,Wed,Thu,Fri 08:00-18:00 Europe/Zurich); opens 2026-12-07T08:00:00+01:00");
    assert_eq!(server.messages().len(), first);
    // Monday morning: the rest.
    p.edit("bulletin.toml", "per_second = 2", "per_second = 1000");
    due(&p, "2026-12-07T07:01:00Z")
        .success()
        .stdout_has("finished");
    assert_eq!(server.messages().len(), n);
    assert!(count_by_recipient(&server.inbox).values().all(|c| *c == 1));
}

#[test]
fn overlapping_runs_send_each_message_once() {
    let server = RealSmtp::start();
    let p = project(&server, "per_second = 400\nburst = 10");
    let mut csv = String::from("email,name,language,interests\n");
    for i in 0..300 {
        csv.push_str(&format!("p{i}@example.org,P {i},en,peace-operations\n"));
    }
    p.write("lists/practitioners.csv", csv);
    let n = recipients(&p);
    schedule_at_nine(&p);
    let runs: Vec<_> = (0..4)
        .map(|_| {
            common::command()
                .current_dir(p.path())
                .env("BULLETIN_NOW", AFTER)
                .args(["due"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut codes = Vec::new();
    for r in runs {
        let out = r.wait_with_output().unwrap();
        let code = out.status.code().unwrap();
        assert!(
            code == 0 || code == 75,
            "exit {code}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if code == 75 {
            assert!(String::from_utf8_lossy(&out.stderr)
                .contains("another bulletin run is sending from this project"));
        }
        codes.push(code);
    }
    let got = count_by_recipient(&server.inbox);
    assert_eq!(got.len(), n);
    assert!(got.values().all(|c| *c == 1), "each recipient exactly once");
}

#[test]
fn a_quiet_due_says_nothing_to_cron_while_another_run_sends() {
    let server = RealSmtp::start();
    let p = project(&server, "per_second = 1000\nburst = 1000");
    schedule_at_nine(&p);
    // Another run's lock, held by util-linux's flock on the journal as bulletin holds it.
    let journal = p.path().join("bulletin.sqlite");
    let mut holder = std::process::Command::new("flock")
        .arg(&journal)
        .args(["sleep", "60"])
        .spawn()
        .expect("flock (util-linux)");
    let held = || {
        !std::process::Command::new("flock")
            .args(["-n"])
            .arg(&journal)
            .arg("true")
            .status()
            .unwrap()
            .success()
    };
    let t = std::time::Instant::now();
    while !held() {
        assert!(t.elapsed().as_secs() < 20, "flock never took the lock");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let log = p.path().join("due.log");
    let d = p
        .bulletin()
        .env("BULLETIN_NOW", AFTER)
        .args(["due", "--quiet", "--wait", "0", "--log-file"])
        .arg(&log)
        .run()
        .code_is(75);
    assert_eq!((d.stdout(), d.stderr()), (String::new(), String::new()));
    let written = std::fs::read_to_string(&log).unwrap();
    assert!(
        written.contains("another bulletin run is sending"),
        "{written}"
    );
    // Without --quiet it is said, as before.
    p.bulletin()
        .env("BULLETIN_NOW", AFTER)
        .args(["due", "--wait", "0"])
        .run()
        .code_is(75)
        .stderr_has("another bulletin run is sending");
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(server.messages().is_empty());
}

#[test]
fn quiet_log_file_and_exit_codes_for_cron() {
    let server = RealSmtp::start();
    let p = project(&server, "per_second = 1000\nburst = 1000");
    schedule_at_nine(&p);
    let log = p.path().join("due.log");
    let d = p
        .bulletin()
        .env("BULLETIN_NOW", AFTER)
        .args(["due", "--quiet", "--log-file", log.to_str().unwrap()])
        .ok();
    assert_eq!(d.stdout(), "", "quiet and all well: nothing on stdout");
    let written = std::fs::read_to_string(&log).unwrap();
    assert!(
        written.contains("sent, 0 failed") && written.contains("finished"),
        "{written}"
    );
    p.bulletin()
        .env("BULLETIN_NOW", AFTER)
        .args(["due", "--quiet", "--log-file", log.to_str().unwrap()])
        .ok();
    assert!(
        std::fs::read_to_string(&log).unwrap().len() > written.len(),
        "appends"
    );

    // A relay that is down: temporary failure.
    let dead = common::gate::Gate::closed();
    p.relay(
        dead.port,
        "max_consecutive_failures = 3\nmax_attempts = 1",
        "per_second = 1000\nburst = 1000",
    );
    p.bulletin()
        .env("BULLETIN_NOW", common::PLANNED)
        .args(["schedule", "2026-11-digest", "--at", "2026-12-01T08:00:00Z"])
        .ok();
    let d = p
        .bulletin()
        .env("BULLETIN_NOW", AFTER)
        .args(["due", "--quiet"])
        .run()
        .code_is(75);
    assert_eq!(d.stdout(), "");
    assert!(
        d.stderr().contains("stopped after 3 failures in a row"),
        "{}",
        d.stderr()
    );

    // A campaign broken after it was scheduled: an error to fix.
    p.write("campaigns/2026-11-digest.toml", "this is not toml =");
    p.bulletin()
        .env("BULLETIN_NOW", AFTER)
        .args(["due"])
        .run()
        .code_is(1)
        .stderr_has("2026-11-digest: cannot be sent");
    p.bulletin()
        .env("BULLETIN_NOW", AFTER)
        .args(["due", "--dry-run"])
        .run()
        .code_is(1);
}

#[test]
fn dry_run_says_what_would_go() {
    let server = RealSmtp::start();
    let p = project(&server, "per_second = 1000\nburst = 1000");
    let n = recipients(&p);
    schedule_at_nine(&p);
    let d = p
        .bulletin()
        .env("BULLETIN_NOW", AFTER)
        .args(["due", "--dry-run"])
        .ok();
    assert!(
        d.stdout()
            .contains(&format!("{CAMPAIGN}: would send {n} messages now")),
        "{}",
        d.stdout()
    );
    assert!(server.messages().is_empty());
}

/// The crontab `cron-line` prints is complete: run with only the variables it lists (cron's
/// bare environment), `due` sends. Two relays with passwords of their own, the token secret and
/// the previous one: each is listed once, and nothing else is needed.
#[test]
fn cron_line_lists_every_secret_due_reads_and_its_command_runs_with_only_those() {
    let certs = tempfile::tempdir().unwrap();
    let (one, ca) = RealSmtp::start_tls(certs.path(), "first-password", false);
    let two_dir = tempfile::tempdir().unwrap();
    let (two, ca_two) = RealSmtp::start_tls(two_dir.path(), "second-password", true);
    let p = Project::example();
    p.relay(
        one.port,
        &format!(
            "username = \"news\"\npassword_env = \"RELAY_ONE_PASSWORD\"\nca_file = \"{}\"\n\n[[smtp.relays]]\nhost = \"127.0.0.1\"\nport = {}\nusername = \"news\"\npassword_env = \"RELAY_TWO_PASSWORD\"\nca_file = \"{}\"",
            ca.display(),
            two.port,
            ca_two.display()
        ),
        "per_second = 1000\nburst = 1000",
    );
    p.edit(
        "bulletin.toml",
        "security = \"plain\"",
        "security = \"starttls\"",
    );
    p.edit(
        "bulletin.toml",
        "secret_env = \"BULLETIN_UNSUBSCRIBE_SECRET\"",
        "secret_env = \"BULLETIN_UNSUBSCRIBE_SECRET\"\nprevious_secret_env = \"OLD_TOKEN_SECRET\"",
    );
    let values = [
        ("RELAY_ONE_PASSWORD", "first-password"),
        ("RELAY_TWO_PASSWORD", "second-password"),
        ("BULLETIN_UNSUBSCRIBE_SECRET", common::TOKEN_SECRET),
        ("OLD_TOKEN_SECRET", "Prev-2025-xK9qL3mZ7vB2nR8tW4yH6jD1"),
    ];
    let mut all = p.bulletin();
    for (k, v) in values {
        all = all.env(k, v);
    }
    all.args(["schedule", "2026-11-digest", "--now"]).ok();
    let out = p.bulletin().args(["cron-line"]).ok().stdout();
    let listed: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_suffix("=change-me"))
        .collect();
    assert_eq!(
        listed,
        values.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
        "{out}"
    );
    let line = out.lines().find(|l| l.starts_with("*/5 ")).unwrap();
    let command = line.trim_start_matches("*/5 * * * * ").replace("\\%", "%");
    let home = tempfile::tempdir().unwrap();
    let mut sh = std::process::Command::new("/bin/sh");
    sh.env_clear();
    for (k, v) in values {
        sh.env(k, v);
    }
    common::shift_clock(&mut sh);
    let ran = sh
        .args(["-c", &command])
        .current_dir(home.path())
        .output()
        .unwrap();
    let log = std::fs::read_to_string(p.path().join("bulletin-due.log")).unwrap_or_default();
    assert!(ran.status.success(), "{command}\n{log}\n{ran:?}");
    let n = p.recipients("2026-11-digest").len();
    assert_eq!(one.messages().len() + two.messages().len(), n, "{log}");
    assert!(!one.messages().is_empty() && !two.messages().is_empty());
}

#[test]
fn cron_line_names_absolute_paths_and_the_password_variable() {
    let p = Project::example();
    let out = p
        .bulletin()
        .args(["cron-line", "--every", "10"])
        .ok()
        .stdout();
    let config = p.path().join("bulletin.toml").canonicalize().unwrap();
    assert!(
        out.contains(&format!(
            "--config {} due --quiet --log-file",
            config.display()
        )) || out.contains("due --quiet"),
        "{out}"
    );
    assert!(out.contains("*/10 * * * * '/"), "{out}");
    assert!(out.contains("BULLETIN_SMTP_PASSWORD=change-me"), "{out}");

    // A project folder whose name the shell would otherwise read as code: the line, as cron
    // hands it to sh, still runs bulletin on that project.
    let odd = tempfile::tempdir().unwrap();
    let weird = odd.path().join("news $(touch pwned) & 50% it's");
    std::os::unix::fs::symlink(p.path(), &weird).unwrap();
    let out = p
        .bulletin()
        .args(["--config"])
        .arg(weird.join("bulletin.toml"))
        .args(["cron-line"])
        .ok()
        .stdout();
    let line = out.lines().find(|l| l.starts_with("*/5 ")).unwrap();
    let command = line.trim_start_matches("*/5 * * * * ").replace("\\%", "%");
    let mut sh = std::process::Command::new("sh");
    common::shift_clock(&mut sh);
    let ran = sh
        .args(["-c", &format!("{command} --dry-run")])
        .current_dir(odd.path())
        .status()
        .unwrap();
    assert!(ran.success(), "{command}");
    assert!(
        !odd.path().join("pwned").exists(),
        "nothing in the path ran"
    );
    assert!(
        weird.join("bulletin-due.log").exists(),
        "the log went where it says"
    );
}

#[test]
fn a_contact_removed_after_a_partial_send_does_not_keep_the_campaign_open() {
    let server = RealSmtp::start();
    let p = project(&server, "per_second = 1000\nburst = 1000\nper_hour = 3");
    schedule_at_nine(&p);
    due(&p, "2026-12-01T08:00:00Z").success();
    assert_eq!(server.messages().len(), 3);
    // Someone not yet reached asks to be removed before the rest goes: they leave the list.
    let rows = p.recipients(CAMPAIGN);
    let gone = rows
        .iter()
        .find(|r| {
            r["lists"] == "practitioners.csv"
                && !count_by_recipient(&server.inbox).contains_key(&r["email"])
        })
        .unwrap()["email"]
        .clone();
    let list = p.read("lists/practitioners.csv");
    let kept: Vec<&str> = list
        .lines()
        .filter(|l| !l.to_lowercase().starts_with(&gone))
        .collect();
    assert_eq!(kept.len() + 1, list.lines().count());
    p.write("lists/practitioners.csv", kept.join("\n") + "\n");
    p.edit("bulletin.toml", "per_hour = 3", "per_hour = 1000");
    due(&p, "2026-12-01T09:30:00Z")
        .success()
        .stdout_has("finished");
    assert!(!count_by_recipient(&server.inbox).contains_key(&gone));
    assert_eq!(p.journal_states()[&gone], "queued");
    due(&p, "2026-12-01T10:00:00Z")
        .success()
        .stdout_has("nothing due");
}
