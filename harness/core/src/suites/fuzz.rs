//! The `fuzz:SEED` suite: modules generated deterministically from a seed
//! and an index, so a case id regenerates its module.
//!
//! Module `I` of seed `S` is made by wasm-smith from a byte stream that
//! depends on `(S, I)` only (xxh64 in counter mode), so the case id
//! `fuzz:S/I` names the same bytes in every run of this build (wasm-smith
//! is pinned by Cargo.lock), and `--case fuzz:S/I` regenerates that one
//! module without the others. About one module in three is then mutated
//! at the byte level into an invalid or malformed one.
//!
//! The expected outcome of a case is the reference's one-shot validation
//! (wasmparser) under the case's features: `Module` or `CompileError`.
//!
//! Proposals: the suite generates every proposal wasm-smith can generate
//! except those named `without=` (what a backend of the run lacks), and
//! its cases' [`Features`] enable exactly the generated ones (on a
//! WebAssembly 1.0 base), so a backend turns on its switches for them. A
//! mutated module is kept only if its validity does not depend on a
//! proposal outside that set (it validates the same way with every
//! proposal on): a finding is then never just "this engine has proposal X
//! on by default".
//!
//! Grammar of the `--suite` argument: `fuzz:SEED[:COUNT][:without=P+Q...]`.
//! COUNT (default [`DEFAULT_COUNT`]) is how many modules a whole load
//! yields; a case id names its module in the seed's endless sequence,
//! whatever the count.

use super::{CaseSource, Limits, LoadedSuite};
use crate::case::{Case, CaseOrigin};
use crate::error::Error;
use crate::features::{Features, SpecVersion, KNOWN_FEATURES};
use crate::outcome::OutcomeClass;
use arbitrary::{Arbitrary, Unstructured};
use std::collections::BTreeSet;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use wasm_smith::Config;

/// Modules a `fuzz:SEED` suite yields when loaded whole without a count.
pub const DEFAULT_COUNT: u64 = 100;

/// The proposals wasm-smith generates, by testsuite directory name, and
/// the `wasm_smith::Config` field that switches each on (see
/// `switch_proposal`). Not here: `mutable-global` (always generated,
/// wasm-smith has no switch), `legacy-exceptions`, `stack-switching` and
/// `annotations` (never generated); wasm-smith's compact imports,
/// acquire-release atomics and multibyte array access are no testsuite
/// proposal this harness knows and stay off.
pub const GENERATED_PROPOSALS: &[(&str, &str)] = &[
    ("bulk-memory", "bulk_memory_enabled"),
    ("custom-descriptors", "custom_descriptors_enabled"),
    ("custom-page-sizes", "custom_page_sizes_enabled"),
    ("exceptions", "exceptions_enabled"),
    ("extended-const", "extended_const_enabled"),
    // wasm-smith has one switch for typed function references and GC.
    ("function-references", "gc_enabled"),
    ("gc", "gc_enabled"),
    ("memory64", "memory64_enabled"),
    ("multi-memory", "max_memories (> 1)"),
    ("multi-value", "multi_value_enabled"),
    (
        "nontrapping-float-to-int-conversions",
        "saturating_float_to_int_enabled",
    ),
    ("reference-types", "reference_types_enabled"),
    ("relaxed-simd", "relaxed_simd_enabled"),
    (
        "shared-everything-threads",
        "shared_everything_threads_enabled",
    ),
    ("sign-extension-ops", "sign_extension_ops_enabled"),
    ("simd", "simd_enabled"),
    ("tail-call", "tail_call_enabled"),
    ("threads", "threads_enabled"),
    ("wide-arithmetic", "wide_arithmetic_enabled"),
];

/// `Err` with the choices unless `name` is one of [`GENERATED_PROPOSALS`].
pub fn check_generated(name: &str) -> Result<(), String> {
    if GENERATED_PROPOSALS.iter().any(|(g, _)| *g == name) {
        return Ok(());
    }
    let names: Vec<&str> = GENERATED_PROPOSALS.iter().map(|(p, _)| *p).collect();
    Err(format!(
        "{name:?} is no proposal the generator makes; expected some of {}",
        names.join(", ")
    ))
}

