//! Web API scenarios: what a `compileStreaming` case looks like above the
//! byte level. A scenario describes the argument, the Response (headers,
//! status, body shape), the body stream's events and pacing, and what the
//! spec requires. `suites/webapi/*.toml` are lists of these; the reference
//! backend evaluates them with an executable model of the algorithm
//! (`backend/web_api_model.rs`); JS backends build the real objects.
//!
//! Steps cited (`step`) are those of "compile a potential WebAssembly
//! response" and of consume body, one of [`STEPS`]; `harness/core/ALGORITHM.md`
//! explains each under a `### <id>: <title>` heading.

use crate::imports::{ImportObjects, ImportValue};
use crate::outcome::OutcomeClass;
use serde::{Deserialize, Serialize};

/// The algorithm steps a case may cite, in the algorithm's order (`a.0` is
/// the WebIDL argument conversion at the call). `harness/core/ALGORITHM.md`
/// has one heading per id; a test keeps the two in step.
pub const STEPS: &[&str] = &[
    "a.0", "2.R", "2.F.0", "2.F.2", "2.F.3", "2.F.4", "2.F.5", "2.F.6", "2.F.7", "2.F.8", "2.F.9",
    "2.F.10", "C1", "C2", "C3", "C4", "C5", "C6", "C7", "I.1", "I.2", "I.3",
];

/// Defines an enum and `ALL`, its variants in declaration order. Tests
/// that must cover every value a case can take (the wire round trip in
/// `tests/wire.rs`) enumerate `ALL`, so a new variant is covered as soon as
/// it exists, with no list to keep.
macro_rules! enumerated {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$variant_meta:meta])* $variant:ident),* $(,)? }) => {
        $(#[$meta])* pub enum $name { $($(#[$variant_meta])* $variant),* }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];
        }
    };
}

