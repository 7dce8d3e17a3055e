//! Step 1 of the model in detail: the environment an import object of
//! named instances stands for, the JS API's "read the imports" over it,
//! then core linking (extern type matching) of what was read.
//!
//! Every value of such an import object is a WebAssembly instance's
//! exports: an Exported Function, or a `Global`, `Memory`, `Table` or `Tag`
//! object of a wasm instance. So the model needs no JS values beyond those
//! and `undefined`.

use super::builtins::{CompiledWith, Provided, STRING_CONSTANT};
use super::{compile, run, Instance, IntValue, Module, Stop};
use crate::features::Features;
use crate::imports::{
    DeclaredImports, GlobalValueType, ImportObject, ImportObjects, ImportValue, NamedValue,
    Primitive,
};
use crate::outcome::Outcome;
use std::cell::RefCell;
use wasmparser::{
    AbstractHeapType, CompositeInnerType, GlobalType, HeapType, Import, MemoryType, RefType,
    SubType, TableType, TypeRef, ValType,
};

/// The instance index of a host function (a JS function a declared import
/// object gives): its `function` is one of [`HOST_RETURNS`],
/// [`HOST_THROWS`].
pub(super) const HOST: usize = usize::MAX;
/// A JS function that returns `undefined`.
pub(super) const HOST_RETURNS: u32 = 0;
/// A JS function that throws a fresh object.
pub(super) const HOST_THROWS: u32 = 1;
/// A WebAssembly constructor (`WebAssembly.Global`...): calling it
/// without `new` throws a `TypeError`.
pub(super) const HOST_CONSTRUCTOR: u32 = 2;
/// The instance index of a builtin function the compile options provide
/// (the model does not run builtins).
pub(super) const BUILTIN: usize = usize::MAX - 1;

/// The properties a plain JS object (`{}`) inherits from
/// `Object.prototype`: a namespace of one of these names that the import
/// object does not hold is still an object, whose fields the model does not
/// know.
const OBJECT_PROTOTYPE: &[&str] = &[
    "constructor",
    "hasOwnProperty",
    "isPrototypeOf",
    "propertyIsEnumerable",
    "toLocaleString",
    "toString",
    "valueOf",
    "__defineGetter__",
    "__defineSetter__",
    "__lookupGetter__",
    "__lookupSetter__",
    "__proto__",
];

/// Where a function's code is: an instance (an index into the
/// environment's instances; the module being instantiated comes right
/// after them) and the function's index in that instance's module. It
/// always names a function the module defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct FuncRef {
    pub(super) instance: usize,
    pub(super) function: u32,
}

/// A type as a module defines it, with what type matching needs to know
/// of its recursion group.
#[derive(Clone, Debug)]
pub(super) struct DefType {
    pub(super) sub: SubType,
    /// Whether it is the only type of its recursion group.
    pub(super) alone: bool,
}

impl DefType {
    /// The parameter count of a function type.
    pub(super) fn param_count(&self) -> Option<usize> {
        match &self.sub.composite_type.inner {
            CompositeInnerType::Func(f) => Some(f.params().len()),
            _ => None,
        }
    }
}

/// A function in the store: its type, and where its code is.
#[derive(Clone, Debug)]
pub(super) struct FuncExtern {
    pub(super) ty: DefType,
    pub(super) at: FuncRef,
}

/// A table in the store, with its current size.
#[derive(Clone, Copy, Debug)]
pub(super) struct TableExtern {
    pub(super) ty: TableType,
    pub(super) size: u64,
}

/// A memory in the store, with its current size in pages.
#[derive(Clone, Copy, Debug)]
pub(super) struct MemoryExtern {
    pub(super) ty: MemoryType,
    pub(super) pages: u64,
}

impl MemoryExtern {
    pub(super) fn bytes(&self) -> u128 {
        u128::from(self.pages) << self.ty.page_size_log2.unwrap_or(16)
    }
}

/// A global in the store, with its value when it is an integer the model
/// knows (only immutable globals are ever read by constant expressions).
#[derive(Clone, Copy, Debug)]
pub(super) struct GlobalExtern {
    pub(super) ty: GlobalType,
    pub(super) value: Option<IntValue>,
}

/// What an instance exports, as linking sees it.
#[derive(Clone, Debug)]
pub(super) enum Extern {
    Func(FuncExtern),
    Table(TableExtern),
    Memory(MemoryExtern),
    Global(GlobalExtern),
    /// A tag, by its function type.
    Tag(DefType),
}

