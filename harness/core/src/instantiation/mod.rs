//! The reference backend's instantiation: an executable model of the JS
//! API's "instantiate a promise of a module" after the compile, in the
//! spec's order: read the imports and link them, evaluate the constant
//! expressions, apply the active element then data segments, run the start
//! function, and describe the exports.
//!
//! An import object of named instances ([`ImportObject::Instances`]) is
//! modelled by instantiating each named module with the model itself (see
//! [`link`]); what it exports is what the case's imports link against.
//!
//! The model runs no code. A start function is decided only when a small
//! static analysis proves what it does (see [`run_start`]); otherwise the
//! module is undecidable, reported as not applicable, never guessed.

mod builtins;
mod link;

pub(crate) use builtins::{validate as validate_builtins, CompiledWith, Validated};

use crate::features::{error_message, validate_payload, wasm_features, Features};
use crate::imports::ImportObject;
use crate::outcome::{
    export_kind, Fingerprint, InstanceExport, InstanceFingerprint, Outcome, OutcomeClass,
};
use crate::scenario::OptionsDictionary;
use link::{
    read_imports, DefType, Environment, Extern, FuncExtern, FuncRef, GlobalExtern, Linked,
    MemoryExtern, TableExtern, BUILTIN, HOST, HOST_CONSTRUCTOR, HOST_RETURNS, HOST_THROWS,
};
use wasmparser::{
    AbstractHeapType, ConstExpr, Data, DataKind, Element, ElementItems, ElementKind, Export,
    ExternalKind, FuncValidatorAllocations, FunctionBody, GlobalType, HeapType, MemoryType,
    Operator, Parser, Payload, TableInit, TableType, TypeRef, ValType, Validator,
};

/// How deep the start analysis follows direct calls.
const MAX_CALL_DEPTH: usize = 8;

/// The error name of an outcome the model cannot give (it was asked about
/// a module it declared not applicable).
const MODEL_ERROR: &str = "ReferenceModel";

/// Instantiates after a compile: only a compiled module goes on, and its
/// fingerprint is the instance's `module`. `bytes` are the whole module.
///
/// The import object is built before anything else (the JS driver builds
/// it before the call): an environment the model cannot build makes any
/// outcome the model's error.
pub(crate) fn after_compile(
    compiled: Outcome,
    bytes: &[u8],
    features: &Features,
    imports: &ImportObject,
) -> Outcome {
    after_compile_reading(compiled, bytes, features, imports, None).0
}

/// [`after_compile`], with the reads of a declared import object in
/// order (`None` for an import object of another kind).
pub(crate) fn after_compile_reading(
    compiled: Outcome,
    bytes: &[u8],
    features: &Features,
    imports: &ImportObject,
    options: Option<&OptionsDictionary>,
) -> (Outcome, Option<Vec<String>>) {
    if refused_at_the_call(imports) {
        let message = "the import object is neither an object nor undefined".to_string();
        return (Outcome::TypeError { message }, Some(Vec::new()));
    }
    let mut env = match Environment::build(imports, features) {
        Ok(env) => env,
        Err(reason) => return (model_error(reason), None),
    };
    env.with = CompiledWith::from(options);
    let outcome = match compiled {
        Outcome::Module { fingerprint } => match Module::parse(bytes) {
            Ok(module) => instantiate(&module, fingerprint, &env),
            Err(e) => model_error(format!("cannot read the compiled module: {}", e.message())),
        },
        compiled => compiled,
    };
    let reads = matches!(imports, ImportObject::Declared(_)).then(|| env.reads.take());
    (outcome, reads)
}

/// Whether WebIDL refuses the import object at the call (`optional
/// object`: a primitive other than `undefined`), before anything else.
pub(crate) fn refused_at_the_call(imports: &ImportObject) -> bool {
    matches!(imports, ImportObject::Declared(d) if !d.value.is_object() && !d.value.is_undefined())
}

/// The class of a one-shot `WebAssembly.instantiate(bytes, imports)` as
/// the model decides it (a module that does not compile: `CompileError`),
/// or why the model cannot decide it: the import object is not one the
/// model can build, a linking question it cannot answer, a start function
/// it cannot prove.
pub(crate) fn decide(
    bytes: &[u8],
    features: &Features,
    imports: &ImportObject,
    options: Option<&OptionsDictionary>,
) -> Result<OutcomeClass, String> {
    if refused_at_the_call(imports) {
        return Ok(OutcomeClass::TypeError);
    }
    let mut env = Environment::build(imports, features)?;
    env.with = CompiledWith::from(options);
    let Ok(module) = compile(bytes, features) else {
        return Ok(OutcomeClass::CompileError);
    };
    if let Some(options) = options {
        match validate_builtins(bytes, options) {
            Validated::Valid => {}
            Validated::Invalid(_) => return Ok(OutcomeClass::CompileError),
            Validated::Undecidable(why) => return Err(why),
        }
    }
    match run(&module, &env) {
        Ok(_) => Ok(OutcomeClass::Instance),
        Err(Stop::Rejected(outcome)) => Ok(outcome.class()),
        Err(Stop::Undecidable(reason)) => Err(reason),
    }
}

/// Validates `bytes` with `features` and reads what the model needs, in one
/// pass; `Err` is the compile error's message.
fn compile<'a>(bytes: &'a [u8], features: &Features) -> Result<Module<'a>, String> {
    let mut validator = Validator::new_with_features(wasm_features(features));
    let mut allocs = FuncValidatorAllocations::default();
    let mut module = Module::default();
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| error_message(&e))?;
        let done = validate_payload(&mut validator, &payload, &mut allocs)
            .map_err(|e| error_message(&e))?;
        module.add(payload).map_err(|e| error_message(&e))?;
        if done {
            return Ok(module);
        }
    }
    Err("unexpected end of module".into())
}

fn instantiate(module: &Module<'_>, fingerprint: Fingerprint, env: &Environment<'_>) -> Outcome {
    match run(module, env) {
        Ok(instance) => Outcome::Instance {
            module: fingerprint,
            instance: instance.fingerprint,
        },
        Err(Stop::Rejected(outcome)) => outcome,
        Err(Stop::Undecidable(reason)) => model_error(reason),
    }
}

fn model_error(message: String) -> Outcome {
    Outcome::OtherError {
        name: MODEL_ERROR.into(),
        message,
    }
}

/// Why instantiation stopped before an instance.
#[derive(Debug)]
enum Stop {
    /// The spec rejects: a `TypeError`, a `LinkError`, a `RuntimeError`.
    Rejected(Outcome),
    /// The model cannot tell what an engine must do.
    Undecidable(String),
}

fn runtime_error(message: String) -> Stop {
    Stop::Rejected(Outcome::RuntimeError { message })
}

/// What instantiating a module gives: what a JS driver reads of the
/// instance, and what a later module links against.
#[derive(Debug)]
struct Instance {
    fingerprint: InstanceFingerprint,
    /// The exports by name, as the store holds them.
    exports: Vec<(String, Extern)>,
    /// Where each imported function's code is.
    imported_functions: Vec<FuncRef>,
}

/// The model's steps, in the spec's order, for `module` as the instance
/// after `env`'s.
fn run(module: &Module<'_>, env: &Environment<'_>) -> Result<Instance, Stop> {
    let linked = read_imports(module, env)?;
    let globals = evaluate_constants(module, &linked)?;
    let store = Store::allocate(module, &linked, globals);
    apply_element_segments(module, &store)?;
    apply_data_segments(module, &store)?;
    let program = Program {
        env,
        module,
        linked: &linked,
    };
    if let Ending::Traps(message) = run_start(&program)? {
        return Err(runtime_error(message));
    }
    let fingerprint = describe_exports(module, &store)?;
    let exports = module
        .exports
        .iter()
        .map(|export| {
            let provided = export_extern(module, &linked, &store, env.instances.len(), export)?;
            Ok((export.name.to_string(), provided))
        })
        .collect::<Result<_, Stop>>()?;
    Ok(Instance {
        fingerprint,
        exports,
        imported_functions: linked.functions.iter().map(|f| f.at).collect(),
    })
}

/// What the model needs of a module, in its index spaces
/// (imported items first, as in the binary format).
#[derive(Default)]
struct Module<'a> {
    /// Per type index, its definition.
    types: Vec<DefType>,
    imports: Vec<wasmparser::Import<'a>>,
    /// Per function index, its type index.
    functions: Vec<u32>,
    imported_functions: usize,
    tables: Vec<TableType>,
    table_inits: Vec<ConstExpr<'a>>,
    memories: Vec<MemoryType>,
    /// Per global index, its type and (defined globals) its initializer.
    globals: Vec<(GlobalType, Option<ConstExpr<'a>>)>,
    /// Per tag index, its function type's index.
    tags: Vec<u32>,
    exports: Vec<Export<'a>>,
    start: Option<u32>,
    elements: Vec<Element<'a>>,
    data: Vec<Data<'a>>,
    /// Bodies of the defined functions, in order.
    bodies: Vec<FunctionBody<'a>>,
}

impl<'a> Module<'a> {
    /// Reads a module that already compiled (so it is well-formed and
    /// valid; an error here is the model's, not the module's).
    fn parse(bytes: &'a [u8]) -> wasmparser::Result<Module<'a>> {
        let mut module = Module::default();
        for payload in Parser::new(0).parse_all(bytes) {
            module.add(payload?)?;
        }
        Ok(module)
    }

    fn add(&mut self, payload: Payload<'a>) -> wasmparser::Result<()> {
        match payload {
            Payload::TypeSection(reader) => {
                for group in reader {
                    let group = group?;
                    let alone = group.types().len() == 1;
                    for sub in group.into_types() {
                        self.types.push(DefType { sub, alone });
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    self.add_import(import?);
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    self.functions.push(ty?);
                }
            }
            Payload::TableSection(reader) => {
                for table in reader {
                    let table = table?;
                    self.tables.push(table.ty);
                    if let TableInit::Expr(init) = table.init {
                        self.table_inits.push(init);
                    }
                }
            }
            Payload::MemorySection(reader) => {
                for memory in reader {
                    self.memories.push(memory?);
                }
            }
            Payload::TagSection(reader) => {
                for tag in reader {
                    self.tags.push(tag?.func_type_idx);
                }
            }
            Payload::GlobalSection(reader) => {
                for global in reader {
                    let global = global?;
                    self.globals.push((global.ty, Some(global.init_expr)));
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    self.exports.push(export?);
                }
            }
            Payload::StartSection { func, .. } => self.start = Some(func),
            Payload::ElementSection(reader) => {
                for element in reader {
                    self.elements.push(element?);
                }
            }
            Payload::DataSection(reader) => {
                for data in reader {
                    self.data.push(data?);
                }
            }
            Payload::CodeSectionEntry(body) => self.bodies.push(body),
            _ => {}
        }
        Ok(())
    }

    fn add_import(&mut self, import: wasmparser::Import<'a>) {
        match import.ty {
            TypeRef::Func(ty) | TypeRef::FuncExact(ty) => {
                self.functions.push(ty);
                self.imported_functions += 1;
            }
            TypeRef::Table(ty) => self.tables.push(ty),
            TypeRef::Memory(ty) => self.memories.push(ty),
            TypeRef::Global(ty) => self.globals.push((ty, None)),
            TypeRef::Tag(ty) => self.tags.push(ty.func_type_idx),
        }
        self.imports.push(import);
    }

    /// A type by its index.
    fn def_type(&self, index: u32) -> Result<&DefType, Stop> {
        self.types
            .get(index as usize)
            .ok_or_else(|| Stop::Undecidable(format!("type {index} is not in the module")))
    }

    /// A function's type.
    fn function_type(&self, function: u32) -> Result<&DefType, Stop> {
        let ty = self.functions.get(function as usize).ok_or_else(|| {
            Stop::Undecidable(format!("function {function} is not in the module"))
        })?;
        self.def_type(*ty)
    }

    /// A function's parameter count (its JS `length`).
    fn param_count(&self, function: u32) -> Option<usize> {
        self.function_type(function).ok()?.param_count()
    }

    /// A defined function's body; `None` for an imported one.
    fn body(&self, function: u32) -> Option<&FunctionBody<'a>> {
        let defined = (function as usize).checked_sub(self.imported_functions)?;
        self.bodies.get(defined)
    }
}

// ---------------------------------------------------------------------
// Step 1, reading the imports and linking them, is in `link`: what an
// `Omitted` import object or each named instance provides, as a
// [`Linked`].
// ---------------------------------------------------------------------
// Step 2: constant expressions, then the segments.

/// An integer the model computed: what segment offsets and the globals
/// they read are made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum IntValue {
    I32(i32),
    I64(i64),
}

