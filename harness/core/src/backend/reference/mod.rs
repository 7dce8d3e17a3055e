//! The reference backend: wasmparser's incremental `Parser` and `Validator`,
//! fed chunk by chunk, with the spec's rule that a stream's fate decides
//! first (a stream error or an open stream wins over a compile error that
//! was already visible). `instantiate` models what instantiation does
//! after the compile.

pub mod web_api_model;

use super::{
    Backend, BackendInfo, BodyEnd, InstantiateBackend, StreamingBody, WebApiBackend, WebApiOutcome,
    CALL_RETURNED,
};
use crate::case::ImportObject;
use crate::features::{error_message, validate_payload, wasm_features, Features};
use crate::instantiation;
use crate::outcome::{
    export_kind, ExportDescriptor, Fingerprint, ImportDescriptor, Outcome, OutcomeClass,
};
use crate::plan::ChunkPlan;
use crate::scenario::{OptionsDictionary, Scenario};
use wasmparser::{
    Chunk, FuncValidatorAllocations, Parser, Payload, TypeRef, Validator, WasmFeatures,
};

/// The wasmparser line this crate is built against (see Cargo.toml).
const WASMPARSER_VERSION: &str = "wasmparser 0.263";

/// The reference backend: wasmparser's incremental parser and validator,
/// fed chunk by chunk, with the spec's rules for how a stream's end decides
/// the outcome. Also a [`WebApiBackend`], through an executable model of
/// the `compileStreaming` algorithm, and an [`InstantiateBackend`], through
/// a model of instantiation that runs no code (a module whose start
/// function it cannot decide statically is not applicable).
///
/// It is what streamconform's own suites are checked against, and a
/// correct backend to delegate to or compare with.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReferenceBackend;

/// The reference backend's name in reports: a model of the specification,
/// not an engine, so views across engines (interop) leave it out.
pub const REFERENCE_NAME: &str = "reference";

impl Backend for ReferenceBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: REFERENCE_NAME.into(),
            version: WASMPARSER_VERSION.into(),
        }
    }

    fn compile_streaming(&self, body: StreamingBody<'_>, features: &Features) -> Outcome {
        compile_stream(body, features, |_| {})
    }

    fn compile_one_shot(&self, bytes: &[u8], features: &Features) -> Outcome {
        // A different entry point from the streaming path on purpose:
        // `parse_all` over the complete bytes.
        let mut validator = Validator::new_with_features(wasm_features(features));
        let mut fingerprint = Fingerprint::default();
        let mut allocs = FuncValidatorAllocations::default();
        for payload in Parser::new(0).parse_all(bytes) {
            let step = payload.and_then(|p| {
                record(&p, &mut fingerprint)?;
                validate_payload(&mut validator, &p, &mut allocs)
            });
            match step {
                Ok(true) => return Outcome::Module { fingerprint },
                Ok(false) => {}
                Err(e) => return compile_error(&e),
            }
        }
        Outcome::CompileError {
            message: "unexpected end of module".into(),
        }
    }
}

impl InstantiateBackend for ReferenceBackend {
    fn instantiate_streaming(
        &self,
        body: StreamingBody<'_>,
        features: &Features,
        imports: &ImportObject,
    ) -> Outcome {
        // The decoder drains its buffer: the model reads its own copy.
        let mut bytes = Vec::new();
        let compiled = compile_stream(body, features, |chunk| bytes.extend_from_slice(chunk));
        instantiation::after_compile(compiled, &bytes, features, imports)
    }

    fn instantiate_one_shot(
        &self,
        bytes: &[u8],
        features: &Features,
        imports: &ImportObject,
    ) -> Outcome {
        let compiled = self.compile_one_shot(bytes, features);
        instantiation::after_compile(compiled, bytes, features, imports)
    }

    /// The model's question, with the case's real import object: an
    /// environment it cannot build, a link it cannot judge, a start
    /// function it cannot prove.
    fn not_applicable(
        &self,
        bytes: &[u8],
        features: &Features,
        imports: &ImportObject,
    ) -> Option<String> {
        instantiation::decide(bytes, features, imports, None).err()
    }
}

/// What the reference model says a one-shot
/// `WebAssembly.instantiate(bytes, importObject)` gives, as a class: the
/// compile included (a module that does not validate under `features` is a
/// `CompileError`), then reading the imports from `imports` (`TypeError`,
/// `LinkError`), the segments and the start function (`RuntimeError`), or
/// an `Instance`. `Err` says why the model cannot decide it: an import
/// object it cannot build (a named module that does not compile or
/// instantiate, or whose instantiation it cannot decide), a link it cannot
/// judge (types across modules), a start function it cannot prove.
///
/// For a suite's loader: one validation of the module (and one of each
/// named module), no engine.
pub fn decide_instantiation(
    bytes: &[u8],
    features: &Features,
    imports: &ImportObject,
) -> Result<OutcomeClass, String> {
    instantiation::decide(bytes, features, imports, None)
}

