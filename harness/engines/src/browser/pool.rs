//! One browser and its driver workers: the browser's side of the worker
//! pool. The browser runs one driver page with a dedicated worker per slot,
//! each on its own channel (see `js/page.mjs`).
//!
//! - A worker that hangs: the protocol client gives up on it and closes its
//!   channel, which costs the requests it had in flight; the page replaces
//!   the worker, which connects again once the slot, asked for a worker,
//!   opens the channel for it.
//! - A browser that crashes or is killed: every channel closes, costing
//!   what was in flight; the next slot that needs a worker finds the browser
//!   gone and launches a fresh one (a new generation, with channels of its
//!   own, so a page of the old browser can never answer for the new one).
//! - A launch that has served `RETIRE_AFTER` requests per worker is
//!   retired whole: later requests go to a fresh browser, and the old one is
//!   killed once its requests in flight are answered.
//! - A page whose content process dies while its browser lives (WebKitGTK
//!   2.50's web process segfaults now and then; MiniBrowser carries on
//!   with an empty view): the page's lifeline, a connection it holds while
//!   it lives, closes, and the browser is relaunched as if it had crashed.
//! - A page that stops reconnecting while its browser lives (its own
//!   thread stuck): after [`PAGE_CONNECT_TIMEOUT`] the browser counts as
//!   broken and is relaunched the same way.
//!
//! A slot's channel has an unguessable name of its own and takes one
//! connection at a time: it is open only while the slot waits for its
//! page worker, and closes on the first upgrade, so no other local process
//! can queue a worker of its own there (see PROTOCOL.md, "Who can reach a
//! channel").

use crate::browser::launcher::{Browser, BrowserKind};
use crate::browser::page::{channel_path, serve_driver_page, Lifeline};
use crate::loopback_server::{unguessable, ChannelConnection, LoopbackServer};
use crate::switches::Switch;
use crate::worker::client::Worker;
use crate::worker::engine::WorkerPool;
use crate::worker::pool::RETIRE_AFTER;
use crate::worker::transport::{Transport, WebSocketTransport};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a slot waits for its page to connect: a cold browser start
/// (profile creation, first page load) takes seconds on a small machine.
pub const PAGE_CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// How often a waiting slot checks that the browser is still running.
const LIVENESS_POLL: Duration = Duration::from_millis(200);

/// Launches per request for a worker, before the slot gives up (the
/// request's own retries may then try again).
const LAUNCH_ATTEMPTS: usize = 2;

pub struct PagePool {
    kind: BrowserKind,
    switches: Vec<Switch>,
    server: Arc<LoopbackServer>,
    /// Unique among this backend's pools, for channel names.
    label: String,
    running: Mutex<Option<Arc<Running>>>,
    generations: AtomicU64,
    slots: Vec<Slot>,
    next_slot: AtomicUsize,
}

/// A slot's worker, and the launch it runs in.
type Slot = Mutex<Option<(Arc<Worker>, Arc<Running>)>>;

/// One launch of the browser. Dropping it kills the browser.
struct Running {
    generation: u64,
    /// Requests handed to this launch's workers.
    requests: AtomicUsize,
    browser: Browser,
    /// Each slot's channel.
    channels: Vec<Mutex<Channel>>,
    /// The page's own connection, and its channel's path.
    lifeline: (Lifeline, String),
    server: Arc<LoopbackServer>,
}

/// A slot's channel: its path on the loopback server, and where the one
/// connection it is open for arrives (`None` once that one came: the
/// channel is closed until the slot waits for a worker again).
struct Channel {
    path: String,
    waiting: Option<Receiver<ChannelConnection>>,
}

impl Drop for Running {
    /// The launch's channels take no more connections.
    fn drop(&mut self) {
        for channel in &self.channels {
            let channel = channel.lock().unwrap_or_else(|e| e.into_inner());
            self.server.close_channel(&channel.path);
        }
        self.server.close_channel(&self.lifeline.1);
    }
}

impl PagePool {
    /// A pool of `size` page workers in one `kind` browser started with
    /// `switches`. Nothing starts until the first worker is asked for.
    pub fn new(
        kind: BrowserKind,
        switches: &[Switch],
        server: Arc<LoopbackServer>,
        label: String,
        size: usize,
    ) -> PagePool {
        PagePool {
            kind,
            switches: switches.to_vec(),
            server,
            label,
            running: Mutex::new(None),
            generations: AtomicU64::new(0),
            slots: (0..size.max(1)).map(|_| Mutex::new(None)).collect(),
            next_slot: AtomicUsize::new(0),
        }
    }

