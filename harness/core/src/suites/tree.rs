//! A tree of suite files, wherever it lives: a directory on disk
//! (`--suite DIR`) or the built-in suites compiled into the binary. The
//! directory loader reads both through this one interface, so a built-in
//! suite and a user's copy of it yield the same cases.

use crate::error::Error;
use include_dir::{include_dir, Dir};
use std::path::{Path, PathBuf};

/// Everything under the repository's `suites/`, compiled in so that engine
/// repos get the built-in suites too (`build.rs` rebuilds on any change).
static SUITES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/suites");

/// The longest case file (`.wast`, `.toml`, a module table or a module's
/// text) a suite may have: the largest built-in one is under 3 MB.
pub const MAX_CASE_FILE_BYTES: usize = 256 << 20;

/// What reading one file of a tree may cost, and where it may be.
#[derive(Clone, Copy, Debug)]
pub struct ReadBounds {
    /// A longer file is an error naming it and the limit; no more than
    /// one byte past it is read.
    pub max_bytes: usize,
    /// What sets `max_bytes`, for the error (`--max-module-bytes`).
    pub limit_name: &'static str,
    /// Whether the file may resolve outside the root (through `..`, an
    /// absolute path or a link): files walked below the root may (a linked
    /// case file is followed); files a case names may not, unless the user
    /// allows it (`--allow-files-outside-suite`).
    pub outside_root: bool,
}

impl ReadBounds {
    /// A case file found by walking the tree.
    pub const CASE_FILE: ReadBounds = ReadBounds {
        max_bytes: MAX_CASE_FILE_BYTES,
        limit_name: "the limit of a suite file",
        outside_root: true,
    };
}

/// Files addressed by `/`-separated paths relative to the tree's root.
pub trait FileTree: Sync {
    /// Every file below the root, sorted by path, and the entries that
    /// could not be walked (including entries that are not regular files:
    /// a FIFO or a device).
    fn files(&self) -> (Vec<String>, Vec<Error>);
    /// The bytes of a regular file within `bounds`; `relative` may contain
    /// `..` (see [`join`]).
    fn read(&self, relative: &str, bounds: ReadBounds) -> Result<Vec<u8>, Error>;
    /// The path errors name for a file of the tree.
    fn display(&self, relative: &str) -> PathBuf;
    /// The root, as errors name it.
    fn root(&self) -> PathBuf {
        self.display("")
    }
}

/// A directory on disk.
pub struct DiskTree {
    pub root: PathBuf,
}

impl FileTree for DiskTree {
    fn files(&self) -> (Vec<String>, Vec<Error>) {
        let (mut files, mut errors) = (Vec::new(), Vec::new());
        if let Err(source) = std::fs::metadata(&self.root) {
            errors.push(Error::Io {
                path: self.root.clone(),
                source,
            });
            return (files, errors);
        }
        // Symlinked files and directories are followed; walkdir reports a
        // link that loops back to an ancestor as an error of that path.
        for entry in walkdir::WalkDir::new(&self.root)
            .follow_links(true)
            .sort_by_file_name()
        {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    let path = e
                        .path()
                        .map_or_else(|| self.root.clone(), Path::to_path_buf);
                    let message = e.to_string();
                    let source = e
                        .into_io_error()
                        .unwrap_or_else(|| std::io::Error::other(message));
                    errors.push(Error::Io { path, source });
                    continue;
                }
            };
            let path = entry.path();
            if entry.file_type().is_file() {
                let relative = path.strip_prefix(&self.root).unwrap_or(path);
                files.push(relative.to_string_lossy().replace('\\', "/"));
            } else if !entry.file_type().is_dir() {
                // A FIFO would block its reader, a device never end.
                errors.push(not_a_regular_file(path, entry.file_type()));
            }
        }
        files.sort();
        (files, errors)
    }

    fn read(&self, relative: &str, bounds: ReadBounds) -> Result<Vec<u8>, Error> {
        let path = self.display(relative);
        if !bounds.outside_root {
            self.check_inside(&path)?;
        }
        read_regular_file(&path, bounds)
    }

    fn display(&self, relative: &str) -> PathBuf {
        if relative.is_empty() {
            self.root.clone()
        } else {
            self.root.join(relative)
        }
    }
}

impl DiskTree {
    /// Refuses a path that resolves (links and `..` followed) outside the
    /// root: a case naming `../../../../etc/passwd` as its module.
    fn check_inside(&self, path: &Path) -> Result<(), Error> {
        let canonical = |p: &Path| {
            std::fs::canonicalize(p).map_err(|source| Error::Io {
                path: p.to_path_buf(),
                source,
            })
        };
        if canonical(path)?.starts_with(canonical(&self.root)?) {
            return Ok(());
        }
        Err(Error::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(format!(
                "outside the suite directory {}; --allow-files-outside-suite reads it anyway",
                self.root.display()
            )),
        })
    }
}

