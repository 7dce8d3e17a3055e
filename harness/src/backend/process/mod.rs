//! Out-of-process backends: any executable that speaks the streamconform
//! process protocol (`harness/PROTOCOL.md`). The JS engines run one shared
//! driver compiled into this crate: `harness/js/driver-core.mjs` (the
//! protocol, web-platform APIs only) under `harness/js/stdio.mjs`.
//!
//! The pieces, shared with browser backends:
//! - `../launcher.rs` starts worker processes (own process group, dying
//!   with the harness; browsers start the same way);
//! - `../worker/` is any worker: its transport (stdio, WebSocket), the
//!   wire vocabulary, the protocol client and the pool;
//! - this file is the backend: handshake, proposal detection, retries.
//!
//! Workers are long-lived, one per core by default, each with many cases
//! in flight. A request lost with its worker (it exited, broke the
//! protocol, or was killed because a neighbour hung) runs again on a fresh
//! worker; one the worker took and never answered is a timeout.

pub use crate::backend::worker::protocol::{Hello, PROTOCOL_VERSION};

use super::switches::{self, Switch};
use super::{
    Backend, BackendInfo, BodyEnd, ProposalSupport, StreamingBody, WebApiBackend, WebApiOutcome,
};
use crate::backend::launcher::Launch;
use crate::backend::worker::client::{self, Deadlines, Worker};
use crate::backend::worker::pool::Pool;
use crate::backend::worker::protocol::{
    module_id, Request, RequestBody, WireCuts, WireEvent, WireScenario,
};
use crate::features::{probe_bytes, Features, PROBES};
use crate::loopback_server::{serve_scenario, LoopbackServer};
use crate::outcome::Outcome;
use crate::plan::ChunkPlan;
use crate::scenario::stream_event_runs;
use crate::scenario::{JsValue, Scenario, StreamEnd};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::backend::js::{DRIVER_CORE, STDIO_TRANSPORT};

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

#[derive(Clone, Debug, Default)]
struct Detected {
    /// Proposal → the switch that turns it on (only where the engine as
    /// shipped lacks it and the switch was seen to work).
    switched: BTreeMap<String, Switch>,
    lacking: Vec<String>,
}

