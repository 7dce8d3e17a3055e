//! What a backend reports for one compile, and what the spec expects.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The observable result of one `compileStreaming` or `instantiateStreaming`
/// (or their one-shot counterparts): what a [`Backend`](crate::Backend)
/// returns.
///
/// Only the class and, for a module or an instance, the fingerprints are
/// judged; the messages are engine prose, shown in reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "class", rename_all = "kebab-case")]
pub enum Outcome {
    /// Resolved with a module; the fingerprint is what JS can observe of it.
    Module {
        /// The module's imports, exports and custom section names.
        fingerprint: Fingerprint,
    },
    /// `instantiateStreaming` resolved with `{module, instance}`.
    Instance {
        /// What JS can observe of the module.
        module: Fingerprint,
        /// What JS can observe of the instance.
        instance: InstanceFingerprint,
    },
    /// Rejected with `WebAssembly.CompileError`.
    CompileError {
        /// The engine's error message.
        message: String,
    },
    /// Rejected with `WebAssembly.LinkError`: an import of the wrong kind,
    /// type, mutability or size.
    LinkError {
        /// The engine's error message.
        message: String,
    },
    /// Rejected with `WebAssembly.RuntimeError`: instantiation trapped (a
    /// segment out of bounds, a trapping start function).
    RuntimeError {
        /// The engine's error message.
        message: String,
    },
    /// Rejected with a `TypeError` the algorithm itself created.
    TypeError {
        /// The engine's error message.
        message: String,
    },
    /// Rejected with exactly the reason the source or the body stream gave.
    PassedThrough,
    /// Never settled within the case's pending window.
    Pending,
    /// Rejected with something else (a `RangeError`, a foreign error...).
    OtherError {
        /// The error's constructor name, e.g. `RangeError`.
        name: String,
        /// The engine's error message.
        message: String,
    },
    /// The backend crashed (a panic, a dead process) while compiling.
    Crash {
        /// What happened: the panic message, an exit status or signal.
        message: String,
    },
    /// The backend did not answer in time: hung, as opposed to `Pending`.
    Timeout,
}

/// The coarse class of an [`Outcome`]; the spec verdict compares these.
/// Each variant is the class of the [`Outcome`] variant of the same name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutcomeClass {
    /// Resolved with a module.
    Module,
    /// Resolved with a module and its instance.
    Instance,
    /// Rejected with `WebAssembly.CompileError`.
    CompileError,
    /// Rejected with `WebAssembly.LinkError`.
    LinkError,
    /// Rejected with `WebAssembly.RuntimeError`.
    RuntimeError,
    /// Rejected with a `TypeError` of the algorithm's own.
    TypeError,
    /// Rejected with the reason the source or the body stream gave.
    PassedThrough,
    /// Never settled.
    Pending,
    /// Rejected with another error.
    OtherError,
    /// The backend crashed.
    Crash,
    /// The backend did not answer in time.
    Timeout,
}

impl Outcome {
    /// The outcome's class, without its details.
    pub fn class(&self) -> OutcomeClass {
        match self {
            Outcome::Module { .. } => OutcomeClass::Module,
            Outcome::Instance { .. } => OutcomeClass::Instance,
            Outcome::CompileError { .. } => OutcomeClass::CompileError,
            Outcome::LinkError { .. } => OutcomeClass::LinkError,
            Outcome::RuntimeError { .. } => OutcomeClass::RuntimeError,
            Outcome::TypeError { .. } => OutcomeClass::TypeError,
            Outcome::PassedThrough => OutcomeClass::PassedThrough,
            Outcome::Pending => OutcomeClass::Pending,
            Outcome::OtherError { .. } => OutcomeClass::OtherError,
            Outcome::Crash { .. } => OutcomeClass::Crash,
            Outcome::Timeout => OutcomeClass::Timeout,
        }
    }

    /// Same observable result: same class and, for a module or an
    /// instance, the same fingerprints. Error messages are engine prose and
    /// may legitimately differ between chunkings, so they are not compared.
    pub fn equivalent(&self, other: &Outcome) -> bool {
        match (self, other) {
            (Outcome::Module { fingerprint: a }, Outcome::Module { fingerprint: b }) => a == b,
            (
                Outcome::Instance {
                    module: a,
                    instance: i,
                },
                Outcome::Instance {
                    module: b,
                    instance: j,
                },
            ) => a == b && i == j,
            _ => self.class() == other.class(),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Module { fingerprint } => write!(f, "Module ({fingerprint})"),
            Outcome::Instance { module, instance } => {
                write!(f, "Instance ({module}; {instance})")
            }
            Outcome::CompileError { message } => write!(f, "CompileError: {message}"),
            Outcome::LinkError { message } => write!(f, "LinkError: {message}"),
            Outcome::RuntimeError { message } => write!(f, "RuntimeError: {message}"),
            Outcome::TypeError { message } => write!(f, "TypeError: {message}"),
            Outcome::OtherError { name, message } => write!(f, "{name}: {message}"),
            Outcome::Crash { message } => write!(f, "crash: {message}"),
            other => write!(f, "{}", other.class()),
        }
    }
}

