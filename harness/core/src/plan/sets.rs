//! The named plan sets, and plans rebuilt from their names.
//!
//! Every plan is a pure function of its name and the body, so a failing
//! plan replays with `--plan NAME` however large its cut list is.
//!
//! # What the default set aims at
//!
//! Each plan kind is there for a class of streaming-decoder defect, so that
//! the set finds it by design rather than by a random plan's luck:
//!
//! | plan | defect it targets |
//! |---|---|
//! | `whole`, `one-byte`, `tail-bytes` | fast paths; LEB readers; read-ahead not flushed at the end |
//! | `split@K` at coarse offsets | state hand-offs (header, section, code, body); state lost after a section; a module cache keyed by the first chunk |
//! | `split@K` at a sample of fine offsets | a long chunk ending inside a name, local group or immediate |
//! | `split@K,L` pairs | a section header cut in two places (off-by-one in the code section's id/size/count); a cut just before and just after a payload start; an empty chunk after the longest possible chunk at a section boundary |
//! | `sections`, `sections-empty` | state lost at a section boundary; an empty read taken for end of stream after a long chunk |
//! | `names`, `locals`, `immediates` | UTF-8 validated per chunk; a cut at each local declaration or immediate |
//! | `names-spaced-64`, ... | the same positions reached by long chunks (decoders that only buffer short chunks) |
//! | `empty-interleaved` | empty chunks everywhere |
//! | `fixed-N` (2..10, 2^k and 2^k±1 up to 64 KiB, 100, 1000) | buffer-size-dependent bugs |
//! | `count-N` | long chunks ending anywhere, independent of absolute sizes |
//! | `random-SEED` | anything else (left out of `deliberate`) |
//!
//! # Cost
//!
//! Fine offsets can be one every byte or two of a code section, so they get
//! no split each: one plan per kind cuts at all of them (a decoder defect
//! that shows at a cut, whatever the other cuts, shows there as well), one
//! cuts at those at least 64 bytes apart (the same with long chunks), and a
//! bounded sample ([`FINE_SPLITS_PER_KIND`]) gets two-chunk splits (a cut
//! after the longest possible chunk). What is given up: a defect that needs
//! a fine offset to be the *only* cut is found at the sampled offsets only;
//! `exhaustive` adds every split. Pairs are bounded by [`MAX_PAIRS`].
//!
//! Then every plan must add coverage ([`Coverage`]): a plan none of whose
//! cuts is at a new (position, context) is dropped. This is what keeps the
//! many fixed sizes and counts cheap on small modules, where most of them
//! land in the same gaps between structural offsets as an earlier plan.

use super::structure::{FineKind, Structure};
use super::ChunkPlan;
use crate::error::Error;
use std::collections::{HashMap, HashSet};
use std::fmt;

/// Fixed chunk sizes: the segment sizes engines and hosts use internally
/// (10/100/1000-byte, 4, 16 and 64 KiB), and every power of two from 16 to
/// 64 KiB with its neighbours, where buffer-size bugs sit.
const FIXED_SIZES: &[usize] = &[
    2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 255, 256,
    257, 511, 512, 513, 1000, 1023, 1024, 1025, 2047, 2048, 2049, 4095, 4096, 4097, 8191, 8192,
    8193, 16383, 16384, 16385, 32767, 32768, 32769, 65535, 65536, 65537,
];
/// The body in N equal chunks (`count-N`).
const CHUNK_COUNTS: &[usize] = &[3, 4, 5, 6, 7, 8, 16, 32];
/// How many seeded random plans the default set has.
const RANDOM_PLANS: u64 = 8;
/// How many fine offsets of each kind get a two-chunk split of their own.
pub const FINE_SPLITS_PER_KIND: usize = 4;
/// The most two-cut plans (`split@K,L`) per body.
pub const MAX_PAIRS: usize = 40;
/// The spacing of the `KIND-spaced-S` plans in the default set: chunks at
/// least this long end inside names, local groups and immediates.
const FINE_SPACING: usize = 64;

/// How many final bytes the `tail-bytes` plan delivers one per chunk: more
/// than the longest LEB128 plus a section id.
const TAIL_BYTES: usize = 16;

pub const PLAN_NAME_FORMS: &str = "`whole`, `one-byte`, `empty-interleaved`, `tail-bytes`, \
`split@K`, `split@K,L` (K <= L), `fixed-N`, `count-N` (N >= 2), `sections`, `sections-empty`, \
`names`, `locals`, `immediates`, `names-spaced-S` (also locals, immediates) or `random-SEED`";

