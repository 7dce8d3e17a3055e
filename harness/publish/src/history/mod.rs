//! Nights' reports kept in a directory, by date and commit; each case's
//! result on every night (its strip); and what changed between the last
//! two nights, or over a window of nights.
//!
//! A night is the file `<YYYY-MM-DD>-<revision>.json.gz` (the date of
//! `run.started_at`, the revision's first 12 characters or `norev`); an
//! uncompressed `.json` is read too. Adding a report whose night is already
//! there replaces it: re-running a night does not make a second one. Every
//! `.json` or `.json.gz` file in the directory but the index
//! (`index.json.gz`, see `index.rs`) must be such a night; other files (a
//! README) are left alone.

mod index;

use super::PublishError;
pub use index::{status_of, Strips, ABSENT, INDEX_FILE};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use streamconform::output::OutputFile;
use streamconform::reporter::json::{Report, READABLE_SCHEMA_VERSIONS, SCHEMA, SCHEMA_VERSION};
use streamconform::reporter::summary::SummaryRow;
use streamconform::runner::RunInfo;
use streamconform::verdict::Status;

/// The nights of a history directory, oldest first, and each case's
/// result on each of them.
#[derive(Clone, Debug)]
pub struct History {
    pub dir: PathBuf,
    pub nights: Vec<Night>,
    /// Backend → case id → one letter per night of `nights`.
    strips: Strips,
    /// Nights whose report was read this time, because the index lacked
    /// them or they had changed; the others came from the index.
    pub nights_read: Vec<String>,
    /// Why the index there was set aside and rebuilt, if it was.
    pub index_rebuilt: Option<String>,
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
    /// Its report's schema version.
    pub schema_version: u32,
}

impl Night {
    /// A night's listing from its report's run and summary.
    fn of_run(
        path: &Path,
        name: &str,
        run: &RunInfo,
        summary: &[SummaryRow],
        schema_version: u32,
    ) -> Night {
        let backends: Vec<String> = run.backends.iter().map(|b| b.name.clone()).collect();
        Night {
            path: path.to_path_buf(),
            name: name.to_string(),
            pass_rates: PassRate::from_summary(&backends, summary),
            started_at: run.started_at.clone(),
            revision: run.revision.clone(),
            schema_version,
        }
    }
}

/// How many of a backend's judged cases passed in one night.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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

/// Cases whose status changed from one night to a later one, per backend.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// The window's first night, and its last (the latest).
    pub previous: String,
    pub latest: String,
    /// Nights in the window, the first and the last included.
    pub nights: usize,
    /// Cases of the latest night that no earlier night of the window had,
    /// and cases of an earlier night that the latest lacks (per backend
    /// and id); neither counts as a change.
    pub new_cases: usize,
    pub gone_cases: usize,
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

/// What the history needs of a night's report: its listing, and each
/// case's status (the rest of each result is skipped as it is read).
#[derive(Deserialize)]
struct NightStatuses {
    schema: String,
    schema_version: u32,
    run: RunInfo,
    summary: Vec<SummaryRow>,
    results: Vec<CaseStatus>,
    finished: FinishedTime,
}

/// Not shown from a night, but a night claiming a time no run takes is
/// not a report of ours.
#[derive(Deserialize)]
struct FinishedTime {
    elapsed_secs: f64,
}

#[derive(Deserialize)]
struct CaseStatus {
    id: String,
    backend: String,
    status: Status,
    #[serde(default)]
    unsupported: Vec<String>,
}

/// One night's column of strips: (backend, id) → its letter.
type Column = HashMap<(String, String), u8>;

fn column_of<'a>(cases: impl Iterator<Item = (&'a str, &'a str, Status, bool)>) -> Column {
    cases
        .map(|(backend, id, status, unsupported)| {
            (
                (backend.to_string(), id.to_string()),
                index::mark(status, unsupported),
            )
        })
        .collect()
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