    /// The running browser, launched if there is none.
    fn running(&self) -> Result<Arc<Running>, String> {
        let mut running = self.running.lock().unwrap();
        if let Some(r) = running.as_ref() {
            return Ok(r.clone());
        }
        let generation = self.generations.fetch_add(1, Ordering::Relaxed);
        // Unguessable per launch and slot: only the page, told them in its
        // URL (which no other process sees), knows where its channels are.
        let names: Vec<String> = (0..self.slots.len())
            .map(|slot| format!("{}-g{generation}-w{slot}-{}", self.label, unguessable()))
            .collect();
        let lifeline = format!("{}-g{generation}-page-{}", self.label, unguessable());
        let page = serve_driver_page(&self.server, &names, &lifeline);
        let browser = match Browser::open(self.kind, &page.url, &self.switches) {
            Ok(browser) => browser,
            Err(why) => {
                for name in names.iter().chain([&lifeline]) {
                    self.server.close_channel(&channel_path(name));
                }
                return Err(why);
            }
        };
        let channels = names
            .iter()
            .zip(page.workers)
            .map(|(name, waiting)| {
                Mutex::new(Channel {
                    path: channel_path(name),
                    waiting: Some(waiting),
                })
            })
            .collect();
        let launched = Arc::new(Running {
            generation,
            requests: AtomicUsize::new(0),
            browser,
            channels,
            lifeline: (Lifeline::watch(page.lifeline), channel_path(&lifeline)),
            server: self.server.clone(),
        });
        *running = Some(launched.clone());
        Ok(launched)
    }

    /// Requests a launch serves before it is retired: the process pool's
    /// bound for each of its workers. A browser is retired whole, never one
    /// page worker at a time: in Chromium 156, after a page worker that had
    /// served 20,000 requests was replaced, the other compiles of the
    /// renderer stalled for seconds, so that most later cases were judged
    /// pending (the spec suite took 380 s instead of 20 s).
    fn retire_after(&self) -> usize {
        RETIRE_AFTER * self.slots.len()
    }

    /// Stops handing out launch `generation`'s workers, if it is still the
    /// running one: the next worker asked for starts a fresh browser.
    fn retire(&self, generation: u64) {
        let mut running = self.running.lock().unwrap();
        if running.as_ref().is_some_and(|r| r.generation == generation) {
            *running = None;
        }
    }

    /// Ends the launch `generation` if it is still the running one (slots
    /// that saw it fail at the same time relaunch only once).
    fn discard(&self, generation: u64) {
        let mut running = self.running.lock().unwrap();
        if running.as_ref().is_some_and(|r| r.generation == generation) {
            if let Some(r) = running.take() {
                r.browser.kill();
            }
        }
    }

    /// Waits for slot `slot`'s page worker of `running` to connect and say
    /// hello. Connections that close before their hello (a page that
    /// reloaded twice) are passed over.
    fn connect(&self, running: &Running, slot: usize) -> Result<Worker, String> {
        let mut channel = running.channels[slot].lock().unwrap();
        let deadline = Instant::now() + PAGE_CONNECT_TIMEOUT;
        let mut last = String::new();
        loop {
            if running.browser.has_exited() {
                return Err(format!(
                    "{} exited{}{last}",
                    self.kind.name(),
                    running.browser.kill()
                ));
            }
            // Its page is gone while it runs (in WebKitGTK 2.50 the web
            // process crashes now and then, and MiniBrowser carries on
            // without it): no worker will come.
            if running.lifeline.0.ended() {
                return Err(format!(
                    "{}'s driver page ended while the browser ran (its content process crashed or was killed){last}",
                    self.kind.name()
                ));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!(
                    "{}: no page worker connected within {} s{last}",
                    self.kind.name(),
                    PAGE_CONNECT_TIMEOUT.as_secs()
                ));
            }
            // Open for the next connection: the slot's worker is gone, or
            // the last connection closed before its hello.
            let path = channel.path.clone();
            let waiting = channel
                .waiting
                .get_or_insert_with(|| self.server.open_channel(&path).1);
            match waiting.recv_timeout(left.min(LIVENESS_POLL)) {
                Ok(connection) => {
                    channel.waiting = None;
                    let opened = Worker::connect(self.kind.name(), |receive| {
                        WebSocketTransport::start(connection, receive)
                            .map(|t| Box::new(t) as Box<dyn Transport>)
                    });
                    match opened {
                        Ok(worker) => return Ok(worker),
                        Err(why) => last = format!("; before that: {why}"),
                    }
                }
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => {
                    return Err("the loopback server stopped".into())
                }
            }
        }
    }
}

impl WorkerPool for PagePool {
    fn worker(&self) -> Result<Arc<Worker>, String> {
        let slot = self.next_slot.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let mut guard = self.slots[slot].lock().unwrap();
        if let Some((worker, launch)) = guard.as_ref() {
            let current = self
                .running
                .lock()
                .unwrap()
                .as_ref()
                .is_some_and(|r| r.generation == launch.generation);
            if current && !worker.is_dead() {
                if launch.requests.fetch_add(1, Ordering::Relaxed) < self.retire_after() {
                    return Ok(worker.clone());
                }
                // The launch has served enough: later requests go to a
                // fresh browser, and this one ends when its last request in
                // flight is answered (the slots and requests holding it let
                // go, and dropping a browser kills it).
                self.retire(launch.generation);
            }
        }
        // Let go of a dead worker, or one of a retired or discarded launch.
        *guard = None;
        let mut last = String::new();
        for _ in 0..LAUNCH_ATTEMPTS {
            let running = self.running()?;
            match self.connect(&running, slot) {
                Ok(worker) => {
                    let worker = Arc::new(worker);
                    *guard = Some((worker.clone(), running));
                    return Ok(worker);
                }
                Err(why) => {
                    self.discard(running.generation);
                    last = why;
                }
            }
        }
        Err(last)
    }
}

impl Drop for PagePool {
    fn drop(&mut self) {
        if let Some(running) = self.running.lock().unwrap().take() {
            running.browser.kill();
        }
    }
}
