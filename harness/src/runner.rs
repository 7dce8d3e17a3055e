//! The runner: every case under every plan on a backend, in parallel, with a
//! watchdog so that a hung or crashing engine costs one case, not the run.

use crate::backend::{Backend, BodyEnd, StreamingBody};
use crate::case::Case;
use crate::error::Error;
use crate::outcome::{Outcome, OutcomeClass};
use crate::plan::{plan_by_name, ChunkPlan, PlanSet};
use crate::verdict::{judge, Oracle, Verdict};
use serde::{Deserialize, Serialize};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// At most this many failing plans are recorded per case (all are counted).
pub const MAX_RECORDED_FAILING_PLANS: usize = 16;

/// Plans of one case run at once on backends that prefer many jobs.
const PLANS_IN_FLIGHT: usize = 8;

/// Which plans each case runs under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanSelection {
    Set(PlanSet),
    /// One plan rebuilt from its name (replaying a failure).
    Named(String),
    /// One plan from an explicit cut list.
    Cuts(Vec<usize>),
}

impl Default for PlanSelection {
    fn default() -> Self {
        PlanSelection::Set(PlanSet::Default)
    }
}

impl PlanSelection {
    /// The plans for one case. Truncated prefixes take a lighter set: the
    /// question they ask is how the stream ends, not where it is cut.
    pub fn plans_for(&self, case: &Case) -> Result<Vec<ChunkPlan>, Error> {
        match self {
            PlanSelection::Set(set) => {
                let set = match (set, case.is_truncation()) {
                    (PlanSet::Default | PlanSet::Reduced, true) => PlanSet::Truncation,
                    (PlanSet::Exhaustive, true) => PlanSet::Reduced,
                    (set, _) => *set,
                };
                Ok(set.plans(&case.bytes))
            }
            PlanSelection::Named(name) => Ok(vec![plan_by_name(name, &case.bytes)?]),
            PlanSelection::Cuts(cuts) => Ok(vec![ChunkPlan::from_cuts(
                "cuts",
                cuts.clone(),
                case.bytes.len(),
            )?]),
        }
    }
}

#[derive(Clone, Debug)]
pub struct RunConfig {
    pub plans: PlanSelection,
    pub jobs: usize,
    /// How long one case (its whole plan sweep) may take before it is
    /// recorded as a timeout.
    pub case_timeout: Duration,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            plans: PlanSelection::default(),
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            case_timeout: Duration::from_secs(120),
        }
    }
}

/// One streamed plan that failed an oracle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanFailure {
    pub plan: String,
    pub cuts: Vec<usize>,
    pub actual: Outcome,
    pub failed: Vec<Oracle>,
}

/// A case's result on one backend, before expectations are applied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseResult {
    pub id: String,
    pub expected: OutcomeClass,
    /// The backend's one-shot compile (absent when the case never got there).
    pub one_shot: Option<Outcome>,
    pub plans_run: usize,
    pub failing_plans_total: usize,
    pub failing_plans: Vec<PlanFailure>,
    /// Why the case could not run to the end (timeout, bad plan for this body).
    pub aborted: Option<String>,
    pub verdict: Verdict,
}

impl CaseResult {
    /// A result with nothing run yet; `run_case` fills it in.
    fn start(case: &Case, plans_run: usize) -> CaseResult {
        CaseResult {
            id: case.id.clone(),
            expected: case.expected(),
            one_shot: None,
            plans_run,
            failing_plans_total: 0,
            failing_plans: vec![],
            aborted: None,
            verdict: Verdict::Fail,
        }
    }

    fn aborted(case: &Case, why: String) -> CaseResult {
        CaseResult {
            aborted: Some(why),
            ..CaseResult::start(case, 0)
        }
    }

    /// One line saying why the case failed, for test output and bless.
    pub fn failure_summary(&self) -> String {
        if let Some(why) = &self.aborted {
            return why.clone();
        }
        match self.failing_plans.first() {
            None if self.verdict == Verdict::NotApplicable => "not applicable".into(),
            None => "passed".into(),
            Some(first) => format!(
                "expected {}, one-shot {}; {} of {} plans fail ({}), first {}: {}",
                self.expected,
                self.one_shot
                    .as_ref()
                    .map_or("-".into(), |o| o.class().to_string()),
                self.failing_plans_total,
                self.plans_run,
                first
                    .failed
                    .iter()
                    .map(Oracle::to_string)
                    .collect::<Vec<_>>()
                    .join("+"),
                first.plan,
                first.actual
            ),
        }
    }
}

