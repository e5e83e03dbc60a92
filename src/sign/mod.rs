//! A finished message, a DKIM key and the signing time in, the message's `DKIM-Signature` header
//! out (RFC 6376, relaxed/relaxed; `rsa-sha256`, or `ed25519-sha256` of RFC 8463). Also: the key
//! files teams have, read; new key pairs; the public half written as its DNS record.
//!
//! The signing is ours, on ring's signatures, because no maintained signer fits. lettre's (the
//! crate that builds our messages) sees only the headers set on the message builder, not the
//! `Content-Type` that a multipart body writes itself, so it cannot sign the MIME headers; it
//! also stamps `t=` from the wall clock. mail-auth signs raw bytes but also reads the wall clock,
//! and does not build without a DNS resolver stack. Either would make a signed message differ
//! from run to run; this one takes the time as an argument, so previews and snapshot tests show
//! the very bytes that are sent. An independent implementation (dkimpy) verifies what it signs in
//! `tests/it/dkim.rs`.

use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair, RsaKeyPair, RSA_PKCS1_SHA256};
use sha2::{Digest, Sha256};

mod canonical;
mod pem;
use canonical::{header_fields, relaxed_body, relaxed_field, signed_header_data, split_message};

/// The headers signed, in this order, when the message has them. Each is listed once more than
/// it occurs ("over-signing", RFC 6376 §8.15): a header of one of these names added on the way,
/// a second From or a List-Unsubscribe where there was none, breaks the signature.
pub const SIGNED_HEADERS: &[&str] = &[
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "reply-to",
    "list-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "content-language",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Rsa,
    Ed25519,
}

impl Algorithm {
    /// The name in the DNS record's `k=` tag.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Rsa => "rsa",
            Algorithm::Ed25519 => "ed25519",
        }
    }
}

/// Why a key file cannot sign, said so that the team knows what to do.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(String);

/// Why the key file a config names cannot sign: the gate and `preview` say it, `check` warns
/// of what is only unwise about a key that can.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("the DKIM key file {} does not exist: make a key with `bulletin dkim keygen --selector {selector}`, or copy the key there", path.display())]
    Missing {
        path: std::path::PathBuf,
        selector: String,
    },
    #[error("cannot read the DKIM key file {}: {source}", path.display())]
    Unreadable {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    NotAKey {
        path: std::path::PathBuf,
        source: KeyError,
    },
}

enum Key {
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A key ready to sign for one domain and selector.
pub struct Signer {
    key: Key,
    domain: String,
    selector: String,
    rng: SystemRandom,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({}, {})", self.selector, self.domain)
    }
}

/// RFC 8301: verifiers must accept RSA keys of 1024 to 4096 bits; under 2048 is weak.
const RSA_MIN_BITS: usize = 2048;
const RSA_MAX_BITS: usize = 4096;

