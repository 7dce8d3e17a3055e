//! What an `instantiateStreaming` case passes as its import object, as
//! data: the harness builds the same object for the streamed call and for
//! the engine's one-shot `WebAssembly.instantiate`.

use std::sync::Arc;

/// The import object an `instantiateStreaming` case passes, as data: the
/// harness builds the same object for the streamed call and for the
/// engine's one-shot `WebAssembly.instantiate`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ImportObject {
    /// No import object (`undefined`): a module with imports is then a
    /// `TypeError` once compiled ("read the imports", step 1).
    #[default]
    Omitted,
    /// A plain object `{NAME: instance.exports, ...}`: each module
    /// instantiated one-shot, in order, with the object built so far as its
    /// import object, and its exports added under its name. A `.wast`
    /// script's environment is this: the `spectest` host module (as a
    /// WebAssembly module, so its functions, globals, table and memory have
    /// types to link against) and the instances `register`ed before the
    /// case.
    Instances(Arc<[NamedModule]>),
    /// An object a Web API case declares (values, getters, proxies), every
    /// read of which the driver logs.
    Declared(Arc<DeclaredImports>),
}

/// One namespace of an [`ImportObject::Instances`]: a module whose
/// instance's exports the import object holds under `name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedModule {
    /// The namespace: the module name imports use (`spectest`).
    pub name: String,
    /// The module's bytes (it must compile and instantiate one-shot).
    pub bytes: Arc<[u8]>,
}

/// An import object a Web API case declares as data (`imports = ...` in a
/// case file): plain objects whose every property read is logged, with the
/// JS values WPT's `instantiateStreaming` tests put in them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclaredImports {
    /// The import object itself (its top level may be a primitive: the
    /// WebIDL conversion at the call rejects it).
    pub value: ImportValue,
    /// How its objects are made.
    pub objects: ImportObjects,
}

/// How a declared import object's objects are made, each with every read
/// logged (see the `reads` of a case).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImportObjects {
    /// Plain objects whose properties are getters: `Get` is logged as the
    /// property's path (`m`, `m.f`).
    #[default]
    Getters,
    /// Proxies of plain objects: every trap is logged (`m`, `has m`,
    /// `keys`, `describe m`), so an engine that reads an import object other
    /// than by `Get` shows it.
    Proxies,
}

/// One value of a declared import object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportValue {
    /// A plain object with these properties, in this order (a case
    /// file's table gives them sorted by name: the JS API reads an import
    /// object by name only, so no outcome depends on it).
    Object(Vec<(String, ImportValue)>),
    /// A value named by [`NamedValue`].
    Named(NamedValue),
}

/// The JS values a declared import object holds, written as strings in
/// case files: a primitive (`null`, `one`, `zero-bigint`...), a function,
/// a WebAssembly object (`global:i32`, `global:i64:mut`, `memory:1:2`,
/// `table:1:2`), an interface's constructor, prototype, or an object that
/// only inherits from the prototype (`global-constructor`,
/// `memory-prototype`, `table-like`), or a getter that throws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NamedValue {
    Primitive(Primitive),
    /// `{}`.
    PlainObject,
    /// A function that returns `undefined`.
    Function,
    /// A function that throws a fresh object when called (from a start
    /// function: the rejection passes it through).
    ThrowingFunction,
    /// A getter that throws a fresh object when the property is read.
    ThrowingGetter,
    /// `new WebAssembly.Global({value, mutable}, 0)`.
    Global {
        ty: GlobalValueType,
        mutable: bool,
    },
    /// `new WebAssembly.Memory({initial, maximum})`.
    Memory {
        initial: u32,
        maximum: Option<u32>,
    },
    /// `new WebAssembly.Table({element: "anyfunc", initial, maximum})`.
    Table {
        initial: u32,
        maximum: Option<u32>,
    },
    /// The interface object (`WebAssembly.Global`).
    Constructor(Interface),
    /// `WebAssembly.Global.prototype`.
    Prototype(Interface),
    /// `Object.create(WebAssembly.Global.prototype)`: no internal slots.
    Like(Interface),
}

/// Primitive values of a declared import object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Primitive {
    Undefined,
    Null,
    True,
    /// `""`.
    EmptyString,
    /// `Symbol()`.
    Symbol,
    /// `1`.
    One,
    /// `0.1`.
    Float,
    Nan,
    /// `0`.
    Zero,
    /// `0n`.
    ZeroBigint,
}

/// The value types a declared `WebAssembly.Global` can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GlobalValueType {
    I32,
    I64,
    F32,
    F64,
}

/// The WebAssembly interfaces whose objects an import can need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interface {
    Global,
    Memory,
    Table,
}

