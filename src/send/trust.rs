//! The relay's certificate when the config names a `ca_file`: the certificates in that file in,
//! a verdict on what the relay presented out. The file may hold an institute's own CA, which
//! signed the relay's certificate, or the relay's own self-signed certificate, which is then
//! pinned: trusted as exactly those bytes. webpki alone refuses the second when the certificate
//! says it is a CA (`openssl req -x509` makes such certificates by default), so bulletin checks
//! the relay's certificate itself, right after the TLS handshake and before it logs in or sends.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

/// Largest `ca_file` read: a bundle of a few hundred certificates.
const MAX_CA_FILE: u64 = 4 * 1024 * 1024;

/// What the `ca_file` vouches for.
pub struct Trust {
    file: String,
    /// Every certificate of the file, as DER: a relay presenting one of these is trusted as is.
    pinned: Vec<CertificateDer<'static>>,
    /// The same certificates as roots a relay's chain may lead to (none when webpki can take
    /// none of them as a root: then only exact matches are trusted).
    verifier: Option<Arc<rustls::client::WebPkiServerVerifier>>,
}

/// Why a relay's certificates cannot be trusted: a pinned file that cannot be used is the
/// config's to fix (`ca_file`); a certificate that does not match stops that relay.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TrustError {
    #[error("cannot read ca_file {file}: {why}")]
    Unreadable { file: String, why: String },
    #[error("ca_file {file}: {why}")]
    NotPem { file: String, why: String },
    #[error("ca_file {file} holds no certificate (a PEM block \"-----BEGIN CERTIFICATE-----\", or one certificate in DER): give the relay's certificate, or the CA certificate that signed it")]
    NoCertificate { file: String },
    #[error("{0} presented no certificate")]
    NonePresented(String),
    #[error("{host} is not a name a certificate can hold: {why}")]
    NotAName { host: String, why: String },
    #[error("the certificate {host} presented is neither the one in ca_file {file} nor signed by it ({why}): give the relay's own certificate there (or the CA that signed it)")]
    NotTrusted {
        host: String,
        file: String,
        why: String,
    },
}

impl Trust {
    /// Reads the certificates of a PEM file.
    pub fn from_file(path: &Path) -> Result<Trust, TrustError> {
        let file = path.display().to_string();
        let pem =
            crate::limits::read_capped(path, MAX_CA_FILE).map_err(|e| TrustError::Unreadable {
                file: file.clone(),
                why: e.to_string(),
            })?;
        let pinned: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<_, _>>()
            .map_err(|e| TrustError::NotPem {
                file: file.clone(),
                why: e.to_string(),
            })?;
        // A certificate saved as DER (Windows' "DER encoded binary .cer") rather than PEM: one
        // certificate, taken when it parses as one.
        let pinned = if pinned.is_empty() && pem.first() == Some(&0x30) {
            let der = CertificateDer::from(pem.clone());
            match rustls::RootCertStore::empty().add(der.clone()) {
                Ok(()) => vec![der],
                Err(_) => pinned,
            }
        } else {
            pinned
        };
        if pinned.is_empty() {
            return Err(TrustError::NoCertificate { file });
        }
        let mut roots = rustls::RootCertStore::empty();
        // A certificate webpki cannot take as a root is still pinned.
        let _ = roots.add_parsable_certificates(pinned.iter().cloned());
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .ok();
        Ok(Trust {
            file,
            pinned,
            verifier,
        })
    }

    /// Whether the chain the relay `host` presented (leaf first, DER) is trusted: its leaf is
    /// one of the file's certificates, or the chain leads to one of them and names `host`.
    pub fn check(&self, host: &str, chain: &[Vec<u8>]) -> Result<(), TrustError> {
        let Some(leaf) = chain.first() else {
            return Err(TrustError::NonePresented(host.to_string()));
        };
        if self.pinned.iter().any(|p| p.as_ref() == leaf.as_slice()) {
            return Ok(());
        }
        let name = ServerName::try_from(host.to_string()).map_err(|e| TrustError::NotAName {
            host: host.to_string(),
            why: e.to_string(),
        })?;
        let leaf = CertificateDer::from(leaf.clone());
        let intermediates: Vec<CertificateDer> = chain[1..]
            .iter()
            .map(|c| CertificateDer::from(c.clone()))
            .collect();
        let verdict = match &self.verifier {
            Some(v) => v
                .verify_server_cert(&leaf, &intermediates, &name, &[], UnixTime::now())
                .map(|_| ())
                .map_err(|e| e.to_string()),
            None => Err("no certificate of the file can be a root".to_string()),
        };
        verdict.map_err(|why| TrustError::NotTrusted {
            host: host.to_string(),
            file: self.file.clone(),
            why,
        })
    }
}
