//! The process protocol's vocabulary (`harness/engines/PROTOCOL.md`): what the
//! harness sends and what a worker may answer, as types. Everything that
//! crosses the wire is serialized or parsed here and nowhere else.

use base64::Engine as _;
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use std::hash::{Hash, Hasher};
use std::sync::LazyLock;
use streamconform::backend::WebApiOutcome;
use streamconform::case::{ImportObject, StreamingFunction};
use streamconform::imports::{ImportObjects, ImportValue};
use streamconform::outcome::Outcome;
use streamconform::plan::{cut_runs, CutRun};
use streamconform::scenario::{
    AbortAt, Argument, BodyObservation, BodyShape, BodyState, ChunkType, EventRun, FetchUrl,
    JsValue, OptionsArgument, OptionsDictionary, Pacing, RedirectMode, RequestMode, Scenario,
};

pub const PROTOCOL_VERSION: u32 = 9;

/// The error name of a result whose declared import object the worker
/// could not build (see PROTOCOL.md).
pub const DECLARED_OBJECT_UNBUILT: &str = "DeclaredObjectUnbuilt";

/// The handshake a worker sends first.
#[derive(Clone, Debug, Deserialize)]
pub struct Hello {
    pub protocol: u32,
    pub engine: String,
    pub version: String,
    /// What the worker can do beyond the core protocol: `fetch` (it runs
    /// cases that fetch from the loopback server, `data:` and `blob:`
    /// URLs), `origin` (it runs in a document with an origin, so
    /// cross-origin requests and CORS apply).
    #[serde(default)]
    pub capabilities: Vec<String>,
}

impl Hello {
    /// The first line a worker sends, judged: a hello of our version.
    pub fn parse(line: &[u8]) -> Result<Hello, String> {
        let text = String::from_utf8_lossy(line);
        let hello: Hello =
            serde_json::from_str(&text).map_err(|e| format!("bad handshake: {e}: {text:.200}"))?;
        if hello.protocol != PROTOCOL_VERSION {
            return Err(format!(
                "speaks protocol {}, this harness {PROTOCOL_VERSION}",
                hello.protocol
            ));
        }
        Ok(hello)
    }
}

/// A message from a worker after its hello.
#[derive(Debug)]
pub enum Reply {
    /// The worker has taken request `id` (its hang timer starts now).
    Started { id: u64 },
    /// Request `id` is done.
    Result { id: u64, outcome: WebApiOutcome },
    /// The answer to a `ping`: the worker's event loop runs.
    Pong,
}

#[derive(Deserialize)]
struct RawReply {
    #[serde(rename = "type")]
    kind: String,
    id: Option<u64>,
    outcome: Option<Outcome>,
    /// What the body stream was seen doing (see `BodyObservation`).
    body: Option<BodyObservation>,
    /// A declared import object's reads, in order.
    reads: Option<Vec<String>>,
    message: Option<String>,
}

impl Reply {
    /// One line from a worker; `Err` says how it breaks the protocol.
    pub fn parse(line: &[u8]) -> Result<Reply, String> {
        let line = std::str::from_utf8(line).map_err(|_| {
            format!(
                "a line that is not UTF-8: {:.200}",
                String::from_utf8_lossy(line)
            )
        })?;
        let raw: RawReply = serde_json::from_str(line)
            .map_err(|e| format!("a line that is not protocol ({e}): {line:.200}"))?;
        match (raw.kind.as_str(), raw.id, raw.outcome) {
            ("started", Some(id), None) => Ok(Reply::Started { id }),
            ("pong", None, None) => Ok(Reply::Pong),
            ("result", Some(id), Some(outcome)) => {
                // The worker could not build the case's import object: the
                // harness's fault, never the engine's result.
                let harness_fault = match &outcome {
                    Outcome::OtherError { name, message } if name == DECLARED_OBJECT_UNBUILT => {
                        Some(format!(
                            "the worker could not build the import object: {message}"
                        ))
                    }
                    _ => None,
                };
                Ok(Reply::Result {
                    id,
                    outcome: WebApiOutcome {
                        outcome,
                        body: raw.body,
                        reads: raw.reads,
                        harness_fault,
                    },
                })
            }
            ("error", ..) => Err(format!(
                "an error: {}",
                raw.message.as_deref().unwrap_or(line)
            )),
            _ => Err(format!("a line the protocol does not know: {line:.200}")),
        }
    }
}

