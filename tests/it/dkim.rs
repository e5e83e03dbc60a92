//! DKIM: keys made by `bulletin dkim keygen`, messages sent through a real SMTP server, and every
//! signature checked by dkimpy (Debian's python3-dkim, which `.ci/run` installs), a verifier
//! independent of bulletin's signer, with the public key served from the record keygen printed.
//! The test fails when dkimpy is missing; it is never skipped.

use crate::common;

use common::smtp::RealSmtp;
use common::Project;

const FAST: &str = "per_second = 500\nburst = 100";

/// The DNS name and TXT value that `keygen` printed.
fn record(keygen_stdout: &str) -> (String, String) {
    let value = keygen_stdout
        .lines()
        .find_map(|l| l.strip_prefix("(DNS consoles that take the value alone: "))
        .and_then(|l| l.strip_suffix(')'))
        .expect("keygen prints the record's value")
        .to_string();
    let name = keygen_stdout
        .lines()
        .find_map(|l| l.trim().split_once(".  IN TXT").map(|(n, _)| n.to_string()))
        .expect("keygen prints the record's name");
    (name, value)
}

/// Runs dkimpy over `files`; returns its report and whether every file passed.
fn dkimpy(records: &[(String, String)], files: &[std::path::PathBuf]) -> (String, bool) {
    let script = common::repo().join("tests/tools/dkim_verify.py");
    let mut cmd = std::process::Command::new("/usr/bin/python3");
    // The verifier lives in the same world as the signer: it refuses signatures from its future.
    common::shift_clock(&mut cmd);
    cmd.arg(&script);
    for (n, v) in records {
        cmd.args(["--record", n, v]);
    }
    cmd.args(files);
    let out = cmd.output().expect("run /usr/bin/python3");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !report.contains("No module named"),
        "dkimpy is needed for this test (apt-get install python3-dkim python3-nacl; .ci/run installs them): {report}"
    );
    (report, out.status.success())
}

/// The `h=` tag of a message's DKIM-Signature, unfolded.
fn signed_headers(message: &str) -> Vec<String> {
    let head = &message[..message.find("\r\n\r\n").unwrap()];
    // Unfold: a line starting with white space continues the field above.
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    let sig = unfolded
        .lines()
        .find(|l| l.starts_with("DKIM-Signature:"))
        .expect("a DKIM-Signature header");
    let h = sig
        .split(';')
        .map(str::trim)
        .find_map(|t| t.strip_prefix("h="))
        .expect("an h= tag");
    h.split(':').map(|s| s.trim().to_string()).collect()
}

