//! The protocol client: one worker's requests and replies over a
//! transport. It checks every reply against what is in flight, times each
//! request from the moment the worker took it, and gives a worker that
//! breaks the protocol up at once.

use crate::launcher::{CpuUse, Launch};
use crate::worker::protocol::{ForgetRequest, Hello, ModuleRequest, Reply, Request, PING};
use crate::worker::transport::{Received, StdioTransport, Transport};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use streamconform::backend::{WebApiOutcome, MAX_SETTLE};
use streamconform::outcome::Outcome;
use streamconform::runner::{deadline_after, later_by};

/// How long a worker may take to say hello.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(30);

/// The most bytes of modules a worker is asked to keep. Without a bound a
/// worker held every module of its life: in a nightly, Firefox's page
/// workers, holding thousands of truncated prefixes of a large module,
/// failed compiles with "InternalError: out of memory".
pub const MODULE_BYTES_KEPT: usize = 32 << 20;

/// A worker with requests in flight that has said nothing for this long
/// is asked whether it is alive (`ping`): cheap, since a live worker
/// answers from its event loop at once.
pub const QUIET_BEFORE_PING: Duration = Duration::from_secs(1);

/// How long a pinged worker has to answer. One that does not, while its
/// processes used no CPU time and none could run, is stuck for good (a
/// deadlock: Node 26 hangs so, now and then): it is given up on then, as
/// if its oldest request had run out of time, instead of after the hang
/// timeout (60 s by default, so that a slow compile is not taken for a
/// hang). One that is busy (a long synchronous compile) uses CPU time and
/// is left alone. Node 26 deadlocks about once per 500 cases, so every
/// second here is minutes of a nightly.
pub const PING_ANSWER_WITHIN: Duration = Duration::from_secs(2);

/// How often a worker's watch looks at it.
const WATCH_EVERY: Duration = Duration::from_millis(250);

/// One worker, many requests in flight.
pub struct Worker {
    hello: Hello,
    transport: Arc<dyn Transport>,
    shared: Arc<Shared>,
    modules_sent: Mutex<SentModules>,
    /// Requests handed to this worker so far (its pool retires it).
    pub requests: AtomicUsize,
}

/// What the reader side and the requesting threads share.
#[derive(Default)]
struct Shared {
    pending: Mutex<HashMap<u64, InFlight>>,
    dead: AtomicBool,
    /// Why the worker was given up on, if it broke the protocol.
    fault: Mutex<Option<String>>,
    /// When the worker last wrote a line: a worker busy with a queue of
    /// slow requests still speaks; one silent for a whole request's time
    /// has stopped reading.
    last_heard: Mutex<Option<Instant>>,
}

/// A request sent and not yet answered.
struct InFlight {
    reply: mpsc::Sender<WebApiOutcome>,
    /// When the worker said it took the request. Noted, not sent to the
    /// waiting thread: waking it for every `started` would cost a context
    /// switch per request; it looks here only when its wait runs out.
    started: Option<Instant>,
    /// Whether the request had a pending window: a `pending` result to one
    /// without is a protocol fault, not an engine's outcome.
    has_window: bool,
}

/// How long a request may take: `settle` (the pending window the worker
/// applies itself) plus `hang_grace`, counted from when the worker took
/// the request, not from when it was sent (a request queued behind a slow
/// one is not hung). A request not yet taken waits as long as the worker
/// keeps speaking; a worker silent for the whole span has stopped reading.
#[derive(Clone, Copy, Debug)]
pub struct Deadlines {
    pub settle: Duration,
    pub hang_grace: Duration,
}

/// A body of this many bytes adds one more `settle` to its pending window.
pub const BODY_BYTES_PER_SETTLE: usize = 256 << 10;

impl Deadlines {
    /// The deadlines of a compile of a `body_len`-byte body: the pending
    /// window grows by one `settle` per [`BODY_BYTES_PER_SETTLE`]. A large
    /// body, fed in hundreds of thousands of chunks, can take an engine
    /// seconds to compile after its last chunk (Firefox took over 3 s for
    /// a 1.1 MB module in 7-byte chunks beside other plans of it); a window
    /// that ignored the size would report slow as pending. Small bodies,
    /// where pending cases live, keep the window as given. The window
    /// grows no further than a JS timer can wait ([`MAX_SETTLE`]).
    pub fn for_body(self, body_len: usize) -> Deadlines {
        let extra = u32::try_from(body_len / BODY_BYTES_PER_SETTLE).unwrap_or(u32::MAX);
        Deadlines {
            settle: self
                .settle
                .saturating_add(self.settle.saturating_mul(extra))
                .min(MAX_SETTLE),
            ..self
        }
    }
}

