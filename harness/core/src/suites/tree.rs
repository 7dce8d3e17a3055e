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

/// Files addressed by `/`-separated paths relative to the tree's root.
pub trait FileTree: Sync {
    /// Every file below the root, sorted by path, and the entries that
    /// could not be walked.
    fn files(&self) -> (Vec<String>, Vec<Error>);
    /// The bytes of a file; `relative` may contain `..` (see [`join`]).
    fn read(&self, relative: &str) -> Result<Vec<u8>, Error>;
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
            if entry.file_type().is_file() {
                let path = entry.path();
                let relative = path.strip_prefix(&self.root).unwrap_or(path);
                files.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
        files.sort();
        (files, errors)
    }

    fn read(&self, relative: &str) -> Result<Vec<u8>, Error> {
        let path = self.display(relative);
        std::fs::read(&path).map_err(|source| Error::Io { path, source })
    }

    fn display(&self, relative: &str) -> PathBuf {
        if relative.is_empty() {
            self.root.clone()
        } else {
            self.root.join(relative)
        }
    }
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

    fn read(&self, relative: &str) -> Result<Vec<u8>, Error> {
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
        assert!(tree.read("suite.toml").is_ok());
        assert!(tree.read("../webapi/modules.toml").is_err());
    }
}
