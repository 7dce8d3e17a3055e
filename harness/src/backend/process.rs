//! Out-of-process backends: any executable that speaks the streamconform
//! process protocol (`harness/PROTOCOL.md`). The JS engines run one shared
//! driver, `harness/js/driver.mjs`, compiled into this crate.
//!
//! Workers are long-lived processes, one per core by default, each with
//! many cases in flight. A worker that dies costs the cases it had in
//! flight (recorded as crashes); one that does not answer within the hang
//! timeout is killed (that case is a timeout, the others in flight crash),
//! and the next request starts a fresh worker.

use super::switches::{self, Switch};
use super::{
    Backend, BackendInfo, BodyEnd, ProposalSupport, StreamingBody, WebApiBackend, WebApiOutcome,
};
use crate::features::{probe_bytes, Features, PROBES};
use crate::loopback_server::{serve_scenario, LoopbackServer};
use crate::outcome::Outcome;
use crate::plan::{format_cuts, ChunkPlan};
use crate::scenario::{stream_event_runs, BodyObservation, EventRun};
use crate::scenario::{JsValue, Scenario, StreamEnd};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub const PROTOCOL_VERSION: u32 = 2;
const DRIVER: &str = include_str!("../../js/driver.mjs");

/// The handshake a worker sends first.
#[derive(Clone, Debug, Deserialize)]
pub struct Hello {
    pub protocol: u32,
    pub engine: String,
    pub version: String,
    /// What the worker can do beyond the core protocol: `fetch` (it runs
    /// cases that fetch from the loopback server, `data:` and `blob:`
    /// URLs), `origin` (it runs in a document with an origin, so
    /// cross-origin requests and CORS apply).
    #[serde(default)]
    pub capabilities: Vec<String>,
}

pub struct ProcessBackend {
    name: String,
    /// The command up to where switches go (`node`, `deno run ...`), and
    /// what follows them (the driver script).
    program_and_args: Vec<String>,
    script: Vec<String>,
    /// Switches that may turn on proposals, from `switches::ENGINE_SWITCHES`.
    candidates: Vec<(String, Switch)>,
    workers: usize,
    /// Worker pools by switch set; the empty set is the engine as shipped.
    pools: Mutex<BTreeMap<Vec<Switch>, Arc<Pool>>>,
    next_request: AtomicU64,
    /// The first handshake; a failed one is retried (see `hello`).
    hello: OnceLock<Hello>,
    /// The last failed handshake, and when: callers within
    /// `HELLO_RETRY_AFTER` get it back without another attempt.
    hello_failed: Mutex<Option<(Instant, String)>>,
    /// Probed on first need: which candidates work, which proposals lack.
    support: OnceLock<Detected>,
    /// How long a compile may stay unsettled before it counts as pending.
    settle: Duration,
    /// How long past `settle` before a silent worker counts as hung.
    hang_grace: Duration,
    /// Started on the first case that fetches.
    server: OnceLock<Result<LoopbackServer, String>>,
}

/// Long-lived workers started with one switch set.
struct Pool {
    launch: Launch,
    slots: Vec<Mutex<Option<Arc<Worker>>>>,
    next_slot: AtomicUsize,
}

#[derive(Clone, Debug)]
struct Launch {
    command: Vec<String>,
    env: Vec<(String, String)>,
}

#[derive(Clone, Debug, Default)]
struct Detected {
    /// Proposal → the switch that turns it on (only where the engine as
    /// shipped lacks it and the switch was seen to work).
    switched: BTreeMap<String, Switch>,
    lacking: Vec<String>,
}

struct Worker {
    child: Mutex<Child>,
    stdin: Mutex<ChildStdin>,
    pending: Arc<Mutex<HashMap<u64, mpsc::Sender<WebApiOutcome>>>>,
    modules_sent: Mutex<HashSet<u64>>,
    dead: Arc<AtomicBool>,
    /// Why the worker was given up on, if it broke the protocol.
    fault: Arc<Mutex<Option<String>>>,
    stderr_tail: Arc<Mutex<String>>,
    /// Requests handed to this worker so far (see [`RETIRE_AFTER`]).
    requests: AtomicUsize,
}

