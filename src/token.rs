//! Unsubscribe tokens: a secret, a campaign and an address in, a short URL-safe token out that
//! names the recipient to the unsubscribe endpoint without showing the address, and that only
//! the holder of the secret can make or read. Verified without a database: the token carries
//! the campaign and the address, encrypted and authenticated.
//!
//! Construction (from ring's primitives, no cipher of our own): the nonce is an HMAC-SHA256 of
//! the campaign and the address, so the same recipient of the same campaign always gets the
//! same token (messages stay reproducible), and the pair is sealed with ChaCha20-Poly1305 under
//! that nonce ("synthetic IV"). Opening checks the AEAD tag, then that the nonce is the HMAC of
//! what was opened. Both keys are derived from the secret with HMAC-SHA256 and fixed labels.
//! The token: base64url, no padding, of `1 ‖ nonce(12) ‖ sealed(campaign NUL address NUL
//! language) ‖ tag(16)`. The language lets the endpoint answer in the reader's language.

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305};
use ring::hmac;

const VERSION: u8 = 1;
const AAD: &[u8] = b"bulletin unsubscribe token v1";
/// Confirmation links of the sign-up form: another version byte and another purpose in the
/// associated data, so that neither kind of token opens as the other.
const SIGNUP_VERSION: u8 = 2;
const SIGNUP_AAD: &[u8] = b"bulletin signup token v1";
/// Approval links ([approval]): a third kind, opening as neither of the others.
const APPROVAL_VERSION: u8 = 3;
const APPROVAL_AAD: &[u8] = b"bulletin approval token v1";

/// Shortest secret accepted, in characters: 32 random characters of base64 carry 192 bits.
pub const MIN_SECRET: usize = 32;

/// How to make a secret, for messages.
pub const HOW_TO_MAKE: &str = "make one with `openssl rand -base64 32` (or `head -c 32 /dev/urandom | base64`) and keep it where the config says";

/// Why a secret is too weak to sign tokens with, if it is. A token is public (it is in every
/// message), so a short or repetitive secret can be found by trying candidates against one
/// token, after which anyone can unsubscribe anyone.
pub fn weakness(secret: &str, known: &[&str]) -> Option<String> {
    let chars: Vec<char> = secret.chars().collect();
    let len = chars.len();
    let mut distinct = chars.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let hex = chars.iter().all(|c| c.is_ascii_hexdigit());
    // Kinds of character: a random secret of base64 has lower and upper case letters and
    // digits; words, names and addresses seldom have all three.
    let kinds = [
        chars.iter().any(|c| c.is_lowercase()),
        chars.iter().any(|c| c.is_uppercase()),
        chars.iter().any(|c| c.is_ascii_digit()),
        chars.iter().any(|c| !c.is_alphanumeric()),
    ]
    .iter()
    .filter(|k| **k)
    .count();
    // A run of five characters in a row of the alphabet ("abcde", "12345") is typed, not drawn.
    let sequence = chars.windows(5).any(|w| {
        w.windows(2).all(|p| p[1] as i64 - p[0] as i64 == 1)
            || w.windows(2).all(|p| p[0] as i64 - p[1] as i64 == 1)
    });
    // Ten letters of one case in a row is a word: random base64 has such a run in about one
    // secret of two thousand.
    let word = chars
        .chunk_by(|a, b| {
            (a.is_lowercase() && b.is_lowercase()) || (a.is_uppercase() && b.is_uppercase())
        })
        .any(|run| run.len() >= 10 && run[0].is_alphabetic());
    let spaces = chars.iter().filter(|c| c.is_whitespace()).count();
    let lower = secret.to_lowercase();
    let borrowed = known
        .iter()
        .map(|k| k.trim().to_lowercase())
        .find(|k| k.chars().count() >= 6 && lower.contains(k.as_str()));
    if len < MIN_SECRET {
        Some(format!(
            "it is {len} characters long, and a secret shorter than {MIN_SECRET} can be guessed from one link in any message"
        ))
    } else if distinct.len() < 12 {
        Some(format!(
            "it uses only {} different characters, which makes it guessable from one link",
            distinct.len()
        ))
    } else if let Some(k) = borrowed {
        Some(format!(
            "it holds \"{k}\", which the config itself says: anyone who reads a message knows it"
        ))
    } else if sequence {
        Some("it holds characters in alphabetical or numerical order, as typed secrets do".into())
    } else if spaces >= 2 || word {
        Some("it is made of words, which are guessed long before random characters are".into())
    } else if kinds < 3 && !hex {
        Some("it looks typed rather than drawn at random (it lacks a mix of upper and lower case letters and digits)".into())
    } else {
        None
    }
}