/// One seed's sequence of generated modules, minus the proposals some
/// backend lacks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuzzSuite {
    pub seed: u64,
    /// Modules a whole load yields (indices `0..count`).
    pub count: u64,
    /// Generated proposals left out (names from [`GENERATED_PROPOSALS`]).
    pub without: BTreeSet<String>,
}

impl FuzzSuite {
    /// A suite of `count` modules of `seed` that use none of `lacking`
    /// (any proposal names; those wasm-smith never generates are ignored).
    pub fn new<'a>(seed: u64, count: u64, lacking: impl IntoIterator<Item = &'a str>) -> FuzzSuite {
        let mut without: BTreeSet<String> = lacking
            .into_iter()
            .filter(|p| GENERATED_PROPOSALS.iter().any(|(g, _)| g == p))
            .map(str::to_string)
            .collect();
        // One switch: without either, neither is generated.
        if without.contains("gc") || without.contains("function-references") {
            without.extend(["gc".to_string(), "function-references".to_string()]);
        }
        FuzzSuite {
            seed,
            count,
            without,
        }
    }

    /// Parses `fuzz:SEED[:COUNT][:without=P+Q]`; `Ok(None)` when `argument`
    /// is no fuzz suite at all.
    pub fn parse(argument: &str) -> Result<Option<FuzzSuite>, Error> {
        let Some(rest) = argument.strip_prefix("fuzz:") else {
            return Ok(None);
        };
        let invalid = |message: String| Error::InvalidFuzzSuite {
            argument: argument.to_string(),
            message,
        };
        let mut parts = rest.split(':');
        let seed = parts.next().unwrap_or_default();
        let seed: u64 = seed
            .parse()
            .map_err(|_| invalid(format!("the seed {seed:?} is not a number")))?;
        let mut count = None;
        let mut without = None;
        for part in parts {
            if let Some(list) = part.strip_prefix("without=") {
                if without.is_some() {
                    return Err(invalid("`without=` is given twice".into()));
                }
                let names: Vec<&str> = list.split('+').filter(|p| !p.is_empty()).collect();
                for name in &names {
                    check_generated(name).map_err(invalid)?;
                }
                without = Some(names);
            } else if count.is_none() && without.is_none() {
                let n: u64 = part
                    .parse()
                    .map_err(|_| invalid(format!("the count {part:?} is not a number")))?;
                if n == 0 {
                    return Err(invalid("a count of 0 yields no case".into()));
                }
                count = Some(n);
            } else {
                return Err(invalid(format!("unexpected part {part:?}")));
            }
        }
        Ok(Some(FuzzSuite::new(
            seed,
            count.unwrap_or(DEFAULT_COUNT),
            without.unwrap_or_default(),
        )))
    }

    /// The prefix of its case ids, and the `--suite` argument that
    /// regenerates any of them: `fuzz:SEED` or `fuzz:SEED:without=P+Q`.
    pub fn name(&self) -> String {
        let mut name = format!("fuzz:{}", self.seed);
        if !self.without.is_empty() {
            let list: Vec<&str> = self.without.iter().map(String::as_str).collect();
            name.push_str(&format!(":without={}", list.join("+")));
        }
        name
    }

    /// The `--suite` argument that loads the same cases again.
    pub fn argument(&self) -> String {
        let name = self.name();
        let (head, tail) = name.split_at(format!("fuzz:{}", self.seed).len());
        if self.count == DEFAULT_COUNT {
            name
        } else {
            format!("{head}:{}{tail}", self.count)
        }
    }

    /// The id of module `index`.
    pub fn case_id(&self, index: u64) -> String {
        format!("{}/{index}", self.name())
    }

    /// The index a case id of this suite names (a truncated prefix's id
    /// names its parent's), if it is one.
    pub fn index_of(&self, id: &str) -> Option<u64> {
        let rest = id.strip_prefix(&self.name())?.strip_prefix('/')?;
        let index = rest.split('/').next()?;
        index.parse().ok()
    }

    /// The proposals the generated modules may use: what every case enables.
    pub fn proposals(&self) -> BTreeSet<String> {
        GENERATED_PROPOSALS
            .iter()
            .map(|(p, _)| p.to_string())
            .filter(|p| !self.without.contains(p))
            .collect()
    }

    /// The features of every case: a WebAssembly 1.0 base (plus
    /// `mutable-global`, which wasm-smith always generates) and the
    /// generated proposals.
    pub fn features(&self) -> Features {
        Features::new(SpecVersion::Wasm1, self.proposals())
            .expect("generated proposals are known features")
    }

    /// Module `index`: deterministic in (seed, index, without).
    pub fn generate(&self, index: u64) -> Generated {
        let features = self.features();
        let bytes = self.generate_valid(index);
        if self.mutates(index) {
            let everything = Features::new(SpecVersion::Wasm3, KNOWN_FEATURES.iter().copied())
                .expect("known features");
            for attempt in 0..MUTATION_ATTEMPTS {
                let data = stream(self.seed, index, "mutation", attempt, 64);
                let mut u = Unstructured::new(&data);
                let (mutated, applied) = mutate(&bytes, &mut u);
                let valid = features.validates(&mutated);
                // Its validity must not hinge on a proposal left out.
                if !valid && !everything.validates(&mutated) {
                    return Generated {
                        bytes: mutated,
                        mutation: Some(applied.join(", ")),
                        expected: OutcomeClass::CompileError,
                    };
                }
            }
        }
        let expected = if features.validates(&bytes) {
            OutcomeClass::Module
        } else {
            OutcomeClass::CompileError
        };
        Generated {
            bytes,
            mutation: None,
            expected,
        }
    }

    /// About one index in three is mutated.
    fn mutates(&self, index: u64) -> bool {
        let draw = stream(self.seed, index, "mutate?", 0, 8);
        u64::from_le_bytes(draw.try_into().expect("8 bytes")) % 3 == 0
    }

    /// wasm-smith's module for `index`: a config drawn from the stream
    /// (limits, instruction kinds, LEB widths, custom sections), with the
    /// suite's proposals decided by coin flips, then the module.
    fn generate_valid(&self, index: u64) -> Vec<u8> {
        let allowed = self.proposals();
        for attempt in 0..GENERATION_ATTEMPTS {
            let size = stream(self.seed, index, "size", attempt, 2);
            let len = 1024 + usize::from(u16::from_le_bytes([size[0], size[1]])) % 15360;
            let data = stream(self.seed, index, "module", attempt, len);
            let mut u = Unstructured::new(&data);
            let Ok(config) = config_for(&mut u, &allowed) else {
                continue;
            };
            if let Ok(module) = wasm_smith::Module::new(config, &mut u) {
                return module.to_bytes();
            }
        }
        // wasm-smith failed every attempt (not seen in practice): the
        // smallest module, still the same for this index every time.
        b"\0asm\x01\0\0\0".to_vec()
    }

    /// The case of module `index`.
    pub fn case(&self, index: u64, features: &Arc<Features>) -> Case {
        let generated = self.generate(index);
        Case {
            id: self.case_id(index),
            suite: self.name(),
            group: if generated.mutation.is_some() {
                "mutated".into()
            } else {
                "generated".into()
            },
            // Treated like a module-bearing directive: a valid one yields
            // truncated prefixes when truncation is on.
            origin: CaseOrigin::Directive,
            bytes: generated.bytes.into(),
            expected: generated.expected.into(),
            features: features.clone(),
            scenario: None,
            function: Default::default(),
            imports: Default::default(),
        }
    }
}

