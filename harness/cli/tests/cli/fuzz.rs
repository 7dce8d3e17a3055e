//! Differential fuzzing: the `fuzz:SEED` suite generates the same modules
//! from the same seed, valid and invalid ones, regenerates one module from
//! its id, respects what a backend lacks; `streamconform fuzz` finds
//! nothing on the reference (its own oracle) and flags a seeded streaming
//! bug with a replay line that reproduces it.
//!
//! Findings are not minimized here (`--no-minimize`): `runner::minimize`
//! is built separately.

use crate::common;

use common::{scratch, streamconform, text};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use streamconform::backend::{Backend, BackendInfo, BackendUnderTest, StreamingBody};
use streamconform::features::{Features, SpecVersion, KNOWN_FEATURES};
use streamconform::fuzz::{fuzz, Finding, FuzzOptions};
use streamconform::plan::parse_cuts;
use streamconform::runner::{run_case, PlanSelection, Replay};
use streamconform::suites::fuzz::FuzzSuite;
use streamconform::suites::{load_matching, SuiteSpec};
use streamconform::verdict::Verdict;
use streamconform::{Outcome, OutcomeClass, PlanSet, ReferenceBackend};

fn every_proposal() -> Features {
    Features::new(SpecVersion::Wasm3, KNOWN_FEATURES.iter().copied()).unwrap()
}

#[test]
fn generation_is_deterministic_and_yields_valid_and_invalid_modules() {
    let suite = FuzzSuite::new(1, 60, []);
    let again = FuzzSuite::new(1, 60, []);
    let modules: Vec<_> = (0..60).map(|i| suite.generate(i)).collect();
    for (i, module) in modules.iter().enumerate() {
        assert_eq!(*module, again.generate(i as u64), "module {i} differs");
    }
    let distinct: BTreeSet<&[u8]> = modules.iter().map(|m| m.bytes.as_slice()).collect();
    assert_eq!(distinct.len(), 60, "two indices gave the same bytes");
    assert_ne!(
        FuzzSuite::new(2, 1, []).generate(0).bytes,
        modules[0].bytes,
        "another seed, the same module"
    );
    // Most define functions: the code section is where streaming decoders
    // do most of their work.
    let with_code = modules
        .iter()
        .filter(|m| m.mutation.is_none() && code_section_header(&m.bytes).is_some())
        .count();
    let unmutated = modules.iter().filter(|m| m.mutation.is_none()).count();
    assert!(
        with_code * 4 >= unmutated * 3,
        "{with_code} of {unmutated} have code"
    );
    let features = suite.features();
    let valid = modules
        .iter()
        .filter(|m| m.expected == OutcomeClass::Module)
        .count();
    let mutated = modules.iter().filter(|m| m.mutation.is_some()).count();
    assert!(
        (10..=30).contains(&mutated) && valid >= 30,
        "{valid} valid, {mutated} mutated of 60"
    );
    for (i, module) in modules.iter().enumerate() {
        // The expected outcome is the reference's one-shot validation.
        assert_eq!(
            features.validates(&module.bytes),
            module.expected == OutcomeClass::Module,
            "module {i}"
        );
        // Unmutated modules are valid (the proposal mapping is right);
        // mutated ones invalid whatever proposals are on.
        match &module.mutation {
            None => assert_eq!(module.expected, OutcomeClass::Module, "module {i}"),
            Some(how) => assert!(
                module.expected == OutcomeClass::CompileError
                    && !every_proposal().validates(&module.bytes),
                "module {i} ({how})"
            ),
        }
    }
}

#[test]
fn a_case_id_regenerates_just_its_module() {
    let spec = SuiteSpec::parse("fuzz:5").unwrap();
    // Index 250 is past the default count: an id names its module in the
    // seed's sequence whatever the count.
    let loaded = load_matching(&spec, Some("fuzz:5/250"));
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let ids: Vec<&str> = loaded.cases.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["fuzz:5/250"]);
    assert_eq!(
        &*loaded.cases[0].bytes,
        FuzzSuite::new(5, 1, []).generate(250).bytes.as_slice()
    );
    // Through the command line, with the one-shot and every default plan.
    let dir = scratch("fuzz-one-case");
    let out = streamconform(
        &[
            "run",
            "--suite",
            "fuzz:5",
            "--case",
            "fuzz:5/250",
            "--no-truncation",
            "--quiet",
        ],
        &dir,
    );
    let printed = text(&out);
    assert_eq!(out.status.code(), Some(0), "{printed}");
    assert!(printed.contains("1 cases x 1 backend"), "{printed}");
    // Several ids, each past the default count: each is regenerated.
    let out = streamconform(
        &[
            "run",
            "--suite",
            "fuzz:5",
            "--case",
            "fuzz:5/250",
            "--case",
            "fuzz:5/7000",
            "--no-truncation",
            "--quiet",
        ],
        &dir,
    );
    let printed = text(&out);
    assert_eq!(out.status.code(), Some(0), "{printed}");
    assert!(printed.contains("2 cases x 1 backend"), "{printed}");
}