impl Extern {
    /// The JS value, as an error message names it.
    fn js_name(value: Option<&Extern>) -> &'static str {
        match value {
            None => "undefined",
            Some(Extern::Func(_)) => "an exported function",
            Some(Extern::Table(_)) => "a WebAssembly.Table",
            Some(Extern::Memory(_)) => "a WebAssembly.Memory",
            Some(Extern::Global(_)) => "a WebAssembly.Global",
            Some(Extern::Tag(_)) => "a WebAssembly.Tag",
        }
    }
}

/// What linking against the import object provides, per imported item in
/// each index space: the externs, whose sizes and values the later steps
/// read.
#[derive(Debug, Default)]
pub(super) struct Linked {
    pub(super) functions: Vec<FuncExtern>,
    pub(super) tables: Vec<TableExtern>,
    pub(super) memories: Vec<MemoryExtern>,
    pub(super) globals: Vec<GlobalExtern>,
    pub(super) tags: Vec<DefType>,
}

impl Linked {
    fn push(&mut self, provided: Extern) {
        match provided {
            Extern::Func(f) => self.functions.push(f),
            Extern::Table(t) => self.tables.push(t),
            Extern::Memory(m) => self.memories.push(m),
            Extern::Global(g) => self.globals.push(g),
            Extern::Tag(t) => self.tags.push(t),
        }
    }
}

/// The import object as the model holds it: whether there is one, and the
/// instances it was built from, in the order they were instantiated.
pub(super) struct Environment<'a> {
    /// `false`: the import object is `undefined`.
    object: bool,
    pub(super) instances: Vec<NamedInstance<'a>>,
    /// A declared import object, read instead of `instances`.
    declared: Option<&'a ImportValue>,
    /// How the declared object's objects are made (what its log shows).
    objects: ImportObjects,
    /// The declared object's property reads so far, as the JS driver logs
    /// them (`m`, then `m.f`).
    pub(super) reads: RefCell<Vec<String>>,
    /// The options the instantiated module was compiled with: the imports
    /// they provide are not read from the import object.
    pub(super) with: CompiledWith<'a>,
}

/// One instance of an import object built from named modules.
pub(super) struct NamedInstance<'a> {
    pub(super) name: &'a str,
    pub(super) module: Module<'a>,
    pub(super) instance: Instance,
}

impl<'a> Environment<'a> {
    /// The environment an import object stands for: each named module
    /// compiled with the case's features and instantiated by the model, in
    /// order, against the object built so far (as the JS driver does).
    /// `Err` says why the model cannot tell what that object is: a module
    /// that does not compile or instantiate is the harness's error, never
    /// the engine's.
    pub(super) fn build(
        imports: &'a ImportObject,
        features: &Features,
    ) -> Result<Environment<'a>, String> {
        let named = match imports {
            ImportObject::Omitted => {
                return Ok(Environment {
                    object: false,
                    instances: Vec::new(),
                    declared: None,
                    objects: ImportObjects::Getters,
                    reads: RefCell::default(),
                    with: CompiledWith::default(),
                })
            }
            ImportObject::Declared(declared) => return Environment::declared(declared),
            ImportObject::Instances(named) => named,
        };
        let mut env = Environment {
            object: true,
            instances: Vec::with_capacity(named.len()),
            declared: None,
            objects: ImportObjects::Getters,
            reads: RefCell::default(),
            with: CompiledWith::default(),
        };
        for named in named.iter() {
            let name = named.name.as_str();
            let fail = |why: String| format!("the import object's namespace \"{name}\" {why}");
            if name == "__proto__" {
                // `object.__proto__ = exports` sets the object's prototype.
                return Err(fail(
                    "replaces the object's prototype, which the reference model does not model"
                        .into(),
                ));
            }
            let module = compile(&named.bytes, features)
                .map_err(|e| fail(format!("does not compile: {e}")))?;
            let instance = match run(&module, &env) {
                Ok(instance) => instance,
                Err(Stop::Rejected(outcome)) => {
                    return Err(fail(format!("does not instantiate: {outcome}")))
                }
                Err(Stop::Undecidable(why)) => {
                    return Err(fail(format!(
                        "is not decided by the reference model: {why}"
                    )))
                }
            };
            env.instances.push(NamedInstance {
                name,
                module,
                instance,
            });
        }
        Ok(env)
    }

    /// A declared import object: `undefined` is no import object; any
    /// other primitive is refused at the call (WebIDL), before the model
    /// runs.
    fn declared(declared: &'a DeclaredImports) -> Result<Environment<'a>, String> {
        let value = &declared.value;
        let object = match value {
            ImportValue::Named(NamedValue::Primitive(Primitive::Undefined)) => false,
            value if value.is_object() => true,
            value => {
                return Err(format!(
                    "the import object {value:?} is not an object: the call itself throws, before an instantiation"
                ))
            }
        };
        Ok(Environment {
            object,
            instances: Vec::new(),
            declared: object.then_some(value),
            objects: declared.objects,
            reads: RefCell::default(),
            with: CompiledWith::default(),
        })
    }

    /// `Get(importObject, name)`: the instance whose exports the object
    /// holds under `name` (the last of that name: a later one replaced it),
    /// or `None` when the property is undefined.
    fn namespace(&self, name: &str) -> Result<Option<&NamedInstance<'a>>, Stop> {
        if let Some(named) = self.instances.iter().rev().find(|n| n.name == name) {
            return Ok(Some(named));
        }
        if OBJECT_PROTOTYPE.contains(&name) {
            return Err(Stop::Undecidable(format!(
                "the import object has no namespace \"{name}\", but inherits an object of that name from Object.prototype"
            )));
        }
        Ok(None)
    }
}