impl IntValue {
    /// As an offset: an address or index is unsigned.
    fn unsigned(self) -> u64 {
        match self {
            IntValue::I32(v) => u64::from(v as u32),
            IntValue::I64(v) => v as u64,
        }
    }
}

/// Evaluates every constant expression instantiation evaluates, in the
/// spec's order: globals, table initializers, element items. Gives each
/// global's integer value where the model knows it (imported and
/// non-integer globals: `None`).
fn evaluate_constants(module: &Module<'_>, linked: &Linked) -> Result<Vec<Option<IntValue>>, Stop> {
    let mut values: Vec<Option<IntValue>> = linked.globals.iter().map(|g| g.value).collect();
    for (index, (ty, init)) in module.globals.iter().enumerate().skip(values.len()) {
        let what = || format!("global {index}");
        let init = init
            .as_ref()
            .ok_or_else(|| Stop::Undecidable(format!("{} has no value", what())))?;
        let value = match ty.content_type {
            ValType::I32 | ValType::I64 => evaluate_int(init, &values, &what)?,
            _ => check_allocating_expr(init, &what).map(|()| None)?,
        };
        values.push(value);
    }
    for (index, init) in module.table_inits.iter().enumerate() {
        check_allocating_expr(init, &|| format!("the initializer of table {index}"))?;
    }
    for (index, element) in module.elements.iter().enumerate() {
        if let ElementItems::Expressions(_, items) = &element.items {
            let what = || format!("element segment {index}");
            for item in items.clone() {
                check_allocating_expr(&item.map_err(read_error)?, &what)?;
            }
        }
    }
    Ok(values)
}

/// An integer constant expression: `i32.const`, `i64.const`, `global.get`
/// of an earlier global, and extended-const add/sub/mul (wrapping).
/// `Ok(None)` when it reads a global whose value the model does not know.
fn evaluate_int(
    expr: &ConstExpr<'_>,
    globals: &[Option<IntValue>],
    what: &dyn Fn() -> String,
) -> Result<Option<IntValue>, Stop> {
    let mut stack: Vec<Option<IntValue>> = Vec::new();
    let mut reader = expr.get_operators_reader();
    loop {
        let (op, offset) = reader.read_with_offset().map_err(read_error)?;
        let value = match op {
            Operator::I32Const { value } => Some(IntValue::I32(value)),
            Operator::I64Const { value } => Some(IntValue::I64(value)),
            Operator::GlobalGet { global_index } => {
                globals.get(global_index as usize).copied().ok_or_else(|| {
                    Stop::Undecidable(format!(
                        "{} reads global {global_index} before it is defined",
                        what()
                    ))
                })?
            }
            Operator::End => {
                return match stack.as_slice() {
                    [value] => Ok(*value),
                    _ => Err(Stop::Undecidable(format!(
                        "{} leaves {} values",
                        what(),
                        stack.len()
                    ))),
                };
            }
            op if is_extended_const(&op) => {
                let (Some(b), Some(a)) = (stack.pop(), stack.pop()) else {
                    return Err(not_evaluated(&op, offset, what));
                };
                match (a, b) {
                    (Some(a), Some(b)) => Some(
                        int_binary(&op, a, b).ok_or_else(|| not_evaluated(&op, offset, what))?,
                    ),
                    _ => None,
                }
            }
            op => return Err(not_evaluated(&op, offset, what)),
        };
        stack.push(value);
    }
}

fn is_extended_const(op: &Operator<'_>) -> bool {
    matches!(
        op,
        Operator::I32Add
            | Operator::I32Sub
            | Operator::I32Mul
            | Operator::I64Add
            | Operator::I64Sub
            | Operator::I64Mul
    )
}

/// Extended-const arithmetic, wrapping; `None` when the operand types do
/// not fit the operator.
fn int_binary(op: &Operator<'_>, a: IntValue, b: IntValue) -> Option<IntValue> {
    use IntValue::{I32, I64};
    Some(match (op, a, b) {
        (Operator::I32Add, I32(a), I32(b)) => I32(a.wrapping_add(b)),
        (Operator::I32Sub, I32(a), I32(b)) => I32(a.wrapping_sub(b)),
        (Operator::I32Mul, I32(a), I32(b)) => I32(a.wrapping_mul(b)),
        (Operator::I64Add, I64(a), I64(b)) => I64(a.wrapping_add(b)),
        (Operator::I64Sub, I64(a), I64(b)) => I64(a.wrapping_sub(b)),
        (Operator::I64Mul, I64(a), I64(b)) => I64(a.wrapping_mul(b)),
        _ => return None,
    })
}

fn not_evaluated(op: &Operator<'_>, offset: u64, what: &dyn Fn() -> String) -> Stop {
    Stop::Undecidable(format!(
        "the reference model does not evaluate {} in the constant expression of {} (at offset {offset:#x})",
        operator_name(op),
        what()
    ))
}

/// A non-integer constant expression: its value is not needed, only that
/// evaluating it cannot fail. `array.new` and `array.new_default` allocate
/// a length the module chooses, and whether that fits is the engine's; the
/// descriptor allocations trap on a null descriptor. Those, and any
/// operator not listed, are undecidable.
fn check_allocating_expr(expr: &ConstExpr<'_>, what: &dyn Fn() -> String) -> Result<(), Stop> {
    for op in expr.get_operators_reader().into_iter_with_offsets() {
        let (op, offset) = op.map_err(read_error)?;
        let evaluable = matches!(
            op,
            Operator::I32Const { .. }
                | Operator::I64Const { .. }
                | Operator::F32Const { .. }
                | Operator::F64Const { .. }
                | Operator::V128Const { .. }
                | Operator::RefNull { .. }
                | Operator::RefFunc { .. }
                | Operator::GlobalGet { .. }
                | Operator::I32Add
                | Operator::I32Sub
                | Operator::I32Mul
                | Operator::I64Add
                | Operator::I64Sub
                | Operator::I64Mul
                | Operator::RefI31
                | Operator::StructNew { .. }
                | Operator::StructNewDefault { .. }
                | Operator::ArrayNewFixed { .. }
                | Operator::AnyConvertExtern
                | Operator::ExternConvertAny
                | Operator::End
        );
        if !evaluable {
            return Err(not_evaluated(&op, offset, what));
        }
    }
    Ok(())
}

fn read_error(e: wasmparser::BinaryReaderError) -> Stop {
    Stop::Undecidable(format!(
        "the reference model cannot read the module: {}",
        e.message()
    ))
}

/// The instance's tables, memories and integer globals as instantiation
/// leaves them before the start function (which the model proves cannot
/// change them).
struct Store {
    table_sizes: Vec<Option<u64>>,
    memory_bytes: Vec<Option<u128>>,
    globals: Vec<Option<IntValue>>,
}

impl Store {
    fn allocate(module: &Module<'_>, linked: &Linked, globals: Vec<Option<IntValue>>) -> Store {
        let imported_tables = linked.tables.iter().map(|t| Some(t.size));
        let defined_tables = module.tables.iter().skip(linked.tables.len());
        let table_sizes = imported_tables
            .chain(defined_tables.map(|t| Some(t.initial)))
            .collect();
        let imported_memories = linked.memories.iter().map(|m| Some(m.bytes()));
        let defined_memories = module.memories.iter().skip(linked.memories.len());
        let memory_bytes = imported_memories
            .chain(defined_memories.map(|m| Some(initial_bytes(m))))
            .collect();
        Store {
            table_sizes,
            memory_bytes,
            globals,
        }
    }

    /// An active segment's offset, unsigned.
    fn offset(&self, expr: &ConstExpr<'_>, what: &dyn Fn() -> String) -> Result<u128, Stop> {
        match evaluate_int(expr, &self.globals, what)? {
            Some(value) => Ok(u128::from(value.unsigned())),
            None => Err(Stop::Undecidable(format!(
                "the offset of {} reads a global whose value the reference model does not know",
                what()
            ))),
        }
    }
}

/// A memory's initial size in bytes (custom-page-sizes may shrink a page).
fn initial_bytes(memory: &MemoryType) -> u128 {
    let page_size = 1u128 << memory.page_size_log2.unwrap_or(16);
    u128::from(memory.initial) * page_size
}

fn size_of<T: Copy>(sizes: &[Option<T>], index: u32, what: impl Fn() -> String) -> Result<T, Stop> {
    sizes.get(index as usize).copied().flatten().ok_or_else(|| {
        Stop::Undecidable(format!(
            "the reference model does not know the size of {}",
            what()
        ))
    })
}

/// Each active element segment in order, as `table.init`: out of bounds
/// traps and stops instantiation.
fn apply_element_segments(module: &Module<'_>, store: &Store) -> Result<(), Stop> {
    for (index, element) in module.elements.iter().enumerate() {
        let ElementKind::Active {
            table_index,
            offset_expr,
        } = &element.kind
        else {
            continue;
        };
        let what = || format!("element segment {index}");
        let table = table_index.unwrap_or(0);
        let offset = store.offset(offset_expr, &what)?;
        let count = match &element.items {
            ElementItems::Functions(items) => items.count(),
            ElementItems::Expressions(_, items) => items.count(),
        };
        let size = size_of(&store.table_sizes, table, || format!("table {table}"))?;
        if offset + u128::from(count) > u128::from(size) {
            return Err(runtime_error(format!(
                "element segment {index} is out of bounds: offset {offset} + {count} elements > table {table} size {size}"
            )));
        }
    }
    Ok(())
}

