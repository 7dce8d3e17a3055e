//! Web API case files: `.toml` lists of `[[case]]` scenarios (fields in
//! `scenario.rs`), and the module tables their `module` names come from.
//! Read by the directory loader for the built-in `suites/webapi/` and for
//! any `--suite DIR` alike.
//!
//! A case's module is resolved to bytes here, so backends see bytes only:
//! a name is looked up in the suite's module table, then in the built-in
//! one (`suites/webapi/modules.toml`); `{ hex }`, `{ file }` (relative to
//! the case file; `.wat`/`.wast` text is compiled) and `{ wat }` carry
//! the module themselves.
//!
//! A bad case costs that case: it is an error naming the file and the line
//! of the problem, and the file's other cases still load.

use super::tree::{join, EmbeddedTree, FileTree, ReadBounds};
use super::{Limits, LoadedSuite};
use crate::case::{
    Case, CaseOrigin, ImportObject, NotApplicable, StreamingFunction, INSTANTIATE_SUFFIX,
};
use crate::error::{line_of_offset, Error};
use crate::features::Features;
use crate::imports::{DeclaredImports, ImportObjects, ImportValue, NamedValue};
use crate::outcome::OutcomeClass;
use crate::scenario::{
    AbortAt, Argument, BodyShape, BodyState, FetchRequest, ModuleRef, OptionsDictionary, Scenario,
    ScenarioFunctions, Served, StreamEnd, STEPS,
};
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// name → module bytes.
pub type ModuleBytes = BTreeMap<String, Arc<[u8]>>;

/// The modules a suite's cases can name: its own table, then the built-in.
#[derive(Default)]
pub struct Modules {
    pub suite: ModuleBytes,
    pub builtin: ModuleBytes,
}

impl Modules {
    fn get(&self, name: &str) -> Option<&Arc<[u8]>> {
        self.suite.get(name).or_else(|| self.builtin.get(name))
    }

    fn names(&self) -> String {
        let mut names: Vec<&str> = self.suite.keys().map(String::as_str).collect();
        names.extend(
            self.builtin
                .keys()
                .map(String::as_str)
                .filter(|n| !self.suite.contains_key(*n)),
        );
        names.join(", ")
    }
}

/// The table of the built-in Web API suite, which every suite can name
/// modules from. Parsed once.
pub fn builtin_modules() -> &'static ModuleBytes {
    static TABLE: OnceLock<ModuleBytes> = OnceLock::new();
    TABLE.get_or_init(|| {
        let tree = EmbeddedTree::builtin("webapi");
        let text = tree
            .read(MODULES_FILE, ReadBounds::CASE_FILE)
            .unwrap_or_default();
        let text = String::from_utf8(text).unwrap_or_default();
        // The built-in suite reports its own table's errors when it loads.
        parse_module_file(&text, &tree, MODULES_FILE, &Limits::default()).0
    })
}

/// The default name of a suite's module table.
pub const MODULES_FILE: &str = "modules.toml";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModulesFile {
    modules: BTreeMap<String, ModuleRef>,
}

/// A module table file (`[modules]` with name = hex, or any module form).
pub fn parse_module_file(
    text: &str,
    tree: &dyn FileTree,
    relative: &str,
    limits: &Limits,
) -> (ModuleBytes, Vec<Error>) {
    let path = tree.display(relative);
    match toml::from_str::<ModulesFile>(text) {
        Ok(file) => module_table(file.modules, text, tree, relative, limits),
        Err(e) => (
            ModuleBytes::new(),
            vec![Error::toml_parse(
                &path,
                text,
                &e,
                "`[modules]` with name = \"hex bytes\" or { file = \"...\" }",
            )],
        ),
    }
}

/// Resolves a table's entries (read from `relative`, whose `text` gives
/// lines); a bad entry costs that entry. A plain string is hex here.
pub fn module_table(
    entries: BTreeMap<String, ModuleRef>,
    text: &str,
    tree: &dyn FileTree,
    relative: &str,
    limits: &Limits,
) -> (ModuleBytes, Vec<Error>) {
    let (mut modules, mut errors) = (ModuleBytes::new(), Vec::new());
    for (name, module) in entries {
        let module = match module {
            ModuleRef::Named(hex) => ModuleRef::Hex(hex),
            other => other,
        };
        match module_bytes(&module, tree, relative, None, limits) {
            Ok(bytes) => {
                modules.insert(name, bytes);
            }
            Err(message) => errors.push(Error::InvalidToml {
                file: tree.display(relative),
                line: line_of_key(text, &name),
                message: format!("module {name:?}: {message}"),
            }),
        }
    }
    (modules, errors)
}

