//! Compile options in the model (js-string-builtins, in the JS API): the
//! builtin functions of the `js-string` set and their types, "validate
//! builtins and imported strings" (a CompileError after the bytes
//! validate), what `Module.imports()` hides, and what "read the imports"
//! takes from the builtin sets and the string constant module instead of
//! the import object.
//!
//! The types are the JS API's (WebAssembly 3.0 text, `(rec (type (func
//! ...))).0`): each builtin's type is alone in its recursion group, final,
//! without supertypes, so an import matches it only with an equivalent
//! type (the same shape, alone in its group, final, no supertype).

use super::link::DefType;
use super::Module;
use crate::scenario::{OptionsDictionary, JS_STRING_BUILTINS};
use wasmparser::{
    AbstractHeapType, CompositeInnerType, GlobalType, HeapType, Import, RefType, StorageType,
    TypeRef, ValType,
};

/// A parameter or result type of a builtin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Param {
    /// `externref`: `(ref null extern)`.
    Externref,
    /// `(ref extern)`.
    RefExtern,
    I32,
    /// `(ref null $a)` with `$a` = `(rec (type (array (mut i16)))).0`.
    I16Array,
}

use Param::{Externref, I16Array, RefExtern, I32};

/// One builtin: its name, parameters, results, and whether its type is
/// unsettled (the JS API's text and the proposal's Overview disagree, so
/// the model does not decide an import of it).
struct Builtin {
    name: &'static str,
    params: &'static [Param],
    results: &'static [Param],
    unsettled: Option<&'static str>,
}

const fn builtin(
    name: &'static str,
    params: &'static [Param],
    results: &'static [Param],
) -> Builtin {
    Builtin {
        name,
        params,
        results,
        unsettled: None,
    }
}

/// The `js-string` set, as the JS API's "String Builtins" section types it.
const JS_STRING: &[Builtin] = &[
    builtin("cast", &[Externref], &[RefExtern]),
    builtin("test", &[Externref], &[I32]),
    builtin("fromCharCodeArray", &[I16Array, I32, I32], &[RefExtern]),
    builtin("intoCharCodeArray", &[Externref, I16Array, I32], &[I32]),
    builtin("fromCharCode", &[I32], &[RefExtern]),
    Builtin {
        name: "fromCodePoint",
        params: &[I32],
        results: &[Externref],
        unsettled: Some(
            "the JS API types fromCodePoint's result `externref` and the proposal's Overview `(ref extern)`",
        ),
    },
    builtin("charCodeAt", &[Externref, I32], &[I32]),
    builtin("codePointAt", &[Externref, I32], &[I32]),
    builtin("length", &[Externref], &[I32]),
    builtin("concat", &[Externref, Externref], &[RefExtern]),
    builtin("substring", &[Externref, I32, I32], &[RefExtern]),
    builtin("equals", &[Externref, Externref], &[I32]),
    builtin("compare", &[Externref, Externref], &[I32]),
];

/// The options a module was compiled with, as the model uses them.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CompiledWith<'o> {
    /// The `js-string` set is enabled.
    js_string: bool,
    /// `importedStringConstants`.
    string_module: Option<&'o str>,
}

/// What the model makes of an import under the options.
pub(super) enum Provided {
    /// The engine provides a builtin function: never read from the import
    /// object.
    Builtin,
    /// A string constant: an immutable `(ref extern)` global holding the
    /// import's field name, never read from the import object.
    StringConstant,
    /// An ordinary import.
    ImportObject,
}

/// The type of a string constant, `global const (ref extern)`.
pub(super) const STRING_CONSTANT: GlobalType = GlobalType {
    content_type: ValType::Ref(RefType::EXTERN),
    mutable: false,
    shared: false,
};

impl<'o> CompiledWith<'o> {
    /// What `options` enables. Unknown builtin set names are ignored, as
    /// the JS API ignores them.
    pub(crate) fn from(options: Option<&'o OptionsDictionary>) -> CompiledWith<'o> {
        let Some(options) = options else {
            return CompiledWith::default();
        };
        CompiledWith {
            js_string: options
                .builtins
                .iter()
                .flatten()
                .any(|name| name == JS_STRING_BUILTINS),
            string_module: options.imported_string_constants.as_deref(),
        }
    }

    /// "Find a builtin": the builtin an import names, if its module is an
    /// enabled set's qualified name and the set has that name.
    fn find(&self, module: &str, name: &str) -> Option<&'static Builtin> {
        let set = module.strip_prefix("wasm:")?;
        (self.js_string && set == JS_STRING_BUILTINS)
            .then(|| JS_STRING.iter().find(|b| b.name == name))
            .flatten()
    }

    /// How "read the imports" gets `import`: the string constant module is
    /// looked up first (its map entry replaces a builtin set's).
    pub(super) fn provides(&self, import: &Import<'_>) -> Provided {
        if self.string_module == Some(import.module) {
            Provided::StringConstant
        } else if self.find(import.module, import.name).is_some() {
            Provided::Builtin
        } else {
            Provided::ImportObject
        }
    }

