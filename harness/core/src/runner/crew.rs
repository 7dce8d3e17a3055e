//! The threads that run a case's plans beside the case's own thread, on
//! backends that answer in parallel (out-of-process engines).
//!
//! A pool worker keeps its crew for its whole life. Starting a thread per
//! plan instead cost the kernel more than the harness's own work: each
//! thread maps and unmaps a stack and a signal stack, and every unmap
//! interrupts the other core to flush its TLB. A nightly's profile put
//! 62% to 75% of the harness's kernel time there (docs/design/speed-and-scale.md).

use super::case::{crash, guarded, CaseCalls};
use crate::backend::WebApiOutcome;
use crate::plan::ChunkPlan;
use std::cell::RefCell;
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::thread::Scope;

/// One plan for a crew member, and where its outcome goes.
struct PlanJob<'env> {
    calls: Arc<CaseCalls<'env>>,
    slot: usize,
    plan: ChunkPlan,
    done: Sender<(usize, ChunkPlan, WebApiOutcome)>,
}

impl PlanJob<'_> {
    /// The plan's call, wherever it runs; a panic is a crash of the plan.
    fn run(self) -> (usize, ChunkPlan, WebApiOutcome) {
        let outcome = guarded(
            || self.calls.streamed(&self.plan),
            |m| crash(format!("plan thread panicked: {m}")).into(),
        );
        (self.slot, self.plan, outcome)
    }
}

/// Up to `size` threads started in `scope` as they are first needed; they
/// end when the crew is dropped (their job channels close).
pub(super) struct PlanCrew<'scope, 'env> {
    scope: &'scope Scope<'scope, 'env>,
    size: usize,
    members: RefCell<Vec<Sender<PlanJob<'env>>>>,
}

impl<'scope, 'env> PlanCrew<'scope, 'env> {
    pub(super) fn new(scope: &'scope Scope<'scope, 'env>, size: usize) -> PlanCrew<'scope, 'env> {
        PlanCrew {
            scope,
            size,
            members: RefCell::new(Vec::new()),
        }
    }

    /// The crew's `index`th member, started if it was not yet.
    fn member(&self, index: usize) -> Option<Sender<PlanJob<'env>>> {
        let mut members = self.members.borrow_mut();
        while members.len() <= index {
            let (jobs, inbox) = mpsc::channel::<PlanJob<'env>>();
            let started = std::thread::Builder::new()
                .name("streamconform-plan".into())
                .spawn_scoped(self.scope, move || {
                    for job in inbox {
                        let done = job.done.clone();
                        let _ = done.send(job.run());
                    }
                });
            if started.is_err() {
                return None;
            }
            members.push(jobs);
        }
        Some(members[index].clone())
    }

    /// Runs `plans` on the crew, one per member, while `here` runs on this
    /// thread; gives back the plans with their outcomes, in order. A plan
    /// no member could take (more plans than members, or a thread that
    /// could not start) runs on this thread after `here`.
    pub(super) fn beside<R>(
        &self,
        calls: &Arc<CaseCalls<'env>>,
        plans: Vec<ChunkPlan>,
        here: impl FnOnce() -> R,
    ) -> (R, Vec<(ChunkPlan, WebApiOutcome)>) {
        let count = plans.len();
        let (done, results) = mpsc::channel();
        let mut sent = 0;
        let mut left = Vec::new();
        for (slot, plan) in plans.into_iter().enumerate() {
            let job = PlanJob {
                calls: calls.clone(),
                slot,
                plan,
                done: done.clone(),
            };
            let refused = match (slot < self.size).then(|| self.member(slot)).flatten() {
                Some(member) => member.send(job).err().map(|e| e.0),
                None => Some(job),
            };
            match refused {
                Some(job) => left.push(job),
                None => sent += 1,
            }
        }
        drop(done);
        let mine = here();
        let mut outcomes: Vec<Option<(ChunkPlan, WebApiOutcome)>> =
            (0..count).map(|_| None).collect();
        for job in left {
            let (slot, plan, outcome) = job.run();
            outcomes[slot] = Some((plan, outcome));
        }
        for (slot, plan, outcome) in results.iter().take(sent) {
            outcomes[slot] = Some((plan, outcome));
        }
        let outcomes = outcomes
            .into_iter()
            .map(|o| o.expect("every plan sent to the crew comes back"))
            .collect();
        (mine, outcomes)
    }
}