/// Keys made from one secret.
pub struct Keys {
    mac: hmac::Key,
    seal: LessSafeKey,
}

impl Keys {
    pub fn new(secret: &str) -> Keys {
        let root = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
        let derive = |label: &[u8]| hmac::sign(&root, label);
        let mac = hmac::Key::new(hmac::HMAC_SHA256, derive(b"bulletin token mac").as_ref());
        let enc = derive(b"bulletin token seal");
        let seal = LessSafeKey::new(
            UnboundKey::new(&CHACHA20_POLY1305, enc.as_ref()).expect("a 32-byte key"),
        );
        Keys { mac, seal }
    }

    fn nonce(&self, plain: &[u8]) -> [u8; aead::NONCE_LEN] {
        let tag = hmac::sign(&self.mac, plain);
        let mut n = [0u8; aead::NONCE_LEN];
        n.copy_from_slice(&tag.as_ref()[..aead::NONCE_LEN]);
        n
    }

    /// The token of `email` for `campaign`, whose message leads with `lang`.
    pub fn token(&self, campaign: &str, email: &str, lang: &str) -> String {
        let mut plain = Vec::with_capacity(campaign.len() + email.len() + lang.len() + 2);
        plain.extend_from_slice(campaign.as_bytes());
        plain.push(0);
        plain.extend_from_slice(email.as_bytes());
        plain.push(0);
        plain.extend_from_slice(lang.as_bytes());
        self.seal(VERSION, AAD, plain)
    }

    /// Seals `plain` under its synthetic nonce: `version ‖ nonce ‖ sealed ‖ tag`, base64url.
    fn seal(&self, version: u8, aad: &'static [u8], plain: Vec<u8>) -> String {
        let nonce = self.nonce(&plain);
        let mut sealed = plain;
        self.seal
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut sealed,
            )
            .expect("sealing cannot fail for a short message");
        let mut raw = Vec::with_capacity(1 + nonce.len() + sealed.len());
        raw.push(version);
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&sealed);
        data_encoding::BASE64URL_NOPAD.encode(&raw)
    }

    /// What a token of this version and purpose sealed, if these keys made it.
    fn unseal(&self, version: u8, aad: &'static [u8], token: &str, max: usize) -> Option<Vec<u8>> {
        if token.len() > max {
            return None;
        }
        let raw = data_encoding::BASE64URL_NOPAD
            .decode(token.as_bytes())
            .ok()?;
        let (&v, rest) = raw.split_first()?;
        if v != version || rest.len() < aead::NONCE_LEN + CHACHA20_POLY1305.tag_len() {
            return None;
        }
        let (nonce, sealed) = rest.split_at(aead::NONCE_LEN);
        let nonce: [u8; aead::NONCE_LEN] = nonce.try_into().ok()?;
        let mut buf = sealed.to_vec();
        let plain = self
            .seal
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut buf,
            )
            .ok()?;
        // The synthetic nonce must be the HMAC of what it sealed.
        if self.nonce(plain) != nonce {
            return None;
        }
        Some(plain.to_vec())
    }

    /// Who a token names, if it was made with these keys.
    pub fn open(&self, token: &str) -> Option<Named> {
        let plain = self.unseal(VERSION, AAD, token, 1024)?;
        let text = std::str::from_utf8(&plain).ok()?;
        let mut parts = text.split('\0');
        let (campaign, email, lang) = (parts.next()?, parts.next()?, parts.next()?);
        Some(Named {
            campaign: campaign.to_string(),
            email: email.to_string(),
            lang: lang.to_string(),
        })
    }

    /// The token of a sign-up's confirmation link. It carries the whole request, so that
    /// nothing of a stranger's form is kept before they confirm.
    pub fn signup_token(&self, r: &SignupRequest) -> String {
        let plain = serde_json::to_vec(r).expect("a request serialises");
        self.seal(SIGNUP_VERSION, SIGNUP_AAD, plain)
    }

    pub fn approval_token(&self, r: &ApprovalRequest) -> String {
        let plain = serde_json::to_vec(r).expect("a request serialises");
        self.seal(APPROVAL_VERSION, APPROVAL_AAD, plain)
    }

    pub fn open_approval(&self, token: &str) -> Option<ApprovalRequest> {
        let plain = self.unseal(APPROVAL_VERSION, APPROVAL_AAD, token, 4096)?;
        serde_json::from_slice(&plain).ok()
    }

    /// The sign-up a confirmation token carries, if these keys made it (its age is the
    /// caller's to judge, against its own clock).
    pub fn open_signup(&self, token: &str) -> Option<SignupRequest> {
        let plain = self.unseal(SIGNUP_VERSION, SIGNUP_AAD, token, 4096)?;
        serde_json::from_slice(&plain).ok()
    }
}

