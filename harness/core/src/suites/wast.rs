//! From `.wast` text to cases: which directives carry a module, and what the
//! spec expects of compiling it.
//!
//! The mapping, for the module each directive carries:
//! - `module`, `module definition`, and `assert_unlinkable` / `assert_trap` /
//!   `assert_uninstantiable` on a module: compiling must succeed → Module.
//! - `assert_malformed_custom` / `assert_invalid_custom`: a bad *custom*
//!   section is never a module error → Module.
//! - `assert_invalid`, and `assert_malformed` on a binary module → CompileError.
//! - text-only `assert_malformed` (quoted or text modules: the error is in
//!   the text, there are no bytes to stream) and component-model directives
//!   → not applicable, with the reason.
//!
//! In a suite that instantiates ([`WastSource::instantiate`]), each such
//! case also has an `instantiateStreaming` twin (id `…@instantiate`) with
//! what the directive says of instantiating: `module` → an instance,
//! `assert_trap` on a module → RuntimeError, `assert_unlinkable` →
//! LinkError, a compile error stays one. A `module definition` is never
//! instantiated. Until cases carry the script's environment (the
//! `spectest` module and registered instances), a twin is made only where
//! no import object is needed: modules without imports, and modules that
//! do not compile (a compile error wins over everything the import object
//! could do).

use super::spectest;
use super::LoadedSuite;
use crate::case::{Case, CaseOrigin, ImportObject, NamedModule, NotApplicable, INSTANTIATE_SUFFIX};
use crate::error::{line_of_offset, Error};
use crate::features::Features;
use crate::instantiation::decide as decide_instantiation;
use crate::outcome::OutcomeClass;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use wast::core::{Module, ModuleKind};
use wast::parser::{self, ParseBuffer};
use wast::{QuoteWat, Wast, WastDirective, WastExecute, Wat};

/// Where a file's cases go: `file_id` is the repo-relative prefix of every
/// case id (`spec/wasm-latest/binary.wast`), `display_path` what errors name.
pub struct WastSource<'a> {
    pub file_id: &'a str,
    pub display_path: &'a str,
    pub suite: &'a str,
    pub group: &'a str,
    pub features: Arc<Features>,
    /// A longer module is an error naming its line; it costs that case.
    pub max_module_bytes: usize,
    /// Whether module directives are also `instantiateStreaming` cases.
    pub instantiate: bool,
}

/// Parses one `.wast` file into cases. A file that does not lex or parse is
/// an error naming the file and line; it costs this file only.
pub fn cases_from_wast(text: &str, source: &WastSource<'_>) -> Result<LoadedSuite, Error> {
    // Parse only the directives that can carry a module; if that fails,
    // parse the file as written so the error points at the real problem.
    let lean = blank_moduleless_directives(text);
    let mut cases = map_directives(&lean, text, source);
    if cases.is_err() && lean != text {
        cases = map_directives(text, text, source);
    }
    cases
}

fn map_directives(
    parse_text: &str,
    text: &str,
    source: &WastSource<'_>,
) -> Result<LoadedSuite, Error> {
    let malformed = |err: wast::Error| Error::MalformedWast {
        file: source.display_path.to_string(),
        line: line_of_offset(text, err.span().offset()),
        message: err.message(),
    };
    let mut lexer = wast::lexer::Lexer::new(parse_text);
    // The official testsuite deliberately contains such characters in strings.
    lexer.allow_confusing_unicode(true);
    let buffer = ParseBuffer::new_with_lexer(lexer).map_err(malformed)?;
    let wast = parser::parse::<Wast<'_>>(&buffer).map_err(malformed)?;

    let mut mapper = Mapper {
        text,
        source,
        out: LoadedSuite::default(),
        seen_lines: HashMap::new(),
        script: Script {
            blanked: blanked_starts(parse_text, text),
            ..Script::default()
        },
    };
    for directive in wast.directives {
        mapper.directive(directive);
    }
    Ok(mapper.out)
}

