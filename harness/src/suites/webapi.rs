//! `suites/webapi/`: declarative Web API cases (TOML), compiled into the
//! crate like the streaming suite. `modules.toml` names the module bytes;
//! every other `.toml` file is a list of `[[case]]` scenarios.

use super::LoadedSuite;
use crate::case::{Case, CaseOrigin};
use crate::error::Error;
use crate::features::Features;
use crate::scenario::{
    AbortAt, Argument, BodyShape, BodyState, FetchRequest, Scenario, Served, StreamEnd, STEPS,
};
use include_dir::{include_dir, Dir};
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

static WEBAPI: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../suites/webapi");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModulesFile {
    /// name → module bytes in hex
    modules: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    case: Vec<toml::Spanned<Scenario>>,
}

pub(super) fn load(only_file: Option<&str>) -> LoadedSuite {
    let mut loaded = LoadedSuite::default();
    let modules = match WEBAPI.get_file("modules.toml") {
        Some(file) => {
            match parse_modules(file.contents_utf8().unwrap_or(""), &display("modules.toml")) {
                Ok(m) => m,
                Err(e) => {
                    loaded.errors.push(e);
                    return loaded;
                }
            }
        }
        None => BTreeMap::new(),
    };
    let mut files: Vec<_> = WEBAPI
        .files()
        .filter(|f| {
            f.path().extension().is_some_and(|e| e == "toml")
                && f.path() != Path::new("modules.toml")
        })
        .collect();
    files.sort_by_key(|f| f.path());
    for file in files {
        let stem = file
            .path()
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let file_id = format!("webapi/{stem}");
        if only_file.is_some_and(|only| only != file_id) {
            continue;
        }
        let path = display(&file.path().to_string_lossy());
        match parse_cases(file.contents_utf8().unwrap_or(""), &path, &stem, &modules) {
            Ok(cases) => loaded.cases.extend(cases),
            Err(e) => loaded.errors.push(e),
        }
    }
    loaded
}

fn display(relative: &str) -> PathBuf {
    Path::new("suites/webapi").join(relative)
}