/// Why a request ended without an outcome of its own: its worker is gone
/// (exited, killed, broke the protocol, stopped reading). The request did
/// not run to an answer, so it may be run again on a fresh worker.
#[derive(Debug)]
pub struct Lost(pub String);

impl Worker {
    /// Starts a worker process and waits for its hello.
    pub fn start(launch: &Launch) -> Result<Worker, String> {
        Worker::connect(launch.program(), |receive| {
            StdioTransport::start(launch, receive).map(|t| Box::new(t) as Box<dyn Transport>)
        })
    }

    /// A worker over any transport: `open` is given where received lines
    /// go and returns the transport; then the worker's hello is awaited.
    /// `name` labels errors (the program, the browser).
    pub fn connect(
        name: &str,
        open: impl FnOnce(Box<dyn FnMut(Received) + Send>) -> Result<Box<dyn Transport>, String>,
    ) -> Result<Worker, String> {
        let shared = Arc::new(Shared::default());
        let (hello_tx, hello_rx) = mpsc::channel();
        let receiver = shared.clone();
        let mut hello_tx = Some(hello_tx);
        let transport: Arc<dyn Transport> = Arc::from(open(Box::new(move |received| {
            receiver.receive(received, &mut hello_tx)
        }))?);
        let hello = match hello_rx.recv_timeout(HELLO_TIMEOUT) {
            Ok(Ok(hello)) => hello,
            Ok(Err(e)) => {
                transport.kill();
                return Err(format!("{name}: {e}{}", transport.end_report()));
            }
            Err(_) => {
                transport.kill();
                return Err(format!(
                    "{name}: no handshake within {} s{}",
                    HELLO_TIMEOUT.as_secs(),
                    transport.end_report()
                ));
            }
        };
        if transport.cpu_use().is_some() {
            let (shared, transport) = (Arc::downgrade(&shared), Arc::downgrade(&transport));
            std::thread::Builder::new()
                .name("streamconform-worker-watch".into())
                .spawn(move || watch(shared, transport))
                .map_err(|e| format!("{name}: cannot start its watch: {e}"))?;
        }
        Ok(Worker {
            hello,
            transport,
            shared,
            modules_sent: Mutex::new(SentModules::default()),
            requests: AtomicUsize::new(0),
        })
    }

    /// What the worker said in its handshake.
    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    pub fn is_dead(&self) -> bool {
        self.shared.dead.load(Ordering::SeqCst)
    }

    pub fn kill(&self) {
        self.shared.dead.store(true, Ordering::SeqCst);
        self.transport.kill();
    }