struct Mapper<'s, 't> {
    text: &'t str,
    source: &'s WastSource<'s>,
    out: LoadedSuite,
    seen_lines: HashMap<usize, usize>,
    script: Script,
}

/// What the script has set up so far, for the import object of an
/// instantiation case: the modules it defined (what `register` names) and
/// the instances it registered.
#[derive(Default)]
struct Script {
    /// Modules by their `$id`, instantiated (`module`, `module instance`) or
    /// only defined (`module definition`).
    instances: HashMap<String, Defined>,
    definitions: HashMap<String, Defined>,
    /// The last module instantiated: what `register` without an id names.
    last: Option<Defined>,
    /// Registered instances in order; `None` where the mapping cannot tell
    /// which module it was.
    registered: Vec<(String, Option<Defined>)>,
    /// Where directives that use an instance begin (`invoke`,
    /// `assert_return`...): blanked before parsing (see
    /// `blank_moduleless_directives`), or seen by the parser.
    blanked: Vec<usize>,
    used_at: Vec<usize>,
}

/// A module of the script and where its directive begins.
#[derive(Clone)]
struct Defined {
    bytes: Arc<[u8]>,
    at: usize,
}

impl Script {
    /// Whether a directive that uses an instance lies between offsets
    /// `from` and `to`: an instance defined at `from` may then not be what a
    /// fresh one is (its memory or table grown).
    fn used_between(&self, from: usize, to: usize) -> bool {
        [&self.blanked, &self.used_at].iter().any(|starts| {
            let i = starts.partition_point(|&s| s <= from);
            starts.get(i).is_some_and(|&s| s < to)
        })
    }

    /// The import object of an instantiation at offset `at` of a module
    /// with `bytes`: none for a module without imports; otherwise the
    /// script's environment: the registered instances its imports name
    /// (the last registration of each name, as a later one replaces an
    /// earlier), those their own modules import from, and the `spectest`
    /// host module if any of them imports it, in the order the script made
    /// them. Only what it names: an instance it does not import from is not
    /// its concern, and building it could fail for reasons of its own.
    /// `Err` says why the mapping cannot give the script's environment.
    fn environment(&self, bytes: &[u8], at: usize) -> Result<ImportObject, String> {
        let imports = imports_of(bytes);
        if imports.is_empty() {
            return Ok(ImportObject::Omitted);
        }
        let mut needed: BTreeSet<String> = imports.iter().map(|(m, _)| m.clone()).collect();
        let mut memories = spectest_memories(&imports);
        let mut chosen = Vec::new();
        for (name, defined) in self.registered.iter().rev() {
            if !needed.remove(name) {
                continue;
            }
            let Some(defined) = defined else {
                return Err(format!(
                    "it imports from the registered instance {name:?}, whose module this mapping does not follow"
                ));
            };
            if self.used_between(defined.at, at) && exports_memory_or_table(&defined.bytes) {
                return Err(format!(
                    "it imports from the registered instance {name:?}, which the script used since (its memory or table may have grown), so a fresh instance is not its environment"
                ));
            }
            let own = imports_of(&defined.bytes);
            let theirs = spectest_memories(&own);
            memories.memory |= theirs.memory;
            memories.shared_memory |= theirs.shared_memory;
            needed.extend(own.into_iter().map(|(m, _)| m));
            chosen.push(NamedModule {
                name: name.clone(),
                bytes: defined.bytes.clone(),
            });
        }
        if needed.contains(spectest::NAMESPACE) {
            chosen.push(NamedModule {
                name: spectest::NAMESPACE.into(),
                bytes: spectest::module(memories),
            });
        }
        chosen.reverse();
        Ok(ImportObject::Instances(chosen.into()))
    }
}

/// Which of the host module's memories `imports` name.
fn spectest_memories(imports: &[(String, String)]) -> spectest::Memories {
    let imports_memory = |name: &str| {
        imports
            .iter()
            .any(|(m, n)| m == spectest::NAMESPACE && n == name)
    };
    spectest::Memories {
        memory: imports_memory("memory"),
        shared_memory: imports_memory("shared_memory"),
    }
}

