//! A list file in, its bytes as the CSV reader takes them out, with what must be known of the
//! whole file before the first row is read: encoding, delimiter, an unclosed quote, row count.
//!
//! A UTF-8 file (nearly every export) is read twice from disk and never held whole, so that a
//! million-row list costs its contacts and not its text too. Other encodings, and the lone CRs
//! of old Mac exports, are decoded in memory first.

use std::io::{BufRead, Read, Seek};
use std::path::Path;

use crate::{Error, Result};

pub(super) struct Source {
    pub reader: Box<dyn Read>,
    pub encoding: &'static str,
    pub delimiter: u8,
    /// Excel's "sep=;" first line: it names the delimiter and is not the header.
    pub sep_line: bool,
    /// An odd number of quotes (they come in pairs, "" inside a cell included): one is opened
    /// and never closed.
    pub unbalanced: bool,
    /// Line ends: about the number of rows.
    pub lines: usize,
}

/// Largest list read whole (UTF-16, Windows-1252, lone CRs): about two million contacts.
const MAX_IN_MEMORY: u64 = 1 << 30;

/// How much of the start of a file the delimiter is guessed from.
const HEAD: usize = 64 * 1024;

pub(super) fn open(path: &Path) -> Result<Source> {
    let io = |e| Error::io("read contact list", path, e);
    // A list may be large, so it is not capped; but a device or a pipe (a link to /dev/zero)
    // would be read for ever.
    if !std::fs::metadata(path).map_err(io)?.is_file() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a device, pipe or folder, perhaps through a symbolic link): give the CSV file itself",
        )));
    }
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut head = Vec::with_capacity(512);
    std::io::Read::read_to_end(&mut std::io::Read::take(&mut file, 512), &mut head).map_err(io)?;
    let what = not_text(&head).or_else(|| {
        // NUL bytes: UTF-16 without its mark (read in memory), or no text at all.
        let utf16 = head.starts_with(b"\xFF\xFE")
            || head.starts_with(b"\xFE\xFF")
            || super::utf16_without_bom(&head).is_some();
        (head.contains(&0) && !utf16).then_some("a binary file (it holds NUL bytes)")
    });
    if let Some(what) = what {
        return Err(Error::NotAList(format!(
            "{}: this is {what}, not a CSV file: open it in its program and save it as CSV (in Excel: File > Save As > CSV UTF-8)",
            path.display()
        )));
    }
    file.seek(std::io::SeekFrom::Start(0)).map_err(io)?;
    let scan = scan(&mut file).map_err(io)?;
    let Some(scan) = scan else {
        return in_memory(path);
    };
    let bom = scan.head.starts_with(b"\xEF\xBB\xBF");
    file.seek(std::io::SeekFrom::Start(if bom { 3 } else { 0 }))
        .map_err(io)?;
    let head = String::from_utf8_lossy(&scan.head[if bom { 3 } else { 0 }..]);
    let (delimiter, sep_line) = delimiter_of(&head);
    Ok(Source {
        // The scan found every CR followed by LF: dropping CRs makes each line end one LF, so
        // that the CSV reader counts lines as an editor shows them (it counts a CRLF file's
        // records from the LF after the CR that ended the one before: a line too few).
        reader: Box::new(NoCr(std::io::BufReader::with_capacity(1 << 16, file))),
        encoding: if bom { "UTF-8 (BOM)" } else { "UTF-8" },
        delimiter,
        sep_line,
        unbalanced: scan.quotes % 2 == 1,
        lines: scan.lines,
    })
}

struct Scan {
    head: Vec<u8>,
    quotes: usize,
    lines: usize,
}

/// What a file is when its first bytes say it is no text: a workbook saved under a .csv name.
fn not_text(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"PK\x03\x04") {
        Some("an Excel workbook (.xlsx), or another zip file")
    } else if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        Some("an old Excel workbook (.xls)")
    } else if head.starts_with(b"%PDF") {
        Some("a PDF document")
    } else {
        None
    }
}