/// One Web API case, as written in a suite file. Every field but `name`,
/// `step` and `expect` has a default: a fresh `Response` with
/// `Content-Type: application/wasm`, status 200, and the module streamed as
/// `Uint8Array` chunks that then close.
///
/// A [`WebApiBackend`](crate::WebApiBackend) builds what the fields
/// describe around the module bytes it is given, and calls
/// `compileStreaming`. The types of the fields are the Web API case format
/// (`suites/webapi/*.toml`), in streamconform's internal `scenario`
/// module: they grow with the suite and have no stability promise yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Scenario {
    /// The case's name, unique in its file.
    pub name: String,
    /// The algorithm step this case exercises, e.g. `2.F.5`.
    pub step: String,
    /// Where the case comes from: a WPT file and test, an edge case
    /// (`edge c.5.8`, explained under `## Edge cases` in `harness/core/ALGORITHM.md`),
    /// or a short reason. Informational only.
    #[serde(default)]
    pub source: String,
    /// What is passed to `compileStreaming`: the Response, a promise of
    /// it, another value...
    #[serde(default)]
    pub argument: Argument,
    /// For `argument = "value"`: the non-Response value passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<JsValue>,
    /// For rejections and throwing thenables: the reason given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<JsValue>,
    /// The Response's headers, in order, as (name, value).
    #[serde(default = "default_headers")]
    pub headers: Vec<(String, String)>,
    /// The Response's status.
    #[serde(default = "default_status")]
    pub status: u16,
    /// The module bytes the body carries: a name in the suite's module
    /// table, or the bytes themselves (see [`ModuleRef`]). The loader
    /// resolves it into the case's bytes; backends never read it.
    #[serde(default = "default_module")]
    pub module: ModuleRef,
    /// What the Response's body is: a stream of the module's chunks, a
    /// buffer, a Blob, a string...
    #[serde(default)]
    pub body: BodyShape,
    /// For `body = "string"`: the text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// For `body = "blob"`: the Blob's `type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob_type: Option<String>,
    /// For `body = "stream"`: how every chunk is typed.
    #[serde(default)]
    pub chunk_type: ChunkType,
    /// For `body = "stream"`: a chunk of another type, inserted at `bad_chunk_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bad_chunk: Option<ChunkType>,
    /// Where `bad_chunk` goes: before the first chunk or after the last.
    #[serde(default)]
    pub bad_chunk_at: ChunkPosition,
    /// For `body = "stream"`: how the stream ends after its chunks.
    #[serde(default)]
    pub stream_end: StreamEnd,
    /// For `stream_end = "error"`: how many of the plan's chunks are
    /// delivered before the error (all of them by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_after_chunks: Option<usize>,
    /// What is done to the body before (or right after) the call: locked,
    /// disturbed, consumed...
    #[serde(default)]
    pub body_state: BodyState,
    /// A change to the headers in the same turn, right after the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_call: Option<HeaderChange>,
    /// For `body = "stream"`: when the chunks are enqueued.
    #[serde(default)]
    pub pacing: Pacing,
    /// The `options` argument (WebAssemblyCompileOptions): a named odd
    /// value, or a dictionary (`{ builtins = [...],
    /// imported-string-constants = "..." }`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<OptionsArgument>,
    /// For `argument = "fetch"` or `"fetched"`: the request, and how the
    /// loopback server answers it. The server sends the scenario's own
    /// `status`, `headers` (as raw header lines) and `module` bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetch: Option<FetchRequest>,
    /// The streaming functions the case calls: `compile` (the default),
    /// `instantiate` (an `instantiateStreaming` case only, its id ending in
    /// `@instantiate`), or `both` (the case, and its `@instantiate` twin
    /// with no import object, as a suite with `instantiate = true` makes
    /// for every case).
    #[serde(default, skip_serializing_if = "is_default")]
    pub function: ScenarioFunctions,
    /// For `function = "instantiate"`: the import object, declared (a
    /// table is a plain object, a string names a value: see
    /// `ImportValue`); without it, none is passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imports: Option<ImportValue>,
    /// How the declared import object's objects are made.
    #[serde(default, skip_serializing_if = "is_default")]
    pub import_objects: ImportObjects,
    /// The reads of the declared import object the spec requires, in
    /// order: property paths (`m`, `m.f`), and `(call returned)` where the
    /// call returns. Without it, the case claims nothing about reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reads: Option<Vec<String>>,
    /// What the spec requires of the promise.
    pub expect: OutcomeClass,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// A `fetch()` a case makes, and what answers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FetchRequest {
    pub url: FetchUrl,
    /// The request's mode.
    #[serde(default)]
    pub mode: RequestMode,
    /// The request's redirect mode.
    #[serde(default)]
    pub redirect: RedirectMode,
    /// The request first goes to a URL on this origin, which answers
    /// `redirect-status` with `Location: <url>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirected_from: Option<FetchUrl>,
    #[serde(default = "default_redirect_status")]
    pub redirect_status: u16,
    /// For `data:` URLs the media type written in the URL; for `blob:`
    /// URLs the Blob's `type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// How the server sends the body.
    #[serde(default)]
    pub served: Served,
    /// For `served = "stall"` or `"reset"`: the body bytes sent first.
    #[serde(default)]
    pub served_bytes: usize,
    /// When the request's `AbortController` aborts (with the scenario's
    /// `reason` if given, else the default `AbortError`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort: Option<AbortAt>,
}

enumerated! {
    /// Where a request goes. The harness's loopback server listens on two
    /// ports: the first is the engine's own origin, the second another origin.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    pub enum FetchUrl {
        SameOrigin,
        CrossOrigin,
        /// `data:<media-type>;base64,<module>`.
        Data,
        /// `URL.createObjectURL(new Blob([module], {type: media-type}))`.
        Blob,
    }
}

impl FetchUrl {
    pub fn is_server(self) -> bool {
        matches!(self, FetchUrl::SameOrigin | FetchUrl::CrossOrigin)
    }
}

enumerated! {
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    pub enum RequestMode {
        #[default]
        Cors,
        NoCors,
        SameOrigin,
    }
}

enumerated! {
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    pub enum RedirectMode {
        #[default]
        Follow,
        Manual,
        Error,
    }
}