    /// Sends `request` (with its module first, once per worker) and waits
    /// for its outcome. A request the worker took and never answered is a
    /// timeout (the worker is killed); one lost with its worker is `Lost`.
    pub fn request(
        &self,
        module: (u64, &[u8]),
        request: &Request<'_>,
        deadlines: Deadlines,
    ) -> Result<WebApiOutcome, Lost> {
        let (reply, rx) = mpsc::channel();
        self.shared.pending.lock().unwrap().insert(
            request.id,
            InFlight {
                reply,
                started: None,
                has_window: request.settle_ms.is_some(),
            },
        );
        if self.is_dead() {
            // Died between being handed out and now: its reader may have
            // emptied `pending` before this request was added.
            self.shared.pending.lock().unwrap().remove(&request.id);
            return Err(self.lost());
        }
        if let Err(e) = self.send_request(module, request) {
            self.give_up(request.id);
            return Err(Lost(format!(
                "worker pipe: {e}{}",
                self.transport.end_report()
            )));
        }
        let limit = deadlines.settle.saturating_add(deadlines.hang_grace);
        let mut deadline = deadline_after(limit);
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(wait) {
                Ok(outcome) => return Ok(outcome),
                Err(mpsc::RecvTimeoutError::Disconnected) => return Err(self.lost()),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let started = {
                        let pending = self.shared.pending.lock().unwrap();
                        pending.get(&request.id).map(|r| r.started)
                    };
                    match started {
                        // Answered or lost just now: the channel says which.
                        None => continue,
                        // Its clock runs from when the worker took it.
                        Some(Some(at)) => {
                            if later_by(at, limit) > Instant::now() {
                                deadline = later_by(at, limit);
                                continue;
                            }
                            if !self.give_up(request.id) {
                                // Its worker was given up on just now (stuck):
                                // the channel has what that made of it.
                                continue;
                            }
                            return Ok(Outcome::Timeout.into());
                        }
                        // Not taken yet: wait on while the worker works
                        // through what came before it.
                        Some(None) => {
                            if let Some(heard) = self.shared.heard_within(limit) {
                                deadline = later_by(heard, limit);
                                continue;
                            }
                            if !self.give_up(request.id) {
                                continue;
                            }
                            return Err(Lost(format!(
                                "the worker said nothing for {} s and did not take the request",
                                limit.as_secs_f64()
                            )));
                        }
                    }
                }
            }
        }
    }

    /// Ends a request that ran out of time, and its worker with it; false
    /// if the request had ended already (answered, or its worker given up
    /// on as stuck), so the one verdict on the worker is that one.
    fn give_up(&self, id: u64) -> bool {
        let ended_here = {
            let mut pending = self.shared.pending.lock().unwrap();
            let in_flight = pending.remove(&id).is_some();
            if in_flight {
                self.shared.dead.store(true, Ordering::SeqCst);
            }
            in_flight
        };
        self.kill();
        ended_here
    }

    /// Why this worker's requests were lost: its protocol fault, or how
    /// its process ended and its stderr tail.
    fn lost(&self) -> Lost {
        let fault = self.shared.fault.lock().unwrap().clone();
        let end = self.transport.end_report();
        Lost(match fault {
            Some(why) => format!("{why}{end}"),
            None => format!("worker exited{end}"),
        })
    }

    /// Sends `request`, after its module's bytes if this worker does not
    /// hold them (requests refer to a module by id), and before those the
    /// `forget`s that keep the worker within [`MODULE_BYTES_KEPT`], in one
    /// write: a page transport carries it as one message.
    fn send_request(&self, module: (u64, &[u8]), request: &Request<'_>) -> std::io::Result<()> {
        // Held through the write, so the lines of all threads reach the
        // worker in the order decided here: a request for a module never
        // overtakes its bytes, and a `forget` never overtakes a request.
        let mut sent = self.modules_sent.lock().unwrap();
        let mut lines = Vec::new();
        if !sent.holds(module.0) {
            for forgotten in sent.make_room(module.1.len(), MODULE_BYTES_KEPT) {
                serde_json::to_writer(&mut lines, &ForgetRequest::new(forgotten))
                    .expect("requests serialize");
                lines.push(b'\n');
            }
            sent.add(module.0, module.1.len());
            serde_json::to_writer(&mut lines, &ModuleRequest::new(module.0, module.1))
                .expect("requests serialize");
            lines.push(b'\n');
        }
        serde_json::to_writer(&mut lines, request).expect("requests serialize");
        self.transport.send(&lines)
    }
}

/// Watches one worker for as long as it lives: pings it when it has been
/// quiet with requests in flight, and gives it up as stuck when it neither
/// answers nor uses the CPU (see [`PING_ANSWER_WITHIN`]).
fn watch(shared: Weak<Shared>, transport: Weak<dyn Transport>) {
    // When the last ping went out, and the CPU use then.
    let mut asked: Option<(Instant, CpuUse)> = None;
    // Set while a ping is being written: one blocked on a full pipe is
    // not joined by another.
    let writing = Arc::new(AtomicBool::new(false));
    loop {
        std::thread::sleep(WATCH_EVERY);
        let (Some(shared), Some(transport)) = (shared.upgrade(), transport.upgrade()) else {
            return;
        };
        if shared.dead.load(Ordering::SeqCst) {
            return;
        }
        let heard = *shared.last_heard.lock().unwrap();
        if shared.pending.lock().unwrap().is_empty() {
            asked = None;
            continue;
        }
        match asked {
            // Anything it said since the ping answers it.
            Some((at, _)) if heard.is_some_and(|heard| heard >= at) => asked = None,
            Some((at, before)) if at.elapsed() >= PING_ANSWER_WITHIN => {
                match transport.cpu_use() {
                    Some(now) if now.ticks == before.ticks && !now.runnable => {
                        let why = format!(
                            "the worker stopped: it did not answer a ping within {} s, and its processes used no CPU time meanwhile and none could run (a deadlock)",
                            PING_ANSWER_WITHIN.as_secs()
                        );
                        if shared.stuck(at, why) {
                            transport.kill();
                            return;
                        }
                        asked = None;
                    }
                    // Busy, or starved of CPU: asked again after a quiet spell.
                    _ => asked = None,
                }
            }
            Some(_) => {}
            None => {
                let quiet = heard.is_none_or(|heard| heard.elapsed() >= QUIET_BEFORE_PING);
                if let (true, Some(before)) = (quiet, transport.cpu_use()) {
                    // Noted before the ping goes, so its answer comes after.
                    asked = Some((Instant::now(), before));
                    // Written from a thread of its own: a worker that stopped
                    // reading with its pipe full blocks the write (until it
                    // is killed), and that is as much no answer as silence.
                    if !writing.swap(true, Ordering::SeqCst) {
                        let (pinged, done) = (transport.clone(), writing.clone());
                        let spawned = std::thread::Builder::new()
                            .name("streamconform-worker-ping".into())
                            .spawn(move || {
                                let _ = pinged.send(PING);
                                done.store(false, Ordering::SeqCst);
                            });
                        if spawned.is_err() {
                            writing.store(false, Ordering::SeqCst);
                            asked = None;
                        }
                    }
                }
            }
        }
    }
}

