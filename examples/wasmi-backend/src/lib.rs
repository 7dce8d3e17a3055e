//! An engine repo's view of streamconform: the [`Backend`] and
//! [`InstantiateBackend`] implementations for wasmi, a real WebAssembly
//! interpreter. The test in `tests/streaming.rs` runs the harness on it
//! under `cargo test`, compiling (`compileStreaming`) and instantiating
//! (`instantiateStreaming`) every body the suites have.
//!
//! wasmi 2 compiles from a complete buffer, so the streaming paths collect
//! the chunks first: this checks the embedding's chunk handling and wasmi's
//! decoder on every body, under the same verdicts as any engine.
//!
//! Instantiation plays the JS API's part around wasmi: the import object is
//! built as the JS driver builds it (each named module instantiated in
//! order, its exports under its name), the imports are read in the
//! module's order ("read the imports": a missing namespace is a
//! `TypeError`, a missing or wrong-kind value a `LinkError`), and wasmi
//! links them (type matching), applies the segments and runs the start
//! function.

use std::collections::BTreeMap;
use streamconform::{
    Backend, BackendInfo, BodyEnd, ExportDescriptor, Features, Fingerprint, ImportDescriptor,
    ImportObject, InstanceExport, InstanceFingerprint, InstantiateBackend, Outcome,
    ProposalSupport, StreamingBody,
};
use wasmi::errors::{ErrorKind, InstantiationError};
use wasmi::{
    CompilationMode, Config, Engine, Error, Extern, ExternRef, ExternType, Global, GlobalType,
    Instance, Linker, Module, Mutability, Nullable, Store, Val, ValType,
};

/// wasmi as a streamconform backend.
#[derive(Debug, Default)]
pub struct WasmiBackend;

impl WasmiBackend {
    fn engine(features: &Features) -> Engine {
        let mut config = Config::default();
        // Validate everything eagerly, translate on first call: compile
        // outcomes are the same as eager mode, at a fraction of the cost.
        config.compilation_mode(CompilationMode::LazyTranslation);
        config
            .wasm_mutable_global(features.enables("mutable-global"))
            .wasm_sign_extension(features.enables("sign-extension-ops"))
            .wasm_saturating_float_to_int(features.enables("nontrapping-float-to-int-conversions"))
            .wasm_multi_value(features.enables("multi-value"))
            .wasm_multi_memory(features.enables("multi-memory"))
            .wasm_bulk_memory(features.enables("bulk-memory"))
            .wasm_reference_types(features.enables("reference-types"))
            .wasm_tail_call(features.enables("tail-call"))
            .wasm_extended_const(features.enables("extended-const"))
            .wasm_custom_page_sizes(features.enables("custom-page-sizes"))
            .wasm_memory64(features.enables("memory64"))
            .wasm_wide_arithmetic(features.enables("wide-arithmetic"))
            .wasm_simd(features.enables("simd"))
            .wasm_relaxed_simd(features.enables("relaxed-simd"));
        Engine::new(&config)
    }
}

impl Backend for WasmiBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: "wasmi".into(),
            version: "wasmi 2".into(),
        }
    }

    fn compile_streaming(&self, body: StreamingBody<'_>, features: &Features) -> Outcome {
        let mut bytes = Vec::new();
        for chunk in body.chunks {
            bytes.extend_from_slice(chunk);
        }
        match body.end {
            BodyEnd::Close => self.compile_one_shot(&bytes, features),
            BodyEnd::Error => Outcome::PassedThrough,
            BodyEnd::Never => Outcome::Pending,
        }
    }

    /// Proposals wasmi 2 has no `Config` switch for: failures of cases that
    /// use them are reported as unsupported, apart from deviations.
    fn proposal_support(&self) -> Option<ProposalSupport> {
        Some(ProposalSupport {
            switched_on: Default::default(),
            lacking: [
                "custom-descriptors",
                "exceptions",
                "function-references",
                "gc",
                "legacy-exceptions",
                "shared-everything-threads",
                "stack-switching",
                "threads",
            ]
            .map(String::from)
            .to_vec(),
        })
    }

    fn compile_one_shot(&self, bytes: &[u8], features: &Features) -> Outcome {
        match Module::new(&Self::engine(features), bytes) {
            Ok(module) => Outcome::Module {
                fingerprint: fingerprint(&module),
            },
            Err(e) => Outcome::CompileError {
                message: e.to_string(),
            },
        }
    }
}