/// `{"type": "module", ...}`: module bytes, once per worker.
#[derive(Serialize)]
pub struct ModuleRequest {
    #[serde(rename = "type")]
    kind: &'static str,
    module: u64,
    bytes: String,
}

impl ModuleRequest {
    pub fn new(module: u64, bytes: &[u8]) -> ModuleRequest {
        ModuleRequest {
            kind: "module",
            module,
            bytes: base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }
}

/// `{"type": "forget", ...}`: the worker may drop a module's bytes; a later
/// request for it comes after the bytes again.
#[derive(Serialize)]
pub struct ForgetRequest {
    #[serde(rename = "type")]
    kind: &'static str,
    module: u64,
}

impl ForgetRequest {
    pub fn new(module: u64) -> ForgetRequest {
        ForgetRequest {
            kind: "forget",
            module,
        }
    }
}

/// `{"type": "ping"}`: asks a worker that has been silent with requests
/// in flight whether it is alive; it answers `pong` from its event loop,
/// between the work of its requests.
pub const PING: &[u8] = br#"{"type":"ping"}"#;

/// A request about one module, serialized straight onto the wire (no
/// intermediate JSON tree: a case's cut list can be long).
#[derive(Serialize)]
pub struct Request<'a> {
    pub id: u64,
    pub module: u64,
    /// The pending window, only for a case whose source or body may never
    /// end; without it the worker waits for the promise to settle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settle_ms: Option<u64>,
    /// Which streaming function the request calls (its one-shot
    /// counterpart for `one-shot`); absent for `compileStreaming`.
    #[serde(skip_serializing_if = "StreamingFunction::is_compile")]
    pub function: StreamingFunction,
    /// The import object of an instantiation, when it passes one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imports: Option<&'a WireImports>,
    #[serde(flatten)]
    pub body: &'a RequestBody<'a>,
}

/// `imports`: how the worker builds an instantiation's import object.
/// `{"instances": [{"name": N, "bytes": BASE64}, ...]}`: each module
/// instantiated one-shot, in order, with the object built so far, its
/// exports then put under `N` (see [`ImportObject::Instances`]).
/// `{"declared": VALUE, "objects": "getters"|"proxies"}`: an object a case
/// declares (see [`ImportObject::Declared`]), every read of it logged.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum WireImports {
    Instances {
        instances: Vec<WireNamedModule>,
    },
    Declared {
        declared: ImportValue,
        objects: ImportObjects,
    },
}

#[derive(Clone, Debug, Serialize)]
pub struct WireNamedModule {
    name: String,
    bytes: String,
}