impl fmt::Display for FuzzSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.argument())
    }
}

/// Tries per index before giving up on wasm-smith or on a mutation.
const GENERATION_ATTEMPTS: u32 = 8;
const MUTATION_ATTEMPTS: u32 = 8;

/// One generated module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generated {
    pub bytes: Vec<u8>,
    /// The byte-level mutations applied, if the module was mutated.
    pub mutation: Option<String>,
    /// The reference's one-shot validation under the suite's features.
    pub expected: OutcomeClass,
}

impl CaseSource for FuzzSuite {
    fn name(&self) -> String {
        FuzzSuite::name(self)
    }

    /// `only_file` is a case id's file part (see
    /// [`super::file_of_case_id`]): for this suite, the module's own id,
    /// so exactly that module is generated.
    fn load(&self, only_file: Option<&str>, limits: &Limits) -> LoadedSuite {
        let features = Arc::new(self.features());
        let indices: Vec<u64> = match only_file {
            Some(file) => self.index_of(file).into_iter().collect(),
            None => (0..self.count).collect(),
        };
        super::parse_in_parallel(&indices, |&index| {
            let case = self.case(index, &features);
            if case.bytes.len() > limits.max_module_bytes {
                return LoadedSuite {
                    errors: vec![Error::ModuleTooLarge {
                        file: case.id.clone(),
                        line: 0,
                        len: case.bytes.len(),
                        limit: limits.max_module_bytes,
                    }],
                    ..LoadedSuite::default()
                };
            }
            LoadedSuite {
                cases: vec![case],
                ..LoadedSuite::default()
            }
        })
    }
}