enumerated! {
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    pub enum Served {
        /// The whole body, with its `Content-Length`.
        #[default]
        Complete,
        /// `served-bytes` of the body, then nothing more, ever.
        Stall,
        /// `served-bytes` of the body, then the connection closes short of
        /// its `Content-Length`: a network error after the headers.
        Reset,
        /// The whole body, gzip-encoded (`Content-Encoding: gzip`).
        Gzip,
    }
}

enumerated! {
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    pub enum AbortAt {
        /// Aborted before `fetch()` is called.
        BeforeCall,
        /// Aborted in the same turn, right after `compileStreaming` is called.
        SameTurn,
        /// Aborted while the body is arriving (the server stalls, so the
        /// abort always finds the body mid-stream).
        MidBody,
    }
}

fn default_redirect_status() -> u16 {
    302
}

enumerated! {
    /// Values of the `options` argument a case can pass.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    pub enum CompileOptions {
        /// `{}`.
        Empty,
        /// `null`: the same as `{}`.
        Null,
        /// `5`: not an object, a TypeError at the call (WebIDL conversion).
        Number,
        /// `{builtins: 5}`: not iterable, a TypeError at the call.
        BuiltinsNotIterable,
        /// `{builtins: ["nope"]}`: unknown builtin sets are ignored.
        BuiltinsUnknown,
        /// `{builtins: ["js-string", "js-string"]}`: a CompileError once the
        /// body is read and valid.
        BuiltinsDuplicate,
    }
}

/// The `options` argument of a case: one of the named values
/// ([`CompileOptions`]), or a `WebAssemblyCompileOptions` dictionary.
///
/// ```toml
/// options = "number"
/// options = { builtins = ["js-string"], imported-string-constants = "'" }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OptionsArgument {
    /// A named value.
    Named(CompileOptions),
    /// A dictionary, passed as written.
    Dictionary(OptionsDictionary),
}

/// A `WebAssemblyCompileOptions` dictionary (js-string-builtins): the
/// builtin sets to enable, and the module name whose imports are string
/// constants.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct OptionsDictionary {
    /// `builtins`: the builtin set names, in order (duplicates kept: they
    /// are a CompileError).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builtins: Option<Vec<String>>,
    /// `importedStringConstants`: the module name whose imports are the
    /// strings of their field names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported_string_constants: Option<String>,
}

/// The builtin set names streamconform models (js-string-builtins).
pub const JS_STRING_BUILTINS: &str = "js-string";

impl OptionsDictionary {
    /// The first builtin set name given a second time (what "validate
    /// builtin set names" refuses), if any.
    pub fn set_named_twice(&self) -> Option<&str> {
        let names = self.builtins.as_deref().unwrap_or_default();
        (0..names.len())
            .find(|&i| names[..i].contains(&names[i]))
            .map(|i| names[i].as_str())
    }
}

impl OptionsArgument {
    /// The dictionary WebIDL converts this value to, or `None` when the
    /// conversion throws (a TypeError at the call).
    pub fn converted(&self) -> Option<OptionsDictionary> {
        let builtins = |names: &[&str]| OptionsDictionary {
            builtins: Some(names.iter().map(|n| n.to_string()).collect()),
            imported_string_constants: None,
        };
        match self {
            OptionsArgument::Dictionary(d) => Some(d.clone()),
            OptionsArgument::Named(named) => match named {
                CompileOptions::Empty | CompileOptions::Null => Some(OptionsDictionary::default()),
                CompileOptions::Number | CompileOptions::BuiltinsNotIterable => None,
                CompileOptions::BuiltinsUnknown => Some(builtins(&["nope"])),
                CompileOptions::BuiltinsDuplicate => {
                    Some(builtins(&[JS_STRING_BUILTINS, JS_STRING_BUILTINS]))
                }
            },
        }
    }

    /// Whether an engine without js-string-builtins (which ignores the
    /// dictionary's members, as WebIDL drops unknown ones) can give another
    /// outcome: the value enables the `js-string` set, names a set twice,
    /// or names a string constant module. Unknown set names alone change
    /// nothing.
    pub fn uses_js_string_builtins(&self) -> bool {
        self.converted().is_some_and(|d| {
            let names = d.builtins.as_deref().unwrap_or_default();
            d.imported_string_constants.is_some()
                || d.set_named_twice().is_some()
                || names.iter().any(|n| n == JS_STRING_BUILTINS)
        })
    }
}