#[test]
fn fuzzing_the_reference_finds_nothing_in_200_modules() {
    let dir = scratch("fuzz-reference");
    let out = streamconform(
        &[
            "fuzz",
            "--backend",
            "reference",
            "--seed",
            "1",
            "--count",
            "200",
            "--no-minimize",
            "--quiet",
        ],
        &dir,
    );
    let printed = text(&out);
    assert_eq!(out.status.code(), Some(0), "{printed}");
    assert!(
        printed.contains("fuzz fuzz:1:200: 200 modules generated"),
        "{printed}"
    );
    assert!(
        printed.contains("reference: 200 cases run, 0 findings"),
        "{printed}"
    );
    assert!(!dir.join("fuzz-findings").exists(), "nothing to save");
}

#[test]
fn bad_fuzz_arguments_are_input_errors() {
    let dir = scratch("fuzz-bad-arguments");
    for args in [
        &["fuzz", "--seed", "1", "--count", "0"][..],
        &["fuzz", "--seed", "x"],
        &["fuzz", "--seed", "1", "--without", "stack-switching"],
        &["list", "--suite", "fuzz:1:many"],
    ] {
        let out = streamconform(args, &dir);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
    }
}

/// On node, the generated modules use no proposal node lacks, and no
/// finding is one of a lacking proposal.
#[test]
fn fuzzing_node_respects_its_lacking_proposals() {
    let node = streamconform_engines::by_name("node").unwrap();
    let lacking = node
        .engine
        .proposal_support()
        .expect("node reports its proposals")
        .lacking;
    assert!(!lacking.is_empty(), "node 20 lacks some proposals");
    let suite = streamconform::fuzz::suite_for(&[node], 4, 40, &[]).unwrap();
    let features = suite.features();
    let all = every_proposal();
    for index in 0..40 {
        let module = suite.generate(index);
        // What the module needs with every proposal on.
        let used = all.proposals_used(&module.bytes);
        let needs_lacking: Vec<_> = used.iter().filter(|p| lacking.contains(p)).collect();
        assert!(
            needs_lacking.is_empty(),
            "module {index}: {needs_lacking:?}"
        );
        for p in features.iter() {
            assert!(!lacking.iter().any(|l| l == p), "{p} is enabled");
        }
    }

    let dir = scratch("fuzz-node");
    let out = streamconform(
        &[
            "fuzz",
            "--backend",
            "node",
            "--seed",
            "4",
            "--count",
            "15",
            "--no-minimize",
            "--quiet",
        ],
        &dir,
    );
    let printed = text(&out);
    // Findings may exist (an engine deviation, a partial experimental
    // proposal); none may be about a lacking proposal.
    assert!(matches!(out.status.code(), Some(0 | 1)), "{printed}");
    assert!(printed.contains("node: 15 cases run"), "{printed}");
    assert!(printed.contains("proposals left out"), "{printed}");
    for finding in findings_in(&dir.join("fuzz-findings")) {
        assert!(finding.unsupported.is_empty(), "{finding:?}");
        assert!(
            !finding.proposals_used.iter().any(|p| lacking.contains(p)),
            "{finding:?}"
        );
    }
}

fn findings_in(dir: &std::path::Path) -> Vec<Finding> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<_> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect()
}

/// Seeded-bug test double: the reference backend, except that a chunk
/// boundary inside the code section's header (between its id byte and the
/// end of its size) makes it reject the module: the off-by-one on a split
/// code section header that real engines have had.
struct SplitCodeHeaderBug;

/// Where the code section's header is: (id offset, payload start).
fn code_section_header(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut reader = wasmparser::BinaryReader::new(bytes.get(8..)?, 8);
    while !reader.eof() {
        let start = reader.original_position() as usize;
        let id = reader.read_u8().ok()?;
        let size = reader.read_var_u32().ok()?;
        let payload = reader.original_position() as usize;
        if id == 10 {
            return Some((start, payload));
        }
        reader.read_bytes(size as usize).ok()?;
    }
    None
}