/// Why an instantiation twin is not made.
enum Skip {
    /// Counted as not applicable, with the reason.
    NotApplicable(String),
    /// The harness's own fault, an input error.
    Harness(Error),
}

/// The namespaces of an import object, for messages.
fn describe_imports(imports: &ImportObject) -> String {
    match imports {
        ImportObject::Omitted => "undefined".into(),
        ImportObject::Instances(modules) => {
            let names: Vec<&str> = modules.iter().map(|m| m.name.as_str()).collect();
            format!("{{{}}}", names.join(", "))
        }
        ImportObject::Declared(declared) => format!("{:?}", declared.value),
    }
}

/// The offsets where `parse_text` (`text` with module-less directives
/// blanked) begins to differ from `text`: where a blanked directive was.
fn blanked_starts(parse_text: &str, text: &str) -> Vec<usize> {
    let (a, b) = (parse_text.as_bytes(), text.as_bytes());
    (0..a.len().min(b.len()))
        .filter(|&i| a[i] != b[i] && (i == 0 || a[i - 1] == b[i - 1]))
        .collect()
}

/// A module's imports, `(module, name)` in order; none when it does not
/// parse that far.
fn imports_of(bytes: &[u8]) -> Vec<(String, String)> {
    let mut imports = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload {
            Ok(wasmparser::Payload::ImportSection(reader)) => {
                for import in reader.into_imports().flatten() {
                    imports.push((import.module.to_string(), import.name.to_string()));
                }
            }
            Ok(wasmparser::Payload::CodeSectionStart { .. }) | Err(_) => break,
            Ok(_) => {}
        }
    }
    imports
}

fn exports_memory_or_table(bytes: &[u8]) -> bool {
    wasmparser::Parser::new(0)
        .parse_all(bytes)
        .any(|payload| match payload {
            Ok(wasmparser::Payload::ExportSection(reader)) => {
                reader.into_iter().flatten().any(|e| {
                    matches!(
                        e.kind,
                        wasmparser::ExternalKind::Memory | wasmparser::ExternalKind::Table
                    )
                })
            }
            _ => false,
        })
}

/// What one directive contributes.
enum Mapped {
    /// A compile case, and what instantiating its module gives (`None`: the
    /// directive does not instantiate it).
    Case(Arc<[u8]>, OutcomeClass, Option<OutcomeClass>),
    NotApplicable(String),
    /// Over the size limit, by this many bytes.
    TooLarge(usize),
    Nothing,
}