impl Serialize for OptionsArgument {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            OptionsArgument::Named(named) => named.serialize(serializer),
            OptionsArgument::Dictionary(dictionary) => dictionary.serialize(serializer),
        }
    }
}

const OPTIONS_FORMS: &str = "an options name (empty, null, number, builtins-not-iterable, builtins-unknown, builtins-duplicate) or a table with `builtins` and/or `imported-string-constants`";

impl<'de> Deserialize<'de> for OptionsArgument {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = OptionsArgument;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(OPTIONS_FORMS)
            }
            fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<OptionsArgument, E> {
                use serde::de::IntoDeserializer;
                CompileOptions::deserialize(name.into_deserializer()).map(OptionsArgument::Named)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<OptionsArgument, A::Error> {
                OptionsDictionary::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(OptionsArgument::Dictionary)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

fn default_headers() -> Vec<(String, String)> {
    vec![("Content-Type".into(), "application/wasm".into())]
}
fn default_status() -> u16 {
    200
}
fn default_module() -> ModuleRef {
    ModuleRef::Named("empty".into())
}

/// Where a case's module bytes come from, as written in its file:
///
/// ```toml
/// module = "large"                         # a name in the module table
/// module = { hex = "0061736d01000000" }    # the bytes
/// module = { file = "add.wasm" }           # relative to the case file
/// module = { file = "add.wat" }            # .wat/.wast text is compiled
/// module = { wat = "(module (func))" }     # text, compiled
/// ```
///
/// In a module table (`modules.toml`, `[modules]` of `suite.toml`) a plain
/// string is hex bytes rather than a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModuleRef {
    Named(String),
    Hex(String),
    File(String),
    Wat(String),
}

impl std::fmt::Display for ModuleRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModuleRef::Named(name) => write!(f, "{name:?}"),
            ModuleRef::Hex(_) => f.write_str("{ hex = ... }"),
            ModuleRef::File(path) => write!(f, "{{ file = {path:?} }}"),
            ModuleRef::Wat(_) => f.write_str("{ wat = ... }"),
        }
    }
}

const MODULE_FORMS: &str =
    "a module name, or a table with one of `hex`, `file`, `wat` (e.g. { file = \"m.wasm\" })";

