//! Expectations files: the known failures of one backend, each with a
//! reason a human wrote.
//!
//! ```toml
//! backend = "node"
//! # The suites the file was made from: rules are judged stale only by a
//! # run of every suite they could match.
//! suites = ["spec", "webapi"]
//!
//! # One case.
//! [[failure]]
//! case = "webapi/chunks/array-buffer-chunks"
//! reason = "Node reads ArrayBuffer chunks as bytes; C4 requires a TypeError"
//!
//! # Many cases: a glob over case ids and/or the proposals the case uses.
//! [[rule]]
//! cases = "spec/proposals/gc/**"
//! requires = ["gc"]
//! reason = "Node 20's V8 implements a pre-standard GC encoding"
//!
//! # A known flakiness of the engine: cases that fail, then pass on a retry,
//! # having given the outcome named (optional: `outcome`, a class, and/or
//! # `message`, text the outcome shows).
//! [[intermittent]]
//! cases = "**"
//! outcome = "timeout"
//! reason = "Node 26 deadlocks now and then when ...; the hung worker's cases time out"
//! ```
//!
//! How they apply ([`Expectations::judge`], the one place):
//! - a `[[failure]]` case is checked both ways: failing is expected,
//!   passing is an unexpected pass (a stale entry);
//! - a truncation case inherits its parent's `[[failure]]` entry: it may
//!   fail, and may also pass;
//! - a `[[rule]]` matches a case when every given condition holds: `cases`
//!   (a glob: `*` stays within a `/` segment, `**` crosses them, `{a,b}`
//!   alternates) and `requires` (every proposal listed is one the case's
//!   module uses). Matching cases may fail; a rule that matched cases but
//!   none that failed is stale and fails an unfiltered run, but only when
//!   that run included every suite of the file's `suites` the rule could
//!   match (a run of a subset cannot tell a rule that is live elsewhere).
//! - an `[[intermittent]]` entry (a glob over case ids, optionally the
//!   outcome the flake gives, and a reason) says the engine is known to be
//!   flaky on its cases: one that fails unexpectedly, gave that outcome
//!   (its one-shot or a failing plan's: of class `outcome`, showing
//!   `message` in its text), and then passes on a retry (`--retries`) is
//!   *known flaky*, reported as flaky with the reason and never a failure
//!   of the run. It excuses nothing else: a case that fails every run is
//!   judged by the entries and rules above, and one that flaked another
//!   way is plain flaky. It is never stale, since a flaky engine need not
//!   flake on every night.
//!
//! The file is rewritten only by `--bless` (or `STREAMCONFORM_BLESS=1`
//! under `cargo test`), never in CI.

use crate::case::{Case, CaseOrigin};
use crate::error::Error;
use crate::features::{JS_API_PROPOSALS, KNOWN_FEATURES};
use crate::outcome::{Outcome, OutcomeClass};
use crate::verdict::{CaseResult, Status, Verdict, TIMEOUT_PREFIX};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Clone, Debug, Default)]
pub struct Expectations {
    pub path: PathBuf,
    pub backend: String,
    /// The suites the file was made from (its `suites`): a rule is judged
    /// stale only by a run that included each of them the rule could match.
    pub suites: Vec<String>,
    /// The names of the suites of the run judging with this file (see
    /// [`Self::judged_over`]); `None`: every suite the file names.
    run_suites: Option<BTreeSet<String>>,
    /// case id → its entry
    failures: BTreeMap<String, FailureEntry>,
    rules: Vec<Rule>,
    intermittent: Vec<Intermittent>,
    /// How often each entry and rule matched, for the staleness check.
    /// Shared by clones, so libtest trials and the run count together.
    hits: Arc<Hits>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct FailureEntry {
    reason: String,
    line: usize,
}

/// An `[[intermittent]]` entry: cases the engine is known to be flaky on.
#[derive(Clone, Debug)]
struct Intermittent {
    cases: String,
    matcher: globset::GlobMatcher,
    /// The class of outcome the flake gives, if the entry names one.
    outcome: Option<OutcomeClass>,
    /// Text that outcome shows (`Name: message`), if the entry names it.
    message: Option<String>,
    reason: String,
}

impl Intermittent {
    /// Whether `outcome` is the flake this entry names.
    fn gives(&self, outcome: &Outcome) -> bool {
        self.outcome.is_none_or(|class| outcome.class() == class)
            && self
                .message
                .as_ref()
                .is_none_or(|text| outcome.to_string().contains(text.as_str()))
    }
}

/// A `[[rule]]`: many cases, one reason.
#[derive(Clone, Debug)]
pub struct Rule {
    pub cases: Option<String>,
    matcher: Option<globset::GlobMatcher>,
    pub requires: Vec<String>,
    pub reason: String,
    pub line: usize,
}

#[derive(Debug, Default)]
struct Hits {
    /// Proposals used, per module (a truncation shares its parent's), so
    /// `requires` rules validate each module once, not once per rule.
    used: std::sync::Mutex<std::collections::HashMap<String, Arc<BTreeSet<String>>>>,
    entries: BTreeMap<String, AtomicUsize>,
    rule_matched: Vec<AtomicUsize>,
    rule_failed: Vec<AtomicUsize>,
}

/// What the expectations say of one case's verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Judgement {
    pub status: Status,
    /// Why the file lists the case, when it does.
    pub reason: Option<String>,
}