/// A named set of plans, chosen with `--plans` or
/// [`Conformance::plans`](crate::Conformance::plans): which chunkings of
/// each module a run tries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PlanSet {
    /// Whole body, one byte per chunk, two-chunk splits at every coarse
    /// structural offset and a sample of fine ones, pairs, sections, fine
    /// offsets, empty chunks interleaved, fixed sizes, chunk counts, seeded
    /// random plans (see the module comment); plans adding no coverage
    /// dropped.
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
    /// The names [`PlanSet::parse`] accepts, in declaration order.
    pub const NAMES: &'static [&'static str] = &[
        "default",
        "exhaustive",
        "deliberate",
        "reduced",
        "whole",
        "truncation",
    ];

    /// The set of this name (`default`, `reduced`, ...).
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

    /// The set's name, as [`PlanSet::parse`] reads it.
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

    /// The set's plans for `body`, all at once (a run builds each only
    /// when it takes it).
    pub fn plans(self, body: &[u8]) -> Vec<ChunkPlan> {
        self.lazy(body).collect()
    }

    /// The same plans as [`PlanSet::plans`], in the same order, each built
    /// only when it is taken.
    #[doc(hidden)]
    pub fn lazy(self, body: &[u8]) -> LazyPlans {
        self.lazy_for(body, BodyKind::Module)
    }

    /// The set's plans for a body of the given kind. A truncated prefix
    /// asks how the stream ends, not where it is cut, so the sets that
    /// sweep cuts give it the `truncation` plans instead: `deliberate`
    /// without its random plan, `exhaustive` followed by the `reduced`
    /// plans (so that `exhaustive` is a superset of `default` on every case).
    #[doc(hidden)]
    pub fn lazy_for(self, body: &[u8], kind: BodyKind) -> LazyPlans {
        use PlanName::*;
        let n = body.len();
        let truncation = |random: bool| {
            let mut names = vec![Whole, TailBytes, Split(n)];
            names.extend(random.then_some(Random(0)));
            names
        };
        let reduced = vec![Whole, OneByte, EmptyInterleaved, Fixed(7), Random(0)];
        let (names, structure) = match (self, kind) {
            (PlanSet::Whole, _) => (vec![Whole], Structure::coarse(body)),
            (PlanSet::Truncation, _)
            | (PlanSet::Default | PlanSet::Reduced, BodyKind::TruncatedPrefix) => {
                (truncation(true), Structure::coarse(body))
            }
            (PlanSet::Deliberate, BodyKind::TruncatedPrefix) => {
                (truncation(false), Structure::coarse(body))
            }
            (PlanSet::Exhaustive, BodyKind::TruncatedPrefix) => {
                let mut names = truncation(true);
                names.extend(reduced);
                (names, Structure::coarse(body))
            }
            (PlanSet::Reduced, BodyKind::Module) => (reduced, Structure::coarse(body)),
            (PlanSet::Default | PlanSet::Exhaustive | PlanSet::Deliberate, BodyKind::Module) => {
                let structure = Structure::scan(body);
                let random = if self == PlanSet::Deliberate {
                    0
                } else {
                    RANDOM_PLANS
                };
                (deliberate_names(&structure, n, random), structure)
            }
        };
        let every_split = (self == PlanSet::Exhaustive && kind == BodyKind::Module).then_some(0);
        LazyPlans {
            n,
            coverage: Coverage::new(&structure, n),
            structure,
            names: names.into_iter(),
            every_split,
            single_cuts: HashSet::new(),
        }
    }
}

/// What a body is, for [`PlanSet::lazy_for`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    Module,
    /// A valid module cut short (a truncation case).
    TruncatedPrefix,
}

/// The default set's plan names for a body, in order, ending with `random`
/// seeded random plans.
fn deliberate_names(structure: &Structure, n: usize, random: u64) -> Vec<PlanName> {
    use PlanName::*;
    let mut names = vec![Whole, OneByte, TailBytes];
    let mut splits = structure.coarse.clone();
    for kind in FineKind::ALL {
        splits.extend(sample(structure.fine(kind), FINE_SPLITS_PER_KIND));
    }
    splits.sort_unstable();
    splits.dedup();
    names.extend(splits.into_iter().map(Split));
    names.extend(pairs(structure, n).into_iter().map(|(k, l)| Pair(k, l)));
    names.extend([Sections, SectionsEmpty]);
    names.extend(FineKind::ALL.map(Fine));
    names.extend(FineKind::ALL.map(|kind| Spaced(kind, FINE_SPACING)));
    names.push(EmptyInterleaved);
    names.extend(FIXED_SIZES.iter().map(|&size| Fixed(size)));
    names.extend(CHUNK_COUNTS.iter().map(|&count| Count(count)));
    names.extend((0..random).map(Random));
    names
}

