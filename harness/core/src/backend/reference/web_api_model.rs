//! An executable model of "compile a potential WebAssembly response" (Web
//! API) and of Fetch's consume body, for the reference backend. Each branch
//! names the step it implements (the step ids of `harness/core/ALGORITHM.md`).

use crate::backend::{BodyEnd, StreamingBody};
use crate::instantiation::{validate_builtins, CompiledWith, Validated};
use crate::outcome::Outcome;
use crate::plan::ChunkPlan;
use crate::scenario::{
    normalize, stream_events, AbortAt, Argument, BodyShape, BodyState, FetchRequest, FetchUrl,
    OptionsDictionary, RedirectMode, RequestMode, Scenario, Served, StreamEvent,
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
    let options = match &scenario.options {
        None => None,
        Some(argument) => match argument.converted() {
            Some(options) => Some(options),
            None => return type_error("options cannot be converted (WebIDL)"),
        },
    };
    match scenario.argument {
        // 2.R: a rejected source passes its reason through.
        Argument::Rejected | Argument::ThenableThrows => return Outcome::PassedThrough,
        Argument::NeverSettles => return Outcome::Pending,
        // 2.F.0: the fulfilment value is not a Response.
        Argument::Value | Argument::ValueInPromise => {
            return type_error("argument is not a Response")
        }
        // Fetch: both have an empty header list (2.F.3).
        Argument::ResponseError | Argument::ResponseRedirect => {
            return type_error("no Content-Type header (2.F.3)")
        }
        Argument::Response
        | Argument::Promise
        | Argument::LatePromise
        | Argument::Thenable
        | Argument::Fetch
        | Argument::Fetched => {}
    }
    let fetched = match &scenario.fetch {
        Some(request) => match fetch(scenario, request) {
            Ok(response) => Some(response),
            // 2.R: fetch rejected (network error or abort); its reason
            // passes through.
            Err(FetchRejects) => return Outcome::PassedThrough,
        },
        None => None,
    };
    // 2.F.2: `get` Content-Type from the header list as it is when the
    // reaction runs (after any same-turn change).
    let content_type = match &fetched {
        Some(response) => get_content_type(&response.headers),
        None => content_type(scenario),
    };
    let Some(mime) = content_type else {
        return type_error("no Content-Type header (2.F.3)");
    };
    // 2.F.4: strip HTTP tab or space bytes only.
    let mime = mime.trim_matches(|c| c == '\t' || c == ' ');
    // 2.F.5: byte-case-insensitive match, no parameters.
    if !mime.eq_ignore_ascii_case("application/wasm") {
        return type_error("Content-Type is not application/wasm (2.F.5)");
    }
    // 2.F.6 needs a response that is not CORS-same-origin, and those
    // (error, opaque, opaque-redirect) all have empty header lists: they
    // already failed at 2.F.3.
    // 2.F.7: ok status.
    let status = fetched.as_ref().map_or(scenario.status, |r| r.status);
    if !(200..=299).contains(&status) {
        return type_error("status is not ok (2.F.7)");
    }
    // C1: an unusable body; a lock taken in the same turn after the call
    // (by the user, or by a first compileStreaming call) is in place before
    // the reaction runs.
    if scenario.body_state != BodyState::Fresh {
        return type_error("body is unusable (C1)");
    }
    let outcome = match (fetched, scenario.body) {
        (Some(response), _) => match response.body {
            FetchedBody::Bytes => compile(whole(module)),
            FetchedBody::Null => compile(whole(&[])),
            // Consume body never finishes.
            FetchedBody::Stalls => Outcome::Pending,
            // C7: fetch errors the body stream with a TypeError of its own.
            FetchedBody::NetworkError => type_error("the body's network stream failed (C7)"),
            // C7: an abort errors the body stream with the abort reason.
            FetchedBody::Aborted => Outcome::PassedThrough,
        },
        // C2: a null body is an empty byte sequence.
        (None, BodyShape::Null | BodyShape::EmptyString) => compile(whole(&[])),
        // Multipart bytes are never a module.
        (None, BodyShape::FormData) => compile(whole(b"--multipart--")),
        (None, BodyShape::String) => {
            let text = scenario.text.as_deref().unwrap_or("");
            compile(whole(text.as_bytes()))
        }
        (None, BodyShape::Buffer | BodyShape::Blob) => compile(whole(module)),
        (None, BodyShape::Stream) => read_stream(scenario, module, plan, compile),
    };
    match (outcome, &options) {
        (Outcome::Module { fingerprint }, Some(options)) => {
            compiled_with_options(fingerprint, compiled_bytes(scenario, module), options)
        }
        (outcome, _) => outcome,
    }
}