/// Reads a night's report: its listing and its column of strips.
fn read_night(path: &Path, name: &str, gzipped: bool) -> Result<(Night, Column), PublishError> {
    let bytes = read_bytes(path, gzipped)?;
    let night: NightStatuses =
        serde_json::from_slice(&bytes).map_err(|e| not_a_night(path, e.to_string()))?;
    drop(bytes);
    crate::check_elapsed(path, night.finished.elapsed_secs)?;
    if night.schema != SCHEMA || !READABLE_SCHEMA_VERSIONS.contains(&night.schema_version) {
        return Err(not_a_night(
            path,
            format!(
                "schema {} version {}, this streamconform reads {SCHEMA} version {SCHEMA_VERSION}",
                night.schema, night.schema_version
            ),
        ));
    }
    let column = column_of(night.results.iter().map(|c| {
        (
            c.backend.as_str(),
            c.id.as_str(),
            c.status,
            !c.unsupported.is_empty(),
        )
    }));
    let listing = Night::of_run(path, name, &night.run, &night.summary, night.schema_version);
    check_name(&listing)?;
    Ok((listing, column))
}

/// A night's file must be named as its report's run says.
fn check_name(night: &Night) -> Result<(), PublishError> {
    let expected = name_of_night(&night.started_at, night.revision.as_deref())
        .map_err(|m| not_a_night(&night.path, m))?;
    if expected != night.name {
        return Err(not_a_night(
            &night.path,
            format!(
                "a night of {} must be named {expected}.json",
                night.started_at
            ),
        ));
    }
    Ok(())
}

/// Where a night's column of strips comes from.
enum Source {
    /// The index, at this position among its nights.
    Index(usize),
    /// Its report, read now.
    Read(Column),
}

impl History {
    /// Adds `report` to the history in `dir` (created if missing), reads
    /// every night kept there (each from the index unless it changed) and
    /// updates the index.
    pub fn add(dir: &Path, report: &Report) -> Result<History, PublishError> {
        let name = night_name(report).map_err(PublishError::Refused)?;
        std::fs::create_dir_all(dir).map_err(PublishError::io(dir))?;
        let path = dir.join(format!("{name}.json.gz"));
        // Written aside and renamed, so a night is never half there.
        // Gzipped: a nightly's report is some 330 MB of JSON (six backends,
        // 141,000 cases each), about a tenth of that compressed.
        let file = OutputFile::create(&path)?;
        let encoder = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        // Buffered before the encoder: serde writes a token at a time, and
        // each write into a deflate stream has a cost of its own.
        let mut buffered = std::io::BufWriter::with_capacity(1 << 16, encoder);
        serde_json::to_writer(&mut buffered, report)
            .map_err(std::io::Error::from)
            .and_then(|()| std::io::Write::write_all(&mut buffered, b"\n"))
            .and_then(|()| buffered.into_inner().map_err(|e| e.into_error()))
            .and_then(|encoder| encoder.finish())
            .map_err(PublishError::io(&path))?
            .commit()?;
        let plain = dir.join(format!("{name}.json"));
        if plain.exists() {
            // The same night, kept uncompressed before: replaced too.
            std::fs::remove_file(&plain).map_err(PublishError::io(&plain))?;
        }
        History::load(dir, Some((&name, report)), true)
    }

    /// Reads the nights kept in `dir`, each from the index unless it
    /// changed; writes nothing.
    pub fn read(dir: &Path) -> Result<History, PublishError> {
        History::load(dir, None, false)
    }

