//! Running one case: the backend's one-shot compile, then every plan,
//! each judged by the oracles.

use super::crew::PlanCrew;
use super::{CasePlans, PlanSelection};
use crate::backend::{
    BackendUnderTest, BodyEnd, InstantiateBackend, StreamingBody, WebApiBackend, WebApiOutcome,
};
use crate::case::{Case, StreamingFunction};
use crate::outcome::Outcome;
use crate::plan::ChunkPlan;
use crate::scenario::Scenario;
use crate::verdict::{
    judge, CaseResult, Oracle, PlanFailure, Verdict, HARNESS_ERROR_PREFIX,
    MAX_RECORDED_FAILING_PLANS, TIMEOUT_PREFIX,
};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

/// Plans of one case run at once on backends that prefer many jobs.
pub(super) const PLANS_IN_FLIGHT: usize = 8;

/// Runs one case on this thread: the one-shot compile, then every plan.
/// A panicking compile is recorded as a crash of that plan.
pub fn run_case(backend: &BackendUnderTest, case: &Case, selection: &PlanSelection) -> CaseResult {
    std::thread::scope(|scope| {
        let crew = PlanCrew::new(scope, PLANS_IN_FLIGHT);
        run_case_with_crew(backend, case, selection, &crew)
    })
}

/// [`run_case`], with the plans run beside this thread on `crew` (a pool
/// worker keeps one for all its cases).
pub(super) fn run_case_with_crew<'env>(
    backend: &'env BackendUnderTest,
    case: &'env Case,
    selection: &PlanSelection,
    crew: &PlanCrew<'_, 'env>,
) -> CaseResult {
    let calls = match CaseCalls::resolve(backend, case) {
        Ok(calls) => Arc::new(calls),
        Err(why) => return CaseResult::not_applicable(case, why),
    };
    let scenario = case.scenario.as_deref();
    let plans = match scenario {
        // Only a streamed body has chunk boundaries to vary.
        Some(s) if !s.uses_plans() => Ok(Box::new(std::iter::once(ChunkPlan {
            name: "whole".into(),
            cuts: vec![],
        })) as CasePlans),
        _ => selection.plans_for(case),
    };
    let mut plans = match plans {
        Ok(plans) => plans,
        Err(e) => return CaseResult::aborted(case, e.to_string()),
    };
    let engine = &backend.engine;
    let run_one_shot = || calls.one_shot();
    let run_plan = |plan: &ChunkPlan| calls.streamed(plan);
    // Out-of-process engines answer slowly but in parallel: keep several of
    // a case's plans in flight, so a pending window is not paid per plan,
    // and the one-shot compile with the first of them, so a case costs one
    // round trip, not two.
    let in_flight = if engine.preferred_jobs().is_some() {
        PLANS_IN_FLIGHT
    } else {
        1
    };
    let mut result = CaseResult::start(case, 0);
    let mut one_shot: Option<Outcome> = None;
    // A group of plans at a time: a large body's cut lists are built only
    // when they run and dropped after.
    loop {
        let mut group: Vec<ChunkPlan> = plans.by_ref().take(in_flight).collect();
        let first_group = one_shot.is_none();
        if group.is_empty() && !first_group {
            break;
        }
        let (shot, outcomes): (Option<Outcome>, Vec<WebApiOutcome>) = if in_flight == 1 {
            let shot = first_group.then(run_one_shot);
            (shot, group.iter().map(run_plan).collect())
        } else {
            // The plans on the crew; this thread takes the one-shot
            // compile, or else the first plan.
            let others = group.split_off(usize::from(!first_group).min(group.len()));
            let ((shot, first), others) = crew.beside(&calls, others, || {
                if first_group {
                    (Some(run_one_shot()), None)
                } else {
                    (None, Some(run_plan(&group[0])))
                }
            });
            let mut outcomes = Vec::with_capacity(group.len() + others.len());
            outcomes.extend(first);
            for (plan, outcome) in others {
                group.push(plan);
                outcomes.push(outcome);
            }
            (shot, outcomes)
        };
        let one_shot = one_shot.get_or_insert_with(|| shot.expect("the first group's one-shot"));
        if group.is_empty() {
            break;
        }
        result.plans_run += group.len();
        // A hang ends the case: the plans after this group are not run
        // (each would cost another hang window), so a hanging case comes
        // out the same way whichever deadline (the worker's hang window,
        // the runner's --timeout) would have fired first.
        let hung_under = std::iter::once(("one-shot", &*one_shot))
            .chain(
                group
                    .iter()
                    .map(|p| p.name.as_str())
                    .zip(outcomes.iter().map(|o| &o.outcome)),
            )
            .find(|(_, outcome)| matches!(outcome, Outcome::Timeout))
            .map(|(name, _)| name.to_string());
        for (plan, actual) in group.into_iter().zip(outcomes) {
            // The harness did not present the case as described (its
            // server did not serve the body as registered): the outcome is
            // no engine result, and the case is a harness error.
            if let Some(why) = &actual.harness_fault {
                result.verdict = Verdict::Invalid;
                result.aborted = Some(format!(
                    "{HARNESS_ERROR_PREFIX} under plan {}: {why} (not an engine result)",
                    plan.name
                ));
                result.one_shot = Some(one_shot.clone());
                return result;
            }
            // A case whose premise did not hold tested something else: it
            // is invalid, whatever the outcome.
            if let (Some(s), Some(observed)) = (scenario, &actual.body) {
                if let Some(why) = s.premise_violation(plan.chunk_count(), observed) {
                    result.verdict = Verdict::Invalid;
                    result.aborted = Some(format!("invalid case under plan {}: {why}", plan.name));
                    result.one_shot = Some(one_shot.clone());
                    return result;
                }
            }
            let mut failed = judge(
                case.expected(),
                one_shot,
                &actual.outcome,
                calls.invariance_applies(),
            );
            let misread = reads_differ(scenario, &actual);
            if misread {
                failed.push(Oracle::Reads);
            }
            if !failed.is_empty() {
                result.failing_plans_total += 1;
                if result.failing_plans.len() < MAX_RECORDED_FAILING_PLANS {
                    result.failing_plans.push(PlanFailure {
                        plan: plan.name,
                        cuts: plan.cuts,
                        actual: actual.outcome,
                        failed,
                        reads: misread.then_some(actual.reads).flatten(),
                    });
                }
            }
        }
        if let Some(name) = hung_under {
            result.aborted = Some(format!(
                "{TIMEOUT_PREFIX} the engine did not answer under {name}; the case's later plans were not run"
            ));
            break;
        }
    }
    result.verdict = if result.failing_plans_total == 0 && result.aborted.is_none() {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    result.one_shot = one_shot;
    result
}

/// Whether a backend's log of a declared import object's reads differs
/// from the reads the case claims (a backend that logs none claims
/// nothing).
pub(super) fn reads_differ(scenario: Option<&Scenario>, actual: &WebApiOutcome) -> bool {
    match (scenario.and_then(|s| s.reads.as_ref()), &actual.reads) {
        (Some(expected), Some(reads)) => expected != reads,
        _ => false,
    }
}

/// How a case reaches its backend: the capability its calls go through,
/// chosen once per case. Running a case and minimizing a failure of it
/// make their calls through this one place.
pub(super) struct CaseCalls<'a> {
    backend: &'a BackendUnderTest,
    case: &'a Case,
    route: Route<'a>,
    /// Set when the case passes options the backend's one-shot call could
    /// not pass: its one-shot outcome is no invariance oracle then.
    one_shot_without_options: AtomicBool,
}