impl Serialize for ModuleRef {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let (key, value) = match self {
            ModuleRef::Named(name) => return serializer.serialize_str(name),
            ModuleRef::Hex(v) => ("hex", v),
            ModuleRef::File(v) => ("file", v),
            ModuleRef::Wat(v) => ("wat", v),
        };
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(key, value)?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for ModuleRef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = ModuleRef;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(MODULE_FORMS)
            }
            fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<ModuleRef, E> {
                Ok(ModuleRef::Named(name.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<ModuleRef, A::Error> {
                use serde::de::Error as _;
                let mut found = None;
                while let Some(key) = map.next_key::<String>()? {
                    let value: String = map.next_value()?;
                    let module = match key.as_str() {
                        "hex" => ModuleRef::Hex(value),
                        "file" => ModuleRef::File(value),
                        "wat" => ModuleRef::Wat(value),
                        other => {
                            return Err(A::Error::unknown_field(other, &["hex", "file", "wat"]))
                        }
                    };
                    if found.replace(module).is_some() {
                        return Err(A::Error::custom(format!(
                            "a module is one of `hex`, `file`, `wat`, not several (`{key}` is one too many)"
                        )));
                    }
                }
                found.ok_or_else(|| {
                    A::Error::custom(format!("empty module table: expected {MODULE_FORMS}"))
                })
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

enumerated! {
    /// What is passed to `compileStreaming`.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    pub enum Argument {
        /// The Response itself (WebIDL converts it to a promise).
        #[default]
        Response,
        /// `Promise.resolve(response)`.
        Promise,
        /// A promise that resolves with the response after a timer.
        LatePromise,
        /// `{ then(resolve) { resolve(response) } }`.
        Thenable,
        /// `Promise.reject(reason)`.
        Rejected,
        /// A thenable whose `then` throws `reason`.
        ThenableThrows,
        /// A promise that never settles.
        NeverSettles,
        /// A non-Response `value`, directly.
        Value,
        /// `Promise.resolve(value)` for a non-Response `value`.
        ValueInPromise,
        /// `fetch(url, init)`, the promise itself, as `fetch` describes.
        Fetch,
        /// The Response `await fetch(url, init)` gave.
        Fetched,
        /// `Response.error()`: type error, status 0, no headers.
        ResponseError,
        /// `Response.redirect(url, status)`: only a `Location` header.
        ResponseRedirect,
    }
}

enumerated! {
    /// JS values a case can pass, reject with, or error a stream with.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    pub enum JsValue {
        Undefined,
        Null,
        True,
        String,
        Symbol,
        Zero,
        Float,
        Nan,
        /// `{}` (as a rejection reason: a fresh object, compared by identity).
        Object,
        /// A `TypeError` instance: identity must still be kept.
        TypeErrorInstance,
        /// The `Response` interface object.
        ResponseConstructor,
        /// `Response.prototype`.
        ResponsePrototype,
        /// `Object.create(Response.prototype)`: not a platform object.
        ResponseLike,
    }
}

enumerated! {
    /// Which streaming functions a Web API case calls (see
    /// [`Scenario::function`]).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    pub enum ScenarioFunctions {
        #[default]
        Compile,
        Instantiate,
        Both,
    }
}

enumerated! {
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    pub enum BodyShape {
        /// A `ReadableStream` delivering the module in the plan's chunks.
        #[default]
        Stream,
        /// The module bytes as an `ArrayBuffer` body.
        Buffer,
        /// The module bytes in a `Blob` (with `blob_type`).
        Blob,
        /// A string body (`text`); its bytes are UTF-8.
        String,
        /// `new Response(null)`.
        Null,
        /// `new Response("")`.
        EmptyString,
        /// A `FormData` with a Blob and the string "Hello" (multipart bytes).
        FormData,
    }
}

enumerated! {
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    pub enum ChunkType {
        #[default]
        Uint8array,
        /// A `Uint8Array` view with a non-zero `byteOffset` into a larger buffer.
        Uint8arrayOffset,
        /// A `Uint8Array` subclass instance.
        Uint8arraySubclass,
        ArrayBuffer,
        DataView,
        Int8array,
        Uint8clampedArray,
        Uint16array,
        Float64array,
        String,
        Number,
        Null,
        Undefined,
        Object,
        Array,
    }
}

impl ChunkType {
    /// Only `Uint8Array` objects (subclasses included) are accepted (C4).
    pub fn is_uint8array(self) -> bool {
        matches!(
            self,
            ChunkType::Uint8array | ChunkType::Uint8arrayOffset | ChunkType::Uint8arraySubclass
        )
    }
}

enumerated! {
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    pub enum ChunkPosition {
        /// Before the first chunk of the plan.
        First,
        /// After every chunk of the plan, before the stream ends.
        #[default]
        Last,
    }
}

enumerated! {
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    pub enum StreamEnd {
        #[default]
        Close,
        /// `controller.error(reason)` after `error_after_chunks` chunks.
        Error,
        /// The stream stays open.
        Never,
    }
}

enumerated! {
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    pub enum BodyState {
        #[default]
        Fresh,
        /// `body.getReader()` before the call, never read.
        Locked,
        /// Read once and released before the call.
        Disturbed,
        /// `body.cancel()` before the call.
        Cancelled,
        /// `arrayBuffer()` awaited before the call.
        ConsumedBefore,
        /// `arrayBuffer()` called synchronously right after the call.
        ConsumedAfter,
        /// `body.getReader()` synchronously right after the call.
        LockedAfter,
        /// `compileStreaming(r)` called twice in the same turn; the case is the
        /// second call, which finds the body locked by the first.
        CalledTwice,
    }
}

/// A header change made synchronously after the call, before its reaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct HeaderChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete: Option<String>,
}

