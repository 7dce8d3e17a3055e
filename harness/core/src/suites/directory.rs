//! The loader for directories of case files, used for `--suite DIR` and for
//! the built-in `streaming` and `webapi` suites (compiled in, read through
//! the same [`FileTree`] interface).
//!
//! Below the root, walked in sorted order:
//! - `*.wast` files are `.wast` cases (`wast.rs`), ids `DIR/sub/f.wast:LINE`;
//! - `*.toml` files are Web API case files (`webapi.rs`), ids
//!   `DIR/sub/f/CASE-NAME`, except `suite.toml`, `modules.toml` and the
//!   module table `suite.toml` points to;
//! - anything else (`.wasm`, `.wat`, notes) is not a case file, but a case
//!   can use it as its module.
//!
//! The optional `suite.toml` at the root (`manifest.rs`) sets the features
//! of every case, may restrict case files to one `kind`, and may give the
//! module table (`modules = "file.toml"` or an inline `[modules]`; else
//! `modules.toml` at the root, if any). Names not in the suite's table are
//! looked up in the built-in table of `suites/webapi/modules.toml`.
//!
//! A directory that yields no case at all is an input error naming it.

use super::manifest::{ModuleTable, SuiteKind, SuiteManifest};
use super::tree::{join, DiskTree, EmbeddedTree, FileTree, ReadBounds};
use super::wast::{cases_from_wast, WastSource};
use super::webapi::{self, CaseFileSource, Modules, MODULES_FILE};
use super::{CaseSource, Limits, LoadedSuite};
use crate::error::Error;
use std::path::Path;
use std::sync::Arc;

/// The prefix of case ids for a directory given as a path: the path as
/// written, without `./` or a trailing slash, so ids are repo-relative when
/// run from the repo root.
fn id_prefix(path: &Path) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    let text = text.trim_start_matches("./").trim_end_matches('/');
    if text.is_empty() {
        ".".into()
    } else {
        text.to_string()
    }
}

/// A directory of case files as a [`CaseSource`]: `name` starts every id.
pub struct DirectorySource {
    name: String,
    tree: Box<dyn FileTree + Send>,
}

impl DirectorySource {
    /// A directory on disk; ids start with the path as written.
    pub fn on_disk(root: &Path) -> DirectorySource {
        DirectorySource {
            name: id_prefix(root),
            tree: Box::new(DiskTree {
                root: root.to_path_buf(),
            }),
        }
    }

    /// The built-in `suites/<name>`, compiled in.
    pub fn builtin(name: &'static str) -> DirectorySource {
        DirectorySource {
            name: name.to_string(),
            tree: Box::new(EmbeddedTree::builtin(name)),
        }
    }
}

impl CaseSource for DirectorySource {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn load(&self, only_file: Option<&str>, limits: &Limits) -> LoadedSuite {
        let mut loaded = load_tree(&self.name, &*self.tree, only_file, limits);
        let root = self.tree.root();
        // A missing directory is already an error naming it.
        let unreadable = loaded
            .errors
            .iter()
            .any(|e| matches!(e, Error::Io { path, .. } if *path == root));
        if only_file.is_none()
            && loaded.cases.is_empty()
            && loaded.not_applicable.is_empty()
            && !unreadable
        {
            loaded.errors.push(Error::EmptySuite { dir: root });
        }
        loaded
    }
}

/// One case file to parse.
struct CaseFile {
    relative: String,
    kind: SuiteKind,
    text: String,
}

fn read_text(tree: &dyn FileTree, relative: &str, bounds: ReadBounds) -> Result<String, Error> {
    let bytes = tree.read(relative, bounds)?;
    String::from_utf8(bytes).map_err(|_| Error::InvalidToml {
        file: tree.display(relative),
        line: 1,
        message: "not UTF-8".into(),
    })
}