/// A worker is retired after this many requests: the next request of its
/// slot starts a fresh one, and the old one exits when its in-flight
/// requests are done. Engines keep memory per compile that no request
/// gives back (node 20 grew to 1.4 GB over a full run, half of it outside
/// the JS heap); a fresh process bounds that without touching what is
/// measured.
const RETIRE_AFTER: usize = 20_000;

/// How often a request lost with its worker is run again on a fresh one.
const RETRIES_AFTER_WORKER_LOSS: usize = 1;

/// Pauses after each failed first handshake before the next attempt.
const HELLO_BACKOFF: [Duration; 3] = [
    Duration::from_millis(200),
    Duration::from_millis(800),
    Duration::ZERO,
];

/// How long a failed handshake stands before it is tried again.
const HELLO_RETRY_AFTER: Duration = Duration::from_secs(10);

impl ProcessBackend {
    pub fn new(
        name: &str,
        command: Vec<String>,
        workers: usize,
        settle: Duration,
    ) -> ProcessBackend {
        ProcessBackend {
            name: name.to_string(),
            program_and_args: command,
            script: Vec::new(),
            candidates: Vec::new(),
            workers: workers.max(1),
            pools: Mutex::new(BTreeMap::new()),
            next_request: AtomicU64::new(1),
            hello: OnceLock::new(),
            hello_failed: Mutex::new(None),
            support: OnceLock::new(),
            settle,
            hang_grace: Duration::from_secs(60),
            server: OnceLock::new(),
        }
    }

    /// A JS engine running the shared driver: `program [args...]
    /// [switches...] DRIVER`, with the candidate switches of `engine`.
    pub fn js(
        name: &str,
        engine: &str,
        program_and_args: &[String],
        workers: usize,
        settle: Duration,
    ) -> Result<ProcessBackend, String> {
        let mut backend = ProcessBackend::new(name, program_and_args.to_vec(), workers, settle);
        backend.script = vec![driver_path()?];
        backend.candidates = switches::candidates(engine);
        Ok(backend)
    }

    pub fn set_hang_grace(&mut self, grace: Duration) {
        self.hang_grace = grace;
    }

    fn launch(&self, set: &[Switch]) -> Launch {
        let rendered = switches::render(set);
        let mut command = self.program_and_args.clone();
        command.extend(rendered.args);
        command.extend(self.script.iter().cloned());
        Launch {
            command,
            env: rendered.env,
        }
    }

    fn pool(&self, set: Vec<Switch>) -> Arc<Pool> {
        let mut pools = self.pools.lock().unwrap();
        pools
            .entry(set)
            .or_insert_with_key(|set| {
                Arc::new(Pool {
                    launch: self.launch(set),
                    slots: (0..self.workers).map(|_| Mutex::new(None)).collect(),
                    next_slot: AtomicUsize::new(0),
                })
            })
            .clone()
    }

    /// The handshake of the first worker of the engine as shipped.
    pub fn hello(&self) -> Result<Hello, String> {
        if let Some(hello) = self.hello.get() {
            return Ok(hello.clone());
        }
        let mut failed = self.hello_failed.lock().unwrap();
        if let Some(hello) = self.hello.get() {
            return Ok(hello.clone());
        }
        if let Some((when, why)) = failed.as_ref() {
            if when.elapsed() < HELLO_RETRY_AFTER {
                return Err(why.clone());
            }
        }
        // A worker slow to start (a cold disk, a loaded machine) gets more
        // chances, with growing pauses, before the engine counts as
        // unavailable.
        let pool = self.pool(Vec::new());
        let mut last = String::new();
        for (attempt, pause) in HELLO_BACKOFF.iter().enumerate() {
            match Worker::spawn(&pool.launch) {
                Ok((worker, hello)) => {
                    *pool.slots[0].lock().unwrap() = Some(Arc::new(worker));
                    *failed = None;
                    return Ok(self.hello.get_or_init(|| hello).clone());
                }
                Err(e) => {
                    last = format!("{e} (attempt {} of {})", attempt + 1, HELLO_BACKOFF.len())
                }
            }
            std::thread::sleep(*pause);
        }
        *failed = Some((Instant::now(), last.clone()));
        Err(last)
    }

