//! Interop: what every engine in a report passes, per suite and group and
//! per pair of engines, and the cases where engines disagree, each
//! engine's outcome side by side. The site opens with it and the Markdown
//! summary carries its table (`reports/FORMATS.md`).
//!
//! - **Engines** are the report's backends but the reference (a model of
//!   the specification, not an engine), one per engine: of several
//!   releases of one engine (`node`, `node@22`), only the newest by the
//!   version it reports takes part; the others are named in
//!   [`Interop::older_releases`] (the releases view compares them).
//! - A case **passes** on an engine when its verdict is a pass (passed or
//!   unexpected pass). An expected failure, an unsupported proposal, an
//!   invalid case and a flaky one do not pass: the share says what works
//!   everywhere, whatever each engine's expectations excuse.
//! - A case counts for a row only when every engine judged it (not
//!   applicable on none, present in each engine's results); the others are
//!   counted apart, so a share never hides an engine that did not run it.
//! - A case **disagrees** when, of the engines that judged it, at least
//!   one passes and at least one does not.

use std::collections::HashMap;
use streamconform::backend::REFERENCE_NAME;
use streamconform::outcome::OutcomeClass;
use streamconform::reporter::json::{Report, ReportedCase};
use streamconform::reporter::releases::engines_of;
use streamconform::verdict::Status;

/// Interop of one report; `None` from [`Interop::of`] when it has fewer
/// than two engines.
#[derive(Clone, Debug)]
pub struct Interop {
    /// The backends compared, in the report's backend order.
    pub engines: Vec<String>,
    /// Releases left out because a newer release of their engine is in.
    pub older_releases: Vec<String>,
    /// Backends left out because they judged no case (their engine could
    /// not be set up, or every case was not applicable to it): they would
    /// make every share empty.
    pub without_results: Vec<String>,
    /// Per (suite, group), sorted; see [`Share`].
    pub groups: Vec<Share>,
    /// Per suite, every group together, sorted.
    pub suites: Vec<Share>,
    /// Every case of the report.
    pub total: Share,
    /// Cases where engines disagree, by (suite, group, id).
    pub disagreements: Vec<Disagreement>,
}

/// Interop counts over some cases.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Share {
    pub suite: String,
    /// Empty for a suite's or the whole report's share.
    pub group: String,
    /// Cases every engine judged.
    pub judged: usize,
    /// Of those, passed by every engine.
    pub all_pass: usize,
    /// Of those, passed by no engine.
    pub none_pass: usize,
    /// Per pair of engines ([`Interop::pairs`] order): cases both judged,
    /// and of those, passed by both.
    pub pairs: Vec<PairShare>,
    /// Cases some engine did not judge (not applicable, or not run).
    pub not_judged_everywhere: usize,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PairShare {
    pub judged: usize,
    pub both_pass: usize,
}

/// One case where engines disagree.
#[derive(Clone, Debug)]
pub struct Disagreement {
    pub suite: String,
    pub group: String,
    pub id: String,
    /// The outcome the specification gives.
    pub expected: OutcomeClass,
    /// Per engine, in [`Interop::engines`] order; `None` when the engine
    /// has no result for the case.
    pub outcomes: Vec<Option<EngineOutcome>>,
}

/// What one engine gave for a case, as the interop view shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineOutcome {
    pub status: Status,
    pub passes: bool,
    /// The module uses a proposal the engine lacks.
    pub unsupported: bool,
    /// What the engine gave: under the first failing plan when one failed,
    /// else its one-shot result (`CompileError: ...`), else why the case
    /// stopped.
    pub result: String,
    /// The first failing plan, when one failed.
    pub first_failing_plan: Option<String>,
    pub plans_run: usize,
    pub failing_plans: usize,
}

impl EngineOutcome {
    fn of(case: &ReportedCase) -> EngineOutcome {
        let first_failing = case.failing_plans.first();
        let result = match (first_failing, &case.one_shot, &case.aborted) {
            (Some(plan), _, _) => plan.actual.to_string(),
            (None, Some(outcome), _) => outcome.to_string(),
            (None, None, Some(aborted)) => aborted.clone(),
            (None, None, None) => String::new(),
        };
        EngineOutcome {
            status: case.status,
            passes: passes(case.status),
            unsupported: !case.unsupported.is_empty(),
            result,
            first_failing_plan: first_failing.map(|p| p.plan.clone()),
            plans_run: case.plans_run,
            failing_plans: case.failing_plans_total,
        }
    }
}

fn passes(status: Status) -> bool {
    matches!(status, Status::Passed | Status::UnexpectedPass)
}

impl Share {
    fn new(suite: &str, group: &str, pairs: usize) -> Share {
        Share {
            suite: suite.to_string(),
            group: group.to_string(),
            pairs: vec![PairShare::default(); pairs],
            ..Share::default()
        }
    }