/// At most `keep` of `items`, evenly spaced from the first.
fn sample(items: &[usize], keep: usize) -> impl Iterator<Item = usize> + '_ {
    let step = items.len().div_ceil(keep.max(1)).max(1);
    items.iter().step_by(step).copied()
}

/// The two-cut plans where the pair matters, at most [`MAX_PAIRS`], in
/// this order: every pair of cuts inside the code section's header (id,
/// size LEB, function-count LEB); then per section, an empty chunk at its
/// start after everything before it, its header cut after the id and
/// after the first size byte, and cuts just before and just after its
/// payload start.
fn pairs(structure: &Structure, n: usize) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    if let Some((id_at, count_end)) = structure.code_header {
        for k in id_at + 1..=count_end {
            pairs.extend((k + 1..=count_end).map(|l| (k, l)));
        }
        // Over-long LEBs give a code header dozens of pairs: they may take
        // half the budget, so the section-boundary pairs always get theirs.
        pairs.truncate(MAX_PAIRS / 2);
    }
    for section in &structure.sections {
        pairs.push((section.start, section.start));
        pairs.push((section.start + 1, section.start + 2));
        if section.payload < n {
            pairs.push((section.payload - 1, section.payload + 1));
        }
    }
    let mut seen = HashSet::new();
    pairs.retain(|&(k, l)| k <= l && l <= n && seen.insert((k, l)));
    pairs.truncate(MAX_PAIRS);
    pairs
}

/// A set's plans for one body, each built when it is taken: a large body's
/// cut lists (`one-byte` has `n - 1` cuts, `empty-interleaved` `2n`) are
/// never all in memory at once, and a module with hundreds of thousands of
/// structural offsets keeps them as names, not as plans.
///
/// A plan that adds no [`Coverage`] is skipped; `exhaustive`'s final every
/// split is skipped only where a plan with that one cut was given.
#[derive(Debug)]
pub struct LazyPlans {
    n: usize,
    structure: Structure,
    names: std::vec::IntoIter<PlanName>,
    /// `exhaustive`: the next offset of `0..=n` to split at.
    every_split: Option<usize>,
    coverage: Coverage,
    /// The cut of every plan given so far that has exactly one.
    single_cuts: HashSet<usize>,
}

impl Iterator for LazyPlans {
    type Item = ChunkPlan;

    fn next(&mut self) -> Option<ChunkPlan> {
        for name in self.names.by_ref() {
            let plan = name.plan(self.n, &self.structure);
            if self.coverage.add(&plan.cuts) {
                if let [k] = plan.cuts[..] {
                    self.single_cuts.insert(k);
                }
                return Some(plan);
            }
        }
        while let Some(k) = self.every_split.filter(|&k| k <= self.n) {
            self.every_split = Some(k + 1);
            if self.single_cuts.insert(k) {
                return Some(PlanName::Split(k).plan(self.n, &self.structure));
            }
        }
        None
    }
}

/// Which (position, context) points the plans given so far cut at.
///
/// - A *position* is a structural offset (coarse or fine), or the gap
///   strictly between two neighbouring ones: to a decoder, cuts anywhere in
///   one gap are cuts inside the same unit.
/// - The *context* of a cut is the length class of the chunk before it and
///   of the chunk after it: empty, 1, 2-3, 4-7, ..., 64 KiB and more (log2).
///   It tells an empty chunk (read taken for end of stream) from a one-byte
///   one (a LEB split) from a long one (a decoder that only buffers short
///   chunks). The end of the stream is one more point, with the class of
///   the last chunk (read-ahead not flushed).
///
/// Each context keeps a bitset over positions, made when first used.
#[derive(Debug)]
pub struct Coverage {
    offsets: Vec<usize>,
    seen: HashMap<u16, Vec<u64>>,
}

/// Length classes: 0 for empty, then one per power of two up to 64 KiB and
/// more.
const LENGTH_CLASSES: u16 = 19;

fn length_class(len: usize) -> u16 {
    (usize::BITS - len.leading_zeros()).min(u32::from(LENGTH_CLASSES) - 1) as u16
}

impl Coverage {
    pub fn new(structure: &Structure, n: usize) -> Coverage {
        let mut offsets = structure.all_offsets();
        if offsets.first() != Some(&0) {
            offsets.insert(0, 0);
        }
        offsets.retain(|&o| o <= n);
        Coverage {
            offsets,
            seen: HashMap::new(),
        }
    }