    fn worker(&self, pool: &Pool) -> Result<Arc<Worker>, String> {
        self.hello()?;
        let slot = pool.next_slot.fetch_add(1, Ordering::Relaxed) % pool.slots.len();
        let mut guard = pool.slots[slot].lock().unwrap();
        let usable = |w: &&Arc<Worker>| {
            !w.dead.load(Ordering::Relaxed)
                && w.requests.fetch_add(1, Ordering::Relaxed) < RETIRE_AFTER
        };
        if let Some(worker) = guard.as_ref().filter(usable) {
            return Ok(worker.clone());
        }
        let (worker, _) = Worker::spawn(&pool.launch)?;
        worker.requests.store(1, Ordering::Relaxed);
        let worker = Arc::new(worker);
        *guard = Some(worker.clone());
        Ok(worker)
    }

    /// The switch set for a case with `features`: the working switches of
    /// the proposals it enables.
    fn switches_for(&self, features: Option<&Features>) -> Vec<Switch> {
        let Some(features) = features else {
            return Vec::new();
        };
        if self.candidates.is_empty() {
            return Vec::new();
        }
        let detected = self.detected();
        let mut set: Vec<Switch> = detected
            .switched
            .iter()
            .filter(|(proposal, _)| features.enables(proposal))
            .map(|(_, switch)| *switch)
            .collect();
        set.sort();
        set.dedup();
        set
    }

    /// Probes the engine as shipped, then each candidate switch on its own
    /// worker: a switch counts if its proposal's probe compiles with it and
    /// did not without it. A switch the engine rejects (its worker does not
    /// start) is simply not used.
    fn detected(&self) -> &Detected {
        self.support.get_or_init(|| {
            let probe = |launch: &Launch, proposals: &[&str]| -> BTreeSet<String> {
                let Ok((worker, _)) = Worker::spawn(launch) else {
                    return BTreeSet::new();
                };
                let worker = Arc::new(worker);
                PROBES
                    .iter()
                    .filter(|(p, _)| proposals.contains(p))
                    .filter(|(_, hex)| {
                        let outcome =
                            self.request_on(&worker, &probe_bytes(hex), &RequestBody::OneShot);
                        matches!(outcome.outcome, Outcome::Module { .. })
                    })
                    .map(|(p, _)| p.to_string())
                    .collect()
            };
            let all: Vec<&str> = PROBES.iter().map(|(p, _)| *p).collect();
            let shipped = probe(&self.launch(&[]), &all);
            if self.hello().is_err() {
                return Detected::default();
            }
            let mut detected = Detected::default();
            for (proposal, switch) in &self.candidates {
                if shipped.contains(proposal) || detected.switched.contains_key(proposal) {
                    continue;
                }
                if probe(&self.launch(&[*switch]), &[proposal.as_str()]).contains(proposal) {
                    detected.switched.insert(proposal.clone(), *switch);
                }
            }
            detected.lacking = all
                .iter()
                .filter(|p| !shipped.contains(**p) && !detected.switched.contains_key(**p))
                .map(|p| p.to_string())
                .collect();
            detected
        })
    }