/// `compileStreaming` of a body, showing each chunk to `seen` as it is fed.
fn compile_stream(
    body: StreamingBody<'_>,
    features: &Features,
    mut seen: impl FnMut(&[u8]),
) -> Outcome {
    let mut decoder = StreamingDecoder::new(wasm_features(features));
    for chunk in body.chunks {
        seen(chunk);
        decoder.push(chunk);
    }
    match body.end {
        BodyEnd::Close => decoder.finish(),
        // Consume body rejects with the stream's reason before any
        // compile result can exist (Web API, consume body / read-loop).
        BodyEnd::Error => Outcome::PassedThrough,
        BodyEnd::Never => Outcome::Pending,
    }
}

impl WebApiBackend for ReferenceBackend {
    fn compile_web_api(
        &self,
        scenario: &Scenario,
        module: &[u8],
        plan: &ChunkPlan,
    ) -> WebApiOutcome {
        let compile = |body: StreamingBody<'_>| self.compile_streaming(body, &Features::baseline());
        // The model reads every event it is given: it has no stream whose
        // premise could fail, so it reports no observation.
        web_api_model::evaluate(scenario, module, plan, &compile).into()
    }

    fn instantiate_web_api(
        &self,
        scenario: &Scenario,
        module: &[u8],
        plan: &ChunkPlan,
        imports: &ImportObject,
    ) -> WebApiOutcome {
        // WebIDL converts the import object at the call, before the
        // source is looked at: only an object or `undefined` gets through.
        if instantiation::refused_at_the_call(imports) {
            let (outcome, _) = instantiation::after_compile_reading(
                Outcome::Pending,
                module,
                &Features::baseline(),
                imports,
                None,
            );
            return WebApiOutcome {
                reads: Some(vec![CALL_RETURNED.into()]),
                ..outcome.into()
            };
        }
        let features = Features::baseline();
        let compile = |body: StreamingBody<'_>| self.compile_streaming(body, &features);
        let compiled = web_api_model::evaluate(scenario, module, plan, &compile);
        let options = scenario.options.as_ref().and_then(|o| o.converted());
        let (outcome, reads) = instantiation::after_compile_reading(
            compiled,
            module,
            &features,
            imports,
            options.as_ref(),
        );
        // Every read follows the call's return: they happen after the
        // compile, in a later turn.
        let reads = reads.map(|reads| {
            std::iter::once(CALL_RETURNED.to_string())
                .chain(reads)
                .collect()
        });
        WebApiOutcome {
            reads,
            ..outcome.into()
        }
    }

    fn one_shot_with_options(
        &self,
        bytes: &[u8],
        features: &Features,
        options: &OptionsDictionary,
        imports: Option<&ImportObject>,
    ) -> Option<Outcome> {
        let compiled = match self.compile_one_shot(bytes, features) {
            Outcome::Module { fingerprint } => {
                web_api_model::compiled_with_options(fingerprint, bytes, options)
            }
            outcome => outcome,
        };
        Some(match imports {
            None => compiled,
            Some(imports) => {
                instantiation::after_compile_reading(
                    compiled,
                    bytes,
                    features,
                    imports,
                    Some(options),
                )
                .0
            }
        })
    }
}

/// Incremental decode + validate over chunks as they arrive. A compile error
/// is remembered, and later chunks are consumed but ignored, as a streaming
/// engine drains the body after failing.
struct StreamingDecoder {
    parser: Parser,
    validator: Validator,
    allocs: FuncValidatorAllocations,
    buffer: Vec<u8>,
    /// Bytes of `buffer` already consumed by the parser.
    consumed: usize,
    fingerprint: Fingerprint,
    state: DecodeState,
}

enum DecodeState {
    Decoding,
    Done,
    Failed(String),
}

impl StreamingDecoder {
    fn new(features: WasmFeatures) -> Self {
        StreamingDecoder {
            parser: Parser::new(0),
            validator: Validator::new_with_features(features),
            allocs: FuncValidatorAllocations::default(),
            buffer: Vec::new(),
            consumed: 0,
            fingerprint: Fingerprint::default(),
            state: DecodeState::Decoding,
        }
    }

    fn push(&mut self, chunk: &[u8]) {
        if chunk.is_empty() {
            return;
        }
        // Only `finish` completes a module, so the state here is
        // Decoding or Failed; after a failure the rest is drained unread.
        if !matches!(self.state, DecodeState::Decoding) {
            return;
        }
        // Drop what the parser is finished with before it grows the buffer.
        if self.consumed > 0 && self.consumed * 2 >= self.buffer.len() {
            self.buffer.drain(..self.consumed);
            self.consumed = 0;
        }
        self.buffer.extend_from_slice(chunk);
        self.advance(false);
    }

    fn finish(mut self) -> Outcome {
        if let DecodeState::Decoding = self.state {
            self.advance(true);
        }
        match self.state {
            DecodeState::Done => Outcome::Module {
                fingerprint: self.fingerprint,
            },
            DecodeState::Failed(message) => Outcome::CompileError { message },
            DecodeState::Decoding => Outcome::CompileError {
                message: "unexpected end of module".into(),
            },
        }
    }