enumerated! {
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    pub enum Pacing {
        /// Every chunk enqueued in `start()`. Out-of-process workers may cap
        /// the queue of a long body that closes (the JS driver: 8192 chunks),
        /// enqueueing the rest as the reader drains it; see PROTOCOL.md.
        #[default]
        EnqueueAll,
        /// One chunk per `pull()`.
        Pull,
        /// A macrotask (timer) between chunks.
        Macrotask,
        /// Every chunk at once, then a pause before `close()`.
        PauseBeforeClose,
    }
}

impl Scenario {
    /// The scenario of a byte-level case: a fresh Response with
    /// `Content-Type: application/wasm`, the module streamed as Uint8Array
    /// chunks, then closed.
    pub fn byte_level() -> Scenario {
        Scenario {
            name: String::new(),
            step: "2.F.9".into(),
            source: String::new(),
            argument: Argument::Response,
            value: None,
            reason: None,
            headers: default_headers(),
            status: default_status(),
            module: default_module(),
            body: BodyShape::Stream,
            text: None,
            blob_type: None,
            chunk_type: ChunkType::Uint8array,
            bad_chunk: None,
            bad_chunk_at: ChunkPosition::Last,
            stream_end: StreamEnd::Close,
            function: ScenarioFunctions::Compile,
            imports: None,
            import_objects: ImportObjects::Getters,
            reads: None,
            error_after_chunks: None,
            body_state: BodyState::Fresh,
            after_call: None,
            pacing: Pacing::EnqueueAll,
            options: None,
            fetch: None,
            expect: OutcomeClass::Module,
        }
    }

    /// Whether the case runs under the plan set: only a streamed body has
    /// chunk boundaries to vary.
    pub fn uses_plans(&self) -> bool {
        self.body == BodyShape::Stream && self.fetch.is_none()
    }

    /// Whether the case needs the engine to have an origin: a cross-origin
    /// request is only cross-origin (CORS, opaque responses) relative to a
    /// document's origin, which server-side runtimes do not have.
    pub fn needs_origin(&self) -> bool {
        self.fetch.as_ref().is_some_and(|f| {
            f.url == FetchUrl::CrossOrigin || f.redirected_from == Some(FetchUrl::CrossOrigin)
        })
    }

    /// Whether the source or the body may never end: a source that never
    /// settles, a stream that neither closes nor errors, a served body
    /// that stalls. Only then can a compile be judged `pending`, by a
    /// window (ALGORITHM.md, Outcomes); any other compile ends, and one
    /// that settles late is slow, not pending, bounded only by the hang
    /// timeout (on a loaded machine, Firefox compiles of closed bodies
    /// settled after the window and were reported `pending`).
    pub fn may_never_end(&self) -> bool {
        let body_never_ends = match &self.fetch {
            // An abort ends a stalled body too.
            Some(request) => {
                request.url.is_server()
                    && request.served == Served::Stall
                    && request.abort.is_none()
            }
            None => self.body == BodyShape::Stream && self.stream_end == StreamEnd::Never,
        };
        self.argument == Argument::NeverSettles || body_never_ends
    }

    /// The options dictionary the one-shot call must pass too: the case's,
    /// when it is not the empty dictionary (`{}` and `null` change nothing).
    pub fn options_to_pass(&self) -> Option<OptionsDictionary> {
        self.options
            .as_ref()
            .and_then(OptionsArgument::converted)
            .filter(|d| *d != OptionsDictionary::default())
    }

    /// Whether the outcome is decided by compiling the module bytes (with
    /// the case's options dictionary, if any), so the invariance oracle
    /// (the one-shot compile of the same bytes, with the same options)
    /// applies.
    pub fn compiles_module_bytes(&self) -> bool {
        self.options.as_ref().is_none_or(|o| o.converted().is_some())
            && matches!(
                self.expect,
                OutcomeClass::Module | OutcomeClass::CompileError
            )
            && matches!(
                self.body,
                BodyShape::Stream | BodyShape::Buffer | BodyShape::Blob
            )
            // A served null-body status delivers no bytes at all.
            && !(self.fetch.is_some() && matches!(self.status, 204 | 205 | 304))
    }
}