impl NamedInstance<'_> {
    /// `Get(exports, name)`: an exports object has a null prototype.
    fn export(&self, name: &str) -> Option<&Extern> {
        let exports = &self.instance.exports;
        exports.iter().find(|(n, _)| n == name).map(|(_, e)| e)
    }
}

fn describe(index: usize, import: &Import<'_>) -> String {
    format!("import {index} \"{}\" \"{}\"", import.module, import.name)
}

fn link_error(message: String) -> Stop {
    Stop::Rejected(Outcome::LinkError { message })
}

/// JS API "read the imports", then core linking: what `module`'s imports
/// are bound to in `env`.
pub(super) fn read_imports(module: &Module<'_>, env: &Environment<'_>) -> Result<Linked, Stop> {
    if !env.object {
        return match module.imports.first() {
            None => Ok(Linked::default()),
            Some(first) => Err(Stop::Rejected(Outcome::TypeError {
                message: format!(
                    "the module has {} imports (the first \"{}\" \"{}\") and the import object is undefined",
                    module.imports.len(),
                    first.module,
                    first.name
                ),
            })),
        };
    }
    let provided = match env.declared {
        Some(object) => read_declared_imports(module, object, env)?,
        None => read_the_imports(module, env)?,
    };
    link(module, provided, &env.with)
}

/// "Read the imports", in the module's import order: a namespace that is
/// not an object is a `TypeError`; a value of the wrong kind (`undefined`
/// included) a `LinkError`. Only kinds are checked here: a non-`Global`
/// value for a reference-typed global import becomes a new immutable
/// global, as `ToWebAssemblyValue` converts it.
fn read_the_imports(module: &Module<'_>, env: &Environment<'_>) -> Result<Vec<Extern>, Stop> {
    let mut provided = Vec::with_capacity(module.imports.len());
    for (index, import) in module.imports.iter().enumerate() {
        if let Some(given) = provided_by_options(module, import, env)? {
            provided.push(given);
            continue;
        }
        let what = || describe(index, import);
        let Some(namespace) = env.namespace(import.module)? else {
            return Err(Stop::Rejected(Outcome::TypeError {
                message: format!(
                    "{}: the import object's \"{}\" is undefined, not an object",
                    what(),
                    import.module
                ),
            }));
        };
        let value = namespace.export(import.name);
        let wrong = |needs: &str| {
            link_error(format!(
                "{}: {} is not {needs}",
                what(),
                Extern::js_name(value)
            ))
        };
        let read = match (import.ty, value) {
            (TypeRef::Func(_) | TypeRef::FuncExact(_), Some(f @ Extern::Func(_)))
            | (TypeRef::Table(_), Some(f @ Extern::Table(_)))
            | (TypeRef::Memory(_), Some(f @ Extern::Memory(_)))
            | (TypeRef::Global(_), Some(f @ Extern::Global(_)))
            | (TypeRef::Tag(_), Some(f @ Extern::Tag(_))) => f.clone(),
            (TypeRef::Func(_) | TypeRef::FuncExact(_), _) => return Err(wrong("callable")),
            (TypeRef::Table(_), _) => return Err(wrong("a WebAssembly.Table")),
            (TypeRef::Memory(_), _) => return Err(wrong("a WebAssembly.Memory")),
            (TypeRef::Tag(_), _) => return Err(wrong("a WebAssembly.Tag")),
            (TypeRef::Global(ty), _) => Extern::Global(host_global(ty, value, &what)?),
        };
        provided.push(read);
    }
    Ok(provided)
}

