//! Differential fuzzing: modules generated from a seed (wasm-smith, valid
//! and mutated into invalid ones) run on every chosen backend under the
//! default plans; a backend that disagrees with the reference's one-shot
//! validation, or fails invariance, is a finding, saved as a replayable
//! case and minimized.
//!
//! The cases come from the `fuzz:SEED` suite ([`FuzzSuite`]), which leaves
//! out the proposals any chosen backend lacks. They run through the normal
//! runner ([`Run`]), so every output that consumes run events (the
//! terminal summary, progress bars) sees a fuzz run like any other. A
//! finding is a (backend, case) that failed: the spec oracle failed (the
//! backend disagrees with the reference's one-shot validation, which is
//! the case's expected outcome), the invariance oracle failed (streaming
//! differs from the backend's own one-shot compile), or the case could not
//! finish (a timeout). Each is written to the findings directory as JSON
//! beside its `.wasm` (format: `reports/FUZZ-FINDING.md`), with a one-line
//! replay command.

use crate::backend::BackendUnderTest;
use crate::case::Case;
use crate::error::Error;
use crate::outcome::{Outcome, OutcomeClass};
use crate::plan::PlanSet;
use crate::runner::minimize::{minimize_with_one_shot, MinimizeOptions};
use crate::runner::{PlanSelection, Replay, Reporter, Run, RunConfig, RunEvent, RunFinished};
use crate::suites::fuzz::FuzzSuite;
use crate::suites::{CaseSource, Limits};
use crate::verdict::{CaseResult, Minimized, Oracle, PlanFailure};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one fuzz run does.
#[derive(Clone, Debug)]
pub struct FuzzOptions {
    pub seed: u64,
    /// Modules generated (indices `0..count`); at least one.
    pub count: u64,
    pub plans: PlanSet,
    /// Worker threads per backend (see [`RunConfig::jobs`]).
    pub jobs: Option<usize>,
    pub case_timeout: Duration,
    /// Shrink each finding's first failing plan (`runner::minimize`).
    pub minimize: bool,
    /// Generated proposals to leave out beyond those a backend lacks (names
    /// from `suites::fuzz::GENERATED_PROPOSALS`).
    pub without: Vec<String>,
    /// Where findings are written; `None`: nowhere.
    pub findings_dir: Option<PathBuf>,
    /// What replay lines need beyond the case and plan.
    pub replay: Replay,
    pub stop: Arc<AtomicBool>,
}

/// What the format of a finding file is (bumped on incompatible change).
pub const FINDING_FORMAT: &str = "streamconform-fuzz-finding/1";

/// One (backend, case) that failed, as saved to the findings directory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    pub format: String,
    /// The case id (`fuzz:S/I`, with `:without=...` when proposals were
    /// left out).
    pub case: String,
    /// The `--suite` argument that regenerates it.
    pub suite: String,
    pub seed: u64,
    pub index: u64,
    /// The byte-level mutations that made it, if it was mutated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutation: Option<String>,
    /// The case's features (`wasm1+bulk-memory+...`).
    pub features: String,
    pub backend: String,
    pub engine_version: String,
    /// `spec`, `invariance`, `spec+invariance`, or `aborted` (no plan
    /// failed, the case did not finish: a timeout).
    pub kind: String,
    /// The oracles the finding's plan fails.
    pub oracles: Vec<Oracle>,
    /// The reference's one-shot validation of the module.
    pub expected: OutcomeClass,
    /// The backend's own one-shot compile.
    pub one_shot: Option<Outcome>,
    /// The failing plan with the fewest chunks, its cuts and what it gave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    #[serde(default)]
    pub cuts: Vec<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual: Option<Outcome>,
    pub failing_plans: usize,
    pub plans_run: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aborted: Option<String>,
    /// Proposals the module needs that the backend lacks (should stay
    /// empty: the generator leaves them out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unsupported: Vec<String>,
    /// Proposals the module needs (a valid module's; see
    /// `Features::proposals_used`).
    #[serde(default)]
    pub proposals_used: Vec<String>,
    /// Of those, the ones the backend has only behind a switch (an
    /// experimental implementation may be of an older draft): triage these
    /// apart from deviations in shipped features.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub switched_proposals_used: Vec<String>,
    /// That plan minimized, when minimization ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimized: Option<Minimized>,
    /// Why minimization did not give a result, when it ran and failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimize_error: Option<String>,
    /// One command that replays the failure (the minimized cuts if any).
    pub replay: String,
    /// The module, a file name beside this one.
    pub wasm: String,
}

