//! Releases of one engine side by side (`--backend node --backend node@22
//! --backend node@26`): the cases whose result differs between two
//! consecutive releases, and in which direction, so a regression can be
//! placed between two releases.
//!
//! Backends are one engine's releases when their names agree up to an `@`
//! (`node`, `node@22`); they are ordered by the version their engine
//! reports. A case's *standing* compares, not its status: an expected
//! failure in one release and a failure in another are both failures (each
//! release has its own expectations file).
//!
//! Fed from events while a run goes (kept per case only until every
//! release has reported it, and only if they differ), or from a report.

use crate::backend::BackendInfo;
use crate::reporter::json::Report;
use crate::runner::{Reporter, RunEvent};
use crate::verdict::Status;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::io;

/// What a case's result says of the engine, whatever its expectations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Standing {
    Passes,
    Fails,
    /// Fails on a proposal the release lacks even with its switches.
    Unsupported,
    /// The case did not test what it describes on this release.
    Invalid,
}

impl Standing {
    pub fn of(status: Status, unsupported: bool) -> Option<Standing> {
        match status {
            Status::Passed | Status::UnexpectedPass => Some(Standing::Passes),
            Status::Failed | Status::ExpectedFailure if unsupported => Some(Standing::Unsupported),
            Status::Failed | Status::ExpectedFailure => Some(Standing::Fails),
            // Neither passing nor failing reliably: no standing to compare.
            Status::Flaky | Status::KnownFlaky => None,
            Status::Invalid => Some(Standing::Invalid),
            Status::NotApplicable => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Passes => "passes",
            Standing::Fails => "fails",
            Standing::Unsupported => "unsupported",
            Standing::Invalid => "invalid",
        }
    }
}

/// Which way a case moved from the older release to the newer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Passes on the newer release only.
    Fixed,
    /// Passed on the older release only.
    Regressed,
    /// Neither passes, for different reasons (say unsupported, then fails).
    Changed,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Fixed => "fixed",
            Direction::Regressed => "regressed",
            Direction::Changed => "changed",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReleaseChange {
    pub id: String,
    pub before: Standing,
    pub after: Standing,
    pub direction: Direction,
}

/// Two consecutive releases of one engine and the cases between them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReleaseDiff {
    /// `node`: the names' common part.
    pub engine: String,
    pub older: BackendInfo,
    pub newer: BackendInfo,
    /// Cases both ran: how many, and those whose standing differs
    /// (regressions first, then fixes, then the rest; by id within each).
    pub compared: usize,
    pub changes: Vec<ReleaseChange>,
}

impl ReleaseDiff {
    pub fn count(&self, direction: Direction) -> usize {
        self.changes
            .iter()
            .filter(|c| c.direction == direction)
            .count()
    }
}

/// One engine's releases in the run, oldest first.
struct Engine {
    name: String,
    releases: Vec<BackendInfo>,
}

/// Collects [`ReleaseDiff`]s from a run's events or from a report.
#[derive(Default)]
pub struct ReleaseDiffs {
    engines: Vec<Engine>,
    /// Backend name → (engine index, release index).
    slot: HashMap<String, (usize, usize)>,
    /// (engine index, case id) → each release's standing so far.
    pending: HashMap<(usize, String), Vec<Option<Standing>>>,
    /// Pairs both releases ran, per (engine, older release index).
    compared: HashMap<(usize, usize), usize>,
}

impl ReleaseDiffs {
    /// Over the run's backends: only engines with two releases or more are
    /// followed, so a run without any keeps nothing.
    pub fn for_backends(backends: &[BackendInfo]) -> ReleaseDiffs {
        let mut diffs = ReleaseDiffs::default();
        for (engine, releases) in engines_of(backends) {
            if releases.len() < 2 {
                continue;
            }
            let index = diffs.engines.len();
            for (i, r) in releases.iter().enumerate() {
                diffs.slot.insert(r.name.clone(), (index, i));
            }
            diffs.engines.push(Engine {
                name: engine.to_string(),
                releases: releases.into_iter().cloned().collect(),
            });
        }
        diffs
    }