impl Drop for Worker {
    /// A worker's process ends with it (its transport's own drop kills
    /// it). A ping blocked on the worker's full pipe still holds the
    /// transport, so then it is killed here, which also ends that write.
    fn drop(&mut self) {
        if Arc::strong_count(&self.transport) > 1 {
            self.transport.kill();
        }
    }
}

/// The modules a worker holds, oldest first, and their bytes.
#[derive(Default)]
struct SentModules {
    held: HashSet<u64>,
    order: VecDeque<(u64, usize)>,
    bytes: usize,
}

impl SentModules {
    fn holds(&self, module: u64) -> bool {
        self.held.contains(&module)
    }

    fn add(&mut self, module: u64, len: usize) {
        self.held.insert(module);
        self.order.push_back((module, len));
        self.bytes += len;
    }

    /// The oldest modules to forget so that `len` more bytes fit within
    /// `budget` (a module larger than the budget is still sent, alone).
    fn make_room(&mut self, len: usize, budget: usize) -> Vec<u64> {
        let mut forgotten = Vec::new();
        while self.bytes + len > budget {
            let Some((oldest, size)) = self.order.pop_front() else {
                break;
            };
            self.held.remove(&oldest);
            self.bytes -= size;
            forgotten.push(oldest);
        }
        forgotten
    }
}

impl Shared {
    /// When the worker last spoke, if within `span` of now.
    fn heard_within(&self, span: Duration) -> Option<Instant> {
        let heard = (*self.last_heard.lock().unwrap())?;
        (later_by(heard, span) > Instant::now()).then_some(heard)
    }

    /// Everything the worker writes, in order: its hello first, then
    /// replies, each checked against what is in flight.
    fn receive(&self, received: Received, hello: &mut Option<mpsc::Sender<Result<Hello, String>>>) {
        let line = match received {
            Received::Line(line) => line,
            Received::TooLong => {
                let why = format!(
                    "a line longer than {} bytes",
                    crate::worker::transport::MAX_LINE_BYTES
                );
                if let Some(hello) = hello.take() {
                    let _ = hello.send(Err(format!("its handshake is {why}")));
                }
                *self.fault.lock().unwrap() =
                    Some(format!("the worker broke the protocol, sending {why}"));
                return self.end();
            }
            Received::Closed => {
                if let Some(hello) = hello.take() {
                    let _ = hello.send(Err("closed before the handshake".into()));
                }
                return self.end();
            }
        };
        *self.last_heard.lock().unwrap() = Some(Instant::now());
        if let Some(hello) = hello.take() {
            let _ = hello.send(Hello::parse(&line));
            return;
        }
        if self.dead.load(Ordering::SeqCst) {
            return;
        }
        let broken = match Reply::parse(&line) {
            Err(why) => Some(why),
            Ok(reply) => {
                let mut pending = self.pending.lock().unwrap();
                match reply {
                    Reply::Pong => None,
                    Reply::Started { id } => match pending.get_mut(&id) {
                        Some(in_flight) => {
                            in_flight.started = Some(Instant::now());
                            None
                        }
                        None => Some(not_in_flight(id, &line)),
                    },
                    Reply::Result { id, outcome } => match pending.remove(&id) {
                        Some(in_flight)
                            if outcome.outcome == Outcome::Pending && !in_flight.has_window =>
                        {
                            // Put back, to end with the worker once the
                            // fault is recorded: its case then reads the
                            // fault, not a worker that merely went away.
                            pending.insert(id, in_flight);
                            Some(format!(
                                "`pending` for request {id}, which had no pending window (its body ends)"
                            ))
                        }
                        Some(in_flight) => {
                            let _ = in_flight.reply.send(outcome);
                            None
                        }
                        // A reply to nothing in flight: whatever it answers,
                        // the worker's replies can no longer be trusted.
                        None => Some(not_in_flight(id, &line)),
                    },
                }
            }
        };
        if let Some(why) = broken {
            // Given up on at once: its in-flight requests are lost now (and
            // run again on a fresh worker) rather than after timeouts. A
            // worker given up on already (stuck) keeps that as its cause.
            if !self.dead.load(Ordering::SeqCst) {
                *self.fault.lock().unwrap() =
                    Some(format!("the worker broke the protocol, sending {why}"));
            }
            self.end();
        }
    }

