//! The reference backend's instantiation: an executable model of the JS
//! API's "instantiate a promise of a module" after the compile, in the
//! spec's order: read the imports, evaluate the constant expressions, apply
//! the active element then data segments, run the start function, and
//! describe the exports.
//!
//! The model runs no code. A start function is decided only when a small
//! static analysis proves what it does (see [`run_start`]); otherwise the
//! module is undecidable, reported as not applicable, never guessed.

use crate::case::ImportObject;
use crate::outcome::{Fingerprint, InstanceExport, InstanceFingerprint, Outcome};
use wasmparser::{
    AbstractHeapType, CompositeInnerType, ConstExpr, Data, DataKind, Element, ElementItems,
    ElementKind, Export, ExternalKind, FunctionBody, GlobalType, HeapType, MemoryType, Operator,
    Parser, Payload, TableInit, TableType, TypeRef, ValType,
};

/// How deep the start analysis follows direct calls.
const MAX_CALL_DEPTH: usize = 8;

/// The error name of an outcome the model cannot give (it was asked about
/// a module it declared not applicable).
const MODEL_ERROR: &str = "ReferenceModel";

/// Instantiates after a compile: only a compiled module goes on, and its
/// fingerprint is the instance's `module`. `bytes` are the whole module.
pub(super) fn after_compile(compiled: Outcome, bytes: &[u8], imports: &ImportObject) -> Outcome {
    let Outcome::Module { fingerprint } = compiled else {
        return compiled;
    };
    match Module::parse(bytes) {
        Ok(module) => instantiate(&module, fingerprint, imports),
        Err(e) => model_error(format!("cannot read the compiled module: {}", e.message())),
    }
}

/// Why the model cannot decide instantiating `bytes` (a valid module), or
/// `None` when it can.
///
/// An import-free module's instantiation does not depend on the import
/// object, so the whole model is run. A module with imports is judged by
/// the parts that do not depend on it (constant expressions, the start
/// function): whether the start is reached depends on an import object
/// this question does not name.
pub(super) fn undecidable(bytes: &[u8]) -> Option<String> {
    let module = Module::parse(bytes).ok()?;
    let stop = if module.imports.is_empty() {
        run(&module, &ImportObject::Omitted).err()?
    } else {
        let linked = Linked::unknown(&module);
        evaluate_constants(&module, &linked)
            .and_then(|_| run_start(&module))
            .err()?
    };
    match stop {
        Stop::Undecidable(reason) => Some(reason),
        Stop::Rejected(_) => None,
    }
}