impl Primitive {
    pub const ALL: &'static [(Primitive, &'static str)] = &[
        (Primitive::Undefined, "undefined"),
        (Primitive::Null, "null"),
        (Primitive::True, "true"),
        (Primitive::EmptyString, "empty-string"),
        (Primitive::Symbol, "symbol"),
        (Primitive::One, "one"),
        (Primitive::Float, "float"),
        (Primitive::Nan, "nan"),
        (Primitive::Zero, "zero"),
        (Primitive::ZeroBigint, "zero-bigint"),
    ];

    pub fn name(self) -> &'static str {
        name_in(Primitive::ALL, self)
    }

    /// A Number (`typeof v === "number"`).
    pub fn is_number(self) -> bool {
        matches!(
            self,
            Primitive::One | Primitive::Float | Primitive::Nan | Primitive::Zero
        )
    }
}

impl GlobalValueType {
    pub const ALL: &'static [(GlobalValueType, &'static str)] = &[
        (GlobalValueType::I32, "i32"),
        (GlobalValueType::I64, "i64"),
        (GlobalValueType::F32, "f32"),
        (GlobalValueType::F64, "f64"),
    ];

    pub fn name(self) -> &'static str {
        name_in(GlobalValueType::ALL, self)
    }
}

impl Interface {
    pub const ALL: &'static [(Interface, &'static str)] = &[
        (Interface::Global, "global"),
        (Interface::Memory, "memory"),
        (Interface::Table, "table"),
    ];

    pub fn name(self) -> &'static str {
        name_in(Interface::ALL, self)
    }
}

/// `value`'s name in a table of every value and its name.
fn name_in<T: PartialEq + Copy>(all: &[(T, &'static str)], value: T) -> &'static str {
    all.iter()
        .find(|(v, _)| *v == value)
        .map(|(_, n)| *n)
        .expect("every value is listed")
}

/// The fixed names of [`NamedValue`], beside the primitives'.
const FIXED_NAMES: &[(NamedValue, &str)] = &[
    (NamedValue::PlainObject, "plain-object"),
    (NamedValue::Function, "function"),
    (NamedValue::ThrowingFunction, "throwing-function"),
    (NamedValue::ThrowingGetter, "throwing-getter"),
];

impl std::fmt::Display for NamedValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let limits =
            |f: &mut std::fmt::Formatter<'_>, kind: &str, initial: u32, max: Option<u32>| {
                write!(f, "{kind}:{initial}")?;
                match max {
                    Some(max) => write!(f, ":{max}"),
                    None => Ok(()),
                }
            };
        match *self {
            NamedValue::Primitive(p) => f.write_str(p.name()),
            NamedValue::Global { ty, mutable } => {
                write!(
                    f,
                    "global:{}{}",
                    ty.name(),
                    if mutable { ":mut" } else { "" }
                )
            }
            NamedValue::Memory { initial, maximum } => limits(f, "memory", initial, maximum),
            NamedValue::Table { initial, maximum } => limits(f, "table", initial, maximum),
            NamedValue::Constructor(i) => write!(f, "{}-constructor", i.name()),
            NamedValue::Prototype(i) => write!(f, "{}-prototype", i.name()),
            NamedValue::Like(i) => write!(f, "{}-like", i.name()),
            fixed => f.write_str(name_in(FIXED_NAMES, fixed)),
        }
    }
}

impl std::str::FromStr for NamedValue {
    type Err = String;

    fn from_str(text: &str) -> Result<NamedValue, String> {
        if let Some((p, _)) = Primitive::ALL.iter().find(|(_, n)| *n == text) {
            return Ok(NamedValue::Primitive(*p));
        }
        if let Some((v, _)) = FIXED_NAMES.iter().find(|(_, n)| *n == text) {
            return Ok(*v);
        }
        for &(interface, name) in Interface::ALL {
            if let Some(rest) = text.strip_prefix(name) {
                match rest {
                    "-constructor" => return Ok(NamedValue::Constructor(interface)),
                    "-prototype" => return Ok(NamedValue::Prototype(interface)),
                    "-like" => return Ok(NamedValue::Like(interface)),
                    _ => {}
                }
            }
        }
        let bad = || {
            format!(
                "unknown import value {text:?}; expected a primitive ({}), {}, `global:TYPE[:mut]` (TYPE one of i32, i64, f32, f64), `memory:INITIAL[:MAXIMUM]`, `table:INITIAL[:MAXIMUM]`, or `global|memory|table` with `-constructor`, `-prototype` or `-like`",
                Primitive::ALL.iter().map(|(_, n)| *n).collect::<Vec<_>>().join(", "),
                FIXED_NAMES.iter().map(|(_, n)| *n).collect::<Vec<_>>().join(", "),
            )
        };
        let parts: Vec<&str> = text.split(':').collect();
        let number = |s: &str| s.parse::<u32>().map_err(|_| bad());
        match parts.as_slice() {
            ["global", ty] | ["global", ty, "mut"] => {
                let (ty, _) = GlobalValueType::ALL
                    .iter()
                    .find(|(_, n)| n == ty)
                    .ok_or_else(bad)?;
                Ok(NamedValue::Global {
                    ty: *ty,
                    mutable: parts.len() == 3,
                })
            }
            [kind @ ("memory" | "table"), initial, rest @ ..] if rest.len() <= 1 => {
                let initial = number(initial)?;
                let maximum = rest.first().map(|m| number(m)).transpose()?;
                // The constructor would throw a RangeError while the import
                // object is built, before any call: not a case.
                let limit = if *kind == "memory" {
                    MAX_MEMORY_PAGES
                } else {
                    MAX_TABLE_ELEMENTS
                };
                if initial.max(maximum.unwrap_or(0)) > limit {
                    return Err(format!(
                        "{text:?}: a {kind} of more than {limit} cannot be constructed (the JS API's limit)"
                    ));
                }
                if maximum.is_some_and(|m| m < initial) {
                    return Err(format!(
                        "{text:?}: the maximum is below the initial size, which the {kind} constructor refuses"
                    ));
                }
                Ok(if *kind == "memory" {
                    NamedValue::Memory { initial, maximum }
                } else {
                    NamedValue::Table { initial, maximum }
                })
            }
            _ => Err(bad()),
        }
    }
}

