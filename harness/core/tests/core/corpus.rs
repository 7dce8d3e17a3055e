//! The generated files of `suites/streaming/` are exactly what their
//! generator (`harness/core/examples/streaming_corpus.rs`) writes: nobody edits
//! them by hand, and a change to the generator comes with its output.

#[allow(dead_code)]
#[path = "../../examples/streaming_corpus.rs"]
mod streaming_corpus;

use std::path::Path;

#[test]
fn generated_streaming_files_are_up_to_date() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("suites/streaming");
    let files = streaming_corpus::corpus();
    assert!(files.len() >= 6, "{} generated files", files.len());
    for file in files {
        let path = dir.join(file.name);
        let on_disk =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            on_disk == file.text,
            "{} differs from its generator's output; run \
             `cargo run -p streamconform --example streaming_corpus` and commit the result",
            path.display()
        );
    }
}

#[test]
fn the_corpus_has_what_small_spec_modules_lack() {
    let modules: Vec<Vec<u8>> = streaming_corpus::corpus()
        .iter()
        .flat_map(|file| module_bytes(&file.text))
        .collect();
    let sizes: Vec<usize> = modules.iter().map(Vec::len).collect();
    assert!(
        sizes.iter().filter(|&&n| n > 64 * 1024).count() >= 3,
        "{sizes:?}"
    );
    assert!(sizes.iter().any(|&n| n > 1024 * 1024), "{sizes:?}");
    // Every section id 0..=13 appears in some module.
    let mut ids = std::collections::BTreeSet::new();
    for bytes in &modules {
        for payload in wasmparser::Parser::new(0).parse_all(bytes).flatten() {
            if let Some((id, _)) = payload.as_section() {
                ids.insert(id);
            }
        }
    }
    assert_eq!(ids, (0..=13).collect(), "section ids present");
}

/// The modules of a generated `.wast` file, read back with the `wast`
/// crate (the same parser the suite loader uses).
fn module_bytes(text: &str) -> Vec<Vec<u8>> {
    use wast::parser::{self, ParseBuffer};
    use wast::{QuoteWat, Wast, WastDirective};
    let buf = ParseBuffer::new(text).unwrap();
    let wast: Wast = parser::parse(&buf).unwrap();
    wast.directives
        .into_iter()
        .filter_map(|d| match d {
            WastDirective::Module(QuoteWat::Wat(mut wat))
            | WastDirective::ModuleDefinition(QuoteWat::Wat(mut wat))
            | WastDirective::AssertInvalid {
                module: QuoteWat::Wat(mut wat),
                ..
            } => Some(wat.encode().unwrap()),
            WastDirective::Module(QuoteWat::QuoteModule(..)) => None,
            _ => None,
        })
        .collect()
}