#[test]
fn sent_messages_verify_with_an_independent_verifier_for_rsa_and_ed25519() {
    for algorithm in ["rsa", "ed25519"] {
        let server = RealSmtp::start();
        let p = Project::example();
        p.relay(server.port, "connections = 2", FAST);
        let keygen = p
            .bulletin()
            .args([
                "dkim",
                "keygen",
                "--selector",
                "news2026",
                "--algorithm",
                algorithm,
            ])
            .ok();
        let out = keygen.stdout();
        let (name, value) = record(&out);
        assert_eq!(name, "news2026._domainkey.disarmament-insight.example.org");
        assert!(
            value.starts_with(&format!("v=DKIM1; k={algorithm}; p=")),
            "{value}"
        );
        assert!(out.contains("key_file = \"dkim/news2026.pem\""), "{out}");
        // Written only for its owner, and kept out of git.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(p.path().join("dkim/news2026.pem"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "key file mode {mode:o}");
        }
        assert!(p.read("dkim/.gitignore").lines().any(|l| l == "*"));

        let config = p.read("bulletin.toml");
        p.write(
            "bulletin.toml",
            format!(
                "{config}\n[dkim]\nselector = \"news2026\"\nkey_file = \"dkim/news2026.pem\"\n"
            ),
        );
        // `check` prints the same record keygen did, beside SPF and DMARC.
        let done = p.bulletin().args(["check"]).ok();
        assert_eq!(
            done.stderr().contains("do not verify yet"),
            algorithm == "ed25519",
            "an Ed25519 key alone is warned about: {}",
            done.stderr()
        );
        let check = done.stdout();
        assert!(check.contains(&format!("{name}  TXT  {value}")), "{check}");
        assert!(
            check.contains("_dmarc.disarmament-insight.example.org  TXT  v=DMARC1"),
            "{check}"
        );
        assert!(check.contains("SPF"), "{check}");

        p.bulletin().args(["send", "2026-11-digest", "--yes"]).ok();
        let received = server.messages();
        assert!(received.len() > 10, "{} messages", received.len());
        let dir = p.path().join("received");
        std::fs::create_dir_all(&dir).unwrap();
        let mut files = Vec::new();
        for (i, m) in received.iter().enumerate() {
            let f = dir.join(format!("{i}.eml"));
            std::fs::write(&f, &m.data).unwrap();
            files.push(f);
        }
        let records = vec![(name.clone(), value.clone())];
        let (report, ok) = dkimpy(&records, &files);
        assert!(ok, "{algorithm}: every message verifies:\n{report}");
        assert_eq!(
            report.lines().filter(|l| l.starts_with("pass ")).count(),
            files.len()
        );

        // What the signature covers: the list, each over-signed.
        let text = String::from_utf8(received[0].data.clone()).unwrap();
        let h = signed_headers(&text);
        for name in [
            "from",
            "to",
            "subject",
            "date",
            "message-id",
            "list-id",
            "list-unsubscribe",
            "list-unsubscribe-post",
            "mime-version",
            "content-type",
        ] {
            assert!(
                h.iter().filter(|x| *x == name).count() >= 2,
                "{name} signed and over-signed: {h:?}"
            );
        }
        assert!(text.contains("c=relaxed/relaxed"));

        // The verifier is not a rubber stamp: a changed subject, a changed body, an added
        // List-Unsubscribe, or the wrong key each fail.
        let subject = text.lines().find(|l| l.starts_with("Subject:")).unwrap();
        let tampered = [
            text.replacen(subject, &format!("{subject} (edited)"), 1),
            text.replacen("Palais des Nations", "Palais des Natio", 1),
            text.replacen(
                "\r\n\r\n",
                "\r\nList-Unsubscribe: <https://evil.example/>\r\n\r\n",
                1,
            ),
        ];
        for (i, t) in tampered.iter().enumerate() {
            assert!(t != &text, "tampering {i} changed nothing");
            let f = dir.join(format!("tampered-{i}.eml"));
            std::fs::write(&f, t).unwrap();
            let (report, ok) = dkimpy(&records, std::slice::from_ref(&f));
            assert!(!ok, "tampering {i} must fail: {report}");
        }
        let other = p
            .bulletin()
            .args([
                "dkim",
                "keygen",
                "--selector",
                "other",
                "--algorithm",
                algorithm,
            ])
            .ok()
            .stdout();
        let (_, other_value) = record(&other);
        let (report, ok) = dkimpy(&[(name.clone(), other_value)], &files[..1]);
        assert!(!ok, "another key must not verify: {report}");
    }
}

#[test]
fn previews_are_signed_and_the_same_bytes_every_time() {
    let p = Project::example();
    p.bulletin()
        .args([
            "dkim",
            "keygen",
            "--selector",
            "s1",
            "--algorithm",
            "ed25519",
        ])
        .ok();
    let config = p.read("bulletin.toml");
    p.write(
        "bulletin.toml",
        format!("{config}\n[dkim]\nselector = \"s1\"\nkey_file = \"dkim/s1.pem\"\n"),
    );
    let run = |out: &str| {
        p.bulletin()
            .args(["preview", "2026-11-digest", "--out", out])
            .env("BULLETIN_NOW", "2026-12-01T08:00:00Z")
            .ok();
        common::emls(&p.path().join(out))
    };
    let (a, b) = (run("a"), run("b"));
    assert!(!a.is_empty());
    assert_eq!(a, b, "same inputs, same bytes");
    let first = String::from_utf8(a[0].1.clone()).unwrap();
    assert!(
        first.starts_with("DKIM-Signature: v=1; a=ed25519-sha256;"),
        "{first}"
    );
    // The signature's time is the message's Date.
    assert!(first.contains("t=1796112000;"), "{first}");
}

