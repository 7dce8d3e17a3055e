//! Standalone reproducers: a minimized failure written out as the `.wasm`,
//! a short `.mjs` (and `.html` for browsers) that feeds exactly those chunks
//! to `WebAssembly.compileStreaming` (or `instantiateStreaming`, for an
//! instantiation case) and prints expected vs actual. An engine developer
//! runs it without streamconform.
//!
//! The scripts judge by the same two oracles as the harness: *spec* (the
//! streamed outcome's class is the one the spec requires) and *invariance*
//! (it equals the same engine's one-shot `new WebAssembly.Module(bytes)`,
//! or `WebAssembly.instantiate(bytes)`: same class, and for a module the
//! same imports, exports and custom section names, for an instance also
//! what its exports show). They exit 1 (the page says "REPRODUCED") when
//! either fails, 0 otherwise.

use base64::Engine as _;
use std::path::{Path, PathBuf};
use streamconform::case::{Case, ImportObject, StreamingFunction};
use streamconform::error::Error;
use streamconform::escape::script_json;
use streamconform::outcome::{Outcome, OutcomeClass};
use streamconform::output;
use streamconform::verdict::Oracle;

/// What a reproducer replays and records.
#[derive(Clone, Debug)]
pub struct Reproducer<'a> {
    pub case: &'a Case,
    /// The backend the failure was seen on.
    pub backend: String,
    /// The cut list (sorted; a repeated cut is an empty chunk).
    pub cuts: Vec<usize>,
    /// What the backend did under `cuts`, and the oracles that failed.
    pub actual: Outcome,
    pub failed: Vec<Oracle>,
    /// The streamconform command that replays it.
    pub replay: String,
}

/// The files written for one reproducer.
#[derive(Clone, Debug)]
pub struct Exported {
    pub wasm: PathBuf,
    pub mjs: PathBuf,
    pub html: PathBuf,
    pub readme: PathBuf,
}

/// A file-name stem for a case id: letters, digits, `-`, `_` and `.` kept,
/// runs of anything else one `-`.
pub fn file_stem(case_id: &str) -> String {
    let mut stem = String::new();
    for c in case_id.chars() {
        if c.is_ascii_alphanumeric() || "-_.".contains(c) {
            stem.push(c);
        } else if !stem.ends_with('-') {
            stem.push('-');
        }
    }
    let stem = stem.trim_matches(|c| c == '-' || c == '.').to_string();
    if stem.is_empty() {
        "case".into()
    } else {
        stem
    }
}