impl fmt::Display for OutcomeClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OutcomeClass::Module => "Module",
            OutcomeClass::Instance => "Instance",
            OutcomeClass::CompileError => "CompileError",
            OutcomeClass::LinkError => "LinkError",
            OutcomeClass::RuntimeError => "RuntimeError",
            OutcomeClass::TypeError => "TypeError",
            OutcomeClass::PassedThrough => "passed-through rejection",
            OutcomeClass::Pending => "pending",
            OutcomeClass::OtherError => "other error",
            OutcomeClass::Crash => "crash",
            OutcomeClass::Timeout => "timeout",
        })
    }
}

/// What JavaScript can observe of a compiled module without instantiating
/// it: `WebAssembly.Module.imports`, `.exports` and the custom section names.
/// Two chunkings of the same bytes must give the same fingerprint.
///
/// Each list is in the module's order, as the JS API returns it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// `WebAssembly.Module.imports(module)`.
    pub imports: Vec<ImportDescriptor>,
    /// `WebAssembly.Module.exports(module)`.
    pub exports: Vec<ExportDescriptor>,
    /// The names of the module's custom sections, one per section
    /// (`WebAssembly.Module.customSections` looks them up by these).
    pub custom_sections: Vec<String>,
}

/// One import of a module, as `WebAssembly.Module.imports` describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportDescriptor {
    /// The module name of the import.
    pub module: String,
    /// The field name of the import.
    pub name: String,
    /// As in the JS API: `function`, `table`, `memory`, `global` or `tag`.
    pub kind: String,
}

/// One export of a module, as `WebAssembly.Module.exports` describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportDescriptor {
    /// The export's name.
    pub name: String,
    /// As in the JS API: `function`, `table`, `memory`, `global` or `tag`.
    pub kind: String,
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} imports, {} exports, {} custom sections",
            self.imports.len(),
            self.exports.len(),
            self.custom_sections.len()
        )
    }
}

/// What JavaScript can observe of an instance's exports without calling
/// them: each export's name and kind, and what its JS object tells of its
/// type. Two chunkings of the same bytes, instantiated with the same import
/// object, must give the same fingerprint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceFingerprint {
    /// `Object.keys(instance.exports)`, in the module's export order.
    pub exports: Vec<InstanceExport>,
}

/// One export of an instance, as its JS object shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceExport {
    /// The export's name.
    pub name: String,
    /// As in the JS API: `function`, `table`, `memory`, `global` or `tag`.
    pub kind: String,
    /// A function's `length` (its parameter count), a table's `length`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    /// A memory's `buffer.byteLength`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub byte_length: Option<u64>,
    /// A global's value as JS reads it: `number` (i32, f32, f64), `bigint`
    /// (i64), `reference` (any reference type JS can hold), or
    /// `unrepresentable` (v128, exnref: reading it throws).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Whether a global takes a new value (setting an immutable one throws);
    /// absent when its value cannot be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutable: Option<bool>,
}

impl fmt::Display for InstanceFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} instance exports", self.exports.len())
    }
}

/// An export's kind as the JS API names it (`WebAssembly.Module.exports`).
pub(crate) fn export_kind(kind: wasmparser::ExternalKind) -> &'static str {
    match kind {
        wasmparser::ExternalKind::Func | wasmparser::ExternalKind::FuncExact => "function",
        wasmparser::ExternalKind::Table => "table",
        wasmparser::ExternalKind::Memory => "memory",
        wasmparser::ExternalKind::Global => "global",
        wasmparser::ExternalKind::Tag => "tag",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(exports: &[&str]) -> Outcome {
        Outcome::Module {
            fingerprint: Fingerprint {
                exports: exports
                    .iter()
                    .map(|n| ExportDescriptor {
                        name: n.to_string(),
                        kind: "function".into(),
                    })
                    .collect(),
                ..Fingerprint::default()
            },
        }
    }

    #[test]
    fn modules_with_different_fingerprints_are_not_equivalent() {
        assert!(module(&["f"]).equivalent(&module(&["f"])));
        assert!(!module(&["f"]).equivalent(&module(&["g"])));
    }

    #[test]
    fn errors_compare_by_class_not_message() {
        let a = Outcome::CompileError {
            message: "a".into(),
        };
        let b = Outcome::CompileError {
            message: "b".into(),
        };
        assert!(a.equivalent(&b));
        assert!(!a.equivalent(&Outcome::TypeError {
            message: "a".into()
        }));
    }

    #[test]
    fn outcome_serializes_with_a_class_tag() {
        let json = serde_json::to_string(&Outcome::Timeout).unwrap();
        assert_eq!(json, r#"{"class":"timeout"}"#);
    }
}