/// Each active data segment in order, as `memory.init`.
fn apply_data_segments(module: &Module<'_>, store: &Store) -> Result<(), Stop> {
    for (index, data) in module.data.iter().enumerate() {
        let DataKind::Active {
            memory_index,
            offset_expr,
        } = &data.kind
        else {
            continue;
        };
        let what = || format!("data segment {index}");
        let offset = store.offset(offset_expr, &what)?;
        let len = data.data.len();
        let bytes = size_of(&store.memory_bytes, *memory_index, || {
            format!("memory {memory_index}")
        })?;
        if offset + len as u128 > bytes {
            return Err(runtime_error(format!(
                "data segment {index} is out of bounds: offset {offset} + {len} bytes > memory {memory_index} size {bytes} bytes"
            )));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------
// Step 3: the start function.

/// How a function the model walked ends.
#[derive(Debug, PartialEq, Eq)]
enum Ending {
    Returns,
    /// Reaches `unreachable`: the message says where.
    Traps(String),
    /// Calls a JS function that throws: the rejection passes its error
    /// through.
    Throws,
    /// Calling a JS function throws a `TypeError` of the JS API's or
    /// WebIDL's own (a signature JS cannot hold, a constructor called
    /// without `new`): the rejection is that `TypeError`.
    TypeError(String),
}

/// The module being instantiated, after the instances of its environment:
/// the code a start function may reach.
struct Program<'m, 'a> {
    env: &'m Environment<'a>,
    module: &'m Module<'a>,
    linked: &'m Linked,
}

impl<'a> Program<'_, 'a> {
    /// The instance index of the module being instantiated.
    fn this(&self) -> usize {
        self.env.instances.len()
    }

    fn module(&self, instance: usize) -> &Module<'a> {
        match self.env.instances.get(instance) {
            Some(named) => &named.module,
            None => self.module,
        }
    }

    /// Where the code of `instance`'s function `function` is: its own, or,
    /// for an import, the function it was linked to.
    fn resolve(&self, instance: usize, function: u32) -> Option<FuncRef> {
        if (function as usize) >= self.module(instance).imported_functions {
            return Some(FuncRef { instance, function });
        }
        let imported = match self.env.instances.get(instance) {
            Some(named) => named
                .instance
                .imported_functions
                .get(function as usize)
                .copied(),
            None => self.linked.functions.get(function as usize).map(|f| f.at),
        };
        imported
    }

    /// A function, as messages name it.
    fn name(&self, f: FuncRef) -> String {
        if f.instance == HOST {
            return "a JS function of the import object".into();
        }
        if f.instance == BUILTIN {
            return "a builtin function of the compile options".into();
        }
        match self.env.instances.get(f.instance) {
            Some(named) => format!("function {} of namespace \"{}\"", f.function, named.name),
            None => format!("function {}", f.function),
        }
    }
}

/// The start function, decided by a static walk (see [`Walker`]).
fn run_start(program: &Program<'_, '_>) -> Result<Ending, Stop> {
    let Some(start) = program.module.start else {
        return Ok(Ending::Returns);
    };
    let mut walker = Walker {
        program,
        calls: Vec::new(),
        budget: MAX_WALKED_OPERATORS,
    };
    let walked = match program.resolve(program.this(), start) {
        Some(target) => walker.call(target).map_err(|why| {
            if target.instance == program.this() {
                why
            } else {
                format!("is {}, which {why}", program.name(target))
            }
        }),
        None => {
            Err("is imported, and the reference model does not know what it is linked to".into())
        }
    };
    match walked {
        Ok(Ending::Returns) => Ok(Ending::Returns),
        Ok(Ending::Throws) => Err(Stop::Rejected(Outcome::PassedThrough)),
        Ok(Ending::TypeError(message)) => Err(Stop::Rejected(Outcome::TypeError { message })),
        Ok(Ending::Traps(place)) => Ok(Ending::Traps(format!(
            "start function {start} reaches unreachable {place}"
        ))),
        Err(why) => Err(Stop::Undecidable(format!(
            "the reference model does not run code, and start function {start} {why}"
        ))),
    }
}

/// How many operators the start analysis reads in all: repeated calls
/// are walked again each time, so without a bound nested calls cost
/// exponential time.
const MAX_WALKED_OPERATORS: usize = 100_000;

/// Walks a function's code in order, following direct calls of defined
/// functions, and of imported ones into the environment's instance that
/// defines them. It decides only straight-line code of operators that
/// cannot trap and change nothing the instance fingerprint (or a size or
/// value linking reads) shows, plus `unreachable`; `Err` says what else it
/// met.
struct Walker<'p, 'm, 'a> {
    program: &'p Program<'m, 'a>,
    /// The call chain down to the function being walked.
    calls: Vec<FuncRef>,
    /// Operators left to read.
    budget: usize,
}

impl Walker<'_, '_, '_> {
    fn walk(&mut self, function: FuncRef) -> Result<Ending, String> {
        let body = self
            .program
            .module(function.instance)
            .body(function.function)
            .ok_or_else(|| format!("{} has no code", self.program.name(function)))?;
        let mut reader = body
            .get_operators_reader()
            .map_err(|e| e.message().to_string())?;
        loop {
            let (op, offset) = reader
                .read_with_offset()
                .map_err(|e| e.message().to_string())?;
            self.budget = self.budget.checked_sub(1).ok_or_else(|| {
                format!("needs more than {MAX_WALKED_OPERATORS} operators walked")
            })?;
            match op {
                Operator::Unreachable => {
                    return Ok(Ending::Traps(format!(
                        "at offset {offset:#x} in {}",
                        self.program.name(function)
                    )))
                }
                // Without blocks, the only `end` is the function's own.
                Operator::End => return Ok(Ending::Returns),
                Operator::Call { function_index } => {
                    let callee = self.program.resolve(function.instance, function_index);
                    if callee.is_some_and(|c| c.instance == HOST) {
                        let ty = self
                            .program
                            .module(function.instance)
                            .function_type(function_index)
                            .map_err(|_| format!("calls function {function_index}, of no type"))?;
                        let wasmparser::CompositeInnerType::Func(f) = &ty.sub.composite_type.inner
                        else {
                            return Err(format!(
                                "calls function {function_index}, whose type is not a function type"
                            ));
                        };
                        // "Run a host function": a signature JS cannot
                        // hold is a TypeError before the JS function runs.
                        let no_js_value = |t: &ValType| js_value_kind(*t) == UNREPRESENTABLE;
                        if f.params().iter().chain(f.results()).any(no_js_value) {
                            return Ok(Ending::TypeError(format!(
                                "start calls JS function {function_index}, whose type has a v128 or exnref"
                            )));
                        }
                        let returns = callee.is_some_and(|c| c.function == HOST_RETURNS);
                        if returns && !f.results().is_empty() {
                            return Err(format!("calls function {function_index}, a JS function whose result `undefined` the reference model does not convert"));
                        }
                    }
                    let ending = match callee {
                        Some(callee) => self.call(callee),
                        None => Err("is imported, and the reference model does not know what it is linked to".into()),
                    };
                    let ending = ending.map_err(|why| match callee {
                        Some(callee) if callee.instance != function.instance => format!(
                            "calls function {function_index}, {}, which {why}",
                            self.program.name(callee)
                        ),
                        _ => format!("calls function {function_index}, which {why}"),
                    })?;
                    if ending != Ending::Returns {
                        return Ok(ending);
                    }
                }
                op if is_inert(&op) => {}
                op => return Err(format!("uses {} at offset {offset:#x}", operator_name(&op))),
            }
        }
    }

    fn call(&mut self, callee: FuncRef) -> Result<Ending, String> {
        if callee.instance == BUILTIN {
            return Err("is a builtin, which the reference model does not run".into());
        }
        if callee.instance == HOST {
            // A JS function of a declared import object: it throws, or
            // returns `undefined` (callers check that the function's type
            // has no results to convert it to).
            return Ok(match callee.function {
                HOST_THROWS => Ending::Throws,
                HOST_CONSTRUCTOR => Ending::TypeError(
                    "start calls a WebAssembly constructor, which throws without `new`".into(),
                ),
                _ => Ending::Returns,
            });
        }
        if self.calls.contains(&callee) {
            return Err("is recursive".into());
        }
        if self.calls.len() >= MAX_CALL_DEPTH {
            return Err(format!("nests calls deeper than {MAX_CALL_DEPTH}"));
        }
        self.calls.push(callee);
        let ending = self.walk(callee);
        self.calls.pop();
        ending
    }
}

/// Operators that cannot trap and change nothing an instance fingerprint
/// shows: no control flow, memory, tables or calls; integer division and
/// trapping float-to-int truncation are left out.
fn is_inert(op: &Operator<'_>) -> bool {
    use Operator::*;
    matches!(
        op,
        Nop | Drop
            | Select
            | TypedSelect { .. }
            | LocalGet { .. }
            | LocalSet { .. }
            | LocalTee { .. }
            | GlobalGet { .. }
            | GlobalSet { .. }
            | I32Const { .. }
            | I64Const { .. }
            | F32Const { .. }
            | F64Const { .. }
            | V128Const { .. }
            | RefNull { .. }
            | RefIsNull
            | RefFunc { .. }
    ) || is_non_trapping_numeric(op)
}