impl Signer {
    /// Reads a private key as key files hold it: PEM in PKCS#8 (`BEGIN PRIVATE KEY`, what
    /// `bulletin dkim keygen` and `openssl genpkey` write) or PKCS#1 (`BEGIN RSA PRIVATE KEY`,
    /// what opendkim-genkey writes), with whatever text around it; or DER. `domain` must be in
    /// ASCII (punycode).
    pub fn from_key_file(bytes: &[u8], domain: &str, selector: &str) -> Result<Signer, KeyError> {
        let key = match pem::read(bytes) {
            pem::Found::Refused(why) => return Err(KeyError(why)),
            pem::Found::Der(der) if RsaKeyPair::from_der(&der).is_ok() => {
                Key::Rsa(RsaKeyPair::from_der(&der).map_err(|e| rsa_rejected(&e, &der, false))?)
            }
            pem::Found::Pkcs1(der) => {
                Key::Rsa(RsaKeyPair::from_der(&der).map_err(|e| rsa_rejected(&e, &der, false))?)
            }
            pem::Found::Pkcs8(der) | pem::Found::Der(der) => match RsaKeyPair::from_pkcs8(&der) {
                Ok(k) => Key::Rsa(k),
                // An RSA key ring refuses (too small, say): its reason is the one to give.
                Err(e) if e.to_string() != "WrongAlgorithm" => {
                    return Err(rsa_rejected(&e, &der, true))
                }
                Err(_) => Key::Ed25519(Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).map_err(|_| {
                    KeyError("the key file holds a private key that is neither RSA nor Ed25519: DKIM signs with one of those two (make one with `bulletin dkim keygen --selector NAME`)".into())
                })?),
            },
        };
        if let Key::Rsa(k) = &key {
            let bits = k.public().modulus_len() * 8;
            if bits > RSA_MAX_BITS {
                return Err(KeyError(format!("the RSA key has {bits} bits; receivers need only accept up to {RSA_MAX_BITS} (RFC 8301), and some reject larger keys: make a new key with `bulletin dkim keygen --selector NAME`")));
            }
        }
        Ok(Signer {
            key,
            domain: domain.to_string(),
            selector: selector.to_string(),
            rng: SystemRandom::new(),
        })
    }

    /// As [`Signer::from_key_file`], from text.
    pub fn from_pem(text: &str, domain: &str, selector: &str) -> Result<Signer, KeyError> {
        Self::from_key_file(text.as_bytes(), domain, selector)
    }

    pub fn algorithm(&self) -> Algorithm {
        match self.key {
            Key::Rsa(_) => Algorithm::Rsa,
            Key::Ed25519(_) => Algorithm::Ed25519,
        }
    }

    /// The key's size in bits (256 for Ed25519).
    pub fn bits(&self) -> usize {
        match &self.key {
            Key::Rsa(k) => k.public().modulus_len() * 8,
            Key::Ed25519(_) => 256,
        }
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    pub fn selector(&self) -> &str {
        &self.selector
    }

    /// Where the public key is published: `SELECTOR._domainkey.DOMAIN`.
    pub fn dns_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }

    /// The TXT record to publish at [`Signer::dns_name`].
    pub fn dns_value(&self) -> String {
        let public = match &self.key {
            // DNS records carry RSA keys as SubjectPublicKeyInfo, as `openssl rsa -pubout` does.
            Key::Rsa(k) => rsa_spki(k.public().as_ref()),
            Key::Ed25519(k) => k.public_key().as_ref().to_vec(),
        };
        format!(
            "v=DKIM1; k={}; p={}",
            self.algorithm().name(),
            data_encoding::BASE64.encode(&public)
        )
    }

    /// The `DKIM-Signature` header (with its CRLF) that signs `message`, a whole RFC 5322 message
    /// with CRLF line ends, as signed at `time` (seconds since the Unix epoch).
    pub fn header(&self, message: &[u8], time: u64) -> String {
        let (head, body) = split_message(message);
        let fields = header_fields(head);
        let body_hash = Sha256::digest(relaxed_body(body));
        let mut names: Vec<&str> = Vec::new();
        for name in SIGNED_HEADERS {
            let n = fields.iter().filter(|f| f.name_is(name)).count();
            names.extend(std::iter::repeat_n(*name, n + 1));
        }
        let a = match self.key {
            Key::Rsa(_) => "rsa-sha256",
            Key::Ed25519(_) => "ed25519-sha256",
        };
        // Each tag on a line of its own, folded with CRLF and a tab: verifiers unfold them.
        let unsigned = format!(
            "DKIM-Signature: v=1; a={a}; c=relaxed/relaxed; d={}; s={};\r\n\tt={time}; h={};\r\n\tbh={};\r\n\tb=",
            self.domain,
            self.selector,
            names.join(":"),
            data_encoding::BASE64.encode(&body_hash),
        );
        let mut data = signed_header_data(&fields, &names);
        data.extend_from_slice(relaxed_field(unsigned.as_bytes()).trim_ascii_end());
        let signature = match &self.key {
            Key::Rsa(k) => {
                let mut sig = vec![0; k.public().modulus_len()];
                // Fails only when the rng does, which a working system's never does.
                k.sign(&RSA_PKCS1_SHA256, &self.rng, &data, &mut sig)
                    .expect("the system's random number generator failed");
                sig
            }
            // RFC 8463 §3: Ed25519 signs the SHA-256 digest of the header data.
            Key::Ed25519(k) => k.sign(&Sha256::digest(&data)).as_ref().to_vec(),
        };
        let b = data_encoding::BASE64.encode(&signature);
        let mut out = unsigned;
        for (i, chunk) in b.as_bytes().chunks(72).enumerate() {
            if i > 0 {
                out.push_str("\r\n\t ");
            }
            out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        }
        out.push_str("\r\n");
        out
    }

    /// `message` with its signature put at the top.
    pub fn sign(&self, message: Vec<u8>, time: u64) -> Vec<u8> {
        let header = self.header(&message, time);
        let mut out = Vec::with_capacity(header.len() + message.len());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(&message);
        out
    }
}