    /// The points of a plan with these cuts, as (context, position).
    fn points<'a>(&'a self, cuts: &'a [usize]) -> impl Iterator<Item = (u16, usize)> + 'a {
        let n = *self.offsets.last().unwrap_or(&0);
        let boundary = move |i: usize| match i {
            0 => 0,
            i if i > cuts.len() => n,
            i => cuts[i - 1],
        };
        let cut_points = (1..=cuts.len()).map(move |i| {
            let (before, at, after) = (boundary(i - 1), boundary(i), boundary(i + 1));
            let context = length_class(at - before) * LENGTH_CLASSES + length_class(after - at);
            let position = match self.offsets.binary_search(&at) {
                Ok(exact) => 2 * exact,
                Err(next) => 2 * next - 1,
            };
            (context, position)
        });
        let last = n - boundary(cuts.len());
        let end = (LENGTH_CLASSES * LENGTH_CLASSES + length_class(last), 0);
        cut_points.chain(std::iter::once(end))
    }

    /// Records a plan's points; whether any was new.
    pub fn add(&mut self, cuts: &[usize]) -> bool {
        let new = self.points(cuts).any(|(context, position)| {
            self.seen
                .get(&context)
                .is_none_or(|bits| bits[position / 64] & (1 << (position % 64)) == 0)
        });
        if new {
            let words = (2 * self.offsets.len()).div_ceil(64);
            let points: Vec<(u16, usize)> = self.points(cuts).collect();
            for (context, position) in points {
                let bits = self.seen.entry(context).or_insert_with(|| vec![0; words]);
                bits[position / 64] |= 1 << (position % 64);
            }
        }
        new
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
    /// Two cuts, `K <= L` (equal: an empty chunk at `K`).
    Pair(usize, usize),
    Fixed(usize),
    /// The body in N chunks of equal length (±1).
    Count(usize),
    /// The header, then each section in a chunk of its own.
    Sections,
    /// `Sections` with an empty chunk after every chunk but the last.
    SectionsEmpty,
    /// A cut at every fine offset of the kind.
    Fine(FineKind),
    /// A cut at each fine offset of the kind that lies at least S bytes
    /// after the previous cut.
    Spaced(FineKind, usize),
    Random(u64),
}

impl fmt::Display for PlanName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanName::Whole => write!(f, "whole"),
            PlanName::OneByte => write!(f, "one-byte"),
            PlanName::EmptyInterleaved => write!(f, "empty-interleaved"),
            PlanName::TailBytes => write!(f, "tail-bytes"),
            PlanName::Split(k) => write!(f, "split@{k}"),
            PlanName::Pair(k, l) => write!(f, "split@{k},{l}"),
            PlanName::Fixed(size) => write!(f, "fixed-{size}"),
            PlanName::Count(count) => write!(f, "count-{count}"),
            PlanName::Sections => write!(f, "sections"),
            PlanName::SectionsEmpty => write!(f, "sections-empty"),
            PlanName::Fine(kind) => write!(f, "{}", kind.name()),
            PlanName::Spaced(kind, spacing) => write!(f, "{}-spaced-{spacing}", kind.name()),
            PlanName::Random(seed) => write!(f, "random-{seed}"),
        }
    }
}

impl PlanName {
    /// Parses one of [`PLAN_NAME_FORMS`].
    pub fn parse(name: &str) -> Result<PlanName, Error> {
        let unknown = || Error::UnknownPlan {
            name: name.to_string(),
            expected: format!("a plan name: {PLAN_NAME_FORMS}"),
        };
        let number = |text: &str| text.parse::<u64>().map_err(|_| unknown());
        let positive = |text: &str| match number(text)? {
            0 => Err(unknown()),
            value => Ok(value as usize),
        };
        if let Some(kind) = FineKind::parse(name) {
            return Ok(PlanName::Fine(kind));
        }
        Ok(match name {
            "whole" => PlanName::Whole,
            "one-byte" => PlanName::OneByte,
            "empty-interleaved" => PlanName::EmptyInterleaved,
            "tail-bytes" => PlanName::TailBytes,
            "sections" => PlanName::Sections,
            "sections-empty" => PlanName::SectionsEmpty,
            _ => {
                if let Some(cuts) = name.strip_prefix("split@") {
                    match cuts.split_once(',') {
                        None => PlanName::Split(number(cuts)? as usize),
                        Some((k, l)) => {
                            let (k, l) = (number(k)? as usize, number(l)? as usize);
                            if k > l {
                                return Err(unknown());
                            }
                            PlanName::Pair(k, l)
                        }
                    }
                } else if let Some(size) = name.strip_prefix("fixed-") {
                    PlanName::Fixed(positive(size)?)
                } else if let Some(count) = name.strip_prefix("count-") {
                    match positive(count)? {
                        1 => return Err(unknown()),
                        count => PlanName::Count(count),
                    }
                } else if let Some(seed) = name.strip_prefix("random-") {
                    PlanName::Random(number(seed)?)
                } else if let Some((kind, spacing)) = name.split_once("-spaced-") {
                    let kind = FineKind::parse(kind).ok_or_else(unknown)?;
                    PlanName::Spaced(kind, positive(spacing)?)
                } else {
                    return Err(unknown());
                }
            }
        })
    }

