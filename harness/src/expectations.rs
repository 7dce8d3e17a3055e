//! Expectations files: the known failures of one backend, each with a reason.
//!
//! ```toml
//! backend = "reference"
//!
//! [[failure]]
//! case = "spec/proposals/threads/atomic.wast:12"
//! reason = "wasmparser rejects ... (upstream issue ...)"
//! ```
//!
//! Checked both ways: a listed case that passes is an unexpected pass. The
//! file is rewritten only by `--bless` (or `STREAMCONFORM_BLESS=1` under
//! `cargo test`), never in CI.

use crate::error::Error;
use crate::runner::CaseResult;
use crate::verdict::Verdict;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Default)]
pub struct Expectations {
    pub path: PathBuf,
    pub backend: String,
    /// case id → reason
    failures: BTreeMap<String, String>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct File {
    backend: String,
    #[serde(default)]
    failure: Vec<Entry>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    case: toml::Spanned<String>,
    reason: toml::Spanned<String>,
}

const FORMAT: &str =
    "an expectations file: `backend = \"NAME\"` and `[[failure]]` tables with `case` and `reason`";

impl Expectations {
    /// An empty set for `backend`, to be filled by blessing.
    pub fn empty(backend: &str, path: &Path) -> Expectations {
        Expectations {
            path: path.to_path_buf(),
            backend: backend.to_string(),
            failures: BTreeMap::new(),
        }
    }

    pub fn load(path: &Path) -> Result<Expectations, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Expectations, Error> {
        let at = |offset: usize, message: String| Error::toml_at(path, text, offset, message);
        let file: File =
            toml::from_str(text).map_err(|e| Error::toml_parse(path, text, &e, FORMAT))?;
        let mut failures = BTreeMap::new();
        for entry in file.failure {
            if entry.reason.get_ref().trim().is_empty() {
                return Err(at(
                    entry.reason.span().start,
                    format!(
                        "case {:?} has an empty reason; say why it fails",
                        entry.case.get_ref()
                    ),
                ));
            }
            let case = entry.case.get_ref().clone();
            if failures
                .insert(case.clone(), entry.reason.into_inner())
                .is_some()
            {
                return Err(at(
                    entry.case.span().start,
                    format!("case {case:?} is listed twice"),
                ));
            }
        }
        Ok(Expectations {
            path: path.to_path_buf(),
            backend: file.backend,
            failures,
        })
    }

    pub fn reason(&self, case_id: &str) -> Option<&str> {
        self.failures.get(case_id).map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.failures.len()
    }

    pub fn is_empty(&self) -> bool {
        self.failures.is_empty()
    }

    /// Listed cases that this run did not produce: renamed or removed
    /// cases, or simply filtered out.
    pub fn not_run<'a>(&'a self, ran: &HashSet<&str>) -> Vec<&'a str> {
        self.failures
            .keys()
            .map(String::as_str)
            .filter(|id| !ran.contains(id))
            .collect()
    }

    /// The file as it should be after `results`: failing cases listed
    /// (keeping existing reasons), passing ones dropped, cases not in this
    /// run kept as they were.
    pub fn blessed(&self, results: &[CaseResult]) -> Expectations {
        let mut failures = self.failures.clone();
        for result in results {
            match result.verdict {
                Verdict::Pass => {
                    failures.remove(&result.id);
                }
                Verdict::NotApplicable => {}
                Verdict::Fail => {
                    failures.entry(result.id.clone()).or_insert_with(|| {
                        format!("TODO explain; blessed from: {}", result.failure_summary())
                    });
                }
            }
        }
        Expectations {
            path: self.path.clone(),
            backend: self.backend.clone(),
            failures,
        }
    }

    pub fn to_toml(&self) -> String {
        let file = File {
            backend: self.backend.clone(),
            failure: self
                .failures
                .iter()
                .map(|(case, reason)| Entry {
                    case: toml::Spanned::new(0..0, case.clone()),
                    reason: toml::Spanned::new(0..0, reason.clone()),
                })
                .collect(),
        };
        let body = toml::to_string(&file).expect("expectations serialize");
        format!(
            "# Known failures of backend {:?}; each needs a reason.\n# Regenerate with --bless (never in CI), then review the diff.\n\n{body}",
            self.backend
        )
    }

    /// Writes the file, refusing under CI: CI never rewrites expectations.
    pub fn write(&self) -> Result<(), Error> {
        refuse_bless_in_ci()?;
        std::fs::write(&self.path, self.to_toml()).map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })
    }
}

/// `--bless` is an error when the `CI` environment variable is set.
pub fn refuse_bless_in_ci() -> Result<(), Error> {
    match std::env::var("CI") {
        Ok(v) if !v.is_empty() && v != "0" && v != "false" => Err(Error::BlessRefused(
            "CI is set; CI never rewrites expectations. Bless locally and commit the diff.".into(),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::OutcomeClass;

    const GOOD: &str = r#"backend = "reference"

[[failure]]
case = "spec/a.wast:1"
reason = "because"
"#;

    fn result(id: &str, verdict: Verdict) -> CaseResult {
        CaseResult {
            id: id.into(),
            expected: OutcomeClass::Module,
            one_shot: None,
            plans_run: 1,
            failing_plans_total: 0,
            failing_plans: vec![],
            aborted: (verdict == Verdict::Fail).then(|| "timeout".into()),
            verdict,
        }
    }

    #[test]
    fn parses_entries() {
        let e = Expectations::parse(GOOD, Path::new("x.toml")).unwrap();
        assert_eq!(e.backend, "reference");
        assert_eq!(e.reason("spec/a.wast:1"), Some("because"));
    }

    #[test]
    fn errors_name_file_line_and_format() {
        let cases = [
            (
                "backend = \"r\"\n[[failure]]\ncase = \"a\"\nreason = \"\"\n",
                4,
                "empty reason",
            ),
            (
                "backend = \"r\"\n[[failure]]\ncase = \"a\"\n",
                2,
                "missing field `reason`",
            ),
            (
                "backend = \"r\"\n[[failure]]\ncase = \"a\"\nreason = \"x\"\nwhy = 1\n",
                5,
                "unknown field `why`",
            ),
            (
                &format!("{GOOD}\n[[failure]]\ncase = \"spec/a.wast:1\"\nreason = \"again\"\n"),
                8,
                "listed twice",
            ),
            ("backend = \n", 1, "expected an expectations file"),
        ];
        for (text, line, needle) in cases {
            let err = Expectations::parse(text, Path::new("e.toml"))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(&format!("e.toml:{line}:")), "{err}");
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn bless_keeps_reasons_adds_failures_and_drops_passes() {
        let e = Expectations::parse(GOOD, Path::new("x.toml")).unwrap();
        let blessed = e.blessed(&[
            result("spec/a.wast:1", Verdict::Pass),
            result("spec/b.wast:2", Verdict::Fail),
        ]);
        assert_eq!(blessed.reason("spec/a.wast:1"), None);
        assert!(blessed.reason("spec/b.wast:2").unwrap().contains("timeout"));
        let again = Expectations::parse(&blessed.to_toml(), Path::new("x.toml")).unwrap();
        assert_eq!(again.failures, blessed.failures);
    }
}