/// "Read the imports" from a declared import object: per import, in
/// order, `Get(importObject, module)` (a non-object is a `TypeError`),
/// then `Get(namespace, name)`, each read of a declared object logged; a
/// getter that throws passes its error through; the value's kind is then
/// checked as for [`read_the_imports`], with the JS API's rules for
/// Numbers and BigInts given to a global.
fn read_declared_imports(
    module: &Module<'_>,
    object: &ImportValue,
    env: &Environment<'_>,
) -> Result<Vec<Extern>, Stop> {
    let get = |holder: &ImportValue,
               name: &str,
               path: String|
     -> Result<Option<ImportValue>, Stop> {
        let Some(found) = holder.get(name) else {
            return Err(Stop::Undecidable(format!("{path}: read from a primitive")));
        };
        // What an object inherits is not declared: a plain object's
        // `Object.prototype` members, and every property of a function
        // or a WebAssembly object.
        let inherited = match holder {
            ImportValue::Object(_) => OBJECT_PROTOTYPE.contains(&name),
            ImportValue::Named(_) => true,
        };
        if found.is_none() && inherited {
            return Err(Stop::Undecidable(format!(
                    "{path}: the declared object does not hold it, and the reference model does not model what it inherits"
                )));
        }
        // A getter logs a property that is there; a proxy's `get` trap
        // sees every read.
        let logged = match (holder, env.objects) {
            (ImportValue::Object(_), ImportObjects::Proxies) => true,
            (ImportValue::Object(_), ImportObjects::Getters) => found.is_some(),
            _ => false,
        };
        if logged {
            env.reads.borrow_mut().push(path);
        }
        match found {
            Some(ImportValue::Named(NamedValue::ThrowingGetter)) => {
                Err(Stop::Rejected(Outcome::PassedThrough))
            }
            found => Ok(found.cloned()),
        }
    };
    let mut provided = Vec::with_capacity(module.imports.len());
    for (index, import) in module.imports.iter().enumerate() {
        if let Some(given) = provided_by_options(module, import, env)? {
            provided.push(given);
            continue;
        }
        let what = || describe(index, import);
        let namespace = get(object, import.module, import.module.to_string())?;
        let namespace = match namespace {
            Some(namespace) if namespace.is_object() => namespace,
            other => {
                return Err(Stop::Rejected(Outcome::TypeError {
                    message: format!(
                        "{}: the import object's \"{}\" is {}, not an object",
                        what(),
                        import.module,
                        js_name(other.as_ref())
                    ),
                }))
            }
        };
        let value = get(
            &namespace,
            import.name,
            format!("{}.{}", import.module, import.name),
        )?;
        let named = match &value {
            None => NamedValue::Primitive(Primitive::Undefined),
            Some(ImportValue::Named(named)) => *named,
            Some(ImportValue::Object(_)) => NamedValue::PlainObject,
        };
        let wrong = |needs: &str| {
            link_error(format!(
                "{}: {} is not {needs}",
                what(),
                js_name(value.as_ref())
            ))
        };
        let read = match (import.ty, named) {
            (
                TypeRef::Func(ty),
                NamedValue::Function | NamedValue::ThrowingFunction | NamedValue::Constructor(_),
            ) => Extern::Func(FuncExtern {
                ty: module.def_type(ty)?.clone(),
                at: FuncRef {
                    instance: HOST,
                    function: match named {
                        NamedValue::ThrowingFunction => HOST_THROWS,
                        NamedValue::Constructor(_) => HOST_CONSTRUCTOR,
                        _ => HOST_RETURNS,
                    },
                },
            }),
            (
                TypeRef::FuncExact(_),
                NamedValue::Function | NamedValue::ThrowingFunction | NamedValue::Constructor(_),
            ) => {
                return Err(Stop::Undecidable(format!(
                    "{}: an exact function import given a JS function is not modelled",
                    what()
                )))
            }
            (TypeRef::Func(_) | TypeRef::FuncExact(_), _) => return Err(wrong("callable")),
            (TypeRef::Memory(_), NamedValue::Memory { initial, maximum }) => {
                Extern::Memory(MemoryExtern {
                    ty: MemoryType {
                        memory64: false,
                        shared: false,
                        initial: initial.into(),
                        maximum: maximum.map(u64::from),
                        page_size_log2: None,
                    },
                    pages: initial.into(),
                })
            }
            (TypeRef::Memory(_), _) => return Err(wrong("a WebAssembly.Memory")),
            (TypeRef::Table(_), NamedValue::Table { initial, maximum }) => {
                Extern::Table(TableExtern {
                    ty: TableType {
                        element_type: RefType::FUNCREF,
                        table64: false,
                        initial: initial.into(),
                        maximum: maximum.map(u64::from),
                        shared: false,
                    },
                    size: initial.into(),
                })
            }
            (TypeRef::Table(_), _) => return Err(wrong("a WebAssembly.Table")),
            (TypeRef::Tag(_), _) => return Err(wrong("a WebAssembly.Tag")),
            (TypeRef::Global(ty), named) => Extern::Global(declared_global(ty, named, &what)?),
        };
        provided.push(read);
    }
    Ok(provided)
}

