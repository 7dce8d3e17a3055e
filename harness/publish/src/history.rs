//! Nights' reports kept in a directory, by date and commit, and what
//! changed between the last two.
//!
//! A night is the file `<YYYY-MM-DD>-<revision>.json.gz` (the date of
//! `run.started_at`, the revision's first 12 characters or `norev`); an
//! uncompressed `.json` is read too. Adding a report whose night is already
//! there replaces it: re-running a night does not make a second one. Every
//! `.json` or `.json.gz` file in the directory must be such a night; other
//! files (a README) are left alone.

use super::PublishError;
use serde::Deserialize;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use streamconform::output::OutputFile;
use streamconform::reporter::json::{Report, READABLE_SCHEMA_VERSIONS, SCHEMA, SCHEMA_VERSION};
use streamconform::reporter::summary::SummaryRow;
use streamconform::runner::RunInfo;
use streamconform::verdict::Status;

/// The nights of a history directory, oldest first.
#[derive(Clone, Debug)]
pub struct History {
    pub dir: PathBuf,
    pub nights: Vec<Night>,
    /// What changed between the last two nights, read when the history was.
    changes: Option<Changes>,
    /// Cases of the latest night that the one before did not have, and the
    /// other way round (per backend and id); neither counts as a change.
    pub new_cases: usize,
    pub gone_cases: usize,
}

/// One night: its report file and its pass rates.
#[derive(Clone, Debug)]
pub struct Night {
    pub path: PathBuf,
    /// The file name without `.json` / `.json.gz`: `2026-11-24-df6d4ad074bb`.
    pub name: String,
    /// `run.started_at` of its report.
    pub started_at: String,
    pub revision: Option<String>,
    /// Per backend, in the report's backend order.
    pub pass_rates: Vec<PassRate>,
}

/// How many of a backend's judged cases passed in one night.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PassRate {
    pub backend: String,
    /// Cases whose verdict was a pass (passed or unexpected pass).
    pub passed: usize,
    /// Cases judged: every case but the not-applicable ones.
    pub judged: usize,
}

impl PassRate {
    /// Per backend, from a report's summary rows, in `backends` order.
    pub fn from_summary(backends: &[String], rows: &[SummaryRow]) -> Vec<PassRate> {
        backends
            .iter()
            .map(|backend| {
                let mine = rows.iter().filter(|r| &r.backend == backend);
                // Saturating: a night's file may claim any counts.
                let (passed, judged) = mine.fold((0usize, 0usize), |(p, j), r| {
                    (
                        p.saturating_add(r.passed)
                            .saturating_add(r.unexpected_passes),
                        j.saturating_add(r.cases),
                    )
                });
                PassRate {
                    backend: backend.clone(),
                    passed,
                    judged,
                }
            })
            .collect()
    }

    /// The share passed, 0 to 1; `None` when nothing was judged.
    pub fn rate(&self) -> Option<f64> {
        (self.judged > 0).then(|| (self.passed as f64 / self.judged as f64).min(1.0))
    }
}

/// Cases whose status changed from one night to the next, per backend.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub previous: String,
    pub latest: String,
    /// Passed (or an expected failure) then, failing now.
    pub regressed: Vec<Change>,
    /// Failing then, passing now.
    pub fixed: Vec<Change>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub backend: String,
    pub id: String,
    pub before: streamconform::verdict::Status,
    pub after: streamconform::verdict::Status,
}

/// The file name (without extension) a report is kept under.
pub fn night_name(report: &Report) -> Result<String, String> {
    name_of_night(&report.run.started_at, report.run.revision.as_deref())
}

fn name_of_night(started: &str, revision: Option<&str>) -> Result<String, String> {
    let date = started
        .get(..10)
        .filter(|d| {
            d.bytes().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            })
        })
        .ok_or_else(|| {
            format!("run.started_at {started:?} does not begin with a YYYY-MM-DD date")
        })?;
    let revision = match revision {
        // Only characters safe in a file name; a revision is normally hex.
        Some(rev) if !rev.is_empty() => rev
            .chars()
            .take(12)
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect(),
        _ => "norev".to_string(),
    };
    Ok(format!("{date}-{revision}"))
}

/// What a night's listing needs, read without keeping its results.
#[derive(Deserialize)]
struct NightHeader {
    schema: String,
    schema_version: u32,
    run: RunInfo,
    summary: Vec<SummaryRow>,
}

/// `name.json` -> (`name`, false); `name.json.gz` -> (`name`, true).
fn night_file(file_name: &str) -> Option<(&str, bool)> {
    if let Some(stem) = file_name.strip_suffix(".json.gz") {
        Some((stem, true))
    } else {
        file_name.strip_suffix(".json").map(|stem| (stem, false))
    }
}