    /// Every result of a report, as if it had come from the run.
    pub fn from_report(report: &Report) -> Vec<ReleaseDiff> {
        let mut diffs = ReleaseDiffs::for_backends(&report.run.backends);
        for case in &report.results {
            diffs.add(
                &case.backend,
                &case.id,
                case.status,
                !case.unsupported.is_empty(),
            );
        }
        diffs.diffs()
    }

    pub fn add(&mut self, backend: &str, id: &str, status: Status, unsupported: bool) {
        let Some(&(engine, release)) = self.slot.get(backend) else {
            return;
        };
        let Some(standing) = Standing::of(status, unsupported) else {
            return;
        };
        let count = self.engines[engine].releases.len();
        let key = (engine, id.to_string());
        let standings = self.pending.entry(key.clone()).or_insert(vec![None; count]);
        standings[release] = Some(standing);
        if standings.iter().all(Option::is_some) {
            for pair in 0..count - 1 {
                *self.compared.entry((engine, pair)).or_default() += 1;
            }
            // Every release has it: kept only if they differ.
            if standings.iter().all(|s| *s == standings[0]) {
                self.pending.remove(&key);
            }
        }
    }

    /// The diffs of consecutive releases, per engine, oldest pair first.
    pub fn diffs(&self) -> Vec<ReleaseDiff> {
        let mut out = Vec::new();
        for (e, engine) in self.engines.iter().enumerate() {
            for pair in 0..engine.releases.len() - 1 {
                let mut changes: Vec<ReleaseChange> = self
                    .pending
                    .iter()
                    .filter(|((engine, _), _)| *engine == e)
                    .filter_map(|((_, id), standings)| {
                        let (before, after) = (standings[pair]?, standings[pair + 1]?);
                        let direction = match (before, after) {
                            _ if before == after => return None,
                            (_, Standing::Passes) => Direction::Fixed,
                            (Standing::Passes, _) => Direction::Regressed,
                            _ => Direction::Changed,
                        };
                        Some(ReleaseChange {
                            id: id.clone(),
                            before,
                            after,
                            direction,
                        })
                    })
                    .collect();
                changes.sort_by(|a, b| {
                    let rank = |d: Direction| match d {
                        Direction::Regressed => 0,
                        Direction::Fixed => 1,
                        Direction::Changed => 2,
                    };
                    (rank(a.direction), &a.id).cmp(&(rank(b.direction), &b.id))
                });
                out.push(ReleaseDiff {
                    engine: engine.name.clone(),
                    older: engine.releases[pair].clone(),
                    newer: engine.releases[pair + 1].clone(),
                    compared: self.compared.get(&(e, pair)).copied().unwrap_or(0),
                    changes,
                });
            }
        }
        out
    }
}

impl Reporter for ReleaseDiffs {
    fn report(&mut self, event: &RunEvent<'_>) -> io::Result<()> {
        match event {
            RunEvent::RunStarted(info) => *self = ReleaseDiffs::for_backends(&info.backends),
            RunEvent::CaseFinished(done) => self.add(
                done.backend,
                &done.case.id,
                done.status,
                !done.unsupported.is_empty(),
            ),
            _ => {}
        }
        Ok(())
    }
}

/// The run's backends by engine (names agreeing up to an `@`), engines
/// by name, each engine's releases oldest first by the version the engine
/// reports (then by name).
pub fn engines_of(backends: &[BackendInfo]) -> Vec<(&str, Vec<&BackendInfo>)> {
    let mut by_engine: BTreeMap<&str, Vec<&BackendInfo>> = BTreeMap::new();
    for b in backends {
        let engine = b.name.split('@').next().unwrap_or(&b.name);
        by_engine.entry(engine).or_default().push(b);
    }
    let mut engines: Vec<(&str, Vec<&BackendInfo>)> = by_engine.into_iter().collect();
    for (_, releases) in &mut engines {
        releases.sort_by(|a, b| {
            version_numbers(&a.version)
                .cmp(&version_numbers(&b.version))
                .then_with(|| a.name.cmp(&b.name))
        });
    }
    engines
}