    /// Counts one case: each engine's result, `None` when it has none or
    /// did not judge it.
    fn add(&mut self, judged: &[Option<bool>], pairs: &[(usize, usize)]) {
        for (share, &(a, b)) in self.pairs.iter_mut().zip(pairs) {
            if let (Some(pa), Some(pb)) = (judged[a], judged[b]) {
                share.judged += 1;
                share.both_pass += usize::from(pa && pb);
            }
        }
        if judged.iter().all(Option::is_some) {
            self.judged += 1;
            self.all_pass += usize::from(judged.iter().all(|p| *p == Some(true)));
            self.none_pass += usize::from(judged.iter().all(|p| *p == Some(false)));
        } else {
            self.not_judged_everywhere += 1;
        }
    }
}

impl Interop {
    /// The engines a report's interop compares: see the module docs.
    /// Returns (engines in report order, older releases left out, backends
    /// without results left out).
    pub fn engines_of(report: &Report) -> (Vec<String>, Vec<String>, Vec<String>) {
        // A backend whose every case is not applicable judged nothing.
        let with_results: std::collections::HashSet<&str> = report
            .results
            .iter()
            .filter(|c| c.status != Status::NotApplicable)
            .map(|c| c.backend.as_str())
            .collect();
        let (backends, without): (Vec<_>, Vec<_>) = report
            .run
            .backends
            .iter()
            .filter(|b| b.name != REFERENCE_NAME)
            .cloned()
            .partition(|b| with_results.contains(b.name.as_str()));
        let mut newest = Vec::new();
        let mut older = Vec::new();
        for (_, releases) in engines_of(&backends) {
            if let Some((last, rest)) = releases.split_last() {
                newest.push(last.name.clone());
                older.extend(rest.iter().map(|b| b.name.clone()));
            }
        }
        let engines = report
            .run
            .backends
            .iter()
            .map(|b| b.name.clone())
            .filter(|name| newest.contains(name))
            .collect();
        (
            engines,
            older,
            without.into_iter().map(|b| b.name).collect(),
        )
    }

    /// The pairs of engines, as indices into [`Interop::engines`]:
    /// (0, 1), (0, 2), ..., (1, 2), ...
    pub fn pairs(&self) -> Vec<(usize, usize)> {
        pairs_of(self.engines.len())
    }

    pub fn of(report: &Report) -> Option<Interop> {
        let (engines, older_releases, without_results) = Interop::engines_of(report);
        if engines.len() < 2 {
            return None;
        }
        let slot: HashMap<&str, usize> = engines
            .iter()
            .enumerate()
            .map(|(i, e)| (e.as_str(), i))
            .collect();
        // Case id → (first result's index, each engine's result).
        let mut cases: HashMap<&str, (usize, Vec<Option<&ReportedCase>>)> = HashMap::new();
        for (index, case) in report.results.iter().enumerate() {
            let Some(&engine) = slot.get(case.backend.as_str()) else {
                continue;
            };
            let entry = cases
                .entry(case.id.as_str())
                .or_insert_with(|| (index, vec![None; engines.len()]));
            entry.1[engine] = Some(case);
        }
        let pairs = pairs_of(engines.len());
        let mut groups: HashMap<(&str, &str), Share> = HashMap::new();
        let mut suites: HashMap<&str, Share> = HashMap::new();
        let mut total = Share::new("", "", pairs.len());
        let mut disagreements = Vec::new();
        for (_, results) in cases.values() {
            let first = results
                .iter()
                .flatten()
                .next()
                .expect("a case has a result");
            let judged: Vec<Option<bool>> = results
                .iter()
                .map(|r| {
                    r.filter(|c| c.status != Status::NotApplicable)
                        .map(|c| passes(c.status))
                })
                .collect();
            let (suite, group) = (first.suite.as_str(), first.group.as_str());
            for share in [
                groups
                    .entry((suite, group))
                    .or_insert_with(|| Share::new(suite, group, pairs.len())),
                suites
                    .entry(suite)
                    .or_insert_with(|| Share::new(suite, "", pairs.len())),
                &mut total,
            ] {
                share.add(&judged, &pairs);
            }
            let some_pass = judged.contains(&Some(true));
            let some_fail = judged.contains(&Some(false));
            if some_pass && some_fail {
                disagreements.push(Disagreement {
                    suite: suite.to_string(),
                    group: group.to_string(),
                    id: first.id.clone(),
                    expected: first.expected,
                    outcomes: results.iter().map(|r| r.map(EngineOutcome::of)).collect(),
                });
            }
        }
        let mut groups: Vec<Share> = groups.into_values().collect();
        groups.sort_by(|a, b| (&a.suite, &a.group).cmp(&(&b.suite, &b.group)));
        let mut suites: Vec<Share> = suites.into_values().collect();
        suites.sort_by(|a, b| a.suite.cmp(&b.suite));
        disagreements.sort_by(|a, b| (&a.suite, &a.group, &a.id).cmp(&(&b.suite, &b.group, &b.id)));
        Some(Interop {
            engines,
            older_releases,
            without_results,
            groups,
            suites,
            total,
            disagreements,
        })
    }
}