/// Reads the file through once: `None` if it is not UTF-8, or holds a lone CR or a NUL byte
/// (UTF-16 without its byte order mark, read in memory).
fn scan(file: &mut std::fs::File) -> std::io::Result<Option<Scan>> {
    let mut r = std::io::BufReader::with_capacity(1 << 16, file);
    let mut s = Scan {
        head: Vec::new(),
        quotes: 0,
        lines: 0,
    };
    // The bytes of a character cut by the end of a buffer, carried to the next.
    let mut carry: Vec<u8> = Vec::new();
    let mut joined: Vec<u8> = Vec::new();
    let mut last_cr = false;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        if s.head.is_empty() && (buf.starts_with(b"\xFF\xFE") || buf.starts_with(b"\xFE\xFF")) {
            return Ok(None);
        }
        if s.head.len() < HEAD {
            let take = (HEAD - s.head.len()).min(buf.len());
            s.head.extend_from_slice(&buf[..take]);
        }
        if memchr::memchr(0, buf).is_some() {
            return Ok(None);
        }
        s.quotes += memchr::memchr_iter(b'"', buf).count();
        s.lines += memchr::memchr_iter(b'\n', buf).count();
        for i in memchr::memchr_iter(b'\r', buf) {
            match buf.get(i + 1) {
                Some(b'\n') => {}
                Some(_) => return Ok(None),
                // The next buffer says.
                None => {}
            }
        }
        if last_cr && buf[0] != b'\n' {
            return Ok(None);
        }
        last_cr = buf.last() == Some(&b'\r');
        joined.clear();
        joined.extend_from_slice(&carry);
        joined.extend_from_slice(buf);
        match std::str::from_utf8(&joined) {
            Ok(_) => carry.clear(),
            Err(e) if e.error_len().is_none() => carry = joined[e.valid_up_to()..].to_vec(),
            Err(_) => return Ok(None),
        }
        let n = buf.len();
        r.consume(n);
    }
    if !carry.is_empty() || last_cr {
        return Ok(None);
    }
    Ok(Some(s))
}

/// The whole file decoded in memory, its line ends made LF.
fn in_memory(path: &Path) -> Result<Source> {
    // Read whole (other encodings than UTF-8 are decoded at once): capped, so that a huge file
    // is refused rather than exhausting memory.
    let bytes = crate::limits::read_capped(path, MAX_IN_MEMORY).map_err(|e| {
        Error::NotAList(format!(
            "{}: {e}. Lists in encodings other than UTF-8 are read whole: save a list this large as CSV UTF-8, which is read as a stream",
            path.display()
        ))
    })?;
    let (text, encoding) = super::decode(bytes);
    if text.contains('\0') {
        return Err(Error::NotAList(format!(
            "{}: this file holds NUL bytes, so it is not text (a spreadsheet or other binary file saved under a .csv name?): save it as CSV from its program",
            path.display()
        )));
    }
    // One line end everywhere: the CSV reader then counts lines as an editor shows them.
    let text = super::lf_only(text);
    let mut end = text.len().min(HEAD);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let (delimiter, sep_line) = delimiter_of(&text[..end]);
    Ok(Source {
        encoding,
        delimiter,
        sep_line,
        unbalanced: memchr::memchr_iter(b'"', text.as_bytes()).count() % 2 == 1,
        lines: memchr::memchr_iter(b'\n', text.as_bytes()).count(),
        reader: Box::new(std::io::Cursor::new(text.into_bytes())),
    })
}

/// The delimiter a "sep=" first line names, or the one the header uses most.
fn delimiter_of(head: &str) -> (u8, bool) {
    let sep = head
        .lines()
        .next()
        .map(str::trim)
        .filter(|l| l.len() == 5 && l.to_ascii_lowercase().starts_with("sep="))
        .and_then(|l| l.as_bytes().get(4).copied());
    match sep {
        Some(d) => (d, true),
        None => (super::detect_delimiter(head), false),
    }
}

/// Where each line that holds something begins, in the stream the CSV reader reads: the CSV
/// reader skips empty lines and dates a record from where its reading began, which is the
/// first of those empty lines. A record's own line is the first line holding something at or
/// after that point. Entries are dropped as records are read, so it holds a buffer's worth.
#[derive(Clone, Default)]
pub(super) struct LineIndex(
    std::rc::Rc<std::cell::RefCell<std::collections::VecDeque<(u64, usize)>>>,
    std::rc::Rc<std::cell::Cell<u64>>,
);

/// No row is longer, quoted cells over several lines included: a quote opened and never
/// closed would otherwise make the rest of the file one row, held whole.
const MAX_ROW: u64 = 8 << 20;

