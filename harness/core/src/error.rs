//! Every error the library reports, in one place.
//!
//! Input errors carry the file and (where there is one) the 1-based line, so
//! that a user can go straight to the offending text.

use std::path::{Path, PathBuf};

/// A problem with something the user gave us: a test file, a plan, an
/// expectations file, a command-line value.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A `.wast` file that does not lex or parse.
    #[error("{file}:{line}: malformed .wast: {message}")]
    MalformedWast {
        file: String,
        line: usize,
        message: String,
    },

    /// A module longer than `--max-module-bytes`: it costs its case.
    #[error("{file}:{line}: the module is {len} bytes, over the limit of {limit} (--max-module-bytes); its case is not run")]
    ModuleTooLarge {
        file: String,
        line: usize,
        len: usize,
        limit: usize,
    },

    /// A plan or plan-set name we do not know.
    #[error("unknown plan {name:?}; expected {expected}")]
    UnknownPlan { name: String, expected: String },

    /// A cut list that does not parse or does not fit the body.
    #[error("invalid cut list {text:?}: {message} (expected comma-separated offsets such as `0,8,8,12` or ranges such as `1..100`)")]
    InvalidCuts { text: String, message: String },

    /// An instantiation case whose directive and the reference model
    /// disagree: the harness's environment or model is wrong for it, so it
    /// judges no engine (it costs that case).
    #[error("{file}:{line}: harness error: {message}")]
    InstantiationDisagrees {
        file: String,
        line: usize,
        message: String,
    },

    /// A TOML file (expectations, suite manifest) that does not parse or
    /// breaks a rule.
    #[error("{file}:{line}: {message}")]
    InvalidToml {
        file: PathBuf,
        line: usize,
        message: String,
    },

    /// A run journal (`run --resume`) that does not parse or belongs to
    /// another version of the tool.
    #[error("{file}:{line}: {message}")]
    InvalidJournal {
        file: PathBuf,
        line: usize,
        message: String,
    },

    /// A suite name that is neither built in nor an existing directory.
    #[error("unknown suite {name:?}: expected `spec`, `streaming`, `webapi`, `fuzz:SEED` or a directory of .wast and Web API .toml case files")]
    UnknownSuite { name: String },

    /// A `fuzz:` suite argument that does not parse.
    #[error("invalid fuzz suite {argument:?}: {message} (expected `fuzz:SEED`, `fuzz:SEED:COUNT`, optionally followed by `:without=PROPOSAL+PROPOSAL`)")]
    InvalidFuzzSuite { argument: String, message: String },

    /// A suite directory in which no file yielded a case.
    #[error("{}: no case found in this suite directory (expected .wast files or Web API .toml files with [[case]] tables)", dir.display())]
    EmptySuite { dir: PathBuf },

    /// A backend name we cannot construct.
    #[error("unknown backend {name:?}; available: {available}")]
    UnknownBackend { name: String, available: String },

    /// `ENGINE@VERSION` with something else than a release spec.
    #[error("invalid backend name {name:?}: {message}")]
    InvalidBackendName { name: String, message: String },

    /// A backend name we know whose engine cannot be had (a release that
    /// cannot be installed, a driver that cannot be written).
    #[error("backend {name:?} cannot start: {reason}")]
    BackendUnavailable { name: String, reason: String },

    /// `--bless` where expectations must not be rewritten.
    #[error("refusing to bless expectations: {0}")]
    BlessRefused(String),

    /// A failure that minimization cannot work on (it does not reproduce,
    /// or the case's body is not streamed in chunks).
    #[error("cannot minimize {case}: {message}")]
    CannotMinimize { case: String, message: String },

    /// A case a standalone reproducer cannot be written for.
    #[error("cannot export a reproducer of {case}: {message}")]
    CannotExport { case: String, message: String },

    /// A run that cannot start as described (checked before anything
    /// runs), or a journal that does not fit the run it records.
    #[error("{0}")]
    InvalidRun(String),

    /// An output failed mid-run (a full disk, say); the message names the
    /// file.
    #[error("{0}")]
    Output(std::io::Error),

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::InvalidToml`] at byte `offset` of `text`.
    pub fn toml_at(file: &Path, text: &str, offset: usize, message: impl Into<String>) -> Error {
        Error::InvalidToml {
            file: file.to_path_buf(),
            line: line_of_offset(text, offset),
            message: message.into(),
        }
    }

    /// A TOML file that does not deserialize, saying what was expected.
    pub fn toml_parse(file: &Path, text: &str, e: &toml::de::Error, expected: &str) -> Error {
        let offset = e.span().map_or(0, |s| s.start);
        Error::toml_at(
            file,
            text,
            offset,
            format!("{} (expected {expected})", e.message().trim()),
        )
    }
}

/// 1-based line number of a byte offset in `text`.
pub fn line_of_offset(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_of_offset_counts_from_one() {
        let text = "a\nbb\nccc";
        assert_eq!(line_of_offset(text, 0), 1);
        assert_eq!(line_of_offset(text, 2), 2);
        assert_eq!(line_of_offset(text, 5), 3);
        assert_eq!(line_of_offset(text, 999), 3);
    }
}