    /// `added`: a night just written, whose report is at hand (not read
    /// again). `update`: write the index when it changed.
    fn load(
        dir: &Path,
        added: Option<(&str, &Report)>,
        update: bool,
    ) -> Result<History, PublishError> {
        let (index, index_rebuilt) = match index::read(dir) {
            Ok(index) => (index, None),
            Err(why) => (None, Some(why)),
        };
        let (indexed_nights, mut old_strips) = match index {
            Some(i) => (i.nights, i.strips),
            None => (Vec::new(), Strips::new()),
        };
        let mut nights: Vec<(Night, String, Source)> = Vec::new();
        let mut nights_read = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(PublishError::io(dir))? {
            let entry = entry.map_err(PublishError::io(dir))?;
            let file_name = entry.file_name();
            let Some(file_name) = file_name.to_str() else {
                continue;
            };
            if file_name.starts_with('.') || file_name == INDEX_FILE {
                continue;
            }
            let Some((stem, gzipped)) = night_file(file_name) else {
                continue;
            };
            let path = entry.path();
            let fingerprint = index::fingerprint(&path, gzipped)?;
            // Taken from the index only when its file is the one indexed,
            // and of a schema version this streamconform still reads.
            let indexed = indexed_nights.iter().position(|n| {
                n.name == stem
                    && n.file == file_name
                    && n.fingerprint == fingerprint
                    && READABLE_SCHEMA_VERSIONS.contains(&n.schema_version)
            });
            let night = match (indexed, added) {
                (_, Some((name, report))) if name == stem => {
                    let listing = Night::of_run(
                        &path,
                        stem,
                        &report.run,
                        &report.summary,
                        report.schema_version,
                    );
                    let column = column_of(report.results.iter().map(|c| {
                        (
                            c.backend.as_str(),
                            c.id.as_str(),
                            c.status,
                            !c.unsupported.is_empty(),
                        )
                    }));
                    (listing, Source::Read(column))
                }
                (Some(at), _) => {
                    let n = &indexed_nights[at];
                    let listing = Night {
                        path: path.clone(),
                        name: n.name.clone(),
                        started_at: n.started_at.clone(),
                        revision: n.revision.clone(),
                        pass_rates: n.pass_rates.clone(),
                        schema_version: n.schema_version,
                    };
                    (listing, Source::Index(at))
                }
                (None, _) => {
                    nights_read.push(stem.to_string());
                    let (listing, column) = read_night(&path, stem, gzipped)?;
                    (listing, Source::Read(column))
                }
            };
            nights.push((night.0, fingerprint, night.1));
        }
        nights.sort_by(|(a, _, _), (b, _, _)| {
            (&a.started_at, &a.name).cmp(&(&b.started_at, &b.name))
        });
        nights_read.sort();

        // The strips, one letter per night in the new order: from the
        // index where the night came from it, else from its column.
        let unchanged = index_rebuilt.is_none()
            && nights.len() == indexed_nights.len()
            && nights
                .iter()
                .enumerate()
                .all(|(i, (_, _, source))| matches!(source, Source::Index(at) if *at == i));
        let strips = if unchanged {
            old_strips
        } else {
            let mut columns: Vec<Option<Column>> = Vec::new();
            let mut positions: Vec<Option<usize>> = Vec::new();
            for (_, _, source) in &mut nights {
                match std::mem::replace(source, Source::Index(usize::MAX)) {
                    Source::Index(at) => {
                        positions.push(Some(at));
                        columns.push(None);
                    }
                    Source::Read(column) => {
                        positions.push(None);
                        columns.push(Some(column));
                    }
                }
            }
            let mut strips = Strips::new();
            let mut strip_of =
                |backend: &str, id: &str, old: Option<&[u8]>, columns: &mut [Option<Column>]| {
                    let key = (backend.to_string(), id.to_string());
                    let strip: Vec<u8> = positions
                        .iter()
                        .zip(columns.iter_mut())
                        .map(|(at, column)| match (at, column) {
                            (Some(at), _) => old.map_or(ABSENT, |o| o[*at]),
                            (None, Some(column)) => column.remove(&key).unwrap_or(ABSENT),
                            (None, None) => ABSENT,
                        })
                        .collect();
                    if strip.iter().any(|&m| m != ABSENT) {
                        strips
                            .entry(key.0)
                            .or_default()
                            .insert(key.1, String::from_utf8(strip).expect("ASCII letters"));
                    }
                };
            for (backend, cases) in std::mem::take(&mut old_strips) {
                for (id, strip) in cases {
                    strip_of(&backend, &id, Some(strip.as_bytes()), &mut columns);
                }
            }
            // Cases no indexed night had, in the order of the nights read.
            for k in 0..columns.len() {
                let keys: Vec<(String, String)> = columns[k]
                    .as_ref()
                    .map(|c| c.keys().cloned().collect())
                    .unwrap_or_default();
                for (backend, id) in keys {
                    strip_of(&backend, &id, None, &mut columns);
                }
            }
            strips
        };
        if update && !unchanged {
            let listing = nights
                .iter()
                .map(|(night, fingerprint, _)| index::IndexedNight::of(night, fingerprint.clone()))
                .collect();
            index::write(dir, listing, &strips)?;
        }
        Ok(History {
            dir: dir.to_path_buf(),
            nights: nights.into_iter().map(|(night, _, _)| night).collect(),
            strips,
            nights_read,
            index_rebuilt,
        })
    }

    /// What changed between the last two nights, if there are two.
    pub fn changes(&self) -> Option<Changes> {
        self.changes_over(2)
    }