fn load_tree(
    prefix: &str,
    tree: &dyn FileTree,
    only_file: Option<&str>,
    limits: &Limits,
) -> LoadedSuite {
    let max_module_bytes = limits.max_module_bytes;
    let mut loaded = LoadedSuite::default();
    let (paths, walk_errors) = tree.files();
    loaded.errors.extend(walk_errors);
    let manifest_text = if paths.iter().any(|p| p == SuiteManifest::FILE_NAME) {
        match read_text(tree, SuiteManifest::FILE_NAME, ReadBounds::CASE_FILE) {
            Ok(text) => Some(text),
            Err(e) => {
                loaded.errors.push(e);
                return loaded;
            }
        }
    } else {
        None
    };
    let manifest = match &manifest_text {
        Some(text) => {
            match SuiteManifest::parse(text, &tree.display(SuiteManifest::FILE_NAME)) {
                Ok(m) => m,
                Err(e) => {
                    // Without its manifest we cannot know the suite's features.
                    loaded.errors.push(e);
                    return loaded;
                }
            }
        }
        None => SuiteManifest::default(),
    };
    let features = Arc::new(manifest.features());

    let mut table_file = None;
    let mut modules = Modules {
        suite: Default::default(),
        builtin: webapi::builtin_modules().clone(),
    };
    let mut table_errors = Vec::new();
    let instantiate = manifest.instantiate;
    match manifest.modules {
        Some(ModuleTable::Inline(entries)) => {
            let text = manifest_text.as_deref().unwrap_or_default();
            (modules.suite, table_errors) =
                webapi::module_table(entries, text, tree, SuiteManifest::FILE_NAME, limits);
        }
        Some(ModuleTable::File(path)) => {
            let relative = join(SuiteManifest::FILE_NAME, &path);
            // Named by the manifest: inside the suite, like module files.
            let bounds = ReadBounds {
                outside_root: limits.files_outside_suite,
                ..ReadBounds::CASE_FILE
            };
            match read_text(tree, &relative, bounds) {
                Ok(text) => {
                    (modules.suite, table_errors) =
                        webapi::parse_module_file(&text, tree, &relative, limits)
                }
                Err(e) => table_errors.push(e),
            }
            table_file = Some(relative);
        }
        None if paths.iter().any(|p| p == MODULES_FILE) => {
            match read_text(tree, MODULES_FILE, ReadBounds::CASE_FILE) {
                Ok(text) => {
                    (modules.suite, table_errors) =
                        webapi::parse_module_file(&text, tree, MODULES_FILE, limits)
                }
                Err(e) => table_errors.push(e),
            }
        }
        None => {}
    }

    let file_id = |relative: &str, kind: SuiteKind| match kind {
        SuiteKind::Wast => format!("{prefix}/{relative}"),
        SuiteKind::Webapi => format!(
            "{prefix}/{}",
            relative.strip_suffix(".toml").unwrap_or(relative)
        ),
    };
    let mut files = Vec::new();
    for relative in paths {
        let name = relative.rsplit('/').next().unwrap_or(&relative);
        let kind = match Path::new(name).extension().and_then(|e| e.to_str()) {
            Some("wast") => SuiteKind::Wast,
            Some("toml")
                if name != SuiteManifest::FILE_NAME
                    && name != MODULES_FILE
                    && table_file.as_deref() != Some(relative.as_str()) =>
            {
                SuiteKind::Webapi
            }
            _ => continue,
        };
        if manifest.kind.is_some_and(|k| k != kind)
            || only_file.is_some_and(|only| file_id(&relative, kind) != only)
        {
            continue;
        }
        match read_text(tree, &relative, ReadBounds::CASE_FILE) {
            Ok(text) => files.push(CaseFile {
                relative,
                kind,
                text,
            }),
            Err(e) => loaded.errors.push(e),
        }
    }
    // The table's errors matter only to a suite that has Web API cases.
    if files.iter().any(|f| f.kind == SuiteKind::Webapi) || only_file.is_none() {
        loaded.errors.extend(table_errors);
    }

    loaded.extend(super::parse_in_parallel(&files, |file| {
        let id = file_id(&file.relative, file.kind);
        match file.kind {
            SuiteKind::Wast => {
                // The first directory level below the suite is its summary group.
                let group = match file.relative.split_once('/') {
                    Some((dir, _)) => dir,
                    None => prefix,
                };
                cases_from_wast(
                    &file.text,
                    &WastSource {
                        file_id: &id,
                        display_path: &tree.display(&file.relative).display().to_string(),
                        suite: prefix,
                        group,
                        features: features.clone(),
                        max_module_bytes,
                        instantiate,
                    },
                )
                .into()
            }
            SuiteKind::Webapi => {
                // Each file is its own summary group (`stream-end`).
                let group = &id[prefix.len() + 1..];
                webapi::cases_from_toml(
                    &file.text,
                    &CaseFileSource {
                        tree,
                        relative: &file.relative,
                        file_id: &id,
                        suite: prefix,
                        group,
                        features: features.clone(),
                        modules: &modules,
                        limits,
                        instantiate,
                    },
                )
            }
        }
    }));
    loaded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_prefix_is_the_path_as_written() {
        assert_eq!(id_prefix(Path::new("./suites/mine/")), "suites/mine");
        assert_eq!(id_prefix(Path::new(".")), ".");
    }

    #[test]
    fn the_builtin_suites_load_without_errors() {
        for name in ["streaming", "webapi"] {
            let loaded = DirectorySource::builtin(name).load(None, &Limits::default());
            assert!(loaded.errors.is_empty(), "{name}: {:?}", loaded.errors);
            assert!(!loaded.cases.is_empty(), "{name}");
            assert!(loaded
                .cases
                .iter()
                .all(|c| c.id.starts_with(&format!("{name}/"))));
        }
    }

    #[test]
    fn a_missing_directory_is_one_error_naming_it() {
        let loaded =
            DirectorySource::on_disk(Path::new("no/such/suite")).load(None, &Limits::default());
        assert_eq!(loaded.errors.len(), 1, "{:?}", loaded.errors);
        assert!(loaded.errors[0].to_string().starts_with("no/such/suite: "));
    }
}