/// `len` bytes that depend only on (seed, index, purpose, attempt): xxh64
/// in counter mode (a maintained hash, fixed forever, so ids stay stable).
fn stream(seed: u64, index: u64, purpose: &str, attempt: u32, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    let mut block = 0u64;
    while out.len() < len {
        let mut key = Vec::with_capacity(20 + purpose.len());
        key.extend_from_slice(&index.to_le_bytes());
        key.extend_from_slice(&attempt.to_le_bytes());
        key.extend_from_slice(&block.to_le_bytes());
        key.extend_from_slice(purpose.as_bytes());
        out.extend_from_slice(&xxhash_rust::xxh64::xxh64(&key, seed).to_le_bytes());
        block += 1;
    }
    out.truncate(len);
    out
}

/// A wasm-smith config drawn from `u`, with each allowed proposal on by a
/// coin flip and the others off, within the JS API's implementation limits
/// (an engine may reject a module beyond them with a CompileError).
fn config_for(u: &mut Unstructured<'_>, allowed: &BTreeSet<String>) -> arbitrary::Result<Config> {
    // wasm-smith's defaults (up to 100 types, functions, instructions per
    // body...), not `Config::arbitrary`: its limits are often 0 and most
    // of its modules then have no code section, where streaming decoders
    // do most of their work. Drawn here: LEB widths (overlong encodings
    // move every boundary), memories, custom sections.
    let mut config = Config {
        // Imported functions count towards `min_funcs`: few imports, so
        // that most modules define functions (and have a code section);
        // without a type there is no function at all.
        min_funcs: 1,
        min_types: 1,
        max_imports: u.int_in_range(0..=4)?,
        min_uleb_size: u.int_in_range(1..=5)?,
        max_memories: u.int_in_range(1..=4)?,
        max_tables: u.int_in_range(1..=4)?,
        max_nesting_depth: u.int_in_range(1..=10)?,
        disallow_traps: bool::arbitrary(u)?,
        ..Config::default()
    };
    for (proposal, _) in GENERATED_PROPOSALS {
        let on = allowed.contains(*proposal) && bool::arbitrary(u)?;
        switch_proposal(&mut config, proposal, on);
    }
    // Both names share gc_enabled: on only if both are allowed.
    config.gc_enabled &= allowed.contains("gc") && allowed.contains("function-references");
    config.compact_imports_enabled = false;
    config.acquire_release_atomics_enabled = false;
    config.multibyte_array_access_enabled = false;
    config.generate_custom_sections = bool::arbitrary(u)?;
    // JS API limits: 65536 pages of a 32-bit memory (4 GiB, wasm-smith's
    // default), 262144 pages of a 64-bit one, 10,000,000 table elements.
    config.max_memory64_bytes = config.max_memory64_bytes.min(1 << 34);
    config.max_table_elements = config.max_table_elements.min(10_000_000);
    Ok(config)
}

