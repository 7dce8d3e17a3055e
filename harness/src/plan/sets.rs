//! The named plan sets, and plans rebuilt from their names.
//!
//! Every plan is a pure function of its name and the body, so a failing
//! plan replays with `--plan NAME` however large its cut list is.

use super::structure::structural_offsets;
use super::ChunkPlan;
use crate::error::Error;

/// Fixed chunk sizes: the segment sizes engines and hosts use internally.
const FIXED_SIZES: &[usize] = &[
    2, 3, 4, 5, 6, 7, 8, 9, 10, 16, 100, 1000, 4096, 16384, 65536,
];
/// How many seeded random plans the default set has.
const RANDOM_PLANS: u64 = 8;

/// How many final bytes the `tail-bytes` plan delivers one per chunk: more
/// than the longest LEB128 plus a section id.
const TAIL_BYTES: usize = 16;

pub const PLAN_NAME_FORMS: &str =
    "`whole`, `one-byte`, `empty-interleaved`, `tail-bytes`, `split@K`, `fixed-N` or `random-SEED`";

/// A named set of plans, chosen with `--plans`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PlanSet {
    /// Whole body, one byte per chunk, every structural two-chunk split,
    /// empty chunks interleaved, fixed sizes, seeded random plans.
    #[default]
    Default,
    /// `default` plus every two-chunk split `k` in `0..=n`.
    Exhaustive,
    /// `default` without its seeded random plans: what the set catches by
    /// design, not by chance (the seeded-bug tests run it).
    Deliberate,
    /// A cheap cross-section for slow backends: whole, one byte, empty
    /// chunks interleaved, one fixed size and one random plan.
    Reduced,
    /// Just the whole body: one-shot behaviour through the streaming path.
    Whole,
    /// For truncated prefixes, where the question is how the stream ends:
    /// whole, the last bytes one per chunk, an empty last chunk, one random
    /// plan. Every plan is linear in the body, so hundreds of prefixes of a
    /// large module stay cheap.
    Truncation,
}

impl PlanSet {
    pub const NAMES: &'static [&'static str] = &[
        "default",
        "exhaustive",
        "deliberate",
        "reduced",
        "whole",
        "truncation",
    ];

    pub fn parse(name: &str) -> Result<PlanSet, Error> {
        match name {
            "default" => Ok(PlanSet::Default),
            "exhaustive" => Ok(PlanSet::Exhaustive),
            "deliberate" => Ok(PlanSet::Deliberate),
            "reduced" => Ok(PlanSet::Reduced),
            "whole" => Ok(PlanSet::Whole),
            "truncation" => Ok(PlanSet::Truncation),
            _ => Err(Error::UnknownPlan {
                name: name.to_string(),
                expected: format!("a plan set: {}", Self::NAMES.join(", ")),
            }),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PlanSet::Default => "default",
            PlanSet::Exhaustive => "exhaustive",
            PlanSet::Deliberate => "deliberate",
            PlanSet::Reduced => "reduced",
            PlanSet::Whole => "whole",
            PlanSet::Truncation => "truncation",
        }
    }

    /// The set's plans for `body`, all at once; plans whose cut lists
    /// coincide with an earlier one (say `fixed-100` on a 60-byte body) are
    /// dropped. A run takes them one at a time instead ([`PlanSet::lazy`]).
    pub fn plans(self, body: &[u8]) -> Vec<ChunkPlan> {
        self.lazy(body).collect()
    }

    /// The same plans as [`PlanSet::plans`], in the same order, each built
    /// only when it is taken.
    pub fn lazy(self, body: &[u8]) -> LazyPlans {
        use PlanName::*;
        let n = body.len();
        let (before_splits, splits, after_splits): (Vec<PlanName>, Vec<usize>, Vec<PlanName>) =
            match self {
                PlanSet::Whole => (vec![Whole], vec![], vec![]),
                PlanSet::Truncation => (vec![Whole, TailBytes], vec![n], vec![Random(0)]),
                PlanSet::Reduced => (
                    vec![Whole, OneByte, EmptyInterleaved, Fixed(7), Random(0)],
                    vec![],
                    vec![],
                ),
                PlanSet::Default | PlanSet::Exhaustive | PlanSet::Deliberate => (
                    vec![Whole, OneByte, TailBytes],
                    structural_offsets(body),
                    std::iter::once(EmptyInterleaved)
                        .chain(FIXED_SIZES.iter().map(|&size| Fixed(size)))
                        .chain(
                            (0..RANDOM_PLANS)
                                .filter(|_| self != PlanSet::Deliberate)
                                .map(Random),
                        )
                        .collect(),
                ),
            };
        LazyPlans {
            n,
            before_splits: before_splits.into_iter(),
            splits,
            next_split: 0,
            every_split: (self == PlanSet::Exhaustive).then_some(0),
            after_splits: after_splits.into_iter(),
            given: Vec::new(),
            given_single_cuts: Vec::new(),
        }
    }
}

