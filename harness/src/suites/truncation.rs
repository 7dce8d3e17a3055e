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

/// The most truncation cases derived from one module (the largest module
/// of the built-in suites has under 1,500 structural offsets). Beyond it,
/// an evenly spaced subset is kept, always with the first and last offset,
/// and the rest is reported as not applicable, with the count.
pub const MAX_TRUNCATIONS_PER_MODULE: usize = 4096;

/// Truncation cases for every directive case that expects a Module, and
/// one not-applicable entry per module whose offsets were thinned out.
pub fn derive(cases: &[Case]) -> (Vec<Case>, Vec<NotApplicable>) {
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
        if offsets.len() > MAX_TRUNCATIONS_PER_MODULE {
            let total = offsets.len();
            let keep = MAX_TRUNCATIONS_PER_MODULE;
            offsets = (0..keep)
                .map(|i| offsets[i * (total - 1) / (keep - 1)])
                .collect();
            thinned.push(NotApplicable {
                id: truncation_id(&parent.id, 0).replace("@0", "@*"),
                suite: parent.suite.clone(),
                group: format!("{}/truncated", parent.group),
                reason: format!(
                    "{} of {total} truncation offsets not derived: at most {keep} per module",
                    total - keep
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
            });
        }
    }
    (derived, thinned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::Features;

    fn leb(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            out.push(if n == 0 { byte } else { byte | 0x80 });
            if n == 0 {
                return;
            }
        }
    }

    /// A module of `n` empty functions.
    fn many_functions(n: usize) -> Vec<u8> {
        let mut m = b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0".to_vec();
        let mut funcs = Vec::new();
        leb(n, &mut funcs);
        funcs.extend(std::iter::repeat_n(0u8, n));
        m.push(3);
        leb(funcs.len(), &mut m);
        m.extend(funcs);
        let mut code = Vec::new();
        leb(n, &mut code);
        for _ in 0..n {
            code.extend([2, 0, 0x0b]);
        }
        m.push(10);
        leb(code.len(), &mut m);
        m.extend(code);
        m
    }

    #[test]
    fn a_huge_module_yields_a_bounded_thinned_set_and_says_so() {
        let parent = Case {
            id: "s/big.wast:1".into(),
            suite: "s".into(),
            group: "g".into(),
            origin: CaseOrigin::Directive,
            bytes: many_functions(5000).into(),
            expected: OutcomeClass::Module.into(),
            features: Arc::new(Features::baseline()),
            scenario: None,
        };
        let (derived, thinned) = derive(&[parent]);
        assert_eq!(derived.len(), MAX_TRUNCATIONS_PER_MODULE);
        assert!(derived[0].id.ends_with("@0"), "{}", derived[0].id);
        assert_eq!(thinned.len(), 1);
        assert_eq!(thinned[0].id, "s/big.wast:1/truncated@*");
        assert!(
            thinned[0].reason.contains("not derived"),
            "{}",
            thinned[0].reason
        );
    }

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
        };
        let (derived, _) = derive(&[parent]);
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