/// Writes `<stem>.wasm`, `<stem>.mjs`, `<stem>.html` and `README.txt` into
/// `dir` (created if missing). Web API cases are refused: their scenario
/// (headers, body shape, pacing) is more than a chunk list.
pub fn export(dir: &Path, repro: &Reproducer<'_>) -> Result<Exported, Error> {
    let case = repro.case;
    if case.scenario.is_some() {
        return Err(Error::CannotExport {
            case: case.id.clone(),
            message: "Web API cases (scenarios) cannot be exported yet: only byte-level cases, whose body is a plain chunked stream".into(),
        });
    }
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let stem = file_stem(&case.id);
    let files = Exported {
        wasm: dir.join(format!("{stem}.wasm")),
        mjs: dir.join(format!("{stem}.mjs")),
        html: dir.join(format!("{stem}.html")),
        readme: dir.join("README.txt"),
    };
    let settings = settings(repro);
    let judge = judge();
    output::write(&files.wasm, &case.bytes[..])?;
    let mjs = format!(
        "// streamconform reproducer: {id} on {backend}.\n\
         // Run with `node {stem}.mjs` (or `deno run --allow-read {stem}.mjs`, `bun {stem}.mjs`);\n\
         // needs {stem}.wasm beside it. Exit 1: the failure reproduces.\n\
         import {{ readFileSync }} from \"node:fs\";\n\
         import process from \"node:process\";\n\n\
         {settings}\
         const bytes = new Uint8Array(readFileSync(new URL(\"./{stem}.wasm\", import.meta.url)));\n\n\
         {judge}\n\
         process.exitCode = (await reproduce(bytes, console.log)) ? 1 : 0;\n",
        id = one_line(&case.id),
        backend = one_line(&repro.backend),
    );
    output::write(&files.mjs, mjs)?;
    let html = format!(
        "<!doctype html>\n<meta charset=\"utf-8\">\n<title>streamconform reproducer: {id}</title>\n\
         <p>streamconform reproducer: <code>{id}</code> on {backend}. The module's bytes are \
         embedded below; the result is printed here and to the console.</p>\n\
         <pre id=\"out\"></pre>\n<script type=\"module\">\n\
         {settings}\
         const bytes = Uint8Array.from(atob({base64}), (c) => c.charCodeAt(0));\n\n\
         {judge}\n\
         const out = document.getElementById(\"out\");\n\
         const log = (line) => {{ console.log(line); out.textContent += line + \"\\n\"; }};\n\
         reproduce(bytes, log).catch((e) => log(`error: ${{e}}`));\n\
         </script>\n",
        id = html_escape(&case.id),
        backend = html_escape(&repro.backend),
        // Base64 needs no escaping; it goes the way of every datum anyway.
        base64 = script_json(&base64::engine::general_purpose::STANDARD.encode(&case.bytes[..]))
            .expect("a string serializes"),
    );
    output::write(&files.html, html)?;
    let readme = format!(
        "streamconform reproducer\n\n\
         case:     {id}\n\
         backend:  {backend}\n\
         chunks:   {chunks} (cuts {cuts})\n\
         expected: {expected} (the spec)\n\
         actual:   {actual} (failing {failed})\n\n\
         Standalone (no npm packages):\n  node {stem}.mjs\n  deno run --allow-read {stem}.mjs\n  bun {stem}.mjs\n\
         In a browser: open {stem}.html (the module is embedded; see the page or the console).\n\
         Each feeds {stem}.wasm to WebAssembly.{streaming} in exactly these chunks and\n\
         compares the outcome with the spec's and with {one_shot};\n\
         exit code 1 (\"REPRODUCED\") when either differs.\n\n\
         Replay in streamconform:\n  {replay}\n",
        id = one_line(&case.id),
        backend = one_line(&repro.backend),
        chunks = repro.cuts.len() + 1,
        cuts = if repro.cuts.is_empty() {
            "none".to_string()
        } else {
            streamconform::plan::format_cuts(&repro.cuts)
        },
        expected = case.expected(),
        actual = one_line(&repro.actual.to_string()),
        failed = repro
            .failed
            .iter()
            .map(Oracle::to_string)
            .collect::<Vec<_>>()
            .join("+"),
        replay = repro.replay,
        streaming = case.function.js_name(),
        one_shot = match case.function {
            StreamingFunction::Compile => "new WebAssembly.Module(bytes)",
            StreamingFunction::Instantiate => "WebAssembly.instantiate(bytes, importObject)",
        },
    );
    output::write(&files.readme, readme)?;
    Ok(files)
}

/// The constants both scripts start with, as JavaScript. Every datum is
/// [`script_json`]: the same text goes into the `.html`'s `<script>`, and
/// an engine's message quotes names from the module (a function named
/// `</script><svg onload=...>` must stay a string).
fn settings(repro: &Reproducer<'_>) -> String {
    let json = |v: &str| script_json(v).expect("a string serializes");
    let failed: Vec<String> = repro.failed.iter().map(Oracle::to_string).collect();
    format!(
        "// What the spec requires of this module (class names as streamconform prints them).\n\
         const expected = {expected};\n\
         // Chunk i is bytes[cuts[i-1]..cuts[i]] (0 before the first cut, the end after the\n\
         // last); a repeated cut is an empty chunk.\n\
         const cuts = {cuts};\n\
         // What streamconform saw, and on which backend.\n\
         const seen = {seen};\n\
         const backend = {backend};\n\
         // The streaming function the case calls: \"compile\" or \"instantiate\".\n\
         const streamingFunction = {function};\n\
         // An instantiation's import object: null for none, or modules (base64), each\n\
         // instantiated in order with the object so far, its exports under its name.\n\
         const importModules = {imports};\n\n",
        expected = json(&class_name(repro.case.expected())),
        cuts = script_json(&repro.cuts).expect("numbers serialize"),
        backend = json(&one_line(&repro.backend)),
        function = json(match repro.case.function {
            StreamingFunction::Compile => "compile",
            StreamingFunction::Instantiate => "instantiate",
        }),
        imports = match &repro.case.imports {
            ImportObject::Instances(modules) => {
                let modules: Vec<serde_json::Value> = modules
                    .iter()
                    .map(|m| {
                        serde_json::json!({
                            "name": m.name,
                            "bytes": base64::engine::general_purpose::STANDARD.encode(&m.bytes),
                        })
                    })
                    .collect();
                script_json(&modules).expect("modules serialize")
            }
            // Declared import objects belong to Web API cases, which
            // `export` refuses.
            ImportObject::Omitted | ImportObject::Declared(_) => "null".into(),
        },
        seen = json(&format!(
            "{} (failing {})",
            one_line(&repro.actual.to_string()),
            failed.join("+")
        )),
    )
}