/// The line on which `key = ...` is written (1 if it cannot be found).
fn line_of_key(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            let rest = l
                .strip_prefix(key)
                .or_else(|| l.strip_prefix(&format!("\"{key}\"")));
            rest.is_some_and(|r| r.trim_start().starts_with('='))
        })
        .map_or(1, |i| i + 1)
}

/// The bytes of a module written in `file` of `tree`.
fn module_bytes(
    module: &ModuleRef,
    tree: &dyn FileTree,
    file: &str,
    modules: Option<&Modules>,
    limits: &Limits,
) -> Result<Arc<[u8]>, String> {
    match module {
        ModuleRef::Named(name) => {
            let modules = modules.ok_or("a module table entry cannot name another module")?;
            modules.get(name).cloned().ok_or_else(|| {
                format!(
                    "unknown module {name:?}; the module table has {} (or give the bytes: {{ hex = \"...\" }}, {{ file = \"m.wasm\" }}, {{ wat = \"(module)\" }})",
                    modules.names()
                )
            })
        }
        ModuleRef::Hex(hex) => decode_hex(hex)
            .map(Arc::from)
            .ok_or_else(|| "`hex` is not hex bytes (pairs of 0-9, a-f)".to_string()),
        ModuleRef::Wat(text) => {
            wat_to_bytes(text).map_err(|(line, message)| format!("`wat` line {line}: {message}"))
        }
        ModuleRef::File(path) => {
            let relative = join(file, path);
            let is_text = Path::new(path)
                .extension()
                .is_some_and(|e| e == "wat" || e == "wast");
            // Binary modules are read no further than the module limit;
            // text, which encodes smaller, as far as any suite file.
            let bounds = ReadBounds {
                outside_root: limits.files_outside_suite,
                ..if is_text {
                    ReadBounds::CASE_FILE
                } else {
                    ReadBounds {
                        max_bytes: limits.max_module_bytes,
                        limit_name: "--max-module-bytes",
                        outside_root: false,
                    }
                }
            };
            let bytes = tree.read(&relative, bounds).map_err(|e| e.to_string())?;
            if !is_text {
                return Ok(bytes.into());
            }
            let shown = tree.display(&relative).display().to_string();
            let text = String::from_utf8(bytes).map_err(|_| format!("{shown}: not UTF-8"))?;
            wat_to_bytes(&text).map_err(|(line, message)| format!("{shown}:{line}: {message}"))
        }
    }
}

/// Compiles the text of one module (`(module ...)`, or its fields alone).
fn wat_to_bytes(text: &str) -> Result<Arc<[u8]>, (usize, String)> {
    let located = |e: wast::Error| (line_of_offset(text, e.span().offset()), e.message());
    let buffer = wast::parser::ParseBuffer::new(text).map_err(located)?;
    let mut wat = wast::parser::parse::<wast::Wat<'_>>(&buffer).map_err(located)?;
    wat.encode().map(Arc::from).map_err(located)
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

/// Where a case file's cases go.
pub struct CaseFileSource<'a> {
    pub tree: &'a dyn FileTree,
    /// The file's path in the tree.
    pub relative: &'a str,
    /// What every case id of the file starts with (`webapi/stream-end`).
    pub file_id: &'a str,
    pub suite: &'a str,
    pub group: &'a str,
    pub features: Arc<Features>,
    pub modules: &'a Modules,
    /// A case whose module is longer than `max_module_bytes` is an error
    /// naming its line; module files outside the suite are refused unless
    /// `files_outside_suite`.
    pub limits: &'a Limits,
    /// Whether each case is also an `instantiateStreaming` case (see
    /// [`instantiation_expected`]).
    pub instantiate: bool,
}

/// The file as written: each case a table, typed one by one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCaseFile {
    case: Vec<toml::Spanned<toml::Table>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TypedCaseFile {
    #[allow(dead_code)]
    case: Vec<Scenario>,
}