/// What the compile options give an import instead of the import object
/// (a builtin function, or a string constant's global), if they do.
fn provided_by_options(
    module: &Module<'_>,
    import: &Import<'_>,
    env: &Environment<'_>,
) -> Result<Option<Extern>, Stop> {
    Ok(match env.with.provides(import) {
        Provided::ImportObject => None,
        Provided::StringConstant => Some(Extern::Global(GlobalExtern {
            ty: STRING_CONSTANT,
            value: None,
        })),
        // Compiling checked the import's type against the builtin's: it
        // links with the import's own type.
        Provided::Builtin => match import.ty {
            TypeRef::Func(ty) | TypeRef::FuncExact(ty) => Some(Extern::Func(FuncExtern {
                ty: module.def_type(ty)?.clone(),
                at: FuncRef {
                    instance: BUILTIN,
                    function: 0,
                },
            })),
            _ => {
                return Err(Stop::Undecidable(
                    "a builtin import that is not a function compiled".into(),
                ))
            }
        },
    })
}

/// A declared value given to a global import: a `Global` object links by
/// its type; a Number or BigInt makes a new immutable global where the
/// JS API allows it (a Number for a non-`i64` immutable global, a BigInt
/// for an `i64` one); anything else is a `LinkError`.
fn declared_global(
    ty: GlobalType,
    named: NamedValue,
    what: &dyn Fn() -> String,
) -> Result<GlobalExtern, Stop> {
    let given = js_name(Some(&ImportValue::Named(named)));
    let number = |mutable: bool| -> Result<GlobalExtern, Stop> {
        if mutable {
            return Err(link_error(format!(
                "{}: {given} is a primitive, and a mutable global import needs a WebAssembly.Global",
                what()
            )));
        }
        Ok(GlobalExtern { ty, value: None })
    };
    match (ty.content_type, named) {
        (
            _,
            NamedValue::Global {
                ty: declared,
                mutable,
            },
        ) => Ok(GlobalExtern {
            ty: GlobalType {
                content_type: match declared {
                    GlobalValueType::I32 => ValType::I32,
                    GlobalValueType::I64 => ValType::I64,
                    GlobalValueType::F32 => ValType::F32,
                    GlobalValueType::F64 => ValType::F64,
                },
                mutable,
                shared: false,
            },
            value: None,
        }),
        (ValType::I32 | ValType::F32 | ValType::F64, NamedValue::Primitive(p)) if p.is_number() => {
            number(ty.mutable)
        }
        (ValType::I64, NamedValue::Primitive(Primitive::ZeroBigint)) => number(ty.mutable),
        (ValType::Ref(_), _) => Err(Stop::Undecidable(format!(
            "{}: the reference model does not convert a declared {given} to a reference",
            what()
        ))),
        _ => Err(link_error(format!(
            "{}: {given} is not a WebAssembly.Global{}",
            what(),
            match ty.content_type {
                ValType::I64 => " or a BigInt",
                ValType::V128 => "",
                _ => " or a Number",
            }
        ))),
    }
}

/// A declared value, as an error message names it.
fn js_name(value: Option<&ImportValue>) -> String {
    match value {
        None => "undefined".into(),
        Some(ImportValue::Object(_)) => "an object".into(),
        Some(ImportValue::Named(named)) => named.to_string(),
    }
}