/// What the body stream does, in order. The JS driver enqueues the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamEvent {
    /// The chunk at this index of the plan, typed as `chunk_type`.
    Chunk(usize),
    /// The `bad_chunk`.
    BadChunk,
    /// `controller.error(reason)`.
    Error,
    /// `controller.close()`.
    Close,
}

/// [`stream_events`] with each run of consecutive chunks as one entry:
/// what travels to out-of-process workers (`["chunks", first, count]`), so
/// a one-byte plan of a large module is a few events, not one per byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventRun {
    /// Chunks `first..first + count` of the plan, in order.
    Chunks {
        first: usize,
        count: usize,
    },
    BadChunk,
    Error,
    Close,
}

/// The event sequence of a streamed body under a plan of `chunk_count`,
/// runs of chunks kept as runs (see [`stream_events`]).
pub fn stream_event_runs(scenario: &Scenario, chunk_count: usize) -> Vec<EventRun> {
    let mut events = Vec::new();
    if scenario.bad_chunk.is_some() && scenario.bad_chunk_at == ChunkPosition::First {
        events.push(EventRun::BadChunk);
    }
    let delivered = match scenario.stream_end {
        StreamEnd::Error => scenario
            .error_after_chunks
            .unwrap_or(chunk_count)
            .min(chunk_count),
        _ => chunk_count,
    };
    if delivered > 0 {
        events.push(EventRun::Chunks {
            first: 0,
            count: delivered,
        });
    }
    let all_delivered = delivered == chunk_count;
    if all_delivered && scenario.bad_chunk.is_some() && scenario.bad_chunk_at == ChunkPosition::Last
    {
        events.push(EventRun::BadChunk);
    }
    match scenario.stream_end {
        StreamEnd::Error => events.push(EventRun::Error),
        StreamEnd::Close => events.push(EventRun::Close),
        StreamEnd::Never => {}
    }
    events
}

/// The event sequence of a streamed body under a plan of `chunk_count`,
/// one event per chunk.
pub fn stream_events(scenario: &Scenario, chunk_count: usize) -> Vec<StreamEvent> {
    let mut events = Vec::new();
    for run in stream_event_runs(scenario, chunk_count) {
        match run {
            EventRun::Chunks { first, count } => {
                events.extend((first..first + count).map(StreamEvent::Chunk))
            }
            EventRun::BadChunk => events.push(StreamEvent::BadChunk),
            EventRun::Error => events.push(StreamEvent::Error),
            EventRun::Close => events.push(StreamEvent::Close),
        }
    }
    events
}

/// Header value normalization by `Headers`: strip leading and trailing
/// HTTP whitespace (tab, space, CR, LF).
pub fn normalize(value: &str) -> String {
    value
        .trim_matches(|c| matches!(c, '\t' | ' ' | '\r' | '\n'))
        .to_string()
}

/// What a backend saw a streamed body do: the evidence that a case's
/// premise held (for example, that the reader took every chunk before the
/// stream errored, when the case is about a chunk being rejected).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BodyObservation {
    /// Chunks (of any type) the reader took before the stream was errored
    /// or closed. Chunks still queued when `controller.error()` runs are
    /// discarded, never read.
    pub read_before_end: usize,
    /// The reader cancelled the stream: the engine stopped reading early,
    /// which is its own behaviour, not a broken premise.
    #[serde(default)]
    pub cancelled: bool,
}

impl Scenario {
    /// How many chunks the reader must have taken before the stream errors
    /// for this case to test what it says: every event before the error, up
    /// to and including the first chunk the reader must reject (C4). `None`
    /// when the case claims nothing about reads (no stream error).
    pub fn chunks_read_before_error(&self, chunk_count: usize) -> Option<usize> {
        if !self.uses_plans() || self.stream_end != StreamEnd::Error {
            return None;
        }
        let events = stream_events(self, chunk_count);
        let before_error = events.len() - 1;
        let first_rejected = events.iter().position(|e| match e {
            StreamEvent::BadChunk => true,
            StreamEvent::Chunk(_) => !self.chunk_type.is_uint8array(),
            _ => false,
        });
        Some(first_rejected.map_or(before_error, |i| i + 1))
    }

