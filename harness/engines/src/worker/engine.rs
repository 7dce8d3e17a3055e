//! A backend over pools of workers, whatever the workers are: engine
//! processes (`backend/process/`) or browser pages (`backend/browser/`).
//! It does what does not depend on how a worker starts: the handshake (with
//! backoff), proposal detection (probes, candidate switches), running each
//! case as a request on a worker of the right switch set, and running a
//! request lost with its worker again on a fresh one.

use crate::loopback_server::{serve_scenario, LoopbackServer};
use crate::switches::Switch;
use crate::worker::client::{self, Deadlines, Worker};
use crate::worker::protocol::{
    module_id, Hello, Request, RequestBody, WireCuts, WireEvent, WireImports, WireScenario,
};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use streamconform::backend::{
    Backend, BackendInfo, BodyEnd, InstantiateBackend, ProposalSupport, StreamingBody,
    WebApiBackend, WebApiOutcome,
};
use streamconform::case::{ImportObject, StreamingFunction};
use streamconform::features::{
    probe_bytes, Features, JS_API_PROPOSALS, JS_STRING_BUILTINS_PROBE, PROBES,
};
use streamconform::outcome::Outcome;
use streamconform::plan::ChunkPlan;
use streamconform::scenario::{
    stream_event_runs, JsValue, OptionsDictionary, Scenario, StreamEnd, JS_STRING_BUILTINS,
};

/// Where a backend's workers come from.
pub trait WorkerSource: Send + Sync {
    /// A pool of `size` workers started with `switches` on.
    fn pool(&self, switches: &[Switch], size: usize) -> Arc<dyn WorkerPool>;

    /// The engine and version for reports, given a worker's hello.
    fn describe(&self, hello: &Hello) -> String {
        format!("{} {}", hello.engine, hello.version)
    }

    /// The loopback server that serves the bodies of cases that fetch.
    fn server(&self) -> Result<Arc<LoopbackServer>, String>;

    /// How many cases to keep in flight per worker.
    fn cases_per_worker(&self) -> usize {
        4
    }
}

/// Long-lived workers of one switch set, handed out in turn.
pub trait WorkerPool: Send + Sync {
    /// A worker to send the next request to: a live one, or a fresh one
    /// in place of one that died.
    fn worker(&self) -> Result<Arc<Worker>, String>;
}

/// How often a request lost with its worker is run again on a fresh one.
/// Most losses are a neighbour's doing (a request that crashed or hung the
/// worker, a protocol fault, a browser killed from outside), so a few
/// retries; a request that crashes the engine itself every time ends as a
/// crash after them.
pub const RETRIES_AFTER_WORKER_LOSS: usize = 3;

/// Pauses after each failed first handshake before the next attempt.
const HELLO_BACKOFF: [Duration; 3] = [
    Duration::from_millis(200),
    Duration::from_millis(800),
    Duration::ZERO,
];

/// How long a failed handshake stands before it is tried again.
const HELLO_RETRY_AFTER: Duration = Duration::from_secs(10);

/// Which streaming function a request calls, and with what import object.
#[derive(Clone, Copy)]
struct Call<'a> {
    function: StreamingFunction,
    imports: &'a ImportObject,
}

impl<'a> Call<'a> {
    const COMPILE: Call<'static> = Call {
        function: StreamingFunction::Compile,
        imports: &ImportObject::Omitted,
    };

    fn instantiate(imports: &'a ImportObject) -> Call<'a> {
        Call {
            function: StreamingFunction::Instantiate,
            imports,
        }
    }
}

pub struct WorkerBackend {
    /// What every copy of this backend shares (a copy on fresh workers
    /// for a retry shares the handshake and the probes).
    shared: Arc<Shared>,
    workers: usize,
    /// Worker pools by switch set; the empty set is the engine as shipped.
    pools: Mutex<BTreeMap<Vec<Switch>, Arc<dyn WorkerPool>>>,
}

pub struct Shared {
    name: String,
    source: Box<dyn WorkerSource>,
    /// Switches that may turn on proposals, from `switches::ENGINE_SWITCHES`.
    candidates: Vec<(String, Switch)>,
    next_request: AtomicU64,
    /// The first handshake; a failed one is retried (see `hello`).
    hello: OnceLock<Hello>,
    /// The last failed handshake, and when: callers within
    /// `HELLO_RETRY_AFTER` get it back without another attempt.
    hello_failed: Mutex<Option<(Instant, String)>>,
    /// Probed on first need: which candidates work, which proposals lack.
    support: OnceLock<Detected>,
    deadlines: Deadlines,
}

/// `self.name`, `self.source`, ...: the shared parts read as the backend's.
impl std::ops::Deref for WorkerBackend {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.shared
    }
}

#[derive(Clone, Debug, Default)]
struct Detected {
    /// Proposal → the switch that turns it on (only where the engine as
    /// shipped lacks it and the switch was seen to work).
    switched: BTreeMap<String, Switch>,
    lacking: Vec<String>,
}