fn parse_modules(text: &str, path: &Path) -> Result<BTreeMap<String, Arc<[u8]>>, Error> {
    let invalid = |offset: usize, message: String| Error::toml_at(path, text, offset, message);
    let file: ModulesFile = toml::from_str(text)
        .map_err(|e| Error::toml_parse(path, text, &e, "`[modules]` with name = \"hex bytes\""))?;
    let mut modules = BTreeMap::new();
    for (name, hex) in file.modules {
        let offset = text.find(&hex).unwrap_or(0);
        let bytes = decode_hex(&hex)
            .ok_or_else(|| invalid(offset, format!("module {name:?} is not hex bytes")))?;
        modules.insert(name, Arc::from(bytes));
    }
    Ok(modules)
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.len() % 2 != 0 {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

fn parse_cases(
    text: &str,
    path: &Path,
    stem: &str,
    modules: &BTreeMap<String, Arc<[u8]>>,
) -> Result<Vec<Case>, Error> {
    let at = |offset: usize, message: String| Error::toml_at(path, text, offset, message);
    let file: CaseFile = toml::from_str(text)
        .map_err(|e| Error::toml_parse(path, text, &e, "`[[case]]` tables; see src/webapi.rs"))?;
    let mut names = HashSet::new();
    let mut cases = Vec::new();
    for spanned in file.case {
        let offset = spanned.span().start;
        let scenario = spanned.into_inner();
        check(&scenario, modules)
            .map_err(|m| at(offset, format!("case {:?}: {m}", scenario.name)))?;
        if !names.insert(scenario.name.clone()) {
            return Err(at(
                offset,
                format!("case name {:?} is used twice", scenario.name),
            ));
        }
        let bytes = modules[&scenario.module].to_vec();
        cases.push(Case {
            id: format!("webapi/{stem}/{}", scenario.name),
            suite: "webapi".into(),
            group: stem.to_string(),
            origin: CaseOrigin::WebApi,
            bytes: bytes.into(),
            expected: scenario.expect.into(),
            features: Arc::new(Features::baseline()),
            scenario: Some(Arc::new(scenario)),
        });
    }
    Ok(cases)
}

/// Rules a case must follow to describe something JS can build.
fn check(s: &Scenario, modules: &BTreeMap<String, Arc<[u8]>>) -> Result<(), String> {
    if !STEPS.contains(&s.step.as_str()) {
        return Err(format!(
            "unknown step {:?}; expected one of {}",
            s.step,
            STEPS.join(", ")
        ));
    }
    if !modules.contains_key(&s.module) {
        return Err(format!(
            "unknown module {:?}; modules.toml has {}",
            s.module,
            modules.keys().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    let needs_value = matches!(s.argument, Argument::Value | Argument::ValueInPromise);
    if needs_value != s.value.is_some() {
        return Err(
            "`value` goes with argument = \"value\" or \"value-in-promise\", and only there".into(),
        );
    }
    if let Some(request) = &s.fetch {
        // The server, not the scenario's stream, decides the body; the
        // rules for constructed Responses do not apply.
        return check_fetch(s, request, &modules[&s.module]);
    }
    if matches!(s.argument, Argument::Fetch | Argument::Fetched) {
        return Err("argument = \"fetch\" or \"fetched\" needs a `fetch` table".into());
    }
    let needs_reason = matches!(s.argument, Argument::Rejected | Argument::ThenableThrows)
        || s.stream_end == StreamEnd::Error;
    if needs_reason != s.reason.is_some() {
        return Err("`reason` goes with a rejection, a throwing thenable, stream-end = \"error\" or an abort, and only there".into());
    }
    if s.argument == Argument::ResponseRedirect && !REDIRECT_STATUSES.contains(&s.status) {
        return Err(format!(
            "Response.redirect() takes a redirect status ({REDIRECT_STATUSES:?}), not {}",
            s.status
        ));
    }
    if s.body != BodyShape::String && s.text.is_some()
        || s.body == BodyShape::String && s.text.is_none()
    {
        return Err("`text` goes with body = \"string\", and only there".into());
    }
    if (s.body == BodyShape::Blob) != s.blob_type.is_some() {
        return Err("`blob-type` goes with body = \"blob\", and only there".into());
    }
    if s.body == BodyShape::FormData
        && !s
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        return Err(
            "a FormData body needs an explicit Content-Type, or it is multipart/form-data".into(),
        );
    }
    if !(200..=599).contains(&s.status) {
        return Err(format!(
            "status {} cannot be constructed (the Response constructor throws a RangeError)",
            s.status
        ));
    }
    if matches!(s.status, 204 | 205 | 304) && s.body != BodyShape::Null {
        return Err(format!(
            "status {} is a null-body status: the Response constructor throws for a body",
            s.status
        ));
    }
    // `new Headers` normalizes values first, and throws on what is left.
    check_headers(&s.headers, true, "`new Headers` would throw")
}

const REDIRECT_STATUSES: [u16; 5] = [301, 302, 303, 307, 308];

/// Rules for a case whose Response comes from `fetch()`.
fn check_fetch(s: &Scenario, request: &FetchRequest, module: &[u8]) -> Result<(), String> {
    if !matches!(s.argument, Argument::Fetch | Argument::Fetched) {
        return Err("a `fetch` table goes with argument = \"fetch\" or \"fetched\"".into());
    }
    let defaults = Scenario::byte_level();
    if s.body != defaults.body
        || s.chunk_type != defaults.chunk_type
        || s.bad_chunk.is_some()
        || s.stream_end != defaults.stream_end
        || s.pacing != defaults.pacing
        || s.after_call.is_some()
        || s.text.is_some()
        || s.blob_type.is_some()
    {
        return Err("a fetched body comes from the server: body, chunk-type, bad-chunk, stream-end, pacing, text, blob-type and after-call (fetch headers are immutable) do not apply".into());
    }
    if s.argument == Argument::Fetch && s.body_state != BodyState::Fresh {
        return Err("body-state needs the Response itself: use argument = \"fetched\"".into());
    }
    if s.argument == Argument::Fetched
        && matches!(request.abort, Some(AbortAt::BeforeCall | AbortAt::SameTurn))
    {
        // Before: fetch rejects before there is a Response to pass. Same
        // turn: whether the body was already complete is a race (WPT's
        // "asynchronously racing" test accepts either outcome).
        return Err("abort = \"before-call\" or \"same-turn\" needs argument = \"fetch\"; with a fetched Response use \"mid-body\"".into());
    }
    if s.reason.is_some() && request.abort.is_none() {
        return Err("`reason` with a fetch is the abort reason: it needs `abort`".into());
    }
    if request.url.is_server() != request.media_type.is_none() {
        return Err("`media-type` goes with url = \"data\" or \"blob\", and only there".into());
    }
    if !request.url.is_server() {
        if request.redirected_from.is_some() || request.served != Served::Complete {
            return Err(
                "redirects and `served` need url = \"same-origin\" or \"cross-origin\"".into(),
            );
        }
        if s.status != 200 || s.headers != defaults.headers {
            return Err("data: and blob: URLs decide their own status and headers".into());
        }
    }
    if request
        .redirected_from
        .is_some_and(|from| !from.is_server())
    {
        return Err("`redirected-from` is \"same-origin\" or \"cross-origin\"".into());
    }
    if !REDIRECT_STATUSES.contains(&request.redirect_status) {
        return Err(format!(
            "redirect-status is one of {REDIRECT_STATUSES:?}, not {}",
            request.redirect_status
        ));
    }
    let partial = matches!(request.served, Served::Stall | Served::Reset);
    // All of the announced Content-Length would be a complete body.
    if partial && request.served_bytes >= module.len() {
        return Err(format!(
            "served-bytes {} must stop short of the {}-byte module",
            request.served_bytes,
            module.len()
        ));
    }
    if !partial && request.served_bytes != 0 {
        return Err("`served-bytes` goes with served = \"stall\" or \"reset\"".into());
    }
    if request.abort == Some(AbortAt::MidBody) && request.served != Served::Stall {
        return Err(
            "abort = \"mid-body\" needs served = \"stall\", so the body is still arriving".into(),
        );
    }
    // HTTP status codes are three digits; 1xx are interim responses.
    if !(200..=999).contains(&s.status) {
        return Err(format!(
            "status {} cannot be served as a final response",
            s.status
        ));
    }
    check_headers(
        &s.headers,
        false,
        "the server cannot send it as a field line",
    )
}

/// Header names must be tokens, and values free of NUL, CR, LF and
/// characters above U+00FF (after normalization, if `normalized`).
fn check_headers(
    headers: &[(String, String)],
    normalized: bool,
    consequence: &str,
) -> Result<(), String> {
    for (name, value) in headers {
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(format!(
                "header name {name:?} is not a token: {consequence}"
            ));
        }
        let checked = if normalized {
            crate::scenario::normalize(value)
        } else {
            value.clone()
        };
        if checked
            .chars()
            .any(|c| matches!(c, '\0' | '\r' | '\n') || c as u32 > 0xff)
        {
            return Err(format!(
                "header value {value:?} cannot be constructed: {consequence}"
            ));
        }
    }
    Ok(())
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modules() -> BTreeMap<String, Arc<[u8]>> {
        BTreeMap::from([("empty".to_string(), Arc::from(b"\0asm\x01\0\0\0".to_vec()))])
    }

    #[test]
    fn errors_name_the_file_line_and_rule() {
        let cases = [
            ("[[case]]\nname = \"a\"\nstep = \"9.9\"\nexpect = \"module\"\n", 1, "unknown step \"9.9\""),
            ("[[case]]\nname = \"a\"\nstep = \"2.R\"\nexpect = \"module\"\ncolour = 1\n", 5, "unknown field `colour`"),
            ("[[case]]\nname = \"a\"\nstep = \"2.R\"\nargument = \"rejected\"\nexpect = \"passed-through\"\n", 1, "`reason` goes with"),
            ("[[case]]\nname = \"a\"\nstep = \"2.F.7\"\nstatus = 100\nexpect = \"type-error\"\n", 1, "RangeError"),
            ("[[case]]\nname = \"a\"\nstep = \"2.F.5\"\nheaders = [[\"Content-Type\", \"a\\u0000b\"]]\nexpect = \"type-error\"\n", 1, "cannot be constructed"),
            ("[[case]]\nname = \"a\"\nstep = \"2.R\"\nargument = \"fetch\"\nexpect = \"module\"\n", 1, "needs a `fetch` table"),
            ("[[case]]\nname = \"a\"\nstep = \"C6\"\nargument = \"fetch\"\nfetch = { url = \"same-origin\", served = \"stall\", served-bytes = 8 }\nexpect = \"pending\"\n", 1, "must stop short of the 8-byte module"),
            ("[[case]]\nname = \"a\"\nstep = \"C7\"\nargument = \"fetch\"\nfetch = { url = \"same-origin\", abort = \"mid-body\" }\nexpect = \"passed-through\"\n", 1, "needs served = \"stall\""),
            ("[[case]]\nname = \"a\"\nstep = \"2.F.5\"\nargument = \"fetch\"\nfetch = { url = \"data\" }\nexpect = \"module\"\n", 1, "`media-type` goes with"),
            ("[[case]]\nname = \"a\"\nstep = \"2.R\"\nargument = \"fetched\"\nfetch = { url = \"same-origin\", abort = \"same-turn\" }\nexpect = \"passed-through\"\n", 1, "needs argument = \"fetch\""),
            ("[[case]]\nname = \"a\"\nstep = \"2.F.5\"\nargument = \"fetch\"\nfetch = { url = \"same-origin\", colour = 1 }\nexpect = \"module\"\n", 5, "unknown field `colour`"),
            (
                "[[case]]\nname = \"a\"\nstep = \"2.R\"\nexpect = \"module\"\n\n[[case]]\nname = \"a\"\nstep = \"2.R\"\nexpect = \"module\"\n",
                6,
                "used twice",
            ),
        ];
        for (text, line, needle) in cases {
            let err = parse_cases(text, Path::new("w.toml"), "w", &modules())
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(&format!("w.toml:{line}:")), "{err}");
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn the_builtin_suite_loads_with_ids_per_file() {
        let loaded = load(None);
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        assert!(loaded.cases.len() >= 150, "{} cases", loaded.cases.len());
        assert!(loaded
            .cases
            .iter()
            .all(|c| c.id.starts_with(&format!("webapi/{}/", c.group))));
    }
}