fn class_name(class: OutcomeClass) -> String {
    class.to_string()
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The judging part ([`JUDGE`] and the driver's own readers of custom
/// section names and instances, so a reproducer reads them exactly as the
/// harness does).
fn judge() -> String {
    let shared = [
        "unknown",
        "customSectionNames",
        "instanceFingerprint",
        "exportShape",
        "decodeBase64",
        "instancesObject",
    ];
    let shared: Vec<&str> = shared.into_iter().map(driver_function).collect();
    format!("{}\n{JUDGE}", shared.join("\n"))
}

/// The text of the top-level `function NAME(...) { ... }` of the driver core
/// (`harness/engines/js/driver-core.mjs`), up to its closing brace at column 0.
fn driver_function(name: &str) -> &'static str {
    let core = crate::js::DRIVER_CORE;
    let start = core
        .find(&format!("\nfunction {name}("))
        .or_else(|| core.find(&format!("\nasync function {name}(")))
        .map(|at| at + 1)
        .unwrap_or_else(|| panic!("the driver core defines no function {name}"));
    let end = start + core[start..].find("\n}\n").expect("a closing brace") + 2;
    &core[start..end]
}

/// The judging part, the same in the `.mjs` and the `.html`: Web-platform
/// APIs only. The stream enqueues every chunk at once, then closes, as the
/// harness's drivers do by default.
const JUDGE: &str = r#"function outcomeOfError(error) {
  if (error instanceof WebAssembly.CompileError) return { class: "CompileError", detail: String(error.message) };
  if (error instanceof WebAssembly.LinkError) return { class: "LinkError", detail: String(error.message) };
  if (error instanceof WebAssembly.RuntimeError) return { class: "RuntimeError", detail: String(error.message) };
  if (error instanceof TypeError) return { class: "TypeError", detail: String(error.message) };
  return { class: "other error", detail: `${error?.name ?? typeof error}: ${error?.message ?? String(error)}` };
}

// What JS observes of a module without instantiating it.
function describeModule(module, bytes) {
  return JSON.stringify({
    imports: WebAssembly.Module.imports(module),
    exports: WebAssembly.Module.exports(module),
    custom_sections: customSectionNames(bytes).filter((n, i, all) => all.indexOf(n) === i)
      .flatMap((n) => WebAssembly.Module.customSections(module, n).map(() => n)),
  });
}

// The body closes, so a late compile is slow or hung, never pending (as
// the harness judges): it is waited for, with a word after a while.
const SLOW_MS = 60000;

// What JS observes of an instantiation's result: the module, and what each
// export of the instance shows.
function describeInstance({ module, instance }, bytes) {
  return `${describeModule(module, bytes)} ${JSON.stringify(instanceFingerprint(module, instance))}`;
}

class ImportObjectUnavailable extends Error {}

// A fresh import object per call, as the harness builds them.
const importObject = () => (importModules === null ? Promise.resolve(undefined) : instancesObject(importModules));

const instantiates = streamingFunction === "instantiate";
const streamingName = instantiates ? "instantiateStreaming" : "compileStreaming";
const oneShotName = instantiates ? "WebAssembly.instantiate(bytes, importObject)" : "new WebAssembly.Module(bytes)";
const describe = (result, bytes) => instantiates
  ? { class: "Instance", detail: describeInstance(result, bytes) }
  : { class: "Module", detail: describeModule(result, bytes) };