/// A global import given a value that is not a `Global`: numbers and
/// `v128` need a `Global` here (an import object of instances holds no
/// Numbers or BigInts); a reference is `ToWebAssemblyValue(v, valtype)`,
/// whose `TypeError` is a `LinkError`, allocated as an immutable global of
/// the import's value type.
fn host_global(
    ty: GlobalType,
    value: Option<&Extern>,
    what: &dyn Fn() -> String,
) -> Result<GlobalExtern, Stop> {
    let given = Extern::js_name(value);
    let reftype = match ty.content_type {
        ValType::I64 => {
            return Err(link_error(format!(
                "{}: {given} is neither a WebAssembly.Global nor a BigInt",
                what()
            )))
        }
        ValType::I32 | ValType::F32 | ValType::F64 => {
            return Err(link_error(format!(
                "{}: {given} is neither a WebAssembly.Global nor a Number",
                what()
            )))
        }
        ValType::V128 => {
            return Err(link_error(format!(
                "{}: {given} is not a WebAssembly.Global, and a v128 global needs one",
                what()
            )))
        }
        ValType::Ref(r) => r,
    };
    let is_function = matches!(value, Some(Extern::Func(_)));
    let undecidable = |why: &str| {
        Stop::Undecidable(format!(
            "{}: the reference model does not convert {given} to {reftype} ({why})",
            what()
        ))
    };
    // `v` is never null here. An exported function becomes its funcref
    // where the type is in the func hierarchy; under extern, anything
    // becomes `ref extern`; anything else a host reference, `ref any`.
    let converts = match reftype.heap_type() {
        HeapType::Abstract { shared: true, .. } => return Err(undecidable("a shared type")),
        HeapType::Abstract { ty, .. } => {
            use AbstractHeapType::*;
            match ty {
                Extern | Any => true,
                Func => is_function,
                NoExtern | NoFunc | Eq | I31 | Struct | Array | None => false,
                Exn | NoExn | Cont | NoCont => {
                    return Err(undecidable("no JS value converts to it"))
                }
            }
        }
        // A host reference, `ref any`, is below no concrete type; a
        // function's type against a concrete one is a question of type
        // identity across modules.
        HeapType::Concrete(_) | HeapType::Exact(_) if is_function => {
            return Err(undecidable("a concrete type"))
        }
        HeapType::Concrete(_) | HeapType::Exact(_) => false,
    };
    if !converts {
        return Err(link_error(format!(
            "{}: ToWebAssemblyValue of {given} to {reftype} throws",
            what()
        )));
    }
    Ok(GlobalExtern {
        ty: GlobalType {
            content_type: ty.content_type,
            mutable: false,
            shared: false,
        },
        value: None,
    })
}

/// Whether an extern matches its import's type.
enum Match {
    Yes,
    No(String),
    Unknown(String),
}

/// Core linking (`module_instantiate`'s import check): the first import
/// whose extern does not match its type is a `LinkError`. An import the
/// model cannot judge makes the outcome undecidable, unless a later one
/// surely does not match: a `LinkError` either way.
fn link(
    module: &Module<'_>,
    provided: Vec<Extern>,
    with: &CompiledWith<'_>,
) -> Result<Linked, Stop> {
    let mut linked = Linked::default();
    let mut unknown = None;
    for (index, (import, provided)) in module.imports.iter().zip(provided).enumerate() {
        // What the compile options provide was matched when compiling.
        let matched = match with.provides(import) {
            Provided::ImportObject => extern_matches(module, import.ty, &provided),
            Provided::Builtin | Provided::StringConstant => Match::Yes,
        };
        match matched {
            Match::Yes => {}
            Match::No(why) => {
                return Err(link_error(format!("{}: {why}", describe(index, import))))
            }
            Match::Unknown(why) => {
                unknown.get_or_insert_with(|| {
                    format!(
                        "{}: the reference model cannot tell whether it links: {why}",
                        describe(index, import)
                    )
                });
            }
        }
        linked.push(provided);
    }
    match unknown {
        Some(why) => Err(Stop::Undecidable(why)),
        None => Ok(linked),
    }
}