/// Sets the wasm-smith switch of one of [`GENERATED_PROPOSALS`].
fn switch_proposal(config: &mut Config, proposal: &str, on: bool) {
    match proposal {
        "bulk-memory" => config.bulk_memory_enabled = on,
        "custom-descriptors" => config.custom_descriptors_enabled = on,
        "custom-page-sizes" => config.custom_page_sizes_enabled = on,
        "exceptions" => config.exceptions_enabled = on,
        "extended-const" => config.extended_const_enabled = on,
        "function-references" | "gc" => config.gc_enabled = on,
        "memory64" => config.memory64_enabled = on,
        "multi-memory" => {
            config.max_memories = if on {
                config.max_memories.clamp(1, 4)
            } else {
                config.max_memories.min(1)
            }
        }
        "multi-value" => config.multi_value_enabled = on,
        "nontrapping-float-to-int-conversions" => config.saturating_float_to_int_enabled = on,
        "reference-types" => config.reference_types_enabled = on,
        "relaxed-simd" => config.relaxed_simd_enabled = on,
        "shared-everything-threads" => config.shared_everything_threads_enabled = on,
        "sign-extension-ops" => config.sign_extension_ops_enabled = on,
        "simd" => config.simd_enabled = on,
        "tail-call" => config.tail_call_enabled = on,
        "threads" => config.threads_enabled = on,
        "wide-arithmetic" => config.wide_arithmetic_enabled = on,
        other => unreachable!("{other} is not in GENERATED_PROPOSALS"),
    }
}

/// The sections of a module as byte ranges (id, size and payload), as far
/// as its section headers can be read.
fn section_ranges(bytes: &[u8]) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    if bytes.len() < 8 {
        return ranges;
    }
    let mut reader = wasmparser::BinaryReader::new(&bytes[8..], 8);
    while !reader.eof() {
        let start = reader.original_position() as usize;
        let header = reader.read_u8().and_then(|_| reader.read_var_u32());
        let Ok(size) = header else { break };
        if reader.read_bytes(size as usize).is_err() {
            break;
        }
        ranges.push(start..reader.original_position() as usize);
    }
    ranges
}

/// One to three byte-level mutations drawn from `u`, and their names.
/// Plain mutations, not `wasm-mutate`: its mutations keep modules valid,
/// and invalid and malformed ones are what this is for.
fn mutate(module: &[u8], u: &mut Unstructured<'_>) -> (Vec<u8>, Vec<String>) {
    let mut bytes = module.to_vec();
    let mut applied = Vec::new();
    let rounds = u.int_in_range(1..=3u8).unwrap_or(1);
    for _ in 0..rounds {
        if let Some(name) = mutate_once(&mut bytes, u) {
            applied.push(name);
        }
    }
    (bytes, applied)
}

