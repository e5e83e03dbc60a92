//! A key file's bytes in, its private key's DER and kind out, read as leniently as OpenSSL
//! reads it: text around the key (comments, `Bag Attributes`, a certificate, `openssl -text`
//! output), any base64 line width, a BOM, or DER bytes with no PEM at all. pem-rfc7468 is
//! strict by design, and key files teams have are not.

/// What a key file holds, as far as signing cares.
pub(super) enum Found {
    /// PKCS#8 DER (`BEGIN PRIVATE KEY`, or DER bytes).
    Pkcs8(Vec<u8>),
    /// PKCS#1 DER (`BEGIN RSA PRIVATE KEY`).
    Pkcs1(Vec<u8>),
    /// DER bytes with no PEM around them: PKCS#8 or PKCS#1, as OpenSSL writes either.
    Der(Vec<u8>),
    /// Something that cannot sign, and what to say about it.
    Refused(String),
}

struct Block {
    label: String,
    /// RFC 1421 headers (`Proc-Type: 4,ENCRYPTED`): OpenSSL's traditional encryption.
    encrypted: bool,
    body: String,
}

fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut current: Option<Block> = None;
    for line in text.lines() {
        let line = line.trim().trim_start_matches('\u{feff}');
        if let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        {
            current = Some(Block {
                label: label.trim().to_string(),
                encrypted: false,
                body: String::new(),
            });
        } else if line.starts_with("-----END ") {
            out.extend(current.take());
        } else if let Some(b) = &mut current {
            if line.contains(':') {
                b.encrypted |= line.contains("ENCRYPTED");
            } else {
                b.body.extend(line.chars().filter(|c| !c.is_whitespace()));
            }
        }
    }
    out
}

/// The private key in `bytes`.
pub(super) fn read(bytes: &[u8]) -> Found {
    let Ok(text) = std::str::from_utf8(bytes) else {
        // No text: DER as `openssl pkey -outform DER` writes it, if it is a SEQUENCE.
        return if bytes.first() == Some(&0x30) {
            Found::Der(bytes.to_vec())
        } else {
            Found::Refused("the key file is neither PEM text nor a DER key: make a key with `bulletin dkim keygen --selector NAME`, or convert yours with `openssl pkey -in KEY -out KEY.pem`".into())
        };
    };
    let all = blocks(text);
    let Some(b) = all.iter().find(|b| b.label.ends_with("PRIVATE KEY")) else {
        let public = all
            .iter()
            .any(|b| b.label.contains("PUBLIC KEY") || b.label.contains("CERTIFICATE"));
        return Found::Refused(if public {
            "the key file holds a public key or a certificate but no private key: key_file must name the private key (the public one goes in DNS)".into()
        } else {
            "the key file holds no PEM private key (a block starting with -----BEGIN PRIVATE KEY-----): make one with `bulletin dkim keygen --selector NAME`".into()
        });
    };
    let encrypted = "the key file is encrypted with a passphrase, which bulletin cannot ask for when cron runs it: write a decrypted copy readable only by you (`openssl pkey -in KEY -out KEY.pem`, then chmod 600)";
    if b.encrypted || b.label == "ENCRYPTED PRIVATE KEY" {
        return Found::Refused(encrypted.into());
    }
    let der = match data_encoding::BASE64.decode(b.body.as_bytes()) {
        Ok(d) => d,
        Err(_) => {
            return Found::Refused(format!(
                "the key file's {} block is not valid base64: was it cut or edited? Make a new key with `bulletin dkim keygen --selector NAME`",
                b.label
            ))
        }
    };
    match b.label.as_str() {
        "PRIVATE KEY" => Found::Pkcs8(der),
        "RSA PRIVATE KEY" => Found::Pkcs1(der),
        "OPENSSH PRIVATE KEY" => Found::Refused("this is an SSH key: DKIM needs a key in PEM (make one with `bulletin dkim keygen --selector NAME`)".into()),
        "EC PRIVATE KEY" => Found::Refused("this is an elliptic-curve (ECDSA) key, which DKIM does not use: DKIM signs with RSA or Ed25519 (make a key with `bulletin dkim keygen --selector NAME`)".into()),
        other => Found::Refused(format!("this is a {other}, which DKIM does not use: DKIM signs with RSA or Ed25519 (make a key with `bulletin dkim keygen --selector NAME`)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der(found: Found) -> Vec<u8> {
        match found {
            Found::Pkcs8(d) | Found::Pkcs1(d) | Found::Der(d) => d,
            Found::Refused(why) => panic!("refused: {why}"),
        }
    }

    #[test]
    fn text_around_the_key_and_any_line_width_are_read() {
        let body = data_encoding::BASE64.encode(&[1u8; 100]);
        let plain = der(read(
            format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n").as_bytes(),
        ));
        assert_eq!(plain, vec![1u8; 100]);
        let (a, b) = body.split_at(50);
        let messy = format!(
            "\u{feff}Bag Attributes\n    localKeyID: 01\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\r\n{a}\r\n{b}\r\n-----END PRIVATE KEY-----\r\nPrivate-Key: (2048 bit)\n"
        );
        assert_eq!(der(read(messy.as_bytes())), plain);
    }

    #[test]
    fn what_cannot_sign_is_named() {
        let refused = |text: &str| match read(text.as_bytes()) {
            Found::Refused(why) => why,
            _ => panic!("accepted {text:?}"),
        };
        assert!(refused("").contains("no PEM private key"));
        assert!(
            refused("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----")
                .contains("public key")
        );
        assert!(refused("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----").contains("encrypted"));
        assert!(refused("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE=\n-----END OPENSSH PRIVATE KEY-----").contains("SSH key"));
        assert!(
            refused("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----")
                .contains("elliptic-curve")
        );
        assert!(matches!(read(&[0xff, 0xfe, 0x00]), Found::Refused(_)));
    }
}
