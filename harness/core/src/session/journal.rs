//! The journal of a run with `--report FILE`: `FILE.journal`, one JSON
//! line per finished (backend, case), appended as each finishes, so that a
//! run that is interrupted or killed loses at most the line being written
//! and can be resumed (`run --resume`). The format is in reports/SCHEMA.md.
//!
//! Results are journaled raw, before expectations: a resumed run replays
//! them through `runner::conclude` like results it runs itself.

use super::RunSpec;
use crate::error::Error;
use crate::runner::{EarlierResults, Reporter, RunEvent};
use crate::suites::tree::{read_regular_file, ReadBounds};
use crate::verdict::CaseResult;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const SCHEMA: &str = "streamconform-journal";
/// Bump on any change a reader could notice; document it in SCHEMA.md.
/// Version 2: the header records the run as data (`run`), not flags.
pub const SCHEMA_VERSION: u32 = 2;
const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The first line: which run the results belong to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub schema: String,
    pub schema_version: u32,
    pub tool_version: String,
    /// Where the run ran: relative paths in `run` are relative to it.
    pub directory: PathBuf,
    /// The run, as the session was given it.
    pub run: RunSpec,
}

impl Header {
    /// The header of a journal of `run`, begun in `directory`.
    pub fn new(directory: PathBuf, run: RunSpec) -> Header {
        Header {
            schema: SCHEMA.into(),
            schema_version: SCHEMA_VERSION,
            tool_version: TOOL_VERSION.into(),
            directory,
            run,
        }
    }
}

/// Every later line: one (backend, case) result, before expectations.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry<'a> {
    pub backend: Cow<'a, str>,
    pub duration_ms: u64,
    pub result: Cow<'a, CaseResult>,
}

/// A journal as read back.
#[derive(Debug)]
pub struct Journal {
    pub path: PathBuf,
    pub header: Header,
    pub results: EarlierResults,
    /// (backend, case id) → the line its result is on, for messages.
    pub lines: HashMap<(String, String), usize>,
    /// Bytes up to the end of the last whole line: a cut-off last line
    /// (the run was killed while writing it) is dropped before appending.
    pub complete_len: u64,
}

/// Reads a journal. A last line without its newline is ignored; any other
/// line that does not parse, a header of another tool version, and a
/// second result for a (backend, case) that differs from the first, is an
/// error naming the file and line. (That each result fits its case is
/// checked once the cases are loaded: see `Session::resume`.)
pub fn read(path: &Path) -> Result<Journal, Error> {
    // A regular file, so that a FIFO given as the journal cannot block;
    // as large as a report can be, so no size limit.
    let bounds = ReadBounds {
        max_bytes: usize::MAX,
        limit_name: "",
        outside_root: true,
    };
    let bytes = read_regular_file(path, bounds)?;
    let invalid = |line: usize, message: String| Error::InvalidJournal {
        file: path.to_path_buf(),
        line,
        message,
    };
    let complete_len = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    if complete_len == 0 {
        return Err(invalid(
            1,
            "no header line (an empty or cut-off journal)".into(),
        ));
    }
    // Whole lines only, numbered from 1.
    let mut lines = bytes[..complete_len - 1].split(|&b| b == b'\n').zip(1..);
    let (first, _) = lines.next().expect("split yields at least one piece");
    let header: Header = serde_json::from_slice(first).map_err(|e| {
        invalid(
            1,
            format!("not a {SCHEMA} header ({e}); expected {{\"schema\":\"{SCHEMA}\",...}}"),
        )
    })?;
    if header.schema != SCHEMA || header.schema_version != SCHEMA_VERSION {
        return Err(invalid(
            1,
            format!(
                "schema {:?} version {}; this tool reads {SCHEMA:?} version {SCHEMA_VERSION}",
                header.schema, header.schema_version
            ),
        ));
    }
    if header.tool_version != TOOL_VERSION {
        return Err(invalid(
            1,
            format!(
                "written by streamconform {}, this is {TOOL_VERSION}; a run resumes only with the version that began it",
                header.tool_version
            ),
        ));
    }
    let mut results = EarlierResults::default();
    let mut result_lines = HashMap::new();
    for (text, line) in lines {
        let entry: Entry<'_> = serde_json::from_slice(text)
            .map_err(|e| invalid(line, format!("not a journaled result: {e}")))?;
        let key = (entry.backend.to_string(), entry.result.id.clone());
        if let Some(earlier) = result_lines.get(&key) {
            // A run journals each (backend, case) once; the same line
            // twice is harmless, two different outcomes are not evidence.
            let (first, _) = results.get(&key.0, &key.1).expect("recorded with its line");
            if first != entry.result.as_ref() {
                return Err(invalid(
                    line,
                    format!(
                        "a second result for {} on {}, differing from the one on line {earlier}; a journal holds one result per (backend, case)",
                        key.1, key.0
                    ),
                ));
            }
            continue;
        }
        results.insert(
            &entry.backend,
            entry.result.into_owned(),
            Duration::from_millis(entry.duration_ms),
        );
        result_lines.insert(key, line);
    }
    Ok(Journal {
        path: path.to_path_buf(),
        header,
        results,
        lines: result_lines,
        complete_len: complete_len as u64,
    })
}

/// Appends each result a run finishes (not those it replays) to the
/// journal, one line per write, so a kill cuts at most that line.
pub struct JournalWriter {
    file: File,
}