fn fingerprint(module: &Module) -> Fingerprint {
    Fingerprint {
        imports: module
            .imports()
            .map(|i| ImportDescriptor {
                module: i.module().into(),
                name: i.name().into(),
                kind: kind(i.ty()).into(),
            })
            .collect(),
        exports: module
            .exports()
            .map(|e| ExportDescriptor {
                name: e.name().into(),
                kind: kind(e.ty()).into(),
            })
            .collect(),
        custom_sections: module.custom_sections().map(|c| c.name().into()).collect(),
    }
}

fn kind(ty: &ExternType) -> &'static str {
    match ty {
        ExternType::Func(_) => "function",
        ExternType::Table(_) => "table",
        ExternType::Memory(_) => "memory",
        ExternType::Global(_) => "global",
    }
}

/// `instantiateStreaming` and its one-shot counterpart, with wasmi doing
/// the core instantiation and this adapter the JS API's part around it.
impl InstantiateBackend for WasmiBackend {
    fn instantiate_streaming(
        &self,
        body: StreamingBody<'_>,
        features: &Features,
        imports: &ImportObject,
    ) -> Outcome {
        let mut bytes = Vec::new();
        for chunk in body.chunks {
            bytes.extend_from_slice(chunk);
        }
        // The import object exists before the call, as in the JS driver.
        let engine = Self::engine(features);
        let env = match Environment::build(&engine, imports) {
            Ok(env) => env,
            Err(outcome) => return outcome,
        };
        match body.end {
            BodyEnd::Close => env.instantiate_bytes(&bytes),
            BodyEnd::Error => Outcome::PassedThrough,
            BodyEnd::Never => Outcome::Pending,
        }
    }

    fn instantiate_one_shot(
        &self,
        bytes: &[u8],
        features: &Features,
        imports: &ImportObject,
    ) -> Outcome {
        let engine = Self::engine(features);
        match Environment::build(&engine, imports) {
            Ok(env) => env.instantiate_bytes(bytes),
            Err(outcome) => outcome,
        }
    }
}

/// The import object as wasmi holds it: one store for every instance, and
/// the newest instance of each namespace (a later module of the same name
/// replaces the whole namespace, as assigning `object[name]` does).
struct Environment {
    engine: Engine,
    store: Store<()>,
    /// `None`: the import object is `undefined`.
    namespaces: Option<BTreeMap<String, Instance>>,
    /// Each namespace's exports under its name.
    linker: Linker<()>,
}

impl Environment {
    /// Builds the import object as the JS driver does: each named module
    /// compiled and instantiated in order against the object built so far,
    /// its exports put under its name. A module that fails is the
    /// harness's problem, not the case's: `ImportObjectUnavailable`.
    fn build(engine: &Engine, imports: &ImportObject) -> Result<Environment, Outcome> {
        let mut env = Environment {
            engine: engine.clone(),
            store: Store::new(engine, ()),
            namespaces: None,
            linker: Linker::new(engine),
        };
        let ImportObject::Instances(named) = imports else {
            return Ok(env);
        };
        env.namespaces = Some(BTreeMap::new());
        for named in named.iter() {
            let unavailable = |why: String| Outcome::OtherError {
                name: "ImportObjectUnavailable".into(),
                message: format!(
                    "the import object's module \"{}\" did not instantiate: {why}",
                    named.name
                ),
            };
            let module = Module::new(engine, &named.bytes)
                .map_err(|e| unavailable(format!("CompileError: {e}")))?;
            let order = BinaryOrder::read(&named.bytes, &module)
                .map_err(|outcome| unavailable(outcome.to_string()))?;
            let instance = env
                .instantiate(&module, &order)
                .map_err(|outcome| unavailable(outcome.to_string()))?;
            env.add_namespace(&named.name, instance)
                .map_err(|e| unavailable(format!("wasmi's linker: {e}")))?;
        }
        Ok(env)
    }