/// What a fuzz run found.
#[derive(Clone, Debug)]
pub struct FuzzReport {
    pub suite: FuzzSuite,
    /// Modules generated, and of them expected valid, expected invalid, and
    /// mutated.
    pub generated: usize,
    pub valid: usize,
    pub invalid: usize,
    pub mutated: usize,
    /// Cases judged per backend.
    pub cases_per_backend: BTreeMap<String, usize>,
    pub findings: Vec<Finding>,
    /// Files written to the findings directory.
    pub written: Vec<PathBuf>,
    pub finished: RunFinished,
    pub elapsed: Duration,
}

impl FuzzReport {
    /// 0: no finding; 1: findings; 2: bad input, a backend that could not
    /// start, or nothing ran; 130: interrupted.
    pub fn exit_code(&self) -> i32 {
        match self.finished.exit_code() {
            0 | 1 if !self.findings.is_empty() => 1,
            code => code,
        }
    }

    /// Findings per backend and kind.
    pub fn findings_by_backend_and_kind(&self) -> BTreeMap<(String, String), usize> {
        let mut counts = BTreeMap::new();
        for f in &self.findings {
            *counts
                .entry((f.backend.clone(), f.kind.clone()))
                .or_default() += 1;
        }
        counts
    }
}

/// The suite a fuzz run of `backends` generates: `count` modules of
/// `seed`, none using a proposal that any of them lacks, nor one of
/// `without`.
pub fn suite_for(
    backends: &[BackendUnderTest],
    seed: u64,
    count: u64,
    without: &[String],
) -> Result<FuzzSuite, Error> {
    for name in without {
        crate::suites::fuzz::check_generated(name).map_err(|message| Error::InvalidFuzzSuite {
            argument: format!("--without {name}"),
            message,
        })?;
    }
    let lacking: Vec<String> = backends
        .iter()
        .filter_map(|b| b.engine.proposal_support())
        .flat_map(|support| support.lacking)
        .chain(without.iter().cloned())
        .collect();
    Ok(FuzzSuite::new(
        seed,
        count,
        lacking.iter().map(String::as_str),
    ))
}