    /// What changed over the last `nights` nights (at least two; fewer if
    /// the history has fewer): each case's status on the first night of
    /// the window that has it against the latest night's.
    pub fn changes_over(&self, nights: usize) -> Option<Changes> {
        let count = self.nights.len();
        if count < 2 {
            return None;
        }
        let window = nights.clamp(2, count);
        let first = count - window;
        let latest = count - 1;
        let mut changes = Changes {
            previous: self.nights[first].name.clone(),
            latest: self.nights[latest].name.clone(),
            nights: window,
            ..Changes::default()
        };
        for (backend, cases) in &self.strips {
            for (id, strip) in cases {
                let strip = strip.as_bytes();
                // Strips have a letter per night (the index is checked, and
                // a rebuilt one is made so); a short one is no change.
                let (Some(earlier), Some(&now)) = (strip.get(first..latest), strip.get(latest))
                else {
                    continue;
                };
                let then = earlier.iter().find(|&&m| m != ABSENT);
                let (before, after) = match (then.and_then(|&m| status_of(m)), status_of(now)) {
                    (None, None) => continue,
                    (None, Some(_)) => {
                        changes.new_cases += 1;
                        continue;
                    }
                    (Some(_), None) => {
                        changes.gone_cases += 1;
                        continue;
                    }
                    (Some(before), Some(after)) => (before, after),
                };
                let failing = |s: Status| matches!(s, Status::Failed | Status::Invalid);
                let change = || Change {
                    backend: backend.clone(),
                    id: id.clone(),
                    before,
                    after,
                };
                if matches!(before, Status::Passed | Status::ExpectedFailure) && failing(after) {
                    changes.regressed.push(change());
                } else if failing(before) && after == Status::Passed {
                    changes.fixed.push(change());
                }
            }
        }
        // Strips are kept sorted by (backend, id), so the lists are too.
        Some(changes)
    }

    /// A case's strip: one letter per night of [`History::nights`]
    /// ([`status_of`] reads them; [`ABSENT`] where the night lacks it).
    pub fn strip(&self, backend: &str, id: &str) -> Option<&str> {
        self.strips.get(backend)?.get(id).map(String::as_str)
    }
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
        // Listing the history does not open it either.
        std::fs::remove_file(&bomb).unwrap();
        let error = History::read(dir.path()).unwrap_err().to_string();
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

    /// Adds `reports` to a history in a new directory, in order.
    fn history_of(reports: &[Report]) -> (tempfile::TempDir, History) {
        let dir = tempfile::tempdir().unwrap();
        let mut history = None;
        for r in reports {
            history = Some(History::add(dir.path(), r).unwrap());
        }
        (dir, history.unwrap())
    }

    fn ids(list: &[Change]) -> Vec<(String, String)> {
        list.iter()
            .map(|c| (c.backend.clone(), c.id.clone()))
            .collect()
    }

    fn pair(b: &str, i: &str) -> (String, String) {
        (b.to_string(), i.to_string())
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
        let (_dir, history) = history_of(&[before, now]);
        let changes = history.changes().unwrap();
        // An unexpected pass that fails again, and a failure now listed as
        // expected, are neither.
        assert_eq!(
            ids(&changes.regressed),
            [pair("a", "x"), pair("a", "y"), pair("b", "z")]
        );
        assert_eq!(ids(&changes.fixed), [pair("a", "v"), pair("b", "u")]);
        assert_eq!(changes.regressed[1].before, Status::ExpectedFailure);
        assert_eq!(changes.regressed[1].after, Status::Invalid);
        assert_eq!((changes.new_cases, changes.gone_cases), (1, 1));
        assert_eq!(
            (changes.previous.as_str(), changes.latest.as_str()),
            ("2026-01-01-norev", "2026-01-02-norev")
        );
        assert_eq!(history.strip("a", "gone"), Some("p."));
        assert_eq!(history.strip("a", "new"), Some(".f"));
        assert_eq!(history.strip("a", "t"), Some("fx"));
    }