    /// Puts `instance`'s exports under `name`, replacing what was there.
    fn add_namespace(&mut self, name: &str, instance: Instance) -> Result<(), Error> {
        let namespaces = self.namespaces.get_or_insert_with(BTreeMap::new);
        namespaces.insert(name.to_string(), instance);
        let mut linker = Linker::new(&self.engine);
        for (name, instance) in namespaces.iter() {
            linker.instance(&mut self.store, name, *instance)?;
        }
        self.linker = linker;
        Ok(())
    }

    /// Compiles `bytes`, then instantiates them: a compile error wins over
    /// anything instantiation would say.
    fn instantiate_bytes(mut self, bytes: &[u8]) -> Outcome {
        let module = match Module::new(&self.engine, bytes) {
            Ok(module) => module,
            Err(e) => {
                return Outcome::CompileError {
                    message: e.to_string(),
                }
            }
        };
        let order = match BinaryOrder::read(bytes, &module) {
            Ok(order) => order,
            Err(outcome) => return outcome,
        };
        match self.instantiate(&module, &order) {
            Ok(instance) => Outcome::Instance {
                module: fingerprint(&module),
                instance: instance_fingerprint(&self.store, &order, instance),
            },
            Err(outcome) => outcome,
        }
    }

    /// Reads the imports, then has wasmi link them, apply the segments and
    /// run the start function.
    fn instantiate(&mut self, module: &Module, order: &BinaryOrder) -> Result<Instance, Outcome> {
        let imports = self.read_imports(module, order)?;
        Instance::new(&mut self.store, module, &imports).map_err(instantiation_error)
    }

    /// The JS API's "read the imports", in the module's import order: a
    /// module with imports and no import object, or a namespace the object
    /// lacks, is a `TypeError`; a value of the wrong kind (`undefined`
    /// included) a `LinkError`. Types are wasmi's to match afterwards. The
    /// values come back in wasmi's order of the imports, as
    /// [`Instance::new`] takes them.
    fn read_imports(
        &mut self,
        module: &Module,
        order: &BinaryOrder,
    ) -> Result<Vec<Extern>, Outcome> {
        let imports: Vec<_> = module.imports().collect();
        let Some(namespaces) = &self.namespaces else {
            return match order.imports.first() {
                None => Ok(Vec::new()),
                Some(&first) => Err(Outcome::TypeError {
                    message: format!(
                        "the module has {} imports (the first \"{}\" \"{}\") and the import object is undefined",
                        imports.len(),
                        imports[first].module(),
                        imports[first].name()
                    ),
                }),
            };
        };
        let mut read = vec![None; imports.len()];
        for (index, &at) in order.imports.iter().enumerate() {
            let import = &imports[at];
            let what = format!(
                "import {index} \"{}\" \"{}\"",
                import.module(),
                import.name()
            );
            if !namespaces.contains_key(import.module()) {
                return Err(Outcome::TypeError {
                    message: format!(
                        "{what}: the import object's \"{}\" is undefined, not an object",
                        import.module()
                    ),
                });
            }
            let value = self.linker.get(&self.store, import.module(), import.name());
            let wrong = |needs: &str| Outcome::LinkError {
                message: format!("{what}: {} is not {needs}", js_name(value.as_ref())),
            };
            let extern_ = match (import.ty(), value) {
                (ExternType::Func(_), Some(v @ Extern::Func(_)))
                | (ExternType::Table(_), Some(v @ Extern::Table(_)))
                | (ExternType::Memory(_), Some(v @ Extern::Memory(_)))
                | (ExternType::Global(_), Some(v @ Extern::Global(_))) => v,
                (ExternType::Func(_), _) => return Err(wrong("callable")),
                (ExternType::Table(_), _) => return Err(wrong("a WebAssembly.Table")),
                (ExternType::Memory(_), _) => return Err(wrong("a WebAssembly.Memory")),
                (ExternType::Global(ty), value) => {
                    Extern::Global(host_global(&mut self.store, *ty, value.as_ref(), &what)?)
                }
            };
            read[at] = Some(extern_);
        }
        Ok(read.into_iter().flatten().collect())
    }
}

