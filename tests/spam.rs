//! What a spam filter makes of our messages: every message of the example campaigns' previews,
//! read by SpamAssassin with its local rules only (Debian's `spamassassin -L`, which `.ci/run`
//! installs), scores below 1.0. The test fails when SpamAssassin is missing; it is never skipped.

mod common;

use common::Project;

#[test]
fn the_example_campaigns_score_below_one_with_spamassassin() {
    let found = std::process::Command::new("spamassassin")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "SpamAssassin is needed for this test (apt-get install spamassassin; .ci/run installs it)"
    );
    let p = Project::example();
    let mut mbox = String::new();
    let mut messages = 0;
    for campaign in [
        "2026-11-digest",
        "2026-11-mpome-briefing",
        "2026-12-mpome-conference-report",
    ] {
        let out = p.path().join(campaign);
        p.bulletin()
            .args(["preview", campaign, "--out"])
            .arg(&out)
            .ok();
        for (_, bytes) in common::emls(&out) {
            // One mbox, so that SpamAssassin starts once: "From " lines quoted as mboxrd does.
            mbox.push_str("From bulletin@example.org Tue Dec  1 08:00:00 2026\n");
            let text = String::from_utf8(bytes).unwrap().replace("\r\n", "\n");
            for line in text.lines() {
                if line.starts_with("From ") || line.starts_with(">From ") {
                    mbox.push('>');
                }
                mbox.push_str(line);
                mbox.push('\n');
            }
            mbox.push('\n');
            messages += 1;
        }
    }
    assert!(messages > 40);
    let file = p.path().join("all.mbox");
    std::fs::write(&file, mbox).unwrap();
    let out = std::process::Command::new("spamassassin")
        .args(["-L", "-t", "--mbox"])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    let scores: Vec<f64> = report
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Content analysis details:"))
        .filter_map(|l| l.trim().trim_start_matches('(').split_whitespace().next())
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(scores.len(), messages, "a score for every message");
    let high: Vec<&f64> = scores.iter().filter(|s| **s >= 1.0).collect();
    assert!(high.is_empty(), "scores of 1.0 or more: {high:?}\n{report}");
}