/// Why ring refused an RSA key, in words: ring's own reasons are codes ("TooSmall"), and
/// some of them stand for more than one thing, so the key is read again to tell.
fn rsa_rejected(e: &ring::error::KeyRejected, der: &[u8], pkcs8: bool) -> KeyError {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::traits::PublicKeyParts;
    let parsed = if pkcs8 {
        rsa::PrivateKey::from_pkcs8_der(der).ok()
    } else {
        rsa::PrivateKey::from_pkcs1_der(der).ok()
    };
    let make = "make a new key with `bulletin dkim keygen --selector NAME`";
    KeyError(match parsed {
        None => format!("the key file's RSA key cannot be read ({e}): {make}"),
        Some(k) => {
            let bits = k.n().bit_width() as usize;
            let exponent = k.e().to_string_radix_vartime(10);
            if bits < RSA_MIN_BITS {
                format!("the RSA key has {bits} bits, fewer than the {RSA_MIN_BITS} that mailbox providers require (they treat a shorter key as no signature): {make}")
            } else if bits > RSA_MAX_BITS {
                format!("the RSA key has {bits} bits; receivers need only accept up to {RSA_MAX_BITS} (RFC 8301), and some reject larger keys: {make}")
            } else if !bits.is_multiple_of(512) {
                format!("the RSA key has {bits} bits, which is not a multiple of 512 as signing keys are: {make} (2048, 3072 or 4096 bits)")
            } else if exponent != "65537" {
                format!("the RSA key's public exponent is {exponent}, not the usual 65537: {make}")
            } else {
                format!("the RSA key is not usable ({e}): {make}")
            }
        }
    })
}

/// An RSA public key (PKCS#1 DER, as ring gives it) as SubjectPublicKeyInfo DER.
fn rsa_spki(pkcs1: &[u8]) -> Vec<u8> {
    use rsa::pkcs1::DecodeRsaPublicKey;
    use rsa::pkcs8::EncodePublicKey;
    rsa::PublicKey::from_pkcs1_der(pkcs1)
        .and_then(|k| k.to_public_key_der().map_err(|_| rsa::pkcs1::Error::Crypto))
        .map(|d| d.as_bytes().to_vec())
        // ring produced this key from a key it accepted, so it parses.
        .unwrap_or_default()
}

/// The RSA sizes `keygen` makes: what ring signs with, and what receivers must accept.
pub const RSA_SIZES: [usize; 3] = [2048, 3072, 4096];