/// Generates the modules, runs them on `backends` (emitting the run's
/// events to `reporters`), then minimizes and saves every finding.
pub fn fuzz(
    backends: Vec<BackendUnderTest>,
    options: &FuzzOptions,
    reporters: &mut [&mut dyn Reporter],
) -> Result<FuzzReport, Error> {
    let started = Instant::now();
    if options.count == 0 {
        return Err(Error::InvalidFuzzSuite {
            argument: format!("fuzz:{}:0", options.seed),
            message: "a count of 0 yields no case".into(),
        });
    }
    let suite = suite_for(&backends, options.seed, options.count, &options.without)?;
    let loaded = suite.load(None, &Limits::default());
    let cases = loaded.cases;
    let generated = cases.len();
    let valid = cases
        .iter()
        .filter(|c| c.expected() == OutcomeClass::Module)
        .count();
    let mutated = cases.iter().filter(|c| c.group == "mutated").count();
    let mut run = Run::new(
        cases,
        backends,
        RunConfig {
            plans: PlanSelection::Set(options.plans),
            jobs: options.jobs,
            case_timeout: options.case_timeout,
            replay: options.replay.clone(),
            stop: options.stop.clone(),
            // Findings are minimized after the run, from their failing
            // plan with the fewest cuts (below).
            minimize: None,
            ..RunConfig::default()
        },
    );
    run.suites = vec![suite.argument()];
    run.input_errors = loaded.errors.iter().map(ToString::to_string).collect();
    let mut collector = FindingCollector::default();
    let finished = {
        let mut all: Vec<&mut dyn Reporter> = Vec::with_capacity(reporters.len() + 1);
        all.push(&mut collector);
        for reporter in reporters.iter_mut() {
            all.push(&mut **reporter);
        }
        // A consumer that cannot write (a closed stdout) ends the run.
        run.execute(&mut all).map_err(|source| Error::Io {
            path: PathBuf::from("(run output)"),
            source,
        })?
    };
    if let Some(dir) = &options.findings_dir {
        if !collector.failed.is_empty() {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
    }
    let mut findings = Vec::new();
    let mut written = Vec::new();
    for failed in &collector.failed {
        let backend = run
            .backends
            .iter()
            .find(|b| b.info().name == failed.backend)
            .expect("a finding's backend is one of the run's");
        let case = run
            .cases
            .iter()
            .find(|c| c.id == failed.case_id)
            .expect("a finding's case is one of the run's");
        let version = collector
            .versions
            .get(&failed.backend)
            .cloned()
            .unwrap_or_default();
        let mut finding = finding_of(
            &suite,
            case,
            failed,
            version,
            &options.replay,
            options.plans,
        );
        let switched = backend
            .engine
            .proposal_support()
            .map(|s| s.switched_on)
            .unwrap_or_default();
        finding.switched_proposals_used = finding
            .proposals_used
            .iter()
            .filter(|p| switched.contains_key(*p))
            .cloned()
            .collect();
        // Saved before minimizing: a minimization that dies keeps it.
        if let Some(dir) = &options.findings_dir {
            written.extend(save(dir, case, &finding)?);
        }
        if options.minimize {
            // A pending or timed-out plan costs its whole window on every
            // attempt: such findings keep their failing plan instead.
            let slow = |p: &&PlanFailure| {
                matches!(
                    p.actual.class(),
                    OutcomeClass::Pending | OutcomeClass::Timeout
                )
            };
            if let Some(first) = simplest_failing_plan(&failed.result).filter(|p| !slow(p)) {
                // The run's one-shot result is reused, not compiled again;
                // backend panics are caught inside (as in any run).
                let one_shot = failed.result.one_shot.as_ref();
                match minimize_with_one_shot(
                    backend,
                    case,
                    first,
                    one_shot,
                    &MinimizeOptions::default(),
                ) {
                    Ok(minimized) => {
                        finding.replay = replay_line(
                            &options.replay,
                            &finding.backend,
                            case,
                            &PlanSelection::Cuts(minimized.cuts.clone()),
                        );
                        finding.minimized = Some(minimized);
                    }
                    Err(e) => finding.minimize_error = Some(e.to_string()),
                }
                if let Some(dir) = &options.findings_dir {
                    save(dir, case, &finding)?;
                }
            }
        }
        findings.push(finding);
    }
    written.sort();
    written.dedup();
    Ok(FuzzReport {
        cases_per_backend: collector.cases_per_backend,
        generated,
        valid,
        invalid: generated - valid,
        mutated,
        suite,
        findings,
        written,
        finished,
        elapsed: started.elapsed(),
    })
}

/// A failed (backend, case), as the run reported it.
struct Failed {
    backend: String,
    case_id: String,
    result: CaseResult,
    unsupported: Vec<String>,
}

/// Keeps what the findings need from the run's events.
#[derive(Default)]
struct FindingCollector {
    versions: BTreeMap<String, String>,
    cases_per_backend: BTreeMap<String, usize>,
    failed: Vec<Failed>,
}

impl Reporter for FindingCollector {
    fn report(&mut self, event: &RunEvent<'_>) -> std::io::Result<()> {
        match event {
            RunEvent::RunStarted(info) => {
                for b in &info.backends {
                    self.versions.insert(b.name.clone(), b.version.clone());
                    self.cases_per_backend.insert(b.name.clone(), 0);
                }
            }
            RunEvent::CaseFinished(done) => {
                *self
                    .cases_per_backend
                    .entry(done.backend.to_string())
                    .or_default() += 1;
                if done.status.is_unexpected() {
                    self.failed.push(Failed {
                        backend: done.backend.to_string(),
                        case_id: done.case.id.clone(),
                        result: done.result.clone(),
                        unsupported: done.unsupported.clone(),
                    });
                }
            }
            _ => {}
        }
        Ok(())
    }
}

fn finding_of(
    suite: &FuzzSuite,
    case: &Case,
    failed: &Failed,
    engine_version: String,
    replay: &Replay,
    plans: PlanSet,
) -> Finding {
    let result = &failed.result;
    let first = simplest_failing_plan(result);
    let oracles = first.map(|p| p.failed.clone()).unwrap_or_default();
    let kind = if oracles.is_empty() {
        "aborted".to_string()
    } else {
        oracles
            .iter()
            .map(Oracle::to_string)
            .collect::<Vec<_>>()
            .join("+")
    };
    let plans = match first {
        Some(p) => PlanSelection::Cuts(p.cuts.clone()),
        // Aborted before any plan failed: the run's plans again.
        None => PlanSelection::Set(plans),
    };
    let index = suite
        .index_of(&case.id)
        .expect("a fuzz case id names its index");
    Finding {
        format: FINDING_FORMAT.into(),
        case: case.id.clone(),
        suite: case.suite.clone(),
        seed: suite.seed,
        index,
        mutation: suite.generate(index).mutation,
        features: case.features.to_string(),
        backend: failed.backend.clone(),
        engine_version,
        kind,
        oracles,
        expected: result.expected,
        one_shot: result.one_shot.clone(),
        plan: first.map(|p| p.plan.clone()),
        cuts: first.map(|p| p.cuts.clone()).unwrap_or_default(),
        actual: first.map(|p| p.actual.clone()),
        failing_plans: result.failing_plans_total,
        plans_run: result.plans_run,
        aborted: result.aborted.clone(),
        unsupported: failed.unsupported.clone(),
        proposals_used: case.proposals_used().into_iter().collect(),
        switched_proposals_used: Vec::new(),
        minimized: None,
        minimize_error: None,
        replay: replay_line(replay, &failed.backend, case, &plans),
        wasm: format!("{}.wasm", file_stem(case)),
    }
}

/// Of the recorded failing plans, the one with the fewest chunks (the
/// first of them): the shortest replay, and where minimization starts.
fn simplest_failing_plan(result: &CaseResult) -> Option<&PlanFailure> {
    result.failing_plans.iter().min_by_key(|p| p.cuts.len())
}

/// `run` on one backend, one case, one plan selection: what replays a
/// finding (regenerating just that module; no truncated prefixes).
fn replay_line(replay: &Replay, backend: &str, case: &Case, plans: &PlanSelection) -> String {
    replay.run_line(
        backend,
        case,
        &format!("--no-truncation {}", plans.argument()),
    )
}

/// `fuzz-SEED-INDEX-HASH`: the module's bytes decide the name (the same
/// seed and index give other bytes when other proposals are left out).
fn file_stem(case: &Case) -> String {
    let hash = xxhash_rust::xxh64::xxh64(&case.bytes, 0);
    let (seed_and_rest, index) = case.id.rsplit_once('/').unwrap_or((&case.id, "0"));
    let seed = seed_and_rest
        .trim_start_matches("fuzz:")
        .split(':')
        .next()
        .unwrap_or_default();
    format!("fuzz-{seed}-{index}-{:08x}", hash >> 32)
}

/// Writes the finding's JSON and its module; returns the paths.
fn save(dir: &Path, case: &Case, finding: &Finding) -> Result<Vec<PathBuf>, Error> {
    let backend = crate::output::file_name_part(&finding.backend);
    let wasm = dir.join(&finding.wasm);
    let json = dir.join(format!("{}-{backend}.json", file_stem(case)));
    crate::output::write(&wasm, &case.bytes[..])?;
    let text = serde_json::to_string_pretty(finding).expect("a finding serializes");
    crate::output::write(&json, text + "\n")?;
    Ok(vec![wasm, json])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::ReferenceBackend;

    fn options(count: u64) -> FuzzOptions {
        FuzzOptions {
            seed: 3,
            count,
            plans: PlanSet::Reduced,
            jobs: Some(1),
            case_timeout: Duration::from_secs(60),
            minimize: false,
            without: Vec::new(),
            findings_dir: None,
            replay: Replay::default(),
            stop: Arc::default(),
        }
    }

    #[test]
    fn the_reference_agrees_with_itself() {
        let report = fuzz(
            vec![BackendUnderTest::bytes_only(ReferenceBackend)],
            &options(12),
            &mut [],
        )
        .unwrap();
        assert_eq!(report.generated, 12);
        assert_eq!(report.cases_per_backend["reference"], 12);
        assert!(report.findings.is_empty(), "{:?}", report.findings);
        assert_eq!(report.exit_code(), 0);
        assert!(report.suite.without.is_empty());
    }

    /// Rejects every module, under a name of its own.
    struct RejectsAll(&'static str);

    impl crate::backend::Backend for RejectsAll {
        fn info(&self) -> crate::backend::BackendInfo {
            crate::backend::BackendInfo {
                name: self.0.into(),
                version: "test double".into(),
            }
        }
        fn compile_streaming(
            &self,
            _: crate::backend::StreamingBody<'_>,
            _: &crate::features::Features,
        ) -> Outcome {
            self.compile_one_shot(&[], &crate::features::Features::baseline())
        }
        fn compile_one_shot(&self, _: &[u8], _: &crate::features::Features) -> Outcome {
            Outcome::CompileError {
                message: "rejected".into(),
            }
        }
    }

    #[cfg(unix)]
    #[test]
    fn findings_of_backends_with_similar_names_and_planted_links_write_apart() {
        let dir = tempfile::tempdir().unwrap();
        let findings = dir.path().join("findings");
        let run = || {
            let mut options = options(1);
            options.findings_dir = Some(findings.clone());
            let backends = ["x:y", "x_y", "x/y"]
                .into_iter()
                .map(|name| BackendUnderTest::bytes_only(RejectsAll(name)))
                .collect();
            fuzz(backends, &options, &mut []).unwrap()
        };
        let report = run();
        assert_eq!(report.findings.len(), 3, "{:?}", report.findings);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&findings)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        // One module and a JSON per backend: none overwrote another.
        assert_eq!(files.len(), 4, "{files:?}");
        // Run again with a link to a victim at each finding's path.
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        for file in &files {
            std::fs::remove_file(file).unwrap();
            std::os::unix::fs::symlink(&victim, file).unwrap();
        }
        run();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert!(files.iter().all(|f| !f.is_symlink()));
    }

    #[test]
    fn zero_modules_is_an_error() {
        let err = fuzz(
            vec![BackendUnderTest::bytes_only(ReferenceBackend)],
            &options(0),
            &mut [],
        )
        .unwrap_err();
        assert!(err.to_string().contains("no case"), "{err}");
    }
}