impl WorkerBackend {
    /// `workers` workers per switch set; a compile unsettled after
    /// `settle` is pending (the worker applies that itself).
    pub fn new(
        name: &str,
        source: Box<dyn WorkerSource>,
        candidates: Vec<(String, Switch)>,
        workers: usize,
        settle: Duration,
    ) -> WorkerBackend {
        WorkerBackend {
            shared: Arc::new(Shared {
                name: name.to_string(),
                source,
                candidates,
                next_request: AtomicU64::new(1),
                hello: OnceLock::new(),
                hello_failed: Mutex::new(None),
                support: OnceLock::new(),
                deadlines: Deadlines {
                    settle,
                    hang_grace: streamconform::backend::DEFAULT_HANG_GRACE,
                },
            }),
            workers: workers.max(1),
            pools: Mutex::new(BTreeMap::new()),
        }
    }

    /// How long past the pending window a silent worker counts as hung
    /// (set before the backend is shared or copied).
    pub fn set_hang_grace(&mut self, grace: Duration) {
        Arc::get_mut(&mut self.shared)
            .expect("the hang grace is set before the backend is copied")
            .deadlines
            .hang_grace = grace;
    }

    /// This backend on workers of its own, started when first needed and
    /// stopped when it is dropped: one per switch set.
    pub fn on_fresh_workers(&self) -> WorkerBackend {
        WorkerBackend {
            shared: self.shared.clone(),
            workers: 1,
            pools: Mutex::new(BTreeMap::new()),
        }
    }