    /// Why a run of this case under a plan of `chunk_count` chunks did not
    /// test what the case describes, given what the backend `observed`.
    pub fn premise_violation(
        &self,
        chunk_count: usize,
        observed: &BodyObservation,
    ) -> Option<String> {
        let claimed = self.chunks_read_before_error(chunk_count)?;
        (observed.read_before_end < claimed && !observed.cancelled).then(|| {
            format!(
                "the case errors its stream after {claimed} chunk(s) were read, but the reader had taken {} when the error came (queued chunks are discarded by controller.error()): the case tests something else; fix its pacing",
                observed.read_before_end
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pending window applies only where a body may never end: every
    /// built-in case the spec requires to stay pending has such a body,
    /// and a closed, errored or whole body never does.
    #[test]
    fn only_a_source_or_body_that_may_never_end_can_be_pending() {
        let loaded = crate::suites::load(&crate::suites::SuiteSpec::WebApi);
        let scenarios: Vec<&Scenario> = loaded
            .cases
            .iter()
            .filter_map(|c| c.scenario.as_deref())
            .collect();
        assert!(scenarios.len() >= 150);
        for scenario in &scenarios {
            assert_eq!(
                scenario.may_never_end(),
                scenario.expect == OutcomeClass::Pending,
                "{}",
                scenario.name
            );
        }
        let mut byte_level = Scenario::byte_level();
        assert!(!byte_level.may_never_end());
        byte_level.stream_end = StreamEnd::Error;
        assert!(!byte_level.may_never_end());
        byte_level.stream_end = StreamEnd::Never;
        assert!(byte_level.may_never_end());
    }

    /// Runs are the per-chunk events, compressed: a few entries whatever
    /// the plan.
    #[test]
    fn event_runs_expand_to_the_events() {
        let base = Scenario::byte_level();
        let mut bad_first = base.clone();
        bad_first.bad_chunk = Some(ChunkType::String);
        bad_first.bad_chunk_at = ChunkPosition::First;
        let mut bad_last_error = base.clone();
        bad_last_error.bad_chunk = Some(ChunkType::Null);
        bad_last_error.stream_end = StreamEnd::Error;
        let mut error_early = bad_last_error.clone();
        error_early.error_after_chunks = Some(2);
        let mut never = base.clone();
        never.stream_end = StreamEnd::Never;
        for scenario in [base, bad_first, bad_last_error, error_early, never] {
            for chunks in [0, 1, 2, 5, 1000] {
                let runs = stream_event_runs(&scenario, chunks);
                assert!(runs.len() <= 4);
                let expanded: Vec<StreamEvent> = runs
                    .iter()
                    .flat_map(|run| match *run {
                        EventRun::Chunks { first, count } => {
                            (first..first + count).map(StreamEvent::Chunk).collect()
                        }
                        EventRun::BadChunk => vec![StreamEvent::BadChunk],
                        EventRun::Error => vec![StreamEvent::Error],
                        EventRun::Close => vec![StreamEvent::Close],
                    })
                    .collect();
                assert_eq!(expanded, stream_events(&scenario, chunks));
            }
        }
    }

    /// Users look a case's `step` up in ALGORITHM.md: every id has exactly
    /// one heading there, and every heading names a known id.
    #[test]
    fn every_step_has_one_heading_in_algorithm_md() {
        let doc = include_str!("../ALGORITHM.md");
        let headings: Vec<&str> = doc
            .lines()
            .filter_map(|l| l.strip_prefix("### "))
            .filter_map(|h| h.split_once(": ").map(|(id, _)| id))
            // Edge-case headings (`### c.5.8: ...`) are not steps.
            .filter(|id| !id.starts_with("c."))
            .collect();
        for step in STEPS {
            let n = headings.iter().filter(|h| *h == step).count();
            assert_eq!(
                n, 1,
                "ALGORITHM.md needs one `### {step}: ...` heading, has {n}"
            );
        }
        for h in &headings {
            assert!(
                STEPS.contains(h),
                "ALGORITHM.md heading `### {h}:` is not in STEPS"
            );
        }
    }
}