impl LineIndex {
    /// Notes where the CSV reader began the row it just gave: the rows after it are measured
    /// from there.
    pub fn row_at(&self, at: u64) {
        self.1.set(at);
    }

    /// The line of the first line holding something at or after byte `at` of the stream.
    pub fn line_at(&self, at: u64) -> Option<usize> {
        let mut q = self.0.borrow_mut();
        while q.front().is_some_and(|(offset, _)| *offset < at) {
            q.pop_front();
        }
        q.front().map(|(_, line)| *line)
    }

    /// Wraps the stream the CSV reader will read, noting where lines begin.
    pub fn watch(&self, inner: Box<dyn Read>) -> Box<dyn Read> {
        Box::new(Indexing {
            inner,
            index: self.clone(),
            pos: 0,
            line: 1,
            at_start: true,
            run: 0,
        })
    }
}

struct Indexing {
    inner: Box<dyn Read>,
    index: LineIndex,
    pos: u64,
    line: usize,
    at_start: bool,
    /// Bytes since the last line end.
    run: usize,
}

/// No line of a contact list is longer: cells are capped far below (see `MAX_CELL`), and a
/// longer "line" (a file with no line ends) would be held whole by the CSV reader.
const MAX_LINE: usize = 1 << 20;

impl Read for Indexing {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.pos + n as u64 > self.index.1.get() + MAX_ROW {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "a row runs on past line {} for more than 8 MB: a quote (\") is opened and never closed; close it, or remove it",
                    self.line
                ),
            ));
        }
        let mut q = self.index.0.borrow_mut();
        for (i, b) in buf[..n].iter().enumerate() {
            if *b == b'\n' {
                self.line += 1;
                self.at_start = true;
                self.run = 0;
                continue;
            }
            if self.at_start {
                q.push_back((self.pos + i as u64, self.line));
                self.at_start = false;
            }
            self.run += 1;
            if self.run > MAX_LINE {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "line {} is longer than 1 MB, which no row of a contact list is: is this the right file?",
                        self.line
                    ),
                ));
            }
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// A UTF-8 list read with its CRs left out (the scan made sure each is part of a CRLF).
struct NoCr<R>(R);

impl<R: std::io::Read> std::io::Read for NoCr<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let n = self.0.read(buf)?;
            if n == 0 {
                return Ok(0);
            }
            let mut kept = 0;
            for i in 0..n {
                if buf[i] != b'\r' {
                    buf[kept] = buf[i];
                    kept += 1;
                }
            }
            // A read of nothing but CRs is not the end of the file: read on.
            if kept > 0 {
                return Ok(kept);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_bytes(bytes: &[u8]) -> (Source, String) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l.csv");
        std::fs::write(&p, bytes).unwrap();
        let mut s = open(&p).unwrap();
        let mut text = String::new();
        s.reader.read_to_string(&mut text).unwrap();
        (s, text)
    }

    #[test]
    fn utf8_is_streamed_as_it_is_whatever_the_buffer_cuts() {
        // "é" is two bytes: put one across the 64 KB buffer boundary.
        let mut text = "email;name\r\n".to_string();
        while text.len() < (1 << 16) - 1 {
            text.push('a');
        }
        text.push_str("é\r\n\"x\"@example.org;\"Zoë\"\r\n");
        let (s, read) = open_bytes(text.as_bytes());
        assert_eq!(s.encoding, "UTF-8");
        assert_eq!(s.delimiter, b';');
        assert_eq!(s.lines, 3);
        assert!(!s.unbalanced && !s.sep_line);
        assert!(
            read == text.replace("\r\n", "\n"),
            "streamed, each CRLF made LF so that lines count as an editor shows them"
        );
    }

    #[test]
    fn other_encodings_and_lone_crs_are_decoded_in_memory() {
        let (s, read) = open_bytes(b"sep=;\remail;nom\rx@example.org;Ren\xe9\r");
        assert_eq!(s.encoding, "Windows-1252");
        assert!(s.sep_line);
        assert_eq!(s.delimiter, b';');
        assert_eq!(read, "sep=;\nemail;nom\nx@example.org;René\n");
        let (s, read) = open_bytes(b"\xEF\xBB\xBFemail,name\rx@example.org,\"Ann\n");
        assert_eq!(s.encoding, "UTF-8 (BOM)");
        assert!(s.unbalanced);
        assert_eq!(read, "email,name\nx@example.org,\"Ann\n");
    }
}
