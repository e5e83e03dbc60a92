//! Files that cannot be large: a path and a cap in, the file's bytes out, or a refusal. A key,
//! a template, a config or a certificate is a few kilobytes; one that is a device (`/dev/zero`
//! through a symbolic link), a pipe or gigabytes long would otherwise be read until memory runs
//! out. The cap is generous; the message says what was found and what to do.

use std::io::Read;
use std::path::Path;

/// Templates, updates, campaign files, translations and the config.
pub const TEXT_FILE: u64 = 16 * 1024 * 1024;
/// DKIM keys.
pub const KEY_FILE: u64 = 64 * 1024;

/// Reads a regular file of at most `max` bytes.
pub fn read_capped(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a device, pipe or folder, perhaps through a symbolic link): give a file",
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len().min(max) as usize);
    std::fs::File::open(path)?
        .take(max + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "larger than {}, more than such a file can hold: is it the right file?",
                size(max)
            ),
        ));
    }
    Ok(bytes)
}

/// As [`read_capped`], as UTF-8 text.
pub fn read_text_capped(path: &Path, max: u64) -> std::io::Result<String> {
    String::from_utf8(read_capped(path, max)?)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

fn size(bytes: u64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{} MB", bytes / (1024 * 1024))
    } else {
        format!("{} KB", bytes / 1024)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_and_oversized_files_are_refused() {
        let e = read_capped(Path::new("/dev/zero"), KEY_FILE).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("big");
        std::fs::write(&f, vec![b'a'; 2048]).unwrap();
        assert!(read_capped(&f, 1024)
            .unwrap_err()
            .to_string()
            .contains("larger than 1 KB"));
        assert_eq!(read_capped(&f, 4096).unwrap().len(), 2048);
    }
}
