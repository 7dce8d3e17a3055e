//! Minimization: shrinking a failing plan's cut list to the fewest cuts
//! that still fail the same oracles with the same outcome class, then
//! moving each cut toward a structural offset (delta debugging over cuts).
//!
//! The cut list is a multiset: a repeated cut is an empty chunk, so removing
//! one copy of a repeated cut removes that empty chunk and nothing else.
//! Steps, each bounded by [`MinimizeOptions::max_attempts`] compiles:
//! 1. the backend's one-shot compile, once (the invariance oracle's
//!    reference for every attempt), and the empty cut list: a failure that
//!    does not depend on chunking minimizes to no cuts at once;
//! 2. the original cut list, to check the failure reproduces at all;
//! 3. ddmin (Zeller's delta debugging, complement removal only) over the
//!    cuts: halves, then quarters, ..., single cuts; a one-byte plan of a
//!    large body loses most of its cuts in the first few large removals;
//! 4. each remaining offset (with all its copies, so an empty chunk stays
//!    one) moved onto the nearest structural offset below or above it,
//!    where the failure still holds: a reproducer that cuts "after the
//!    code section's size" reads better than one that cuts at byte 4711.
//!
//! Deterministic for a deterministic engine: candidates are tried in a
//! fixed order, and when several run at once the first failing in that
//! order wins.

use super::case::CaseCalls;
use crate::backend::BackendUnderTest;
use crate::case::Case;
use crate::error::Error;
use crate::outcome::{Outcome, OutcomeClass};
use crate::plan::structure::structural_offsets;
use crate::plan::ChunkPlan;
use crate::verdict::{judge, CaseResult, Minimized, Oracle, PlanFailure, Verdict};
use std::time::{Duration, Instant};

/// Bounds on one minimization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MinimizeOptions {
    /// The most compiles one minimization may spend (the one-shot compile
    /// included). When they run out (or, in a run, the case's time), the
    /// smallest failing list found so far is the result, marked
    /// `budget_exhausted`.
    pub max_attempts: usize,
}

/// The default of [`MinimizeOptions::max_attempts`] (and of the
/// `--minimize-attempts` options).
pub const DEFAULT_MAX_ATTEMPTS: usize = 2000;

impl Default for MinimizeOptions {
    fn default() -> Self {
        MinimizeOptions {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
    }
}

/// Candidates compiled at once on backends that run many compiles in
/// parallel (out-of-process engines); one at a time otherwise.
const CANDIDATES_IN_FLIGHT: usize = 8;

/// Shrinks `failure` (a failing plan of `case` on `backend`).
pub fn minimize(
    backend: &BackendUnderTest,
    case: &Case,
    failure: &PlanFailure,
    options: &MinimizeOptions,
) -> Result<Minimized, Error> {
    minimize_with_one_shot(backend, case, failure, None, options)
}

/// [`minimize`], reusing the one-shot outcome of the run that found the
/// failure when there is one.
pub fn minimize_with_one_shot(
    backend: &BackendUnderTest,
    case: &Case,
    failure: &PlanFailure,
    one_shot: Option<&Outcome>,
    options: &MinimizeOptions,
) -> Result<Minimized, Error> {
    minimize_until(backend, case, failure, one_shot, options, None)
}

/// [`minimize_with_one_shot`] that starts no compile after `deadline`
/// (the result is then marked `budget_exhausted`, like a spent budget).
fn minimize_until(
    backend: &BackendUnderTest,
    case: &Case,
    failure: &PlanFailure,
    one_shot: Option<&Outcome>,
    options: &MinimizeOptions,
    deadline: Option<Instant>,
) -> Result<Minimized, Error> {
    let cannot = |message: String| Error::CannotMinimize {
        case: case.id.clone(),
        message,
    };
    if failure.failed.is_empty() {
        return Err(cannot(format!(
            "plan {} fails no oracle: there is nothing to minimize",
            failure.plan
        )));
    }
    let calls = CaseCalls::resolve(backend, case).map_err(cannot)?;
    if calls.scenario().is_some_and(|s| !s.uses_plans()) {
        return Err(cannot(
            "its Web API scenario does not stream the body in chunks, so no cut matters".into(),
        ));
    }
    let mut target: Vec<Oracle> = failure.failed.clone();
    target.sort();
    target.dedup();
    let mut search = Search {
        case,
        calls,
        one_shot: None,
        target,
        target_class: failure.actual.class(),
        attempts: 0,
        max_attempts: options.max_attempts.max(1),
        deadline,
        exhausted: false,
        width: if backend.engine.preferred_jobs().is_some() {
            CANDIDATES_IN_FLIGHT
        } else {
            1
        },
    };
    let one_shot = match one_shot {
        Some(o) => o.clone(),
        None => {
            search.attempts += 1;
            search.calls.one_shot()
        }
    };
    search.one_shot = Some(one_shot);
    let mut cuts = failure.cuts.clone();
    cuts.sort_unstable();
    if let Some(&bad) = cuts.iter().find(|&&c| c > case.bytes.len()) {
        return Err(cannot(format!(
            "cut {bad} of plan {} is past the end of the {}-byte body",
            failure.plan,
            case.bytes.len()
        )));
    }
    let from_cut_count = cuts.len();
    let finish = |search: &Search<'_>, cuts: Vec<usize>, actual: Outcome| Minimized {
        from_plan: failure.plan.clone(),
        from_cut_count,
        cuts,
        actual,
        failed: search.target.clone(),
        attempts: search.attempts,
        budget_exhausted: search.exhausted,
    };
    // Independent of chunking (a missing proposal, a one-shot bug): no cuts.
    if let Some((_, actual)) = search.first_failing(&[Vec::new()]) {
        return Ok(finish(&search, Vec::new(), actual));
    }
    let not_reproduced = |search: &Search<'_>| {
        cannot(format!(
            "plan {} no longer fails {} with a {} outcome{}: the failure did not reproduce",
            failure.plan,
            oracle_list(&search.target),
            search.target_class,
            if search.exhausted {
                " within the attempt budget"
            } else {
                ""
            }
        ))
    };
    if cuts.is_empty() {
        return Err(not_reproduced(&search));
    }
    let Some((_, actual)) = search.first_failing(std::slice::from_ref(&cuts)) else {
        return Err(not_reproduced(&search));
    };
    let (cuts, actual) = search.ddmin(cuts, actual);
    let (cuts, actual) = search.move_to_structure(cuts, actual);
    Ok(finish(&search, cuts, actual))
}