/// A set's plans for one body, each built when it is taken: a large body's
/// cut lists (`one-byte` has `n - 1` cuts, `empty-interleaved` `2n`) are
/// never all in memory at once, and a module with hundreds of thousands of
/// structural offsets keeps them as offsets, not as plans.
///
/// In set order: named plans, two-chunk splits at the structural offsets
/// (then, for `exhaustive`, at every other offset), named plans. A plan
/// whose cut list equals an earlier one is skipped, as in [`PlanSet::plans`].
#[derive(Debug)]
pub struct LazyPlans {
    n: usize,
    before_splits: std::vec::IntoIter<PlanName>,
    /// Sorted and de-duplicated.
    splits: Vec<usize>,
    next_split: usize,
    /// `exhaustive`: the next offset of `0..=n` to split at.
    every_split: Option<usize>,
    after_splits: std::vec::IntoIter<PlanName>,
    /// The named plans given so far, by a hash and the length of their
    /// cut list (splits are compared by offset, so they cost no entry).
    given: Vec<(u64, usize, PlanName)>,
    /// The cut of each named plan given so far that has exactly one.
    given_single_cuts: Vec<usize>,
}

impl LazyPlans {
    /// Whether a split at `k` was given already: by a named plan with that
    /// one cut, or, once the splits are past, by a split.
    fn split_given(&self, k: usize, splits_past: bool) -> bool {
        let by_split =
            splits_past && (self.every_split.is_some() || self.splits.binary_search(&k).is_ok());
        by_split || self.given_single_cuts.contains(&k)
    }

    /// A named plan, unless its cut list was given already.
    fn named(&mut self, name: PlanName, splits_past: bool) -> Option<ChunkPlan> {
        let plan = name.plan(self.n);
        if let [k] = plan.cuts[..] {
            if self.split_given(k, splits_past) {
                return None;
            }
        }
        let (hash, len, n) = (cuts_hash(&plan.cuts), plan.cuts.len(), self.n);
        // A matching hash is checked against the plan itself, so a
        // collision never drops a plan.
        let repeated = self
            .given
            .iter()
            .any(|&(h, l, earlier)| (h, l) == (hash, len) && earlier.plan(n).cuts == plan.cuts);
        if repeated {
            return None;
        }
        self.given.push((hash, len, name));
        if let [k] = plan.cuts[..] {
            self.given_single_cuts.push(k);
        }
        Some(plan)
    }
}

fn cuts_hash(cuts: &[usize]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    cuts.hash(&mut hasher);
    hasher.finish()
}

impl Iterator for LazyPlans {
    type Item = ChunkPlan;

    fn next(&mut self) -> Option<ChunkPlan> {
        while let Some(name) = self.before_splits.next() {
            if let Some(plan) = self.named(name, false) {
                return Some(plan);
            }
        }
        while let Some(&k) = self.splits.get(self.next_split) {
            self.next_split += 1;
            if !self.split_given(k, false) {
                return Some(split(k));
            }
        }
        while let Some(k) = self.every_split.filter(|&k| k <= self.n) {
            self.every_split = Some(k + 1);
            if self.splits.binary_search(&k).is_err() && !self.split_given(k, false) {
                return Some(split(k));
            }
        }
        while let Some(name) = self.after_splits.next() {
            if let Some(plan) = self.named(name, true) {
                return Some(plan);
            }
        }
        None
    }
}

/// A plan's name, parsed: what it is, independent of any body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanName {
    Whole,
    OneByte,
    EmptyInterleaved,
    TailBytes,
    Split(usize),
    Fixed(usize),
    Random(u64),
}