impl Backend for SplitCodeHeaderBug {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: "split-code-header-bug".into(),
            version: "seeded-bug test double".into(),
        }
    }

    fn compile_streaming(&self, body: StreamingBody<'_>, features: &Features) -> Outcome {
        let chunks: Vec<&[u8]> = body.chunks.clone().collect();
        let bytes = chunks.concat();
        if let Some((id, payload)) = code_section_header(&bytes) {
            let mut boundary = 0;
            for chunk in &chunks[..chunks.len().saturating_sub(1)] {
                boundary += chunk.len();
                if id < boundary && boundary < payload {
                    return Outcome::CompileError {
                        message: "seeded bug: code section header split".into(),
                    };
                }
            }
        }
        ReferenceBackend.compile_streaming(body, features)
    }

    fn compile_one_shot(&self, bytes: &[u8], features: &Features) -> Outcome {
        ReferenceBackend.compile_one_shot(bytes, features)
    }
}

#[test]
fn a_seeded_streaming_bug_is_a_finding_saved_with_a_working_replay_line() {
    let dir = scratch("fuzz-seeded-bug");
    let findings_dir = dir.join("findings");
    let options = FuzzOptions {
        seed: 9,
        count: 20,
        plans: PlanSet::Default,
        jobs: Some(2),
        case_timeout: Duration::from_secs(60),
        minimize: false,
        without: Vec::new(),
        findings_dir: Some(findings_dir.clone()),
        replay: Replay::default(),
        stop: Arc::default(),
    };
    let report = fuzz(
        vec![BackendUnderTest::bytes_only(SplitCodeHeaderBug)],
        &options,
        &mut [],
    )
    .unwrap();
    assert_eq!(report.exit_code(), 1);
    assert!(!report.findings.is_empty());
    let mut saved = findings_in(&findings_dir);
    saved.sort_by_key(|f| f.index);
    assert!(
        saved == report.findings,
        "every finding is saved as reported"
    );
    let suite = FuzzSuite::new(9, 20, []);
    for finding in &saved {
        // Only valid modules with a code section can hit the bug.
        let module = suite.generate(finding.index);
        assert_eq!(finding.expected, OutcomeClass::Module);
        assert!(code_section_header(&module.bytes).is_some());
        assert_eq!(finding.kind, "spec+invariance", "{finding:?}");
        assert_eq!(finding.case, suite.case_id(finding.index));
        assert_eq!(
            std::fs::read(findings_dir.join(&finding.wasm)).unwrap(),
            module.bytes
        );
        assert_eq!(finding.engine_version, "seeded-bug test double");

        // The replay line: `streamconform run --backend B --suite S --case
        // ID --no-truncation --cuts X`, which fails the same way.
        let words: Vec<&str> = finding.replay.split_whitespace().collect();
        let value = |flag: &str| {
            let at = words.iter().position(|w| *w == flag).unwrap();
            words[at + 1].trim_matches('\'')
        };
        assert_eq!(words[1], "run", "{}", finding.replay);
        assert_eq!(value("--backend"), "split-code-header-bug");
        assert_eq!(value("--case"), finding.case);
        let spec = SuiteSpec::parse(value("--suite")).unwrap();
        let cases = load_matching(&spec, Some(value("--case"))).cases;
        assert_eq!(cases.len(), 1);
        let plans = PlanSelection::Cuts(parse_cuts(value("--cuts")).unwrap());
        let bug = BackendUnderTest::bytes_only(SplitCodeHeaderBug);
        let replayed = run_case(&bug, &cases[0], &plans);
        assert_eq!(replayed.verdict, Verdict::Fail, "{}", finding.replay);
        assert_eq!(replayed.failing_plans[0].failed, finding.oracles);
        // The same line on the reference passes: the bug, not the case.
        let reference = BackendUnderTest::bytes_only(ReferenceBackend);
        assert_eq!(
            run_case(&reference, &cases[0], &plans).verdict,
            Verdict::Pass
        );
    }
    // And the line as the command line takes it, on the reference.
    let first = &saved[0];
    let mut args: Vec<String> = first
        .replay
        .split_whitespace()
        .skip(1)
        .map(|w| w.trim_matches('\'').to_string())
        .collect();
    let at = args.iter().position(|a| a == "--backend").unwrap();
    args[at + 1] = "reference".into();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = streamconform(&args, &dir);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
}