    /// Whether `Module.imports()` leaves `import` out: a builtin, or an
    /// import of the string constant module.
    pub(crate) fn hides(&self, module: &str, name: &str) -> bool {
        self.string_module == Some(module) || self.find(module, name).is_some()
    }
}

/// The outcome of "validate builtins and imported strings".
pub(crate) enum Validated {
    Valid,
    /// A CompileError, with why.
    Invalid(String),
    /// The model cannot decide it, with why.
    Undecidable(String),
}

/// "Validate builtins and imported strings" for a module that compiled:
/// duplicate set names, then per import in order: an import of the string
/// constant module must match `global const (ref extern)`; a builtin
/// import must match the builtin's function type.
pub(crate) fn validate(bytes: &[u8], options: &OptionsDictionary) -> Validated {
    if let Some(name) = options.set_named_twice() {
        return Validated::Invalid(format!("the builtin set {name:?} is named twice"));
    }
    let module = match Module::parse(bytes) {
        Ok(module) => module,
        Err(e) => {
            return Validated::Undecidable(format!(
                "cannot read the compiled module: {}",
                e.message()
            ))
        }
    };
    let with = CompiledWith::from(Some(options));
    // An import the model cannot judge decides nothing while a later one
    // may still fail the compile.
    let mut unsettled = None;
    for (index, import) in module.imports.iter().enumerate() {
        let what = || format!("import {index} \"{}\" \"{}\"", import.module, import.name);
        if with.string_module == Some(import.module) {
            if !matches_string_constant(import.ty) {
                return Validated::Invalid(format!(
                    "{}: a string constant import must be `(global (ref extern))` or `(global externref)`",
                    what()
                ));
            }
            continue;
        }
        let Some(builtin) = with.find(import.module, import.name) else {
            continue;
        };
        if let Some(why) = builtin.unsettled {
            unsettled.get_or_insert_with(|| format!("{}: {why}", what()));
            continue;
        }
        let ty = match import.ty {
            TypeRef::Func(index) | TypeRef::FuncExact(index) => module.types.get(index as usize),
            _ => None,
        };
        let matches = ty.is_some_and(|ty| is_builtin_type(&module, ty, builtin));
        if !matches {
            return Validated::Invalid(format!(
                "{}: does not match the builtin's type {}",
                what(),
                builtin_type_text(builtin)
            ));
        }
    }
    match unsettled {
        Some(why) => Validated::Undecidable(why),
        None => Validated::Valid,
    }
}

/// `global const (ref extern)` matches the import's type: an immutable
/// global of `(ref extern)` or `externref` (immutable globals are
/// covariant).
fn matches_string_constant(ty: TypeRef) -> bool {
    match ty {
        TypeRef::Global(global) => {
            !global.mutable
                && !global.shared
                && matches!(global.content_type, ValType::Ref(r) if r.heap_type() == HeapType::Abstract { shared: false, ty: AbstractHeapType::Extern })
        }
        _ => false,
    }
}

/// Whether a module's type is equivalent to the builtin's: a final
/// function type alone in its recursion group, without supertype, of the
/// same parameters and results.
fn is_builtin_type(module: &Module<'_>, ty: &DefType, builtin: &Builtin) -> bool {
    let composite = &ty.sub.composite_type;
    if !ty.alone
        || !ty.sub.is_final
        || !ty.sub.supertype_idxs.is_empty()
        || composite.shared
        || composite.descriptor_idx.is_some()
        || composite.describes_idx.is_some()
    {
        return false;
    }
    let CompositeInnerType::Func(f) = &composite.inner else {
        return false;
    };
    let same = |actual: &[ValType], expected: &[Param]| {
        actual.len() == expected.len()
            && actual
                .iter()
                .zip(expected)
                .all(|(a, e)| is_param(module, *a, *e))
    };
    same(f.params(), builtin.params) && same(f.results(), builtin.results)
}

fn is_param(module: &Module<'_>, actual: ValType, expected: Param) -> bool {
    let extern_ = |nullable: bool| {
        matches!(actual, ValType::Ref(r) if r.is_nullable() == nullable
            && r.heap_type() == HeapType::Abstract { shared: false, ty: AbstractHeapType::Extern })
    };
    match expected {
        Externref => extern_(true),
        RefExtern => extern_(false),
        I32 => actual == ValType::I32,
        I16Array => {
            let ValType::Ref(r) = actual else {
                return false;
            };
            let HeapType::Concrete(index) = r.heap_type() else {
                return false;
            };
            let Some(index) = index.as_module_index() else {
                return false;
            };
            r.is_nullable()
                && module.types.get(index as usize).is_some_and(|array| {
                    let c = &array.sub.composite_type;
                    array.alone
                        && array.sub.is_final
                        && array.sub.supertype_idxs.is_empty()
                        && !c.shared
                        && c.descriptor_idx.is_none()
                        && c.describes_idx.is_none()
                        && matches!(&c.inner, CompositeInnerType::Array(a)
                            if a.0.mutable && a.0.element_type == StorageType::I16)
                })
        }
    }
}