    fn request(
        &self,
        features: Option<&Features>,
        module: &[u8],
        body: RequestBody<'_>,
    ) -> WebApiOutcome {
        let pool = self.pool(self.switches_for(features));
        let mut attempt = 0;
        loop {
            let worker = match self.worker(&pool) {
                Ok(worker) => worker,
                Err(e) => return Outcome::Crash { message: e }.into(),
            };
            let outcome = self.request_on(&worker, module, &body);
            // A worker that died or broke the protocol takes every request
            // it had in flight with it; each is run again once on a fresh
            // worker, so only the one that really crashes the engine ends
            // as a crash.
            let lost = matches!(outcome.outcome, Outcome::Crash { .. })
                && worker.dead.load(Ordering::Relaxed);
            if !lost || attempt == RETRIES_AFTER_WORKER_LOSS {
                return outcome;
            }
            attempt += 1;
        }
    }

    fn request_on(
        &self,
        worker: &Arc<Worker>,
        module: &[u8],
        body: &RequestBody<'_>,
    ) -> WebApiOutcome {
        let module_id = module_id(module);
        let id = self.next_request.fetch_add(1, Ordering::Relaxed);
        let message = Request {
            id,
            module: module_id,
            settle_ms: self.settle.as_millis() as u64,
            body,
        };
        let (tx, rx) = mpsc::channel();
        worker.pending.lock().unwrap().insert(id, tx);
        if let Err(e) = worker
            .send_module(module_id, module)
            .and_then(|()| worker.send(&message))
        {
            worker.pending.lock().unwrap().remove(&id);
            worker.kill();
            return Outcome::Crash {
                message: format!("worker pipe: {e}{}", worker.stderr()),
            }
            .into();
        }
        match rx.recv_timeout(self.settle + self.hang_grace) {
            Ok(outcome) => outcome,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                worker.pending.lock().unwrap().remove(&id);
                worker.kill();
                Outcome::Timeout.into()
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let fault = worker.fault.lock().unwrap().clone();
                if fault.is_some() {
                    worker.kill();
                }
                Outcome::Crash {
                    message: match fault {
                        Some(why) => format!("{why}{}", worker.stderr()),
                        None => {
                            format!("worker exited{}", worker.exit_status(),) + &worker.stderr()
                        }
                    },
                }
                .into()
            }
        }
    }
}

impl Worker {
    fn spawn(launch: &Launch) -> Result<(Worker, Hello), String> {
        let (program, args) = launch.command.split_first().ok_or("empty command")?;
        let mut child = Command::new(program)
            .args(args)
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {program}: {e}"))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let stderr_tail = Arc::new(Mutex::new(String::new()));
        let tail = stderr_tail.clone();
        std::thread::spawn(move || keep_tail(stderr, &tail));
        let pending: Arc<Mutex<HashMap<u64, mpsc::Sender<WebApiOutcome>>>> = Arc::default();
        let dead = Arc::new(AtomicBool::new(false));
        let (hello_tx, hello_rx) = mpsc::channel();
        let fault: Arc<Mutex<Option<String>>> = Arc::default();
        let (pending_r, dead_r, fault_r) = (pending.clone(), dead.clone(), fault.clone());
        std::thread::spawn(move || read_replies(stdout, hello_tx, &pending_r, &dead_r, &fault_r));
        let hello = match hello_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(hello)) => hello,
            Ok(Err(e)) => {
                let _ = child.kill();
                return Err(format!(
                    "{program}: bad handshake: {e}{}",
                    tail_of(&stderr_tail)
                ));
            }
            Err(_) => {
                let _ = child.kill();
                return Err(format!(
                    "{program}: no handshake within 30 s{}",
                    tail_of(&stderr_tail)
                ));
            }
        };
        if hello.protocol != PROTOCOL_VERSION {
            let _ = child.kill();
            return Err(format!(
                "{program} speaks protocol {}, this harness {PROTOCOL_VERSION}",
                hello.protocol
            ));
        }
        let worker = Worker {
            child: Mutex::new(child),
            stdin: Mutex::new(stdin),
            pending,
            modules_sent: Mutex::new(HashSet::new()),
            dead,
            fault,
            stderr_tail,
            requests: AtomicUsize::new(0),
        };
        Ok((worker, hello))
    }

    fn send(&self, message: &impl Serialize) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(message).expect("requests serialize");
        line.push(b'\n');
        let mut stdin = self.stdin.lock().unwrap();
        stdin.write_all(&line)?;
        stdin.flush()
    }

    /// Module bytes go to each worker once; cases refer to them by id.
    fn send_module(&self, id: u64, bytes: &[u8]) -> std::io::Result<()> {
        let mut sent = self.modules_sent.lock().unwrap();
        if sent.insert(id) {
            self.send(&ModuleRequest {
                kind: "module",
                module: id,
                bytes: base64(bytes),
            })?;
        }
        Ok(())
    }

    fn kill(&self) {
        self.dead.store(true, Ordering::Relaxed);
        let _ = self.child.lock().unwrap().kill();
    }

    /// `: exit status N` or `: killed by signal N`, once the process ended.
    fn exit_status(&self) -> String {
        use std::os::unix::process::ExitStatusExt;
        match self.child.lock().unwrap().try_wait() {
            Ok(Some(status)) => match (status.code(), status.signal()) {
                (Some(code), _) => format!(" (exit status {code})"),
                (None, Some(signal)) => format!(" (killed by signal {signal})"),
                _ => String::new(),
            },
            _ => String::new(),
        }
    }

    fn stderr(&self) -> String {
        tail_of(&self.stderr_tail)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.lock().unwrap().kill();
        let _ = self.child.lock().unwrap().wait();
    }
}

