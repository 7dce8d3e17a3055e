//! Long-lived worker processes started with one switch set, handed out round-robin,
//! replaced when they die and retired when they have served enough.

use crate::launcher::Launch;
use crate::worker::client::Worker;
use crate::worker::engine::WorkerPool;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A worker is retired after this many requests: the next request of its
/// slot starts a fresh one, and the old one exits when its in-flight
/// requests are done. Engines keep memory per compile that no request
/// gives back (node 20 grew to 1.4 GB over a full run, half of it outside
/// the JS heap); a fresh process bounds that without touching what is
/// measured.
pub const RETIRE_AFTER: usize = 20_000;

pub struct Pool {
    pub launch: Launch,
    slots: Vec<Mutex<Option<Arc<Worker>>>>,
    next_slot: AtomicUsize,
}

impl Pool {
    pub fn new(launch: Launch, workers: usize) -> Pool {
        Pool {
            launch,
            slots: (0..workers.max(1)).map(|_| Mutex::new(None)).collect(),
            next_slot: AtomicUsize::new(0),
        }
    }
}

impl WorkerPool for Pool {
    /// The next slot's worker, started afresh if the slot is empty, its
    /// worker dead, or retired.
    fn worker(&self) -> Result<Arc<Worker>, String> {
        let slot = self.next_slot.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let mut guard = self.slots[slot].lock().unwrap();
        let usable = |w: &&Arc<Worker>| {
            !w.is_dead() && w.requests.fetch_add(1, Ordering::Relaxed) < RETIRE_AFTER
        };
        if let Some(worker) = guard.as_ref().filter(usable) {
            return Ok(worker.clone());
        }
        let worker = Worker::start(&self.launch)?;
        worker.requests.store(1, Ordering::Relaxed);
        let worker = Arc::new(worker);
        *guard = Some(worker.clone());
        Ok(worker)
    }
}
