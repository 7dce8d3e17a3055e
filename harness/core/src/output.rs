//! Writing the files a user asked for (the JSON report, JUnit, wptreport,
//! Markdown, the site, history, fuzz findings, reproducers): each is
//! written under a fresh name in its own directory (`.NAME.XXXXXX.partial`,
//! created exclusively) and renamed over its path when complete. A symlink (or anything else) already at the path is
//! replaced, never followed, so a link planted there cannot make the
//! harness overwrite its target; and no reader sees a half-written file.

use crate::error::Error;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use tempfile::NamedTempFile;

/// An output file being written: bytes go to a temporary file beside
/// `path`; [`OutputFile::commit`] renames it over `path`. Dropped without
/// a commit, the temporary file is removed and `path` is untouched.
#[derive(Debug)]
pub struct OutputFile {
    file: BufWriter<NamedTempFile>,
    path: PathBuf,
}

impl OutputFile {
    /// Starts writing `path`. Fails now, not at the end, if its directory
    /// cannot take a file.
    pub fn create(path: &Path) -> Result<OutputFile, Error> {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        // `.NAME.XXXXXX.partial`: hidden, and named for what it becomes.
        let prefix = format!(
            ".{}.",
            path.file_name().unwrap_or_default().to_string_lossy()
        );
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".partial");
        // Readable as a file the user made (the umask applies), not only
        // by its owner as temporary files are.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let file = builder.tempfile_in(dir).map_err(io_error(path))?;
        Ok(OutputFile {
            file: BufWriter::new(file),
            path: path.to_path_buf(),
        })
    }

    /// The path it will have.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes, syncs and renames the file over its path.
    pub fn commit(self) -> Result<(), Error> {
        let path = self.path;
        let file = self
            .file
            .into_inner()
            .map_err(|e| e.into_error())
            .map_err(io_error(&path))?;
        file.as_file().sync_all().map_err(io_error(&path))?;
        file.persist(&path).map_err(|e| io_error(&path)(e.error))?;
        Ok(())
    }
}

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Writes `bytes` to `path` as an [`OutputFile`].
pub fn write(path: &Path, bytes: impl AsRef<[u8]>) -> Result<(), Error> {
    let mut file = OutputFile::create(path)?;
    file.write_all(bytes.as_ref()).map_err(io_error(path))?;
    file.commit()
}

/// A backend's name as part of a file name, one to one: ASCII letters,
/// digits, `-` and `.` are kept and every other byte is `_` and its two
/// hex digits (`command:/opt/x` is `command_3a_2fopt_2fx`), so two
/// backends never share a file.
pub fn file_name_part(name: &str) -> String {
    let mut part = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'.' {
            part.push(char::from(b));
        } else {
            part.push_str(&format!("_{b:02x}"));
        }
    }
    part
}

fn io_error(path: &Path) -> impl Fn(io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_name_parts_are_one_to_one_and_safe() {
        let names = ["a:b", "a_b", "a/b", "a b", "a_3ab", "a.b", "a-b", ".."];
        let parts: Vec<String> = names.iter().map(|n| file_name_part(n)).collect();
        for (i, a) in parts.iter().enumerate() {
            assert!(
                a.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)),
                "{a}"
            );
            for b in &parts[i + 1..] {
                assert_ne!(a, b, "{names:?}");
            }
        }
        assert_eq!(file_name_part("node"), "node");
        assert_eq!(file_name_part("command:/opt/x"), "command_3a_2fopt_2fx");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_at_the_path_is_replaced_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let path = dir.path().join("report.json");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        write(&path, "{}").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert!(!path.symlink_metadata().unwrap().is_symlink());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{}");
        // Nothing else is left in the directory.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