fn tail_of(tail: &Mutex<String>) -> String {
    let tail = tail.lock().unwrap();
    if tail.trim().is_empty() {
        String::new()
    } else {
        format!("; stderr: {}", tail.trim())
    }
}

fn keep_tail(mut stderr: impl Read, tail: &Mutex<String>) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = stderr.read(&mut buf) {
        if n == 0 {
            break;
        }
        let mut tail = tail.lock().unwrap();
        tail.push_str(&String::from_utf8_lossy(&buf[..n]));
        if tail.len() > 2000 {
            let cut = tail.len() - 2000;
            let cut = (cut..tail.len())
                .find(|&i| tail.is_char_boundary(i))
                .unwrap_or(tail.len());
            tail.drain(..cut);
        }
    }
}

#[derive(Deserialize)]
struct Reply {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: u64,
    #[serde(default)]
    outcome: Option<Outcome>,
    /// What the body stream was seen doing (see `BodyObservation`).
    #[serde(default)]
    body: Option<BodyObservation>,
    #[serde(default)]
    message: Option<String>,
}

fn read_replies(
    stdout: impl Read,
    hello: mpsc::Sender<Result<Hello, String>>,
    pending: &Mutex<HashMap<u64, mpsc::Sender<WebApiOutcome>>>,
    dead: &AtomicBool,
    fault: &Mutex<Option<String>>,
) {
    // Lines as bytes: a line that is not UTF-8 is a protocol error of the
    // worker, not a reason to stop reading silently.
    let mut lines = BufReader::new(stdout).split(b'\n');
    match lines.next() {
        Some(Ok(line)) => {
            let line = String::from_utf8_lossy(&line);
            let _ = hello.send(
                serde_json::from_str::<Hello>(&line).map_err(|e| format!("{e}: {line:.200}")),
            );
        }
        _ => {
            let _ = hello.send(Err("closed before the handshake".into()));
        }
    }
    for line in lines {
        let Ok(line) = line else { break };
        let broken = match String::from_utf8(line) {
            Err(e) => Some(format!(
                "a line that is not UTF-8: {:.200}",
                String::from_utf8_lossy(e.as_bytes())
            )),
            Ok(line) => match serde_json::from_str::<Reply>(&line) {
                Ok(Reply {
                    kind,
                    id,
                    outcome: Some(outcome),
                    body,
                    ..
                }) if kind == "result" => match pending.lock().unwrap().remove(&id) {
                    Some(tx) => {
                        let _ = tx.send(WebApiOutcome { outcome, body });
                        None
                    }
                    // A reply to nothing in flight: whatever it answers, the
                    // worker's replies can no longer be trusted to be ours.
                    None => Some(format!(
                        "a reply to request {id}, which is not in flight: {line:.200}"
                    )),
                },
                Ok(Reply { kind, message, .. }) if kind == "error" => {
                    Some(format!("an error: {}", message.unwrap_or(line)))
                }
                Ok(_) => Some(format!("a line the protocol does not know: {line:.200}")),
                Err(e) => Some(format!("a line that is not protocol ({e}): {line:.200}")),
            },
        };
        if let Some(why) = broken {
            // Recycled at once: its in-flight requests fail now (and are
            // retried on a fresh worker), rather than after timeouts.
            *fault.lock().unwrap() = Some(format!("the worker broke the protocol, sending {why}"));
            break;
        }
    }
    // The worker is gone or unusable: everything in flight on it ends now.
    dead.store(true, Ordering::Relaxed);
    pending.lock().unwrap().clear();
}