    /// Whether the plan depends on the body's structure, not only its length.
    fn needs_structure(self) -> bool {
        matches!(
            self,
            PlanName::Sections | PlanName::SectionsEmpty | PlanName::Fine(_) | PlanName::Spaced(..)
        )
    }

    /// The plan for `body`; only cuts past the end fail.
    pub fn build(self, body: &[u8]) -> Result<ChunkPlan, Error> {
        let n = body.len();
        match self {
            PlanName::Split(k) => ChunkPlan::from_cuts(self.to_string(), vec![k], n),
            PlanName::Pair(k, l) => ChunkPlan::from_cuts(self.to_string(), vec![k, l], n),
            // A count from the command line must not allocate without bound.
            PlanName::Count(count) if count > super::MAX_CUTS => Err(Error::InvalidCuts {
                text: self.to_string(),
                message: format!("more than {} chunks; no body is that long", super::MAX_CUTS),
            }),
            other if other.needs_structure() => Ok(other.plan(n, &Structure::scan(body))),
            other => Ok(other.plan(n, &Structure::default())),
        }
    }

    /// [`PlanName::build`] for a name known to fit (the sets' own plans),
    /// with the body's structure already scanned (`Structure::scan` where
    /// [`PlanName::needs_structure`]).
    fn plan(self, n: usize, structure: &Structure) -> ChunkPlan {
        let cuts = match self {
            PlanName::Whole => vec![],
            PlanName::OneByte => (1..n).collect(),
            PlanName::EmptyInterleaved => empty_interleaved(n),
            PlanName::TailBytes => (n.saturating_sub(TAIL_BYTES).max(1)..n).collect(),
            PlanName::Split(k) => vec![k],
            PlanName::Pair(k, l) => vec![k, l],
            PlanName::Fixed(size) => (size..n).step_by(size).collect(),
            PlanName::Count(count) => (1..count).map(|i| i * n / count).collect(),
            PlanName::Sections => section_starts(structure, n).collect(),
            PlanName::SectionsEmpty => section_starts(structure, n).flat_map(|k| [k, k]).collect(),
            PlanName::Fine(kind) => structure.fine(kind).to_vec(),
            PlanName::Spaced(kind, spacing) => {
                let mut cuts: Vec<usize> = Vec::new();
                for &k in structure.fine(kind) {
                    if k >= cuts.last().map_or(0, |&last| last) + spacing {
                        cuts.push(k);
                    }
                }
                cuts
            }
            PlanName::Random(seed) => random(seed, n),
        };
        ChunkPlan {
            name: self.to_string(),
            cuts,
        }
    }
}

/// The header's end and each later section's start, inside the body: the
/// boundaries between the chunks of `sections`.
fn section_starts(structure: &Structure, n: usize) -> impl Iterator<Item = usize> + '_ {
    structure
        .sections
        .iter()
        .map(|s| s.start)
        .filter(move |&k| k > 0 && k < n)
}

/// Rebuilds one plan from its name (see [`PLAN_NAME_FORMS`]) for `body`.
pub fn plan_by_name(name: &str, body: &[u8]) -> Result<ChunkPlan, Error> {
    PlanName::parse(name)?.build(body)
}

/// An empty chunk first, last, and between every pair of one-byte chunks.
fn empty_interleaved(n: usize) -> Vec<usize> {
    let mut cuts = Vec::with_capacity(2 * n + 1);
    cuts.push(0);
    for k in 1..n {
        cuts.extend([k, k]);
    }
    cuts.push(n);
    cuts
}