impl WireImports {
    /// `imports` as it travels; `None` for no import object (`undefined`).
    pub fn new(imports: &ImportObject) -> Option<WireImports> {
        match imports {
            ImportObject::Omitted => None,
            ImportObject::Instances(modules) => Some(WireImports::Instances {
                instances: modules
                    .iter()
                    .map(|m| WireNamedModule {
                        name: m.name.clone(),
                        bytes: base64::engine::general_purpose::STANDARD.encode(&m.bytes),
                    })
                    .collect(),
            }),
            ImportObject::Declared(declared) => Some(WireImports::Declared {
                declared: declared.value.clone(),
                objects: declared.objects,
            }),
        }
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum RequestBody<'a> {
    OneShot {
        /// A case's options dictionary (`new WebAssembly.Module(bytes,
        /// options)`), when it passes one.
        #[serde(skip_serializing_if = "Option::is_none")]
        options: Option<&'a OptionsDictionary>,
    },
    Case {
        /// Boxed: the largest part of a request by far, built once per request.
        scenario: Box<WireScenario<'a>>,
        cuts: WireCuts<'a>,
        events: Vec<WireEvent>,
    },
}

/// What a worker needs of a case's scenario to build its argument and
/// Response: the wire's own type, so the case files' schema (`Scenario`)
/// and the protocol evolve separately. Only what differs from the default
/// (a fresh Response, `Content-Type: application/wasm`, status 200, the
/// module streamed as `Uint8Array` chunks) is sent, and a worker fills in
/// the rest: most requests of a run are byte-level plans, for which this
/// is `{}`. What the harness decides itself (the body's events, what the
/// loopback server answers, the expected outcome) does not travel here.
/// Leaf values are named as in the case files.
#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct WireScenario<'a> {
    #[serde(skip_serializing_if = "is_default")]
    argument: Argument,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<JsValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<JsValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    headers: Option<&'a [(String, String)]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(skip_serializing_if = "is_default")]
    body: BodyShape,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    blob_type: Option<&'a str>,
    #[serde(skip_serializing_if = "is_default")]
    chunk_type: ChunkType,
    #[serde(skip_serializing_if = "Option::is_none")]
    bad_chunk: Option<ChunkType>,
    #[serde(skip_serializing_if = "is_default")]
    pacing: Pacing,
    #[serde(skip_serializing_if = "is_default")]
    body_state: BodyState,
    #[serde(skip_serializing_if = "Option::is_none")]
    after_call: Option<WireHeaderChange<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    options: Option<&'a OptionsArgument>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fetch: Option<WireFetch<'a>>,
}

/// `after-call`: `{"set": [name, value]}` and/or `{"delete": name}`.
#[derive(Serialize)]
pub struct WireHeaderChange<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    set: Option<(&'a str, &'a str)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delete: Option<&'a str>,
}

/// `fetch`: the request a case makes. `target` is `same-origin` or
/// `cross-origin` (then `url` is the loopback server URL the harness
/// registered the answer under), `data` or `blob` (the worker builds the
/// URL of the module itself, typed `media-type`).
#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct WireFetch<'a> {
    target: FetchUrl,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    media_type: Option<&'a str>,
    #[serde(skip_serializing_if = "is_default")]
    mode: RequestMode,
    #[serde(skip_serializing_if = "is_default")]
    redirect: RedirectMode,
    #[serde(skip_serializing_if = "Option::is_none")]
    abort: Option<AbortAt>,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

impl<'a> WireScenario<'a> {
    /// `scenario` as it travels; `server_url` is where the loopback server
    /// answers its fetch, if it fetches from the server.
    pub fn new(scenario: &'a Scenario, server_url: Option<String>) -> WireScenario<'a> {
        static DEFAULT: LazyLock<Scenario> = LazyLock::new(Scenario::byte_level);
        let default = &*DEFAULT;
        WireScenario {
            argument: scenario.argument,
            value: scenario.value,
            reason: scenario.reason,
            headers: (scenario.headers != default.headers).then_some(&scenario.headers[..]),
            status: (scenario.status != default.status).then_some(scenario.status),
            body: scenario.body,
            text: scenario.text.as_deref(),
            blob_type: scenario.blob_type.as_deref(),
            chunk_type: scenario.chunk_type,
            bad_chunk: scenario.bad_chunk,
            pacing: scenario.pacing,
            body_state: scenario.body_state,
            after_call: scenario.after_call.as_ref().map(|change| WireHeaderChange {
                set: change
                    .set
                    .as_ref()
                    .map(|(name, value)| (name.as_str(), value.as_str())),
                delete: change.delete.as_deref(),
            }),
            options: scenario.options.as_ref(),
            fetch: scenario.fetch.as_ref().map(|fetch| WireFetch {
                target: fetch.url,
                url: server_url,
                media_type: fetch.media_type.as_deref(),
                mode: fetch.mode,
                redirect: fetch.redirect,
                abort: fetch.abort,
            }),
        }
    }
}

/// A plan's cut list as a JSON array of offsets and half-open ranges
/// `[start, end]` (every offset `start..end-1`): `[8, 9, [10, 400000]]`.
/// Runs as `format_cuts` compacts them, so a one-byte plan of a 400 KB
/// module is one range; the worker never needs them expanded.
pub struct WireCuts<'a>(pub &'a [usize]);

