//! The WebAssembly feature set a case is written against, and what it
//! means to a validator. Data: every layer may use it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use wasmparser::{Validator, WasmFeatures};

/// The WebAssembly feature set a case is written against: a spec version
/// plus proposals by their testsuite directory names (`threads`,
/// `custom-page-sizes`, ...). Backends map these to their own switches.
///
/// Older proposal directories assume the spec of their time: `threads`
/// expects a second table to be invalid, which WebAssembly 2.0 allows.
///
/// A backend sets its engine's switches from [`Features::enables`], which
/// counts the proposals the base version already includes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Features {
    /// The spec version the case is written against.
    pub base: SpecVersion,
    /// Proposals on beyond `base`, by testsuite directory name. Only names
    /// the harness knows (the testsuite's proposal directories) occur.
    #[serde(default)]
    pub proposals: BTreeSet<String>,
}

/// A WebAssembly spec version: the base of a [`Features`] set.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum SpecVersion {
    /// WebAssembly 1.0 (the MVP, plus mutable globals).
    Wasm1,
    /// WebAssembly 2.0: adds bulk memory, multi-value, non-trapping
    /// float-to-int, reference types, sign extension and SIMD.
    Wasm2,
    /// WebAssembly 3.0 (the default): adds exceptions, extended
    /// constants, typed function references, GC, 64-bit memories, multiple
    /// memories, relaxed SIMD, tail calls and threads.
    #[default]
    Wasm3,
}

/// The proposals a case may name.
pub const KNOWN_FEATURES: &[&str] = &[
    "annotations",
    "bulk-memory",
    "custom-descriptors",
    "custom-page-sizes",
    "exceptions",
    "extended-const",
    "function-references",
    "gc",
    "legacy-exceptions",
    "memory64",
    "multi-memory",
    "multi-value",
    "mutable-global",
    "nontrapping-float-to-int-conversions",
    "reference-types",
    "relaxed-simd",
    "shared-everything-threads",
    "sign-extension-ops",
    "simd",
    "stack-switching",
    "tail-call",
    "threads",
    "wide-arithmetic",
];

/// Proposals to the JS API rather than to WebAssembly itself: a case uses
/// one through its call's arguments (a Web API case's `options`), never
/// through its module's bytes. `requires` and "unsupported proposal"
/// labels name them as they name [`KNOWN_FEATURES`].
pub const JS_API_PROPOSALS: &[&str] = &["js-string-builtins"];

/// The probe of `js-string-builtins`: `(module (import "wasm:js-string"
/// "length" (func)))`, a wrong signature for the `length` builtin, compiled
/// with `{builtins: ["js-string"]}`. An engine with the proposal fails the
/// compile; one without it ignores the option and compiles the module.
pub const JS_STRING_BUILTINS_PROBE: &str =
    "0061736d010000000104016000000219010e7761736d3a6a732d737472696e67066c656e6774680000";

impl Features {
    /// WebAssembly 3.0 and nothing more.
    pub fn baseline() -> Features {
        Features::default()
    }

    /// `base` plus proposals, rejecting names the harness does not know
    /// (the testsuite's proposal directory names).
    pub fn new<I, S>(base: SpecVersion, proposals: I) -> Result<Features, String>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut set = BTreeSet::new();
        for name in proposals {
            let name = name.into();
            if !KNOWN_FEATURES.contains(&name.as_str()) {
                return Err(format!(
                    "unknown feature {name:?}; expected one of {}",
                    KNOWN_FEATURES.join(", ")
                ));
            }
            set.insert(name);
        }
        Ok(Features {
            base,
            proposals: set,
        })
    }

    /// WebAssembly 3.0 plus proposals.
    pub fn from_names<I, S>(proposals: I) -> Result<Features, String>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Features::new(SpecVersion::Wasm3, proposals)
    }

    /// Whether `name` is one of [`Features::proposals`] (on by name, not by
    /// the base version; see [`Features::enables`]).
    pub fn contains(&self, name: &str) -> bool {
        self.proposals.contains(name)
    }

    /// Whether a proposal is on, by its base version or by name: what an
    /// engine backend asks to set its own switches.
    pub fn enables(&self, name: &str) -> bool {
        const WASM1: &[&str] = &["mutable-global"];
        const WASM2: &[&str] = &[
            "bulk-memory",
            "multi-value",
            "nontrapping-float-to-int-conversions",
            "reference-types",
            "sign-extension-ops",
            "simd",
        ];
        const WASM3: &[&str] = &[
            "exceptions",
            "extended-const",
            "function-references",
            "gc",
            "memory64",
            "multi-memory",
            "relaxed-simd",
            "tail-call",
            "threads",
        ];
        let in_base = match self.base {
            SpecVersion::Wasm1 => WASM1.contains(&name),
            SpecVersion::Wasm2 => WASM1.contains(&name) || WASM2.contains(&name),
            SpecVersion::Wasm3 => {
                WASM1.contains(&name) || WASM2.contains(&name) || WASM3.contains(&name)
            }
        };
        in_base || self.contains(name)
    }

    /// The proposals on by name, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.proposals.iter().map(String::as_str)
    }
}

