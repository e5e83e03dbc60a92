//! Byte strings in, a short stable hex digest out: what content hashes, Message-ID keys and file
//! names are made of.

/// A short hex digest (128 bits of SHA-256) of some byte strings, each length-prefixed so that
/// no two different lists give the same input: what content hashes are made of.
pub fn of<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A short stable digest of a recipient within a campaign, used in Message-IDs and file names.
pub fn recipient_key(campaign_id: &str, email: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(campaign_id.as_bytes());
    h.update([0]);
    h.update(email.as_bytes());
    let d = h.finalize();
    d.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// A recipient's tag in the Message-ID and the VERP bounce address of their message: 80 bits of
/// HMAC-SHA256 of the campaign and the address under `key` (the journal's bounce key). Unlike
/// [`recipient_key`], nobody without the key can compute it, so a bounce that names a tag the
/// journal knows can only come from a mail system that saw that very message, not from someone
/// who knows an address and wants it off the list.
pub fn recipient_tag(key: &[u8], campaign_id: &str, email: &str) -> String {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let mut ctx = ring::hmac::Context::with_key(&k);
    ctx.update(campaign_id.as_bytes());
    ctx.update(&[0]);
    ctx.update(email.as_bytes());
    let tag = ctx.sign();
    data_encoding::BASE32_NOPAD
        .encode(&tag.as_ref()[..10])
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    #[test]
    fn tags_need_the_key() {
        let t = super::recipient_tag(b"k1", "c", "a@x.org");
        assert_eq!(t.len(), 16);
        assert_eq!(t, super::recipient_tag(b"k1", "c", "a@x.org"));
        assert_ne!(t, super::recipient_tag(b"k2", "c", "a@x.org"));
        assert_ne!(t, super::recipient_tag(b"k1", "c", "b@x.org"));
        assert!(t
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    }
}
