//! Backends side by side (`RunConfig::backends_at_once`).
//!
//! One backend rarely keeps a machine busy: a browser's slots wait on its
//! page, a JS worker on its event loop, and a case the engine hangs on
//! holds its slot until the timeout. So up to `at_once` backends run at a
//! time, each on its own pool. They start in their listed order (a backend
//! takes its turn only after every earlier one took its own), so the one
//! whose results are being reported is always running, and a later one's
//! results wait in memory only while an earlier backend is still going.

use std::sync::{Condvar, Mutex};

#[derive(Default)]
struct State {
    /// The turn to be taken next.
    next: usize,
    /// Turns taken and not yet given back.
    running: usize,
}

pub(super) struct Turns {
    state: Mutex<State>,
    changed: Condvar,
    at_once: usize,
}

/// Held while a backend runs; dropping it lets the next one start.
pub(super) struct Turn<'a>(&'a Turns);

impl Turns {
    /// At most `at_once` (at least one) turns held at a time.
    pub(super) fn new(at_once: usize) -> Turns {
        Turns {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            at_once: at_once.max(1),
        }
    }

    /// Waits until every turn before `ticket` was taken and fewer than
    /// `at_once` are held. Each ticket from 0 up must be taken exactly
    /// once, or the later ones wait for ever.
    pub(super) fn take(&self, ticket: usize) -> Turn<'_> {
        let mut state = self.state.lock().unwrap();
        while state.next != ticket || state.running >= self.at_once {
            state = self.changed.wait(state).unwrap();
        }
        state.next += 1;
        state.running += 1;
        self.changed.notify_all();
        Turn(self)
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut state = self.0.state.lock().unwrap();
        state.running -= 1;
        self.0.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    /// Eight holders taking tickets in scrambled order: never more than
    /// `at_once` hold a turn together, and with one at a time they start
    /// in ticket order (with more, two holders started together may note
    /// their start in either order).
    fn starts_in_order_with_at_most(at_once: usize) {
        let turns = Turns::new(at_once);
        let (holding, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let started = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for ticket in [5, 2, 7, 0, 3, 1, 6, 4] {
                let (turns, holding, most, started) = (&turns, &holding, &most, &started);
                scope.spawn(move || {
                    let _turn = turns.take(ticket);
                    started.lock().unwrap().push(ticket);
                    let now = holding.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    holding.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        let mut started = started.into_inner().unwrap();
        if at_once > 1 {
            started.sort();
        }
        assert_eq!(started, (0..8).collect::<Vec<_>>());
        assert!(most.load(Ordering::SeqCst) <= at_once);
    }

    #[test]
    fn turns_are_taken_in_ticket_order_and_bounded() {
        starts_in_order_with_at_most(1);
        starts_in_order_with_at_most(2);
        starts_in_order_with_at_most(3);
    }

    #[test]
    fn a_later_turn_starts_while_an_earlier_one_is_still_held() {
        let turns = Arc::new(Turns::new(2));
        let first = turns.take(0);
        let (tx, rx) = std::sync::mpsc::channel();
        let later = turns.clone();
        let waiter = std::thread::spawn(move || {
            let _turn = later.take(1);
            tx.send(()).unwrap();
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the second turn started beside the first");
        waiter.join().unwrap();
        drop(first);
    }
}
