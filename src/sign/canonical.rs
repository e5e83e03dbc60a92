//! RFC 6376's "relaxed" canonicalization: a message's bytes in, the header and body data that a
//! DKIM signature covers out.

/// Splits a message into its header block (with the CRLF ending its last field) and its body.
pub(super) fn split_message(message: &[u8]) -> (&[u8], &[u8]) {
    match memchr::memmem::find(message, b"\r\n\r\n") {
        Some(i) => (&message[..i + 2], &message[i + 4..]),
        None => (message, b""),
    }
}

/// One header field as it stands in the message, folded lines and all.
pub(super) struct Field<'a> {
    pub(super) raw: &'a [u8],
}

impl Field<'_> {
    pub(super) fn name_is(&self, name: &str) -> bool {
        let n = self.raw.split(|b| *b == b':').next().unwrap_or_default();
        n.trim_ascii().eq_ignore_ascii_case(name.as_bytes())
    }
}

pub(super) fn header_fields(head: &[u8]) -> Vec<Field<'_>> {
    let mut fields: Vec<Field> = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < head.len() {
        if head[i] == b'\n' {
            let next = head.get(i + 1);
            if !matches!(next, Some(b' ' | b'\t')) {
                fields.push(Field {
                    raw: &head[start..=i],
                });
                start = i + 1;
            }
        }
        i += 1;
    }
    if start < head.len() {
        fields.push(Field {
            raw: &head[start..],
        });
    }
    fields
}

/// The header data that is signed: each name of `names` takes the next instance of that field
/// from the bottom up (RFC 6376 §5.4.2); a name with none left adds nothing.
pub(super) fn signed_header_data(fields: &[Field], names: &[&str]) -> Vec<u8> {
    let mut used = vec![false; fields.len()];
    let mut out = Vec::new();
    for name in names {
        if let Some(i) = (0..fields.len())
            .rev()
            .find(|&i| !used[i] && fields[i].name_is(name))
        {
            used[i] = true;
            out.extend_from_slice(&relaxed_field(fields[i].raw));
        }
    }
    out
}

/// RFC 6376 §3.4.2: the name in lower case, unfolded, runs of white space as one space, none
/// at the ends of the value or around the colon; ends with CRLF.
pub(super) fn relaxed_field(raw: &[u8]) -> Vec<u8> {
    let colon = raw.iter().position(|b| *b == b':').unwrap_or(raw.len());
    let mut out = Vec::with_capacity(raw.len());
    out.extend(raw[..colon].trim_ascii().iter().map(u8::to_ascii_lowercase));
    out.push(b':');
    let value = raw.get(colon + 1..).unwrap_or_default();
    let (mut space, mut started) = (false, false);
    for &b in value {
        match b {
            b'\r' | b'\n' => {}
            b' ' | b'\t' => space = true,
            _ => {
                if space && started {
                    out.push(b' ');
                }
                (space, started) = (false, true);
                out.push(b);
            }
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// RFC 6376 §3.4.4: runs of white space in a line as one space, none at line ends, no empty
/// lines at the end; a body that is not empty ends with CRLF.
pub(super) fn relaxed_body(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut lines = body.split(|b| *b == b'\n').peekable();
    while let Some(line) = lines.next() {
        // What follows the last CRLF is not a line when it is empty.
        if line.is_empty() && lines.peek().is_none() {
            break;
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut space = false;
        for &b in line {
            if b == b' ' || b == b'\t' {
                space = true;
            } else {
                if space {
                    out.push(b' ');
                }
                space = false;
                out.push(b);
            }
        }
        out.extend_from_slice(b"\r\n");
    }
    while out.ends_with(b"\r\n\r\n") {
        out.truncate(out.len() - 2);
    }
    if out == b"\r\n" {
        out.clear();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of RFC 6376 §3.4.5.
    #[test]
    fn relaxed_canonicalization_as_in_the_rfc() {
        let message = b"A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n";
        let (head, body) = split_message(message);
        let fields = header_fields(head);
        assert_eq!(fields.len(), 2);
        assert_eq!(
            signed_header_data(&fields, &["a", "b", "c"]),
            b"a:X\r\nb:Y Z\r\n"
        );
        assert_eq!(relaxed_body(body), b" C\r\nD E\r\n");
    }

    #[test]
    fn an_empty_body_is_empty_and_a_missing_final_crlf_is_added() {
        assert_eq!(relaxed_body(b""), b"");
        assert_eq!(relaxed_body(b"\r\n\r\n"), b"");
        assert_eq!(relaxed_body(b"last line"), b"last line\r\n");
    }

    #[test]
    fn colons_in_values_keep_their_spaces() {
        assert_eq!(relaxed_field(b"Subject:  a : b \r\n"), b"subject:a : b\r\n");
    }

    #[test]
    fn fields_are_taken_from_the_bottom_up() {
        let head = b"X: 1\r\nY: a\r\nX: 2\r\n";
        let fields = header_fields(head);
        assert_eq!(signed_header_data(&fields, &["x"]), b"x:2\r\n");
        assert_eq!(
            signed_header_data(&fields, &["x", "x", "x"]),
            b"x:2\r\nx:1\r\n"
        );
    }
}