fn not_a_regular_file(path: &Path, file_type: std::fs::FileType) -> Error {
    use std::os::unix::fs::FileTypeExt;
    let what = if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_char_device() || file_type.is_block_device() {
        "a device"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_dir() {
        "a directory"
    } else {
        "not a file"
    };
    Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(format!("{what}, not a regular file: it is not read")),
    }
}

/// Reads `path` if it is a regular file, and at most one byte past
/// `bounds.max_bytes`. Opened without blocking and checked once open, so
/// a FIFO put in its place cannot stall the read.
pub fn read_regular_file(path: &Path, bounds: ReadBounds) -> Result<Vec<u8>, Error> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(io)?;
    let file_type = file.metadata().map_err(io)?.file_type();
    if !file_type.is_file() {
        return Err(not_a_regular_file(path, file_type));
    }
    let mut bytes = Vec::new();
    file.take((bounds.max_bytes as u64).saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() > bounds.max_bytes {
        return Err(io(std::io::Error::other(format!(
            "longer than {} bytes ({}); it is not read",
            bounds.max_bytes, bounds.limit_name
        ))));
    }
    Ok(bytes)
}

/// A directory of the built-in `suites/`, e.g. `webapi`.
pub struct EmbeddedTree {
    name: &'static str,
    dir: &'static Dir<'static>,
}

impl EmbeddedTree {
    /// `suites/<name>` as compiled in.
    pub fn builtin(name: &'static str) -> EmbeddedTree {
        static EMPTY: Dir<'static> = Dir::new("", &[]);
        EmbeddedTree {
            name,
            dir: SUITES.get_dir(name).unwrap_or(&EMPTY),
        }
    }

    fn collect(dir: &'static Dir<'static>, out: &mut Vec<String>) {
        for file in dir.files() {
            out.push(file.path().to_string_lossy().replace('\\', "/"));
        }
        for sub in dir.dirs() {
            Self::collect(sub, out);
        }
    }
}

impl FileTree for EmbeddedTree {
    fn files(&self) -> (Vec<String>, Vec<Error>) {
        let mut paths = Vec::new();
        Self::collect(self.dir, &mut paths);
        // Paths inside `include_dir` start at `suites/`; ours at the suite.
        let prefix = format!("{}/", self.name);
        let mut files: Vec<String> = paths
            .into_iter()
            .map(|p| p.strip_prefix(&prefix).map_or(p.clone(), str::to_string))
            .collect();
        files.sort();
        (files, Vec::new())
    }

    fn read(&self, relative: &str, _: ReadBounds) -> Result<Vec<u8>, Error> {
        // Compiled in: bounded and inside by construction.
        SUITES
            .get_file(format!("{}/{relative}", self.name))
            .filter(|_| !relative.starts_with("../"))
            .map(|f| f.contents().to_vec())
            .ok_or_else(|| Error::Io {
                path: self.display(relative),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            })
    }

    fn display(&self, relative: &str) -> PathBuf {
        let root = Path::new("suites").join(self.name);
        if relative.is_empty() {
            root
        } else {
            root.join(relative)
        }
    }
}

/// `path` relative to the directory of the tree file `file`, normalized
/// lexically (`a/b.toml` + `../m.wasm` → `m.wasm`). Leading `..` that
/// leave the tree are kept; an absolute `path` is returned as it is.
pub fn join(file: &str, path: &str) -> String {
    if path.starts_with('/') {
        return path.to_string();
    }
    let mut parts: Vec<&str> = file.split('/').collect();
    parts.pop();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_is_relative_to_the_file() {
        assert_eq!(join("a.toml", "m.wasm"), "m.wasm");
        assert_eq!(join("sub/a.toml", "./m.wasm"), "sub/m.wasm");
        assert_eq!(join("sub/a.toml", "../m.wasm"), "m.wasm");
        assert_eq!(join("a.toml", "../m.wasm"), "../m.wasm");
        assert_eq!(join("a.toml", "/abs/m.wasm"), "/abs/m.wasm");
    }

    #[test]
    fn the_builtin_trees_list_their_files_relative_to_the_suite() {
        let (files, errors) = EmbeddedTree::builtin("webapi").files();
        assert!(errors.is_empty());
        assert!(files.contains(&"modules.toml".to_string()), "{files:?}");
        assert!(files.contains(&"stream-end.toml".to_string()), "{files:?}");
        let tree = EmbeddedTree::builtin("streaming");
        assert!(tree.read("suite.toml", ReadBounds::CASE_FILE).is_ok());
        assert!(tree
            .read("../webapi/modules.toml", ReadBounds::CASE_FILE)
            .is_err());
    }
}