impl PlanName {
    /// Parses one of [`PLAN_NAME_FORMS`].
    pub fn parse(name: &str) -> Result<PlanName, Error> {
        let unknown = || Error::UnknownPlan {
            name: name.to_string(),
            expected: format!("a plan name: {PLAN_NAME_FORMS}"),
        };
        let number = |text: &str| text.parse::<u64>().map_err(|_| unknown());
        Ok(match name {
            "whole" => PlanName::Whole,
            "one-byte" => PlanName::OneByte,
            "empty-interleaved" => PlanName::EmptyInterleaved,
            "tail-bytes" => PlanName::TailBytes,
            _ => {
                if let Some(k) = name.strip_prefix("split@") {
                    PlanName::Split(number(k)? as usize)
                } else if let Some(size) = name.strip_prefix("fixed-") {
                    match number(size)? {
                        0 => return Err(unknown()),
                        size => PlanName::Fixed(size as usize),
                    }
                } else if let Some(seed) = name.strip_prefix("random-") {
                    PlanName::Random(number(seed)?)
                } else {
                    return Err(unknown());
                }
            }
        })
    }

    /// The plan for a body of `n` bytes; only a split past the end fails.
    pub fn build(self, n: usize) -> Result<ChunkPlan, Error> {
        match self {
            PlanName::Split(k) => ChunkPlan::from_cuts(format!("split@{k}"), vec![k], n),
            other => Ok(other.plan(n)),
        }
    }

    /// [`PlanName::build`] for a name known to fit (the sets' own plans).
    fn plan(self, n: usize) -> ChunkPlan {
        match self {
            PlanName::Whole => whole(),
            PlanName::OneByte => one_byte(n),
            PlanName::EmptyInterleaved => empty_interleaved(n),
            PlanName::TailBytes => tail_bytes(n),
            PlanName::Split(k) => split(k),
            PlanName::Fixed(size) => fixed(size, n),
            PlanName::Random(seed) => random(seed, n),
        }
    }
}

/// Rebuilds one plan from its name (see [`PLAN_NAME_FORMS`]) for `body`.
pub fn plan_by_name(name: &str, body: &[u8]) -> Result<ChunkPlan, Error> {
    PlanName::parse(name)?.build(body.len())
}

fn whole() -> ChunkPlan {
    ChunkPlan {
        name: "whole".into(),
        cuts: vec![],
    }
}

fn one_byte(n: usize) -> ChunkPlan {
    ChunkPlan {
        name: "one-byte".into(),
        cuts: (1..n).collect(),
    }
}

fn split(k: usize) -> ChunkPlan {
    ChunkPlan {
        name: format!("split@{k}"),
        cuts: vec![k],
    }
}

/// Everything but the last bytes in one chunk, then one byte per chunk.
fn tail_bytes(n: usize) -> ChunkPlan {
    ChunkPlan {
        name: "tail-bytes".into(),
        cuts: (n.saturating_sub(TAIL_BYTES).max(1)..n).collect(),
    }
}

/// An empty chunk first, last, and between every pair of one-byte chunks.
fn empty_interleaved(n: usize) -> ChunkPlan {
    let mut cuts = Vec::with_capacity(2 * n + 1);
    cuts.push(0);
    for k in 1..n {
        cuts.extend([k, k]);
    }
    cuts.push(n);
    ChunkPlan {
        name: "empty-interleaved".into(),
        cuts,
    }
}

fn fixed(size: usize, n: usize) -> ChunkPlan {
    ChunkPlan {
        name: format!("fixed-{size}"),
        cuts: (size..n).step_by(size).collect(),
    }
}