fn module_id(bytes: &[u8]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

/// Standard base64 (module bytes travel in JSON as base64).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `{"type": "module", ...}`: module bytes, once per worker.
#[derive(Serialize)]
struct ModuleRequest {
    #[serde(rename = "type")]
    kind: &'static str,
    module: u64,
    bytes: String,
}

/// A request about one module, serialized straight onto the wire (no
/// intermediate JSON tree: a case's cut list can be megabytes).
#[derive(Serialize)]
struct Request<'a> {
    id: u64,
    module: u64,
    settle_ms: u64,
    #[serde(flatten)]
    body: &'a RequestBody<'a>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
enum RequestBody<'a> {
    OneShot,
    Case {
        scenario: WireScenario<'a>,
        /// The plan's cut list in the compact syntax of `format_cuts`.
        cuts: String,
        events: Vec<WireEvent>,
        #[serde(skip_serializing_if = "Option::is_none")]
        fetch_url: Option<String>,
    },
}

/// A request's scenario. A byte-level case is the default scenario, which
/// the driver fills in itself from an empty object (every field has its
/// default there too): most requests of a run are byte-level plans, and
/// their full scenario would be most of each request line.
enum WireScenario<'a> {
    Full(&'a Scenario),
    ByteLevel(BodyEnd),
}

impl Serialize for WireScenario<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            WireScenario::Full(scenario) => scenario.serialize(serializer),
            WireScenario::ByteLevel(end) => {
                let mut map = serializer.serialize_map(None)?;
                match end {
                    BodyEnd::Close => {}
                    BodyEnd::Error => {
                        map.serialize_entry("stream-end", &StreamEnd::Error)?;
                        map.serialize_entry("reason", &JsValue::Object)?;
                    }
                    BodyEnd::Never => map.serialize_entry("stream-end", &StreamEnd::Never)?,
                }
                map.end()
            }
        }
    }
}

/// The event kinds of a `case` request's `events`, as the driver names
/// them (a test checks that `js/driver.mjs` and PROTOCOL.md know each).
pub const EVENT_KINDS: &[&str] = &["chunks", "bad", "error", "close"];

/// One entry of `events`: `["chunks", first, count]`, `["bad"]`,
/// `["error"]` or `["close"]`.
struct WireEvent(EventRun);

impl Serialize for WireEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (kind, run) = match self.0 {
            EventRun::Chunks { first, count } => (EVENT_KINDS[0], Some((first, count))),
            EventRun::BadChunk => (EVENT_KINDS[1], None),
            EventRun::Error => (EVENT_KINDS[2], None),
            EventRun::Close => (EVENT_KINDS[3], None),
        };
        let mut seq = serializer.serialize_seq(Some(if run.is_some() { 3 } else { 1 }))?;
        seq.serialize_element(kind)?;
        if let Some((first, count)) = run {
            seq.serialize_element(&first)?;
            seq.serialize_element(&count)?;
        }
        seq.end()
    }
}

