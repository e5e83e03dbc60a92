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