fn builtin_type_text(builtin: &Builtin) -> String {
    let list = |ps: &[Param]| {
        ps.iter()
            .map(|p| match p {
                Externref => "externref",
                RefExtern => "(ref extern)",
                I32 => "i32",
                I16Array => "(ref null (array (mut i16)))",
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    format!(
        "(func (param {}) (result {}))",
        list(builtin.params),
        list(builtin.results)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(builtins: &[&str], strings: Option<&str>) -> OptionsDictionary {
        OptionsDictionary {
            builtins: Some(builtins.iter().map(|s| s.to_string()).collect()),
            imported_string_constants: strings.map(str::to_string),
        }
    }

    fn check(wat: &str, options: &OptionsDictionary) -> Result<(), String> {
        let buffer = wast::parser::ParseBuffer::new(wat).expect("lexes");
        let mut module = wast::parser::parse::<wast::Wat<'_>>(&buffer).expect("parses");
        let bytes = module.encode().expect("encodes");
        match validate(&bytes, options) {
            Validated::Valid => Ok(()),
            Validated::Invalid(why) => Err(why),
            Validated::Undecidable(why) => panic!("undecidable: {why}"),
        }
    }

    #[test]
    fn builtin_imports_must_have_the_builtins_types() {
        let js = options(&["js-string"], None);
        let length =
            r#"(module (import "wasm:js-string" "length" (func (param externref) (result i32))))"#;
        assert!(check(length, &js).is_ok());
        let wrong =
            r#"(module (import "wasm:js-string" "length" (func (param externref) (result i64))))"#;
        assert!(check(wrong, &js).unwrap_err().contains("length"));
        // Without the set, the same import is an ordinary one.
        assert!(check(wrong, &options(&[], None)).is_ok());
        // A name the set lacks stays an ordinary import.
        let other = r#"(module (import "wasm:js-string" "nope" (func)))"#;
        assert!(check(other, &js).is_ok());
        // A global of a builtin's name does not match a function type.
        let global = r#"(module (import "wasm:js-string" "length" (global i32)))"#;
        assert!(check(global, &js).is_err());
        // Non-final, or a nullable result where the builtin's is not.
        let open = r#"(module (type (sub (func (param externref) (result i32)))) (import "wasm:js-string" "length" (func (type 0))))"#;
        assert!(check(open, &js).is_err());
        let concat = r#"(module (import "wasm:js-string" "concat" (func (param externref externref) (result externref))))"#;
        assert!(check(concat, &js).is_err());
        let concat = r#"(module (import "wasm:js-string" "concat" (func (param externref externref) (result (ref extern)))))"#;
        assert!(check(concat, &js).is_ok());
        let array = r#"(module (type $a (array (mut i16)))
            (import "wasm:js-string" "fromCharCodeArray" (func (param (ref null $a) i32 i32) (result (ref extern)))))"#;
        assert!(check(array, &js).is_ok());
        // fromCodePoint's type is unsettled, but a later import that
        // surely fails still fails the compile.
        let unsettled = r#"(module (import "wasm:js-string" "fromCodePoint" (func (param i32) (result externref)))
            (import "wasm:js-string" "length" (func)))"#;
        assert!(check(unsettled, &js).unwrap_err().contains("length"));
        let immutable = r#"(module (type $a (array i16))
            (import "wasm:js-string" "fromCharCodeArray" (func (param (ref null $a) i32 i32) (result (ref extern)))))"#;
        assert!(check(immutable, &js).is_err());
    }

    #[test]
    fn duplicate_set_names_fail_unknown_ones_do_not() {
        let empty = "(module)";
        assert!(check(empty, &options(&["js-string", "js-string"], None)).is_err());
        assert!(check(empty, &options(&["nope", "nope"], None)).is_err());
        assert!(check(empty, &options(&["nope"], None)).is_ok());
    }

    #[test]
    fn string_constants_must_be_immutable_extern_globals() {
        let s = options(&[], Some("'"));
        assert!(check(r#"(module (import "'" "hi" (global externref)))"#, &s).is_ok());
        assert!(check(r#"(module (import "'" "hi" (global (ref extern))))"#, &s).is_ok());
        assert!(check(r#"(module (import "'" "hi" (global (mut externref))))"#, &s).is_err());
        assert!(check(r#"(module (import "'" "hi" (global anyref)))"#, &s).is_err());
        assert!(check(r#"(module (import "'" "hi" (func)))"#, &s).is_err());
        // The string module wins over a builtin set of the same name.
        let both = options(&["js-string"], Some("wasm:js-string"));
        let length =
            r#"(module (import "wasm:js-string" "length" (func (param externref) (result i32))))"#;
        assert!(check(length, &both).is_err());
    }
}