    /// The worker is stuck, unless it spoke after `since` (the ping) or was
    /// given up on already: its oldest started request times out, as the
    /// hang timeout would have had it (the engine took it and never
    /// answered); the others are lost with the worker and run again.
    fn stuck(&self, since: Instant, why: String) -> bool {
        // Under the lock replies and hang timeouts take: a reply that came
        // after all, or a request that ran out of time first, wins.
        let mut pending = self.pending.lock().unwrap();
        if self
            .last_heard
            .lock()
            .unwrap()
            .is_some_and(|heard| heard >= since)
            || self.dead.swap(true, Ordering::SeqCst)
        {
            return false;
        }
        *self.fault.lock().unwrap() = Some(why);
        let oldest = pending
            .iter()
            .filter_map(|(id, request)| request.started.map(|at| (at, *id)))
            .min()
            .map(|(_, id)| id);
        if let Some(request) = oldest.and_then(|id| pending.remove(&id)) {
            let _ = request.reply.send(Outcome::Timeout.into());
        }
        pending.clear();
        true
    }

    /// The worker is gone or unusable: everything in flight on it ends now.
    fn end(&self) {
        self.dead.store(true, Ordering::SeqCst);
        self.pending.lock().unwrap().clear();
    }
}

fn not_in_flight(id: u64, line: &[u8]) -> String {
    format!(
        "a reply to request {id}, which is not in flight: {:.200}",
        String::from_utf8_lossy(line)
    )
}

#[cfg(test)]
mod tests {
    use super::{Deadlines, SentModules, BODY_BYTES_PER_SETTLE};
    use std::time::Duration;

    #[test]
    fn the_oldest_modules_are_forgotten_to_keep_within_the_budget() {
        let mut sent = SentModules::default();
        assert!(sent.make_room(60, 100).is_empty());
        sent.add(1, 60);
        assert!(sent.make_room(30, 100).is_empty());
        sent.add(2, 30);
        // 50 more: 1 goes (oldest), 2 stays.
        assert_eq!(sent.make_room(50, 100), [1]);
        sent.add(3, 50);
        assert!(!sent.holds(1) && sent.holds(2) && sent.holds(3));
        // Larger than the budget: everything goes, and it is still sent.
        assert_eq!(sent.make_room(500, 100), [2, 3]);
        sent.add(4, 500);
        assert!(sent.holds(4));
        assert_eq!(sent.make_room(1, 100), [4]);
    }

    #[test]
    fn the_pending_window_grows_with_the_body() {
        let given = Deadlines {
            settle: Duration::from_millis(3000),
            hang_grace: Duration::from_secs(60),
        };
        assert_eq!(given.for_body(1000).settle, given.settle);
        assert_eq!(
            given.for_body(BODY_BYTES_PER_SETTLE - 1).settle,
            given.settle
        );
        let large = given.for_body(4 * BODY_BYTES_PER_SETTLE + 5);
        assert_eq!(large.settle, Duration::from_millis(15_000));
        assert_eq!(large.hang_grace, given.hang_grace);
    }

    /// A JS timer waits at most 2^31 - 1 ms: no body grows a window past
    /// it (a longer delay fires at once and reads as `pending`).
    #[test]
    fn the_pending_window_grows_no_further_than_a_js_timer_waits() {
        let js_timer_limit = Duration::from_millis((1 << 31) - 1);
        for settle in [Duration::from_secs(1), js_timer_limit] {
            let given = Deadlines {
                settle,
                hang_grace: Duration::from_secs(60),
            };
            for body_len in [100 << 20, 3 << 30, usize::MAX] {
                assert!(given.for_body(body_len).settle <= js_timer_limit);
            }
        }
        let huge = Deadlines {
            settle: Duration::from_secs(1),
            hang_grace: Duration::ZERO,
        };
        assert_eq!(huge.for_body(usize::MAX).settle, js_timer_limit);
    }
}
