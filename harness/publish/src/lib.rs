//! Reports for people and CI systems, made from a run's JSON report
//! ([`Report`], `reports/SCHEMA.md`): JUnit XML, wptreport JSON, a Markdown
//! summary and a static HTML site with history. `run --junit F ...` and
//! `report FILE.json --junit F ...` both come here, so a saved report gives
//! exactly what the run would have written.
//!
//! - `junit.rs`, `wptreport.rs`, `markdown.rs`: one file each;
//! - `history/`: the nights kept in a directory, their index of each case's
//!   result per night, and what changed (regressions, fixes);
//! - `interop.rs`: what every engine passes, per pair, and where engines
//!   disagree;
//! - `site.rs`: the self-contained HTML site;
//! - `merge.rs`: shard reports joined into one.

mod describe;
pub mod history;
pub mod interop;
pub mod junit;
pub mod markdown;
pub mod merge;
#[cfg(test)]
mod sample;
pub mod site;
pub mod wptreport;

use std::path::{Path, PathBuf};
use streamconform::reporter::json::Report;

/// Errors of reading reports and writing what is made from them; each
/// names its file.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a streamconform report: {message}")]
    NotAReport { path: PathBuf, message: String },
    #[error("{0}")]
    Refused(String),
}

/// The core's errors of writing an output file (`streamconform::output`).
impl From<streamconform::Error> for PublishError {
    fn from(error: streamconform::Error) -> PublishError {
        match error {
            streamconform::Error::Io { path, source } => PublishError::Io { path, source },
            other => PublishError::Refused(other.to_string()),
        }
    }
}

impl PublishError {
    pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PublishError + '_ {
        move |source| PublishError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// What to make from a report. Every field is optional; none given is
/// an error of the caller (nothing to do).
#[derive(Clone, Debug, Default)]
pub struct Outputs {
    pub junit: Option<PathBuf>,
    pub wptreport: Option<PathBuf>,
    pub markdown: Option<PathBuf>,
    /// A directory: the site's `index.html` and its pages.
    pub html: Option<PathBuf>,
    /// A directory of nights' reports: the report is added to it, and the
    /// site and the Markdown show the history and the changes since the
    /// night before.
    pub history: Option<PathBuf>,
    /// Nights over which the site lists regressions and fixes, besides
    /// those since the night before; `None`: [`site::DEFAULT_HISTORY_WINDOW`].
    pub history_window: Option<usize>,
}

impl From<&streamconform::session::PublishSpec> for Outputs {
    fn from(spec: &streamconform::session::PublishSpec) -> Outputs {
        Outputs {
            junit: spec.junit.clone(),
            wptreport: spec.wptreport.clone(),
            markdown: spec.markdown.clone(),
            html: spec.html.clone(),
            history: spec.history.clone(),
            history_window: spec.history_window,
        }
    }
}

/// What making the outputs found.
#[derive(Clone, Debug, Default)]
pub struct Published {
    /// Changes since the previous night, when a history was given and it
    /// had one.
    pub changes: Option<history::Changes>,
    /// Files and directories written, for the user.
    pub written: Vec<PathBuf>,
    /// With a history: how many nights it keeps, which were read from
    /// their reports (the rest came from its index), and why its index was
    /// rebuilt, if it was.
    pub history: Option<(usize, Vec<String>, Option<String>)>,
}

/// Reads an input file of ours (a report, a history night): a regular file
/// only (a FIFO would block, a device never end), read no further than one
/// byte past `max_bytes` (`limit_name` says what sets it, for the error).
pub(crate) fn read_input(
    path: &Path,
    max_bytes: usize,
    limit_name: &'static str,
) -> Result<Vec<u8>, PublishError> {
    use streamconform::suites::tree::{read_regular_file, ReadBounds};
    let bounds = ReadBounds {
        max_bytes,
        limit_name,
        outside_root: true,
    };
    read_regular_file(path, bounds).map_err(|e| match e {
        streamconform::Error::Io { path, source } => PublishError::Io { path, source },
        other => PublishError::NotAReport {
            path: path.to_path_buf(),
            message: other.to_string(),
        },
    })
}

/// Reads a JSON report, checking its schema and version.
pub fn load(path: &Path) -> Result<Report, PublishError> {
    // A nightly's report is hundreds of MB, so no size limit.
    let text = read_input(path, usize::MAX, "")?;
    let report: Report = serde_json::from_slice(&text).map_err(|e| PublishError::NotAReport {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    if report.schema != streamconform::reporter::json::SCHEMA
        || !streamconform::reporter::json::READABLE_SCHEMA_VERSIONS.contains(&report.schema_version)
    {
        return Err(PublishError::NotAReport {
            path: path.to_path_buf(),
            message: format!(
                "schema {} version {}, this streamconform reads {} version {}",
                report.schema,
                report.schema_version,
                streamconform::reporter::json::SCHEMA,
                streamconform::reporter::json::SCHEMA_VERSION
            ),
        });
    }
    check_numbers(path, &report)?;
    Ok(report)
}

/// The longest run a report may claim: a year. A report is a file anyone
/// can edit, and every output turns its time into clocks and dates.
pub const MAX_ELAPSED_SECS: f64 = 365.0 * 24.0 * 60.0 * 60.0;

/// Refuses a report whose numbers no run gives (a negative or enormous
/// elapsed time), naming the file and the field.
pub fn check_numbers(path: &Path, report: &Report) -> Result<(), PublishError> {
    check_elapsed(path, report.finished.elapsed_secs)
}

/// See [`check_numbers`].
pub(crate) fn check_elapsed(path: &Path, elapsed: f64) -> Result<(), PublishError> {
    if !(0.0..=MAX_ELAPSED_SECS).contains(&elapsed) {
        return Err(PublishError::NotAReport {
            path: path.to_path_buf(),
            message: format!(
                "finished.elapsed_secs is {elapsed}: expected seconds from 0 to {MAX_ELAPSED_SECS}"
            ),
        });
    }
    Ok(())
}

/// Makes every output asked for from `report`.
pub fn publish(report: &Report, outputs: &Outputs) -> Result<Published, PublishError> {
    let mut published = Published::default();
    let history = match &outputs.history {
        Some(dir) => Some(history::History::add(dir, report)?),
        None => None,
    };
    published.changes = history.as_ref().and_then(history::History::changes);
    published.history = history.as_ref().map(|h| {
        (
            h.nights.len(),
            h.nights_read.clone(),
            h.index_rebuilt.clone(),
        )
    });
    if let Some(path) = &outputs.junit {
        junit::write(report, path)?;
        published.written.push(path.clone());
    }
    if let Some(path) = &outputs.wptreport {
        // One file per backend: see wptreport.rs.
        published.written.extend(wptreport::write(report, path)?);
    }
    if let Some(path) = &outputs.markdown {
        markdown::write(report, published.changes.as_ref(), path)?;
        published.written.push(path.clone());
    }
    if let Some(dir) = &outputs.html {
        let window = outputs
            .history_window
            .unwrap_or(site::DEFAULT_HISTORY_WINDOW);
        site::write_with_window(report, history.as_ref(), window, dir)?;
        published.written.push(dir.join("index.html"));
    }
    Ok(published)
}