impl JournalWriter {
    /// A new journal with its header. An existing one is never replaced:
    /// it belongs to a run that did not finish.
    pub fn create(path: &Path, header: &Header) -> io::Result<JournalWriter> {
        let file = OpenOptions::new().write(true).create_new(true).open(path)?;
        let mut writer = JournalWriter { file };
        writer.write_line(header)?;
        Ok(writer)
    }

    /// Continues a journal after its last whole line.
    pub fn append(journal: &Journal) -> io::Result<JournalWriter> {
        let file = OpenOptions::new().append(true).open(&journal.path)?;
        file.set_len(journal.complete_len)?;
        Ok(JournalWriter { file })
    }

    fn write_line(&mut self, value: &impl Serialize) -> io::Result<()> {
        let mut line = serde_json::to_vec(value)?;
        line.push(b'\n');
        // One write per line, straight to the file (no buffer to lose).
        self.file.write_all(&line)
    }
}

impl Reporter for JournalWriter {
    fn report(&mut self, event: &RunEvent<'_>) -> io::Result<()> {
        match event {
            RunEvent::CaseFinished(done) if !done.replayed => self.write_line(&Entry {
                backend: Cow::Borrowed(done.backend),
                duration_ms: done.duration.as_millis() as u64,
                result: Cow::Borrowed(&done.result),
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::OutcomeClass;
    use crate::verdict::Verdict;

    /// `run --resume FIFO` (or a device) is an error naming it, not a
    /// read that blocks or never ends.
    #[test]
    fn a_journal_that_is_no_regular_file_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("r.json.journal");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        for path in [fifo.as_path(), Path::new("/dev/zero")] {
            let error = read(path).expect_err("refused").to_string();
            assert!(error.contains("not a regular file"), "{error}");
            assert!(error.contains(&path.display().to_string()), "{error}");
        }
    }

    fn result(id: &str) -> CaseResult {
        CaseResult {
            id: id.into(),
            expected: OutcomeClass::Module,
            one_shot: None,
            plans_run: 3,
            failing_plans_total: 0,
            failing_plans: vec![],
            aborted: None,
            verdict: Verdict::Pass,
            minimized: None,
            retried: None,
        }
    }

    fn entry(id: &str) -> Entry<'static> {
        Entry {
            backend: "reference".into(),
            duration_ms: 7,
            result: Cow::Owned(result(id)),
        }
    }

    fn entry_line(id: &str) -> String {
        serde_json::to_string(&entry(id)).unwrap() + "\n"
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("streamconform-journal-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("r.json.journal")
    }

    #[test]
    fn a_cut_off_last_line_is_dropped_and_appending_goes_on_after_the_last_whole_one() {
        let path = scratch("cut-off");
        let run = RunSpec {
            suites: vec!["s".into()],
            ..RunSpec::default()
        };
        let header = Header::new("/somewhere".into(), run);
        drop(JournalWriter::create(&path, &header).unwrap());
        let whole = entry_line("s/a.wast:1");
        let cut = &entry_line("s/a.wast:2")[..20];
        std::fs::write(
            &path,
            std::fs::read_to_string(&path).unwrap() + &whole + cut,
        )
        .unwrap();
        let journal = read(&path).unwrap();
        assert_eq!(journal.header, header);
        assert_eq!(journal.results.len(), 1);

        let mut writer = JournalWriter::append(&journal).unwrap();
        writer.write_line(&entry("s/a.wast:3")).unwrap();
        let again = read(&path).unwrap();
        assert_eq!(
            again.results.len(),
            2,
            "{}",
            std::fs::read_to_string(&path).unwrap()
        );
        assert!(
            JournalWriter::create(&path, &header).is_err(),
            "an existing journal is kept"
        );
    }

    #[test]
    fn the_same_line_twice_is_read_once_and_two_different_results_are_refused() {
        let path = scratch("twice");
        let header = serde_json::to_string(&Header::new("/d".into(), RunSpec::default())).unwrap();
        let twice = format!("{header}\n{}{}", entry_line("a"), entry_line("a"));
        std::fs::write(&path, &twice).unwrap();
        let journal = read(&path).unwrap();
        assert_eq!(journal.results.len(), 1);
        assert_eq!(journal.lines[&("reference".into(), "a".into())], 2);

        let mut other = entry("a");
        other.result.to_mut().plans_run = 4;
        let differing = format!(
            "{header}\n{}{}\n",
            entry_line("a"),
            serde_json::to_string(&other).unwrap()
        );
        std::fs::write(&path, &differing).unwrap();
        let message = read(&path).unwrap_err().to_string();
        assert!(
            message.contains(
                ":3: a second result for a on reference, differing from the one on line 2"
            ),
            "{message}"
        );
    }

    #[test]
    fn a_bad_line_names_the_file_and_line() {
        let path = scratch("bad-line");
        let header = serde_json::to_string(&Header::new("/d".into(), RunSpec::default())).unwrap();
        let cases = [
            (
                format!("{header}\n{}{{\"backend\":1}}\n", entry_line("a")),
                ":3: not a journaled result",
            ),
            (
                "{\"schema\":\"streamconform-journal\"\n".to_string(),
                ":1: not a streamconform-journal header",
            ),
            (
                header.replace(TOOL_VERSION, "0.0.0-old") + "\n",
                ":1: written by streamconform 0.0.0-old",
            ),
            (header.clone(), ":1: no header line"),
        ];
        for (text, needle) in cases {
            std::fs::write(&path, &text).unwrap();
            let message = read(&path).unwrap_err().to_string();
            assert!(
                message.starts_with(&path.display().to_string()) && message.contains(needle),
                "{text:?}: {message}"
            );
        }
    }
}