impl fmt::Display for SpecVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SpecVersion::Wasm1 => "wasm1",
            SpecVersion::Wasm2 => "wasm2",
            SpecVersion::Wasm3 => "wasm3",
        })
    }
}

impl fmt::Display for Features {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.base)?;
        for name in self.iter() {
            write!(f, "+{name}")?;
        }
        Ok(())
    }
}

impl Features {
    /// Whether `bytes` is a valid module under these features (one-shot
    /// validation; how truncated prefixes get their expected outcome).
    pub fn validates(&self, bytes: &[u8]) -> bool {
        Validator::new_with_features(wasm_features(self))
            .validate_all(bytes)
            .is_ok()
    }
}

/// wasmparser's switches for a case's features (also used by the overhead
/// benchmark's bare loop, so both sides validate the same language).
pub fn wasm_features(features: &Features) -> WasmFeatures {
    let mut f = match features.base {
        SpecVersion::Wasm1 => WasmFeatures::WASM1,
        SpecVersion::Wasm2 => WasmFeatures::WASM2,
        SpecVersion::Wasm3 => WasmFeatures::WASM3,
    };
    for name in features.iter() {
        f |= wasmparser_flag(name);
    }
    f
}

/// wasmparser's switch for one proposal (empty for text-only ones).
fn wasmparser_flag(name: &str) -> WasmFeatures {
    match name {
        "bulk-memory" => WasmFeatures::BULK_MEMORY,
        "custom-descriptors" => WasmFeatures::CUSTOM_DESCRIPTORS,
        "custom-page-sizes" => WasmFeatures::CUSTOM_PAGE_SIZES,
        "exceptions" => WasmFeatures::EXCEPTIONS,
        "extended-const" => WasmFeatures::EXTENDED_CONST,
        "function-references" => WasmFeatures::FUNCTION_REFERENCES,
        "gc" => WasmFeatures::GC,
        "legacy-exceptions" => WasmFeatures::LEGACY_EXCEPTIONS,
        "memory64" => WasmFeatures::MEMORY64,
        "multi-memory" => WasmFeatures::MULTI_MEMORY,
        "multi-value" => WasmFeatures::MULTI_VALUE,
        "mutable-global" => WasmFeatures::MUTABLE_GLOBAL,
        "nontrapping-float-to-int-conversions" => WasmFeatures::SATURATING_FLOAT_TO_INT,
        "reference-types" => WasmFeatures::REFERENCE_TYPES,
        "relaxed-simd" => WasmFeatures::RELAXED_SIMD,
        "shared-everything-threads" => WasmFeatures::SHARED_EVERYTHING_THREADS,
        "sign-extension-ops" => WasmFeatures::SIGN_EXTENSION,
        "simd" => WasmFeatures::SIMD,
        "stack-switching" => WasmFeatures::STACK_SWITCHING,
        "tail-call" => WasmFeatures::TAIL_CALL,
        "threads" => WasmFeatures::THREADS,
        "wide-arithmetic" => WasmFeatures::WIDE_ARITHMETIC,
        // Text-format only (annotations); nothing to switch on in a decoder.
        _ => WasmFeatures::empty(),
    }
}

