//! Many cases on worker threads, with a watchdog. Results are handed on in
//! case order as soon as every earlier case is done, so consumers see a
//! deterministic stream and nothing waits for the whole run.

use super::case::{run_case, run_case_with_crew, timeout_message, PLANS_IN_FLIGHT};
use super::crew::PlanCrew;
use super::gate::Gate;
use super::{PlanSelection, RunConfig};
use crate::backend::BackendUnderTest;
use crate::case::Case;
use crate::verdict::{CaseResult, Retried, Verdict};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// After a stop, how long cases already started get to finish; the rest
/// are left unreported (a resumed run runs them).
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Runs a case that failed again, up to `retries` times, each on fresh
/// workers of the backend (it, for an in-process engine, which keeps no
/// state between cases), until one passes. Only the verdict of a retry is
/// kept: the recorded result stays the first run's.
fn retry(
    backend: &BackendUnderTest,
    case: &Case,
    plans: &PlanSelection,
    retries: usize,
    restart_clock: impl Fn(),
) -> Retried {
    for attempt in 1..=retries {
        restart_clock();
        let fresh = backend.engine.fresh_for_retry();
        let again = run_case(fresh.as_ref().unwrap_or(backend), case, plans);
        if again.verdict == Verdict::Pass {
            return Retried {
                retries: attempt,
                passed_on: Some(attempt),
            };
        }
    }
    Retried {
        retries,
        passed_on: None,
    }
}

struct Worker {
    /// The case being run and since when.
    busy: Arc<Mutex<Option<(usize, Instant)>>>,
    abandoned: Arc<AtomicBool>,
}

/// Whether a failure of a case would be unexpected (and so is retried).
pub(super) type FailureUnexpected = Arc<dyn Fn(&Case) -> bool + Send + Sync>;