fn extern_matches(module: &Module<'_>, import: TypeRef, provided: &Extern) -> Match {
    let def_type = |index: u32| {
        module
            .types
            .get(index as usize)
            .ok_or_else(|| format!("type {index} is not in the module"))
    };
    match (import, provided) {
        (TypeRef::FuncExact(_), Extern::Func(_)) => {
            Match::Unknown("exact function imports are not modelled".into())
        }
        (TypeRef::Func(index), Extern::Func(f)) => match def_type(index) {
            Ok(expected) => def_type_matches(&f.ty, expected),
            Err(why) => Match::Unknown(why),
        },
        (TypeRef::Tag(tag), Extern::Tag(actual)) => match def_type(tag.func_type_idx) {
            Ok(expected) => def_type_matches(actual, expected),
            Err(why) => Match::Unknown(why),
        },
        (TypeRef::Global(expected), Extern::Global(actual)) => {
            global_matches(&actual.ty, &expected)
        }
        (TypeRef::Memory(expected), Extern::Memory(actual)) => memory_matches(actual, &expected),
        (TypeRef::Table(expected), Extern::Table(actual)) => table_matches(actual, &expected),
        // Reading the imports checked the kinds.
        _ => Match::Unknown("an extern of another kind".into()),
    }
}

/// `actual` matches `expected` as a function or tag type: equivalent
/// types (the same recursion group, structurally, and the same place in
/// it), or for a function `actual` declared a subtype of `expected`.
/// Decided only for a type that declares no supertype and is alone in its
/// recursion group (every type of a module without GC's `rec` and `sub`):
/// then matching is equality of the two definitions.
fn def_type_matches(actual: &DefType, expected: &DefType) -> Match {
    let (a, e) = (&actual.sub, &expected.sub);
    let no = || Match::No(format!("type {a} does not match {e}"));
    if !a.supertype_idxs.is_empty() {
        return Match::Unknown(format!("type {a} declares a supertype"));
    }
    if !actual.alone || !expected.alone {
        return Match::Unknown("a type in a recursion group of several types".into());
    }
    let (ac, ec) = (&a.composite_type, &e.composite_type);
    let descriptors = [
        ac.descriptor_idx,
        ac.describes_idx,
        ec.descriptor_idx,
        ec.describes_idx,
    ];
    if descriptors.iter().any(Option::is_some) {
        return Match::Unknown("a type with a descriptor".into());
    }
    if !e.supertype_idxs.is_empty() || a.is_final != e.is_final || ac.shared != ec.shared {
        return no();
    }
    let (CompositeInnerType::Func(af), CompositeInnerType::Func(ef)) = (&ac.inner, &ec.inner)
    else {
        return Match::Unknown(format!("type {a} or {e} is not a function type"));
    };
    if af.params().len() != ef.params().len() || af.results().len() != ef.results().len() {
        return no();
    }
    let pairs = af
        .params()
        .iter()
        .zip(ef.params())
        .chain(af.results().iter().zip(ef.results()));
    let mut known = true;
    for (x, y) in pairs {
        match same_valtype(*x, *y) {
            Some(true) => {}
            Some(false) => return no(),
            None => known = false,
        }
    }
    if known {
        Match::Yes
    } else {
        Match::Unknown(format!(
            "types {a} and {e} name concrete types, which are not compared across modules"
        ))
    }
}

/// Whether two value types are the same; `None` when both name concrete
/// types (type indices of different modules).
fn same_valtype(a: ValType, b: ValType) -> Option<bool> {
    match (a, b) {
        (ValType::Ref(a), ValType::Ref(b)) => same_reftype(a, b),
        (a, b) => Some(a == b),
    }
}

fn same_reftype(a: RefType, b: RefType) -> Option<bool> {
    if a.is_nullable() != b.is_nullable() {
        return Some(false);
    }
    match (a.heap_type(), b.heap_type()) {
        (a @ HeapType::Abstract { .. }, b @ HeapType::Abstract { .. }) => Some(a == b),
        (HeapType::Abstract { .. }, _) | (_, HeapType::Abstract { .. }) => Some(false),
        _ => None,
    }
}

/// Value subtyping, `a <: b`, for an immutable global; `None` when it
/// depends on a concrete type.
fn valtype_sub(a: ValType, b: ValType) -> Option<bool> {
    let (ValType::Ref(a), ValType::Ref(b)) = (a, b) else {
        return Some(a == b);
    };
    if a.is_nullable() && !b.is_nullable() {
        return Some(false);
    }
    match (a.heap_type(), b.heap_type()) {
        (
            HeapType::Abstract {
                shared: a_shared,
                ty: a,
            },
            HeapType::Abstract {
                shared: b_shared,
                ty: b,
            },
        ) => Some(a_shared == b_shared && abstract_sub(a, b)),
        // Only a bottom type is below a concrete one.
        (HeapType::Abstract { ty, .. }, _) if !is_bottom(ty) => Some(false),
        _ => None,
    }
}