/// The smallest module that validates only with each proposal on, in the
/// proposal's standard encoding: how a
/// backend finds out which proposals an engine has, with and without its
/// switches (one-shot compiles of these; the only probe table in the
/// project, checked against wasmparser by a test).
pub const PROBES: &[(&str, &str)] = &[
    // (data ""), a passive segment
    ("bulk-memory", "0061736d010000000b03010100"),
    // a struct type with a descriptor type (rec group of two)
    (
        "custom-descriptors",
        "0061736d01000000010b014e024d015f004c005f00",
    ),
    // (memory 0 (pagesize 1))
    ("custom-page-sizes", "0061736d01000000050401080000"),
    // (func try_table (no catch) end)
    (
        "exceptions",
        "0061736d01000000010401600000030201000a080106001f40000b0b",
    ),
    // (global i32 (i32.add (i32.const 0) (i32.const 0)))
    ("extended-const", "0061736d010000000609017f00410041006a0b"),
    // (type (func (param (ref func))))
    ("function-references", "0061736d010000000106016001647000"),
    // (type (struct (field (ref null 0)))): the standard `ref null`
    // encoding (0x63), so a pre-standard GC implementation does not pass
    ("gc", "0061736d010000000106015f01630000"),
    // (func try end)
    (
        "legacy-exceptions",
        "0061736d01000000010401600000030201000a0701050006400b0b",
    ),
    // (memory i64 1)
    ("memory64", "0061736d010000000503010401"),
    // (memory 1) (memory 1)
    ("multi-memory", "0061736d0100000005050200010001"),
    // (type (func (result i32 i32)))
    ("multi-value", "0061736d010000000106016000027f7f"),
    // (import "" "" (global (mut i32)))
    ("mutable-global", "0061736d010000000206010000037f01"),
    // (func (param f32) (result i32) i32.trunc_sat_f32_s)
    (
        "nontrapping-float-to-int-conversions",
        "0061736d0100000001060160017d017f030201000a080106002000fc000b",
    ),
    // (type (func (param externref)))
    ("reference-types", "0061736d0100000001050160016f00"),
    // (func (param v128) (result v128) i8x16.relaxed_swizzle)
    (
        "relaxed-simd",
        "0061736d0100000001060160017b017b030201000a0b01090020002000fd80020b",
    ),
    // (type (shared (struct)))
    ("shared-everything-threads", "0061736d01000000010401655f00"),
    // (func (param i32) (result i32) i32.extend8_s)
    (
        "sign-extension-ops",
        "0061736d0100000001060160017f017f030201000a070105002000c00b",
    ),
    // (func (local v128))
    (
        "simd",
        "0061736d01000000010401600000030201000a06010401017b0b",
    ),
    // (type (func)) (type (cont 0))
    ("stack-switching", "0061736d010000000106026000005d00"),
    // (func return_call 0)
    (
        "tail-call",
        "0061736d01000000010401600000030201000a0601040012000b",
    ),
    // (memory 1 1 shared)
    ("threads", "0061736d01000000050401030101"),
    // (func (param i64) (result i64 i64) i64.mul_wide_s)
    (
        "wide-arithmetic",
        "0061736d0100000001070160017e027e7e030201000a0a01080020002000fc150b",
    ),
];

/// A probe's module bytes.
pub fn probe_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("probe hex"))
        .collect()
}

impl Features {
    /// The proposals a valid module actually needs: those it enables whose
    /// removal makes it invalid. Empty for a module that is not valid under
    /// these features (what it "uses" is then undefined). This is what an
    /// expectations rule's `requires` and "unsupported proposal" labels
    /// speak of: a WebAssembly 3.0 case that uses no GC type does not
    /// need GC.
    pub fn proposals_used(&self, bytes: &[u8]) -> BTreeSet<String> {
        let all = wasm_features(self);
        let valid = |f: WasmFeatures| Validator::new_with_features(f).validate_all(bytes).is_ok();
        if !valid(all) {
            return BTreeSet::new();
        }
        KNOWN_FEATURES
            .iter()
            .filter(|name| self.enables(name))
            .filter(|name| {
                let mut without = wasmparser_flag(name);
                // GC builds on typed function references and implies them.
                if **name == "function-references" {
                    without |= WasmFeatures::GC;
                }
                !without.is_empty() && !valid(all - without)
            })
            .map(|name| name.to_string())
            .collect()
    }
}