/// Minimizes the first failing plan of a result the run just produced (the
/// `run --minimize` path), in the worker that ran the case, within half of
/// what is left of the case's timeout (`time_left`): minimizing must not
/// turn a failure into a timeout. Failures that timed out are left alone:
/// every attempt would wait out the timeout. When the failure does not
/// reproduce, `minimized` stays absent.
pub(super) fn minimize_first_failure(
    backend: &BackendUnderTest,
    case: &Case,
    result: &mut CaseResult,
    options: &MinimizeOptions,
    time_left: Duration,
) {
    if result.verdict != Verdict::Fail {
        return;
    }
    let Some(first) = result.failing_plans.first() else {
        return;
    };
    if first.actual.class() == OutcomeClass::Timeout {
        return;
    }
    let deadline = super::deadline_after(time_left / 2);
    result.minimized = minimize_until(
        backend,
        case,
        first,
        result.one_shot.as_ref(),
        options,
        Some(deadline),
    )
    .ok();
}

fn oracle_list(oracles: &[Oracle]) -> String {
    oracles
        .iter()
        .map(Oracle::to_string)
        .collect::<Vec<_>>()
        .join("+")
}

struct Search<'a> {
    case: &'a Case,
    calls: CaseCalls<'a>,
    one_shot: Option<Outcome>,
    /// The oracles the original plan failed, sorted.
    target: Vec<Oracle>,
    target_class: OutcomeClass,
    attempts: usize,
    max_attempts: usize,
    deadline: Option<Instant>,
    exhausted: bool,
    width: usize,
}