fn is_bottom(ty: AbstractHeapType) -> bool {
    use AbstractHeapType::*;
    matches!(ty, None | NoFunc | NoExtern | NoExn | NoCont)
}

/// Subtyping of abstract heap types.
fn abstract_sub(a: AbstractHeapType, b: AbstractHeapType) -> bool {
    use AbstractHeapType::*;
    a == b
        || matches!(
            (a, b),
            (Eq | I31 | Struct | Array | None, Any)
                | (I31 | Struct | Array | None, Eq)
                | (None, I31 | Struct | Array)
                | (NoFunc, Func)
                | (NoExtern, Extern)
                | (NoExn, Exn)
                | (NoCont, Cont)
        )
}

/// An immutable global matches a supertype of its value type; a mutable
/// one only its own.
fn global_matches(actual: &GlobalType, expected: &GlobalType) -> Match {
    if actual.mutable != expected.mutable {
        let mutability = |m: bool| if m { "mutable" } else { "immutable" };
        return Match::No(format!(
            "a {} global does not match a {} one",
            mutability(actual.mutable),
            mutability(expected.mutable)
        ));
    }
    if actual.shared != expected.shared {
        return Match::No("the globals' shared flags differ".into());
    }
    let (a, e) = (actual.content_type, expected.content_type);
    let sub = if actual.mutable {
        same_valtype(a, e)
    } else {
        valtype_sub(a, e)
    };
    match sub {
        Some(true) => Match::Yes,
        Some(false) => Match::No(format!("a global of type {a} does not match type {e}")),
        None => Match::Unknown(format!(
            "global types {a} and {e} name concrete types, which are not compared across modules"
        )),
    }
}

/// Limits matching against the extern's current size: at least the
/// import's minimum, and a maximum no larger than the import's, if it has
/// one.
fn limits_match(what: &str, current: u64, max: Option<u64>, expected: (u64, Option<u64>)) -> Match {
    let (min, expected_max) = expected;
    if current < min {
        return Match::No(format!(
            "the {what}'s current size {current} is below the import's minimum {min}"
        ));
    }
    match (max, expected_max) {
        (_, None) => Match::Yes,
        (Some(max), Some(expected_max)) if max <= expected_max => Match::Yes,
        (Some(max), Some(expected_max)) => Match::No(format!(
            "the {what}'s maximum {max} is above the import's maximum {expected_max}"
        )),
        (None, Some(expected_max)) => Match::No(format!(
            "the {what} has no maximum, and the import's is {expected_max}"
        )),
    }
}

fn memory_matches(actual: &MemoryExtern, expected: &MemoryType) -> Match {
    let ty = &actual.ty;
    if ty.memory64 != expected.memory64 {
        return Match::No("the memories' index types differ".into());
    }
    if ty.shared != expected.shared {
        return Match::No("one memory is shared and the other is not".into());
    }
    let page = |m: &MemoryType| 1u64 << m.page_size_log2.unwrap_or(16);
    if page(ty) != page(expected) {
        return Match::No(format!(
            "a memory of {}-byte pages does not match one of {}-byte pages",
            page(ty),
            page(expected)
        ));
    }
    limits_match(
        "memory",
        actual.pages,
        ty.maximum,
        (expected.initial, expected.maximum),
    )
}

fn table_matches(actual: &TableExtern, expected: &TableType) -> Match {
    let ty = &actual.ty;
    if ty.table64 != expected.table64 {
        return Match::No("the tables' index types differ".into());
    }
    if ty.shared != expected.shared {
        return Match::No("one table is shared and the other is not".into());
    }
    let (a, e) = (ty.element_type, expected.element_type);
    match same_reftype(a, e) {
        Some(true) => {}
        Some(false) => return Match::No(format!("a table of {a} does not match a table of {e}")),
        None => {
            return Match::Unknown(format!(
            "element types {a} and {e} name concrete types, which are not compared across modules"
        ))
        }
    }
    limits_match(
        "table",
        actual.size,
        ty.maximum,
        (expected.initial, expected.maximum),
    )
}