impl Mapper<'_, '_> {
    fn directive(&mut self, directive: WastDirective<'_>) {
        let at = directive.span().offset();
        let line = line_of_offset(self.text, at);
        // What an instantiated module directive defines: Some(its $id).
        let mut defines: Option<Option<String>> = None;
        let id_of = |module: &QuoteWat<'_>| match module {
            QuoteWat::Wat(Wat::Module(m)) => m.id.map(|id| id.name().to_string()),
            _ => None,
        };
        let max_bytes = self.source.max_module_bytes;
        let quote_wat = |module: QuoteWat<'_>, expected: (OutcomeClass, Option<OutcomeClass>)| {
            map_module(module, expected, max_bytes)
        };
        let wat = |module: Wat<'_>, expected: (OutcomeClass, Option<OutcomeClass>)| {
            map_module(QuoteWat::Wat(module), expected, max_bytes)
        };
        use OutcomeClass::{CompileError, Instance, LinkError, Module, RuntimeError};
        let mapped = match directive {
            WastDirective::Thread(thread) => {
                for inner in thread.directives {
                    self.directive(inner);
                }
                Mapped::Nothing
            }
            WastDirective::Module(module) => {
                defines = Some(id_of(&module));
                quote_wat(module, (Module, Some(Instance)))
            }
            WastDirective::ModuleDefinition(module) => {
                let id = id_of(&module);
                let mapped = quote_wat(module, (Module, None));
                if let (Some(id), Mapped::Case(bytes, ..)) = (id, &mapped) {
                    let defined = Defined {
                        bytes: bytes.clone(),
                        at,
                    };
                    self.script.definitions.insert(id, defined);
                }
                mapped
            }
            WastDirective::ModuleInstance {
                instance, module, ..
            } => {
                let defined = module.and_then(|m| self.script.definitions.get(m.name()).cloned());
                if let (Some(instance), Some(defined)) = (instance, &defined) {
                    self.script
                        .instances
                        .insert(instance.name().to_string(), defined.clone());
                }
                self.script.last = defined;
                Mapped::Nothing
            }
            WastDirective::Register { name, module, .. } => {
                let defined = match module {
                    Some(id) => self.script.instances.get(id.name()).cloned(),
                    None => self.script.last.clone(),
                };
                self.script.registered.push((name.to_string(), defined));
                Mapped::Nothing
            }
            WastDirective::AssertMalformedCustom { module, .. }
            | WastDirective::AssertInvalidCustom { module, .. } => {
                quote_wat(module, (Module, Some(Instance)))
            }
            WastDirective::AssertUnlinkable { module, .. } => {
                wat(module, (Module, Some(LinkError)))
            }
            WastDirective::AssertTrap {
                exec: WastExecute::Wat(module),
                ..
            } => wat(module, (Module, Some(RuntimeError))),
            WastDirective::AssertInvalid { module, .. } => {
                quote_wat(module, (CompileError, Some(CompileError)))
            }
            WastDirective::AssertMalformed { module, .. } => match module {
                QuoteWat::Wat(Wat::Module(m)) if matches!(m.kind, ModuleKind::Binary(_)) => {
                    wat(Wat::Module(m), (CompileError, Some(CompileError)))
                }
                QuoteWat::QuoteComponent(..) | QuoteWat::Wat(Wat::Component(_)) => {
                    Mapped::NotApplicable(COMPONENT.into())
                }
                _ => Mapped::NotApplicable(
                    "text-only assert_malformed: the text does not encode to a binary".into(),
                ),
            },
            _ => {
                // A directive that uses an instance (the lean parse blanks
                // these; the full one, after a parse error, sees them).
                self.script.used_at.push(at);
                Mapped::Nothing
            }
        };
        if let (Some(id), Mapped::Case(bytes, ..)) = (defines, &mapped) {
            let defined = Defined {
                bytes: bytes.clone(),
                at,
            };
            if let Some(id) = id {
                self.script.instances.insert(id, defined.clone());
            }
            self.script.last = Some(defined);
        }
        match mapped {
            Mapped::Nothing => {}
            Mapped::Case(bytes, expected, instantiated) => {
                let id = self.id_for_line(line);
                let twin = instantiated
                    .filter(|_| self.source.instantiate)
                    .map(|class| {
                        // A compile error wins over anything an import object
                        // could do: no environment is built for it.
                        let imports = if class == CompileError {
                            Ok(ImportObject::Omitted)
                        } else {
                            self.script
                                .environment(&bytes, at)
                                .map_err(Skip::NotApplicable)
                        };
                        (class, imports)
                    });
                self.out.cases.push(Case {
                    id,
                    suite: self.source.suite.to_string(),
                    group: self.source.group.to_string(),
                    origin: CaseOrigin::Directive,
                    bytes: bytes.clone().into(),
                    expected: expected.into(),
                    features: self.source.features.clone(),
                    scenario: None,
                    function: Default::default(),
                    imports: Default::default(),
                });
                let twin = twin.map(|(class, imports)| {
                    let imports = imports?;
                    let expected = self.expected_instantiation(&bytes, class, &imports, line)?;
                    Ok((expected, imports))
                });
                let compile = self.out.cases.last().expect("just pushed");
                match twin {
                    Some(Ok((class, imports))) => {
                        let twin = compile.instantiation(class.into(), imports);
                        self.out.cases.push(twin);
                    }
                    Some(Err(Skip::Harness(error))) => self.out.errors.push(error),
                    Some(Err(Skip::NotApplicable(why))) => {
                        let twin = NotApplicable {
                            id: format!("{}{INSTANTIATE_SUFFIX}", compile.id),
                            suite: compile.suite.clone(),
                            group: compile.group.clone(),
                            reason: format!("instantiateStreaming: {why}"),
                        };
                        self.out.not_applicable.push(twin);
                    }
                    None => {}
                }
            }
            Mapped::NotApplicable(reason) => {
                let id = self.id_for_line(line);
                self.out.not_applicable.push(NotApplicable {
                    id,
                    suite: self.source.suite.to_string(),
                    group: self.source.group.to_string(),
                    reason,
                });
            }
            Mapped::TooLarge(len) => {
                // Its id is taken all the same, so that the ids of the
                // line's other directives do not depend on the limit.
                self.id_for_line(line);
                self.out.errors.push(Error::ModuleTooLarge {
                    file: self.source.display_path.to_string(),
                    line,
                    len,
                    limit: self.source.max_module_bytes,
                });
            }
        }
    }

    /// What instantiating `bytes` with `imports` must give, from the
    /// directive's `class`, checked against the reference model, which
    /// decides from the module and its environment, never from the
    /// directive. Where the model cannot decide, the directive stands (the
    /// reference backend is then not applicable on the case). The JS API
    /// turns one kind of unlinkable into a TypeError: an import from a
    /// namespace the import object lacks. A compile error the model's
    /// validator finds in a module the directive calls valid is the compile
    /// case's disagreement already (see the reference's expectations).
    /// Any other disagreement means the environment or the model is wrong
    /// for this case: a harness error, judging no engine.
    fn expected_instantiation(
        &self,
        bytes: &[u8],
        directive: OutcomeClass,
        imports: &ImportObject,
        line: usize,
    ) -> Result<OutcomeClass, Skip> {
        use OutcomeClass::{CompileError, LinkError, TypeError};
        if directive == CompileError {
            return Ok(directive);
        }
        match decide_instantiation(bytes, &self.source.features, imports, None) {
            Err(_) => Ok(directive),
            Ok(decided) if decided == directive => Ok(directive),
            Ok(TypeError) if directive == LinkError => Ok(TypeError),
            Ok(CompileError) => Ok(directive),
            Ok(decided) => Err(Skip::Harness(Error::InstantiationDisagrees {
                file: self.source.display_path.to_string(),
                line,
                message: format!(
                    "the directive says instantiating this module gives {directive}, the reference model {decided} (with the import object {}); the case is left out",
                    describe_imports(imports)
                ),
            })),
        }
    }

    /// `file:LINE`, and `file:LINE#N` for the N-th directive on a line that
    /// already has one, so ids stay unique and stable.
    fn id_for_line(&mut self, line: usize) -> String {
        let count = self.seen_lines.entry(line).or_insert(0);
        *count += 1;
        match *count {
            1 => format!("{}:{line}", self.source.file_id),
            n => format!("{}:{line}#{n}", self.source.file_id),
        }
    }
}