    /// Over a window, a case's first night in it is compared with the
    /// latest: a flip back and forth inside the window is no change.
    #[test]
    fn a_window_compares_each_cases_first_night_in_it_with_the_latest() {
        let nights: Vec<Report> = [
            [
                ("a", "x", "failed"),
                ("a", "y", "passed"),
                ("a", "z", "passed"),
            ],
            [
                ("a", "x", "passed"),
                ("a", "y", "failed"),
                ("a", "z", "passed"),
            ],
            [
                ("a", "x", "passed"),
                ("a", "y", "passed"),
                ("a", "z", "passed"),
            ],
            [
                ("a", "x", "passed"),
                ("a", "y", "passed"),
                ("a", "z", "failed"),
            ],
        ]
        .iter()
        .enumerate()
        .map(|(i, cases)| report(&format!("2026-01-0{}T00:00:00Z", i + 1), cases))
        .collect();
        let (_dir, history) = history_of(&nights);
        let last = history.changes().unwrap();
        assert_eq!(ids(&last.regressed), [pair("a", "z")]);
        assert!(last.fixed.is_empty());
        let three = history.changes_over(3).unwrap();
        assert_eq!(
            (three.nights, three.previous.as_str()),
            (3, "2026-01-02-norev")
        );
        assert_eq!(ids(&three.regressed), [pair("a", "z")]);
        // y failed on the window's first night and passes now.
        assert_eq!(ids(&three.fixed), [pair("a", "y")]);
        let all = history.changes_over(100).unwrap();
        assert_eq!(all.nights, 4);
        assert_eq!(ids(&all.fixed), [pair("a", "x")]);
        assert_eq!(history.strip("a", "y"), Some("pfpp"));
    }

    /// Publishing reads only the night added: the others come from the
    /// index, unless a night's file changed, its index entry is missing,
    /// or the index cannot be used, which is said. Whatever the path, the
    /// strips are the same.
    #[test]
    fn the_index_spares_reading_nights_and_is_rebuilt_when_it_cannot_be_trusted() {
        let night = |day: u32, status: &str| {
            report(
                &format!("2026-02-{day:02}T00:00:00Z"),
                &[("a", "x", status)],
            )
        };
        let (dir, history) = history_of(&[night(1, "passed"), night(2, "failed")]);
        assert!(history.nights_read.is_empty(), "{:?}", history.nights_read);
        assert_eq!(history.strip("a", "x"), Some("pf"));
        let history = History::add(dir.path(), &night(3, "passed")).unwrap();
        assert!(history.nights_read.is_empty());
        assert_eq!(history.strip("a", "x"), Some("pfp"));
        assert_eq!(History::read(dir.path()).unwrap().nights_read.len(), 0);

        // A night replaced behind the index's back is read again.
        let second = dir.path().join("2026-02-02-norev.json");
        std::fs::remove_file(dir.path().join("2026-02-02-norev.json.gz")).unwrap();
        std::fs::write(
            &second,
            serde_json::to_string(&night(2, "invalid")).unwrap(),
        )
        .unwrap();
        let history = History::add(dir.path(), &night(4, "passed")).unwrap();
        assert_eq!(history.nights_read, ["2026-02-02-norev"]);
        assert_eq!(history.strip("a", "x"), Some("pipp"));
        assert_eq!(History::read(dir.path()).unwrap().nights_read.len(), 0);

        // A night deleted leaves the strips.
        std::fs::remove_file(dir.path().join("2026-02-01-norev.json.gz")).unwrap();
        let history = History::read(dir.path()).unwrap();
        assert_eq!(history.strip("a", "x"), Some("ipp"));
        assert!(history.nights_read.is_empty());

        // An index whose strip has a wrong length, or is no index at all,
        // is set aside with the reason, and rebuilt from the nights.
        let index = dir.path().join(INDEX_FILE);
        let mut bytes = Vec::new();
        flate2::read::GzDecoder::new(&std::fs::read(&index).unwrap()[..])
            .read_to_end(&mut bytes)
            .unwrap();
        let text = String::from_utf8(bytes)
            .unwrap()
            .replace("\"pipp\"", "\"pip\"");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), Default::default());
        std::io::Write::write_all(&mut gz, text.as_bytes()).unwrap();
        std::fs::write(&index, gz.finish().unwrap()).unwrap();
        let history = History::add(dir.path(), &night(5, "failed")).unwrap();
        let why = history
            .index_rebuilt
            .clone()
            .expect("the index was set aside");
        assert!(why.contains("the strip of a \"x\" is \"pip\""), "{why}");
        assert_eq!(history.nights_read.len(), 3);
        assert_eq!(history.strip("a", "x"), Some("ippf"));
        std::fs::write(&index, b"not gzip").unwrap();
        let history = History::read(dir.path()).unwrap();
        assert!(history.index_rebuilt.is_some());
        assert_eq!(history.strip("a", "x"), Some("ippf"));
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
        // The index knew the night: its file changed, so it is read again.
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