impl Search<'_> {
    /// Compiles `cuts` (sorted) as a streamed body; `Some(outcome)` when it
    /// fails the same oracles with the same outcome class.
    fn still_fails(&self, cuts: &[usize]) -> Option<Outcome> {
        let case = self.case;
        let plan = ChunkPlan {
            name: "cuts".into(),
            cuts: cuts.to_vec(),
        };
        let actual = self.calls.streamed(&plan);
        let scenario = self.calls.scenario();
        if let (Some(scenario), Some(observed)) = (scenario, &actual.body) {
            // The case tested something else under this chunking.
            if scenario
                .premise_violation(plan.chunk_count(), observed)
                .is_some()
            {
                return None;
            }
        }
        let mut failed = judge(
            case.expected(),
            self.one_shot.as_ref().expect("the one-shot runs first"),
            &actual.outcome,
            self.calls.invariance_applies(),
        );
        if super::case::reads_differ(scenario, &actual) {
            failed.push(Oracle::Reads);
        }
        failed.sort();
        (failed == self.target && actual.outcome.class() == self.target_class)
            .then_some(actual.outcome)
    }

    /// The first of `candidates` (in order) that still fails, with its
    /// outcome. Several are compiled at once on parallel backends; every
    /// compile counts as an attempt. `None` also when the budget runs out.
    fn first_failing(&mut self, candidates: &[Vec<usize>]) -> Option<(usize, Outcome)> {
        let mut start = 0;
        while start < candidates.len() {
            let left = self.max_attempts.saturating_sub(self.attempts);
            if left == 0 || self.deadline.is_some_and(|d| Instant::now() >= d) {
                self.exhausted = true;
                return None;
            }
            let end = (start + self.width.min(left)).min(candidates.len());
            let batch = &candidates[start..end];
            self.attempts += batch.len();
            let outcomes: Vec<Option<Outcome>> = if batch.len() == 1 {
                vec![self.still_fails(&batch[0])]
            } else {
                let this = &*self;
                std::thread::scope(|scope| {
                    let handles: Vec<_> = batch
                        .iter()
                        .map(|cuts| scope.spawn(move || this.still_fails(cuts)))
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| h.join().unwrap_or(None))
                        .collect()
                })
            };
            if let Some((i, outcome)) = outcomes
                .into_iter()
                .enumerate()
                .find_map(|(i, o)| Some((i, o?)))
            {
                return Some((start + i, outcome));
            }
            start = end;
        }
        None
    }

    /// Delta debugging over the cut list by removing parts of it: at
    /// granularity `n` the list is split into `n` nearly equal parts and
    /// each part's removal is tried in order; the first that still fails
    /// is kept (granularity one coarser), and when none does the
    /// granularity doubles, up to single cuts. The result is 1-minimal:
    /// removing any one cut makes the failure go away.
    fn ddmin(&mut self, mut cuts: Vec<usize>, mut actual: Outcome) -> (Vec<usize>, Outcome) {
        let mut n = 2usize;
        // Where the last removal was: the next round starts there (and
        // wraps around), so a list that loses one part after another is
        // not scanned from its start each time.
        let mut start_at = 0usize;
        while cuts.len() >= 2 && !self.exhausted {
            let parts = n.min(cuts.len());
            let len = cuts.len();
            let bounds = |i: usize| (i * len / parts, (i + 1) * len / parts);
            let order: Vec<usize> = (0..parts).map(|k| (start_at + k) % parts).collect();
            let mut found = None;
            // Candidates are built a batch at a time: at fine granularity
            // of a large list, all of them at once would not fit in memory.
            for indices in order.chunks(self.width) {
                if found.is_some() || self.exhausted {
                    break;
                }
                let batch: Vec<Vec<usize>> = indices
                    .iter()
                    .map(|&j| {
                        let (a, b) = bounds(j);
                        let mut c = Vec::with_capacity(len - (b - a));
                        c.extend_from_slice(&cuts[..a]);
                        c.extend_from_slice(&cuts[b..]);
                        c
                    })
                    .collect();
                if let Some((k, outcome)) = self.first_failing(&batch) {
                    let smaller = batch.into_iter().nth(k).expect("in the batch");
                    found = Some((indices[k], smaller, outcome));
                }
            }
            match found {
                Some((removed, smaller, outcome)) => {
                    cuts = smaller;
                    actual = outcome;
                    n = parts.saturating_sub(1).max(2);
                    start_at = removed;
                }
                None if parts >= cuts.len() => break,
                None => {
                    n = (parts * 2).min(cuts.len());
                    start_at = 0;
                }
            }
        }
        (cuts, actual)
    }

    /// Moves each offset of `cuts` that is not structural (all its copies
    /// together) onto the nearest structural offset, else the nearest one
    /// on the other side, where the failure still holds.
    fn move_to_structure(
        &mut self,
        mut cuts: Vec<usize>,
        mut actual: Outcome,
    ) -> (Vec<usize>, Outcome) {
        let structural = structural_offsets(&self.case.bytes);
        let mut distinct = cuts.clone();
        distinct.dedup();
        for offset in distinct {
            if self.exhausted {
                break;
            }
            let at = structural.partition_point(|&s| s < offset);
            if structural.get(at) == Some(&offset) {
                continue;
            }
            let below = at.checked_sub(1).map(|i| structural[i]);
            let above = structural.get(at).copied();
            let mut targets: Vec<usize> = below.into_iter().chain(above).collect();
            // Nearest first; on a tie, the lower one.
            targets.sort_by_key(|&t| (t.abs_diff(offset), t));
            let candidates: Vec<Vec<usize>> = targets
                .iter()
                .map(|&t| {
                    let mut moved: Vec<usize> = cuts
                        .iter()
                        .map(|&c| if c == offset { t } else { c })
                        .collect();
                    moved.sort_unstable();
                    moved
                })
                .collect();
            if let Some((k, outcome)) = self.first_failing(&candidates) {
                cuts = candidates.into_iter().nth(k).expect("a candidate");
                actual = outcome;
            }
        }
        (cuts, actual)
    }
}
