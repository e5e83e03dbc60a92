//! STARTTLS and AUTH against mailin-embedded with a certificate made for the test: the relay's
//! certificate is checked against `ca_file`, and the password comes from the environment or a
//! command, never from the config file.

mod common;

use common::smtp::RealSmtp;
use common::Project;

fn tls_server(dir: &std::path::Path) -> (RealSmtp, std::path::PathBuf) {
    // mailin-embedded's TLS asks rustls for the process's default provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cert =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let (cert_path, key_path) = (dir.join("relay.pem"), dir.join("relay.key"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    (
        RealSmtp::start_with(Some((cert_path.clone(), key_path)), Some("s3cret")),
        cert_path,
    )
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
        .stderr_has("STARTTLS");
    assert!(server.messages().is_empty());
}
