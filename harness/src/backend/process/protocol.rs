//! The process protocol's vocabulary (`harness/PROTOCOL.md`): what the
//! harness sends and what a worker may answer, as types. Everything that
//! crosses the wire is serialized or parsed here and nowhere else.

use crate::backend::{BodyEnd, WebApiOutcome};
use crate::outcome::Outcome;
use crate::scenario::{BodyObservation, EventRun, JsValue, Scenario, StreamEnd};
use base64::Engine as _;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use std::hash::{Hash, Hasher};

pub const PROTOCOL_VERSION: u32 = 3;

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
        let hello: Hello = serde_json::from_str(&text)
            .map_err(|e| format!("bad handshake: {e}: {text:.200}"))?;
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
}

#[derive(Deserialize)]
struct RawReply {
    #[serde(rename = "type")]
    kind: String,
    id: Option<u64>,
    outcome: Option<Outcome>,
    /// What the body stream was seen doing (see `BodyObservation`).
    body: Option<BodyObservation>,
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
            ("result", Some(id), Some(outcome)) => Ok(Reply::Result {
                id,
                outcome: WebApiOutcome {
                    outcome,
                    body: raw.body,
                },
            }),
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

/// A request about one module, serialized straight onto the wire (no
/// intermediate JSON tree: a case's cut list can be megabytes).
#[derive(Serialize)]
pub struct Request<'a> {
    pub id: u64,
    pub module: u64,
    pub settle_ms: u64,
    #[serde(flatten)]
    pub body: &'a RequestBody<'a>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum RequestBody<'a> {
    OneShot,
    Case {
        scenario: WireScenario<'a>,
        /// The plan's cut list in the compact syntax of `format_cuts`.
        cuts: String,
        events: Vec<WireEvent>,
        #[serde(skip_serializing_if = "Option::is_none")]
        fetch_url: Option<String>,
    },
}

/// A request's scenario. A byte-level case is the default scenario, which
/// the driver fills in itself from an empty object (every field has its
/// default there too): most requests of a run are byte-level plans, and
/// their full scenario would be most of each request line.
pub enum WireScenario<'a> {
    Full(&'a Scenario),
    ByteLevel(BodyEnd),
}

impl Serialize for WireScenario<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            WireScenario::Full(scenario) => scenario.serialize(serializer),
            WireScenario::ByteLevel(end) => {
                let mut map = serializer.serialize_map(None)?;
                match end {
                    BodyEnd::Close => {}
                    BodyEnd::Error => {
                        map.serialize_entry("stream-end", &StreamEnd::Error)?;
                        map.serialize_entry("reason", &JsValue::Object)?;
                    }
                    BodyEnd::Never => map.serialize_entry("stream-end", &StreamEnd::Never)?,
                }
                map.end()
            }
        }
    }
}

/// The event kinds of a `case` request's `events`, as the driver names
/// them (a test checks that `js/driver.mjs` and PROTOCOL.md know each).
pub const EVENT_KINDS: &[&str] = &["chunks", "bad", "error", "close"];

/// The reply types a worker sends after its hello (checked the same way).
pub const REPLY_KINDS: &[&str] = &["started", "result"];

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
    use crate::plan::format_cuts;
    use crate::scenario::stream_event_runs;

    const DRIVER: &str = super::super::DRIVER;

    /// The event and reply kinds the harness knows are the ones the shared
    /// driver uses and PROTOCOL.md documents, and every request is one line.
    #[test]
    fn the_vocabulary_agrees_with_the_driver_and_the_protocol() {
        let protocol = include_str!("../../../PROTOCOL.md");
        for kind in EVENT_KINDS {
            assert!(
                DRIVER.contains(&format!("\"{kind}\"")),
                "js/driver.mjs does not handle event {kind:?}"
            );
            assert!(
                protocol.contains(&format!("[\"{kind}\"")),
                "PROTOCOL.md does not document event {kind:?}"
            );
        }
        for kind in REPLY_KINDS {
            assert!(
                DRIVER.contains(&format!("type: \"{kind}\"")),
                "js/driver.mjs does not send {kind:?}"
            );
            assert!(
                protocol.contains(&format!("{{\"type\": \"{kind}\"")),
                "PROTOCOL.md does not document reply {kind:?}"
            );
        }
        assert!(DRIVER.contains(&format!("const PROTOCOL = {PROTOCOL_VERSION};")));
        assert!(protocol.contains(&format!("\"protocol\": {PROTOCOL_VERSION},")));
        let mut scenario = Scenario::byte_level();
        scenario.bad_chunk = Some(crate::scenario::ChunkType::Null);
        let body = RequestBody::Case {
            scenario: WireScenario::Full(&scenario),
            cuts: format_cuts(&(1..400_000).collect::<Vec<_>>()),
            events: stream_event_runs(&scenario, 400_000)
                .into_iter()
                .map(WireEvent)
                .collect(),
            fetch_url: None,
        };
        let line = serde_json::to_string(&Request {
            id: 8,
            module: 9,
            settle_ms: 3000,
            body: &body,
        })
        .unwrap();
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["type"], "case");
        assert_eq!(
            (value["id"].as_u64(), value["module"].as_u64()),
            (Some(8), Some(9))
        );
        assert_eq!(value["cuts"], "1..400000");
        assert_eq!(
            value["events"],
            serde_json::json!([["chunks", 0, 400_000], ["bad"], ["close"]])
        );
        assert!(line.len() < 1000, "{} bytes", line.len());
        let one_shot = serde_json::to_string(&Request {
            id: 1,
            module: 2,
            settle_ms: 3,
            body: &RequestBody::OneShot,
        })
        .unwrap();
        assert!(one_shot.contains("\"type\":\"one-shot\""), "{one_shot}");
    }

    /// A byte-level case travels as an empty scenario (the driver's
    /// defaults), plus how its stream ends.
    #[test]
    fn byte_level_scenarios_are_sent_as_their_differences_from_the_default() {
        let json = |end| serde_json::to_string(&WireScenario::ByteLevel(end)).unwrap();
        assert_eq!(json(BodyEnd::Close), "{}");
        assert_eq!(
            json(BodyEnd::Error),
            r#"{"stream-end":"error","reason":"object"}"#
        );
        assert_eq!(json(BodyEnd::Never), r#"{"stream-end":"never"}"#);
        // The same keys and values a full scenario uses.
        let mut full = Scenario::byte_level();
        full.stream_end = StreamEnd::Error;
        full.reason = Some(JsValue::Object);
        let full = serde_json::to_value(&full).unwrap();
        assert_eq!(
            (&full["stream-end"], &full["reason"]),
            (&serde_json::json!("error"), &serde_json::json!("object"))
        );
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
        assert!(broken(b"\xff\xfe").contains("not UTF-8"));
        assert!(broken(b"Segmentation fault").contains("not protocol"));
        assert!(broken(br#"{"type":"result","id":5}"#).contains("does not know"));
        assert!(broken(br#"{"type":"error","message":"boom"}"#).contains("boom"));
        assert!(Hello::parse(br#"{"type":"hello","protocol":1,"engine":"e","version":"1"}"#)
            .unwrap_err()
            .contains("protocol 1"));
    }

    #[test]
    fn module_bytes_travel_as_standard_base64() {
        let line = serde_json::to_string(&ModuleRequest::new(1, b"\0asm\x01\0\0\0")).unwrap();
        assert!(line.contains(r#""bytes":"AGFzbQEAAAA=""#), "{line}");
    }
}