/// Parses one Web API case file. A file that is not TOML, or has no
/// `[[case]]` list, costs the file; a bad case costs that case.
pub fn cases_from_toml(text: &str, source: &CaseFileSource<'_>) -> LoadedSuite {
    let path = source.tree.display(source.relative);
    let at = |offset: usize, message: String| Error::toml_at(&path, text, offset, message);
    let mut loaded = LoadedSuite::default();
    let file: RawCaseFile = match toml::from_str(text) {
        Ok(file) => file,
        Err(e) => {
            loaded.errors.push(Error::toml_parse(
                &path,
                text,
                &e,
                "`[[case]]` tables; fields in harness/core/src/scenario.rs",
            ));
            return loaded;
        }
    };
    let starts: Vec<usize> = file.case.iter().map(|c| c.span().start).collect();
    let mut names = HashSet::new();
    for (i, spanned) in file.case.into_iter().enumerate() {
        let offset = spanned.span().start;
        let end = starts.get(i + 1).copied().unwrap_or(text.len());
        let scenario = match Scenario::deserialize(toml::Value::Table(spanned.into_inner())) {
            Ok(scenario) => scenario,
            Err(e) => {
                loaded.errors.push(case_error(text, offset..end, &e, &at));
                continue;
            }
        };
        let result = module_bytes(
            &scenario.module,
            source.tree,
            source.relative,
            Some(source.modules),
            source.limits,
        )
        .map_err(|m| format!("module {}: {m}", scenario.module))
        .and_then(|bytes| check(&scenario, &bytes).map(|()| bytes));
        let bytes = match result {
            Ok(bytes) if bytes.len() > source.limits.max_module_bytes => {
                loaded.errors.push(Error::ModuleTooLarge {
                    file: path.display().to_string(),
                    line: line_of_offset(text, offset),
                    len: bytes.len(),
                    limit: source.limits.max_module_bytes,
                });
                continue;
            }
            Ok(bytes) => bytes,
            Err(m) => {
                loaded
                    .errors
                    .push(at(offset, format!("case {:?}: {m}", scenario.name)));
                continue;
            }
        };
        if let Some(problem) = name_problem(&scenario.name) {
            loaded.errors.push(at(offset, problem));
            continue;
        }
        if !names.insert(scenario.name.clone()) {
            loaded.errors.push(at(
                offset,
                format!("case name {:?} is used twice", scenario.name),
            ));
            continue;
        }
        let instantiates = scenario.function == ScenarioFunctions::Instantiate;
        // A case that calls instantiateStreaming itself has no twin.
        let twins = source.instantiate || scenario.function == ScenarioFunctions::Both;
        let twin = (twins && !instantiates).then(|| {
            let options = scenario.options.as_ref().and_then(|o| o.converted());
            instantiation_expected(scenario.expect, &bytes, &source.features, options.as_ref())
        });
        let (id, imports) = if instantiates {
            let imports = match &scenario.imports {
                Some(value) => ImportObject::Declared(Arc::new(DeclaredImports {
                    value: value.clone(),
                    objects: scenario.import_objects,
                })),
                None => ImportObject::Omitted,
            };
            (
                format!("{}/{}{INSTANTIATE_SUFFIX}", source.file_id, scenario.name),
                imports,
            )
        } else {
            (
                format!("{}/{}", source.file_id, scenario.name),
                ImportObject::Omitted,
            )
        };
        let case = Case {
            id,
            suite: source.suite.to_string(),
            group: source.group.to_string(),
            origin: CaseOrigin::WebApi,
            // Shared with the module table and the file's other cases.
            bytes: bytes.into(),
            expected: scenario.expect.into(),
            features: source.features.clone(),
            scenario: Some(Arc::new(scenario)),
            function: if instantiates {
                StreamingFunction::Instantiate
            } else {
                StreamingFunction::Compile
            },
            imports,
        };
        match twin {
            Some(Ok(expected)) => {
                let twin = case.instantiation(expected.into(), ImportObject::Omitted);
                loaded.cases.push(case);
                loaded.cases.push(twin);
            }
            Some(Err(why)) => {
                loaded.not_applicable.push(NotApplicable {
                    id: format!("{}{INSTANTIATE_SUFFIX}", case.id),
                    suite: case.suite.clone(),
                    group: case.group.clone(),
                    reason: format!("instantiateStreaming: {why}"),
                });
                loaded.cases.push(case);
            }
            None => loaded.cases.push(case),
        }
    }
    loaded
}