async function settle(promise, bytes, log) {
  const timer = setTimeout(() => log(`${streamingName} still unsettled after ${SLOW_MS} ms (the body is closed: slow or hung); waiting`), SLOW_MS);
  try {
    return await promise.then((result) => describe(result, bytes), outcomeOfError);
  } finally { clearTimeout(timer); }
}

async function reproduce(bytes, log) {
  const chunks = [];
  let start = 0;
  for (const cut of cuts) { chunks.push(bytes.slice(start, cut)); start = cut; }
  chunks.push(bytes.slice(start));
  const stream = new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
  const response = new Response(stream, { headers: { "content-type": "application/wasm" } });
  const args = instantiates && importModules !== null ? [await importObject()] : [];
  const streamed = await settle(WebAssembly[streamingName](response, ...args), bytes, log);
  let oneShot;
  try {
    oneShot = describe(instantiates ? await WebAssembly.instantiate(bytes, await importObject()) : new WebAssembly.Module(bytes), bytes);
  } catch (error) { oneShot = outcomeOfError(error); }
  const sizes = chunks.length > 12 ? `${chunks.slice(0, 12).map((c) => c.length).join(", ")}, ...` : chunks.map((c) => c.length).join(", ");
  log(`module: ${bytes.length} bytes in ${chunks.length} chunks (sizes ${sizes}; cuts ${JSON.stringify(cuts)})`);
  log(`expected (spec):                 ${expected}`);
  log(`${streamingName}:`.padEnd(33) + `${streamed.class}: ${streamed.detail}`);
  log(`${oneShotName}:`.padEnd(33) + `${oneShot.class}: ${oneShot.detail}`);
  log(`streamconform saw:               ${seen}`);
  log(`on backend:                      ${backend}`);
  const failed = [];
  if (streamed.class !== expected) failed.push("spec");
  if (streamed.class !== oneShot.class || streamed.detail !== oneShot.detail && ["Module", "Instance"].includes(streamed.class)) failed.push("invariance");
  log(failed.length > 0
    ? `REPRODUCED: ${streamingName} fails ${failed.join("+")} (expected ${expected}, got ${streamed.class})`
    : `not reproduced: ${streamingName} agrees with the spec and with ${oneShotName}`);
  return failed.length > 0;
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reproducer_takes_the_drivers_own_custom_section_reader() {
        let text = driver_function("customSectionNames");
        assert!(
            text.starts_with("function customSectionNames(bytes) {"),
            "{text}"
        );
        assert!(
            text.ends_with("\n}") && text.contains("return names;"),
            "{text}"
        );
        assert!(judge().contains(text) && judge().contains("function describeModule"));
    }

    #[test]
    fn engine_messages_and_backend_names_stay_strings_in_the_script() {
        let case = Case {
            id: "t/</script>".into(),
            suite: "t".into(),
            group: "t".into(),
            origin: streamconform::case::CaseOrigin::Directive,
            bytes: b"\0asm\x01\0\0\0".to_vec().into(),
            expected: streamconform::case::Expected::from(OutcomeClass::Module),
            features: std::sync::Arc::new(streamconform::Features::baseline()),
            scenario: None,
            function: Default::default(),
            imports: Default::default(),
        };
        let repro = Reproducer {
            case: &case,
            backend: "command:</script><script>alert(1)</script>".into(),
            cuts: vec![3],
            actual: Outcome::CompileError {
                message:
                    "Compiling function #0:\"</script><svg onload=title=1337>\" failed \u{2028}"
                        .into(),
            },
            failed: vec![Oracle::Spec],
            replay: "streamconform run ...".into(),
        };
        let text = settings(&repro);
        assert!(!text.contains('<') && !text.contains('\u{2028}'), "{text}");
        assert!(
            text.contains(r#"\u003c/script\u003e\u003csvg onload=title=1337\u003e"#),
            "{text}"
        );
    }

    #[test]
    fn file_stems_keep_ids_readable() {
        assert_eq!(
            file_stem("spec/wasm-latest/binary.wast:123"),
            "spec-wasm-latest-binary.wast-123"
        );
        assert_eq!(file_stem("//"), "case");
    }
}