    fn pool(&self, set: Vec<Switch>) -> Arc<dyn WorkerPool> {
        let mut pools = self.pools.lock().unwrap();
        pools
            .entry(set)
            .or_insert_with_key(|set| self.source.pool(set, self.workers))
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
        // unavailable. The worker stays in its pool for the first case.
        let pool = self.pool(Vec::new());
        let mut last = String::new();
        for (attempt, pause) in HELLO_BACKOFF.iter().enumerate() {
            match pool.worker() {
                Ok(worker) => {
                    *failed = None;
                    return Ok(self.hello.get_or_init(|| worker.hello().clone()).clone());
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
        let mut set: Vec<Switch> = self
            .detected()
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
            let probe = |pool: Arc<dyn WorkerPool>, proposals: &[&str]| -> BTreeSet<String> {
                std::thread::scope(|scope| {
                    let probes: Vec<_> = PROBES
                        .iter()
                        .filter(|(p, _)| proposals.contains(p))
                        .map(|(proposal, hex)| {
                            let pool = &*pool;
                            scope.spawn(move || {
                                let outcome = self.request_in(
                                    pool,
                                    &probe_bytes(hex),
                                    Call::COMPILE,
                                    &RequestBody::OneShot { options: None },
                                    false,
                                );
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
            let shipped = probe(self.pool(Vec::new()), &all);
            // The JS API proposal: a builtin import of the wrong type is a
            // CompileError only where the `builtins` option is understood.
            let js_string_builtins = {
                let options = OptionsDictionary {
                    builtins: Some(vec![JS_STRING_BUILTINS.into()]),
                    imported_string_constants: None,
                };
                let outcome = self.request_in(
                    &*self.pool(Vec::new()),
                    &probe_bytes(JS_STRING_BUILTINS_PROBE),
                    Call::COMPILE,
                    &RequestBody::OneShot {
                        options: Some(&options),
                    },
                    false,
                );
                matches!(outcome.outcome, Outcome::CompileError { .. })
            };
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
                            let pool = self.source.pool(&[*switch], 1);
                            probe(pool, &[proposal.as_str()]).contains(proposal)
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
            if !js_string_builtins {
                detected.lacking.push(JS_API_PROPOSALS[0].to_string());
            }
            detected
        })
    }

    fn request(
        &self,
        features: Option<&Features>,
        module: &[u8],
        call: Call<'_>,
        body: RequestBody<'_>,
        pending_window: bool,
    ) -> WebApiOutcome {
        let pool = self.pool(self.switches_for(features));
        self.request_in(&*pool, module, call, &body, pending_window)
    }

    /// A request on a worker of `pool`, run again on a fresh worker when
    /// lost with its worker. With `pending_window` (a case whose source or
    /// body may never end) the worker reports a compile unsettled after
    /// the window as `pending`; without, it waits for the compile to
    /// settle, within the hang deadline.
    fn request_in(
        &self,
        pool: &dyn WorkerPool,
        module: &[u8],
        call: Call<'_>,
        body: &RequestBody<'_>,
        pending_window: bool,
    ) -> WebApiOutcome {
        let imports = WireImports::new(call.imports);
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
            let deadlines = self.deadlines.for_body(module.len());
            let request = Request {
                id: self.next_request.fetch_add(1, Ordering::Relaxed),
                module: module_id(module),
                settle_ms: pending_window
                    .then(|| u64::try_from(deadlines.settle.as_millis()).unwrap_or(u64::MAX)),
                function: call.function,
                imports: imports.as_ref(),
                body,
            };
            match worker.request((request.module, module), &request, deadlines) {
                Ok(outcome) => return outcome,
                // Lost with its worker (which died or broke the protocol,
                // maybe for a neighbour's sake): run again on a fresh one.
                Err(client::Lost(why)) => last_loss = why,
            }
        }
        Outcome::Crash { message: last_loss }.into()
    }

    fn call_scenario(
        &self,
        call: Call<'_>,
        features: Option<&Features>,
        scenario: &Scenario,
        module: &[u8],
        plan: &ChunkPlan,
    ) -> WebApiOutcome {
        let mut served = None;
        if scenario.fetch.is_some() {
            match self.source.server() {
                Ok(server) => {
                    served = serve_scenario(&server, scenario, module).map(|r| (server, r))
                }
                Err(e) => {
                    return WebApiOutcome {
                        harness_fault: Some(format!("the loopback server did not start: {e}")),
                        ..Outcome::Crash {
                            message: format!("loopback server: {e}"),
                        }
                        .into()
                    }
                }
            }
        }
        let fetch_url = served
            .as_ref()
            .map(|(_, registered)| registered.url.clone());
        let events = stream_event_runs(scenario, plan.chunk_count())
            .into_iter()
            .map(WireEvent)
            .collect();
        let body = RequestBody::Case {
            scenario: Box::new(WireScenario::new(scenario, fetch_url)),
            cuts: WireCuts(&plan.cuts),
            events,
        };
        let mut outcome = self.request(features, module, call, body, scenario.may_never_end());
        // Whatever the engine answered, it answered something else than the
        // case describes if the body was not served as registered.
        if let Some((server, registered)) = &served {
            outcome.harness_fault = server.fault_since(registered);
        }
        outcome
    }
}

impl Backend for WorkerBackend {
    fn info(&self) -> BackendInfo {
        let version = match self.hello() {
            Ok(hello) => self.source.describe(&hello),
            Err(e) => format!("unavailable: {e}"),
        };
        BackendInfo {
            name: self.name.clone(),
            version,
        }
    }

    fn compile_streaming(&self, body: StreamingBody<'_>, features: &Features) -> Outcome {
        self.stream_bytes(Call::COMPILE, body, features)
    }

    fn compile_one_shot(&self, bytes: &[u8], features: &Features) -> Outcome {
        self.one_shot(Call::COMPILE, bytes, features, None)
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
        Some(self.workers * self.source.cases_per_worker())
    }

    fn fresh_for_retry(&self) -> Option<streamconform::backend::BackendUnderTest> {
        Some(streamconform::backend::BackendUnderTest::complete(
            self.on_fresh_workers(),
        ))
    }

    /// Drops every pool: worker processes end with their last request,
    /// and a browser pool kills its browser once no request holds it.
    /// A case the runner abandoned on its timeout may still be running
    /// and start a pool again for its next plan; that one lives until the
    /// backend is dropped.
    fn release(&self) {
        self.pools.lock().unwrap().clear();
    }
}

impl WorkerBackend {
    /// The engine's own one-shot call (the invariance oracle), with a
    /// case's options dictionary when it passes one.
    fn one_shot(
        &self,
        call: Call<'_>,
        bytes: &[u8],
        features: &Features,
        options: Option<&OptionsDictionary>,
    ) -> Outcome {
        let body = RequestBody::OneShot { options };
        self.request(Some(features), bytes, call, body, false)
            .outcome
    }

    /// A byte-level case: the default scenario (a fresh Response with
    /// Content-Type application/wasm and the chunks as Uint8Arrays) given
    /// to `function`.
    fn stream_bytes(
        &self,
        call: Call<'_>,
        body: StreamingBody<'_>,
        features: &Features,
    ) -> Outcome {
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
        self.call_scenario(call, Some(features), &scenario, &bytes, &plan)
            .outcome
    }
}

impl InstantiateBackend for WorkerBackend {
    fn instantiate_streaming(
        &self,
        body: StreamingBody<'_>,
        features: &Features,
        imports: &ImportObject,
    ) -> Outcome {
        self.stream_bytes(Call::instantiate(imports), body, features)
    }

    fn instantiate_one_shot(
        &self,
        bytes: &[u8],
        features: &Features,
        imports: &ImportObject,
    ) -> Outcome {
        self.one_shot(Call::instantiate(imports), bytes, features, None)
    }
}

impl WebApiBackend for WorkerBackend {
    fn compile_web_api(
        &self,
        scenario: &Scenario,
        module: &[u8],
        plan: &ChunkPlan,
    ) -> WebApiOutcome {
        // Web API cases are about the Response, not proposals: the engine
        // as shipped.
        self.call_scenario(Call::COMPILE, None, scenario, module, plan)
    }

    fn instantiate_web_api(
        &self,
        scenario: &Scenario,
        module: &[u8],
        plan: &ChunkPlan,
        imports: &ImportObject,
    ) -> WebApiOutcome {
        self.call_scenario(Call::instantiate(imports), None, scenario, module, plan)
    }

    fn one_shot_with_options(
        &self,
        bytes: &[u8],
        features: &Features,
        options: &OptionsDictionary,
        imports: Option<&ImportObject>,
    ) -> Option<Outcome> {
        let call = match imports {
            Some(imports) => Call::instantiate(imports),
            None => Call::COMPILE,
        };
        Some(self.one_shot(call, bytes, features, Some(options)))
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