fn pairs_of(n: usize) -> Vec<(usize, usize)> {
    (0..n)
        .flat_map(|a| (a + 1..n).map(move |b| (a, b)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::sample::{failing, passed, report};
    use super::*;
    use streamconform::backend::BackendInfo;

    fn info(name: &str, version: &str) -> BackendInfo {
        BackendInfo::new(name, version)
    }

    /// Three engines and the reference; two releases of node, of which
    /// only the newer counts.
    fn three_engines(results: Vec<ReportedCase>) -> Report {
        let mut r = report();
        r.run.backends = vec![
            info("reference", "wasmparser 0.1"),
            info("node@22", "node 22.23.5"),
            info("node", "node 20.20.2"),
            info("deno", "deno 2.4.0"),
            info("firefox", "firefox 140"),
        ];
        r.results = results;
        r
    }

    #[test]
    fn shares_count_cases_every_engine_judged_and_pairs_their_own() {
        let fail = |backend, id| failing(passed(backend, "spec", id), 1, Status::Failed);
        let mut expected = failing(
            passed("firefox", "spec", "spec/g/b"),
            1,
            Status::ExpectedFailure,
        );
        expected.expectation_reason = Some("known".into());
        let mut not_applicable = passed("deno", "spec", "spec/h/c");
        not_applicable.status = Status::NotApplicable;
        let results = vec![
            // Passed everywhere (the reference and node 20 do not count).
            passed("node@22", "spec", "spec/g/a"),
            passed("deno", "spec", "spec/g/a"),
            passed("firefox", "spec", "spec/g/a"),
            fail("reference", "spec/g/a"),
            fail("node", "spec/g/a"),
            // An expected failure does not pass: a disagreement.
            passed("node@22", "spec", "spec/g/b"),
            passed("deno", "spec", "spec/g/b"),
            expected,
            // Not applicable on deno: only the node@22/firefox pair counts.
            passed("node@22", "spec", "spec/h/c"),
            not_applicable,
            fail("firefox", "spec/h/c"),
            // Failed everywhere: no disagreement.
            fail("node@22", "spec/h/d"),
            fail("deno", "spec/h/d"),
            fail("firefox", "spec/h/d"),
        ];
        let interop = Interop::of(&three_engines(results)).unwrap();
        assert_eq!(interop.engines, ["node@22", "deno", "firefox"]);
        assert_eq!(interop.older_releases, ["node"]);
        assert_eq!(interop.pairs(), [(0, 1), (0, 2), (1, 2)]);
        let g = &interop.groups[0];
        assert_eq!((g.group.as_str(), g.judged, g.all_pass), ("g", 2, 1));
        // node@22·deno pass both; each pair with firefox passes one.
        let both: Vec<usize> = g.pairs.iter().map(|p| p.both_pass).collect();
        assert_eq!(both, [2, 1, 1]);
        let h = &interop.groups[1];
        assert_eq!(
            (h.judged, h.all_pass, h.none_pass, h.not_judged_everywhere),
            (1, 0, 1, 1)
        );
        assert_eq!(
            h.pairs[1],
            PairShare {
                judged: 2,
                both_pass: 0
            }
        );
        assert_eq!(
            h.pairs[0],
            PairShare {
                judged: 1,
                both_pass: 0
            }
        );
        assert_eq!(interop.suites.len(), 1);
        assert_eq!((interop.total.judged, interop.total.all_pass), (3, 1));
        let ids: Vec<&str> = interop
            .disagreements
            .iter()
            .map(|d| d.id.as_str())
            .collect();
        assert_eq!(ids, ["spec/g/b", "spec/h/c"]);
        let c = &interop.disagreements[1];
        assert!(c.outcomes[0].as_ref().unwrap().passes);
        assert_eq!(
            c.outcomes[1].as_ref().unwrap().status,
            Status::NotApplicable
        );
        // A failure shows its first failing plan's result, not the one-shot.
        let firefox = c.outcomes[2].as_ref().unwrap();
        assert!(firefox.result.starts_with("CompileError"), "{firefox:?}");
        assert_eq!(firefox.first_failing_plan.as_deref(), Some("one-byte"));
    }

    #[test]
    fn an_engine_without_results_is_left_out_and_named() {
        // deno judged nothing: its one case was not applicable.
        let mut not_applicable = passed("deno", "spec", "spec/g/a");
        not_applicable.status = Status::NotApplicable;
        let results = vec![
            passed("node@22", "spec", "spec/g/a"),
            passed("firefox", "spec", "spec/g/a"),
            not_applicable,
        ];
        let interop = Interop::of(&three_engines(results)).unwrap();
        assert_eq!(interop.engines, ["node@22", "firefox"]);
        assert_eq!(interop.without_results, ["node", "deno"]);
        assert_eq!((interop.total.judged, interop.total.all_pass), (1, 1));
    }

    #[test]
    fn one_engine_has_no_interop() {
        let mut r = three_engines(vec![passed("node", "spec", "spec/g/a")]);
        r.run
            .backends
            .retain(|b| b.name.starts_with("node") || b.name == "reference");
        assert!(Interop::of(&r).is_none());
    }
}