    fn advance(&mut self, eof: bool) {
        loop {
            let data = &self.buffer[self.consumed..];
            let (consumed, payload) = match self.parser.parse(data, eof) {
                Ok(Chunk::NeedMoreData(_)) => return,
                Ok(Chunk::Parsed { consumed, payload }) => (consumed, payload),
                Err(e) => {
                    self.state = DecodeState::Failed(error_message(&e));
                    return;
                }
            };
            let step = record(&payload, &mut self.fingerprint)
                .and_then(|()| validate_payload(&mut self.validator, &payload, &mut self.allocs));
            self.consumed += consumed;
            match step {
                Ok(false) => {}
                Ok(true) => {
                    self.state = DecodeState::Done;
                    return;
                }
                Err(e) => {
                    self.state = DecodeState::Failed(error_message(&e));
                    return;
                }
            }
        }
    }
}

/// Adds what JS could observe of this payload to the fingerprint.
fn record(payload: &Payload<'_>, fingerprint: &mut Fingerprint) -> wasmparser::Result<()> {
    match payload {
        Payload::ImportSection(reader) => {
            for import in reader.clone().into_imports() {
                let import = import?;
                fingerprint.imports.push(ImportDescriptor {
                    module: import.module.into(),
                    name: import.name.into(),
                    kind: import_kind(import.ty).into(),
                });
            }
        }
        Payload::ExportSection(reader) => {
            for export in reader.clone() {
                let export = export?;
                fingerprint.exports.push(ExportDescriptor {
                    name: export.name.into(),
                    kind: export_kind(export.kind).into(),
                });
            }
        }
        Payload::CustomSection(reader) => fingerprint.custom_sections.push(reader.name().into()),
        _ => {}
    }
    Ok(())
}

fn import_kind(ty: TypeRef) -> &'static str {
    match ty {
        TypeRef::Func(_) | TypeRef::FuncExact(_) => "function",
        TypeRef::Table(_) => "table",
        TypeRef::Memory(_) => "memory",
        TypeRef::Global(_) => "global",
        TypeRef::Tag(_) => "tag",
    }
}

fn compile_error(e: &wasmparser::BinaryReaderError) -> Outcome {
    Outcome::CompileError {
        message: error_message(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::OutcomeClass;
    use crate::plan::{ChunkPlan, PlanSet};

    /// (module (import "m" "f" (func)) (func (export "g")) (@custom "c" ""))
    const MODULE: &[u8] =
        b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0\x02\x07\x01\x01m\x01f\0\0\x03\x02\x01\0\
\x07\x05\x01\x01g\0\x01\x0a\x04\x01\x02\0\x0b\0\x02\x01c";

    fn stream(bytes: &[u8], plan: &ChunkPlan, end: BodyEnd) -> Outcome {
        ReferenceBackend.compile_streaming(
            StreamingBody {
                chunks: plan.chunks(bytes),
                end,
            },
            &Features::baseline(),
        )
    }

    #[test]
    fn every_default_plan_gives_the_one_shot_module() {
        let one_shot = ReferenceBackend.compile_one_shot(MODULE, &Features::baseline());
        let Outcome::Module { fingerprint } = &one_shot else {
            panic!("{one_shot}")
        };
        assert_eq!(fingerprint.imports[0].kind, "function");
        assert_eq!(fingerprint.exports[0].name, "g");
        assert_eq!(fingerprint.custom_sections, ["c"]);
        for plan in PlanSet::Default.plans(MODULE) {
            assert_eq!(stream(MODULE, &plan, BodyEnd::Close), one_shot, "{plan}");
        }
    }

    #[test]
    fn truncated_and_trailing_bytes_are_compile_errors_at_any_chunking() {
        let mut trailing = MODULE.to_vec();
        trailing.push(0x42);
        for bytes in [&MODULE[..MODULE.len() - 3], &trailing[..]] {
            for plan in PlanSet::Default.plans(bytes) {
                assert_eq!(
                    stream(bytes, &plan, BodyEnd::Close).class(),
                    OutcomeClass::CompileError,
                    "{plan}"
                );
            }
        }
    }

    #[test]
    fn stream_fate_wins_over_a_visible_compile_error() {
        let invalid = b"\0asm\x01\0\0\0\xff";
        let whole = PlanSet::Whole.plans(invalid).remove(0);
        assert_eq!(
            stream(invalid, &whole, BodyEnd::Error),
            Outcome::PassedThrough
        );
        assert_eq!(stream(invalid, &whole, BodyEnd::Never), Outcome::Pending);
    }

    #[test]
    fn features_gate_proposals() {
        // A memory with a custom page size of 1 byte (custom-page-sizes).
        let bytes = b"\0asm\x01\0\0\0\x05\x04\x01\x08\x01\x00";
        assert!(!Features::baseline().validates(bytes));
        assert!(Features::from_names(["custom-page-sizes"])
            .unwrap()
            .validates(bytes));
    }
}