/// Writes the embedded driver to a file once per process.
fn driver_path() -> Result<String, String> {
    static PATH: OnceLock<Result<String, String>> = OnceLock::new();
    PATH.get_or_init(|| {
        let path = std::env::temp_dir().join(format!(
            "streamconform-driver-{:016x}.mjs",
            module_id(DRIVER.as_bytes())
        ));
        std::fs::write(&path, DRIVER).map_err(|e| format!("writing {}: {e}", path.display()))?;
        Ok(path.display().to_string())
    })
    .clone()
}

impl Backend for ProcessBackend {
    fn info(&self) -> BackendInfo {
        let version = match self.hello() {
            Ok(h) => format!("{} {}", h.engine, h.version),
            Err(e) => format!("unavailable: {e}"),
        };
        BackendInfo {
            name: self.name.clone(),
            version,
        }
    }

    fn compile_streaming(&self, body: StreamingBody<'_>, features: &Features) -> Outcome {
        // A byte-level case is the default scenario: a fresh Response with
        // Content-Type application/wasm and the chunks as Uint8Arrays.
        let chunks: Vec<&[u8]> = body.chunks.collect();
        let mut cuts = Vec::with_capacity(chunks.len().saturating_sub(1));
        let mut bytes = Vec::new();
        for (i, chunk) in chunks.iter().enumerate() {
            bytes.extend_from_slice(chunk);
            if i + 1 < chunks.len() {
                cuts.push(bytes.len());
            }
        }
        let mut scenario = Scenario::byte_level();
        match body.end {
            BodyEnd::Close => {}
            BodyEnd::Error => {
                scenario.stream_end = StreamEnd::Error;
                scenario.reason = Some(JsValue::Object);
            }
            BodyEnd::Never => scenario.stream_end = StreamEnd::Never,
        }
        let plan = ChunkPlan {
            name: "chunks".into(),
            cuts,
        };
        let wire = WireScenario::ByteLevel(body.end);
        self.compile_scenario(Some(features), &scenario, wire, &bytes, &plan)
            .outcome
    }

    fn compile_one_shot(&self, bytes: &[u8], features: &Features) -> Outcome {
        self.request(Some(features), bytes, RequestBody::OneShot)
            .outcome
    }

    fn ready(&self) -> Result<(), String> {
        self.hello().map(|_| ())
    }

    fn proposal_support(&self) -> Option<ProposalSupport> {
        self.hello().ok()?;
        let detected = self.detected();
        Some(ProposalSupport {
            switched_on: detected
                .switched
                .iter()
                .map(|(p, s)| (p.clone(), s.to_string()))
                .collect(),
            lacking: detected.lacking.clone(),
        })
    }

    fn preferred_jobs(&self) -> Option<usize> {
        // Keep every worker busy with several cases in flight.
        Some(self.workers * 4)
    }
}

impl WebApiBackend for ProcessBackend {
    fn compile_web_api(
        &self,
        scenario: &Scenario,
        module: &[u8],
        plan: &ChunkPlan,
    ) -> WebApiOutcome {
        // Web API cases are about the Response, not proposals: the engine
        // as shipped.
        self.compile_scenario(None, scenario, WireScenario::Full(scenario), module, plan)
    }

    fn not_applicable(&self, scenario: &Scenario) -> Option<String> {
        let capabilities = self.hello().ok()?.capabilities;
        let has = |c: &str| capabilities.iter().any(|have| have == c);
        if scenario.fetch.is_some() && !has("fetch") {
            Some(format!(
                "{} does not fetch (no `fetch` capability)",
                self.name
            ))
        } else if scenario.needs_origin() && !has("origin") {
            Some(format!(
                "{} runs without an origin, so requests are never cross-origin (no `origin` capability)",
                self.name
            ))
        } else {
            None
        }
    }
}