/// The bytes a body that compiled held: the module, or a string body's
/// text.
fn compiled_bytes<'a>(scenario: &'a Scenario, module: &'a [u8]) -> &'a [u8] {
    match (&scenario.fetch, scenario.body) {
        (None, BodyShape::String) => scenario.text.as_deref().unwrap_or("").as_bytes(),
        _ => module,
    }
}

/// "Asynchronously compile" with options, after the bytes compiled:
/// validating builtins and imported strings fails the compile, and the
/// module object hides the imports the options provide from
/// `Module.imports()`.
pub(crate) fn compiled_with_options(
    mut fingerprint: crate::outcome::Fingerprint,
    bytes: &[u8],
    options: &OptionsDictionary,
) -> Outcome {
    match validate_builtins(bytes, options) {
        Validated::Valid => {
            let with = CompiledWith::from(Some(options));
            fingerprint
                .imports
                .retain(|import| !with.hides(&import.module, &import.name));
            Outcome::Module { fingerprint }
        }
        Validated::Invalid(message) => Outcome::CompileError { message },
        Validated::Undecidable(why) => Outcome::OtherError {
            name: "ReferenceModel".into(),
            message: why,
        },
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

/// The Content-Type of a constructed Response (see [`get_content_type`]).
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
    get_content_type(&headers)
}

/// The Content-Type value Fetch's header list `get` returns: all values of
/// the name, case-insensitively, joined with ", "; `None` when absent.
fn get_content_type(headers: &[(String, String)]) -> Option<String> {
    let values: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.as_str())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// `fetch()` rejected: a network error, or an abort before the response.
struct FetchRejects;

/// The Response a `fetch()` resolves with, as far as the algorithm sees it.
struct FetchedResponse {
    headers: Vec<(String, String)>,
    status: u16,
    body: FetchedBody,
}

enum FetchedBody {
    /// The module bytes, whole (decoded, if the server encoded them).
    Bytes,
    Null,
    Stalls,
    NetworkError,
    Aborted,
}

/// Fetch, as a document on the server's first origin sees it.
fn fetch(scenario: &Scenario, request: &FetchRequest) -> Result<FetchedResponse, FetchRejects> {
    // "abort a fetch() call" before the response exists rejects the fetch
    // promise with the signal's abort reason.
    if matches!(request.abort, Some(AbortAt::BeforeCall | AbortAt::SameTurn)) {
        return Err(FetchRejects);
    }
    let basic = |headers: Vec<(String, String)>| FetchedResponse {
        headers,
        status: 200,
        body: FetchedBody::Bytes,
    };
    match request.url {
        // Scheme fetch: the data: URL's MIME type, parsed and serialized.
        FetchUrl::Data => {
            let media_type = request.media_type.as_deref().unwrap_or("");
            return Ok(basic(vec![(
                "Content-Type".into(),
                data_url_content_type(media_type),
            )]));
        }
        // Scheme fetch: a blob: URL's Content-Type is the Blob's type, even
        // when that is empty (an empty header, not a missing one).
        FetchUrl::Blob => {
            let media_type = request.media_type.as_deref().unwrap_or("");
            return Ok(basic(vec![("Content-Type".into(), blob_type(media_type))]));
        }
        FetchUrl::SameOrigin | FetchUrl::CrossOrigin => {}
    }
    let mut cross_origin = request.url == FetchUrl::CrossOrigin;
    if let Some(from) = request.redirected_from {
        cross_origin |= from == FetchUrl::CrossOrigin;
        match request.redirect {
            RedirectMode::Error => return Err(FetchRejects),
            // An opaque-redirect filtered response: status 0, no headers.
            RedirectMode::Manual => {
                return Ok(FetchedResponse {
                    headers: vec![],
                    status: 0,
                    body: FetchedBody::Null,
                })
            }
            RedirectMode::Follow => {}
        }
    }
    let mut headers: Vec<(String, String)> = scenario
        .headers
        .iter()
        .map(|(n, v)| (n.clone(), normalize(v)))
        .collect();
    if cross_origin {
        match request.mode {
            RequestMode::SameOrigin => return Err(FetchRejects),
            // An opaque filtered response: status 0, no headers, null body.
            RequestMode::NoCors => {
                return Ok(FetchedResponse {
                    headers: vec![],
                    status: 0,
                    body: FetchedBody::Null,
                })
            }
            RequestMode::Cors => {
                let allowed = headers.iter().any(|(n, v)| {
                    n.eq_ignore_ascii_case("access-control-allow-origin") && v == "*"
                });
                if !allowed {
                    return Err(FetchRejects);
                }
                // A CORS filtered response keeps the safelisted names,
                // Content-Type among them.
                headers.retain(|(n, _)| is_cors_safelisted_response_header(n));
            }
        }
    }
    let null_body_status = matches!(scenario.status, 101 | 103 | 204 | 205 | 304);
    let body = match (request.served, request.abort) {
        _ if null_body_status => FetchedBody::Null,
        (Served::Stall, Some(AbortAt::MidBody)) => FetchedBody::Aborted,
        (Served::Stall, _) => FetchedBody::Stalls,
        (Served::Reset, _) => FetchedBody::NetworkError,
        (Served::Complete | Served::Gzip, _) => FetchedBody::Bytes,
    };
    Ok(FetchedResponse {
        headers,
        status: scenario.status,
        body,
    })
}

fn is_cors_safelisted_response_header(name: &str) -> bool {
    [
        "cache-control",
        "content-language",
        "content-length",
        "content-type",
        "expires",
        "last-modified",
        "pragma",
    ]
    .iter()
    .any(|safe| name.eq_ignore_ascii_case(safe))
}

/// The Content-Type a `data:` URL fetch gives for the media type written in
/// the URL (`data:<media_type>;base64,...`): Fetch's data: URL processor
/// parses it as a MIME type and serializes it, falling back to
/// `text/plain;charset=US-ASCII`.
pub fn data_url_content_type(media_type: &str) -> String {
    const FALLBACK: &str = "text/plain;charset=US-ASCII";
    let trimmed = media_type.trim_matches(|c: char| c.is_ascii_whitespace());
    let written = if trimmed.starts_with(';') {
        format!("text/plain{trimmed}")
    } else {
        trimmed.to_string()
    };
    parse_and_serialize_mime(&written).unwrap_or_else(|| FALLBACK.to_string())
}

/// MIME Sniffing's "parse a MIME type" then "serialize", for tokens and
/// quoted-string-free parameter values (what data: URLs in our cases use).
fn parse_and_serialize_mime(input: &str) -> Option<String> {
    let is_token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    let http_ws = |c: char| matches!(c, '\t' | '\n' | '\r' | ' ');
    let input = input.trim_matches(http_ws);
    let (essence, params) = input.split_once(';').unwrap_or((input, ""));
    let (kind, subtype) = essence.split_once('/')?;
    let subtype = subtype.trim_end_matches(http_ws);
    if !is_token(kind) || !is_token(subtype) {
        return None;
    }
    let mut out = format!(
        "{}/{}",
        kind.to_ascii_lowercase(),
        subtype.to_ascii_lowercase()
    );
    let mut seen = Vec::new();
    for param in params.split(';') {
        let param = param.trim_start_matches(http_ws);
        // A parameter without `=`, or with an invalid name or value, is
        // skipped; the first of a repeated name wins.
        let Some((name, value)) = param.split_once('=') else {
            continue;
        };
        let name = name.to_ascii_lowercase();
        let value = value.trim_end_matches(http_ws);
        if !is_token(&name) || value.is_empty() || seen.contains(&name) {
            continue;
        }
        out.push_str(&format!(";{name}={value}"));
        seen.push(name);
    }
    Some(out)
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
    use crate::features::Features;
    use crate::outcome::OutcomeClass;
    use crate::scenario::{ChunkType, JsValue};

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

    #[test]
    fn data_urls_serialize_their_media_type() {
        assert_eq!(
            data_url_content_type("APPLICATION/WASM"),
            "application/wasm"
        );
        assert_eq!(
            data_url_content_type("application/wasm;X=Y"),
            "application/wasm;x=Y"
        );
        assert_eq!(
            data_url_content_type("application/wasm;x"),
            "application/wasm"
        );
        assert_eq!(data_url_content_type(""), "text/plain;charset=US-ASCII");
        assert_eq!(data_url_content_type(";charset=x"), "text/plain;charset=x");
        assert_eq!(data_url_content_type("wasm"), "text/plain;charset=US-ASCII");
    }

    #[test]
    fn fetch_decides_origin_redirect_and_abort_before_the_algorithm() {
        let fetched = |fields: &str| {
            let s = scenario(&format!("argument = \"fetch\"\nmodule = \"m\"\n{fields}"));
            run(&s, EMPTY, vec![])
        };
        let acao = "headers = [[\"Content-Type\", \"application/wasm\"], [\"Access-Control-Allow-Origin\", \"*\"]]";
        let cases = [
            ("fetch = { url = \"same-origin\" }", OutcomeClass::Module),
            ("fetch = { url = \"cross-origin\" }", OutcomeClass::PassedThrough),
            (&format!("{acao}\nfetch = {{ url = \"cross-origin\" }}"), OutcomeClass::Module),
            (&format!("{acao}\nfetch = {{ url = \"cross-origin\", mode = \"no-cors\" }}"), OutcomeClass::TypeError),
            ("fetch = { url = \"same-origin\", redirected-from = \"same-origin\" }", OutcomeClass::Module),
            ("fetch = { url = \"same-origin\", redirected-from = \"same-origin\", redirect = \"manual\" }", OutcomeClass::TypeError),
            ("fetch = { url = \"same-origin\", redirected-from = \"cross-origin\" }", OutcomeClass::PassedThrough),
            ("fetch = { url = \"same-origin\", abort = \"same-turn\" }", OutcomeClass::PassedThrough),
            ("fetch = { url = \"same-origin\", served = \"stall\", served-bytes = 3 }", OutcomeClass::Pending),
            ("fetch = { url = \"same-origin\", served = \"stall\", served-bytes = 3, abort = \"mid-body\" }", OutcomeClass::PassedThrough),
            ("fetch = { url = \"same-origin\", served = \"reset\", served-bytes = 3 }", OutcomeClass::TypeError),
            ("status = 204\nfetch = { url = \"same-origin\" }", OutcomeClass::CompileError),
            ("status = 600\nfetch = { url = \"same-origin\" }", OutcomeClass::TypeError),
            ("fetch = { url = \"blob\", media-type = \"\" }", OutcomeClass::TypeError),
            ("fetch = { url = \"data\", media-type = \"Application/Wasm\" }", OutcomeClass::Module),
        ];
        for (fields, expected) in cases {
            assert_eq!(fetched(fields), expected, "{fields}");
        }
    }
}