/// Scalar numeric operators that cannot trap.
fn is_non_trapping_numeric(op: &Operator<'_>) -> bool {
    use Operator::*;
    matches!(
        op,
        I32Eqz
            | I32Eq
            | I32Ne
            | I32LtS
            | I32LtU
            | I32GtS
            | I32GtU
            | I32LeS
            | I32LeU
            | I32GeS
            | I32GeU
            | I64Eqz
            | I64Eq
            | I64Ne
            | I64LtS
            | I64LtU
            | I64GtS
            | I64GtU
            | I64LeS
            | I64LeU
            | I64GeS
            | I64GeU
            | F32Eq
            | F32Ne
            | F32Lt
            | F32Gt
            | F32Le
            | F32Ge
            | F64Eq
            | F64Ne
            | F64Lt
            | F64Gt
            | F64Le
            | F64Ge
            | I32Clz
            | I32Ctz
            | I32Popcnt
            | I32Add
            | I32Sub
            | I32Mul
            | I32And
            | I32Or
            | I32Xor
            | I32Shl
            | I32ShrS
            | I32ShrU
            | I32Rotl
            | I32Rotr
            | I64Clz
            | I64Ctz
            | I64Popcnt
            | I64Add
            | I64Sub
            | I64Mul
            | I64And
            | I64Or
            | I64Xor
            | I64Shl
            | I64ShrS
            | I64ShrU
            | I64Rotl
            | I64Rotr
            | F32Abs
            | F32Neg
            | F32Ceil
            | F32Floor
            | F32Trunc
            | F32Nearest
            | F32Sqrt
            | F32Add
            | F32Sub
            | F32Mul
            | F32Div
            | F32Min
            | F32Max
            | F32Copysign
            | F64Abs
            | F64Neg
            | F64Ceil
            | F64Floor
            | F64Trunc
            | F64Nearest
            | F64Sqrt
            | F64Add
            | F64Sub
            | F64Mul
            | F64Div
            | F64Min
            | F64Max
            | F64Copysign
            | I32WrapI64
            | I64ExtendI32S
            | I64ExtendI32U
            | F32ConvertI32S
            | F32ConvertI32U
            | F32ConvertI64S
            | F32ConvertI64U
            | F32DemoteF64
            | F64ConvertI32S
            | F64ConvertI32U
            | F64ConvertI64S
            | F64ConvertI64U
            | F64PromoteF32
            | I32ReinterpretF32
            | I64ReinterpretF64
            | F32ReinterpretI32
            | F64ReinterpretI64
            | I32Extend8S
            | I32Extend16S
            | I64Extend8S
            | I64Extend16S
            | I64Extend32S
            | I32TruncSatF32S
            | I32TruncSatF32U
            | I32TruncSatF64S
            | I32TruncSatF64U
            | I64TruncSatF32S
            | I64TruncSatF32U
            | I64TruncSatF64S
            | I64TruncSatF64U
            | I64Add128
            | I64Sub128
            | I64MulWideS
            | I64MulWideU
    )
}

/// An operator's name in the text format's style, from wasmparser's
/// variant name: `I32Load` → `i32.load`, `MemoryGrow` → `memory.grow`,
/// `BrIf` → `br_if`.
fn operator_name(op: &Operator<'_>) -> String {
    const PREFIXES: &[&str] = &[
        "i32", "i64", "f32", "f64", "v128", "i8x16", "i16x8", "i32x4", "i64x2", "f32x4", "f64x2",
        "local", "global", "memory", "table", "ref", "struct", "array", "elem", "data", "any",
        "extern", "i31",
    ];
    let debug = format!("{op:?}");
    let variant: String = debug
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    let mut words: Vec<String> = Vec::new();
    for c in variant.chars() {
        if c.is_ascii_uppercase() || words.is_empty() {
            words.push(String::new());
        }
        words.last_mut().unwrap().push(c.to_ascii_lowercase());
    }
    match words.split_first() {
        Some((first, rest)) if PREFIXES.contains(&first.as_str()) && !rest.is_empty() => {
            format!("{first}.{}", rest.join("_"))
        }
        _ => words.join("_"),
    }
}

// ---------------------------------------------------------------------
// Step 4: the exports, as a JS driver reads them.

fn describe_exports(module: &Module<'_>, store: &Store) -> Result<InstanceFingerprint, Stop> {
    let exports = module
        .exports
        .iter()
        .map(|export| describe_export(module, store, export))
        .collect::<Result<_, _>>()?;
    Ok(InstanceFingerprint { exports })
}

fn describe_export(
    module: &Module<'_>,
    store: &Store,
    export: &Export<'_>,
) -> Result<InstanceExport, Stop> {
    let index = export.index;
    let mut described = InstanceExport {
        name: export.name.into(),
        kind: export_kind(export.kind).into(),
        length: None,
        byte_length: None,
        value: None,
        mutable: None,
    };
    match export.kind {
        ExternalKind::Func | ExternalKind::FuncExact => {
            let params = module.param_count(index).ok_or_else(|| {
                Stop::Undecidable(format!("function {index} has no function type"))
            })?;
            described.length = Some(params as u64);
        }
        ExternalKind::Table => {
            described.length = Some(size_of(&store.table_sizes, index, || {
                format!("table {index}")
            })?);
        }
        ExternalKind::Memory => {
            let bytes = size_of(&store.memory_bytes, index, || format!("memory {index}"))?;
            let bytes = u64::try_from(bytes).map_err(|_| {
                Stop::Undecidable(format!(
                    "memory {index}'s {bytes} bytes do not fit a JS length"
                ))
            })?;
            described.byte_length = Some(bytes);
        }
        ExternalKind::Global => {
            let (ty, _) = module
                .globals
                .get(index as usize)
                .ok_or_else(|| Stop::Undecidable(format!("global {index} is not in the module")))?;
            let value = js_value_kind(ty.content_type);
            described.mutable = (value != UNREPRESENTABLE).then_some(ty.mutable);
            described.value = Some(value.into());
        }
        ExternalKind::Tag => {}
    }
    Ok(described)
}

/// An export as a later module links against it: an imported item is the
/// extern it was linked to; a defined one is as instantiation left it
/// (the start function changes no size the model decides).
fn export_extern(
    module: &Module<'_>,
    linked: &Linked,
    store: &Store,
    this: usize,
    export: &Export<'_>,
) -> Result<Extern, Stop> {
    let index = export.index;
    let at = index as usize;
    Ok(match export.kind {
        ExternalKind::Func | ExternalKind::FuncExact => match linked.functions.get(at) {
            Some(imported) => Extern::Func(imported.clone()),
            None => Extern::Func(FuncExtern {
                ty: module.function_type(index)?.clone(),
                at: FuncRef {
                    instance: this,
                    function: index,
                },
            }),
        },
        ExternalKind::Table => match linked.tables.get(at) {
            Some(imported) => Extern::Table(*imported),
            None => Extern::Table(TableExtern {
                ty: *module
                    .tables
                    .get(at)
                    .ok_or_else(|| missing("table", index))?,
                size: size_of(&store.table_sizes, index, || format!("table {index}"))?,
            }),
        },
        ExternalKind::Memory => match linked.memories.get(at) {
            Some(imported) => Extern::Memory(*imported),
            None => {
                let ty = *module
                    .memories
                    .get(at)
                    .ok_or_else(|| missing("memory", index))?;
                Extern::Memory(MemoryExtern {
                    ty,
                    pages: ty.initial,
                })
            }
        },
        ExternalKind::Global => match linked.globals.get(at) {
            Some(imported) => Extern::Global(*imported),
            None => {
                let ty = module
                    .globals
                    .get(at)
                    .ok_or_else(|| missing("global", index))?
                    .0;
                // A constant expression reads only immutable globals; a
                // start function may have set a mutable one.
                let value = if ty.mutable {
                    None
                } else {
                    store.globals.get(at).copied().flatten()
                };
                Extern::Global(GlobalExtern { ty, value })
            }
        },
        ExternalKind::Tag => match linked.tags.get(at) {
            Some(imported) => Extern::Tag(imported.clone()),
            None => {
                let ty = *module.tags.get(at).ok_or_else(|| missing("tag", index))?;
                Extern::Tag(module.def_type(ty)?.clone())
            }
        },
    })
}

fn missing(what: &str, index: u32) -> Stop {
    Stop::Undecidable(format!("{what} {index} is not in the module"))
}

const UNREPRESENTABLE: &str = "unrepresentable";