fn mutate_once(bytes: &mut Vec<u8>, u: &mut Unstructured<'_>) -> Option<String> {
    // Positions past the 8-byte header, which a mutation would make
    // trivially malformed.
    let body = 8..bytes.len().max(9);
    let position = |u: &mut Unstructured<'_>| u.int_in_range(body.start..=body.end - 1).ok();
    let sections = section_ranges(bytes);
    match u.int_in_range(0..=6u8).ok()? {
        0 => {
            let at = position(u)?.min(bytes.len() - 1);
            let mask = u.int_in_range(1..=255u8).ok()?;
            bytes[at] ^= mask;
            Some(format!("flip byte {at} by {mask:#04x}"))
        }
        1 => {
            let at = position(u)?.min(bytes.len());
            let n = u.int_in_range(1..=4usize).ok()?;
            let inserted: Vec<u8> = (0..n).map(|_| u8::arbitrary(u).unwrap_or(0)).collect();
            bytes.splice(at..at, inserted);
            Some(format!("insert {n} bytes at {at}"))
        }
        2 => {
            let at = position(u)?.min(bytes.len());
            let n = u.int_in_range(1..=4usize).ok()?.min(bytes.len() - at);
            bytes.drain(at..at + n);
            Some(format!("delete {n} bytes at {at}"))
        }
        3 => {
            let at = position(u)?.min(bytes.len());
            bytes.truncate(at);
            Some(format!("truncate at {at}"))
        }
        4 => {
            let section = u.choose(&sections).ok()?.clone();
            let copy = bytes[section.clone()].to_vec();
            bytes.splice(section.end..section.end, copy);
            Some(format!("duplicate the section at {}", section.start))
        }
        5 => {
            if sections.len() < 2 {
                return None;
            }
            let i = u.int_in_range(0..=sections.len() - 2).ok()?;
            let (a, b) = (sections[i].clone(), sections[i + 1].clone());
            let mut swapped = bytes[b.clone()].to_vec();
            swapped.extend_from_slice(&bytes[a.clone()]);
            bytes.splice(a.start..b.end, swapped);
            Some(format!("swap the sections at {} and {}", a.start, b.start))
        }
        _ => {
            // A section size one off: the payload ends early or late.
            let section = u.choose(&sections).ok()?.clone();
            let mut reader = wasmparser::BinaryReader::new(&bytes[section.start + 1..], 0);
            let size = reader.read_var_u32().ok()?;
            let width = reader.original_position() as usize;
            let new_size = if bool::arbitrary(u).ok()? {
                size.wrapping_add(1)
            } else {
                size.wrapping_sub(1)
            };
            let mut encoded = Vec::new();
            wasm_encoder::Encode::encode(&new_size, &mut encoded);
            let at = section.start + 1;
            bytes.splice(at..at + width, encoded);
            Some(format!(
                "section size at {at}: {size} -> {new_size}",
                new_size = new_size
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_parse_and_name_the_suite_again() {
        let suite = FuzzSuite::parse("fuzz:7").unwrap().unwrap();
        assert_eq!((suite.seed, suite.count), (7, DEFAULT_COUNT));
        assert_eq!(suite.argument(), "fuzz:7");
        let suite = FuzzSuite::parse("fuzz:7:20:without=memory64+gc")
            .unwrap()
            .unwrap();
        assert_eq!(suite.count, 20);
        // gc and function-references share a switch.
        assert_eq!(
            suite.name(),
            "fuzz:7:without=function-references+gc+memory64"
        );
        assert_eq!(
            suite.argument(),
            "fuzz:7:20:without=function-references+gc+memory64"
        );
        assert_eq!(FuzzSuite::parse(&suite.argument()).unwrap().unwrap(), suite);
        assert_eq!(suite.index_of(&suite.case_id(12)), Some(12));
        assert_eq!(
            suite.index_of(&format!("{}/truncated@9", suite.case_id(3))),
            Some(3)
        );
        assert!(FuzzSuite::parse("spec").unwrap().is_none());
        for bad in [
            "fuzz:",
            "fuzz:x",
            "fuzz:1:0",
            "fuzz:1:y",
            "fuzz:1:without=stack-switching",
        ] {
            let err = FuzzSuite::parse(bad).unwrap_err().to_string();
            assert!(err.contains(bad), "{err}");
        }
    }

    #[test]
    fn every_generated_proposal_has_a_switch() {
        let mut config = Config::default();
        for (proposal, _) in GENERATED_PROPOSALS {
            assert!(KNOWN_FEATURES.contains(proposal), "{proposal}");
            switch_proposal(&mut config, proposal, true);
        }
    }

    #[test]
    fn section_sizes_are_encoded_as_the_format_reads_them() {
        for value in [0, 1, 127, 128, 300, u32::MAX] {
            let mut out = Vec::new();
            wasm_encoder::Encode::encode(&value, &mut out);
            let mut reader = wasmparser::BinaryReader::new(&out, 0);
            assert_eq!(reader.read_var_u32().unwrap(), value);
            assert!(reader.eof());
        }
    }
}