/// Runs one case on this thread: the one-shot compile, then every plan.
/// A panicking compile is recorded as a crash of that plan.
pub fn run_case(backend: &dyn Backend, case: &Case, selection: &PlanSelection) -> CaseResult {
    let scenario = case.scenario.as_deref();
    let plans = match scenario {
        // Only a streamed body has chunk boundaries to vary.
        Some(s) if !s.uses_plans() => Ok(vec![ChunkPlan {
            name: "whole".into(),
            cuts: vec![],
        }]),
        _ => selection.plans_for(case),
    };
    let plans = match plans {
        Ok(plans) => plans,
        Err(e) => return CaseResult::aborted(case, e.to_string()),
    };
    if let Some(why) = scenario.and_then(|s| backend.not_applicable(s)) {
        return CaseResult {
            verdict: Verdict::NotApplicable,
            ..CaseResult::aborted(case, why)
        };
    }
    let one_shot = guarded(
        || backend.compile_one_shot(&case.bytes, &case.features),
        crash,
    );
    let invariance_applies = scenario.is_none_or(|s| s.compiles_module_bytes());
    let mut result = CaseResult::start(case, plans.len());
    let run_plan = |plan: &ChunkPlan| -> Option<Outcome> {
        match scenario {
            None => {
                let body = StreamingBody {
                    chunks: plan.chunks(&case.bytes),
                    end: BodyEnd::Close,
                };
                Some(guarded(
                    || backend.compile_streaming(body, &case.features),
                    crash,
                ))
            }
            Some(s) => guarded(
                || backend.compile_web_api(s, &case.bytes, plan),
                |m| Some(crash(m)),
            ),
        }
    };
    // Out-of-process engines answer slowly but in parallel: keep several of
    // a case's plans in flight, so a pending window is not paid per plan.
    let in_flight = if backend.preferred_jobs().is_some() {
        PLANS_IN_FLIGHT
    } else {
        1
    };
    let mut outcomes = Vec::with_capacity(plans.len());
    for group in plans.chunks(in_flight) {
        if group.len() == 1 {
            outcomes.push(run_plan(&group[0]));
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = group
                    .iter()
                    .map(|plan| scope.spawn(|| run_plan(plan)))
                    .collect();
                outcomes.extend(handles.into_iter().map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Some(crash("plan thread panicked".into())))
                }));
            });
        }
    }
    for (plan, actual) in plans.into_iter().zip(outcomes) {
        let Some(actual) = actual else {
            result.plans_run = 0;
            result.verdict = Verdict::NotApplicable;
            result.aborted = Some(format!(
                "backend {} runs no Web API cases",
                backend.info().name
            ));
            return result;
        };
        let failed = judge(case.expected(), &one_shot, &actual, invariance_applies);
        if !failed.is_empty() {
            result.failing_plans_total += 1;
            if result.failing_plans.len() < MAX_RECORDED_FAILING_PLANS {
                result.failing_plans.push(PlanFailure {
                    plan: plan.name,
                    cuts: plan.cuts,
                    actual,
                    failed,
                });
            }
        }
    }
    result.verdict = if result.failing_plans_total == 0 {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    result.one_shot = Some(one_shot);
    result
}

/// Runs a backend call, turning a panic into `on_panic(message)`.
fn guarded<T>(call: impl FnOnce() -> T, on_panic: impl FnOnce(String) -> T) -> T {
    catch_unwind(AssertUnwindSafe(call)).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into());
        on_panic(message)
    })
}

fn crash(message: String) -> Outcome {
    Outcome::Crash { message }
}

/// Runs one case on its own thread and gives up after `timeout`. The stuck
/// thread is abandoned: an in-process engine cannot be killed.
pub fn run_case_with_timeout(
    backend: Arc<dyn Backend>,
    case: &Case,
    selection: &PlanSelection,
    timeout: Duration,
) -> CaseResult {
    let (tx, rx) = mpsc::channel();
    let (owned, selection) = (case.clone(), selection.clone());
    std::thread::spawn(move || {
        let _ = tx.send(run_case(&*backend, &owned, &selection));
    });
    rx.recv_timeout(timeout)
        .unwrap_or_else(|_| CaseResult::aborted(case, timeout_message(timeout)))
}

fn timeout_message(timeout: Duration) -> String {
    format!("timeout: no result after {:.0?}", timeout)
}

struct Worker {
    /// The case being run and since when.
    busy: Arc<Mutex<Option<(usize, Instant)>>>,
    abandoned: Arc<AtomicBool>,
}