/// An approval asked of one approver, sealed into the link mailed to them: the campaign, the
/// version (hash) they are shown, who, and when it was asked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ApprovalRequest {
    #[serde(rename = "c")]
    pub campaign: String,
    #[serde(rename = "h")]
    pub hash: String,
    #[serde(rename = "a")]
    pub approver: String,
    #[serde(rename = "t")]
    pub at_ms: i64,
}

/// A sign-up as the form sent it, sealed into its confirmation link.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SignupRequest {
    #[serde(rename = "e")]
    pub email: String,
    #[serde(rename = "n")]
    pub name: String,
    #[serde(rename = "l")]
    pub languages: Vec<String>,
    #[serde(rename = "i")]
    pub interests: Vec<String>,
    /// When the form was sent (ms since the epoch).
    #[serde(rename = "t")]
    pub at_ms: i64,
    /// The digest of the form's text the person saw.
    #[serde(rename = "v")]
    pub form_version: String,
}

/// What a token says: the campaign, the recipient's address, the language their message led with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub campaign: String,
    pub email: String,
    pub lang: String,
}

/// The current secret's keys and, while links sent before a rotation are still out there, the
/// previous one's.
pub struct Secrets {
    pub current: Keys,
    pub previous: Option<Keys>,
}

impl Secrets {
    pub fn token(&self, campaign: &str, email: &str, lang: &str) -> String {
        self.current.token(campaign, email, lang)
    }

    pub fn signup_token(&self, r: &SignupRequest) -> String {
        self.current.signup_token(r)
    }

    pub fn approval_token(&self, r: &ApprovalRequest) -> String {
        self.current.approval_token(r)
    }

    /// Opens an approval token made with the current or the previous secret.
    pub fn open_approval(&self, token: &str) -> Option<ApprovalRequest> {
        self.current
            .open_approval(token)
            .or_else(|| self.previous.as_ref()?.open_approval(token))
    }

    /// Opens a confirmation token made with the current or the previous secret.
    pub fn open_signup(&self, token: &str) -> Option<SignupRequest> {
        self.current
            .open_signup(token)
            .or_else(|| self.previous.as_ref()?.open_signup(token))
    }