/// Runs the cases at `indices` (into `cases`, ascending) on `jobs` workers
/// and calls `on_result(index, result, duration)` in that order. Once
/// `config.stop` is set, no case starts, and started ones get
/// [`STOP_GRACE`] to finish. A case that outlives the timeout is recorded
/// as such, its worker abandoned (an in-process engine cannot be killed)
/// and replaced, and the run goes on.
pub(super) fn run_all(
    backend: &BackendUnderTest,
    cases: &Arc<Vec<Case>>,
    indices: &[usize],
    config: &RunConfig,
    jobs: usize,
    failure_unexpected: FailureUnexpected,
    mut on_result: impl FnMut(usize, CaseResult, Duration),
) {
    // Below, a case is known by its position in `indices`.
    let indices: Arc<[usize]> = indices.into();
    let total = indices.len();
    let next = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel::<(usize, CaseResult, Duration)>();
    let gate = Arc::new(Gate::new(config.case_timeout));
    let spawn = || {
        let worker = Worker {
            busy: Arc::new(Mutex::new(None)),
            abandoned: Arc::new(AtomicBool::new(false)),
        };
        let (busy, abandoned) = (worker.busy.clone(), worker.abandoned.clone());
        let (backend, cases, indices, next, tx, plans) = (
            backend.clone(),
            cases.clone(),
            indices.clone(),
            next.clone(),
            tx.clone(),
            config.plans.clone(),
        );
        let stop = config.stop.clone();
        let (minimize, case_timeout) = (config.minimize.clone(), config.case_timeout);
        let (retries, failure_unexpected) = (config.retries, failure_unexpected.clone());
        let gate = gate.clone();
        // The worker's crew runs its cases' plans beside it (see crew.rs).
        std::thread::spawn(move || {
            std::thread::scope(|scope| {
                let crew = PlanCrew::new(scope, PLANS_IN_FLIGHT);
                loop {
                    // Once stopped, start nothing new; what runs, finishes.
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= indices.len() || abandoned.load(Ordering::Relaxed) {
                        return;
                    }
                    let case = &cases[indices[index]];
                    // The timeout counts from when the case gets through the gate
                    // (which bounds its own waits).
                    let pass = gate.enter(case.runs_alone());
                    let started = Instant::now();
                    *busy.lock().unwrap() = Some((index, started));
                    let mut result = run_case_with_crew(&backend, case, &plans, &crew);
                    // When the case's --timeout started counting (again, per retry).
                    let clock = std::cell::Cell::new(started);
                    // Retries are not the case's duration (the report says so).
                    let mut retrying = Duration::ZERO;
                    if retries > 0 && result.verdict == Verdict::Fail && failure_unexpected(case) {
                        // Each retry gets the whole --timeout, as the first run did.
                        let restart_clock = || {
                            let now = Instant::now();
                            clock.set(now);
                            *busy.lock().unwrap() = Some((index, now));
                        };
                        let retries_started = Instant::now();
                        result.retried =
                            Some(retry(&backend, case, &plans, retries, restart_clock));
                        retrying = retries_started.elapsed();
                    }
                    let flaky = result.passed_on_retry();
                    if let (Some(options), false) = (&minimize, flaky) {
                        let time_left = case_timeout.saturating_sub(clock.get().elapsed());
                        super::minimize::minimize_first_failure(
                            &backend,
                            case,
                            &mut result,
                            options,
                            time_left,
                        );
                    }
                    *busy.lock().unwrap() = None;
                    drop(pass);
                    if abandoned.load(Ordering::Relaxed)
                        || tx
                            .send((index, result, started.elapsed().saturating_sub(retrying)))
                            .is_err()
                    {
                        return;
                    }
                }
            })
        });
        worker
    };
    let mut workers: Vec<Worker> = (0..workers_for(jobs, total)).map(|_| spawn()).collect();
    // Results that arrived before an earlier case finished.
    let mut waiting: BTreeMap<usize, (CaseResult, Duration)> = BTreeMap::new();
    let mut recorded = vec![false; total];
    let mut next_to_emit = 0;
    let tick = config.case_timeout.min(Duration::from_millis(200));
    let mut last_check = Instant::now();
    // Stopped: only the cases already started are waited for.
    let limit = || {
        if config.stop.load(Ordering::SeqCst) {
            next.load(Ordering::SeqCst).min(total)
        } else {
            total
        }
    };
    let mut stopped_at: Option<Instant> = None;
    while next_to_emit < limit() {
        if config.stop.load(Ordering::SeqCst)
            && stopped_at.get_or_insert_with(Instant::now).elapsed() > STOP_GRACE
        {
            break;
        }
        let mut record = |(index, result, duration): (usize, CaseResult, Duration)| {
            if !recorded[index] {
                recorded[index] = true;
                waiting.insert(index, (result, duration));
            }
        };
        if let Ok(first) = rx.recv_timeout(tick) {
            record(first);
            // Take what else has arrived, then give the workers a moment
            // before parking again: every wake of a parked receiver costs
            // the sending worker a syscall, which an in-process engine's
            // thread pays per case. Results still reach reporters within
            // a millisecond or so.
            while let Ok(more) = rx.try_recv() {
                record(more);
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        // The watchdog looks at the workers a few times a second, not per
        // result (each look locks every worker's state).
        if last_check.elapsed() >= tick {
            last_check = Instant::now();
            for worker in workers.iter_mut() {
                let stuck = match *worker.busy.lock().unwrap() {
                    Some((index, since)) if since.elapsed() > config.case_timeout => Some(index),
                    _ => None,
                };
                if let Some(index) = stuck.filter(|&i| !recorded[i]) {
                    recorded[index] = true;
                    waiting.insert(
                        index,
                        (
                            CaseResult::aborted(
                                &cases[indices[index]],
                                timeout_message(config.case_timeout),
                            ),
                            config.case_timeout,
                        ),
                    );
                    worker.abandoned.store(true, Ordering::Relaxed);
                    *worker = spawn();
                }
            }
        }
        while let Some((result, duration)) = waiting.remove(&next_to_emit) {
            on_result(indices[next_to_emit], result, duration);
            next_to_emit += 1;
        }
    }
    // Stopped with cases still running: what did finish is reported, in
    // order, with gaps where the unfinished ones are.
    while let Ok((position, result, duration)) = rx.try_recv() {
        if !recorded[position] {
            waiting.insert(position, (result, duration));
        }
    }
    for (position, (result, duration)) in waiting {
        on_result(indices[position], result, duration);
    }
}

/// How many workers `jobs` asked for start on `cases` cases: at least one,
/// and never more than there are cases (the others would only start and
/// stop; `--jobs 100000` on 2 cases started 100,000 threads).
fn workers_for(jobs: usize, cases: usize) -> usize {
    jobs.clamp(1, cases.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::fault_injection::{self, FaultInjectingBackend};
    use crate::backend::{Backend, BackendInfo, ReferenceBackend, StreamingBody};
    use crate::features::Features;
    use crate::outcome::{Outcome, OutcomeClass};
    use crate::plan::PlanSet;
    use crate::runner::case::tests::{case, module_with};
    use crate::runner::PlanSelection;
    use crate::verdict::Verdict;

    #[test]
    fn never_more_workers_than_cases() {
        assert_eq!(workers_for(100_000, 2), 2);
        assert_eq!(workers_for(usize::MAX, 0), 1);
        assert_eq!(workers_for(0, 5), 1);
        assert_eq!(workers_for(3, 5), 3);
    }

    /// The reference backend asking for many jobs, as an out-of-process
    /// engine does (so a case's plans run on its worker's crew), and
    /// noting which threads its streaming compiles ran on.
    #[derive(Default)]
    struct NotesThreads {
        threads: Mutex<std::collections::HashSet<std::thread::ThreadId>>,
    }

    impl Backend for NotesThreads {
        fn info(&self) -> BackendInfo {
            BackendInfo::new("notes-threads", "test double")
        }
        fn compile_streaming(&self, body: StreamingBody<'_>, features: &Features) -> Outcome {
            let this = std::thread::current().id();
            self.threads.lock().unwrap().insert(this);
            ReferenceBackend.compile_streaming(body, features)
        }
        fn compile_one_shot(&self, bytes: &[u8], features: &Features) -> Outcome {
            ReferenceBackend.compile_one_shot(bytes, features)
        }
        fn preferred_jobs(&self) -> Option<usize> {
            Some(2)
        }
    }

    /// A worker runs its cases' plans on the same few threads, case after
    /// case: a thread started per plan cost the kernel more than the
    /// harness's own work on a nightly.
    #[test]
    fn a_worker_runs_every_case_s_plans_on_the_same_crew() {
        let cases: Vec<Case> = (0..24)
            .map(|i| {
                let marker = format!("case {i}");
                case(
                    &marker,
                    module_with(marker.as_bytes()),
                    OutcomeClass::Module,
                )
            })
            .collect();
        let config = RunConfig::default();
        let engine = Arc::new(NotesThreads::default());
        let backend = BackendUnderTest {
            engine: engine.clone(),
            web_api: None,
            instantiate: None,
        };
        let mut results = Vec::new();
        let indices: Vec<usize> = (0..cases.len()).collect();
        run_all(
            &backend,
            &Arc::new(cases),
            &indices,
            &config,
            2,
            Arc::new(|_: &Case| true),
            |_, result, _| results.push(result),
        );
        assert_eq!(results.len(), 24);
        assert!(results.iter().all(|r| r.verdict == Verdict::Pass));
        let plans: usize = results.iter().map(|r| r.plans_run).sum();
        let threads = engine.threads.lock().unwrap().len();
        // Two workers, each itself and its crew, whatever the plan count.
        assert!(plans > 10 * 2 * (1 + PLANS_IN_FLIGHT), "{plans} plans");
        assert!(
            (3..=2 * (1 + PLANS_IN_FLIGHT)).contains(&threads),
            "{plans} plans ran on {threads} threads"
        );
    }

    #[test]
    fn a_hanging_and_a_crashing_case_cost_only_themselves_and_order_is_kept() {
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
            jobs: Some(2),
            // Room for the panicking case: with RUST_BACKTRACE=1 each of
            // its plans' panics prints a symbolized backtrace, which took
            // over 500 ms on a loaded machine.
            case_timeout: Duration::from_secs(2),
            ..RunConfig::default()
        };
        let mut results = Vec::new();
        run_all(
            &BackendUnderTest::bytes_only(FaultInjectingBackend),
            &cases,
            &[0, 1, 2, 3],
            &config,
            2,
            Arc::new(|_: &Case| true),
            |index, result, _| results.push((index, result)),
        );
        let order: Vec<_> = results.iter().map(|(i, r)| (*i, r.id.as_str())).collect();
        assert_eq!(order, [(0, "ok-1"), (1, "hang"), (2, "panic"), (3, "ok-2")]);
        assert_eq!(results[0].1.verdict, Verdict::Pass);
        assert_eq!(results[3].1.verdict, Verdict::Pass);
        assert!(results[1]
            .1
            .aborted
            .as_deref()
            .unwrap()
            .starts_with("timeout"));
        assert_eq!(results[2].1.verdict, Verdict::Fail, "{:?}", results[2].1);
        assert!(matches!(
            results[2].1.failing_plans[0].actual,
            Outcome::Crash { .. }
        ));
    }
}
