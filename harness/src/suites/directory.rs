//! `.wast` directories: one given on the command line, and our own
//! `suites/streaming/`, which is compiled in.

use super::manifest::SuiteManifest;
use super::wast::{cases_from_wast, WastSource};
use super::LoadedSuite;
use crate::error::Error;
use crate::features::Features;
use include_dir::{include_dir, Dir};
use std::path::{Path, PathBuf};
use std::sync::Arc;

static STREAMING: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../suites/streaming");

/// The prefix of case ids for a directory given as a path: the path as
/// written, without `./` or a trailing slash, so ids are repo-relative when
/// run from the repo root.
pub(super) fn id_prefix(path: &Path) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    let text = text.trim_start_matches("./").trim_end_matches('/');
    if text.is_empty() {
        ".".into()
    } else {
        text.to_string()
    }
}

struct WastFile {
    relative: String,
    display_path: String,
    text: String,
}

pub(super) fn load(root: &Path, only_file: Option<&str>) -> LoadedSuite {
    let prefix = id_prefix(root);
    let mut loaded = LoadedSuite::default();
    let manifest_path = root.join(SuiteManifest::FILE_NAME);
    let manifest = match std::fs::read_to_string(&manifest_path) {
        Ok(text) => match SuiteManifest::parse(&text, &manifest_path) {
            Ok(m) => m,
            Err(e) => {
                // Without its manifest we cannot know the suite's features.
                loaded.errors.push(e);
                return loaded;
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => SuiteManifest::default(),
        Err(source) => {
            loaded.errors.push(Error::Io {
                path: manifest_path,
                source,
            });
            return loaded;
        }
    };
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                let path = e
                    .path()
                    .map_or_else(|| root.to_path_buf(), Path::to_path_buf);
                let source = e
                    .into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("walk error"));
                loaded.errors.push(Error::Io { path, source });
                continue;
            }
        };
        let path = entry.path();
        if !entry.file_type().is_file() || path.extension().is_none_or(|e| e != "wast") {
            continue;
        }
        let relative = path
            .strip_prefix(root)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/");
        match std::fs::read_to_string(path) {
            Ok(text) => files.push(WastFile {
                relative,
                display_path: path.display().to_string(),
                text,
            }),
            Err(source) => loaded.errors.push(Error::Io {
                path: PathBuf::from(path),
                source,
            }),
        }
    }
    loaded.extend(parse_files(
        &prefix,
        &files,
        only_file,
        Arc::new(manifest.features()),
    ));
    loaded
}

pub(super) fn load_streaming(only_file: Option<&str>) -> LoadedSuite {
    let mut loaded = LoadedSuite::default();
    let features = match STREAMING.get_file(SuiteManifest::FILE_NAME) {
        Some(file) => {
            let path = Path::new("suites/streaming").join(SuiteManifest::FILE_NAME);
            match SuiteManifest::parse(file.contents_utf8().unwrap_or(""), &path) {
                Ok(m) => m.features(),
                Err(e) => {
                    loaded.errors.push(e);
                    return loaded;
                }
            }
        }
        None => Features::baseline(),
    };
    let mut files = Vec::new();
    collect_embedded(&STREAMING, &mut files, &mut loaded.errors);
    files.sort_by(|a, b| a.relative.cmp(&b.relative));
    loaded.extend(parse_files(
        "streaming",
        &files,
        only_file,
        Arc::new(features),
    ));
    loaded
}

fn collect_embedded(dir: &Dir<'static>, out: &mut Vec<WastFile>, errors: &mut Vec<Error>) {
    for file in dir.files() {
        if file.path().extension().is_some_and(|e| e == "wast") {
            let relative = file.path().to_string_lossy().replace('\\', "/");
            let display_path = format!("suites/streaming/{relative}");
            match file.contents_utf8() {
                Some(text) => out.push(WastFile {
                    relative,
                    display_path,
                    text: text.to_string(),
                }),
                None => errors.push(Error::MalformedWast {
                    file: display_path,
                    line: 1,
                    message: "not UTF-8".into(),
                }),
            }
        }
    }
    for sub in dir.dirs() {
        collect_embedded(sub, out, errors);
    }
}

fn parse_files(
    prefix: &str,
    files: &[WastFile],
    only_file: Option<&str>,
    features: Arc<Features>,
) -> LoadedSuite {
    let id = |file: &WastFile| format!("{prefix}/{}", file.relative);
    let files: Vec<&WastFile> = files
        .iter()
        .filter(|f| only_file.is_none_or(|only| id(f) == only))
        .collect();
    super::parse_in_parallel(&files, |file| {
        // The first directory level below the suite is its summary group.
        let group = match file.relative.split_once('/') {
            Some((dir, _)) => dir,
            None => prefix,
        };
        cases_from_wast(
            &file.text,
            &WastSource {
                file_id: &id(file),
                display_path: &file.display_path,
                suite: prefix,
                group,
                features: features.clone(),
            },
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_prefix_is_the_path_as_written() {
        assert_eq!(id_prefix(Path::new("./suites/mine/")), "suites/mine");
        assert_eq!(id_prefix(Path::new(".")), ".");
    }
}