/// The order of a module's imports and exports as its binary gives them:
/// the JS API keeps it (`WebAssembly.Module.imports`, reading the imports,
/// `instance.exports`), wasmi 2's [`Module`] does not (it lists imports
/// grouped by kind, functions first, and exports by name).
struct BinaryOrder {
    /// Per import in the binary's order, its index in [`Module::imports`].
    imports: Vec<usize>,
    /// The export names, in the binary's order.
    exports: Vec<String>,
}

impl BinaryOrder {
    /// Reads the import and export sections of `bytes`, which compiled as
    /// `module`.
    fn read(bytes: &[u8], module: &Module) -> Result<BinaryOrder, Outcome> {
        let unreadable = |why: String| Outcome::OtherError {
            name: "Error".into(),
            message: format!("the adapter cannot read the module's import order: {why}"),
        };
        let mut kinds = Vec::new();
        let mut exports = Vec::new();
        for payload in wasmparser::Parser::new(0).parse_all(bytes) {
            match payload.map_err(|e| unreadable(e.to_string()))? {
                wasmparser::Payload::ImportSection(reader) => {
                    for import in reader.into_imports() {
                        let import = import.map_err(|e| unreadable(e.to_string()))?;
                        kinds.push((import.module, import.name, group(import.ty)));
                    }
                }
                wasmparser::Payload::ExportSection(reader) => {
                    for export in reader {
                        let export = export.map_err(|e| unreadable(e.to_string()))?;
                        exports.push(export.name.to_string());
                    }
                }
                wasmparser::Payload::CodeSectionStart { .. } => break,
                _ => {}
            }
        }
        // wasmi's groups follow one another, each in the binary's order.
        let mut next = [0; 5];
        for (_, _, kind) in &kinds {
            for later in next.iter_mut().skip(kind + 1) {
                *later += 1;
            }
        }
        let wasmi: Vec<_> = module.imports().collect();
        let mut imports = Vec::with_capacity(kinds.len());
        for (module_name, name, kind) in kinds {
            let at = next[kind];
            next[kind] += 1;
            match wasmi.get(at) {
                Some(i) if i.module() == module_name && i.name() == name => imports.push(at),
                _ => {
                    return Err(unreadable(format!(
                        "import \"{module_name}\" \"{name}\" is not where wasmi lists it"
                    )))
                }
            }
        }
        if imports.len() != wasmi.len() {
            return Err(unreadable(format!(
                "the binary has {} imports and wasmi lists {}",
                imports.len(),
                wasmi.len()
            )));
        }
        Ok(BinaryOrder { imports, exports })
    }
}

/// The group wasmi lists an import in: functions, tables, memories,
/// globals; tags last (wasmi compiles no module with one).
fn group(ty: wasmparser::TypeRef) -> usize {
    match ty {
        wasmparser::TypeRef::Func(_) | wasmparser::TypeRef::FuncExact(_) => 0,
        wasmparser::TypeRef::Table(_) => 1,
        wasmparser::TypeRef::Memory(_) => 2,
        wasmparser::TypeRef::Global(_) => 3,
        wasmparser::TypeRef::Tag(_) => 4,
    }
}

/// A global import given a value that is not a `WebAssembly.Global`:
/// `ToWebAssemblyValue` of it, as a new immutable global. Numbers and
/// BigInts need a `Global` here (the import object holds only instance
/// exports); an exported function converts to `funcref`, anything
/// (`undefined` included) to `externref`.
fn host_global(
    store: &mut Store<()>,
    ty: GlobalType,
    value: Option<&Extern>,
    what: &str,
) -> Result<Global, Outcome> {
    let given = js_name(value);
    let fail = |why: String| Outcome::LinkError {
        message: format!("{what}: {given} {why}"),
    };
    let converted = match (ty.content(), value) {
        (ValType::FuncRef, Some(Extern::Func(f))) => Val::FuncRef(Nullable::Val(*f)),
        (ValType::FuncRef, _) => {
            return Err(fail(
                "is not a WebAssembly.Global, and does not convert to funcref".into(),
            ))
        }
        (ValType::ExternRef, _) => Val::ExternRef(Nullable::Val(ExternRef::new(&mut *store, ()))),
        (ValType::I64, _) => {
            return Err(fail("is neither a WebAssembly.Global nor a BigInt".into()))
        }
        (ValType::I32 | ValType::F32 | ValType::F64, _) => {
            return Err(fail("is neither a WebAssembly.Global nor a Number".into()))
        }
        (ValType::V128, _) => {
            return Err(fail(
                "is not a WebAssembly.Global, and a v128 global needs one".into(),
            ))
        }
    };
    Ok(Global::new(store, converted, Mutability::Const))
}