enum Route<'a> {
    /// `compileStreaming` of plain bytes.
    Compile,
    /// `instantiateStreaming` of plain bytes.
    Instantiate(&'a Arc<dyn InstantiateBackend>),
    /// A Web API scenario around the bytes, given to `compileStreaming`.
    WebApi(&'a Scenario, &'a Arc<dyn WebApiBackend>),
    /// A Web API scenario around the bytes, given to `instantiateStreaming`.
    WebApiInstantiate(
        &'a Scenario,
        &'a Arc<dyn WebApiBackend>,
        &'a Arc<dyn InstantiateBackend>,
    ),
}

impl<'a> CaseCalls<'a> {
    /// The calls of `case` on `backend`, or why the backend cannot run it
    /// (the case is then not applicable on it).
    pub(super) fn resolve(
        backend: &'a BackendUnderTest,
        case: &'a Case,
    ) -> Result<CaseCalls<'a>, String> {
        let name = || backend.info().name;
        let route = match (case.scenario.as_deref(), case.function) {
            (None, StreamingFunction::Compile) => Route::Compile,
            (None, StreamingFunction::Instantiate) => {
                let Some(instantiate) = &backend.instantiate else {
                    return Err(format!("backend {} does not instantiate", name()));
                };
                if let Some(why) =
                    instantiate.not_applicable(&case.bytes, &case.features, &case.imports)
                {
                    return Err(why);
                }
                Route::Instantiate(instantiate)
            }
            (Some(scenario), StreamingFunction::Compile) => {
                let Some(web_api) = &backend.web_api else {
                    return Err(format!("backend {} runs no Web API cases", name()));
                };
                if let Some(why) = web_api.not_applicable(scenario) {
                    return Err(why);
                }
                Route::WebApi(scenario, web_api)
            }
            (Some(scenario), StreamingFunction::Instantiate) => {
                let (Some(web_api), Some(instantiate)) = (&backend.web_api, &backend.instantiate)
                else {
                    return Err(format!(
                        "backend {} runs no Web API cases of instantiateStreaming (it needs both capabilities)",
                        name()
                    ));
                };
                if let Some(why) = web_api.not_applicable(scenario).or_else(|| {
                    instantiate.not_applicable(&case.bytes, &case.features, &case.imports)
                }) {
                    return Err(why);
                }
                Route::WebApiInstantiate(scenario, web_api, instantiate)
            }
        };
        Ok(CaseCalls {
            backend,
            case,
            route,
            one_shot_without_options: AtomicBool::new(false),
        })
    }

    /// Whether the invariance oracle judges this case's plans: its outcome
    /// is the compile's of the module bytes, and (asked after
    /// [`CaseCalls::one_shot`]) the one-shot call passed the same options.
    pub(super) fn invariance_applies(&self) -> bool {
        self.scenario().is_none_or(|s| s.compiles_module_bytes())
            && !self.one_shot_without_options.load(Ordering::Relaxed)
    }

    /// The Web API scenario the calls go through, if any.
    pub(super) fn scenario(&self) -> Option<&'a Scenario> {
        match self.route {
            Route::WebApi(scenario, _) | Route::WebApiInstantiate(scenario, ..) => Some(scenario),
            Route::Compile | Route::Instantiate(_) => None,
        }
    }

    /// The backend's own one-shot call: the invariance oracle. A panic is
    /// a crash.
    pub(super) fn one_shot(&self) -> Outcome {
        let (engine, case) = (&self.backend.engine, self.case);
        // A case's options dictionary goes to the one-shot call too, where
        // the backend can pass it.
        let options = self.scenario().and_then(Scenario::options_to_pass);
        if let (Some(options), Some(web_api)) = (&options, &self.backend.web_api) {
            let imports = match self.route {
                Route::WebApiInstantiate(..) => Some(&case.imports),
                _ => None,
            };
            let with_options = guarded(
                || web_api.one_shot_with_options(&case.bytes, &case.features, options, imports),
                |m| Some(crash(m)),
            );
            if let Some(outcome) = with_options {
                return outcome;
            }
            self.one_shot_without_options.store(true, Ordering::Relaxed);
        }
        guarded(
            || match self.route {
                Route::Instantiate(instantiate) | Route::WebApiInstantiate(_, _, instantiate) => {
                    instantiate.instantiate_one_shot(&case.bytes, &case.features, &case.imports)
                }
                Route::Compile | Route::WebApi(..) => {
                    engine.compile_one_shot(&case.bytes, &case.features)
                }
            },
            crash,
        )
    }

    /// The case's call with its body cut by `plan`. A panic is a crash.
    pub(super) fn streamed(&self, plan: &ChunkPlan) -> WebApiOutcome {
        let (engine, case) = (&self.backend.engine, self.case);
        let body = || StreamingBody {
            chunks: plan.chunks(&case.bytes),
            end: BodyEnd::Close,
        };
        match self.route {
            Route::Compile => {
                guarded(|| engine.compile_streaming(body(), &case.features), crash).into()
            }
            Route::Instantiate(instantiate) => guarded(
                || instantiate.instantiate_streaming(body(), &case.features, &case.imports),
                crash,
            )
            .into(),
            Route::WebApi(scenario, web_api) => guarded(
                || web_api.compile_web_api(scenario, &case.bytes, plan),
                |m| crash(m).into(),
            ),
            Route::WebApiInstantiate(scenario, web_api, _) => guarded(
                || web_api.instantiate_web_api(scenario, &case.bytes, plan, &case.imports),
                |m| crash(m).into(),
            ),
        }
    }
}

