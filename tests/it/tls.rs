//! STARTTLS and AUTH against mailin-embedded with a certificate made for the test: the relay's
//! certificate is checked against `ca_file`, and the password comes from the environment or a
//! command, never from the config file.

use crate::common;

use common::smtp::RealSmtp;
use common::Project;

fn tls_server(dir: &std::path::Path) -> (RealSmtp, std::path::PathBuf) {
    RealSmtp::start_tls(dir, "s3cret", false)
}

#[test]
fn starttls_with_auth_delivers_and_wrong_password_stops() {
    let certs = tempfile::tempdir().unwrap();
    let (server, ca) = tls_server(certs.path());
    let p = Project::example();
    let smtp = format!(
        "username = \"news\"\npassword_env = \"RELAY_PASSWORD\"\nca_file = \"{}\"",
        ca.display()
    );
    p.relay(server.port, &smtp, "per_second = 1000\nburst = 1000");
    p.edit(
        "bulletin.toml",
        "security = \"plain\"",
        "security = \"starttls\"",
    );
    p.bulletin()
        .args(["send", "2026-11-digest", "--yes", "--limit", "3"])
        .env("RELAY_PASSWORD", "s3cret")
        .ok()
        .stdout_has("3 sent");
    assert_eq!(server.messages().len(), 3);

    p.bulletin()
        .args(["send", "2026-11-digest", "--yes", "--limit", "3"])
        .env("RELAY_PASSWORD", "wrong")
        .fails()
        .stderr_has("the relay refused the credentials: 535");
    assert_eq!(server.messages().len(), 3);

    // The password can come from a command instead.
    p.edit(
        "bulletin.toml",
        "password_env = \"RELAY_PASSWORD\"",
        "password_command = \"printf 's3cret\\\\n'\"",
    );
    p.bulletin()
        .args(["send", "2026-11-digest", "--yes", "--limit", "2"])
        .ok()
        .stdout_has("2 sent");
    assert_eq!(server.messages().len(), 5);
}

#[test]
fn an_untrusted_certificate_is_refused() {
    let certs = tempfile::tempdir().unwrap();
    let (server, _ca) = tls_server(certs.path());
    let p = Project::example();
    // No ca_file: the public roots do not vouch for the test certificate.
    p.relay(
        server.port,
        "username = \"news\"\npassword_env = \"RELAY_PASSWORD\"",
        "per_second = 1000\nburst = 1000",
    );
    p.edit(
        "bulletin.toml",
        "security = \"plain\"",
        "security = \"starttls\"",
    );
    p.bulletin()
        .args(["send", "2026-11-digest", "--yes"])
        .env("RELAY_PASSWORD", "s3cret")
        .fails()
        .stderr_has("STARTTLS")
        .stderr_has("set ca_file to that certificate");
    assert!(server.messages().is_empty());
}

/// A relay's own self-signed certificate that says it is a CA (what `openssl req -x509` makes)
/// given as `ca_file` is pinned: trusted as exactly that certificate. Another certificate there
/// is refused, naming the file and what to give.
#[test]
fn a_self_signed_ca_certificate_in_ca_file_is_pinned() {
    let certs = tempfile::tempdir().unwrap();
    let (server, ca) = RealSmtp::start_tls(certs.path(), "s3cret", true);
    let p = Project::example();
    let smtp = format!(
        "username = \"news\"\npassword_env = \"RELAY_PASSWORD\"\nca_file = \"{}\"",
        ca.display()
    );
    p.relay(server.port, &smtp, "per_second = 1000\nburst = 1000");
    p.edit(
        "bulletin.toml",
        "security = \"plain\"",
        "security = \"starttls\"",
    );
    p.bulletin()
        .args(["send", "2026-11-digest", "--yes", "--limit", "2"])
        .env("RELAY_PASSWORD", "s3cret")
        .ok()
        .stdout_has("2 sent");
    assert_eq!(server.messages().len(), 2);

    // The same certificate saved as DER (Windows' "DER encoded binary .cer"): pinned alike.
    let pem = std::fs::read_to_string(&ca).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = data_encoding::BASE64.decode(body.as_bytes()).unwrap();
    let der_file = certs.path().join("relay.cer");
    std::fs::write(&der_file, der).unwrap();
    p.edit(
        "bulletin.toml",
        &ca.display().to_string(),
        &der_file.display().to_string(),
    );
    p.bulletin()
        .args(["send", "2026-11-digest", "--yes", "--limit", "1"])
        .env("RELAY_PASSWORD", "s3cret")
        .ok()
        .stdout_has("1 sent");
    assert_eq!(server.messages().len(), 3);
    p.edit(
        "bulletin.toml",
        &der_file.display().to_string(),
        &ca.display().to_string(),
    );

    // Some other certificate in ca_file: the relay's is neither it nor signed by it.
    let other = tempfile::tempdir().unwrap();
    let (_unused, other_ca) = RealSmtp::start_tls(other.path(), "x", true);
    p.edit(
        "bulletin.toml",
        &ca.display().to_string(),
        &other_ca.display().to_string(),
    );
    p.bulletin()
        .args(["send", "2026-11-digest", "--yes", "--limit", "2"])
        .env("RELAY_PASSWORD", "s3cret")
        .fails()
        .stderr_has("is neither the one in ca_file")
        .stderr_has(&other_ca.display().to_string());
    assert_eq!(server.messages().len(), 3, "nothing more went");
}

/// A login configured for a relay that offers none: the error names the relay, what it offers
/// and what to change, at once, instead of retrying for minutes.
#[test]
fn a_relay_that_offers_no_login_is_named_with_what_it_offers() {
    let plain = RealSmtp::start();
    let p = Project::example();
    p.relay(
        plain.port,
        "username = \"news\"\npassword_env = \"RELAY_PASSWORD\"",
        "per_second = 1000\nburst = 1000",
    );
    p.bulletin()
        .args(["test-send", "2026-11-digest", "--to", "me@example.org"])
        .env("RELAY_PASSWORD", "s3cret")
        .fails()
        .stderr_has(&format!(
            "the relay 127.0.0.1:{} offers no AUTH at all (it offers:",
            plain.port
        ))
        .stderr_has("remove username");
    p.bulletin()
        .args(["send", "2026-11-digest", "--yes"])
        .env("RELAY_PASSWORD", "s3cret")
        .fails()
        .stderr_has("offers no AUTH at all");
    assert!(plain.messages().is_empty());

    // A relay that offers AUTH only once the connection is encrypted, reached without TLS.
    let certs = tempfile::tempdir().unwrap();
    let (tls, _ca) = RealSmtp::start_tls(certs.path(), "s3cret", false);
    p.relay(
        tls.port,
        "username = \"news\"\npassword_env = \"RELAY_PASSWORD\"",
        "per_second = 1000\nburst = 1000",
    );
    p.bulletin()
        .args(["test-send", "2026-11-digest", "--to", "me@example.org"])
        .env("RELAY_PASSWORD", "s3cret")
        .fails()
        .stderr_has(&format!(
            "the relay 127.0.0.1:{} offers no AUTH before STARTTLS",
            tls.port
        ))
        .stderr_has("set security = \"starttls\"");
}