/// What one `[[failure]]` entry or `[[rule]]` matched in a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectationTally {
    /// The expectations file, as the run named it.
    pub file: String,
    pub line: usize,
    pub kind: TallyKind,
    /// The entry's case id, or the rule's description.
    pub name: String,
    /// Cases of the run it matched.
    pub matched: usize,
    /// Of those, failing ones (rules only; 0 for entries).
    pub failed: usize,
    /// Suites of the file the rule could match that the run did not
    /// include: a rule with any is not judged stale.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suites_not_run: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TallyKind {
    Entry,
    Rule,
}

impl RuleCheck {
    /// Entries and rules that matched nothing, and rules that matched
    /// cases none of which failed.
    pub fn from_tallies(tallies: &[ExpectationTally]) -> RuleCheck {
        let mut check = RuleCheck::default();
        for t in tallies {
            let (file, line, name, matched) = (&t.file, t.line, &t.name, t.matched);
            match t.kind {
                TallyKind::Entry if matched == 0 => check
                    .not_run
                    .push(format!("{file}:{line}: [[failure]] {name} is not in this run")),
                TallyKind::Entry => {}
                TallyKind::Rule if matched == 0 => check.not_run.push(format!(
                    "{file}:{line}: rule {name} matched no case of this run"
                )),
                TallyKind::Rule if t.failed == 0 && !t.suites_not_run.is_empty() => {
                    check.not_run.push(format!(
                        "{file}:{line}: rule {name} matched {matched} case(s) and none failed; not judged stale, as it may match cases of suite(s) {} that this run did not include",
                        t.suites_not_run.join(", ")
                    ))
                }
                TallyKind::Rule if t.failed == 0 => check.stale.push(format!(
                    "{file}:{line}: rule {name} matched {matched} case(s) and none failed: remove it or narrow it"
                )),
                TallyKind::Rule => {}
            }
        }
        check
    }
}

