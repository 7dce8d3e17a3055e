//! The reference model and the shared driver (under node) read an
//! instantiation the same way: for every `instantiateStreaming` case of
//! `suites/streaming/instantiation.wast`, the same outcome class and, for an
//! instance, the same module and instance fingerprints, one-shot and
//! streamed in three chunks.

use std::time::Duration;
use streamconform::backend::{BodyEnd, InstantiateBackend, StreamingBody};
use streamconform::case::StreamingFunction;
use streamconform::plan::ChunkPlan;
use streamconform::{ReferenceBackend, SuiteSpec};

#[test]
fn the_reference_model_and_the_driver_fingerprint_instances_alike() {
    let loaded = streamconform::suites::load_matching(
        &SuiteSpec::Streaming,
        Some("streaming/instantiation.wast"),
    );
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let cases: Vec<_> = loaded
        .cases
        .iter()
        .filter(|c| c.function == StreamingFunction::Instantiate)
        .collect();
    assert!(cases.len() >= 10, "{} instantiation cases", cases.len());
    let node = streamconform_engines::process::js(
        "node",
        "node",
        &["node".into()],
        2,
        Duration::from_millis(300),
    )
    .expect("the driver is written out");
    let mut classes = std::collections::BTreeSet::new();
    for case in cases {
        let bytes = &case.bytes[..];
        let reference = ReferenceBackend.instantiate_one_shot(bytes, &case.features, &case.imports);
        let engine = node.instantiate_one_shot(bytes, &case.features, &case.imports);
        // Same class; for an instance the same fingerprints (messages are
        // engine prose, never compared).
        assert!(
            engine.equivalent(&reference),
            "{}: node {engine:?}, reference {reference:?}",
            case.id
        );
        let third = bytes.len() / 3;
        let plan = ChunkPlan {
            name: "thirds".into(),
            cuts: vec![third, 2 * third],
        };
        let body = || StreamingBody {
            chunks: plan.chunks(bytes),
            end: BodyEnd::Close,
        };
        let streamed = node.instantiate_streaming(body(), &case.features, &case.imports);
        assert!(
            streamed.equivalent(&engine),
            "{}: {streamed} vs {engine}",
            case.id
        );
        let streamed =
            ReferenceBackend.instantiate_streaming(body(), &case.features, &case.imports);
        assert!(streamed.equivalent(&reference), "{}", case.id);
        classes.insert(reference.class());
    }
    // The file exercises both ways an instantiation ends.
    assert_eq!(classes.len(), 2, "{classes:?}");
}