/// A JS value of the import object, as messages name it.
fn js_name(value: Option<&Extern>) -> &'static str {
    match value {
        None => "undefined",
        Some(Extern::Func(_)) => "an exported function",
        Some(Extern::Table(_)) => "a WebAssembly.Table",
        Some(Extern::Memory(_)) => "a WebAssembly.Memory",
        Some(Extern::Global(_)) => "a WebAssembly.Global",
    }
}

/// The JS error a failed wasmi instantiation is: a link (type matching)
/// failure a `LinkError`; an element or data segment out of bounds, or a
/// trapping start function, a `RuntimeError`; a table or memory wasmi
/// cannot allocate a `RangeError`, as JS engines report it.
fn instantiation_error(error: Error) -> Outcome {
    let message = error.to_string();
    match error.kind() {
        ErrorKind::Instantiation(e) => match e {
            InstantiationError::MismatchedNumberOfImports { .. }
            | InstantiationError::ImportTypeMismatch { .. }
            | InstantiationError::GlobalTypeMismatch { .. }
            | InstantiationError::FuncTypeMismatch { .. }
            | InstantiationError::TableTypeMismatch { .. }
            | InstantiationError::MemoryTypeMismatch { .. } => Outcome::LinkError { message },
            InstantiationError::ElementSegmentDoesNotFit { .. } => {
                Outcome::RuntimeError { message }
            }
            InstantiationError::TooManyInstances
            | InstantiationError::TooManyTables
            | InstantiationError::TooManyMemories
            | InstantiationError::FailedToInstantiateMemory(_)
            | InstantiationError::FailedToInstantiateTable(_) => Outcome::OtherError {
                name: "RangeError".into(),
                message,
            },
            InstantiationError::UnexpectedStartFn { .. } => Outcome::OtherError {
                name: "Error".into(),
                message,
            },
        },
        ErrorKind::Linker(_) => Outcome::LinkError { message },
        // Segment initialization (`table.init`, a data write) out of
        // bounds, or a trap in the start function.
        ErrorKind::TrapCode(_) | ErrorKind::Table(_) | ErrorKind::Memory(_) => {
            Outcome::RuntimeError { message }
        }
        _ => Outcome::OtherError {
            name: "Error".into(),
            message,
        },
    }
}

/// What JS observes of `instance`'s exports without calling them, in the
/// module's export order: each function's parameter count, each table's
/// size, each memory's byte length, each global's value kind and
/// mutability.
fn instance_fingerprint(
    store: &Store<()>,
    order: &BinaryOrder,
    instance: Instance,
) -> InstanceFingerprint {
    let exports = order
        .exports
        .iter()
        .filter_map(|name| Some((name, instance.get_export(store, name)?)))
        .map(|(name, export)| {
            let mut described = InstanceExport {
                name: name.clone(),
                kind: kind(&export.ty(store)).into(),
                length: None,
                byte_length: None,
                value: None,
                mutable: None,
            };
            match export {
                Extern::Func(f) => described.length = Some(f.ty(store).params().len() as u64),
                Extern::Table(t) => described.length = Some(t.size(store)),
                Extern::Memory(m) => described.byte_length = Some(m.data_size(store) as u64),
                Extern::Global(g) => {
                    let ty = g.ty(store);
                    let value = match ty.content() {
                        ValType::I32 | ValType::F32 | ValType::F64 => "number",
                        ValType::I64 => "bigint",
                        ValType::FuncRef | ValType::ExternRef => "reference",
                        ValType::V128 => "unrepresentable",
                    };
                    described.mutable =
                        (value != "unrepresentable").then(|| ty.mutability().is_mut());
                    described.value = Some(value.into());
                }
            }
            described
        })
        .collect();
    InstanceFingerprint { exports }
}