/// The numbers of a version string, in order (`node 22.23.5` → 22, 23,
/// 5), to order releases by; what has none sorts first.
fn version_numbers(version: &str) -> Vec<u64> {
    version
        .split(|c: char| !c.is_ascii_digit())
        .filter(|part| !part.is_empty())
        .filter_map(|part| part.parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, version: &str) -> BackendInfo {
        BackendInfo::new(name, version)
    }

    /// Releases are ordered by their engine's version, not by name or by
    /// the order given; only consecutive releases are compared; a case
    /// moves in one direction per pair; other engines are not followed.
    #[test]
    fn consecutive_releases_are_compared_in_version_order() {
        let backends = [
            info("node@26", "node 26.12.1"),
            info("node", "node 20.20.2"),
            info("node@22", "node 22.23.5"),
            info("deno", "deno 2.9.6"),
        ];
        let mut diffs = ReleaseDiffs::for_backends(&backends);
        let results = [
            // Same everywhere: not listed.
            ("a", [Status::Passed, Status::Passed, Status::Passed]),
            // Fixed in 22 (an expected failure in 20 is still a failure).
            (
                "b",
                [Status::ExpectedFailure, Status::Passed, Status::Passed],
            ),
            // Regressed in 26.
            ("c", [Status::Passed, Status::Passed, Status::Failed]),
        ];
        for (id, [n20, n22, n26]) in results {
            diffs.add("node@26", id, n26, false);
            diffs.add("node", id, n20, false);
            diffs.add("deno", id, Status::Failed, false);
            diffs.add("node@22", id, n22, false);
        }
        // Unsupported in 20, failing in 22, passing in 26.
        diffs.add("node", "d", Status::ExpectedFailure, true);
        diffs.add("node@22", "d", Status::Failed, false);
        diffs.add("node@26", "d", Status::Passed, false);
        // Not applicable on one release: no standing there.
        diffs.add("node", "e", Status::NotApplicable, false);
        diffs.add("node@22", "e", Status::Passed, false);
        diffs.add("node@26", "e", Status::Passed, false);

        let out = diffs.diffs();
        assert_eq!(out.len(), 2, "{out:#?}");
        let (first, second) = (&out[0], &out[1]);
        assert_eq!(
            (first.older.name.as_str(), first.newer.name.as_str()),
            ("node", "node@22")
        );
        assert_eq!(
            (second.older.name.as_str(), second.newer.name.as_str()),
            ("node@22", "node@26")
        );
        assert_eq!((first.compared, second.compared), (4, 4));
        let moves = |d: &ReleaseDiff| -> Vec<(String, Direction)> {
            d.changes
                .iter()
                .map(|c| (c.id.clone(), c.direction))
                .collect()
        };
        assert_eq!(
            moves(first),
            [
                ("b".to_string(), Direction::Fixed),
                ("d".to_string(), Direction::Changed)
            ]
        );
        assert_eq!(
            moves(second),
            [
                ("c".to_string(), Direction::Regressed),
                ("d".to_string(), Direction::Fixed)
            ]
        );
        assert_eq!(
            (first.changes[1].before, first.changes[1].after),
            (Standing::Unsupported, Standing::Fails)
        );
        // Cases every release agreed on are not kept.
        assert!(!diffs.pending.contains_key(&(0, "a".to_string())));
    }

    #[test]
    fn a_run_with_one_release_per_engine_follows_nothing() {
        let mut diffs =
            ReleaseDiffs::for_backends(&[info("node", "node 20.1.0"), info("bun", "bun 1.2.3")]);
        diffs.add("node", "a", Status::Failed, false);
        assert!(diffs.diffs().is_empty());
        assert!(diffs.pending.is_empty());
    }
}