impl ProcessBackend {
    fn compile_scenario(
        &self,
        features: Option<&Features>,
        scenario: &Scenario,
        wire: WireScenario<'_>,
        module: &[u8],
        plan: &ChunkPlan,
    ) -> WebApiOutcome {
        let mut fetch_url = None;
        if scenario.fetch.is_some() {
            let server = self
                .server
                .get_or_init(|| LoopbackServer::start().map_err(|e| e.to_string()));
            match server {
                Ok(server) => {
                    fetch_url = serve_scenario(server, scenario, module);
                }
                Err(e) => {
                    return Outcome::Crash {
                        message: format!("loopback server: {e}"),
                    }
                    .into()
                }
            }
        }
        let events = stream_event_runs(scenario, plan.chunk_count())
            .into_iter()
            .map(WireEvent)
            .collect();
        let body = RequestBody::Case {
            scenario: wire,
            cuts: format_cuts(&plan.cuts),
            events,
            fetch_url,
        };
        self.request(features, module, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The event kinds the harness sends are the ones the shared driver
    /// handles and PROTOCOL.md documents, and every request is one line.
    #[test]
    fn event_kinds_agree_with_the_driver_and_the_protocol() {
        let protocol = include_str!("../../PROTOCOL.md");
        for kind in EVENT_KINDS {
            assert!(
                DRIVER.contains(&format!("\"{kind}\"")),
                "js/driver.mjs does not handle event {kind:?}"
            );
            assert!(
                protocol.contains(&format!("[\"{kind}\"")),
                "PROTOCOL.md does not document event {kind:?}"
            );
        }
        assert!(DRIVER.contains(&format!("const PROTOCOL = {PROTOCOL_VERSION};")));
        assert!(protocol.contains(&format!("\"protocol\": {PROTOCOL_VERSION},")));
        let mut scenario = Scenario::byte_level();
        scenario.bad_chunk = Some(crate::scenario::ChunkType::Null);
        let body = RequestBody::Case {
            scenario: WireScenario::Full(&scenario),
            cuts: format_cuts(&(1..400_000).collect::<Vec<_>>()),
            events: stream_event_runs(&scenario, 400_000)
                .into_iter()
                .map(WireEvent)
                .collect(),
            fetch_url: None,
        };
        let line = serde_json::to_string(&Request {
            id: 8,
            module: 9,
            settle_ms: 3000,
            body: &body,
        })
        .unwrap();
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["type"], "case");
        assert_eq!(
            (value["id"].as_u64(), value["module"].as_u64()),
            (Some(8), Some(9))
        );
        assert_eq!(value["cuts"], "1..400000");
        assert_eq!(
            value["events"],
            serde_json::json!([["chunks", 0, 400_000], ["bad"], ["close"]])
        );
        assert!(line.len() < 1000, "{} bytes", line.len());
        let one_shot = serde_json::to_string(&Request {
            id: 1,
            module: 2,
            settle_ms: 3,
            body: &RequestBody::OneShot,
        })
        .unwrap();
        assert!(one_shot.contains("\"type\":\"one-shot\""), "{one_shot}");
    }

    /// A byte-level case travels as an empty scenario (the driver's
    /// defaults), plus how its stream ends.
    #[test]
    fn byte_level_scenarios_are_sent_as_their_differences_from_the_default() {
        let json = |end| serde_json::to_string(&WireScenario::ByteLevel(end)).unwrap();
        assert_eq!(json(BodyEnd::Close), "{}");
        assert_eq!(
            json(BodyEnd::Error),
            r#"{"stream-end":"error","reason":"object"}"#
        );
        assert_eq!(json(BodyEnd::Never), r#"{"stream-end":"never"}"#);
        // The same keys and values a full scenario uses.
        let mut full = Scenario::byte_level();
        full.stream_end = StreamEnd::Error;
        full.reason = Some(JsValue::Object);
        let full = serde_json::to_value(&full).unwrap();
        assert_eq!(
            (&full["stream-end"], &full["reason"]),
            (&serde_json::json!("error"), &serde_json::json!("object"))
        );
    }

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"\0asm\x01\0\0\0"), "AGFzbQEAAAA=");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
    }
}