/// The most a night's report may inflate to. A nightly's report is a few
/// hundred MB; a `.json.gz` that inflates past this (a decompression
/// bomb, or not a night at all) is refused before it takes the memory.
const MAX_NIGHT_BYTES: u64 = 1 << 30;

fn read_bytes(path: &Path, gzipped: bool) -> Result<Vec<u8>, PublishError> {
    read_bytes_within(path, gzipped, MAX_NIGHT_BYTES)
}

/// A night's bytes: a regular file (a FIFO put in the history directory
/// would block, a device never end), inflated if `gzipped`, at most
/// `limit` bytes either way.
fn read_bytes_within(path: &Path, gzipped: bool, limit: u64) -> Result<Vec<u8>, PublishError> {
    let mut bytes = crate::read_input(
        path,
        usize::try_from(limit).unwrap_or(usize::MAX),
        "the largest night a history reads",
    )?;
    if gzipped {
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .take(limit.saturating_add(1))
            .read_to_end(&mut plain)
            .map_err(PublishError::io(path))?;
        if plain.len() as u64 > limit {
            return Err(not_a_night(
                path,
                format!("inflates past {limit} bytes, the largest night a history reads"),
            ));
        }
        bytes = plain;
    }
    Ok(bytes)
}

fn not_a_night(path: &Path, message: impl Into<String>) -> PublishError {
    PublishError::NotAReport {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn read_night(path: &Path, name: &str, gzipped: bool) -> Result<Night, PublishError> {
    let bytes = read_bytes(path, gzipped)?;
    let header: NightHeader =
        serde_json::from_slice(&bytes).map_err(|e| not_a_night(path, e.to_string()))?;
    if header.schema != SCHEMA || !READABLE_SCHEMA_VERSIONS.contains(&header.schema_version) {
        return Err(not_a_night(
            path,
            format!(
                "schema {} version {}, this streamconform reads {SCHEMA} version {SCHEMA_VERSION}",
                header.schema, header.schema_version
            ),
        ));
    }
    let backends: Vec<String> = header.run.backends.iter().map(|b| b.name.clone()).collect();
    Ok(Night {
        path: path.to_path_buf(),
        name: name.to_string(),
        pass_rates: PassRate::from_summary(&backends, &header.summary),
        started_at: header.run.started_at,
        revision: header.run.revision,
    })
}

fn read_report(night: &Night) -> Result<Report, PublishError> {
    let gzipped = night.path.to_string_lossy().ends_with(".gz");
    let bytes = read_bytes(&night.path, gzipped)?;
    let report: Report =
        serde_json::from_slice(&bytes).map_err(|e| not_a_night(&night.path, e.to_string()))?;
    crate::check_numbers(&night.path, &report)?;
    Ok(report)
}

impl History {
    /// Adds `report` to the history in `dir` (created if missing) and
    /// reads every night kept there.
    pub fn add(dir: &Path, report: &Report) -> Result<History, PublishError> {
        let name = night_name(report).map_err(PublishError::Refused)?;
        std::fs::create_dir_all(dir).map_err(PublishError::io(dir))?;
        let path = dir.join(format!("{name}.json.gz"));
        // Written aside and renamed, so a night is never half there.
        // Gzipped: a nightly's report is some 330 MB of JSON (six backends,
        // 141,000 cases each), about a tenth of that compressed.
        let file = OutputFile::create(&path)?;
        let mut encoder = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        serde_json::to_writer(&mut encoder, report)
            .map_err(std::io::Error::from)
            .and_then(|()| std::io::Write::write_all(&mut encoder, b"\n"))
            .and_then(|()| encoder.finish())
            .map_err(PublishError::io(&path))?
            .commit()?;
        let plain = dir.join(format!("{name}.json"));
        if plain.exists() {
            // The same night, kept uncompressed before: replaced too.
            std::fs::remove_file(&plain).map_err(PublishError::io(&plain))?;
        }
        History::read(dir)
    }

    /// Reads the nights kept in `dir` and the changes between the last two.
    pub fn read(dir: &Path) -> Result<History, PublishError> {
        let mut nights = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(PublishError::io(dir))? {
            let entry = entry.map_err(PublishError::io(dir))?;
            let file_name = entry.file_name();
            let Some(file_name) = file_name.to_str() else {
                continue;
            };
            if file_name.starts_with('.') {
                continue;
            }
            let Some((stem, gzipped)) = night_file(file_name) else {
                continue;
            };
            let path = entry.path();
            let night = read_night(&path, stem, gzipped)?;
            let expected = name_of_night(&night.started_at, night.revision.as_deref())
                .map_err(|m| not_a_night(&path, m))?;
            if expected != stem {
                return Err(not_a_night(
                    &path,
                    format!(
                        "a night of {} must be named {expected}.json",
                        night.started_at
                    ),
                ));
            }
            nights.push(night);
        }
        nights.sort_by(|a, b| (&a.started_at, &a.name).cmp(&(&b.started_at, &b.name)));
        let mut history = History {
            dir: dir.to_path_buf(),
            nights,
            changes: None,
            new_cases: 0,
            gone_cases: 0,
        };
        if let [.., previous, latest] = &history.nights[..] {
            let before = read_report(previous)?;
            let now = read_report(latest)?;
            let (changes, new_cases, gone_cases) =
                compare(&previous.name, &before, &latest.name, &now);
            history.changes = Some(changes);
            history.new_cases = new_cases;
            history.gone_cases = gone_cases;
        }
        Ok(history)
    }

    /// What changed between the last two nights, if there are two.
    pub fn changes(&self) -> Option<Changes> {
        self.changes.clone()
    }
}

/// Regressions and fixes from `before` to `now`, sorted by (backend, id);
/// also how many cases are new in `now` and how many are gone from it.
fn compare(previous: &str, before: &Report, latest: &str, now: &Report) -> (Changes, usize, usize) {
    let mut then: HashMap<(&str, &str), Status> = before
        .results
        .iter()
        .map(|c| ((c.backend.as_str(), c.id.as_str()), c.status))
        .collect();
    let mut changes = Changes {
        previous: previous.to_string(),
        latest: latest.to_string(),
        ..Changes::default()
    };
    let mut new_cases = 0;
    for case in &now.results {
        let Some(before) = then.remove(&(case.backend.as_str(), case.id.as_str())) else {
            new_cases += 1;
            continue;
        };
        let after = case.status;
        let failing = |s: Status| matches!(s, Status::Failed | Status::Invalid);
        let change = || Change {
            backend: case.backend.clone(),
            id: case.id.clone(),
            before,
            after,
        };
        if matches!(before, Status::Passed | Status::ExpectedFailure) && failing(after) {
            changes.regressed.push(change());
        } else if failing(before) && after == Status::Passed {
            changes.fixed.push(change());
        }
    }
    let by_case = |a: &Change, b: &Change| (&a.backend, &a.id).cmp(&(&b.backend, &b.id));
    changes.regressed.sort_by(by_case);
    changes.fixed.sort_by(by_case);
    (changes, new_cases, then.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A `.json.gz` that inflates past the limit (a decompression bomb) is
    /// refused naming the file, having inflated no more than the limit; a
    /// FIFO in the history directory is refused without blocking.
    #[test]
    fn a_night_that_inflates_past_the_limit_or_is_no_file_is_refused() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let bomb = dir.path().join("2026-01-01.json.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&vec![b' '; 1 << 20]).unwrap();
        std::fs::write(&bomb, gz.finish().unwrap()).unwrap();
        let error = read_bytes_within(&bomb, true, 1 << 16)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("2026-01-01.json.gz") && error.contains("inflates past 65536 bytes"),
            "{error}"
        );
        assert_eq!(
            read_bytes_within(&bomb, true, 1 << 20).unwrap().len(),
            1 << 20
        );

        let fifo = dir.path().join("2026-01-02.json");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let error = read_bytes(&fifo, false).unwrap_err().to_string();
        assert!(error.contains("a FIFO, not a regular file"), "{error}");
    }

    /// A report of `cases`: (backend, id, status as in the JSON).
    fn report(started_at: &str, cases: &[(&str, &str, &str)]) -> Report {
        let results: Vec<_> = cases
            .iter()
            .map(|(backend, id, status)| {
                json!({
                    "id": id, "backend": backend, "suite": "s", "group": "g",
                    "expected": "module", "verdict": "pass", "status": status,
                    "plans_run": 1, "failing_plans_total": 0, "duration_ms": 1
                })
            })
            .collect();
        serde_json::from_value(json!({
            "schema": SCHEMA, "schema_version": SCHEMA_VERSION,
            "run": {
                "tool_version": "0", "started_at": started_at, "host": "h",
                "suites": ["s"], "plans": "--plans default", "cases": cases.len(),
                "backends": [{"name": "a", "version": "1"}, {"name": "b", "version": "1"}]
            },
            "input_errors": [], "not_applicable": [], "results": results, "summary": [],
            "finished": {
                "elapsed_secs": 1.0, "cases_run": cases.len(), "unexpected": 0,
                "stale_rules": [], "expectations_not_run": [], "input_errors": 0
            }
        }))
        .unwrap()
    }

    #[test]
    fn regressions_and_fixes_follow_the_statuses_and_are_sorted() {
        let before = report(
            "2026-01-01T00:00:00Z",
            &[
                ("b", "z", "passed"),
                ("a", "y", "expected-failure"),
                ("a", "x", "passed"),
                ("a", "w", "unexpected-pass"),
                ("a", "v", "failed"),
                ("b", "u", "invalid"),
                ("a", "t", "failed"),
                ("a", "gone", "passed"),
            ],
        );
        let now = report(
            "2026-01-02T00:00:00Z",
            &[
                ("b", "z", "failed"),
                ("a", "y", "invalid"),
                ("a", "x", "failed"),
                ("a", "w", "failed"),
                ("a", "v", "passed"),
                ("b", "u", "passed"),
                ("a", "t", "expected-failure"),
                ("a", "new", "failed"),
            ],
        );
        let (changes, new_cases, gone_cases) = compare("one", &before, "two", &now);
        let ids = |list: &[Change]| -> Vec<(String, String)> {
            list.iter()
                .map(|c| (c.backend.clone(), c.id.clone()))
                .collect()
        };
        let pair = |b: &str, i: &str| (b.to_string(), i.to_string());
        // An unexpected pass that fails again, and a failure now listed as
        // expected, are neither.
        assert_eq!(
            ids(&changes.regressed),
            [pair("a", "x"), pair("a", "y"), pair("b", "z")]
        );
        assert_eq!(ids(&changes.fixed), [pair("a", "v"), pair("b", "u")]);
        assert_eq!(changes.regressed[1].before, Status::ExpectedFailure);
        assert_eq!(changes.regressed[1].after, Status::Invalid);
        assert_eq!((new_cases, gone_cases), (1, 1));
        assert_eq!(
            (changes.previous.as_str(), changes.latest.as_str()),
            ("one", "two")
        );
    }

    #[test]
    fn nights_are_named_by_date_and_short_revision() {
        let mut r = report("2026-03-04T05:06:07Z", &[]);
        assert_eq!(night_name(&r).unwrap(), "2026-03-04-norev");
        r.run.revision = Some("0123456789abcdef0123".into());
        assert_eq!(night_name(&r).unwrap(), "2026-03-04-0123456789ab");
        r.run.revision = Some("../x y".into());
        assert_eq!(night_name(&r).unwrap(), "2026-03-04-___x_y");
        r.run.started_at = "yesterday".into();
        assert!(night_name(&r).unwrap_err().contains("\"yesterday\""));
    }

    #[test]
    fn nights_of_the_previous_schema_version_are_read_older_ones_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut older = report("2026-01-01T00:00:00Z", &[("a", "x", "passed")]);
        older.schema_version = 3;
        let path = dir.path().join("2026-01-01-norev.json");
        std::fs::write(&path, serde_json::to_string(&older).unwrap()).unwrap();
        let now = report("2026-01-02T00:00:00Z", &[("a", "x", "failed")]);
        let history = History::add(dir.path(), &now).unwrap();
        assert_eq!(history.changes().unwrap().regressed.len(), 1);
        older.schema_version = 2;
        std::fs::write(&path, serde_json::to_string(&older).unwrap()).unwrap();
        let err = History::read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("version 2"), "{err}");
    }

    #[test]
    fn a_gzipped_night_is_read_and_a_night_added_again_replaces_it() {
        let dir = tempfile::tempdir().unwrap();
        let first = report("2026-01-01T00:00:00Z", &[("a", "x", "passed")]);
        let gz = dir.path().join("2026-01-01-norev.json.gz");
        let mut encoder =
            flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), Default::default());
        serde_json::to_writer(&mut encoder, &first).unwrap();
        encoder.finish().unwrap();
        let second = report("2026-01-02T00:00:00Z", &[("a", "x", "failed")]);
        let history = History::add(dir.path(), &second).unwrap();
        assert_eq!(history.nights.len(), 2);
        assert_eq!(history.changes().unwrap().regressed.len(), 1);
        // A night kept uncompressed is read, and replaced when added again.
        let plain = dir.path().join("2026-01-01-norev.json");
        std::fs::remove_file(&gz).unwrap();
        std::fs::write(&plain, serde_json::to_string(&first).unwrap()).unwrap();
        assert_eq!(History::read(dir.path()).unwrap().nights.len(), 2);
        let history = History::add(dir.path(), &first).unwrap();
        assert_eq!(history.nights.len(), 2);
        assert!(gz.exists() && !plain.exists());
        // A night whose name does not match its report is an error naming it.
        std::fs::rename(
            dir.path().join("2026-01-02-norev.json.gz"),
            dir.path().join("2026-01-03-norev.json.gz"),
        )
        .unwrap();
        let err = History::read(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("2026-01-03-norev.json.gz")
                && err.contains("must be named 2026-01-02-norev.json"),
            "{err}"
        );
    }
}