/// Top-level directives that never carry a module. Most of the official
/// suite's text is these (`assert_return` lines of the SIMD files), and
/// parsing them dominated loading.
const MODULELESS: &[&str] = &[
    "assert_return",
    "invoke",
    "assert_exhaustion",
    "assert_exception",
    "assert_suspension",
    "get",
];

/// Replaces module-less top-level directives (and `assert_trap` on an
/// invocation) with spaces, keeping newlines, so every offset and line
/// number stays where it was. Anything this scanner does not understand is
/// left for the real parser.
pub fn blank_moduleless_directives(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = bytes.to_vec();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'(' if bytes.get(i + 1) == Some(&b';') => match skip_block_comment(bytes, i) {
                Some(end) => i = end,
                None => return text.to_string(),
            },
            b';' if bytes.get(i + 1) == Some(&b';') => {
                i = bytes[i..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |p| i + p);
            }
            b'(' => {
                let Some(end) = skip_form(bytes, i) else {
                    return text.to_string();
                };
                let head = keyword_after(bytes, i + 1);
                let moduleless = MODULELESS.contains(&head)
                    || (head == "assert_trap" && {
                        let after = i + 1 + head.len();
                        let rest = &text[after..end];
                        let next = rest.trim_start();
                        next.starts_with("(invoke") || next.starts_with("(get")
                    });
                if moduleless {
                    for b in &mut out[i..end] {
                        if *b != b'\n' {
                            *b = b' ';
                        }
                    }
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    // Only ASCII bytes were replaced, and only whole forms, so this is UTF-8.
    String::from_utf8(out).unwrap_or_else(|_| text.to_string())
}

fn keyword_after(bytes: &[u8], start: usize) -> &str {
    let end = bytes[start..]
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
        .map_or(bytes.len(), |p| start + p);
    std::str::from_utf8(&bytes[start..end]).unwrap_or("")
}

/// The end (exclusive) of the parenthesised form starting at `start`.
fn skip_form(bytes: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'(' if bytes.get(i + 1) == Some(&b';') => {
                i = skip_block_comment(bytes, i)?;
                continue;
            }
            b';' if bytes.get(i + 1) == Some(&b';') => {
                i = bytes[i..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |p| i + p);
                continue;
            }
            b'(' => depth += 1,
            b')' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The end of a (possibly nested) `(; ... ;)` comment starting at `start`.
fn skip_block_comment(bytes: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = start;
    while i + 1 < bytes.len() {
        match (bytes[i], bytes[i + 1]) {
            (b'(', b';') => {
                depth += 1;
                i += 2;
            }
            (b';', b')') => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => i += 1,
        }
    }
    None
}

const COMPONENT: &str = "component-model directive: not a core module";

fn map_module(
    mut module: QuoteWat<'_>,
    (expected, instantiated): (OutcomeClass, Option<OutcomeClass>),
    max_bytes: usize,
) -> Mapped {
    if matches!(
        module,
        QuoteWat::QuoteComponent(..) | QuoteWat::Wat(Wat::Component(_))
    ) {
        return Mapped::NotApplicable(COMPONENT.into());
    }
    // Binary text is measured before it is copied into one buffer.
    if let QuoteWat::Wat(Wat::Module(Module {
        kind: ModuleKind::Binary(parts),
        ..
    })) = &module
    {
        let len = parts.iter().map(|part| part.len()).sum();
        if len > max_bytes {
            return Mapped::TooLarge(len);
        }
    }
    match module.encode() {
        Ok(bytes) if bytes.len() > max_bytes => Mapped::TooLarge(bytes.len()),
        Ok(bytes) => Mapped::Case(bytes.into(), expected, instantiated),
        Err(e) => Mapped::NotApplicable(format!("text does not encode: {}", e.message())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(text: &str) -> Result<LoadedSuite, Error> {
        map_within(text, crate::suites::DEFAULT_MAX_MODULE_BYTES)
    }

    fn map_within(text: &str, max_module_bytes: usize) -> Result<LoadedSuite, Error> {
        map_with(text, max_module_bytes, false)
    }

    fn map_with(
        text: &str,
        max_module_bytes: usize,
        instantiate: bool,
    ) -> Result<LoadedSuite, Error> {
        cases_from_wast(
            text,
            &WastSource {
                file_id: "t/x.wast",
                display_path: "t/x.wast",
                suite: "t",
                group: "g",
                features: Arc::new(Features::baseline()),
                max_module_bytes,
                instantiate,
            },
        )
    }

    #[test]
    fn a_module_over_the_limit_costs_its_case_only() {
        // 8-byte modules fit a limit of 8; the 11-byte binary and the text
        // module with a function do not. Ids do not shift on line 3.
        let text = "(module)\n(module binary \"\\00asm\" \"\\01\\00\\00\\00\" \"\\00\\01\\00\")\n(module (func)) (module)\n";
        let out = map_within(text, 8).unwrap();
        let ids: Vec<&str> = out.cases.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["t/x.wast:1", "t/x.wast:3#2"]);
        let errors: Vec<String> = out.errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].starts_with("t/x.wast:2: the module is 11 bytes, over the limit of 8"),
            "{errors:?}"
        );
        assert!(errors[1].starts_with("t/x.wast:3: "), "{errors:?}");
        assert_eq!(map_within(text, 100).unwrap().cases.len(), 4);
    }

    #[test]
    fn directives_map_to_expected_outcomes() {
        let text = r#"
(module (func))
(assert_invalid (module (func (result i32))) "type mismatch")
(assert_malformed (module binary "\00asm" "\02\00\00\00") "unknown binary version")
(assert_malformed (module quote "(func") "unexpected end")
(assert_unlinkable (module (import "x" "y" (func))) "unknown import")
(assert_return (invoke "f"))
(module definition (func))
"#;
        let out = map(text).unwrap();
        let got: Vec<_> = out
            .cases
            .iter()
            .map(|c| (c.id.as_str(), c.expected()))
            .collect();
        assert_eq!(
            got,
            [
                ("t/x.wast:2", OutcomeClass::Module),
                ("t/x.wast:3", OutcomeClass::CompileError),
                ("t/x.wast:4", OutcomeClass::CompileError),
                ("t/x.wast:6", OutcomeClass::Module),
                ("t/x.wast:8", OutcomeClass::Module),
            ]
        );
        assert_eq!(out.not_applicable.len(), 1);
        assert_eq!(out.not_applicable[0].id, "t/x.wast:5");
        assert!(out.not_applicable[0].reason.contains("text-only"));
    }

    #[test]
    fn an_instantiating_suite_adds_a_twin_to_each_instantiating_directive() {
        let text = r#"
(module (func (export "f")))
(assert_invalid (module (import "m" "f" (func)) (func (result i32))) "type mismatch")
(module (import "spectest" "print" (func)))
(module definition (func))
(assert_trap (module (memory 1) (data (i32.const 65536) "x")) "out of bounds")
(assert_unlinkable (module (import "x" "y" (func))) "unknown import")
(module binary "\00asm" "\01\00\00\00" "\00\01\00")
"#;
        let out = map_with(text, crate::suites::DEFAULT_MAX_MODULE_BYTES, true).unwrap();
        let got: Vec<_> = out
            .cases
            .iter()
            .map(|c| (c.id.as_str(), c.function, c.expected()))
            .collect();
        use crate::case::StreamingFunction::{Compile, Instantiate};
        use OutcomeClass::*;
        assert_eq!(
            got,
            [
                ("t/x.wast:2", Compile, Module),
                ("t/x.wast:2@instantiate", Instantiate, Instance),
                ("t/x.wast:3", Compile, CompileError),
                ("t/x.wast:3@instantiate", Instantiate, CompileError),
                ("t/x.wast:4", Compile, Module),
                ("t/x.wast:4@instantiate", Instantiate, Instance),
                ("t/x.wast:5", Compile, Module),
                ("t/x.wast:6", Compile, Module),
                ("t/x.wast:6@instantiate", Instantiate, RuntimeError),
                ("t/x.wast:7", Compile, Module),
                // The JS API: a namespace the import object lacks is a
                // TypeError, where the script says unlinkable.
                ("t/x.wast:7@instantiate", Instantiate, TypeError),
                ("t/x.wast:8", Compile, Module),
                ("t/x.wast:8@instantiate", Instantiate, Instance),
            ]
        );
        let twin = &out.cases[1];
        assert_eq!(twin.bytes.len(), out.cases[0].bytes.len());
        assert_eq!(crate::suites::file_of_case_id(&twin.id), Some("t/x.wast"));
        assert_eq!(crate::case::StreamingFunction::of_id(&twin.id), Instantiate);
        // The same file in a suite that does not instantiate: no twins.
        let plain = map(text).unwrap();
        assert!(plain.cases.iter().all(|c| c.function == Compile));
        assert_eq!(plain.cases.len(), 7);
    }

    /// The names an instantiation case's import object holds, in order.
    fn namespaces(case: &Case) -> Vec<String> {
        match &case.imports {
            ImportObject::Omitted => vec![],
            ImportObject::Instances(modules) => modules.iter().map(|m| m.name.clone()).collect(),
            ImportObject::Declared(d) => panic!("a wast twin with a declared object: {d:?}"),
        }
    }

    #[test]
    fn an_instantiation_gets_the_script_environment_its_imports_name() {
        let text = r#"
(module $A (func (export "f")))
(register "a" $A)
(module $B (import "spectest" "print_i32" (func (param i32))) (memory (export "m") 1))
(register "b")
(module (import "a" "f" (func)))
(module (import "b" "m" (memory 1)) (import "spectest" "global_i32" (global i32)))
(assert_return (invoke $B "grow"))
(module (import "a" "f" (func)))
(module (import "b" "m" (memory 1)))
(register "a" $B)
(module (import "a" "m" (memory 1)))
(assert_unlinkable (module (import "nowhere" "f" (func))) "unknown import")
"#;
        let out = map_with(text, crate::suites::DEFAULT_MAX_MODULE_BYTES, true).unwrap();
        let twin = |line: usize| {
            out.cases
                .iter()
                .find(|c| c.id == format!("t/x.wast:{line}@instantiate"))
        };
        assert_eq!(namespaces(twin(2).unwrap()), Vec::<String>::new());
        assert_eq!(namespaces(twin(4).unwrap()), ["spectest"]);
        assert_eq!(namespaces(twin(6).unwrap()), ["a"]);
        assert_eq!(namespaces(twin(7).unwrap()), ["spectest", "b"]);
        // After an invoke: an instance without memory or table is still
        // what a fresh one is; one with a memory may have grown.
        assert_eq!(namespaces(twin(9).unwrap()), ["a"]);
        assert!(twin(10).is_none());
        let skipped = out
            .not_applicable
            .iter()
            .find(|n| n.id == "t/x.wast:10@instantiate")
            .expect("counted, not dropped");
        assert!(skipped.reason.contains("\"b\""), "{}", skipped.reason);
        // A later registration of a name replaces the earlier one (and B
        // was used since its definition too).
        assert!(twin(12).is_none());
        // A namespace nothing registered: the object simply lacks it.
        assert_eq!(namespaces(twin(13).unwrap()), Vec::<String>::new());
        let ImportObject::Instances(modules) = &twin(7).unwrap().imports else {
            panic!()
        };
        assert_eq!(&*modules[0].bytes, &*spectest::module(Default::default()));
    }

    #[test]
    fn binary_modules_keep_their_exact_bytes() {
        let out = map(r#"(module binary "\00asm" "\01\00\00\00" "\00\01\00")"#).unwrap();
        assert_eq!(&*out.cases[0].bytes, b"\0asm\x01\0\0\0\x00\x01\x00");
    }

    #[test]
    fn two_directives_on_one_line_get_distinct_ids() {
        let out = map("(module) (module)").unwrap();
        assert_eq!(out.cases[0].id, "t/x.wast:1");
        assert_eq!(out.cases[1].id, "t/x.wast:1#2");
    }

    #[test]
    fn blanking_keeps_offsets_and_module_directives() {
        let text = "(module)\n(assert_return (invoke \"f\" (i32.const 1)) (i32.const 2))\n;; (assert_return\n(assert_trap (invoke \"g\") \")\")\n(assert_trap (module (start 0)) \"x\")\n(; (invoke ;) (register \"m\")";
        let lean = blank_moduleless_directives(text);
        assert_eq!(lean.len(), text.len());
        assert_eq!(lean.lines().count(), text.lines().count());
        assert!(
            lean.contains("(module)") && lean.contains("(assert_trap (module"),
            "{lean}"
        );
        // `register` stays: the mapping follows what a script registers.
        assert!(
            !lean.contains("assert_return (") && lean.contains("(register \"m\")"),
            "{lean}"
        );
        assert!(!lean.contains("(invoke \"g\")"), "{lean}");
    }

    #[test]
    fn malformed_wast_names_file_and_line() {
        let err = map("(module)\n\n(assert_invalid (module (func)\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("t/x.wast:"), "{msg}");
        assert!(
            matches!(err, Error::MalformedWast { line, .. } if line >= 3),
            "{msg}"
        );
    }
}