/// The most pages `new WebAssembly.Memory` takes (the JS API's limit for a
/// 32-bit memory).
const MAX_MEMORY_PAGES: u32 = 65536;
/// The most elements `new WebAssembly.Table` takes (the JS API's limit).
const MAX_TABLE_ELEMENTS: u32 = 10_000_000;

impl serde::Serialize for ImportValue {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            ImportValue::Named(named) => serializer.collect_str(named),
            ImportValue::Object(properties) => {
                let mut map = serializer.serialize_map(Some(properties.len()))?;
                for (name, value) in properties {
                    map.serialize_entry(name, value)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> serde::Deserialize<'de> for ImportValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = ImportValue;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a table (a plain object) or a value's name")
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<ImportValue, E> {
                text.parse().map(ImportValue::Named).map_err(E::custom)
            }

            // In the order the deserializer gives them.
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<ImportValue, A::Error> {
                let mut properties: Vec<(String, ImportValue)> = Vec::new();
                while let Some((name, value)) = map.next_entry::<String, ImportValue>()? {
                    if properties.iter().any(|(n, _)| *n == name) {
                        return Err(serde::de::Error::custom(format!(
                            "property {name:?} is given twice"
                        )));
                    }
                    properties.push((name, value));
                }
                Ok(ImportValue::Object(properties))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl ImportValue {
    /// `Get(self, name)` when `self` is an object: `None` when it is not
    /// one; `Some(None)` when the property is not there (`undefined`).
    pub fn get(&self, name: &str) -> Option<Option<&ImportValue>> {
        match self {
            ImportValue::Object(properties) => {
                Some(properties.iter().find(|(n, _)| n == name).map(|(_, v)| v))
            }
            ImportValue::Named(NamedValue::Primitive(_)) => None,
            // Objects without own properties the import object can name.
            ImportValue::Named(_) => Some(None),
        }
    }

    /// Whether it is `undefined` (as an import object: none).
    pub fn is_undefined(&self) -> bool {
        matches!(
            self,
            ImportValue::Named(NamedValue::Primitive(Primitive::Undefined))
        )
    }

    /// Whether it is an object (the WebIDL `object` conversion accepts it).
    pub fn is_object(&self) -> bool {
        !matches!(self, ImportValue::Named(NamedValue::Primitive(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_value_reads_back_as_it_is_written() {
        let mut names: Vec<String> = Primitive::ALL.iter().map(|(_, n)| n.to_string()).collect();
        names.extend(FIXED_NAMES.iter().map(|(_, n)| n.to_string()));
        for (_, i) in Interface::ALL {
            for suffix in ["-constructor", "-prototype", "-like"] {
                names.push(format!("{i}{suffix}"));
            }
        }
        for (_, t) in GlobalValueType::ALL {
            names.push(format!("global:{t}"));
            names.push(format!("global:{t}:mut"));
        }
        names.extend(["memory:1", "memory:64:128", "table:0", "table:256:300"].map(String::from));
        for name in &names {
            let value: NamedValue = name.parse().unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(value.to_string(), *name);
        }
        for bad in [
            "global:v128",
            "memory",
            "memory:x",
            "table:1:2:3",
            "global:i32:const",
            "nope",
        ] {
            assert!(bad.parse::<NamedValue>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_declared_object_reads_back_and_refuses_a_bad_value() {
        #[derive(serde::Deserialize)]
        struct Holder {
            imports: ImportValue,
        }
        let held: Holder = toml::from_str(
            "imports = { b = { f = \"function\" }, a = \"null\", \"m\\u0000\" = \"one\" }",
        )
        .unwrap();
        let ImportValue::Object(properties) = &held.imports else {
            panic!("{:?}", held.imports)
        };
        let names: Vec<&str> = properties.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a", "b", "m\0"]);
        assert_eq!(
            held.imports.get("b").unwrap().unwrap().get("f"),
            Some(Some(&ImportValue::Named(NamedValue::Function)))
        );
        assert_eq!(held.imports.get("zz"), Some(None));
        let json = serde_json::to_string(&held.imports).unwrap();
        assert_eq!(json, r#"{"a":"null","b":{"f":"function"},"m\u0000":"one"}"#);
        assert!(toml::from_str::<Holder>("imports = \"global:i33\"").is_err());
    }
}
