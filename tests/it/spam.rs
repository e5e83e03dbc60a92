//! What a spam filter makes of our messages: every message of the example campaigns' previews,
//! with a reader who follows every topic in both languages and every update carrying four topic
//! tags (the digest with the most tags), read by SpamAssassin with its local rules only (Debian's
//! `spamassassin -L`, which `tests/run` installs), hits no rule that scores above zero but the
//! informational ones. The test fails when SpamAssassin is missing; it is never skipped.

use crate::common;

use common::Project;

/// Rules every message hits that say nothing against it: it was not relayed (a preview), and
/// it has an HTML part.
const ALLOWED: [&str; 3] = ["NO_RECEIVED", "NO_RELAYS", "HTML_MESSAGE"];

#[test]
fn the_example_campaigns_hit_no_rule_that_scores() {
    let found = std::process::Command::new("spamassassin")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "SpamAssassin is needed for this test (apt-get install spamassassin; .ci/run installs it)"
    );
    let p = Project::example();
    p.write(
        "lists/practitioners.csv",
        p.read("lists/practitioners.csv")
            + "zoe.all@example.org,Zoé,Allard,Tout terrain,en+fr,small-arms;landmines;peace-operations;humanitarian-disarmament;multilateral-negotiations,Reader\n",
    );
    // Every update with four topic tags, in both languages.
    for e in std::fs::read_dir(p.path().join("updates")).unwrap() {
        let path = e.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let tagged: Vec<String> = text
            .lines()
            .map(|l| {
                if l.starts_with("interests = ") {
                    "interests = [\"peace-operations\", \"small-arms\", \"landmines\", \"humanitarian-disarmament\"]".to_string()
                } else {
                    l.to_string()
                }
            })
            .collect();
        std::fs::write(&path, tagged.join("\n") + "\n").unwrap();
    }
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
    let details: Vec<&str> = report.split("Content analysis details:").skip(1).collect();
    assert_eq!(details.len(), messages, "a report for every message");
    let mut scoring = std::collections::BTreeMap::<String, usize>::new();
    for d in &details {
        for line in d.lines() {
            let mut w = line.split_whitespace();
            let (Some(score), Some(rule)) = (w.next(), w.next()) else {
                continue;
            };
            let (Ok(score), true) = (
                score.parse::<f64>(),
                rule.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
            ) else {
                continue;
            };
            if score > 0.0 && !ALLOWED.contains(&rule) {
                *scoring.entry(format!("{rule} ({score})")).or_default() += 1;
            }
        }
    }
    assert!(
        scoring.is_empty(),
        "rules that score, with how many messages hit each: {scoring:?}"
    );
}
