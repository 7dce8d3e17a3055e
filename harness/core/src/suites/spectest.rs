//! The `spectest` host module of `.wast` scripts, as a WebAssembly module.
//!
//! The spec's JS harness gives `spectest` as JS values (functions that
//! print, Numbers for the globals), which link to any function type and to
//! any number type; a `.wast` script means the reference interpreter's host
//! module, whose functions and globals have types. As a module of its own,
//! the same values link in JS exactly as the script says: importing
//! `print_i32` as `(func (param i64))` is a LinkError, as in the script.

use std::sync::{Arc, LazyLock};

/// The namespace `.wast` scripts import the host module under.
pub const NAMESPACE: &str = "spectest";

/// Every export but the memories: `shared_memory` needs the threads
/// proposal, and two memories need multi-memory, so `memory` is left out
/// where only `shared_memory` is imported (see [`module`]).
const EXPORTS: &str = r#"
  (func (export "print"))
  (func (export "print_i32") (param i32))
  (func (export "print_i64") (param i64))
  (func (export "print_f32") (param f32))
  (func (export "print_f64") (param f64))
  (func (export "print_i32_f32") (param i32 f32))
  (func (export "print_f64_f64") (param f64 f64))
  (global (export "global_i32") i32 (i32.const 666))
  (global (export "global_i64") i64 (i64.const 666))
  (global (export "global_f32") f32 (f32.const 666.6))
  (global (export "global_f64") f64 (f64.const 666.6))
  (table (export "table") 10 20 funcref)
"#;

const MEMORY: &str = r#"(memory (export "memory") 1 2)"#;
const SHARED_MEMORY: &str = r#"(memory (export "shared_memory") 1 2 shared)"#;

static PLAIN: LazyLock<Arc<[u8]>> =
    LazyLock::new(|| encode(&format!("(module {EXPORTS} {MEMORY})")));
static SHARED: LazyLock<Arc<[u8]>> =
    LazyLock::new(|| encode(&format!("(module {EXPORTS} {SHARED_MEMORY})")));
static BOTH: LazyLock<Arc<[u8]>> =
    LazyLock::new(|| encode(&format!("(module {EXPORTS} {MEMORY} {SHARED_MEMORY})")));

/// Which of the host module's memories an environment imports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Memories {
    pub memory: bool,
    pub shared_memory: bool,
}

/// The host module's bytes: `memory` unless only `shared_memory` is
/// imported, `shared_memory` only when it is.
pub fn module(imported: Memories) -> Arc<[u8]> {
    match (imported.memory, imported.shared_memory) {
        (_, false) => PLAIN.clone(),
        (false, true) => SHARED.clone(),
        (true, true) => BOTH.clone(),
    }
}

fn encode(text: &str) -> Arc<[u8]> {
    let buffer = wast::parser::ParseBuffer::new(text).expect("the spectest text lexes");
    let mut wat: wast::Wat<'_> = wast::parser::parse(&buffer).expect("the spectest text parses");
    wat.encode().expect("the spectest module encodes").into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::Features;

    #[test]
    fn the_host_module_validates_and_exports_what_scripts_import() {
        let plain = module(Memories::default());
        assert!(Features::baseline().validates(&plain));
        let names: Vec<String> = wasmparser::Parser::new(0)
            .parse_all(&plain)
            .filter_map(|p| match p {
                Ok(wasmparser::Payload::ExportSection(reader)) => Some(
                    reader
                        .into_iter()
                        .map(|e| e.unwrap().name.to_string())
                        .collect::<Vec<_>>(),
                ),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(names.len(), 13, "{names:?}");
        assert!(names.contains(&"global_f64".to_string()));
        let shared = Memories {
            memory: false,
            shared_memory: true,
        };
        assert!(Features::from_names(["threads"])
            .unwrap()
            .validates(&module(shared)));
        let both = Memories {
            memory: true,
            shared_memory: true,
        };
        assert!(module(both).len() > module(shared).len());
    }
}
