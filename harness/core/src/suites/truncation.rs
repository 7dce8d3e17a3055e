//! Derived truncation cases: each valid module cut short at each of its
//! structural offsets, as if the body ended there. The expected outcome of a
//! prefix is what a one-shot validation of that prefix gives; a prefix that
//! ends on a section boundary can itself be a valid module.

use crate::case::{Case, CaseOrigin, Expected, NotApplicable};
use crate::outcome::OutcomeClass;
use crate::plan::structure::structural_offsets;
use std::sync::Arc;

/// The id of the prefix of `parent` that is `len` bytes long.
pub fn truncation_id(parent: &str, len: usize) -> String {
    format!("{parent}/truncated@{len}")
}

/// The most truncation cases derived from one module by default (the
/// largest module of the built-in suites has under 1,500 structural offsets).
pub const DEFAULT_MAX_TRUNCATIONS_PER_MODULE: usize = 4096;

/// Truncation cases for every directive case that expects a Module, at most
/// `max_per_module` of them per module: beyond it, an evenly spaced subset
/// is kept, always with the first and last offset, and the module gets one
/// not-applicable entry that counts the offsets left out.
pub fn derive(cases: &[Case], max_per_module: usize) -> (Vec<Case>, Vec<NotApplicable>) {
    let mut derived = Vec::new();
    let mut thinned = Vec::new();
    for parent in cases
        .iter()
        .filter(|c| c.origin == CaseOrigin::Directive && c.expected() == OutcomeClass::Module)
    {
        let n = parent.bytes.len();
        let mut offsets: Vec<usize> = structural_offsets(&parent.bytes)
            .into_iter()
            .filter(|&k| k < n)
            .collect();
        if offsets.len() > max_per_module {
            let total = offsets.len();
            offsets = evenly_spaced(&offsets, max_per_module);
            thinned.push(NotApplicable {
                id: truncation_id(&parent.id, 0).replace("@0", "@*"),
                suite: parent.suite.clone(),
                group: format!("{}/truncated", parent.group),
                reason: format!(
                    "{} of {total} truncation offsets not derived: at most {max_per_module} per module",
                    total - max_per_module
                ),
            });
        }
        for len in offsets {
            derived.push(Case {
                id: truncation_id(&parent.id, len),
                suite: parent.suite.clone(),
                // Own summary rows, so directive counts stay visible.
                group: format!("{}/truncated", parent.group),
                origin: CaseOrigin::Truncation {
                    parent: parent.id.clone(),
                    len,
                },
                bytes: parent.bytes.prefix(len),
                expected: Expected::OneShotValidation(Arc::default()),
                features: parent.features.clone(),
                scenario: None,
                function: Default::default(),
                imports: Default::default(),
            });
        }
    }
    (derived, thinned)
}

/// `keep` of `items` (fewer than there are), evenly spaced, first and last
/// included when `keep` allows.
fn evenly_spaced(items: &[usize], keep: usize) -> Vec<usize> {
    match keep {
        0 => Vec::new(),
        1 => items[..1].to_vec(),
        _ => (0..keep)
            .map(|i| items[i * (items.len() - 1) / (keep - 1)])
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::Features;

    #[test]
    fn prefixes_on_section_boundaries_can_be_valid() {
        // header + type section + function section + code section
        let module =
            b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0\x03\x02\x01\0\x0a\x04\x01\x02\0\x0b".to_vec();
        let parent = Case {
            id: "s/f.wast:1".into(),
            suite: "s".into(),
            group: "g".into(),
            origin: CaseOrigin::Directive,
            bytes: module.into(),
            expected: OutcomeClass::Module.into(),
            features: Arc::new(Features::baseline()),
            scenario: None,
            function: Default::default(),
            imports: Default::default(),
        };
        let (derived, _) = derive(&[parent], DEFAULT_MAX_TRUNCATIONS_PER_MODULE);
        let expect = |len: usize| {
            derived
                .iter()
                .find(|c| c.id == truncation_id("s/f.wast:1", len))
                .unwrap()
                .expected()
        };
        assert_eq!(expect(0), OutcomeClass::CompileError);
        assert_eq!(
            expect(8),
            OutcomeClass::Module,
            "the bare header is a valid empty module"
        );
        assert_eq!(expect(9), OutcomeClass::CompileError);
        // After the type section alone: valid; after the function section
        // with no code section: invalid (function and code counts differ).
        assert_eq!(expect(14), OutcomeClass::Module);
        assert_eq!(expect(18), OutcomeClass::CompileError);
        assert!(derived.iter().all(|c| c.bytes.len() < 24));
    }
}