impl Serialize for WireCuts<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        for run in cut_runs(self.0) {
            match run {
                CutRun::Offset(offset) => seq.serialize_element(&offset)?,
                CutRun::Range(start, end) => seq.serialize_element(&[start, end])?,
            }
        }
        seq.end()
    }
}

/// The event kinds of a `case` request's `events`, as the driver names
/// them (a test checks that `js/driver-core.mjs` and PROTOCOL.md know each).
pub const EVENT_KINDS: &[&str] = &["chunks", "bad", "error", "close"];

/// The reply types a worker sends after its hello (checked the same way).
pub const REPLY_KINDS: &[&str] = &["started", "result", "pong"];

/// One entry of `events`: `["chunks", first, count]`, `["bad"]`,
/// `["error"]` or `["close"]`.
pub struct WireEvent(pub EventRun);

impl Serialize for WireEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (kind, run) = match self.0 {
            EventRun::Chunks { first, count } => (EVENT_KINDS[0], Some((first, count))),
            EventRun::BadChunk => (EVENT_KINDS[1], None),
            EventRun::Error => (EVENT_KINDS[2], None),
            EventRun::Close => (EVENT_KINDS[3], None),
        };
        let mut seq = serializer.serialize_seq(Some(if run.is_some() { 3 } else { 1 }))?;
        seq.serialize_element(kind)?;
        if let Some((first, count)) = run {
            seq.serialize_element(&first)?;
            seq.serialize_element(&count)?;
        }
        seq.end()
    }
}