fn instantiate(module: &Module<'_>, fingerprint: Fingerprint, imports: &ImportObject) -> Outcome {
    match run(module, imports) {
        Ok(instance) => Outcome::Instance {
            module: fingerprint,
            instance,
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

/// The model's steps, in the spec's order.
fn run(module: &Module<'_>, imports: &ImportObject) -> Result<InstanceFingerprint, Stop> {
    let linked = read_imports(module, imports)?;
    let globals = evaluate_constants(module, &linked)?;
    let store = Store::allocate(module, linked, globals);
    apply_element_segments(module, &store)?;
    apply_data_segments(module, &store)?;
    if let Ending::Traps(message) = run_start(module)? {
        return Err(runtime_error(message));
    }
    describe_exports(module, &store)
}

/// What the model needs of a module, in its index spaces
/// (imported items first, as in the binary format).
#[derive(Default)]
struct Module<'a> {
    /// Per type index, the parameter count of a function type.
    type_params: Vec<Option<usize>>,
    imports: Vec<wasmparser::Import<'a>>,
    /// Per function index, its type index.
    functions: Vec<u32>,
    imported_functions: usize,
    tables: Vec<TableType>,
    table_inits: Vec<ConstExpr<'a>>,
    memories: Vec<MemoryType>,
    /// Per global index, its type and (defined globals) its initializer.
    globals: Vec<(GlobalType, Option<ConstExpr<'a>>)>,
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
                    for ty in group?.into_types() {
                        self.type_params.push(match &ty.composite_type.inner {
                            CompositeInnerType::Func(f) => Some(f.params().len()),
                            _ => None,
                        });
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
            TypeRef::Tag(_) => {}
        }
        self.imports.push(import);
    }

    /// A function's parameter count (its JS `length`).
    fn param_count(&self, function: u32) -> Option<usize> {
        let ty = *self.functions.get(function as usize)?;
        *self.type_params.get(ty as usize)?
    }

    /// A defined function's body; `None` for an imported one.
    fn body(&self, function: u32) -> Option<&FunctionBody<'a>> {
        let defined = (function as usize).checked_sub(self.imported_functions)?;
        self.bodies.get(defined)
    }
}

// ---------------------------------------------------------------------
// Step 1: read the imports.

/// What linking against the import object provides, per imported item in
/// each index space: the sizes and values the later steps read. An
/// environment of provided externs (a new [`ImportObject`] variant) fills
/// these in; `None` is a value the model does not know.
#[derive(Debug, Default)]
struct Linked {
    table_sizes: Vec<Option<u64>>,
    memory_bytes: Vec<Option<u128>>,
    globals: Vec<Option<IntValue>>,
}

impl Linked {
    /// Every import present with an unknown size or value: for questions
    /// that must not depend on the import object.
    fn unknown(module: &Module<'_>) -> Linked {
        let mut linked = Linked::default();
        for import in &module.imports {
            match import.ty {
                TypeRef::Table(_) => linked.table_sizes.push(None),
                TypeRef::Memory(_) => linked.memory_bytes.push(None),
                TypeRef::Global(_) => linked.globals.push(None),
                TypeRef::Func(_) | TypeRef::FuncExact(_) | TypeRef::Tag(_) => {}
            }
        }
        linked
    }
}

/// JS API "read the imports": a module with imports needs an import object.
fn read_imports(module: &Module<'_>, imports: &ImportObject) -> Result<Linked, Stop> {
    match imports {
        ImportObject::Omitted => match module.imports.first() {
            None => Ok(Linked::default()),
            Some(first) => Err(Stop::Rejected(Outcome::TypeError {
                message: format!(
                    "the module has {} imports (the first \"{}\" \"{}\") and the import object is undefined",
                    module.imports.len(),
                    first.module,
                    first.name
                ),
            })),
        },
        ImportObject::Instances(_) => Err(Stop::Undecidable(
            "the reference model does not link against instances yet".into(),
        )),
    }
}

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
    let mut values = linked.globals.clone();
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
    fn allocate(module: &Module<'_>, linked: Linked, globals: Vec<Option<IntValue>>) -> Store {
        let mut table_sizes = linked.table_sizes;
        let defined_tables = module.tables.iter().skip(table_sizes.len());
        table_sizes.extend(defined_tables.map(|t| Some(t.initial)));
        let mut memory_bytes = linked.memory_bytes;
        let defined_memories = module.memories.iter().skip(memory_bytes.len());
        memory_bytes.extend(defined_memories.map(|m| Some(initial_bytes(m))));
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
}

/// The start function, decided by a static walk (see [`Walker`]).
fn run_start(module: &Module<'_>) -> Result<Ending, Stop> {
    let Some(start) = module.start else {
        return Ok(Ending::Returns);
    };
    let mut walker = Walker {
        module,
        calls: vec![start],
        budget: MAX_WALKED_OPERATORS,
    };
    match walker.walk(start) {
        Ok(Ending::Returns) => Ok(Ending::Returns),
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
/// functions. It decides only straight-line code of operators that cannot
/// trap and change nothing the instance fingerprint shows, plus
/// `unreachable`; `Err` says what else it met.
struct Walker<'m, 'a> {
    module: &'m Module<'a>,
    /// The call chain down to the function being walked.
    calls: Vec<u32>,
    /// Operators left to read.
    budget: usize,
}

impl Walker<'_, '_> {
    fn walk(&mut self, function: u32) -> Result<Ending, String> {
        let body = self
            .module
            .body(function)
            .ok_or_else(|| format!("calls imported function {function}"))?;
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
                        "at offset {offset:#x} in function {function}"
                    )))
                }
                // Without blocks, the only `end` is the function's own.
                Operator::End => return Ok(Ending::Returns),
                Operator::Call { function_index } => {
                    let ending = self
                        .call(function_index)
                        .map_err(|why| format!("calls function {function_index}, which {why}"))?;
                    if let Ending::Traps(_) = ending {
                        return Ok(ending);
                    }
                }
                op if is_inert(&op) => {}
                op => return Err(format!("uses {} at offset {offset:#x}", operator_name(&op))),
            }
        }
    }

    fn call(&mut self, callee: u32) -> Result<Ending, String> {
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
        kind: super::export_kind(export.kind).into(),
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
    use crate::outcome::OutcomeClass;
    use crate::plan::PlanSet;

    fn wat(text: &str) -> Vec<u8> {
        let buffer = wast::parser::ParseBuffer::new(text).expect("lexes");
        let mut module = wast::parser::parse::<wast::Wat<'_>>(&buffer).expect("parses");
        module.encode().expect("encodes")
    }

    fn streamed(bytes: &[u8], plan: &crate::plan::ChunkPlan, end: BodyEnd) -> Outcome {
        let body = StreamingBody {
            chunks: plan.chunks(bytes),
            end,
        };
        ReferenceBackend.instantiate_streaming(body, &Features::baseline(), &ImportObject::Omitted)
    }

    /// The one-shot outcome, after checking every default plan agrees.
    fn instantiate_with(bytes: &[u8], features: &Features) -> Outcome {
        let imports = ImportObject::Omitted;
        let one_shot = ReferenceBackend.instantiate_one_shot(bytes, features, &imports);
        for plan in PlanSet::Default.plans(bytes) {
            let body = StreamingBody {
                chunks: plan.chunks(bytes),
                end: BodyEnd::Close,
            };
            let outcome = ReferenceBackend.instantiate_streaming(body, features, &imports);
            assert!(
                outcome.equivalent(&one_shot),
                "{plan}: {outcome} vs {one_shot}"
            );
        }
        one_shot
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
        ReferenceBackend.not_applicable(&wat(text), &Features::baseline())
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
            assert!(not_applicable(&text).is_some(), "{body}");
            // With imports and no import object: decided before the start.
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
}