/// The result of checking rules and entries after an unfiltered run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleCheck {
    /// Rules that matched cases, none of them failing.
    pub stale: Vec<String>,
    /// Entries and rules that matched no case of the run.
    pub not_run: Vec<String>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct File {
    backend: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    suites: Vec<toml::Spanned<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    rule: Vec<RuleEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    failure: Vec<Entry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    intermittent: Vec<IntermittentEntry>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct IntermittentEntry {
    cases: toml::Spanned<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outcome: Option<OutcomeClass>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message: Option<toml::Spanned<String>>,
    reason: toml::Spanned<String>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    case: toml::Spanned<String>,
    reason: toml::Spanned<String>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RuleEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cases: Option<toml::Spanned<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    requires: Vec<String>,
    reason: toml::Spanned<String>,
}

const FORMAT: &str = "an expectations file: `backend = \"NAME\"`, optional `suites = [\"NAME\", ...]`, `[[failure]]` tables with `case` and `reason`, `[[rule]]` tables with `cases` and/or `requires`, and `reason`, `[[intermittent]]` tables with `cases`, optional `outcome` and `message`, and `reason`";

impl Expectations {
    /// An empty set for `backend`, to be filled by blessing.
    pub fn empty(backend: &str, path: &Path) -> Expectations {
        Expectations {
            path: path.to_path_buf(),
            backend: backend.to_string(),
            ..Expectations::default()
        }
    }

    pub fn load(path: &Path) -> Result<Expectations, Error> {
        use crate::suites::tree::{read_regular_file, ReadBounds};
        // A FIFO or a device given as the file must not block or fill memory.
        let bytes = read_regular_file(path, ReadBounds::CASE_FILE)?;
        let text = String::from_utf8(bytes).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Expectations, Error> {
        let at = |offset: usize, message: String| Error::toml_at(path, text, offset, message);
        let line = |offset: usize| crate::error::line_of_offset(text, offset);
        let file: File =
            toml::from_str(text).map_err(|e| Error::toml_parse(path, text, &e, FORMAT))?;
        let mut suites: Vec<String> = Vec::new();
        for suite in file.suites {
            let name = suite.get_ref();
            if name.trim().is_empty() || suites.contains(name) {
                return Err(at(
                    suite.span().start,
                    format!("`suites` lists {name:?} twice or empty; list each suite the file was made from once"),
                ));
            }
            suites.push(suite.into_inner());
        }
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
            let parsed = FailureEntry {
                reason: entry.reason.into_inner(),
                line: line(entry.case.span().start),
            };
            if failures.insert(case.clone(), parsed).is_some() {
                return Err(at(
                    entry.case.span().start,
                    format!("case {case:?} is listed twice"),
                ));
            }
        }
        let mut rules = Vec::new();
        for entry in file.rule {
            let start = entry.reason.span().start;
            if entry.reason.get_ref().trim().is_empty() {
                return Err(at(
                    start,
                    "a rule has an empty reason; say why its cases fail".into(),
                ));
            }
            if entry.cases.is_none() && entry.requires.is_empty() {
                return Err(at(
                    start,
                    "a rule needs `cases` (a glob over case ids) or `requires` (proposals), or both"
                        .into(),
                ));
            }
            if let Some(unknown) = entry.requires.iter().find(|p| {
                !KNOWN_FEATURES.contains(&p.as_str()) && !JS_API_PROPOSALS.contains(&p.as_str())
            }) {
                return Err(at(
                    start,
                    format!(
                        "unknown proposal {unknown:?} in `requires`; expected one of {}, {}",
                        KNOWN_FEATURES.join(", "),
                        JS_API_PROPOSALS.join(", ")
                    ),
                ));
            }
            let (cases, matcher, line_no) = match entry.cases {
                Some(glob) => {
                    let matcher = case_glob(glob.get_ref()).map_err(|e| {
                        at(glob.span().start, format!("`cases` is not a glob: {e}"))
                    })?;
                    let line_no = line(glob.span().start);
                    (Some(glob.into_inner()), Some(matcher), line_no)
                }
                None => (None, None, line(start)),
            };
            rules.push(Rule {
                cases,
                matcher,
                requires: entry.requires,
                reason: entry.reason.into_inner(),
                line: line_no,
            });
        }
        let mut intermittent = Vec::new();
        for entry in file.intermittent {
            if entry.reason.get_ref().trim().is_empty() {
                return Err(at(
                    entry.reason.span().start,
                    "an intermittent entry has an empty reason; say why its cases flake".into(),
                ));
            }
            let glob = entry.cases;
            let matcher = case_glob(glob.get_ref())
                .map_err(|e| at(glob.span().start, format!("`cases` is not a glob: {e}")))?;
            if let Some(message) = entry.message.as_ref().filter(|m| m.get_ref().is_empty()) {
                return Err(at(
                    message.span().start,
                    "an intermittent entry's `message` is empty; leave it out to match any text"
                        .into(),
                ));
            }
            intermittent.push(Intermittent {
                cases: glob.into_inner(),
                matcher,
                outcome: entry.outcome,
                message: entry.message.map(toml::Spanned::into_inner),
                reason: entry.reason.into_inner(),
            });
        }
        let hits = Hits {
            used: Default::default(),
            entries: failures
                .keys()
                .map(|k| (k.clone(), AtomicUsize::new(0)))
                .collect(),
            rule_matched: rules.iter().map(|_| AtomicUsize::new(0)).collect(),
            rule_failed: rules.iter().map(|_| AtomicUsize::new(0)).collect(),
        };
        Ok(Expectations {
            path: path.to_path_buf(),
            backend: file.backend,
            suites,
            run_suites: None,
            failures,
            rules,
            intermittent,
            hits: Arc::new(hits),
        })
    }

    /// The reason of the first `[[intermittent]]` entry covering `case`
    /// (or the case it was cut from) and the flake of its failed run
    /// `failed` (its one-shot or a failing plan gave the outcome the entry
    /// names), if one does.
    pub fn intermittent(&self, case: &Case, failed: &CaseResult) -> Option<String> {
        let parent = match &case.origin {
            CaseOrigin::Truncation { parent, .. } => Some(parent.as_str()),
            _ => None,
        };
        // A case ended by its own `--timeout` has no outcome of the kind:
        // it timed out all the same.
        let case_timed_out = failed
            .aborted
            .as_deref()
            .is_some_and(|why| why.starts_with(TIMEOUT_PREFIX))
            .then_some(&Outcome::Timeout);
        let outcomes = failed
            .one_shot
            .iter()
            .chain(failed.failing_plans.iter().map(|p| &p.actual))
            .chain(case_timed_out);
        self.intermittent
            .iter()
            .find(|i| {
                (i.matcher.is_match(&case.id) || parent.is_some_and(|p| i.matcher.is_match(p)))
                    && ((i.outcome.is_none() && i.message.is_none())
                        || outcomes.clone().any(|o| i.gives(o)))
            })
            .map(|i| i.reason.clone())
    }

    /// Records the names of the suites the judging run includes (as case
    /// ids begin), so that a rule is judged stale only when the run covers
    /// every suite of the file it could match.
    pub fn judged_over(mut self, run_suites: impl IntoIterator<Item = String>) -> Self {
        self.run_suites = Some(run_suites.into_iter().collect());
        self
    }

    /// The file's suites that `rule` could match and the run did not
    /// include (none when the file names no suites, or the run is unknown).
    fn suites_not_run(&self, rule: &Rule) -> Vec<String> {
        let Some(run) = &self.run_suites else {
            return Vec::new();
        };
        self.suites
            .iter()
            .filter(|suite| !run.contains(*suite) && rule.could_match_suite(suite))
            .cloned()
            .collect()
    }

    /// The reason of a `[[failure]]` entry for exactly this case id.
    pub fn reason(&self, case_id: &str) -> Option<&str> {
        self.failures.get(case_id).map(|e| e.reason.as_str())
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Entries plus rules.
    pub fn len(&self) -> usize {
        self.failures.len() + self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Applies the file to one case's verdict, and counts the match for
    /// the staleness check. The only place expectations are applied.
    /// Whether a failure of `case` would be an expected one, as
    /// [`Self::judge`] decides it, but without counting a match (a retry
    /// asks before the case is judged).
    pub fn expects_failure(&self, case: &Case) -> bool {
        if self.failures.contains_key(&case.id) {
            return true;
        }
        if let CaseOrigin::Truncation { parent, .. } = &case.origin {
            if self.failures.contains_key(parent) {
                return true;
            }
        }
        let mut used = None;
        self.rules.iter().any(|rule| {
            rule.matches(case, || {
                used.get_or_insert_with(|| self.proposals_used(case))
                    .clone()
            })
        })
    }

    pub fn judge(&self, case: &Case, verdict: Verdict) -> Judgement {
        let plain = |status| Judgement {
            status,
            reason: None,
        };
        match verdict {
            Verdict::NotApplicable => return plain(Status::NotApplicable),
            Verdict::Invalid => return plain(Status::Invalid),
            Verdict::Pass | Verdict::Fail => {}
        }
        let failed = verdict == Verdict::Fail;
        if let Some(entry) = self.failures.get(&case.id) {
            self.count_entry(&case.id);
            return Judgement {
                status: Status::from_verdict(verdict, true),
                reason: Some(entry.reason.clone()),
            };
        }
        if let CaseOrigin::Truncation { parent, .. } = &case.origin {
            if let Some(entry) = self.failures.get(parent) {
                return Judgement {
                    status: if failed {
                        Status::ExpectedFailure
                    } else {
                        Status::Passed
                    },
                    reason: Some(format!("cut from {parent}: {}", entry.reason)),
                };
            }
        }
        let mut used = None;
        for (i, rule) in self.rules.iter().enumerate() {
            if rule.matches(case, || {
                used.get_or_insert_with(|| self.proposals_used(case))
                    .clone()
            }) {
                self.hits.rule_matched[i].fetch_add(1, Ordering::Relaxed);
                if !failed {
                    return plain(Status::Passed);
                }
                self.hits.rule_failed[i].fetch_add(1, Ordering::Relaxed);
                return Judgement {
                    status: Status::ExpectedFailure,
                    reason: Some(rule.reason.clone()),
                };
            }
        }
        plain(Status::from_verdict(verdict, false))
    }

    fn proposals_used(&self, case: &Case) -> Arc<BTreeSet<String>> {
        let key = match &case.origin {
            CaseOrigin::Truncation { parent, .. } => parent,
            _ => &case.id,
        };
        if let Some(used) = self.hits.used.lock().unwrap().get(key) {
            return used.clone();
        }
        let used = Arc::new(case.proposals_used());
        self.hits
            .used
            .lock()
            .unwrap()
            .insert(key.clone(), used.clone());
        used
    }

    fn count_entry(&self, id: &str) {
        if let Some(n) = self.hits.entries.get(id) {
            n.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// After a run that judged every case: stale rules and unmatched
    /// entries, each named with the file and line.
    pub fn check_rules(&self) -> RuleCheck {
        RuleCheck::from_tallies(&self.tallies())
    }

    /// How many cases of this run each entry and rule matched (and, for
    /// rules, how many failed), in file order: what [`Self::check_rules`]
    /// judges. A shard records them so that `report merge` can judge the
    /// rules over every shard, as one unsharded run would.
    pub fn tallies(&self) -> Vec<ExpectationTally> {
        let file = self.path.display().to_string();
        let entries = self.hits.entries.iter().map(|(id, n)| ExpectationTally {
            file: file.clone(),
            line: self.failures[id].line,
            kind: TallyKind::Entry,
            name: id.clone(),
            matched: n.load(Ordering::Relaxed),
            failed: 0,
            suites_not_run: Vec::new(),
        });
        let rules = self
            .rules
            .iter()
            .enumerate()
            .map(|(i, rule)| ExpectationTally {
                file: file.clone(),
                line: rule.line,
                kind: TallyKind::Rule,
                name: rule.describe(),
                matched: self.hits.rule_matched[i].load(Ordering::Relaxed),
                failed: self.hits.rule_failed[i].load(Ordering::Relaxed),
                suites_not_run: self.suites_not_run(rule),
            });
        entries.chain(rules).collect()
    }

    /// The file as it should be after a run: failing cases listed (keeping
    /// existing entries and rules), entries of passing cases dropped, stale
    /// rules dropped (only those judged stale: see [`Self::judged_over`]).
    /// New failures that share an unsupported proposal
    /// become one proposed rule; a truncation case of a listed parent
    /// needs nothing. New entries and rules say `TODO explain`.
    pub fn blessed(&self, results: &[BlessInput]) -> Expectations {
        let mut failures = self.failures.clone();
        let mut proposed: BTreeMap<String, Vec<&BlessInput>> = BTreeMap::new();
        let mut new_failures = Vec::new();
        for r in results {
            match r.verdict {
                Verdict::Pass => {
                    failures.remove(&r.id);
                }
                Verdict::NotApplicable | Verdict::Invalid => {}
                Verdict::Fail if r.covered || failures.contains_key(&r.id) => {}
                // A crash or timeout is never recorded as a known failure.
                Verdict::Fail if r.crashed => {}
                Verdict::Fail => match r.unsupported.first() {
                    Some(proposal) => proposed.entry(proposal.clone()).or_default().push(r),
                    None => new_failures.push(r),
                },
            }
        }
        let mut rules: Vec<Rule> = self
            .rules
            .iter()
            .enumerate()
            .filter(|(i, rule)| {
                self.hits.rule_matched[*i].load(Ordering::Relaxed) == 0
                    || self.hits.rule_failed[*i].load(Ordering::Relaxed) > 0
                    || !self.suites_not_run(rule).is_empty()
            })
            .map(|(_, r)| r.clone())
            .collect();
        for (proposal, cases) in proposed {
            if cases.len() == 1 {
                new_failures.extend(cases);
                continue;
            }
            rules.push(Rule {
                cases: None,
                matcher: None,
                requires: vec![proposal.clone()],
                reason: format!(
                    "TODO explain; {} cases fail and the engine does not support proposal {proposal}, even with its switches",
                    cases.len()
                ),
                line: 0,
            });
        }
        for r in new_failures {
            failures.insert(
                r.id.clone(),
                FailureEntry {
                    reason: format!("TODO explain; blessed from: {}", r.summary),
                    line: 0,
                },
            );
        }
        Expectations {
            path: self.path.clone(),
            backend: self.backend.clone(),
            suites: self.suites.clone(),
            run_suites: None,
            failures,
            rules,
            intermittent: self.intermittent.clone(),
            hits: Arc::default(),
        }
    }

    pub fn to_toml(&self) -> String {
        let file = File {
            backend: self.backend.clone(),
            suites: self
                .suites
                .iter()
                .map(|s| toml::Spanned::new(0..0, s.clone()))
                .collect(),
            rule: self
                .rules
                .iter()
                .map(|r| RuleEntry {
                    cases: r.cases.clone().map(|c| toml::Spanned::new(0..0, c)),
                    requires: r.requires.clone(),
                    reason: toml::Spanned::new(0..0, r.reason.clone()),
                })
                .collect(),
            failure: self
                .failures
                .iter()
                .map(|(case, e)| Entry {
                    case: toml::Spanned::new(0..0, case.clone()),
                    reason: toml::Spanned::new(0..0, e.reason.clone()),
                })
                .collect(),
            intermittent: self
                .intermittent
                .iter()
                .map(|i| IntermittentEntry {
                    cases: toml::Spanned::new(0..0, i.cases.clone()),
                    outcome: i.outcome,
                    message: i.message.clone().map(|m| toml::Spanned::new(0..0, m)),
                    reason: toml::Spanned::new(0..0, i.reason.clone()),
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

impl Rule {
    /// Whether the rule covers `case`; a truncated prefix is covered by
    /// the rules of the case it was cut from.
    fn matches(&self, case: &Case, used: impl FnOnce() -> Arc<BTreeSet<String>>) -> bool {
        if let Some(glob) = &self.matcher {
            let parent = match &case.origin {
                CaseOrigin::Truncation { parent, .. } => Some(parent.as_str()),
                _ => None,
            };
            if !glob.is_match(&case.id) && !parent.is_some_and(|p| glob.is_match(p)) {
                return false;
            }
        }
        if self.requires.is_empty() {
            return true;
        }
        let used = used();
        self.requires.iter().all(|p| used.contains(p))
    }

    /// Whether some case of `suite` (its ids begin `SUITE/`) could match
    /// the `cases` glob: judged on the glob's literal beginning, so a glob
    /// that begins with a pattern could match any suite.
    fn could_match_suite(&self, suite: &str) -> bool {
        let Some(glob) = &self.cases else {
            return true;
        };
        let literal = match glob.find(['*', '?', '[', '{', '\\']) {
            Some(end) => &glob[..end],
            None => glob,
        };
        let prefix = format!("{suite}/");
        literal.starts_with(&prefix) || prefix.starts_with(literal)
    }

    fn describe(&self) -> String {
        match (&self.cases, self.requires.is_empty()) {
            (Some(glob), true) => format!("cases = {glob:?}"),
            (None, false) => format!("requires = {:?}", self.requires),
            (Some(glob), false) => format!("cases = {glob:?}, requires = {:?}", self.requires),
            (None, true) => "(matches everything)".into(),
        }
    }
}

/// A `cases` glob: `*` stays within a `/` segment, `**` crosses them.
fn case_glob(glob: &str) -> Result<globset::GlobMatcher, globset::Error> {
    Ok(globset::GlobBuilder::new(glob)
        .literal_separator(true)
        .build()?
        .compile_matcher())
}

/// What bless needs to know of one judged case.
#[derive(Clone, Debug)]
pub struct BlessInput {
    pub id: String,
    pub verdict: Verdict,
    /// A rule or the parent's entry already covers this failure.
    pub covered: bool,
    pub unsupported: Vec<String>,
    pub summary: String,
    /// The failure is a crash or a timeout: the harness's or the
    /// machine's trouble as likely as the engine's, so never blessed.
    pub crashed: bool,
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
    use crate::features::Features;
    use crate::outcome::OutcomeClass;

    const GOOD: &str = r#"backend = "reference"

[[failure]]
case = "spec/a.wast:1"
reason = "because"
"#;

    fn case(id: &str) -> Case {
        Case {
            id: id.into(),
            suite: "spec".into(),
            group: "g".into(),
            origin: CaseOrigin::Directive,
            bytes: b"\0asm\x01\0\0\0".to_vec().into(),
            expected: OutcomeClass::Module.into(),
            features: Arc::new(Features::baseline()),
            scenario: None,
            function: Default::default(),
            imports: Default::default(),
        }
    }

    fn truncated(parent: &str) -> Case {
        Case {
            origin: CaseOrigin::Truncation {
                parent: parent.into(),
                len: 3,
            },
            ..case(&format!("{parent}/truncated@3"))
        }
    }

    fn bless_input(id: &str, verdict: Verdict, unsupported: &[&str]) -> BlessInput {
        BlessInput {
            id: id.into(),
            verdict,
            covered: false,
            unsupported: unsupported.iter().map(|s| s.to_string()).collect(),
            summary: "compile-error".into(),
            crashed: false,
        }
    }

    /// An `[[intermittent]]` entry that names its flake's outcome covers
    /// only a failed run that gave it: in the one-shot or a failing plan,
    /// of that class, showing that text; it survives a bless whole.
    #[test]
    fn an_intermittent_entry_naming_an_outcome_covers_only_that_flake() {
        use crate::verdict::PlanFailure;
        let text = r#"backend = "x"
[[intermittent]]
cases = "**"
outcome = "other-error"
message = "out of memory"
reason = "runs out of memory under load"
"#;
        let e = Expectations::parse(text, Path::new("x.toml")).unwrap();
        let c = case("spec/a/b.wast:1");
        let run = |one_shot: Outcome, plan: Outcome| CaseResult {
            one_shot: Some(one_shot),
            failing_plans: vec![PlanFailure {
                plan: "whole".into(),
                cuts: vec![],
                actual: plan,
                failed: vec![],
                reads: None,
            }],
            ..CaseResult::start(&c, 2)
        };
        let oom = Outcome::OtherError {
            name: "InternalError".into(),
            message: "out of memory".into(),
        };
        let other = Outcome::OtherError {
            name: "RangeError".into(),
            message: "too many".into(),
        };
        let compile = Outcome::CompileError {
            message: "out of memory".into(),
        };
        let timeout = Outcome::Timeout;
        // In a failing plan or in the one-shot.
        assert!(e
            .intermittent(&c, &run(timeout.clone(), oom.clone()))
            .is_some());
        assert!(e
            .intermittent(&c, &run(oom.clone(), timeout.clone()))
            .is_some());
        // Another text, or the text in another class, is another flake.
        assert_eq!(e.intermittent(&c, &run(timeout.clone(), other)), None);
        assert_eq!(e.intermittent(&c, &run(timeout.clone(), compile)), None);
        assert_eq!(e.intermittent(&c, &CaseResult::start(&c, 0)), None);
        // A case its own --timeout ended timed out, whatever it recorded.
        let timeouts = Expectations::parse(
            &text.replace(
                "outcome = \"other-error\"\nmessage = \"out of memory\"",
                "outcome = \"timeout\"",
            ),
            Path::new("x.toml"),
        )
        .unwrap();
        let ended = CaseResult::aborted(&c, format!("{TIMEOUT_PREFIX} no result after 120s"));
        assert!(timeouts.intermittent(&c, &ended).is_some());
        assert_eq!(e.intermittent(&c, &ended), None);
        let blessed = e.blessed(&[]).to_toml();
        let again = Expectations::parse(&blessed, Path::new("x.toml")).unwrap();
        assert!(again.intermittent(&c, &run(timeout.clone(), oom)).is_some());
        assert!(blessed.contains("outcome = \"other-error\""), "{blessed}");
        // An unknown class is refused with its line; so is an empty text.
        for (bad, says) in [
            ("outcome = \"oom\"", "unknown variant"),
            ("message = \"\"", "is empty"),
        ] {
            let text = format!(
                "backend = \"x\"\n[[intermittent]]\ncases = \"**\"\n{bad}\nreason = \"r\"\n"
            );
            let error = Expectations::parse(&text, Path::new("x.toml"))
                .unwrap_err()
                .to_string();
            assert!(
                error.contains(says) && error.contains("x.toml:4"),
                "{error}"
            );
        }
    }

    /// `[[intermittent]]` entries match by glob (a truncation by its
    /// parent), need a reason, judge nothing themselves and survive a bless.
    #[test]
    fn intermittent_entries_name_flaky_cases_and_survive_bless() {
        let text = r#"backend = "x"
[[intermittent]]
cases = "spec/a/**"
reason = "deadlocks now and then"
"#;
        let e = Expectations::parse(text, Path::new("x.toml")).unwrap();
        let failed = |c: &Case| CaseResult::start(c, 1);
        let a = case("spec/a/b.wast:1");
        assert_eq!(
            e.intermittent(&a, &failed(&a)).as_deref(),
            Some("deadlocks now and then")
        );
        let t = truncated("spec/a/b.wast:1");
        assert!(e.intermittent(&t, &failed(&t)).is_some());
        let b = case("spec/b.wast:1");
        assert_eq!(e.intermittent(&b, &failed(&b)), None);
        // It judges nothing: a failure it covers is a failure.
        assert_eq!(
            e.judge(&case("spec/a/b.wast:1"), Verdict::Fail).status,
            Status::Failed
        );
        assert!(!e.expects_failure(&case("spec/a/b.wast:1")));
        let check = e.check_rules();
        assert!(check.stale.is_empty() && check.not_run.is_empty());
        let blessed = e.blessed(&[]).to_toml();
        assert!(
            blessed.contains("[[intermittent]]") && blessed.contains("deadlocks now and then"),
            "{blessed}"
        );
        let empty = text.replace("deadlocks now and then", " ");
        let error = Expectations::parse(&empty, Path::new("x.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("x.toml:4") && error.contains("empty reason"),
            "{error}"
        );
    }

    #[test]
    fn entries_are_checked_both_ways_and_truncations_inherit() {
        let e = Expectations::parse(GOOD, Path::new("x.toml")).unwrap();
        assert_eq!(e.backend, "reference");
        let listed = case("spec/a.wast:1");
        assert_eq!(
            e.judge(&listed, Verdict::Fail).status,
            Status::ExpectedFailure
        );
        assert_eq!(
            e.judge(&listed, Verdict::Pass).status,
            Status::UnexpectedPass
        );
        let child = truncated("spec/a.wast:1");
        let j = e.judge(&child, Verdict::Fail);
        assert_eq!(j.status, Status::ExpectedFailure);
        assert!(j
            .reason
            .unwrap()
            .starts_with("cut from spec/a.wast:1: because"));
        assert_eq!(e.judge(&child, Verdict::Pass).status, Status::Passed);
        assert_eq!(
            e.judge(&case("spec/b.wast:1"), Verdict::Fail).status,
            Status::Failed
        );
    }

    #[test]
    fn rules_match_by_glob_and_go_stale_when_nothing_fails() {
        let text = r#"backend = "x"

[[rule]]
cases = "spec/proposals/gc/*.wast:*"
reason = "no gc"

[[rule]]
cases = "webapi/**"
reason = "never fails"

[[rule]]
cases = "nothing/**"
reason = "not in this run"
"#;
        let e = Expectations::parse(text, Path::new("r.toml")).unwrap();
        let gc = case("spec/proposals/gc/array.wast:12");
        assert_eq!(e.judge(&gc, Verdict::Fail).status, Status::ExpectedFailure);
        assert_eq!(e.judge(&gc, Verdict::Pass).status, Status::Passed);
        // `*` does not cross a `/`.
        let deeper = case("spec/proposals/gc/sub/array.wast:12");
        assert_eq!(e.judge(&deeper, Verdict::Fail).status, Status::Failed);
        // A truncated prefix is covered by its parent's rule, although its
        // own id (`…:12/truncated@3`) has a `/` the glob does not cross.
        let cut = truncated("spec/proposals/gc/array.wast:12");
        assert_eq!(e.judge(&cut, Verdict::Fail).status, Status::ExpectedFailure);
        assert_eq!(
            e.judge(&case("webapi/body/x"), Verdict::Pass).status,
            Status::Passed
        );
        let check = e.check_rules();
        assert_eq!(check.stale.len(), 1, "{check:?}");
        assert!(
            check.stale[0].starts_with("r.toml:8: rule cases = \"webapi/**\""),
            "{check:?}"
        );
        assert_eq!(check.not_run.len(), 1);
        assert!(check.not_run[0].starts_with("r.toml:12:"), "{check:?}");
    }

    #[test]
    fn requires_matches_the_proposals_a_module_uses() {
        let text =
            "backend = \"x\"\n[[rule]]\nrequires = [\"custom-page-sizes\"]\nreason = \"r\"\n";
        let e = Expectations::parse(text, Path::new("r.toml")).unwrap();
        // A memory with a custom page size of 1 byte.
        let mut uses = case("spec/u.wast:1");
        uses.bytes = b"\0asm\x01\0\0\0\x05\x04\x01\x08\x01\x00".to_vec().into();
        uses.features = Arc::new(Features::from_names(["custom-page-sizes"]).unwrap());
        let mut declares_only = case("spec/d.wast:1");
        declares_only.features = uses.features.clone();
        assert_eq!(
            e.judge(&uses, Verdict::Fail).status,
            Status::ExpectedFailure
        );
        assert_eq!(
            e.judge(&declares_only, Verdict::Fail).status,
            Status::Failed
        );
    }

    #[test]
    fn the_shipped_files_parse_and_name_the_suites_they_were_made_from() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../expectations");
        let mut checked = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "toml") {
                continue;
            }
            let e = Expectations::load(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(!e.suites.is_empty(), "{}: no `suites`", path.display());
            assert!(!e.is_empty(), "{}", path.display());
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            assert_eq!(
                e.backend,
                stem,
                "{}: `backend` is not its name",
                path.display()
            );
            checked.push(stem);
        }
        checked.sort();
        let backends = [
            "bun",
            "chromium",
            "deno",
            "firefox",
            "node",
            "node@22",
            "node@24",
            "node@26",
            "reference",
            "webkit",
        ];
        assert_eq!(checked, backends);
    }

    #[test]
    fn a_rule_is_stale_only_if_every_suite_it_could_match_ran() {
        let text = "backend = \"x\"\nsuites = [\"spec\", \"webapi\"]\n\
            [[rule]]\ncases = \"spec/a*\"\nreason = \"r\"\n\
            [[rule]]\ncases = \"*/b*\"\nreason = \"r\"\n\
            [[rule]]\nrequires = [\"gc\"]\ncases = \"webapi/**\"\nreason = \"r\"\n";
        let e = Expectations::parse(text, Path::new("r.toml")).unwrap();
        let rules = e.rules();
        let suites = |rule: &Rule| -> Vec<&str> {
            ["spec", "webapi", "streaming"]
                .into_iter()
                .filter(|s| rule.could_match_suite(s))
                .collect()
        };
        assert_eq!(suites(&rules[0]), ["spec"]);
        assert_eq!(suites(&rules[1]), ["spec", "webapi", "streaming"]);
        assert_eq!(suites(&rules[2]), ["webapi"]);
        let over = |run: &[&str]| {
            let e = e.clone().judged_over(run.iter().map(|s| s.to_string()));
            e.rules()
                .iter()
                .map(|r| e.suites_not_run(r))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            over(&["spec"]),
            [
                vec![],
                vec!["webapi".to_string()],
                vec!["webapi".to_string()]
            ]
        );
        assert_eq!(
            over(&["spec", "webapi"]),
            [Vec::<String>::new(), vec![], vec![]]
        );
        // The file's suites only: a suite it does not name is not waited for.
        assert_eq!(
            over(&["webapi", "streaming"]),
            [vec!["spec".to_string()], vec!["spec".to_string()], vec![]]
        );
    }

    #[test]
    fn crashes_and_timeouts_are_never_blessed() {
        let e = Expectations::empty("x", Path::new("x.toml"));
        let crashed = BlessInput {
            crashed: true,
            ..bless_input("spec/a.wast:1", Verdict::Fail, &[])
        };
        let failed = bless_input("spec/a.wast:2", Verdict::Fail, &[]);
        let blessed = e.blessed(&[crashed, failed]);
        assert_eq!(blessed.len(), 1);
        assert!(blessed.reason("spec/a.wast:2").is_some());
        assert!(blessed.reason("spec/a.wast:1").is_none());
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
            (
                "backend = \"r\"\n[[rule]]\nreason = \"x\"\n",
                3,
                "needs `cases`",
            ),
            (
                "backend = \"r\"\n[[rule]]\nrequires = [\"gcc\"]\nreason = \"x\"\n",
                4,
                "unknown proposal \"gcc\"",
            ),
            (
                "backend = \"r\"\n[[rule]]\ncases = \"a/{b\"\nreason = \"x\"\n",
                3,
                "not a glob",
            ),
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
    fn bless_keeps_reasons_adds_failures_proposes_rules_and_drops_passes() {
        let e = Expectations::parse(GOOD, Path::new("x.toml")).unwrap();
        let blessed = e.blessed(&[
            bless_input("spec/a.wast:1", Verdict::Pass, &[]),
            bless_input("spec/b.wast:2", Verdict::Fail, &[]),
            bless_input("spec/gc/1", Verdict::Fail, &["gc"]),
            bless_input("spec/gc/2", Verdict::Fail, &["gc"]),
        ]);
        assert_eq!(blessed.reason("spec/a.wast:1"), None);
        let reason = blessed.reason("spec/b.wast:2").unwrap();
        assert!(reason.starts_with("TODO explain") && reason.contains("compile-error"));
        assert_eq!(blessed.rules.len(), 1);
        assert_eq!(blessed.rules[0].requires, ["gc"]);
        assert!(blessed.rules[0].reason.contains("2 cases"));
        assert_eq!(blessed.reason("spec/gc/1"), None);
        let again = Expectations::parse(&blessed.to_toml(), Path::new("x.toml")).unwrap();
        assert_eq!(again.failures.len(), blessed.failures.len());
        assert_eq!(again.rules.len(), 1);
    }
}