/// The id a module's bytes travel under.
pub fn module_id(bytes: &[u8]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use streamconform::scenario::stream_event_runs;

    const DRIVER: &str = crate::js::DRIVER_CORE;

    /// The event and reply kinds the harness knows are the ones the shared
    /// driver uses and PROTOCOL.md documents, and every request is one line.
    #[test]
    fn the_vocabulary_agrees_with_the_driver_and_the_protocol() {
        let protocol = include_str!("../../PROTOCOL.md");
        for kind in EVENT_KINDS {
            assert!(
                DRIVER.contains(&format!("\"{kind}\"")),
                "js/driver-core.mjs does not handle event {kind:?}"
            );
            assert!(
                protocol.contains(&format!("[\"{kind}\"")),
                "PROTOCOL.md does not document event {kind:?}"
            );
        }
        for kind in REPLY_KINDS {
            assert!(
                DRIVER.contains(&format!("type: \"{kind}\"")),
                "js/driver-core.mjs does not send {kind:?}"
            );
            assert!(
                protocol.contains(&format!("{{\"type\": \"{kind}\"")),
                "PROTOCOL.md does not document reply {kind:?}"
            );
        }
        let ping: serde_json::Value = serde_json::from_slice(PING).unwrap();
        assert!(DRIVER.contains(&format!("case {}:", ping["type"])));
        assert!(protocol.contains(r#"{"type": "ping"}"#));
        assert!(matches!(
            Reply::parse(br#"{"type":"pong"}"#),
            Ok(Reply::Pong)
        ));
        assert!(DRIVER.contains(&format!("export const PROTOCOL = {PROTOCOL_VERSION};")));
        assert!(protocol.contains(&format!("\"protocol\": {PROTOCOL_VERSION},")));
        assert!(
            protocol.starts_with(&format!(
                "# The streamconform process protocol, version {PROTOCOL_VERSION}\n"
            )),
            "PROTOCOL.md's title names the version"
        );
        let mut scenario = Scenario::byte_level();
        scenario.bad_chunk = Some(ChunkType::Null);
        let cuts: Vec<usize> = (1..400_000).collect();
        let body = RequestBody::Case {
            scenario: Box::new(WireScenario::new(&scenario, None)),
            cuts: WireCuts(&cuts),
            events: stream_event_runs(&scenario, 400_000)
                .into_iter()
                .map(WireEvent)
                .collect(),
        };
        let line = serde_json::to_string(&Request {
            id: 8,
            module: 9,
            settle_ms: Some(3000),
            function: Default::default(),
            imports: None,
            body: &body,
        })
        .unwrap();
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["type"], "case");
        assert_eq!(
            (value["id"].as_u64(), value["module"].as_u64()),
            (Some(8), Some(9))
        );
        assert_eq!(value["cuts"], serde_json::json!([[1, 400_000]]));
        assert_eq!(value["scenario"], serde_json::json!({"bad-chunk": "null"}));
        assert_eq!(
            value["events"],
            serde_json::json!([["chunks", 0, 400_000], ["bad"], ["close"]])
        );
        assert!(line.len() < 1000, "{} bytes", line.len());
        let one_shot = serde_json::to_string(&Request {
            id: 1,
            module: 2,
            settle_ms: None,
            function: Default::default(),
            imports: None,
            body: &RequestBody::OneShot { options: None },
        })
        .unwrap();
        assert!(one_shot.contains("\"type\":\"one-shot\""), "{one_shot}");
        assert!(!one_shot.contains("settle_ms"), "no window: {one_shot}");
    }

    /// The outcome classes a worker may answer, the streaming functions a
    /// request may name, and what an instance's exports show are spelled
    /// the same in Rust and in the shared driver.
    #[test]
    fn outcomes_functions_and_instance_shapes_agree_with_the_driver() {
        use streamconform::outcome::{InstanceExport, OutcomeClass::*};
        let every = [
            Module,
            Instance,
            CompileError,
            LinkError,
            RuntimeError,
            TypeError,
            PassedThrough,
            Pending,
            OtherError,
            Crash,
            Timeout,
        ];
        for class in every {
            // Exhaustive: a new class must be placed here, then spelled below.
            let from_worker = match class {
                Module | Instance | CompileError | LinkError | RuntimeError | TypeError
                | PassedThrough | Pending | OtherError | Crash => true,
                // The harness's own verdict on a silent worker.
                Timeout => false,
            };
            let name = serde_json::to_string(&class).unwrap();
            assert_eq!(
                DRIVER.contains(&format!("class: {name}")),
                from_worker,
                "js/driver-core.mjs and outcome class {name}"
            );
        }
        for function in [StreamingFunction::Compile, StreamingFunction::Instantiate] {
            let name = serde_json::to_string(&function).unwrap();
            assert!(
                DRIVER.contains(&format!("fn === {name}"))
                    || DRIVER.contains(&format!("fn !== {name}")),
                "js/driver-core.mjs never tells function {name} apart"
            );
        }
        let shape = InstanceExport {
            name: String::new(),
            kind: String::new(),
            length: Some(0),
            byte_length: Some(0),
            value: Some(String::new()),
            mutable: Some(true),
        };
        let keys = serde_json::to_value(shape).unwrap();
        for key in keys.as_object().unwrap().keys() {
            assert!(
                DRIVER.contains(&format!("shape.{key} ="))
                    || DRIVER.contains(&format!("{{ {key}, kind }}"))
                    || key == "kind",
                "js/driver-core.mjs never sets instance export field {key:?}"
            );
        }
        for value in ["number", "bigint", "reference", "unrepresentable"] {
            assert!(DRIVER.contains(&format!("\"{value}\"")), "{value}");
        }
    }

    /// Every value a declared import object can hold, and every way its
    /// objects are made, is spelled the same in Rust and in the driver;
    /// the CALL_RETURNED marker too.
    #[test]
    fn declared_import_values_agree_with_the_driver() {
        use streamconform::backend::CALL_RETURNED;
        use streamconform::imports::{GlobalValueType, Interface, NamedValue, Primitive};
        for (_, name) in Primitive::ALL {
            assert!(DRIVER.contains(&format!("case \"{name}\":")), "{name}");
        }
        for value in [
            NamedValue::PlainObject,
            NamedValue::Function,
            NamedValue::ThrowingFunction,
            NamedValue::ThrowingGetter,
        ] {
            let name = value.to_string();
            assert!(
                DRIVER.contains(&format!("\"{name}\"")),
                "js/driver-core.mjs does not know import value {name:?}"
            );
        }
        for (_, name) in Interface::ALL {
            assert!(DRIVER.contains(&format!("{name}: WebAssembly.")), "{name}");
        }
        assert!(DRIVER.contains("(global|memory|table)-(constructor|prototype|like)"));
        let types: Vec<String> = GlobalValueType::ALL
            .iter()
            .map(|(_, n)| format!("\"{n}\""))
            .collect();
        assert!(
            DRIVER.contains(&format!("GLOBAL_TYPES = [{}]", types.join(", "))),
            "{types:?}"
        );
        for objects in [ImportObjects::Getters, ImportObjects::Proxies] {
            let name = serde_json::to_string(&objects).unwrap();
            assert!(DRIVER.contains(name.as_str()), "{name}");
        }
        assert!(DRIVER.contains(&format!("const CALL_RETURNED = \"{CALL_RETURNED}\";")));
    }

    /// Every key a wire scenario can carry is one the driver reads (a
    /// renamed field would otherwise be silently ignored, its default used).
    #[test]
    fn every_wire_scenario_field_is_read_by_the_driver() {
        use streamconform::scenario::{AbortAt, FetchRequest, HeaderChange};
        let mut scenario = Scenario::byte_level();
        scenario.argument = Argument::Value;
        scenario.value = Some(JsValue::Null);
        scenario.reason = Some(JsValue::Null);
        scenario.headers.clear();
        scenario.status = 201;
        scenario.body = BodyShape::Blob;
        scenario.text = Some(String::new());
        scenario.blob_type = Some(String::new());
        scenario.chunk_type = ChunkType::Null;
        scenario.bad_chunk = Some(ChunkType::Null);
        scenario.pacing = Pacing::Pull;
        scenario.body_state = BodyState::Locked;
        scenario.after_call = Some(HeaderChange {
            set: Some((String::new(), String::new())),
            delete: Some(String::new()),
        });
        scenario.options = Some(OptionsArgument::Named(
            streamconform::scenario::CompileOptions::Null,
        ));
        scenario.fetch = Some(FetchRequest {
            url: FetchUrl::SameOrigin,
            mode: RequestMode::NoCors,
            redirect: RedirectMode::Manual,
            redirected_from: None,
            redirect_status: 302,
            media_type: Some(String::new()),
            served: Default::default(),
            served_bytes: 0,
            abort: Some(AbortAt::SameTurn),
        });
        let wire = serde_json::to_value(WireScenario::new(&scenario, Some("u".into()))).unwrap();
        let mut keys = Vec::new();
        for (key, value) in wire.as_object().unwrap() {
            keys.push(key.clone());
            if let Some(nested) = value.as_object() {
                keys.extend(nested.keys().cloned());
            }
        }
        assert_eq!(keys.len(), 15 + 2 + 6, "{keys:?}");
        for key in keys {
            assert!(
                DRIVER.contains(&format!("[\"{key}\"]")) || DRIVER.contains(&format!(".{key}")),
                "js/driver-core.mjs never reads scenario key {key:?}"
            );
        }
    }

    /// Every options name, and every key of an options dictionary, is one
    /// the driver knows; a `one-shot` carries the dictionary as written.
    #[test]
    fn options_agree_with_the_driver() {
        for named in streamconform::scenario::CompileOptions::ALL {
            let name = serde_json::to_value(named).unwrap();
            let name = name.as_str().unwrap();
            assert!(DRIVER.contains(&format!("case \"{name}\":")), "{name}");
        }
        let options = OptionsDictionary {
            builtins: Some(vec!["js-string".into()]),
            imported_string_constants: Some("'".into()),
        };
        let wire = serde_json::to_value(RequestBody::OneShot {
            options: Some(&options),
        })
        .unwrap();
        let written = wire["options"].as_object().unwrap();
        assert_eq!(written.len(), 2);
        for key in written.keys() {
            assert!(DRIVER.contains(&format!("case \"{key}\":")), "{key}");
        }
        let wire = serde_json::to_value(RequestBody::OneShot { options: None }).unwrap();
        assert_eq!(wire, serde_json::json!({"type": "one-shot"}));
    }

    /// Cut lists travel as offsets and half-open ranges, runs compacted as
    /// `format_cuts` compacts them.
    #[test]
    fn cuts_travel_as_offsets_and_ranges() {
        let json = |cuts: &[usize]| serde_json::to_value(WireCuts(cuts)).unwrap();
        assert_eq!(json(&[]), serde_json::json!([]));
        assert_eq!(json(&[8, 8, 9]), serde_json::json!([8, 8, 9]));
        assert_eq!(
            json(&[1, 2, 3, 4, 9, 10, 20]),
            serde_json::json!([[1, 5], 9, 10, 20])
        );
    }

    /// A byte-level case travels as an empty scenario (the driver's
    /// defaults), plus the reason its stream errors with; how the stream
    /// ends is in its events.
    #[test]
    fn byte_level_scenarios_are_sent_as_their_differences_from_the_default() {
        let mut scenario = Scenario::byte_level();
        let json = |s: &Scenario| serde_json::to_string(&WireScenario::new(s, None)).unwrap();
        assert_eq!(json(&scenario), "{}");
        scenario.stream_end = streamconform::scenario::StreamEnd::Error;
        scenario.reason = Some(JsValue::Object);
        assert_eq!(json(&scenario), r#"{"reason":"object"}"#);
    }

    #[test]
    fn replies_that_break_the_protocol_say_how() {
        assert!(matches!(
            Reply::parse(br#"{"type":"started","id":4}"#),
            Ok(Reply::Started { id: 4 })
        ));
        assert!(matches!(
            Reply::parse(br#"{"type":"result","id":5,"outcome":{"class":"pending"}}"#),
            Ok(Reply::Result { id: 5, .. })
        ));
        let broken = |line: &[u8]| Reply::parse(line).unwrap_err();
        let unbuilt = br#"{"type":"result","id":6,"outcome":{"class":"other-error","name":"DeclaredObjectUnbuilt","message":"RangeError"}}"#;
        assert!(matches!(
            Reply::parse(unbuilt),
            Ok(Reply::Result {
                outcome: WebApiOutcome {
                    harness_fault: Some(_),
                    ..
                },
                ..
            })
        ));
        assert!(DRIVER.contains(&format!(
            "get name() {{ return \"{DECLARED_OBJECT_UNBUILT}\"; }}"
        )));
        assert!(broken(b"\xff\xfe").contains("not UTF-8"));
        assert!(broken(b"Segmentation fault").contains("not protocol"));
        assert!(broken(br#"{"type":"result","id":5}"#).contains("does not know"));
        assert!(broken(br#"{"type":"error","message":"boom"}"#).contains("boom"));
        assert!(
            Hello::parse(br#"{"type":"hello","protocol":1,"engine":"e","version":"1"}"#)
                .unwrap_err()
                .contains("protocol 1")
        );
    }

    #[test]
    fn module_bytes_travel_as_standard_base64() {
        let line = serde_json::to_string(&ModuleRequest::new(1, b"\0asm\x01\0\0\0")).unwrap();
        assert!(line.contains(r#""bytes":"AGFzbQEAAAA=""#), "{line}");
    }
}