/// What `typeof global.value` tells of a global's type, or that reading it
/// throws (v128, and the exception references: ToJSValue has no mapping).
fn js_value_kind(ty: ValType) -> &'static str {
    match ty {
        ValType::I32 | ValType::F32 | ValType::F64 => "number",
        ValType::I64 => "bigint",
        ValType::V128 => UNREPRESENTABLE,
        ValType::Ref(r) => match r.heap_type() {
            HeapType::Abstract {
                ty: AbstractHeapType::Exn | AbstractHeapType::NoExn,
                ..
            } => UNREPRESENTABLE,
            _ => "reference",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{BodyEnd, InstantiateBackend, ReferenceBackend, StreamingBody};
    use crate::features::Features;
    use crate::imports::NamedModule;
    use crate::plan::PlanSet;
    use OutcomeClass::{
        CompileError, Instance as Instantiated, LinkError, RuntimeError, TypeError,
    };

    fn wat(text: &str) -> Vec<u8> {
        let buffer = wast::parser::ParseBuffer::new(text).expect("lexes");
        let mut module = wast::parser::parse::<wast::Wat<'_>>(&buffer).expect("parses");
        module.encode().expect("encodes")
    }

    /// A declared import object, written as a TOML value.
    fn declared(toml_value: &str, objects: crate::imports::ImportObjects) -> ImportObject {
        let value: crate::imports::ImportValue =
            toml::from_str::<toml::Value>(&format!("v = {toml_value}")).unwrap()["v"]
                .clone()
                .try_into()
                .unwrap();
        ImportObject::Declared(std::sync::Arc::new(crate::imports::DeclaredImports {
            value,
            objects,
        }))
    }

    fn streamed(bytes: &[u8], plan: &crate::plan::ChunkPlan, end: BodyEnd) -> Outcome {
        let body = StreamingBody {
            chunks: plan.chunks(bytes),
            end,
        };
        ReferenceBackend.instantiate_streaming(body, &Features::baseline(), &ImportObject::Omitted)
    }

    /// The one-shot outcome, after checking every default plan agrees,
    /// and that `decide_instantiation` and `not_applicable` say the same.
    fn instantiate_in(bytes: &[u8], features: &Features, imports: &ImportObject) -> Outcome {
        let one_shot = ReferenceBackend.instantiate_one_shot(bytes, features, imports);
        for plan in PlanSet::Default.plans(bytes) {
            let body = StreamingBody {
                chunks: plan.chunks(bytes),
                end: BodyEnd::Close,
            };
            let outcome = ReferenceBackend.instantiate_streaming(body, features, imports);
            assert!(
                outcome.equivalent(&one_shot),
                "{plan}: {outcome} vs {one_shot}"
            );
        }
        let decided = crate::backend::decide_instantiation(bytes, features, imports);
        let why = ReferenceBackend.not_applicable(bytes, features, imports);
        match &one_shot {
            Outcome::OtherError { name, message } if name == MODEL_ERROR => {
                assert_eq!(decided, Err(message.clone()));
                assert_eq!(why.as_ref(), Some(message));
            }
            decidable => {
                assert_eq!(decided, Ok(decidable.class()));
                assert_eq!(why, None);
            }
        }
        one_shot
    }

    fn instantiate_with(bytes: &[u8], features: &Features) -> Outcome {
        instantiate_in(bytes, features, &ImportObject::Omitted)
    }

    fn instantiate(text: &str) -> Outcome {
        instantiate_with(&wat(text), &Features::baseline())
    }

    fn instance(outcome: Outcome) -> Vec<InstanceExport> {
        match outcome {
            Outcome::Instance { instance, .. } => instance.exports,
            other => panic!("not an instance: {other}"),
        }
    }

    fn runtime_error(outcome: Outcome) -> String {
        match outcome {
            Outcome::RuntimeError { message } => message,
            other => panic!("not a RuntimeError: {other}"),
        }
    }

    fn not_applicable(text: &str) -> Option<String> {
        not_applicable_in(text, &ImportObject::Omitted)
    }

    fn not_applicable_in(text: &str, imports: &ImportObject) -> Option<String> {
        ReferenceBackend.not_applicable(&wat(text), &Features::baseline(), imports)
    }

    /// An import object of named modules, given as text.
    fn environment(modules: &[(&str, &str)]) -> ImportObject {
        ImportObject::Instances(
            modules
                .iter()
                .map(|(name, text)| NamedModule {
                    name: name.to_string(),
                    bytes: wat(text).into(),
                })
                .collect(),
        )
    }

    /// The `spectest` host module the suites give `.wast` scripts.
    fn spectest() -> ImportObject {
        spectest_then(&[])
    }

    /// The `spectest` host module, then named modules given as text.
    fn spectest_then(modules: &[(&str, &str)]) -> ImportObject {
        let ImportObject::Instances(rest) = environment(modules) else {
            unreachable!("environment builds instances")
        };
        let host = NamedModule {
            name: crate::suites::spectest::NAMESPACE.into(),
            bytes: crate::suites::spectest::module(Default::default()),
        };
        ImportObject::Instances(std::iter::once(host).chain(rest.iter().cloned()).collect())
    }

    fn instantiate_in_env(text: &str, imports: &ImportObject) -> Outcome {
        instantiate_in(&wat(text), &Features::baseline(), imports)
    }

    /// The outcome class of `text` instantiated with the spectest module.
    fn with_spectest(text: &str) -> OutcomeClass {
        instantiate_in_env(text, &spectest()).class()
    }

    /// The model's error message of an outcome it could not decide.
    fn model_error_of(outcome: Outcome) -> String {
        match outcome {
            Outcome::OtherError { name, message } if name == MODEL_ERROR => message,
            other => panic!("decided: {other}"),
        }
    }

    fn export(name: &str, kind: &str) -> InstanceExport {
        InstanceExport {
            name: name.into(),
            kind: kind.into(),
            length: None,
            byte_length: None,
            value: None,
            mutable: None,
        }
    }

    fn global(name: &str, value: &str, mutable: Option<bool>) -> InstanceExport {
        InstanceExport {
            value: Some(value.into()),
            mutable,
            ..export(name, "global")
        }
    }

    #[test]
    fn an_import_free_module_gives_its_export_shapes() {
        let outcome = instance(instantiate(
            r#"(module
                (rec (type $s (struct)) (type $f (func (param i32 i64 f32))))
                (func (export "f") (type $f))
                (func (export "g"))
                (table (export "t") 3 funcref)
                (memory (export "m") 2)
                (global (export "i32") i32 (i32.const 1))
                (global (export "i64") (mut i64) (i64.const 1))
                (global (export "f64") f64 (f64.const 1))
                (global (export "v128") (mut v128) (v128.const i64x2 0 0))
                (global (export "funcref") (mut funcref) (ref.null func))
                (global (export "exnref") exnref (ref.null exn))
                (tag (export "tag")))"#,
        ));
        let expected = vec![
            InstanceExport {
                length: Some(3),
                ..export("f", "function")
            },
            InstanceExport {
                length: Some(0),
                ..export("g", "function")
            },
            InstanceExport {
                length: Some(3),
                ..export("t", "table")
            },
            InstanceExport {
                byte_length: Some(2 * 65536),
                ..export("m", "memory")
            },
            global("i32", "number", Some(false)),
            global("i64", "bigint", Some(true)),
            global("f64", "number", Some(false)),
            global("v128", "unrepresentable", None),
            global("funcref", "reference", Some(true)),
            global("exnref", "unrepresentable", None),
            export("tag", "tag"),
        ];
        assert_eq!(outcome, expected);
    }

    #[test]
    fn the_instance_keeps_the_compiled_module_fingerprint() {
        let bytes = wat(r#"(module (func (export "f")) (@custom "c" ""))"#);
        let compiled =
            crate::Backend::compile_one_shot(&ReferenceBackend, &bytes, &Features::baseline());
        let Outcome::Module { fingerprint } = compiled else {
            panic!("{compiled}")
        };
        match instantiate_with(&bytes, &Features::baseline()) {
            Outcome::Instance { module, .. } => assert_eq!(module, fingerprint),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn a_custom_page_size_sets_the_byte_length() {
        let bytes = wat(r#"(module (memory (export "m") 3 (pagesize 1)))"#);
        let features = Features::from_names(["custom-page-sizes"]).unwrap();
        let exports = instance(instantiate_with(&bytes, &features));
        assert_eq!(exports[0].byte_length, Some(3));
    }

    #[test]
    fn imports_without_an_import_object_are_a_type_error() {
        let outcome = instantiate(r#"(module (import "m" "f" (func)) (func (export "g")))"#);
        assert_eq!(outcome.class(), OutcomeClass::TypeError, "{outcome}");
    }

    #[test]
    fn a_compile_error_wins_even_with_imports() {
        let outcome = instantiate(r#"(module (import "m" "f" (func)) (func (result i32)))"#);
        assert_eq!(outcome.class(), OutcomeClass::CompileError, "{outcome}");
    }

    #[test]
    fn the_stream_fate_wins_even_with_imports() {
        let bytes = wat(r#"(module (import "m" "f" (func)))"#);
        for plan in PlanSet::Default.plans(&bytes) {
            assert_eq!(
                streamed(&bytes, &plan, BodyEnd::Error),
                Outcome::PassedThrough
            );
            assert_eq!(streamed(&bytes, &plan, BodyEnd::Never), Outcome::Pending);
        }
    }

    #[test]
    fn a_data_segment_may_end_at_the_memory_end_but_not_past_it() {
        instance(instantiate(
            r#"(module (memory 1) (data (i32.const 65535) "a"))"#,
        ));
        let message = runtime_error(instantiate(
            r#"(module (memory 1) (data (i32.const 65535) "ab"))"#,
        ));
        assert!(message.contains("data segment 0"), "{message}");
        // Offsets are unsigned: -1 is 4294967295.
        runtime_error(instantiate(
            r#"(module (memory 1) (data (i32.const -1) ""))"#,
        ));
    }

    #[test]
    fn a_data_segment_within_a_custom_page_size() {
        let features = Features::from_names(["custom-page-sizes"]).unwrap();
        let at_end = wat(r#"(module (memory 3 (pagesize 1)) (data (i32.const 1) "ab"))"#);
        instance(instantiate_with(&at_end, &features));
        let past = wat(r#"(module (memory 3 (pagesize 1)) (data (i32.const 2) "ab"))"#);
        runtime_error(instantiate_with(&past, &features));
    }

    #[test]
    fn an_empty_element_segment_may_sit_at_the_table_end_but_not_past_it() {
        instance(instantiate(
            r#"(module (table 2 funcref) (elem (i32.const 2) func))"#,
        ));
        let message = runtime_error(instantiate(
            r#"(module (table 2 funcref) (elem (i32.const 3) func))"#,
        ));
        assert!(message.contains("element segment 0"), "{message}");
        let full = r#"(module (table 2 funcref) (func $f) (elem (i32.const 1) $f $f))"#;
        runtime_error(instantiate(full));
    }

    #[test]
    fn offsets_read_defined_globals_and_extended_constants() {
        let module = |offset: &str| {
            format!(
                r#"(module
                    (global $base i32 (i32.const 65530))
                    (global $next i32 (i32.add (global.get $base) (i32.const 2)))
                    (memory 1)
                    (data ({offset}) "abcd"))"#
            )
        };
        // 65532 + 4 = 65536: fits; one more does not.
        instance(instantiate(&module("global.get $next")));
        runtime_error(instantiate(&module(
            "i32.add (global.get $next) (i32.const 1)",
        )));
        instance(instantiate(&module(
            "i32.sub (i32.mul (global.get $base) (i32.const 1)) (i32.const 0)",
        )));
    }

    #[test]
    fn a_passive_segment_never_traps() {
        instance(instantiate(
            r#"(module (memory 0) (data "abc") (table 0 funcref) (elem func 0) (func))"#,
        ));
    }

    #[test]
    fn an_element_segment_trap_wins_over_a_later_data_segment() {
        let message = runtime_error(instantiate(
            r#"(module
                (memory 1) (data (i32.const 65536) "a")
                (table 1 funcref) (elem (i32.const 2) func))"#,
        ));
        assert!(message.contains("element segment 0"), "{message}");
    }

    #[test]
    fn a_segment_trap_wins_over_an_undecidable_start() {
        let text = r#"(module
            (memory 1) (data (i32.const 65536) "a")
            (func $start (drop (i32.load (i32.const 0)))) (start $start))"#;
        runtime_error(instantiate(text));
        assert_eq!(not_applicable(text), None);
    }

    #[test]
    fn a_start_function_reaching_unreachable_is_a_runtime_error() {
        let message = runtime_error(instantiate(
            r#"(module (func $start unreachable) (start $start))"#,
        ));
        assert!(message.contains("start function 0"), "{message}");
        // Through a direct call, and with anything at all after it.
        runtime_error(instantiate(
            r#"(module
                (memory 1)
                (func $trap (param i32) unreachable (drop (i32.load (i32.const 0))))
                (func $start (call $trap (i32.const 1)))
                (start $start))"#,
        ));
    }

    #[test]
    fn a_start_function_of_inert_code_gives_the_instance() {
        let text = r#"(module
            (global $g (mut i32) (i32.const 0))
            (func $add (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
            (func $start (local i64)
                (drop (i64.const 1))
                (local.set 0 (i64.extend_i32_u (i32.const 7)))
                (global.set $g (call $add (i32.const 1) (i32.trunc_sat_f32_s (f32.const 2))))
                nop)
            (start $start)
            (func (export "f") (param i32)))"#;
        let exports = instance(instantiate(text));
        assert_eq!(exports[0].length, Some(1));
        assert_eq!(not_applicable(text), None);
    }

    #[test]
    fn a_start_function_the_model_cannot_decide_is_not_applicable() {
        let text = r#"(module
            (memory 1)
            (func $load (drop (i32.load (i32.const 0))))
            (func $start (call $load))
            (start $start))"#;
        let reason = not_applicable(text).expect("not applicable");
        assert!(reason.contains("start function 1"), "{reason}");
        assert!(reason.contains("i32.load"), "{reason}");
        let outcome = instantiate(text);
        assert!(
            matches!(&outcome, Outcome::OtherError { name, .. } if name == MODEL_ERROR),
            "{outcome}"
        );
    }

    #[test]
    fn code_the_model_does_not_prove_is_undecidable() {
        // `m.f` loads from memory: calling it is not proved either.
        let env = environment(&[(
            "m",
            r#"(module (memory 1) (func (export "f") (drop (i32.load (i32.const 0)))))"#,
        )]);
        for body in [
            "(drop (i32.div_s (i32.const 1) (i32.const 1)))",
            "(drop (i32.trunc_f32_s (f32.const 1)))",
            "(block)",
            "(drop (memory.grow (i32.const 0)))",
            "(call $import)",
            "(call $start)",
            // The trap comes after the undecidable operator.
            "(drop (memory.size)) unreachable",
        ] {
            let text = format!(
                r#"(module (import "m" "f" (func $import)) (memory 1)
                    (func $start {body}) (start $start))"#
            );
            let why = not_applicable_in(&text, &env).expect(body);
            assert!(why.contains("start function 1"), "{why}");
            model_error_of(instantiate_in(&wat(&text), &Features::baseline(), &env));
            // Without an import object: a TypeError, decided before the start.
            assert_eq!(not_applicable(&text), None, "{body}");
            assert_eq!(instantiate(&text).class(), OutcomeClass::TypeError);
        }
    }

    /// Functions `$f0`..`$f{levels}`, each calling the next `fanout` times;
    /// `$f0` is the start.
    fn call_tree(levels: usize, fanout: usize) -> String {
        let mut text = String::from("(module (start $f0)");
        for level in 0..levels {
            let calls = format!("(call $f{})", level + 1).repeat(fanout);
            text += &format!("(func $f{level} {calls})");
        }
        text + &format!("(func $f{levels} nop))")
    }

    #[test]
    fn the_start_analysis_is_bounded() {
        assert_eq!(not_applicable(&call_tree(MAX_CALL_DEPTH - 1, 2)), None);
        let deep = not_applicable(&call_tree(MAX_CALL_DEPTH, 1)).expect("too deep");
        assert!(deep.contains("deeper than"), "{deep}");
        let wide = not_applicable(&call_tree(6, 10)).expect("too much to walk");
        assert!(wide.contains("operators walked"), "{wide}");
    }

    #[test]
    fn an_allocation_the_engine_sizes_is_undecidable() {
        let text = r#"(module
            (type $a (array i8))
            (global (ref $a) (array.new_default $a (i32.const 100))))"#;
        assert!(not_applicable(text)
            .expect("not applicable")
            .contains("array.new_default"));
        let fixed = r#"(module
            (type $a (array i8))
            (global (ref $a) (array.new_fixed $a 1 (i32.const 100))))"#;
        assert_eq!(not_applicable(fixed), None);
        instance(instantiate(fixed));
    }

    #[test]
    fn an_invalid_module_is_applicable() {
        let text =
            r#"(module (memory 1) (func $start (drop (i32.load (f32.const 0)))) (start $start))"#;
        assert_eq!(not_applicable(text), None);
    }

    #[test]
    fn every_spectest_export_links_with_its_own_type() {
        let exports = instance(instantiate_in_env(
            r#"(module
                (import "spectest" "print" (func))
                (import "spectest" "print_i32" (func (param i32)))
                (import "spectest" "print_i64" (func (param i64)))
                (import "spectest" "print_f32" (func (param f32)))
                (import "spectest" "print_f64" (func (param f64)))
                (import "spectest" "print_i32_f32" (func (param i32 f32)))
                (import "spectest" "print_f64_f64" (func (param f64 f64)))
                (import "spectest" "global_i32" (global i32))
                (import "spectest" "global_i64" (global i64))
                (import "spectest" "global_f32" (global f32))
                (import "spectest" "global_f64" (global f64))
                (import "spectest" "table" (table 10 20 funcref))
                (import "spectest" "memory" (memory 1 2))
                (export "t" (table 0)) (export "m" (memory 0)) (export "f" (func 5)))"#,
            &spectest(),
        ));
        // Re-exports show the linked table's and memory's sizes.
        assert_eq!(exports[0].length, Some(10));
        assert_eq!(exports[1].byte_length, Some(65536));
        assert_eq!(exports[2].length, Some(2));
    }

    #[test]
    fn a_function_import_must_have_the_exported_type() {
        let import = |ty: &str| with_spectest(&format!(r#"(module (import "spectest" {ty}))"#));
        assert_eq!(import(r#""print_i32" (func (param i32))"#), Instantiated);
        assert_eq!(import(r#""print_i32" (func (param i64))"#), LinkError);
        assert_eq!(
            import(r#""print_i32" (func (param i32) (result i32))"#),
            LinkError
        );
        assert_eq!(import(r#""print" (func (param i32))"#), LinkError);
        assert_eq!(
            import(r#""print_i32_f32" (func (param f32 i32))"#),
            LinkError
        );
    }

    #[test]
    fn a_global_import_must_have_the_exported_type_and_mutability() {
        let import = |ty: &str| with_spectest(&format!(r#"(module (import "spectest" {ty}))"#));
        assert_eq!(import(r#""global_i32" (global i32)"#), Instantiated);
        assert_eq!(import(r#""global_i32" (global i64)"#), LinkError);
        assert_eq!(import(r#""global_i32" (global f32)"#), LinkError);
        assert_eq!(import(r#""global_i32" (global (mut i32))"#), LinkError);
        assert_eq!(import(r#""global_f64" (global f64)"#), Instantiated);
    }

    #[test]
    fn a_memory_import_is_matched_against_the_current_size_and_maximum() {
        let import = |ty: &str| {
            with_spectest(&format!(
                r#"(module (import "spectest" "memory" (memory {ty})))"#
            ))
        };
        assert_eq!(import("1 2"), Instantiated);
        assert_eq!(import("2"), LinkError, "min above the current 1 page");
        assert_eq!(import("1 3"), Instantiated, "the export's max 2 <= 3");
        assert_eq!(import("1 1"), LinkError, "the export's max 2 > 1");
        assert_eq!(import("0"), Instantiated);
        assert_eq!(import("i64 1"), LinkError, "another index type");
        assert_eq!(import("1 2 shared"), LinkError, "not shared");
    }

    #[test]
    fn a_memory_without_a_maximum_does_not_match_an_import_with_one() {
        let env = environment(&[("A", r#"(module (memory (export "m") 1))"#)]);
        let import = |ty: &str| {
            instantiate_in_env(&format!(r#"(module (import "A" "m" (memory {ty})))"#), &env).class()
        };
        assert_eq!(import("1"), Instantiated);
        assert_eq!(import("1 65536"), LinkError);
        let paged = environment(&[("A", r#"(module (memory (export "m") 1 (pagesize 1)))"#)]);
        let features = Features::from_names(["custom-page-sizes"]).unwrap();
        let outcome = |text: &str| instantiate_in(&wat(text), &features, &paged).class();
        assert_eq!(
            outcome(r#"(module (import "A" "m" (memory 1 (pagesize 1))))"#),
            Instantiated
        );
        assert_eq!(
            outcome(r#"(module (import "A" "m" (memory 1)))"#),
            LinkError
        );
    }

    #[test]
    fn a_table_import_is_matched_against_the_current_size_maximum_and_element_type() {
        let import = |ty: &str| {
            with_spectest(&format!(
                r#"(module (import "spectest" "table" (table {ty})))"#
            ))
        };
        assert_eq!(import("10 funcref"), Instantiated);
        assert_eq!(import("0 20 funcref"), Instantiated);
        assert_eq!(import("11 funcref"), LinkError);
        assert_eq!(import("21 funcref"), LinkError);
        assert_eq!(import("0 19 funcref"), LinkError);
        assert_eq!(import("10 externref"), LinkError);
        assert_eq!(
            import("10 (ref null nofunc)"),
            LinkError,
            "tables are invariant"
        );
        assert_eq!(import("i64 10 funcref"), LinkError);
    }

    #[test]
    fn a_missing_field_or_a_wrong_kind_is_a_link_error_a_missing_namespace_a_type_error() {
        let import = |text: &str| with_spectest(&format!("(module {text})"));
        assert_eq!(import(r#"(import "spectest" "unknown" (func))"#), LinkError);
        assert_eq!(
            import(r#"(import "spectest" "unknown" (memory 0))"#),
            LinkError
        );
        assert_eq!(import(r#"(import "nope" "print" (func))"#), TypeError);
        assert_eq!(import(r#"(import "spectest" "memory" (func))"#), LinkError);
        assert_eq!(
            import(r#"(import "spectest" "print" (memory 0))"#),
            LinkError
        );
        assert_eq!(
            import(r#"(import "spectest" "print" (table 0 funcref))"#),
            LinkError
        );
        assert_eq!(
            import(r#"(import "spectest" "print" (global i32))"#),
            LinkError
        );
        assert_eq!(
            import(r#"(import "spectest" "print" (global i64))"#),
            LinkError
        );
        assert_eq!(import(r#"(import "spectest" "table" (tag))"#), LinkError);
        // No import object at all, and an empty one.
        let text = r#"(module (import "spectest" "print" (func)))"#;
        assert_eq!(instantiate(text).class(), TypeError);
        let empty = ImportObject::Instances(Vec::new().into());
        assert_eq!(instantiate_in_env(text, &empty).class(), TypeError);
        assert_eq!(instantiate_in_env("(module)", &empty).class(), Instantiated);
    }

    #[test]
    fn errors_come_in_the_js_api_order() {
        let import = |text: &str| with_spectest(&format!("(module {text})"));
        // Reading the imports stops at the first value that is not an
        // object (TypeError) or of the wrong kind (LinkError).
        assert_eq!(
            import(r#"(import "spectest" "unknown" (func)) (import "nope" "f" (func))"#),
            LinkError
        );
        assert_eq!(
            import(r#"(import "spectest" "memory" (func)) (import "nope" "f" (func))"#),
            LinkError
        );
        assert_eq!(
            import(
                r#"(import "nope" "f" (func)) (import "spectest" "print_i32" (func (param i64)))"#
            ),
            TypeError
        );
        // Types are matched by the core instantiation, after every import
        // was read: a later missing namespace wins.
        assert_eq!(
            import(
                r#"(import "spectest" "print_i32" (func (param i64))) (import "nope" "f" (func))"#
            ),
            TypeError
        );
        assert_eq!(
            import(r#"(import "spectest" "memory" (memory 2)) (import "nope" "f" (func))"#),
            TypeError
        );
        // Then the first mismatch in import order.
        let outcome = instantiate_in_env(
            r#"(module (import "spectest" "memory" (memory 2))
                (import "spectest" "print_i32" (func (param i64))))"#,
            &spectest(),
        );
        match outcome {
            Outcome::LinkError { message } => assert!(message.contains("import 0"), "{message}"),
            other => panic!("{other}"),
        }
        // A link error wins over a segment out of bounds and a trap.
        assert_eq!(
            import(
                r#"(import "spectest" "memory" (memory 2)) (data (i32.const 65536) "x")
                   (func $s unreachable) (start $s)"#
            ),
            LinkError
        );
        // A compile error wins over everything.
        let invalid = wat(r#"(module (import "nope" "f" (func)) (func (result i32)))"#);
        let outcome = instantiate_in(&invalid, &Features::baseline(), &spectest());
        assert_eq!(outcome.class(), CompileError);
    }

    #[test]
    fn a_reference_global_import_converts_a_value_that_is_not_a_global() {
        let import = |text: &str| with_spectest(&format!("(module {text})"));
        // ToWebAssemblyValue: an exported function is a funcref, anything
        // is an externref, anything not a wasm object a host `ref any`.
        assert_eq!(
            import(r#"(import "spectest" "print" (global funcref))"#),
            Instantiated
        );
        assert_eq!(
            import(r#"(import "spectest" "print" (global (ref func)))"#),
            Instantiated
        );
        assert_eq!(
            import(r#"(import "spectest" "memory" (global externref))"#),
            Instantiated
        );
        assert_eq!(
            import(r#"(import "spectest" "unknown" (global externref))"#),
            Instantiated
        );
        assert_eq!(
            import(r#"(import "spectest" "unknown" (global anyref))"#),
            Instantiated
        );
        assert_eq!(
            import(r#"(import "spectest" "memory" (global funcref))"#),
            LinkError
        );
        assert_eq!(
            import(r#"(import "spectest" "print" (global nullfuncref))"#),
            LinkError
        );
        assert_eq!(
            import(r#"(import "spectest" "unknown" (global eqref))"#),
            LinkError
        );
        assert_eq!(
            import(r#"(import "spectest" "unknown" (global nullexternref))"#),
            LinkError
        );
        // That throws while reading, so it wins over a later namespace...
        assert_eq!(
            import(r#"(import "spectest" "memory" (global funcref)) (import "nope" "f" (func))"#),
            LinkError
        );
        // ...but the new global is immutable, which only linking finds.
        assert_eq!(
            import(r#"(import "spectest" "print" (global (mut funcref)))"#),
            LinkError
        );
        assert_eq!(
            import(
                r#"(import "spectest" "print" (global (mut funcref))) (import "nope" "f" (func))"#
            ),
            TypeError
        );
        // A function against a concrete type: type identity across modules.
        let text =
            r#"(module (type $t (func)) (import "spectest" "print" (global (ref null $t))))"#;
        assert!(not_applicable_in(text, &spectest()).is_some());
        let text =
            r#"(module (type $t (func)) (import "spectest" "memory" (global (ref null $t))))"#;
        assert_eq!(with_spectest(text), LinkError);
    }

    #[test]
    fn an_immutable_global_import_may_take_a_subtype() {
        let env = environment(&[(
            "A",
            r#"(module
                (type $t (func))
                (global (export "null") nullfuncref (ref.null nofunc))
                (global (export "func") funcref (ref.null func))
                (global (export "mut") (mut funcref) (ref.null func))
                (global (export "typed") (ref null $t) (ref.null $t)))"#,
        )]);
        let import = |field: &str, ty: &str| {
            let text = format!(r#"(module (type $u (func)) (import "A" "{field}" (global {ty})))"#);
            instantiate_in_env(&text, &env)
        };
        assert_eq!(import("null", "funcref").class(), Instantiated);
        assert_eq!(import("null", "(ref null func)").class(), Instantiated);
        assert_eq!(
            import("null", "anyref").class(),
            LinkError,
            "another hierarchy"
        );
        assert_eq!(import("func", "nullfuncref").class(), LinkError);
        assert_eq!(import("func", "(ref func)").class(), LinkError);
        assert_eq!(import("func", "externref").class(), LinkError);
        assert_eq!(import("mut", "(mut funcref)").class(), Instantiated);
        assert_eq!(import("mut", "funcref").class(), LinkError);
        assert_eq!(import("null", "(mut funcref)").class(), LinkError);
        assert_eq!(import("func", "(ref null $u)").class(), LinkError);
        model_error_of(import("typed", "(ref null $u)"));
        model_error_of(import("typed", "funcref"));
    }

    #[test]
    fn function_and_tag_types_are_compared_when_the_model_can() {
        let env = environment(&[(
            "A",
            r#"(module
                (type $t (func))
                (type $open (sub (func)))
                (type $sub (sub $open (func)))
                (func (export "typed") (param (ref null $t)))
                (func (export "open") (type $open))
                (func (export "sub") (type $sub))
                (tag (export "e") (param i32)))"#,
        )]);
        let import =
            |text: &str| instantiate_in_env(&format!("(module (type $u (func)) {text})"), &env);
        assert_eq!(
            import(r#"(import "A" "e" (tag (param i32)))"#).class(),
            Instantiated
        );
        assert_eq!(
            import(r#"(import "A" "e" (tag (param i64)))"#).class(),
            LinkError
        );
        assert_eq!(
            import(r#"(import "A" "e" (func (param i32)))"#).class(),
            LinkError
        );
        assert_eq!(
            import(r#"(import "A" "typed" (func (param funcref)))"#).class(),
            LinkError
        );
        assert_eq!(
            import(r#"(import "A" "typed" (func (param i32)))"#).class(),
            LinkError
        );
        model_error_of(import(
            r#"(import "A" "typed" (func (param (ref null $u))))"#,
        ));
        // A non-final type is not the final `(func)`; a declared subtype
        // is left undecided.
        assert_eq!(import(r#"(import "A" "open" (func))"#).class(), LinkError);
        model_error_of(import(r#"(import "A" "sub" (func))"#));
        // A mismatch after an undecided import decides: a LinkError either way.
        let outcome = import(r#"(import "A" "sub" (func)) (import "A" "e" (tag (param i64)))"#);
        assert_eq!(outcome.class(), LinkError);
    }

    #[test]
    fn segments_use_the_linked_sizes_and_values() {
        let import = |text: &str| instantiate_in_env(&format!("(module {text})"), &spectest());
        let global_and_memory = r#"(import "spectest" "global_i32" (global i32))
            (import "spectest" "memory" (memory 1))"#;
        instance(import(&format!(
            r#"{global_and_memory} (data (global.get 0) "x")"#
        )));
        // global_i32 is 666: 66201 - 666 = 65535 fits, 65536 does not.
        instance(import(&format!(
            r#"{global_and_memory} (data (i32.sub (i32.const 66201) (global.get 0)) "x")"#
        )));
        let message = runtime_error(import(&format!(
            r#"{global_and_memory} (data (i32.sub (i32.const 66202) (global.get 0)) "x")"#
        )));
        assert!(message.contains("offset 65536"), "{message}");
        // The memory's real size (1 page), not the import's minimum.
        let memory = r#"(import "spectest" "memory" (memory 0))"#;
        instance(import(&format!(r#"{memory} (data (i32.const 65535) "x")"#)));
        runtime_error(import(&format!(r#"{memory} (data (i32.const 65536) "x")"#)));
        // The table has 10 elements; offset 666 is past them.
        let table = r#"(import "spectest" "table" (table 0 funcref))"#;
        instance(import(&format!("{table} (elem (i32.const 10) func)")));
        runtime_error(import(&format!("{table} (elem (i32.const 11) func)")));
        runtime_error(import(&format!(
            r#"(import "spectest" "global_i32" (global i32)) {table} (elem (global.get 0) func)"#
        )));
    }

    #[test]
    fn named_modules_link_against_the_ones_before_them() {
        let env = environment(&[
            (
                "A",
                r#"(module
                    (memory (export "m") 1)
                    (global (export "g") i32 (i32.const 65535))
                    (func (export "f") (param i32)))"#,
            ),
            (
                "B",
                r#"(module
                    (import "A" "m" (memory 0))
                    (import "A" "g" (global i32))
                    (import "A" "f" (func (param i32)))
                    (memory (export "own") 2)
                    (export "m" (memory 0))
                    (export "g" (global 0))
                    (export "f" (func 0))
                    (data (global.get 0) "a"))"#,
            ),
        ]);
        let import = |text: &str| instantiate_in_env(&format!("(module {text})"), &env).class();
        // B re-exports A's 1-page memory (imported as at least 0 pages)
        // and has a 2-page one of its own.
        assert_eq!(import(r#"(import "B" "m" (memory 1 1))"#), LinkError);
        assert_eq!(import(r#"(import "B" "m" (memory 1))"#), Instantiated);
        assert_eq!(import(r#"(import "B" "m" (memory 2))"#), LinkError);
        assert_eq!(import(r#"(import "B" "own" (memory 2))"#), Instantiated);
        assert_eq!(
            import(r#"(import "B" "f" (func (param i32)))"#),
            Instantiated
        );
        assert_eq!(import(r#"(import "B" "f" (func))"#), LinkError);
        // A's global, 65535, through B.
        let through_b = r#"(import "B" "g" (global i32)) (import "B" "m" (memory 1))"#;
        assert_eq!(
            import(&format!(r#"{through_b} (data (global.get 0) "a")"#)),
            Instantiated
        );
        assert_eq!(
            import(&format!(r#"{through_b} (data (global.get 0) "ab")"#)),
            RuntimeError
        );
        // A later namespace of the same name replaces the earlier one.
        let replaced = environment(&[
            ("A", r#"(module (memory (export "m") 1))"#),
            ("A", r#"(module (memory (export "m") 2))"#),
        ]);
        let text = r#"(module (import "A" "m" (memory 2)))"#;
        assert_eq!(instantiate_in_env(text, &replaced).class(), Instantiated);
    }

    #[test]
    fn an_environment_the_model_cannot_build_is_undecidable() {
        let memory = ("A", r#"(module (memory (export "m") 1))"#);
        // The namespace at fault, and the import object.
        let bad = [
            // Does not validate.
            ("bad", vec![("bad", r#"(module (func (result i32)))"#)]),
            // Does not link: A's memory is too small for B.
            (
                "B",
                vec![memory, ("B", r#"(module (import "A" "m" (memory 2)))"#)],
            ),
            // Imports a namespace that comes later.
            (
                "B",
                vec![("B", r#"(module (import "A" "m" (memory 1)))"#), memory],
            ),
            // Traps in a segment, and in the start function.
            (
                "T",
                vec![("T", r#"(module (memory 0) (data (i32.const 0) "x"))"#)],
            ),
            (
                "T",
                vec![("T", r#"(module (func $s unreachable) (start $s))"#)],
            ),
            // Its start function is not proved.
            (
                "U",
                vec![(
                    "U",
                    r#"(module (memory 1) (func $s (drop (i32.load (i32.const 0)))) (start $s))"#,
                )],
            ),
            // Sets the import object's prototype.
            ("__proto__", vec![memory, ("__proto__", "(module)")]),
        ];
        let cases = [
            "(module)",
            r#"(module (import "A" "m" (memory 1)))"#,
            // Even a compile error: the driver never gets to compile.
            "(module (func $f (result i32)))",
        ];
        for (name, modules) in bad {
            let env = environment(&modules);
            for text in cases {
                let why = not_applicable_in(text, &env).expect(name);
                assert!(why.contains(&format!("namespace \"{name}\"")), "{why}");
                assert_eq!(model_error_of(instantiate_in_env(text, &env)), why);
            }
        }
        // A namespace inherited from Object.prototype is not modelled.
        let text = r#"(module (import "toString" "f" (func)))"#;
        let why = not_applicable_in(text, &spectest()).expect("inherited");
        assert!(why.contains("Object.prototype"), "{why}");
    }

    #[test]
    fn a_start_function_follows_calls_into_the_named_instances() {
        let env = spectest_then(&[(
            "A",
            r#"(module
                    (import "spectest" "print" (func $print))
                    (memory 1)
                    (func (export "trap") unreachable)
                    (func (export "prints") (call $print))
                    (func (export "load") (drop (i32.load (i32.const 0)))))"#,
        )]);
        let run = |text: &str| instantiate_in_env(text, &env);
        instance(run(
            r#"(module (import "spectest" "print" (func $p)) (func $s (call $p)) (start $s))"#,
        ));
        // The start function itself imported, and through A into spectest.
        instance(run(
            r#"(module (import "spectest" "print" (func $p)) (start $p))"#,
        ));
        instance(run(
            r#"(module (import "A" "prints" (func $p)) (start $p))"#,
        ));
        let message = runtime_error(run(
            r#"(module (import "A" "trap" (func $t)) (func $s (call $t)) (start $s))"#,
        ));
        assert!(message.contains("namespace \"A\""), "{message}");
        let why = model_error_of(run(
            r#"(module (import "A" "load" (func $l)) (func $s (call $l)) (start $s))"#,
        ));
        assert!(
            why.contains("namespace \"A\"") && why.contains("i32.load"),
            "{why}"
        );
        // A segment trap still wins over the undecidable start.
        runtime_error(run(
            r#"(module (import "A" "load" (func $l)) (memory 0) (data (i32.const 0) "x") (start $l))"#,
        ));
    }

    #[test]
    fn decide_instantiation_gives_the_class_or_why_not() {
        let decide = |text: &str, imports: &ImportObject| {
            crate::backend::decide_instantiation(&wat(text), &Features::baseline(), imports)
        };
        let omitted = ImportObject::Omitted;
        assert_eq!(decide("(module)", &omitted), Ok(Instantiated));
        assert_eq!(
            decide("(module (func (result i32)))", &spectest()),
            Ok(CompileError)
        );
        assert_eq!(
            decide(r#"(module (import "spectest" "print" (func)))"#, &omitted),
            Ok(TypeError)
        );
        assert_eq!(
            decide(
                r#"(module (import "spectest" "print" (func)))"#,
                &spectest()
            ),
            Ok(Instantiated)
        );
        assert_eq!(
            decide(
                r#"(module (import "spectest" "print" (func (param i32))))"#,
                &spectest()
            ),
            Ok(LinkError)
        );
        assert_eq!(
            decide(r#"(module (memory 0) (data (i32.const 0) "x"))"#, &omitted),
            Ok(RuntimeError)
        );
        let why = decide(
            r#"(module (memory 1) (func $s (drop (i32.load (i32.const 0)))) (start $s))"#,
            &omitted,
        )
        .unwrap_err();
        assert!(why.contains("i32.load"), "{why}");
        // A module that does not compile with the case's features.
        let paged = "(module (memory 1 (pagesize 1)))";
        assert_eq!(decide(paged, &omitted), Ok(CompileError));
        let features = Features::from_names(["custom-page-sizes"]).unwrap();
        let decided = crate::backend::decide_instantiation(&wat(paged), &features, &omitted);
        assert_eq!(decided, Ok(Instantiated));
        // And so do the named modules.
        let env = environment(&[("A", r#"(module (memory (export "m") 1 (pagesize 1)))"#)]);
        let text = r#"(module (import "A" "m" (memory 1 (pagesize 1))))"#;
        assert!(decide(text, &env).unwrap_err().contains("does not compile"));
        let decided = crate::backend::decide_instantiation(&wat(text), &features, &env);
        assert_eq!(decided, Ok(Instantiated));
    }

    #[test]
    fn operator_names_follow_the_text_format() {
        assert_eq!(operator_name(&Operator::I64Extend32S), "i64.extend32_s");
        assert_eq!(
            operator_name(&Operator::MemoryGrow { mem: 0 }),
            "memory.grow"
        );
        assert_eq!(
            operator_name(&Operator::BrIf { relative_depth: 0 }),
            "br_if"
        );
        assert_eq!(
            operator_name(&Operator::I32TruncSatF32S),
            "i32.trunc_sat_f32_s"
        );
        assert_eq!(operator_name(&Operator::Unreachable), "unreachable");
    }

    /// A declared import object: read and linked in the JS API's order,
    /// every read logged; what the model cannot know (a property an
    /// object inherits) makes the case undecidable, never guessed.
    #[test]
    fn a_declared_import_object_is_read_in_order_and_inheritance_is_not_guessed() {
        use crate::imports::ImportObjects;
        let bytes = wat(
            r#"(module (import "m" "f" (func)) (import "m" "g" (global i32)) (import "n" "mem" (memory 1)))"#,
        );
        let features = Features::baseline();
        let run = |imports: &ImportObject| {
            let compiled =
                crate::backend::Backend::compile_one_shot(&ReferenceBackend, &bytes, &features);
            after_compile_reading(compiled, &bytes, &features, imports, None)
        };
        let good = declared(
            r#"{ m = { f = "function", g = "one" }, n = { mem = "memory:1:2" } }"#,
            ImportObjects::Getters,
        );
        let (outcome, reads) = run(&good);
        assert_eq!(outcome.class(), Instantiated, "{outcome}");
        assert_eq!(reads.unwrap(), ["m", "m.f", "m", "m.g", "n", "n.mem"]);
        // A memory below the import's minimum: read on to the end, then a
        // LinkError from linking.
        let small = declared(
            r#"{ m = { f = "function", g = "one" }, n = { mem = "memory:0" } }"#,
            ImportObjects::Getters,
        );
        let (outcome, reads) = run(&small);
        assert_eq!(outcome.class(), LinkError);
        assert_eq!(reads.unwrap().len(), 6);
        // A value of the wrong kind stops reading there.
        let number = declared(
            r#"{ m = { f = "one", g = "one" } }"#,
            ImportObjects::Getters,
        );
        let (outcome, reads) = run(&number);
        assert_eq!(outcome.class(), LinkError);
        assert_eq!(reads.unwrap(), ["m", "m.f"]);
        // Getters show only what is there; a proxy every Get.
        let empty = |objects| declared("{ m = {} }", objects);
        assert_eq!(run(&empty(ImportObjects::Getters)).1.unwrap(), ["m"]);
        assert_eq!(run(&empty(ImportObjects::Proxies)).1.unwrap(), ["m", "m.f"]);
        // `m.toString` is inherited from Object.prototype: not modelled.
        let inherited = wat(r#"(module (import "m" "toString" (func)))"#);
        let why = decide(&inherited, &features, &empty(ImportObjects::Getters), None).unwrap_err();
        assert!(why.contains("m.toString"), "{why}");
        // A primitive import object: refused at the call.
        let null = declared(r#""null""#, ImportObjects::Getters);
        assert_eq!(decide(&bytes, &features, &null, None), Ok(TypeError));
    }

    /// A start function calling a JS function: a signature JS cannot hold
    /// (v128, exnref) and a WebAssembly constructor called without `new`
    /// both throw a TypeError of their own, whatever the function does.
    #[test]
    fn start_calling_js_throws_a_type_error_where_the_js_api_or_webidl_does() {
        let imports = |f: &str| {
            declared(
                &format!("{{ m = {{ f = {f:?} }} }}"),
                crate::imports::ImportObjects::Getters,
            )
        };
        let features = Features::baseline();
        let start = |signature: &str, f: &str| {
            let text = format!(
                r#"(module (import "m" "f" (func $f {signature})) (func $s {call}) (start $s))"#,
                call = if signature.contains("param v128") {
                    "(call $f (v128.const i64x2 0 0))"
                } else if signature.contains("param nullexnref") {
                    "(call $f (ref.null noexn))"
                } else if signature.contains("result") {
                    "(drop (call $f))"
                } else {
                    "(call $f)"
                }
            );
            decide(&wat(&text), &features, &imports(f), None)
        };
        assert_eq!(start("(param v128)", "function"), Ok(TypeError));
        assert_eq!(start("(param v128)", "throwing-function"), Ok(TypeError));
        assert_eq!(start("(result exnref)", "function"), Ok(TypeError));
        assert_eq!(start("(param nullexnref)", "function"), Ok(TypeError));
        assert_eq!(start("", "global-constructor"), Ok(TypeError));
        assert_eq!(start("", "function"), Ok(Instantiated));
        assert_eq!(
            start("", "throwing-function"),
            Ok(OutcomeClass::PassedThrough)
        );
    }

    /// Compile options: builtins and string constants are not read from
    /// the import object; a name the set lacks is.
    #[test]
    fn options_provide_builtins_and_string_constants() {
        let imports =
            |toml_value: &str| declared(toml_value, crate::imports::ImportObjects::Proxies);
        let options = OptionsDictionary {
            builtins: Some(vec!["js-string".into()]),
            imported_string_constants: Some("'".into()),
        };
        let bytes = wat(
            r#"(module (import "wasm:js-string" "length" (func (param externref) (result i32)))
                       (import "'" "hi" (global externref))
                       (import "wasm:js-string" "nope" (func)))"#,
        );
        let features = Features::baseline();
        let run = |imports: &ImportObject, options: Option<&OptionsDictionary>| {
            let compiled =
                crate::backend::Backend::compile_one_shot(&ReferenceBackend, &bytes, &features);
            after_compile_reading(compiled, &bytes, &features, imports, options)
        };
        let object = imports(r#"{ "wasm:js-string" = { nope = "function" } }"#);
        let (outcome, reads) = run(&object, Some(&options));
        assert_eq!(outcome.class(), Instantiated, "{outcome}");
        assert_eq!(reads.unwrap(), ["wasm:js-string", "wasm:js-string.nope"]);
        // Without options every import is read: `length` is missing.
        let (outcome, reads) = run(&object, None);
        assert_eq!(outcome.class(), LinkError, "{outcome}");
        assert_eq!(reads.unwrap(), ["wasm:js-string", "wasm:js-string.length"]);
        // No import object: step 1 of read the imports, options or not.
        let omitted = run(&ImportObject::Omitted, Some(&options)).0;
        assert_eq!(omitted.class(), TypeError);
        // A builtin whose type names a concrete type links: compiling
        // matched it.
        let array = wat(r#"(module (type $a (array (mut i16)))
                (import "wasm:js-string" "fromCharCodeArray" (func (param (ref null $a) i32 i32) (result (ref extern)))))"#);
        let decided = decide(&array, &features, &imports("{}"), Some(&options));
        assert_eq!(decided, Ok(Instantiated));
    }
}