#[test]
fn key_problems_are_named_and_nothing_is_sent_unsigned() {
    let server = RealSmtp::start();
    let p = Project::example();
    p.relay(server.port, "", FAST);
    let config = p.read("bulletin.toml");
    p.write(
        "bulletin.toml",
        format!("{config}\n[dkim]\nselector = \"s1\"\nkey_file = \"keys/s1.pem\"\n"),
    );
    // Missing: an error for check, a warning for preview; send refuses and sends nothing.
    p.bulletin()
        .args(["check"])
        .fails()
        .stderr_has("keys/s1.pem does not exist")
        .stderr_has("bulletin dkim keygen --selector s1");
    p.bulletin()
        .args(["preview", "2026-11-digest"])
        .ok()
        .stderr_has("not signed (DKIM)");
    p.bulletin()
        .args(["send", "2026-11-digest", "--yes"])
        .fails()
        .stderr_has("cannot sign messages with DKIM")
        .stderr_has("Nothing was sent");
    p.bulletin()
        .args(["test-send", "2026-11-digest", "--to", "me@example.org"])
        .fails()
        .stderr_has("cannot sign messages with DKIM");
    assert!(server.messages().is_empty());

    // Present but not a usable key: an error naming the config line.
    let line = p
        .read("bulletin.toml")
        .lines()
        .position(|l| l.starts_with("key_file"))
        .unwrap()
        + 1;
    for (content, says) in [
        ("not a key\n", "no PEM private key"),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
            "SSH key",
        ),
    ] {
        p.write("keys/s1.pem", content);
        p.bulletin()
            .args(["check"])
            .fails()
            .stderr_has(&format!("bulletin.toml:{line}"))
            .stderr_has(says)
            // The command to run, whole: keygen needs its selector.
            .stderr_has("bulletin dkim keygen --selector NAME");
    }

    // A key others can read works, with a warning.
    p.remove("keys/s1.pem");
    p.bulletin()
        .args(["dkim", "keygen", "--selector", "s1", "--out", "keys/s1.pem"])
        .ok();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let f = p.path().join("keys/s1.pem");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        p.bulletin()
            .args(["check"])
            .ok()
            .stderr_has("can be read by other users");
    }
    // A key is never overwritten; `dkim record` prints the record of the configured key.
    p.bulletin()
        .args(["dkim", "keygen", "--selector", "s1", "--out", "keys/s1.pem"])
        .fails()
        .stderr_has("never overwritten")
        .stderr_has("bulletin dkim record");
    let record = p.bulletin().args(["dkim", "record"]).ok().stdout();
    assert!(
        record.contains("s1._domainkey.disarmament-insight.example.org.  IN TXT"),
        "{record}"
    );
    // Sizes other than 2048, 3072 and 4096 are refused before any key is made.
    for bits in ["1024", "2049", "3000", "8192"] {
        p.bulletin()
            .args(["dkim", "keygen", "--selector", "big", "--bits", bits])
            .fails()
            .stderr_has("2048, 3072 or 4096");
    }
    p.bulletin()
        .args([
            "dkim",
            "keygen",
            "--selector",
            "ed",
            "--algorithm",
            "ed25519",
            "--bits",
            "2048",
        ])
        .fails()
        .stderr_has("--bits is for RSA keys");
    assert!(!p.path().join("dkim/big.pem").exists() && !p.path().join("dkim/ed.pem").exists());

    // --out is read from the current folder; the printed key_file is what the config reads.
    let elsewhere = tempfile::tempdir().unwrap();
    let out = common::Run::new()
        .current_dir(elsewhere.path())
        .arg("--config")
        .arg(p.path().join("bulletin.toml"))
        .args([
            "dkim",
            "keygen",
            "--selector",
            "rel",
            "--out",
            "keys/rel.pem",
        ])
        .ok()
        .stdout();
    let written = elsewhere.path().join("keys/rel.pem");
    assert!(written.exists());
    assert!(
        out.contains(&format!("key_file = \"{}\"", written.display())),
        "outside the project the path is absolute: {out}"
    );

    // A selector that cannot be a DNS name, and a signing domain DMARC cannot align.
    p.edit(
        "bulletin.toml",
        "selector = \"s1\"",
        "selector = \"my key\"",
    );
    p.bulletin()
        .args(["check"])
        .fails()
        .stderr_has("selector \"my key\"");
    p.edit(
        "bulletin.toml",
        "selector = \"my key\"",
        "selector = \"s1\"\ndomain = \"other.example\"",
    );
    p.bulletin().args(["check"]).ok().stderr_has("DMARC");
}