/// Validates one payload; `Ok(true)` once the module is complete and valid.
pub(crate) fn validate_payload(
    validator: &mut wasmparser::Validator,
    payload: &wasmparser::Payload<'_>,
    allocs: &mut wasmparser::FuncValidatorAllocations,
) -> wasmparser::Result<bool> {
    match validator.payload(payload)? {
        wasmparser::ValidPayload::Func(func, body) => {
            let mut func = func.into_validator(std::mem::take(allocs));
            func.validate(&body)?;
            *allocs = func.into_allocations();
            Ok(false)
        }
        wasmparser::ValidPayload::End(_) => Ok(true),
        _ => Ok(false),
    }
}

/// A wasmparser error as a CompileError message: what and where.
pub(crate) fn error_message(e: &wasmparser::BinaryReaderError) -> String {
    format!("{} (at offset {:#x})", e.message(), e.offset())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proposals_used_are_the_ones_a_module_cannot_do_without() {
        let f = Features::from_names(["custom-page-sizes"]).unwrap();
        // A memory with a custom page size of 1 byte.
        let pagesize = b"\0asm\x01\0\0\0\x05\x04\x01\x08\x01\x00";
        assert_eq!(
            f.proposals_used(pagesize).into_iter().collect::<Vec<_>>(),
            ["custom-page-sizes"]
        );
        assert!(f.proposals_used(b"\0asm\x01\0\0\0").is_empty());
        // (type (struct)) needs GC on a 3.0 base; invalid bytes use nothing.
        let gc = b"\0asm\x01\0\0\0\x01\x03\x01\x5f\x00";
        assert!(Features::baseline().proposals_used(gc).contains("gc"));
        assert!(Features::baseline().proposals_used(b"\0asm").is_empty());
    }

    /// Each probe needs its proposal: valid with every feature on, invalid
    /// with only that proposal off.
    #[test]
    fn every_probe_validates_only_with_its_proposal() {
        let all = WasmFeatures::all();
        for (proposal, hex) in PROBES {
            assert!(KNOWN_FEATURES.contains(proposal), "{proposal}");
            let bytes = probe_bytes(hex);
            let valid = |f| Validator::new_with_features(f).validate_all(&bytes);
            assert!(valid(all).is_ok(), "{proposal}: {:?}", valid(all).err());
            let mut without = wasmparser_flag(proposal);
            if *proposal == "function-references" {
                without |= WasmFeatures::GC;
            }
            assert!(
                valid(all - without).is_err(),
                "{proposal} probe is valid without it"
            );
        }
        let probed: BTreeSet<&str> = PROBES.iter().map(|(p, _)| *p).collect();
        let untestable: Vec<&&str> = KNOWN_FEATURES
            .iter()
            .filter(|p| !probed.contains(**p))
            .collect();
        assert_eq!(
            untestable,
            [&"annotations"],
            "only text-format proposals lack a probe"
        );
    }

    #[test]
    fn unknown_features_are_rejected_with_the_known_list() {
        let err = Features::from_names(["threadz"]).unwrap_err();
        assert!(
            err.contains("threadz") && err.contains("wide-arithmetic"),
            "{err}"
        );
    }

    #[test]
    fn enables_counts_the_base_version() {
        let f = Features::new(SpecVersion::Wasm1, ["threads"]).unwrap();
        assert!(f.enables("threads") && f.enables("mutable-global"));
        assert!(!f.enables("reference-types") && !f.enables("gc"));
        assert!(
            Features::baseline().enables("gc")
                && !Features::baseline().enables("custom-page-sizes")
        );
    }

    #[test]
    fn features_display_against_the_baseline() {
        assert_eq!(Features::baseline().to_string(), "wasm3");
        let f = Features::from_names(["wide-arithmetic", "annotations"]).unwrap();
        assert_eq!(f.to_string(), "wasm3+annotations+wide-arithmetic");
        let f = Features::new(SpecVersion::Wasm1, ["threads"]).unwrap();
        assert_eq!(f.to_string(), "wasm1+threads");
    }
}