/// Between 1 and 16 cuts at uniformly random offsets in `0..=n`, repeats
/// allowed (so empty chunks happen). The stream depends only on the seed
/// and `n`, never on anything else in the run.
fn random(seed: u64, n: usize) -> Vec<usize> {
    let mut rng = SplitMix64(seed ^ (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let count = 1 + (rng.next() % 16) as usize;
    let mut cuts: Vec<usize> = (0..count)
        .map(|_| (rng.next() % (n as u64 + 1)) as usize)
        .collect();
    cuts.sort_unstable();
    cuts
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
    use crate::plan::structure::tests::fine_module;

    const MODULE: &[u8] =
        b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0\x03\x02\x01\0\x0a\x04\x01\x02\0\x0b";

    /// Bodies of many shapes: every prefix of two modules.
    fn bodies() -> Vec<Vec<u8>> {
        let fine = fine_module();
        let mut bodies: Vec<Vec<u8>> = (0..=fine.len()).map(|n| fine[..n].to_vec()).collect();
        bodies.extend((0..=MODULE.len()).map(|n| MODULE[..n].to_vec()));
        bodies
    }

    /// A module padded past 64 KiB, where fixed plans have one or two cuts.
    fn large_body() -> Vec<u8> {
        let mut m = fine_module();
        m.resize(70_000, 0);
        m
    }

    /// The coverage points of a plan, computed naively (a linear search
    /// for the position), to check the bitsets against.
    fn naive_points(offsets: &[usize], n: usize, cuts: &[usize]) -> Vec<(u16, usize)> {
        let class = |len: usize| -> u16 {
            let mut class = 0;
            while class < LENGTH_CLASSES - 1 && len >= 1 << class {
                class += 1;
            }
            class
        };
        let mut bounds = vec![0];
        bounds.extend_from_slice(cuts);
        bounds.push(n);
        let mut points = Vec::new();
        for i in 1..bounds.len() - 1 {
            let at = bounds[i];
            let position = match offsets.iter().position(|&o| o == at) {
                Some(exact) => 2 * exact,
                None => 2 * offsets.iter().filter(|&&o| o < at).count() - 1,
            };
            let context = class(at - bounds[i - 1]) * LENGTH_CLASSES + class(bounds[i + 1] - at);
            points.push((context, position));
        }
        points.push((
            LENGTH_CLASSES * LENGTH_CLASSES + class(n - bounds[bounds.len() - 2]),
            0,
        ));
        points
    }

    /// A set's plans built eagerly: every candidate, then those adding no
    /// naive coverage dropped, then `exhaustive`'s every split.
    fn eager(set: PlanSet, body: &[u8], kind: BodyKind) -> Vec<ChunkPlan> {
        use PlanName::*;
        let n = body.len();
        let structure = match (set, kind) {
            (PlanSet::Default | PlanSet::Exhaustive | PlanSet::Deliberate, BodyKind::Module) => {
                Structure::scan(body)
            }
            _ => Structure::coarse(body),
        };
        let truncated = kind == BodyKind::TruncatedPrefix;
        let names: Vec<PlanName> = match set {
            PlanSet::Whole => vec![Whole],
            PlanSet::Truncation => vec![Whole, TailBytes, Split(n), Random(0)],
            PlanSet::Default | PlanSet::Reduced if truncated => {
                vec![Whole, TailBytes, Split(n), Random(0)]
            }
            PlanSet::Deliberate if truncated => vec![Whole, TailBytes, Split(n)],
            PlanSet::Exhaustive if truncated => vec![
                Whole,
                TailBytes,
                Split(n),
                Random(0),
                Whole,
                OneByte,
                EmptyInterleaved,
                Fixed(7),
                Random(0),
            ],
            PlanSet::Reduced => vec![Whole, OneByte, EmptyInterleaved, Fixed(7), Random(0)],
            PlanSet::Deliberate => deliberate_names(&structure, n, 0),
            PlanSet::Default | PlanSet::Exhaustive => deliberate_names(&structure, n, RANDOM_PLANS),
        };
        let mut offsets = structure.all_offsets();
        if offsets.first() != Some(&0) {
            offsets.insert(0, 0);
        }
        let mut covered = HashSet::new();
        let mut plans: Vec<ChunkPlan> = Vec::new();
        for name in names {
            let plan = name.plan(n, &structure);
            let points = naive_points(&offsets, n, &plan.cuts);
            if points.iter().any(|p| !covered.contains(p)) {
                covered.extend(points);
                plans.push(plan);
            }
        }
        if set == PlanSet::Exhaustive && !truncated {
            for k in 0..=n {
                if !plans.iter().any(|p| p.cuts == [k]) {
                    plans.push(split_plan(k));
                }
            }
        }
        plans
    }

    fn split_plan(k: usize) -> ChunkPlan {
        PlanName::Split(k).plan(0, &Structure::default())
    }

    fn kinds() -> [BodyKind; 2] {
        [BodyKind::Module, BodyKind::TruncatedPrefix]
    }

    #[test]
    fn lazy_sets_give_the_eager_plans_in_the_same_order() {
        for body in &bodies() {
            for &name in PlanSet::NAMES {
                let set = PlanSet::parse(name).unwrap();
                for kind in kinds() {
                    assert_eq!(
                        set.lazy_for(body, kind).collect::<Vec<_>>(),
                        eager(set, body, kind),
                        "{name} on {} bytes ({kind:?})",
                        body.len()
                    );
                }
            }
        }
    }

    #[test]
    fn every_plan_adds_coverage_and_redundant_plans_are_dropped() {
        // What a plan covers is checked against the naive model above; here:
        // the dedupe drops something on real shapes, and never a kind.
        let fine = fine_module();
        let kept = PlanSet::Deliberate.plans(&fine);
        let structure = Structure::scan(&fine);
        let candidates = deliberate_names(&structure, fine.len(), 0);
        assert!(kept.len() < candidates.len(), "nothing dropped");
        let mut coverage = Coverage::new(&structure, fine.len());
        for plan in &kept {
            assert!(coverage.add(&plan.cuts), "{} adds nothing", plan.name);
        }
        for plan in &kept {
            assert!(!coverage.add(&plan.cuts), "{} added twice", plan.name);
        }
    }

    #[test]
    fn exhaustive_is_a_superset_of_default_on_every_body_and_truncation() {
        for body in bodies().into_iter().chain([large_body()]) {
            for kind in kinds() {
                // By name: a name determines the cuts on a given body.
                let exhaustive: HashMap<String, Vec<usize>> = PlanSet::Exhaustive
                    .lazy_for(&body, kind)
                    .map(|p| (p.name, p.cuts))
                    .collect();
                for set in [PlanSet::Default, PlanSet::Deliberate] {
                    for plan in set.lazy_for(&body, kind) {
                        assert!(
                            exhaustive.get(&plan.name) == Some(&plan.cuts),
                            "{} of {} missing from exhaustive on {} bytes ({kind:?})",
                            plan.name,
                            set.name(),
                            body.len()
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn deliberate_is_default_without_random_plans() {
        for body in &bodies() {
            for kind in kinds() {
                let default: Vec<ChunkPlan> = PlanSet::Default
                    .lazy_for(body, kind)
                    .filter(|p| !p.name.starts_with("random-"))
                    .collect();
                let deliberate: Vec<ChunkPlan> = PlanSet::Deliberate.lazy_for(body, kind).collect();
                assert_eq!(deliberate, default, "{} bytes ({kind:?})", body.len());
            }
        }
    }

    #[test]
    fn every_plan_in_a_set_rebuilds_from_its_name() {
        for body in &bodies() {
            for &set in PlanSet::NAMES {
                let set = PlanSet::parse(set).unwrap();
                for kind in kinds() {
                    for plan in set.lazy_for(body, kind) {
                        assert_eq!(
                            plan_by_name(&plan.name, body).unwrap(),
                            plan,
                            "{} on {} bytes",
                            set.name(),
                            body.len()
                        );
                        assert_eq!(PlanName::parse(&plan.name).unwrap().to_string(), plan.name);
                    }
                }
            }
        }
    }

    /// The chunks of a plan as (start, end) ranges.
    fn chunk_ranges(plan: &ChunkPlan, n: usize) -> Vec<(usize, usize)> {
        let mut bounds = vec![0];
        bounds.extend_from_slice(&plan.cuts);
        bounds.push(n);
        bounds.windows(2).map(|w| (w[0], w[1])).collect()
    }

    #[test]
    fn the_deliberate_set_hits_each_bug_class_by_design() {
        let m = fine_module();
        let n = m.len();
        let plans = PlanSet::Deliberate.plans(&m);
        let has = |what: &str, pred: &dyn Fn(&ChunkPlan) -> bool| {
            assert!(plans.iter().any(pred), "no plan {what}");
        };
        // UTF-8 validated per chunk: a cut between é's bytes (19..21).
        has("cuts inside é", &|p| p.cuts.contains(&20));
        // ... also after a long chunk.
        has("cuts inside é after a long chunk", &|p| {
            chunk_ranges(p, n)
                .iter()
                .any(|&(a, b)| b == 20 && b - a >= 16)
        });
        // Local groups and immediates (memory.fill's sub-opcode, v128.const).
        for k in [46, 48, 50, 57, 58, 61] {
            has(&format!("cuts at fine offset {k}"), &|p| {
                p.cuts.contains(&k)
            });
        }
        // Off-by-one in the code section header: split in two places.
        has("cuts the code header twice", &|p| {
            p.cuts == [42, 43] || p.cuts == [42, 44]
        });
        // An empty read at every section boundary after a long chunk.
        for section in Structure::scan(&m).sections {
            let b = section.start;
            has(&format!("an empty chunk at {b} after a long chunk"), &|p| {
                let chunks = chunk_ranges(p, n);
                chunks
                    .windows(2)
                    .any(|w| w[0].1 == b && w[0].1 - w[0].0 >= 8 && w[1].0 == w[1].1)
            });
        }
        // The sections themselves as chunks.
        has("with the sections as chunks", &|p| p.name == "sections");
        // Sizes around powers of two and equal chunk counts.
        for size in [15, 16, 17, 31, 32, 33, 63, 64] {
            has(&format!("fixed-{size}"), &|p| {
                p.name == format!("fixed-{size}")
            });
        }
        for count in [3, 4, 5] {
            has(&format!("count-{count}"), &|p| {
                p.name == format!("count-{count}")
            });
        }
        assert!(plans.iter().all(|p| !p.name.starts_with("random-")));
    }

    #[test]
    fn pairs_are_bounded() {
        // A module of many custom sections: one pair list per section.
        let mut m = MODULE.to_vec();
        for _ in 0..200 {
            m.extend([0, 2, 1, b'c']);
        }
        let pairs = PlanSet::Default
            .plans(&m)
            .into_iter()
            .filter(|p| p.cuts.len() == 2 && p.name.contains(','))
            .count();
        assert!((1..=MAX_PAIRS).contains(&pairs), "{pairs}");
    }

    #[test]
    fn fine_offsets_get_a_bounded_number_of_splits() {
        // 3,000 v128.const in one body: thousands of immediate offsets, but
        // only a sample of two-chunk splits beyond the coarse ones.
        let mut body = vec![0u8]; // no locals
        for _ in 0..3000 {
            body.extend([0xfd, 12]);
            body.extend([0; 16]);
            body.push(0x1a);
        }
        body.push(0x0b);
        let mut m = MODULE[..18].to_vec(); // header, type, function sections
        let mut code = vec![1];
        wasm_encoder::Encode::encode(&(body.len() as u32), &mut code);
        code.extend(&body);
        m.push(10);
        wasm_encoder::Encode::encode(&(code.len() as u32), &mut m);
        m.extend(code);
        let structure = Structure::scan(&m);
        assert!(structure.immediates.len() > 10_000);
        let splits = PlanSet::Default
            .plans(&m)
            .into_iter()
            .filter(|p| p.cuts.len() == 1 && p.name.starts_with("split@"))
            .count();
        assert!(
            splits <= structure.coarse.len() + 3 * FINE_SPLITS_PER_KIND,
            "{splits}"
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
        assert_ne!(random(3, 100), random(4, 100));
        assert!(random(5, 10).iter().all(|&c| c <= 10));
    }

    #[test]
    fn plan_names_parse_and_reject_what_they_should() {
        for (name, parsed) in [
            ("split@3,7", PlanName::Pair(3, 7)),
            ("split@4,4", PlanName::Pair(4, 4)),
            ("count-3", PlanName::Count(3)),
            ("sections-empty", PlanName::SectionsEmpty),
            ("names", PlanName::Fine(FineKind::Names)),
            (
                "immediates-spaced-64",
                PlanName::Spaced(FineKind::Immediates, 64),
            ),
        ] {
            assert_eq!(PlanName::parse(name).unwrap(), parsed);
            assert_eq!(parsed.to_string(), name);
        }
        for bad in [
            "split@7,3",
            "count-1",
            "count-0",
            "names-spaced-0",
            "bytes-spaced-4",
        ] {
            assert!(PlanName::parse(bad).is_err(), "{bad}");
        }
        assert!(plan_by_name("split@3,999", MODULE).is_err());
    }

    #[test]
    fn unknown_names_list_the_accepted_forms() {
        let err = plan_by_name("sliced", MODULE).unwrap_err().to_string();
        assert!(
            err.contains("split@K,L") && err.contains("count-N"),
            "{err}"
        );
        let err = PlanSet::parse("fast").unwrap_err().to_string();
        assert!(err.contains("default, exhaustive"), "{err}");
        assert!(plan_by_name("fixed-0", MODULE).is_err());
        assert!(plan_by_name("split@999", MODULE).is_err());
        let err = plan_by_name("count-99999999999", MODULE).unwrap_err();
        assert!(err.to_string().contains("chunks"), "{err}");
    }
}