/// Between 1 and 16 cuts at uniformly random offsets in `0..=n`, repeats
/// allowed (so empty chunks happen). The stream depends only on the seed
/// and `n`, never on anything else in the run.
fn random(seed: u64, n: usize) -> ChunkPlan {
    let mut rng = SplitMix64(seed ^ (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let count = 1 + (rng.next() % 16) as usize;
    let mut cuts: Vec<usize> = (0..count)
        .map(|_| (rng.next() % (n as u64 + 1)) as usize)
        .collect();
    cuts.sort_unstable();
    ChunkPlan {
        name: format!("random-{seed}"),
        cuts,
    }
}

/// SplitMix64: tiny, well-distributed, and fixed forever, so seeded plans
/// stay reproducible across versions of any dependency.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// The sets as they were built before plans were taken lazily: every
    /// plan at once, then duplicates of an earlier cut list dropped.
    fn eager(set: PlanSet, body: &[u8]) -> Vec<ChunkPlan> {
        let n = body.len();
        let mut plans = vec![whole()];
        match set {
            PlanSet::Whole => {}
            PlanSet::Truncation => plans.extend([tail_bytes(n), split(n), random(0, n)]),
            PlanSet::Reduced => {
                plans.extend([one_byte(n), empty_interleaved(n), fixed(7, n), random(0, n)])
            }
            PlanSet::Default | PlanSet::Exhaustive | PlanSet::Deliberate => {
                plans.push(one_byte(n));
                plans.push(tail_bytes(n));
                plans.extend(structural_offsets(body).into_iter().map(split));
                if set == PlanSet::Exhaustive {
                    plans.extend((0..=n).map(split));
                }
                plans.push(empty_interleaved(n));
                plans.extend(FIXED_SIZES.iter().map(|&size| fixed(size, n)));
                if set != PlanSet::Deliberate {
                    plans.extend((0..RANDOM_PLANS).map(|seed| random(seed, n)));
                }
            }
        }
        let mut seen = HashSet::new();
        plans.retain(|p| seen.insert(p.cuts.clone()));
        plans
    }

    #[test]
    fn lazy_sets_give_the_eager_plans_in_the_same_order() {
        let mut bodies: Vec<Vec<u8>> = (0..=40).map(|n| MODULE.repeat(2)[..n].to_vec()).collect();
        bodies.push(MODULE.to_vec());
        // Sizes where fixed plans have one cut and coincide with splits.
        bodies.extend([130_000, 70_000].map(|n| {
            let mut m = MODULE.to_vec();
            m.resize(n, 0);
            m
        }));
        for body in &bodies {
            for &name in PlanSet::NAMES {
                let set = PlanSet::parse(name).unwrap();
                assert_eq!(
                    set.lazy(body).collect::<Vec<_>>(),
                    eager(set, body),
                    "{name} on {} bytes",
                    body.len()
                );
            }
        }
    }

    const MODULE: &[u8] =
        b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0\x03\x02\x01\0\x0a\x04\x01\x02\0\x0b";

    #[test]
    fn every_plan_in_a_set_rebuilds_from_its_name() {
        for set in [
            PlanSet::Default,
            PlanSet::Exhaustive,
            PlanSet::Reduced,
            PlanSet::Whole,
        ] {
            for plan in set.plans(MODULE) {
                assert_eq!(
                    plan_by_name(&plan.name, MODULE).unwrap(),
                    plan,
                    "{}",
                    set.name()
                );
            }
        }
    }

    #[test]
    fn default_set_has_the_required_kinds() {
        let names: Vec<String> = PlanSet::Default
            .plans(MODULE)
            .into_iter()
            .map(|p| p.name)
            .collect();
        let n = MODULE.len();
        for required in [
            "whole",
            "one-byte",
            "empty-interleaved",
            "split@0",
            "split@4",
            "split@8",
            "fixed-2",
            "random-0",
        ] {
            assert!(
                names.iter().any(|x| x == required),
                "missing {required}: {names:?}"
            );
        }
        assert!(
            names.contains(&format!("split@{}", n - 1)) && names.contains(&format!("split@{n}"))
        );
    }

    #[test]
    fn exhaustive_adds_every_split_and_no_duplicates() {
        let plans = PlanSet::Exhaustive.plans(MODULE);
        for k in 0..=MODULE.len() {
            assert!(plans.iter().any(|p| p.cuts == [k]), "missing split@{k}");
        }
        let unique: HashSet<_> = plans.iter().map(|p| p.cuts.clone()).collect();
        assert_eq!(unique.len(), plans.len());
    }

    #[test]
    fn random_plans_are_seeded_and_in_range() {
        assert_eq!(random(3, 100), random(3, 100));
        assert_ne!(random(3, 100).cuts, random(4, 100).cuts);
        assert!(random(5, 10).cuts.iter().all(|&c| c <= 10));
    }

    #[test]
    fn unknown_names_list_the_accepted_forms() {
        let err = plan_by_name("sliced", MODULE).unwrap_err().to_string();
        assert!(err.contains("split@K"), "{err}");
        let err = PlanSet::parse("fast").unwrap_err().to_string();
        assert!(err.contains("default, exhaustive"), "{err}");
        assert!(plan_by_name("fixed-0", MODULE).is_err());
        assert!(plan_by_name("split@999", MODULE).is_err());
    }
}