/// Runs all cases on `config.jobs` workers; results come back in case
/// order. A case that outlives the timeout is recorded as such, its worker
/// abandoned and replaced, and the run goes on.
pub fn run_cases(
    backend: Arc<dyn Backend>,
    cases: Arc<Vec<Case>>,
    config: &RunConfig,
) -> Vec<CaseResult> {
    let total = cases.len();
    let next = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel::<(usize, CaseResult)>();
    let spawn = || {
        let worker = Worker {
            busy: Arc::new(Mutex::new(None)),
            abandoned: Arc::new(AtomicBool::new(false)),
        };
        let (busy, abandoned) = (worker.busy.clone(), worker.abandoned.clone());
        let (backend, cases, next, tx, plans) = (
            backend.clone(),
            cases.clone(),
            next.clone(),
            tx.clone(),
            config.plans.clone(),
        );
        std::thread::spawn(move || loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            if index >= cases.len() || abandoned.load(Ordering::Relaxed) {
                return;
            }
            *busy.lock().unwrap() = Some((index, Instant::now()));
            let result = run_case(&*backend, &cases[index], &plans);
            *busy.lock().unwrap() = None;
            if abandoned.load(Ordering::Relaxed) || tx.send((index, result)).is_err() {
                return;
            }
        });
        worker
    };
    let mut workers: Vec<Worker> = (0..config.jobs.max(1)).map(|_| spawn()).collect();
    let mut results: Vec<Option<CaseResult>> = vec![None; total];
    let mut done = 0;
    let tick = config.case_timeout.min(Duration::from_millis(200));
    while done < total {
        if let Ok((index, result)) = rx.recv_timeout(tick) {
            if results[index].is_none() {
                results[index] = Some(result);
                done += 1;
            }
        }
        for worker in workers.iter_mut() {
            let stuck = match *worker.busy.lock().unwrap() {
                Some((index, since)) if since.elapsed() > config.case_timeout => Some(index),
                _ => None,
            };
            if let Some(index) = stuck.filter(|&i| results[i].is_none()) {
                results[index] = Some(CaseResult::aborted(
                    &cases[index],
                    timeout_message(config.case_timeout),
                ));
                done += 1;
                worker.abandoned.store(true, Ordering::Relaxed);
                *worker = spawn();
            }
        }
    }
    results
        .into_iter()
        .map(|r| r.expect("every case has a result"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::fault_injection::{self, FaultInjectingBackend};
    use crate::backend::ReferenceBackend;
    use crate::case::{CaseOrigin, Features};

    /// A valid module with a custom section carrying `marker`.
    fn module_with(marker: &[u8]) -> Vec<u8> {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        m.push(0);
        m.push(1 + marker.len() as u8);
        m.push(0); // empty custom-section name
        m.extend_from_slice(marker);
        m
    }

    fn case(id: &str, bytes: Vec<u8>, expected: OutcomeClass) -> Case {
        Case {
            id: id.into(),
            suite: "t".into(),
            group: "t".into(),
            origin: CaseOrigin::Directive,
            bytes: bytes.into(),
            expected: expected.into(),
            features: Arc::new(Features::baseline()),
            scenario: None,
        }
    }

    #[test]
    fn a_hanging_and_a_crashing_case_cost_only_themselves() {
        let cases = Arc::new(vec![
            case("ok-1", module_with(b"fine"), OutcomeClass::Module),
            case(
                "hang",
                module_with(fault_injection::HANG),
                OutcomeClass::Module,
            ),
            case(
                "panic",
                module_with(fault_injection::PANIC),
                OutcomeClass::Module,
            ),
            case("ok-2", module_with(b"also fine"), OutcomeClass::Module),
        ]);
        let config = RunConfig {
            plans: PlanSelection::Set(PlanSet::Reduced),
            jobs: 2,
            case_timeout: Duration::from_millis(500),
        };
        let results = run_cases(Arc::new(FaultInjectingBackend), cases, &config);
        let ids: Vec<_> = results.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["ok-1", "hang", "panic", "ok-2"]);
        assert_eq!(results[0].verdict, Verdict::Pass);
        assert_eq!(results[3].verdict, Verdict::Pass);
        assert!(results[1]
            .aborted
            .as_deref()
            .unwrap()
            .starts_with("timeout"));
        assert_eq!(results[2].verdict, Verdict::Fail);
        assert!(matches!(
            results[2].failing_plans[0].actual,
            Outcome::Crash { .. }
        ));
    }

    #[test]
    fn a_chunking_dependent_lie_fails_both_oracles() {
        let mut invalid = module_with(fault_injection::LIE_WHEN_SPLIT);
        invalid.push(0xff); // trailing junk: a CompileError
        let c = case("lie", invalid, OutcomeClass::CompileError);
        let result = run_case(&FaultInjectingBackend, &c, &PlanSelection::default());
        assert_eq!(result.verdict, Verdict::Fail);
        let first = &result.failing_plans[0];
        assert_eq!(first.failed, [Oracle::Spec, Oracle::Invariance]);
        assert_ne!(
            first.plan, "whole",
            "the whole-body plan is not split and must pass"
        );
    }

    #[test]
    fn run_case_with_timeout_returns_for_a_hanging_backend() {
        let c = case(
            "hang",
            module_with(fault_injection::HANG),
            OutcomeClass::Module,
        );
        let r = run_case_with_timeout(
            Arc::new(FaultInjectingBackend),
            &c,
            &PlanSelection::Set(PlanSet::Whole),
            Duration::from_millis(200),
        );
        assert!(r.aborted.unwrap().starts_with("timeout"));
    }

    #[test]
    fn explicit_cuts_and_named_plans_replay_a_single_plan() {
        let c = case("ok", module_with(b"x"), OutcomeClass::Module);
        let r = run_case(
            &ReferenceBackend,
            &c,
            &PlanSelection::Cuts(vec![0, 3, 3, 9]),
        );
        assert_eq!((r.plans_run, r.verdict), (1, Verdict::Pass));
        let r = run_case(
            &ReferenceBackend,
            &c,
            &PlanSelection::Named("split@999".into()),
        );
        assert!(r.aborted.unwrap().contains("past the end"));
    }
}
