//! An executable model of "compile a potential WebAssembly response" (Web
//! API) and of Fetch's consume body, for the reference backend. Each branch
//! names the step it implements (numbering of the reference document §a).

use crate::backend::{BodyEnd, StreamingBody};
use crate::outcome::Outcome;
use crate::plan::ChunkPlan;
use crate::webapi::{
    Argument, BodyShape, BodyState, ChunkPosition, CompileOptions, Scenario, StreamEnd,
};

/// The outcome the spec requires for `scenario`, with the body's module
/// bytes chunked by `plan`. `compile` is "asynchronously compile a
/// WebAssembly module" over the bytes consume body produced.
pub fn evaluate(
    scenario: &Scenario,
    module: &[u8],
    plan: &ChunkPlan,
    compile: &dyn Fn(StreamingBody<'_>) -> Outcome,
) -> Outcome {
    let type_error = |why: &str| Outcome::TypeError {
        message: why.to_string(),
    };
    // WebIDL converts `options` at the call, before the source is looked at:
    // a bad value is a TypeError even for a rejected source (c.1.5-c.1.7).
    if matches!(
        scenario.options,
        Some(CompileOptions::Number | CompileOptions::BuiltinsNotIterable)
    ) {
        return type_error("options cannot be converted (WebIDL)");
    }
    match scenario.argument {
        // 2.R: a rejected source passes its reason through.
        Argument::Rejected | Argument::ThenableThrows => return Outcome::PassedThrough,
        Argument::NeverSettles => return Outcome::Pending,
        // 2.F.0: the fulfilment value is not a Response.
        Argument::Value | Argument::ValueInPromise => {
            return type_error("argument is not a Response")
        }
        Argument::Response | Argument::Promise | Argument::LatePromise | Argument::Thenable => {}
    }
    // 2.F.2: `get` Content-Type from the header list as it is when the
    // reaction runs (after any same-turn change).
    let Some(mime) = content_type(scenario) else {
        return type_error("no Content-Type header (2.F.3)");
    };
    // 2.F.4: strip HTTP tab or space bytes only.
    let mime = mime.trim_matches(|c| c == '\t' || c == ' ');
    // 2.F.5: byte-case-insensitive match, no parameters.
    if !mime.eq_ignore_ascii_case("application/wasm") {
        return type_error("Content-Type is not application/wasm (2.F.5)");
    }
    // 2.F.7: ok status.
    if !(200..=299).contains(&scenario.status) {
        return type_error("status is not ok (2.F.7)");
    }
    // C1: an unusable body; a lock taken in the same turn after the call
    // (by the user, or by a first compileStreaming call) is in place before
    // the reaction runs.
    if scenario.body_state != BodyState::Fresh {
        return type_error("body is unusable (C1)");
    }
    let outcome = match scenario.body {
        // C2: a null body is an empty byte sequence.
        BodyShape::Null | BodyShape::EmptyString => compile(whole(&[])),
        // Multipart bytes are never a module.
        BodyShape::FormData => compile(whole(b"--multipart--")),
        BodyShape::String => {
            let text = scenario.text.as_deref().unwrap_or("");
            compile(whole(text.as_bytes()))
        }
        BodyShape::Buffer | BodyShape::Blob => compile(whole(module)),
        BodyShape::Stream => read_stream(scenario, module, plan, compile),
    };
    // Validating builtins is part of compiling, after the bytes validate.
    match (outcome, scenario.options) {
        (Outcome::Module { .. }, Some(CompileOptions::BuiltinsDuplicate)) => {
            Outcome::CompileError {
                message: "duplicate builtin set".into(),
            }
        }
        (outcome, _) => outcome,
    }
}

fn whole(bytes: &[u8]) -> StreamingBody<'_> {
    static WHOLE: ChunkPlan = ChunkPlan {
        name: String::new(),
        cuts: Vec::new(),
    };
    StreamingBody {
        chunks: WHOLE.chunks(bytes),
        end: BodyEnd::Close,
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

/// The event sequence of a streamed body under a plan of `chunk_count`.
pub fn stream_events(scenario: &Scenario, chunk_count: usize) -> Vec<StreamEvent> {
    let mut events = Vec::new();
    if scenario.bad_chunk.is_some() && scenario.bad_chunk_at == ChunkPosition::First {
        events.push(StreamEvent::BadChunk);
    }
    let delivered = match scenario.stream_end {
        StreamEnd::Error => scenario
            .error_after_chunks
            .unwrap_or(chunk_count)
            .min(chunk_count),
        _ => chunk_count,
    };
    events.extend((0..delivered).map(StreamEvent::Chunk));
    let all_delivered = delivered == chunk_count;
    if all_delivered && scenario.bad_chunk.is_some() && scenario.bad_chunk_at == ChunkPosition::Last
    {
        events.push(StreamEvent::BadChunk);
    }
    match scenario.stream_end {
        StreamEnd::Error => events.push(StreamEvent::Error),
        StreamEnd::Close => events.push(StreamEvent::Close),
        StreamEnd::Never => {}
    }
    events
}

/// C3-C7: the read loop over the stream's events.
fn read_stream(
    scenario: &Scenario,
    module: &[u8],
    plan: &ChunkPlan,
    compile: &dyn Fn(StreamingBody<'_>) -> Outcome,
) -> Outcome {
    let bad_chunk = || Outcome::TypeError {
        message: "chunk is not a Uint8Array (C4)".into(),
    };
    for event in stream_events(scenario, plan.chunk_count()) {
        match event {
            StreamEvent::BadChunk => return bad_chunk(),
            StreamEvent::Chunk(_) if !scenario.chunk_type.is_uint8array() => return bad_chunk(),
            StreamEvent::Chunk(_) => {}
            // C7: the stream's error rejects with that very value.
            StreamEvent::Error => return Outcome::PassedThrough,
            // C6, then 2.F.9: compile what was read.
            StreamEvent::Close => {
                return compile(StreamingBody {
                    chunks: plan.chunks(module),
                    end: BodyEnd::Close,
                })
            }
        }
    }
    // The stream never ends: consume body never finishes.
    Outcome::Pending
}

/// The Content-Type value Fetch's header list `get` returns: all values of
/// the name, case-insensitively, joined with ", "; `None` when absent.
fn content_type(scenario: &Scenario) -> Option<String> {
    let mut headers: Vec<(String, String)> = scenario
        .headers
        .iter()
        .map(|(n, v)| (n.clone(), normalize(v)))
        .collect();
    let has = |h: &[(String, String)]| {
        h.iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    };
    // Fetch "extract": a body type adds a Content-Type only if none is set.
    if !has(&headers) {
        match scenario.body {
            BodyShape::String => {
                headers.push(("Content-Type".into(), "text/plain;charset=UTF-8".into()))
            }
            BodyShape::Blob => {
                let blob_type = blob_type(scenario.blob_type.as_deref().unwrap_or(""));
                if !blob_type.is_empty() {
                    headers.push(("Content-Type".into(), blob_type));
                }
            }
            _ => {}
        }
    }
    if let Some(change) = &scenario.after_call {
        if let Some((name, value)) = &change.set {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            headers.push((name.clone(), normalize(value)));
        }
        if let Some(name) = &change.delete {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        }
    }
    let values: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.as_str())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// Header value normalization by `Headers`: strip leading and trailing
/// HTTP whitespace (tab, space, CR, LF).
pub fn normalize(value: &str) -> String {
    value
        .trim_matches(|c| matches!(c, '\t' | ' ' | '\r' | '\n'))
        .to_string()
}

/// The Blob constructor's `type`: lowercased, or empty if any character is
/// outside U+0020..U+007E (File API).
pub fn blob_type(requested: &str) -> String {
    if requested
        .chars()
        .all(|c| ('\u{20}'..='\u{7e}').contains(&c))
    {
        requested.to_ascii_lowercase()
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Backend, ReferenceBackend};
    use crate::case::Features;
    use crate::outcome::OutcomeClass;
    use crate::webapi::{ChunkType, JsValue};

    fn scenario(toml_fields: &str) -> Scenario {
        toml::from_str(&format!(
            "name = \"t\"\nstep = \"C4\"\nexpect = \"module\"\n{toml_fields}"
        ))
        .unwrap()
    }

    fn run(s: &Scenario, module: &[u8], cuts: Vec<usize>) -> OutcomeClass {
        let plan = ChunkPlan {
            name: "t".into(),
            cuts,
        };
        let compile = |body: StreamingBody<'_>| {
            ReferenceBackend.compile_streaming(body, &Features::baseline())
        };
        evaluate(s, module, &plan, &compile).class()
    }

    const EMPTY: &[u8] = b"\0asm\x01\0\0\0";

    #[test]
    fn events_follow_the_stream_order() {
        let s = scenario("bad-chunk = \"string\"\nbad-chunk-at = \"first\"\nstream-end = \"error\"\nerror-after-chunks = 1\nreason = \"object\"");
        assert_eq!(
            stream_events(&s, 3),
            [
                StreamEvent::BadChunk,
                StreamEvent::Chunk(0),
                StreamEvent::Error
            ]
        );
        let s = scenario("bad-chunk = \"null\"");
        assert_eq!(
            stream_events(&s, 2),
            [
                StreamEvent::Chunk(0),
                StreamEvent::Chunk(1),
                StreamEvent::BadChunk,
                StreamEvent::Close
            ]
        );
        assert_eq!(
            stream_events(&scenario("stream-end = \"never\""), 1),
            [StreamEvent::Chunk(0)]
        );
    }

    #[test]
    fn stream_fate_decides_before_the_bytes() {
        let invalid = b"\0asm\x01\0\0\0\xca\xfe";
        assert_eq!(
            run(&scenario(""), invalid, vec![4]),
            OutcomeClass::CompileError
        );
        assert_eq!(
            run(&scenario("stream-end = \"never\""), invalid, vec![4]),
            OutcomeClass::Pending
        );
        let errored = scenario("stream-end = \"error\"\nreason = \"object\"");
        assert_eq!(errored.reason, Some(JsValue::Object));
        assert_eq!(run(&errored, invalid, vec![4]), OutcomeClass::PassedThrough);
    }

    #[test]
    fn a_bad_chunk_type_is_a_type_error_even_for_empty_chunks() {
        let s = scenario("chunk-type = \"array-buffer\"");
        assert_eq!(s.chunk_type, ChunkType::ArrayBuffer);
        assert_eq!(run(&s, EMPTY, vec![0]), OutcomeClass::TypeError);
    }

    #[test]
    fn headers_are_read_as_fetch_get_returns_them() {
        let joined = scenario("headers = [[\"Content-Type\", \"application/wasm\"], [\"content-type\", \"application/wasm\"]]");
        assert_eq!(run(&joined, EMPTY, vec![]), OutcomeClass::TypeError);
        let spaced = scenario("headers = [[\"Content-Type\", \" APPLICATION/wasm\\t\"]]");
        assert_eq!(run(&spaced, EMPTY, vec![]), OutcomeClass::Module);
        assert_eq!(blob_type("\tapplication/wasm"), "");
        assert_eq!(blob_type("Application/Wasm"), "application/wasm");
    }
}