/// What `instantiateStreaming(source)` (no import object) gives where
/// `compileStreaming(source)` gives `compiled`: every rejection of the
/// compile, and a pending compile, carry over (the same steps run first,
/// and the import object is never read on those paths); a module is then
/// instantiated, and what that gives is the reference model's decision
/// (an instance, a TypeError for a module with imports, a RuntimeError for
/// a trapping one). `Err` when the model cannot decide it.
pub fn instantiation_expected(
    compiled: OutcomeClass,
    bytes: &[u8],
    features: &Features,
    options: Option<&OptionsDictionary>,
) -> Result<OutcomeClass, String> {
    if compiled != OutcomeClass::Module {
        return Ok(compiled);
    }
    crate::instantiation::decide(bytes, features, &ImportObject::Omitted, options)
}

/// Case names end case ids: they must keep them one path segment.
fn name_problem(name: &str) -> Option<String> {
    (name.is_empty() || name.contains('/') || name.chars().any(char::is_whitespace)).then(|| {
        format!(
            "case name {name:?} must be non-empty, without `/` or whitespace (it ends the case id)"
        )
    })
}

/// The error of a case that does not deserialize, at the line of the
/// problem: the file is parsed again with every other case blanked out
/// (newlines kept), so the parser's span points into this case.
fn case_error(
    text: &str,
    region: std::ops::Range<usize>,
    error: &toml::de::Error,
    at: &dyn Fn(usize, String) -> Error,
) -> Error {
    let blanked: String = text
        .char_indices()
        .map(|(i, c)| {
            if region.contains(&i) || c == '\n' {
                c
            } else {
                ' '
            }
        })
        .collect();
    if text[region.clone()].starts_with("[[") {
        if let Err(e) = toml::from_str::<TypedCaseFile>(&blanked) {
            if let Some(span) = e.span() {
                return at(span.start, e.message().trim().to_string());
            }
        }
    }
    at(region.start, error.message().trim().to_string())
}

