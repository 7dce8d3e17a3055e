//! Cases that keep a compile open on purpose, and cases with a large body,
//! run alone on their backend (`Case::runs_alone`).
//!
//! A case expected to stay pending (a body that never ends, a fetch that
//! stalls) holds a compile open for its whole pending window. An engine may
//! serve other compiles worse meanwhile: Firefox 153 was seen to leave
//! unrelated streamed compiles in the same page unsettled while a stream
//! that never ends was open. A neighbour's result would then depend on
//! which cases happened to be in flight with it, so such a case waits for
//! the cases in flight to finish, and no case starts while it runs. A
//! large body's plans crowd its neighbours out the same way: they keep the
//! JS worker that feeds them busy for seconds.
//!
//! Waits are bounded: a case stuck in an engine that never returns (the
//! runner's timeout abandons it, and its thread may never leave the gate)
//! must not stop the run, so after [`Gate::new`]'s bound a waiting case
//! goes ahead anyway.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

#[derive(Default)]
struct State {
    /// Ordinary cases in flight.
    shared: usize,
    /// A case that runs alone is waiting or running; ordinary cases wait.
    alone: bool,
}

pub struct Gate {
    state: Mutex<State>,
    changed: Condvar,
    bound: Duration,
}

/// Held while a case runs; leaving lets others in.
pub struct Pass<'a> {
    gate: &'a Gate,
    alone: bool,
}

impl Gate {
    /// `bound`: the longest any case waits at the gate.
    pub fn new(bound: Duration) -> Gate {
        Gate {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            bound,
        }
    }

    /// Enters for one case: `alone` waits until nothing else runs.
    pub fn enter(&self, alone: bool) -> Pass<'_> {
        let deadline = super::deadline_after(self.bound);
        let mut state = self.state.lock().unwrap();
        if alone {
            // Wait for the turn of another case that runs alone, then
            // claim the gate, then wait for the ordinary cases to leave.
            state = self.wait_while(state, deadline, |s| s.alone);
            state.alone = true;
            state = self.wait_while(state, deadline, |s| s.shared > 0);
        } else {
            state = self.wait_while(state, deadline, |s| s.alone);
            state.shared += 1;
        }
        drop(state);
        Pass { gate: self, alone }
    }

    fn wait_while<'a>(
        &self,
        mut state: MutexGuard<'a, State>,
        deadline: Instant,
        condition: impl Fn(&State) -> bool,
    ) -> MutexGuard<'a, State> {
        while condition(&state) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = self.changed.wait_timeout(state, left).unwrap().0;
        }
        state
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        let mut state = self.gate.state.lock().unwrap();
        if self.alone {
            state.alone = false;
        } else {
            state.shared = state.shared.saturating_sub(1);
        }
        drop(state);
        self.gate.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// While a case that runs alone is inside, nothing else is; ordinary
    /// cases share the gate.
    #[test]
    fn a_case_that_runs_alone_never_overlaps_another() {
        let gate = Arc::new(Gate::new(Duration::from_secs(30)));
        let inside = Arc::new(AtomicUsize::new(0));
        let most_beside_alone = Arc::new(AtomicUsize::new(0));
        let most_shared = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let (gate, inside, beside, shared) = (
                    gate.clone(),
                    inside.clone(),
                    most_beside_alone.clone(),
                    most_shared.clone(),
                );
                std::thread::spawn(move || {
                    for round in 0..20 {
                        let alone = (t + round) % 7 == 0;
                        let _pass = gate.enter(alone);
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        if alone {
                            beside.fetch_max(now - 1, Ordering::SeqCst);
                        } else {
                            shared.fetch_max(now, Ordering::SeqCst);
                        }
                        std::thread::sleep(Duration::from_millis(2));
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(most_beside_alone.load(Ordering::SeqCst), 0);
        assert!(
            most_shared.load(Ordering::SeqCst) > 1,
            "ordinary cases overlap"
        );
    }

    /// A bound past what the clock can add (`--timeout` of `i64::MAX`
    /// seconds panicked here in every worker) waits as if for a century.
    #[test]
    fn a_bound_past_the_clock_does_not_panic() {
        let gate = Gate::new(Duration::MAX);
        drop(gate.enter(true));
        drop(gate.enter(false));
        let at = Instant::now();
        assert!(super::super::later_by(at, Duration::MAX) > at);
    }

    /// A pass that is never given back (its case stuck for good) holds
    /// others up only as long as the bound.
    #[test]
    fn a_pass_never_given_back_delays_others_only_up_to_the_bound() {
        let gate = Gate::new(Duration::from_millis(100));
        let stuck = gate.enter(false);
        let started = Instant::now();
        drop(gate.enter(true));
        assert!(started.elapsed() >= Duration::from_millis(100));
        std::mem::forget(stuck);
    }
}