/// A new private key in PEM (PKCS#8 v1, which every tool reads): RSA of `bits` bits (one of
/// [`RSA_SIZES`]), or Ed25519.
pub fn generate(algorithm: Algorithm, bits: usize) -> Result<String, KeyError> {
    use pem_rfc7468::LineEnding;
    let der = match algorithm {
        Algorithm::Rsa => {
            if !RSA_SIZES.contains(&bits) {
                return Err(KeyError(format!(
                    "an RSA key for DKIM has 2048, 3072 or 4096 bits (2048 is usual), not {bits}"
                )));
            }
            use rsa::pkcs8::EncodePrivateKey;
            let key = rsa::PrivateKey::new(&mut getrandom::SysRng, bits)
                .map_err(|e| KeyError(format!("cannot make an RSA key: {e}")))?;
            key.to_pkcs8_der()
                .map_err(|e| KeyError(format!("cannot encode the key: {e}")))?
                .as_bytes()
                .to_vec()
        }
        Algorithm::Ed25519 => {
            // RFC 8410's PKCS#8 v1 form: a fixed prefix, then the 32-byte seed. ring writes v2
            // (the public key too), which OpenSSL 3.0 and Python's cryptography refuse.
            const PREFIX: [u8; 16] = [
                0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
                0x04, 0x20,
            ];
            let mut seed = [0u8; 32];
            ring::rand::SecureRandom::fill(&SystemRandom::new(), &mut seed)
                .map_err(|_| KeyError("the system's random number generator failed".into()))?;
            [&PREFIX[..], &seed].concat()
        }
    };
    pem_rfc7468::encode_string("PRIVATE KEY", LineEnding::LF, &der)
        .map_err(|e| KeyError(format!("cannot encode the key: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> Vec<u8> {
        b"From: A <a@example.org>\r\nTo: b@example.net\r\nSubject: Hello\r\n there\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nBody  text \r\n\r\n".to_vec()
    }

    /// Signs, then checks the signature with ring's verifier against the published key, the
    /// way a receiver does. (tests/it/dkim.rs has an independent verifier read real messages.)
    fn verify(signer: &Signer, signed: &[u8]) {
        let (head, body) = split_message(signed);
        let fields = header_fields(head);
        let sig = std::str::from_utf8(fields[0].raw).unwrap();
        assert!(sig.starts_with("DKIM-Signature:"));
        let tag = |t: &str| {
            let v: String = sig
                .split(';')
                .map(str::trim)
                .find_map(|p| p.strip_prefix(t))
                .unwrap()
                .split_whitespace()
                .collect();
            v
        };
        let bh = data_encoding::BASE64.decode(tag("bh=").as_bytes()).unwrap();
        assert_eq!(bh, Sha256::digest(relaxed_body(body)).to_vec());
        let names: Vec<String> = tag("h=").split(':').map(str::to_string).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut data = signed_header_data(&fields[1..], &names);
        let b_at = sig.rfind("\tb=").unwrap() + 1;
        data.extend_from_slice(relaxed_field(&sig.as_bytes()[..b_at + 2]).trim_ascii_end());
        let b = data_encoding::BASE64.decode(tag("b=").as_bytes()).unwrap();
        let p = signer.dns_value();
        let p = data_encoding::BASE64
            .decode(p.split("p=").nth(1).unwrap().as_bytes())
            .unwrap();
        match signer.algorithm() {
            Algorithm::Rsa => {
                use rsa::pkcs1::EncodeRsaPublicKey;
                use rsa::pkcs8::DecodePublicKey;
                let pkcs1 = rsa::PublicKey::from_public_key_der(&p)
                    .unwrap()
                    .to_pkcs1_der()
                    .unwrap();
                ring::signature::UnparsedPublicKey::new(
                    &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                    pkcs1.as_bytes(),
                )
                .verify(&data, &b)
                .expect("the RSA signature verifies");
            }
            Algorithm::Ed25519 => {
                ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &p)
                    .verify(&Sha256::digest(&data), &b)
                    .expect("the Ed25519 signature verifies");
            }
        }
    }

    #[test]
    fn generated_keys_sign_what_their_record_verifies() {
        for (alg, bits) in [(Algorithm::Ed25519, 256), (Algorithm::Rsa, 2048)] {
            let pem = generate(alg, bits).unwrap();
            let signer = Signer::from_pem(&pem, "example.org", "s1").unwrap();
            assert_eq!(signer.algorithm(), alg);
            assert_eq!(signer.bits(), bits);
            let signed = signer.sign(message(), 1_764_000_000);
            assert_eq!(
                signed,
                signer.sign(message(), 1_764_000_000),
                "same inputs, same bytes"
            );
            let text = String::from_utf8(signed.clone()).unwrap();
            assert!(text.contains("t=1764000000;"), "{text}");
            assert!(
                text.contains("h=from:from:to:to:subject:subject:"),
                "{text}"
            );
            assert!(text.lines().all(|l| l.len() <= 998));
            verify(&signer, &signed);
            // A changed subject no longer verifies.
            let forged = text.replace("Subject: Hello", "Subject: Hullo");
            let forged = std::panic::catch_unwind(|| verify(&signer, forged.as_bytes()));
            assert!(forged.is_err(), "a changed header must not verify");
        }
    }

    #[test]
    fn ed25519_keys_are_written_as_pkcs8_v1() {
        let pem = generate(Algorithm::Ed25519, 0).unwrap();
        let (label, der) = pem_rfc7468::decode_vec(pem.as_bytes()).unwrap();
        assert_eq!(label, "PRIVATE KEY");
        assert_eq!(der.len(), 48, "version 1: the seed alone");
        assert_eq!(der[4], 0, "version 0 (v1)");
    }

    #[test]
    fn pkcs1_and_pkcs8_files_of_one_key_are_the_same_key() {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        use rsa::pkcs8::DecodePrivateKey;
        let pkcs8 = generate(Algorithm::Rsa, 2048).unwrap();
        let pkcs1 = rsa::PrivateKey::from_pkcs8_pem(&pkcs8)
            .unwrap()
            .to_pkcs1_pem(pem_rfc7468::LineEnding::CRLF)
            .unwrap()
            .to_string();
        assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        let a = Signer::from_pem(&pkcs8, "example.org", "s").unwrap();
        let b = Signer::from_pem(&pkcs1, "example.org", "s").unwrap();
        assert_eq!(a.dns_value(), b.dns_value());
        assert_eq!(a.sign(message(), 1), b.sign(message(), 1));
        // An Ed25519 public key is 32 bytes of base64, as a bare seed would be: never a key.
        let ed = Signer::from_pem(
            &generate(Algorithm::Ed25519, 0).unwrap(),
            "example.org",
            "s",
        )
        .unwrap();
        let public = ed.dns_value().split("p=").nth(1).unwrap().to_string();
        assert!(Signer::from_pem(&public, "example.org", "s").is_err());
    }

    #[test]
    fn key_files_say_what_is_wrong() {
        let err = |text: &str| {
            Signer::from_pem(text, "example.org", "s")
                .unwrap_err()
                .to_string()
        };
        assert!(err("hello").contains("no PEM private key"));
        assert!(err(
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"
        )
        .contains("encrypted"));
        assert!(
            err("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
                .contains("public key")
        );
        let small = {
            use rsa::pkcs8::EncodePrivateKey;
            rsa::PrivateKey::new(&mut getrandom::SysRng, 1024)
                .unwrap()
                .to_pkcs8_pem(pem_rfc7468::LineEnding::LF)
                .unwrap()
                .to_string()
        };
        assert!(
            err(&small).contains("1024 bits, fewer than the 2048"),
            "{}",
            err(&small)
        );
        for bits in [1024, 2049, 3000, 8192] {
            assert!(generate(Algorithm::Rsa, bits).is_err(), "{bits}");
        }
    }
}