/// Runs a backend call, turning a panic into `on_panic(message)`.
pub(super) fn guarded<T>(call: impl FnOnce() -> T, on_panic: impl FnOnce(String) -> T) -> T {
    catch_unwind(AssertUnwindSafe(call)).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into());
        on_panic(message)
    })
}

pub(super) fn crash(message: String) -> Outcome {
    Outcome::Crash { message }
}

/// Runs one case on its own thread and gives up after `timeout`. The stuck
/// thread is abandoned: an in-process engine cannot be killed.
pub fn run_case_with_timeout(
    backend: &BackendUnderTest,
    case: &Case,
    selection: &PlanSelection,
    timeout: Duration,
) -> CaseResult {
    let (tx, rx) = mpsc::channel();
    let (backend, owned, selection) = (backend.clone(), case.clone(), selection.clone());
    std::thread::spawn(move || {
        let _ = tx.send(run_case(&backend, &owned, &selection));
    });
    rx.recv_timeout(timeout)
        .unwrap_or_else(|_| CaseResult::aborted(case, timeout_message(timeout)))
}

pub(super) fn timeout_message(timeout: Duration) -> String {
    format!("{TIMEOUT_PREFIX} no result after {:.0?}", timeout)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::backend::fault_injection::{self, FaultInjectingBackend};
    use crate::backend::ReferenceBackend;
    use crate::case::{CaseOrigin, ImportObject, NamedModule};
    use crate::features::Features;
    use crate::outcome::OutcomeClass;
    use crate::plan::PlanSet;
    use crate::verdict::Oracle;
    use std::sync::Arc;

    /// A valid module with a custom section carrying `marker`.
    pub(crate) fn module_with(marker: &[u8]) -> Vec<u8> {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        m.push(0);
        m.push(1 + marker.len() as u8);
        m.push(0); // empty custom-section name
        m.extend_from_slice(marker);
        m
    }

    pub(crate) fn case(id: &str, bytes: Vec<u8>, expected: OutcomeClass) -> Case {
        Case {
            id: id.into(),
            suite: "t".into(),
            group: "t".into(),
            origin: CaseOrigin::Directive,
            bytes: bytes.into(),
            expected: expected.into(),
            features: Arc::new(Features::baseline()),
            scenario: None,
            function: Default::default(),
            imports: Default::default(),
        }
    }

    #[test]
    fn a_chunking_dependent_lie_fails_both_oracles() {
        let mut invalid = module_with(fault_injection::LIE_WHEN_SPLIT);
        invalid.push(0xff); // trailing junk: a CompileError
        let c = case("lie", invalid, OutcomeClass::CompileError);
        let result = run_case(
            &BackendUnderTest::bytes_only(FaultInjectingBackend),
            &c,
            &PlanSelection::default(),
        );
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
            &BackendUnderTest::bytes_only(FaultInjectingBackend),
            &c,
            &PlanSelection::Set(PlanSet::Whole),
            Duration::from_millis(200),
        );
        assert!(r.aborted.unwrap().starts_with("timeout"));
    }

    #[test]
    fn explicit_cuts_and_named_plans_replay_a_single_plan() {
        let c = case("ok", module_with(b"x"), OutcomeClass::Module);
        let reference = BackendUnderTest::with_web_api(ReferenceBackend);
        let r = run_case(&reference, &c, &PlanSelection::Cuts(vec![0, 3, 3, 9]));
        assert_eq!((r.plans_run, r.verdict), (1, Verdict::Pass));
        let r = run_case(&reference, &c, &PlanSelection::Named("split@999".into()));
        assert!(r.aborted.unwrap().contains("past the end"));
    }

    /// The reference engine behind a loopback server that answered the
    /// case's fetch with its own 503 (as a flooded one did): the engine's
    /// `type-error` is no engine result.
    struct ServerRefused;

    impl crate::backend::Backend for ServerRefused {
        fn info(&self) -> crate::backend::BackendInfo {
            ReferenceBackend.info()
        }
        fn compile_streaming(&self, body: StreamingBody<'_>, features: &Features) -> Outcome {
            ReferenceBackend.compile_streaming(body, features)
        }
        fn compile_one_shot(&self, bytes: &[u8], features: &Features) -> Outcome {
            ReferenceBackend.compile_one_shot(bytes, features)
        }
    }

    impl crate::backend::WebApiBackend for ServerRefused {
        fn compile_web_api(
            &self,
            _scenario: &crate::scenario::Scenario,
            _module: &[u8],
            _plan: &ChunkPlan,
        ) -> WebApiOutcome {
            WebApiOutcome {
                harness_fault: Some("refused (503)".into()),
                ..Outcome::TypeError {
                    message: "unsupported MIME type 'null'".into(),
                }
                .into()
            }
        }

        fn instantiate_web_api(
            &self,
            scenario: &crate::scenario::Scenario,
            module: &[u8],
            plan: &ChunkPlan,
            _imports: &crate::case::ImportObject,
        ) -> WebApiOutcome {
            self.compile_web_api(scenario, module, plan)
        }
    }

    /// A Web API case of the default scenario on an empty module.
    fn web_api_case() -> Case {
        let mut c = case("w", b"\0asm\x01\0\0\0".to_vec(), OutcomeClass::Module);
        c.scenario = Some(Arc::new(crate::scenario::Scenario::byte_level()));
        c
    }

    #[test]
    fn a_body_the_harness_did_not_serve_as_registered_is_a_harness_error_not_a_fail() {
        let backend = BackendUnderTest::with_web_api(ServerRefused);
        let r = run_case(&backend, &web_api_case(), &PlanSelection::default());
        assert_eq!(r.verdict, Verdict::Invalid);
        assert!(r.failing_plans.is_empty(), "{:?}", r.failing_plans);
        let why = r.aborted.unwrap();
        assert!(
            why.starts_with(HARNESS_ERROR_PREFIX) && why.contains("refused (503)"),
            "{why}"
        );
    }

    #[test]
    fn an_instantiation_case_goes_through_the_instantiation_capability() {
        // Exports a function: an instance, judged against the one-shot
        // instantiation under every plan.
        let bytes = b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0\x03\x02\x01\0\x07\x05\x01\x01f\0\0\x0a\x04\x01\x02\0\x0b".to_vec();
        let compile = case("m", bytes, OutcomeClass::Module);
        let twin = compile.instantiation(OutcomeClass::Instance.into(), Default::default());
        assert_eq!(twin.id, "m@instantiate");
        let reference = BackendUnderTest::complete(ReferenceBackend);
        let r = run_case(&reference, &twin, &PlanSelection::default());
        assert_eq!(r.verdict, Verdict::Pass, "{r:?}");
        assert!(r.plans_run > 1);
        let Some(Outcome::Instance { instance, .. }) = &r.one_shot else {
            panic!("{:?}", r.one_shot)
        };
        assert_eq!(instance.exports[0].name, "f");
        // Expecting a RuntimeError of it fails the spec oracle only.
        let wrong = compile.instantiation(OutcomeClass::RuntimeError.into(), Default::default());
        let r = run_case(&reference, &wrong, &PlanSelection::Set(PlanSet::Whole));
        assert_eq!(r.verdict, Verdict::Fail);
        assert_eq!(r.failing_plans[0].failed, [Oracle::Spec]);
        // A backend that does not instantiate: not applicable, with why.
        let bytes_only = BackendUnderTest::with_web_api(ReferenceBackend);
        let r = run_case(&bytes_only, &twin, &PlanSelection::default());
        assert_eq!(r.verdict, Verdict::NotApplicable);
        assert!(r.aborted.unwrap().contains("does not instantiate"));
    }

    #[test]
    fn an_instantiation_case_is_judged_with_its_import_object() {
        // (module (import "spectest" "f" (func)))
        let bytes =
            b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0\x02\x0e\x01\x08spectest\x01f\0\0".to_vec();
        let compile = case("m", bytes, OutcomeClass::Module);
        let reference = BackendUnderTest::complete(ReferenceBackend);
        let with = |name: &str, module: &[u8]| {
            ImportObject::Instances(
                vec![NamedModule {
                    name: name.into(),
                    bytes: module.into(),
                }]
                .into(),
            )
        };
        // (module (func (export "f")))
        let exports_f = b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0\x03\x02\x01\0\x07\x05\x01\x01f\0\0\x0a\x04\x01\x02\0\x0b";
        let twin =
            compile.instantiation(OutcomeClass::Instance.into(), with("spectest", exports_f));
        let r = run_case(&reference, &twin, &PlanSelection::default());
        assert_eq!(r.verdict, Verdict::Pass, "{r:?}");
        // The namespace under another name: a TypeError, decided.
        let twin = compile.instantiation(OutcomeClass::TypeError.into(), with("other", exports_f));
        let r = run_case(&reference, &twin, &PlanSelection::default());
        assert_eq!(r.verdict, Verdict::Pass, "{r:?}");
        // A named module that does not compile: not applicable, naming it.
        let twin = compile.instantiation(OutcomeClass::Instance.into(), with("spectest", b"\0asm"));
        let r = run_case(&reference, &twin, &PlanSelection::default());
        assert_eq!(r.verdict, Verdict::NotApplicable);
        let why = r.aborted.unwrap();
        assert!(why.contains("namespace \"spectest\""), "{why}");
    }

    /// A declared import object's reads are judged: the reference model
    /// logs them in the spec's order; a case that claims another order (or
    /// a read during the call) fails the reads oracle alone, with the log.
    #[test]
    fn a_declared_import_object_is_read_in_the_order_the_case_claims() {
        use crate::imports::{DeclaredImports, ImportObjects, ImportValue};
        // (module (import "m" "g" (global i32)) (import "n" "f" (func)))
        let bytes =
            b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0\x02\x0e\x02\x01m\x01g\x03\x7f\0\x01n\x01f\0\0"
                .to_vec();
        let value: ImportValue =
            toml::from_str::<toml::Value>("v = { m = { g = \"zero\" }, n = { f = \"function\" } }")
                .unwrap()["v"]
                .clone()
                .try_into()
                .unwrap();
        let imports = ImportObject::Declared(Arc::new(DeclaredImports {
            value,
            objects: ImportObjects::Getters,
        }));
        let reference = BackendUnderTest::complete(ReferenceBackend);
        let claiming = |reads: &[&str]| {
            let mut scenario = crate::scenario::Scenario::byte_level();
            scenario.function = crate::scenario::ScenarioFunctions::Instantiate;
            scenario.reads = Some(reads.iter().map(|r| r.to_string()).collect());
            let mut c = case("d", bytes.clone(), OutcomeClass::Module)
                .instantiation(OutcomeClass::Instance.into(), imports.clone());
            c.scenario = Some(Arc::new(scenario));
            run_case(&reference, &c, &PlanSelection::Set(PlanSet::Whole))
        };
        let spec = ["(call returned)", "m", "m.g", "n", "n.f"];
        let r = claiming(&spec);
        assert_eq!(r.verdict, Verdict::Pass, "{r:?}");
        let r = claiming(&["m", "(call returned)", "m.g", "n", "n.f"]);
        assert_eq!(r.verdict, Verdict::Fail);
        let failure = &r.failing_plans[0];
        assert_eq!(failure.failed, [Oracle::Reads]);
        assert_eq!(failure.reads.as_deref(), Some(&spec.map(String::from)[..]));
        assert!(failure
            .actual_text()
            .contains("reads: (call returned), m, m.g"));
    }

    #[test]
    fn a_web_api_case_on_a_bytes_only_backend_is_not_applicable() {
        let backend = BackendUnderTest::bytes_only(ReferenceBackend);
        let r = run_case(&backend, &web_api_case(), &PlanSelection::default());
        assert_eq!(r.verdict, Verdict::NotApplicable);
        assert!(r.aborted.unwrap().contains("runs no Web API cases"));
    }
}