/// How often a request lost with its worker is run again on a fresh one.
/// Most losses are a neighbour's doing (a request that crashed or hung the
/// worker, a protocol fault), so a few retries; a request that crashes the
/// engine itself every time ends as a crash after them.
const RETRIES_AFTER_WORKER_LOSS: usize = 3;

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
            hang_grace: super::DEFAULT_HANG_GRACE,
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

    fn deadlines(&self) -> Deadlines {
        Deadlines {
            settle: self.settle,
            hang_grace: self.hang_grace,
        }
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
            .or_insert_with_key(|set| Arc::new(Pool::new(self.launch(set), self.workers)))
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
            match Worker::start(&pool.launch) {
                Ok((worker, hello)) => {
                    pool.adopt(worker);
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
            if self.hello().is_err() {
                return Detected::default();
            }
            // Probes run like cases (a probe lost with its worker runs
            // again), on a one-worker pool per switch set tried, all in
            // flight at once: a worker that hangs costs one hang timeout,
            // not one per proposal.
            let probe = |launch: Launch, proposals: &[&str]| -> BTreeSet<String> {
                let pool = Pool::new(launch, 1);
                std::thread::scope(|scope| {
                    let probes: Vec<_> = PROBES
                        .iter()
                        .filter(|(p, _)| proposals.contains(p))
                        .map(|(proposal, hex)| {
                            let pool = &pool;
                            scope.spawn(move || {
                                let outcome =
                                    self.request_in(pool, &probe_bytes(hex), &RequestBody::OneShot);
                                matches!(outcome.outcome, Outcome::Module { .. })
                                    .then(|| proposal.to_string())
                            })
                        })
                        .collect();
                    probes
                        .into_iter()
                        .filter_map(|probe| probe.join().expect("probes do not panic"))
                        .collect()
                })
            };
            let all: Vec<&str> = PROBES.iter().map(|(p, _)| *p).collect();
            let shipped = probe(self.launch(&[]), &all);
            // Each candidate on a worker of its own, all at once; the first
            // working switch of a proposal (in table order) is the one used.
            let tried: Vec<(&String, Switch, bool)> = std::thread::scope(|scope| {
                let probes: Vec<_> = self
                    .candidates
                    .iter()
                    .filter(|(proposal, _)| !shipped.contains(proposal))
                    .map(|(proposal, switch)| {
                        let probe = &probe;
                        let works = scope.spawn(move || {
                            probe(self.launch(&[*switch]), &[proposal.as_str()]).contains(proposal)
                        });
                        (proposal, *switch, works)
                    })
                    .collect();
                probes
                    .into_iter()
                    .map(|(p, s, works)| (p, s, works.join().expect("probes do not panic")))
                    .collect()
            });
            let mut detected = Detected::default();
            for (proposal, switch, works) in tried {
                if works && !detected.switched.contains_key(proposal) {
                    detected.switched.insert(proposal.clone(), switch);
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
        self.request_in(&pool, module, &body)
    }

    /// A request on a worker of `pool`, run again on a fresh worker when
    /// lost with its worker.
    fn request_in(&self, pool: &Pool, module: &[u8], body: &RequestBody<'_>) -> WebApiOutcome {
        let mut last_loss = String::new();
        for _attempt in 0..=RETRIES_AFTER_WORKER_LOSS {
            if let Err(e) = self.hello() {
                return Outcome::Crash { message: e }.into();
            }
            let worker = match pool.worker() {
                Ok(worker) => worker,
                // A fresh worker that did not start (its engine answered
                // the first hello, so this one is bad luck, not a broken
                // setup): tried again, within the same bound.
                Err(why) => {
                    last_loss = why;
                    continue;
                }
            };
            match self.request_on(&worker, module, body) {
                Ok(outcome) => return outcome,
                // Lost with its worker (which died or broke the protocol,
                // maybe for a neighbour's sake): run again on a fresh one.
                Err(client::Lost(why)) => last_loss = why,
            }
        }
        Outcome::Crash { message: last_loss }.into()
    }

    fn request_on(
        &self,
        worker: &Worker,
        module: &[u8],
        body: &RequestBody<'_>,
    ) -> Result<WebApiOutcome, client::Lost> {
        let request = Request {
            id: self.next_request.fetch_add(1, Ordering::Relaxed),
            module: module_id(module),
            settle_ms: self.settle.as_millis() as u64,
            body,
        };
        worker.request((request.module, module), &request, self.deadlines())
    }
}

/// Writes the embedded driver, core and stdio transport side by side, to
/// a directory named by their contents, once per process; the command runs
/// the transport. Each file is written under a temporary name and renamed,
/// so a worker of another run never imports a half-written one.
fn driver_path() -> Result<String, String> {
    static PATH: OnceLock<Result<String, String>> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!(
            "streamconform-driver-{:016x}",
            module_id(format!("{DRIVER_CORE}\0{STDIO_TRANSPORT}").as_bytes())
        ));
        let write = |name: &str, text: &str| -> std::io::Result<std::path::PathBuf> {
            let path = dir.join(name);
            let partial = dir.join(format!("{name}.{}.partial", std::process::id()));
            std::fs::write(&partial, text)?;
            std::fs::rename(&partial, &path)?;
            Ok(path)
        };
        let written = std::fs::create_dir_all(&dir)
            .and_then(|()| write("driver-core.mjs", DRIVER_CORE))
            .and_then(|_| write("stdio.mjs", STDIO_TRANSPORT));
        match written {
            Ok(path) => Ok(path.display().to_string()),
            Err(e) => Err(format!("writing the driver to {}: {e}", dir.display())),
        }
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
        self.compile_scenario(Some(features), &scenario, &bytes, &plan)
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
        self.compile_scenario(None, scenario, module, plan)
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
            scenario: Box::new(WireScenario::new(scenario, fetch_url)),
            cuts: WireCuts(&plan.cuts),
            events,
        };
        self.request(features, module, body)
    }
}