/// Rules a case must follow to describe something JS can build.
fn check(s: &Scenario, module: &[u8]) -> Result<(), String> {
    if s.function != ScenarioFunctions::Instantiate {
        if s.imports.is_some() || s.reads.is_some() || s.import_objects != ImportObjects::default()
        {
            return Err("`imports`, `import-objects` and `reads` need `function = \"instantiate\"` (compileStreaming has no import object, and a `both` case's twin passes none)".into());
        }
    } else if s.reads.is_some() && s.imports.is_none() {
        return Err("`reads` needs a declared `imports` object to read".into());
    } else if s.reads.is_some() && s.body_state == BodyState::CalledTwice {
        return Err("`reads` with `body-state = \"called-twice\"`: the first call reads the import object too, so the log would not be this call's".into());
    }
    if let Some(ImportValue::Named(NamedValue::ThrowingGetter)) = &s.imports {
        return Err("`imports = \"throwing-getter\"`: a getter belongs to an object's property; the import object itself cannot be one".into());
    }
    if !STEPS.contains(&s.step.as_str()) {
        return Err(format!(
            "unknown step {:?}; expected one of {}",
            s.step,
            STEPS.join(", ")
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
        return check_fetch(s, request, module);
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

    fn modules() -> Modules {
        Modules {
            suite: BTreeMap::from([("empty".to_string(), Arc::from(b"\0asm\x01\0\0\0".to_vec()))]),
            builtin: ModuleBytes::new(),
        }
    }

    /// Parses `text` as `w.toml` at the root of an (empty) on-disk tree.
    fn parse(text: &str) -> LoadedSuite {
        parse_within(text, crate::suites::DEFAULT_MAX_MODULE_BYTES)
    }

    fn parse_within(text: &str, max_module_bytes: usize) -> LoadedSuite {
        parse_with(text, max_module_bytes, false)
    }

    fn parse_with(text: &str, max_module_bytes: usize, instantiate: bool) -> LoadedSuite {
        let tree = super::super::tree::DiskTree {
            root: std::path::PathBuf::from("no-such-dir"),
        };
        let modules = modules();
        let limits = Limits {
            max_module_bytes,
            ..Limits::default()
        };
        cases_from_toml(
            text,
            &CaseFileSource {
                tree: &tree,
                relative: "w.toml",
                file_id: "s/w",
                suite: "s",
                group: "w",
                features: Arc::new(Features::baseline()),
                modules: &modules,
                limits: &limits,
                instantiate,
            },
        )
    }

    #[test]
    fn an_instantiating_suite_runs_each_scenario_through_instantiate_streaming_too() {
        // A module without imports, one with an import, a rejected source.
        let text = "[[case]]\nname = \"plain\"\nstep = \"2.R\"\nexpect = \"module\"\nmodule = { hex = \"0061736d 01000000\" }\n\n\
[[case]]\nname = \"imports\"\nstep = \"2.R\"\nexpect = \"module\"\nmodule = { hex = \"0061736d 01000000 010401600000 020701016d0166 0000\" }\n\n\
[[case]]\nname = \"rejected\"\nstep = \"2.R\"\nargument = \"rejected\"\nreason = \"object\"\nexpect = \"passed-through\"\n";
        let loaded = parse_with(text, crate::suites::DEFAULT_MAX_MODULE_BYTES, true);
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        let got: Vec<(&str, OutcomeClass)> = loaded
            .cases
            .iter()
            .map(|c| (c.id.as_str(), c.expected()))
            .collect();
        use OutcomeClass::*;
        assert_eq!(
            got,
            [
                ("s/w/plain", Module),
                ("s/w/plain@instantiate", Instance),
                // Compiled, then no import object for its import.
                ("s/w/imports", Module),
                ("s/w/imports@instantiate", TypeError),
                ("s/w/rejected", PassedThrough),
                ("s/w/rejected@instantiate", PassedThrough),
            ]
        );
        let twin = &loaded.cases[1];
        assert!(Arc::ptr_eq(
            twin.scenario.as_ref().unwrap(),
            loaded.cases[0].scenario.as_ref().unwrap()
        ));
        assert_eq!(crate::suites::file_of_case_id(&twin.id), Some("s/w"));
        assert_eq!(parse(text).cases.len(), 3, "no twins unless asked");
    }

    #[test]
    fn a_module_over_the_limit_costs_its_case_and_cases_share_a_named_module() {
        let text = "[[case]]\nname = \"a\"\nstep = \"2.R\"\nexpect = \"module\"\nmodule = \"empty\"\n\n[[case]]\nname = \"big\"\nstep = \"2.R\"\nexpect = \"module\"\nmodule = { hex = \"0061736d0100000000020000\" }\n\n[[case]]\nname = \"b\"\nstep = \"2.R\"\nexpect = \"module\"\nmodule = \"empty\"\n";
        let loaded = parse_within(text, 8);
        let ids: Vec<&str> = loaded.cases.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["s/w/a", "s/w/b"]);
        let errors: Vec<String> = loaded.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            errors,
            ["no-such-dir/w.toml:7: the module is 12 bytes, over the limit of 8 (--max-module-bytes); its case is not run"]
        );
        let [a, b] = &loaded.cases[..] else {
            unreachable!()
        };
        assert_eq!(
            a.bytes.whole_buffer().as_ptr(),
            b.bytes.whole_buffer().as_ptr(),
            "two cases naming one module hold one copy of it"
        );
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
            ("[[case]]\nname = \"a\"\nstep = \"I.1\"\nfunction = \"instantiate\"\nimports = \"throwing-getter\"\nexpect = \"instance\"\n", 1, "cannot be one"),
            ("[[case]]\nname = \"a\"\nstep = \"I.1\"\nfunction = \"instantiate\"\nimports = { m = { mem = \"memory:2:1\" } }\nexpect = \"instance\"\n", 5, "below the initial"),
            ("[[case]]\nname = \"a\"\nstep = \"I.1\"\nfunction = \"instantiate\"\nimports = { m = { mem = \"memory:65537\" } }\nexpect = \"instance\"\n", 5, "more than 65536"),
            ("[[case]]\nname = \"a\"\nstep = \"I.1\"\nfunction = \"instantiate\"\nimports = { m = { t = \"table:10000001\" } }\nexpect = \"instance\"\n", 5, "more than 10000000"),
            ("[[case]]\nname = \"a\"\nstep = \"C1\"\nfunction = \"instantiate\"\nbody-state = \"called-twice\"\nimports = {}\nreads = []\nexpect = \"type-error\"\n", 1, "the first call reads"),
            ("[[case]]\nname = \"a\"\nstep = \"2.F.9\"\noptions = { builtins = [\"js-string\"], colour = 1 }\nexpect = \"module\"\n", 4, "unknown field `colour`"),
            ("[[case]]\nname = \"a\"\nstep = \"2.F.9\"\noptions = \"lots\"\nexpect = \"module\"\n", 4, "unknown variant `lots`"),
        ];
        for (text, line, needle) in cases {
            let loaded = parse(text);
            assert_eq!(loaded.errors.len(), 1, "{text}: {:?}", loaded.errors);
            let err = loaded.errors[0].to_string();
            assert!(
                err.starts_with(&format!("no-such-dir/w.toml:{line}:")),
                "{err}"
            );
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn a_bad_case_costs_itself_only() {
        let text = "[[case]]\nname = \"good\"\nstep = \"2.R\"\nexpect = \"module\"\n\n[[case]]\nname = \"bad\"\nstep = \"2.R\"\nexpect = \"nonsense\"\n\n[[case]]\nname = \"also-good\"\nstep = \"2.R\"\nmodule = { hex = \"0061736d 01000000\" }\nexpect = \"module\"\n[case.fetch]\nurl = \"same-origin\"\n";
        let loaded = parse(text);
        let ids: Vec<&str> = loaded.cases.iter().map(|c| c.id.as_str()).collect();
        // The third case's fetch table without argument = "fetch" is a rule error.
        assert_eq!(ids, ["s/w/good"]);
        assert_eq!(loaded.errors.len(), 2, "{:?}", loaded.errors);
        let first = loaded.errors[0].to_string();
        assert!(first.starts_with("no-such-dir/w.toml:9:"), "{first}");
        assert!(first.contains("nonsense"), "{first}");
        let second = loaded.errors[1].to_string();
        assert!(second.starts_with("no-such-dir/w.toml:11:"), "{second}");
    }

    #[test]
    fn modules_can_be_hex_wat_or_missing_files() {
        let text = "[[case]]\nname = \"h\"\nstep = \"2.R\"\nmodule = { hex = \"0061736d01000000\" }\nexpect = \"module\"\n\n[[case]]\nname = \"w\"\nstep = \"2.R\"\nmodule = { wat = \"(module (func))\" }\nexpect = \"module\"\n\n[[case]]\nname = \"f\"\nstep = \"2.R\"\nmodule = { file = \"m.wasm\" }\nexpect = \"module\"\n\n[[case]]\nname = \"x\"\nstep = \"2.R\"\nmodule = { wat = \"(module (func (result i32)))\" }\nexpect = \"module\"\n\n[[case]]\nname = \"y\"\nstep = \"2.R\"\nmodule = { wat = \"(module\" }\nexpect = \"module\"\n\n[[case]]\nname = \"z\"\nstep = \"2.R\"\nmodule = { hex = \"0g\" }\nexpect = \"module\"\n\n[[case]]\nname = \"n\"\nstep = \"2.R\"\nmodule = \"nope\"\nexpect = \"module\"\n";
        let loaded = parse(text);
        let ids: Vec<&str> = loaded.cases.iter().map(|c| c.id.as_str()).collect();
        // An invalid module is still bytes: the case says what it expects.
        assert_eq!(ids, ["s/w/h", "s/w/w", "s/w/x"]);
        assert_eq!(&*loaded.cases[0].bytes, b"\0asm\x01\0\0\0");
        assert!(loaded.cases[1].bytes.len() > 8);
        let errors: Vec<String> = loaded.errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(
            errors[0].starts_with("no-such-dir/w.toml:13:")
                && errors[0].contains("no-such-dir/m.wasm"),
            "{errors:?}"
        );
        assert!(errors[1].contains("`wat` line 1"), "{errors:?}");
        assert!(errors[2].contains("not hex"), "{errors:?}");
        assert!(
            errors[3].contains("unknown module \"nope\"") && errors[3].contains("empty"),
            "{errors:?}"
        );
    }

    #[test]
    fn the_builtin_suite_loads_with_ids_per_file() {
        let loaded = super::super::load(&super::super::SuiteSpec::WebApi);
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        assert!(loaded.cases.len() >= 150, "{} cases", loaded.cases.len());
        assert!(loaded
            .cases
            .iter()
            .all(|c| c.id.starts_with(&format!("webapi/{}/", c.group))));
    }
}