    /// Opens a token made with the current or the previous secret.
    pub fn open(&self, token: &str) -> Option<Named> {
        self.current
            .open(token)
            .or_else(|| self.previous.as_ref()?.open(token))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn typed_secrets_are_weak_and_drawn_ones_are_not() {
        let known = ["Disarmament Insight", "disarmament-insight.example.org"];
        for weak in [
            "abc",
            "abcdefghijklmnopqrstuvwxyz012345",
            "MyNewsletterSecretKey2026ForUnsubscribeLinks",
            "DisarmamentInsight2026!UnsubscribeSecret#Geneva",
            "Disarmament Insight newsletter unsubscribe secret 2026",
            "https://disarmament-insight.example.org/Secret2026",
        ] {
            assert!(super::weakness(weak, &known).is_some(), "{weak}");
        }
        for strong in [
            "tB8ihLaCNNkB5b5dAsbz0VWmCbZK9Pvbx02Z0dE5YV8=",
            "9f86d081884c7d659a2feaa0c55ad015",
            "5e884898da28047151d0e56f8ff6a3d23f9f0e6a1c2b3d4e5f60718293a4b5c6",
            "Xq7-Lp2_Zm9Rt4Wk8Yb1Nc3Vd5Fg6Hj0Kl",
        ] {
            assert_eq!(super::weakness(strong, &known), None, "{strong}");
        }
    }

    use super::*;

    #[test]
    fn a_token_names_its_recipient_to_its_secret_only() {
        let k = Keys::new("correct horse battery staple");
        let t = k.token("2026-11-digest", "anne@example.org", "fr");
        assert_eq!(
            t,
            k.token("2026-11-digest", "anne@example.org", "fr"),
            "stable"
        );
        assert_ne!(t, k.token("2026-11-digest", "bob@example.org", "fr"));
        assert_ne!(t, k.token("2026-12-digest", "anne@example.org", "fr"));
        assert!(t.len() < 120, "{} characters", t.len());
        assert!(t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert!(!t.contains("anne") && !t.contains("example"));
        assert_eq!(
            k.open(&t),
            Some(Named {
                campaign: "2026-11-digest".into(),
                email: "anne@example.org".into(),
                lang: "fr".into()
            })
        );
        assert_eq!(Keys::new("another secret").open(&t), None);
    }

    #[test]
    fn forged_truncated_and_odd_tokens_open_to_nothing() {
        let k = Keys::new("s");
        let t = k.token("c", "a@example.org", "en");
        let mut forged = t.clone().into_bytes();
        let i = forged.len() / 2;
        forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
        assert_eq!(k.open(std::str::from_utf8(&forged).unwrap()), None);
        assert_eq!(k.open(&t[..t.len() - 2]), None);
        for odd in ["", "!!!", "AAAA", &"A".repeat(5000)] {
            assert_eq!(k.open(odd), None, "{odd}");
        }
    }

    #[test]
    fn a_signup_token_carries_its_request_and_is_no_unsubscribe_token() {
        let k = Keys::new("s");
        let r = SignupRequest {
            email: "new@example.org".into(),
            name: "Nouvelle Lectrice".into(),
            languages: vec!["fr".into()],
            interests: vec!["landmines".into()],
            at_ms: 1_800_000_000_000,
            form_version: "abc".into(),
        };
        let t = k.signup_token(&r);
        assert_eq!(k.open_signup(&t), Some(r));
        assert_eq!(
            k.open(&t),
            None,
            "a confirmation link is no unsubscribe link"
        );
        let u = k.token("c", "a@example.org", "en");
        assert_eq!(k.open_signup(&u), None);
        assert_eq!(Keys::new("other").open_signup(&t), None);
    }

    #[test]
    fn a_rotated_secret_still_opens_old_links() {
        let old = Keys::new("old");
        let t = old.token("c", "a@example.org", "en");
        let s = Secrets {
            current: Keys::new("new"),
            previous: Some(old),
        };
        assert!(s.open(&t).is_some());
        assert!(s.open(&s.token("c", "b@example.org", "en")).is_some());
    }
}
