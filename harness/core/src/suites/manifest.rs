//! `suite.toml`: per-suite configuration, as data.

use crate::error::Error;
use crate::features::{Features, SpecVersion};
use crate::scenario::ModuleRef;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The optional `suite.toml` at the root of a suite directory.
///
/// ```toml
/// description = "streaming decoder edge cases"
/// base = "wasm3"                 # wasm1, wasm2 or wasm3 (the default)
/// features = ["wide-arithmetic"] # proposals beyond the base
/// kind = "webapi"                # only .toml files are case files
/// instantiate = true             # .wast modules also instantiateStreaming
/// modules = "my-modules.toml"    # the module table, or inline:
/// # [modules]
/// # add = { file = "add.wasm" }
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteManifest {
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub base: SpecVersion,
    /// Proposals beyond WebAssembly 3.0 that the suite's modules use.
    #[serde(default)]
    pub features: Vec<String>,
    /// Which files are case files; by default, both kinds by extension.
    #[serde(default)]
    pub kind: Option<SuiteKind>,
    /// The module table Web API cases name modules from: a path relative
    /// to `suite.toml`, or the table itself. Without it, `modules.toml`
    /// at the root is the table if there is one.
    #[serde(default)]
    pub modules: Option<ModuleTable>,
    /// Whether each module directive of the suite's `.wast` files is also
    /// an `instantiateStreaming` case (see `wast.rs`).
    #[serde(default)]
    pub instantiate: bool,
}

/// What a suite directory holds. With a kind, files with the other kind's
/// extension are not case files (a `.wast` in a Web API suite can then be
/// module text that a case refers to, a `.toml` in a `.wast` suite some
/// other configuration).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SuiteKind {
    /// Only `.wast` files are case files.
    Wast,
    /// Only `.toml` files are case files.
    Webapi,
}

/// `modules = "file.toml"` or `[modules]` inline in `suite.toml`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ModuleTable {
    File(String),
    Inline(BTreeMap<String, ModuleRef>),
}

impl SuiteManifest {
    pub const FILE_NAME: &'static str = "suite.toml";

    pub fn parse(text: &str, path: &Path) -> Result<SuiteManifest, Error> {
        let manifest: SuiteManifest = toml::from_str(text).map_err(|e| {
            Error::toml_parse(
                path,
                text,
                &e,
                "a suite manifest: `description`, `base`, `features`, `kind`, `modules`, `instantiate`",
            )
        })?;
        manifest.features_set(text, path)?;
        Ok(manifest)
    }

    fn features_set(&self, text: &str, path: &Path) -> Result<Features, Error> {
        Features::new(self.base, self.features.iter().cloned()).map_err(|message| {
            Error::InvalidToml {
                file: path.to_path_buf(),
                line: text
                    .lines()
                    .position(|l| l.trim_start().starts_with("features"))
                    .map_or(1, |i| i + 1),
                message,
            }
        })
    }

    pub fn features(&self) -> Features {
        Features::new(self.base, self.features.iter().cloned()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_errors_with_a_line() {
        let err = SuiteManifest::parse(
            "description = \"x\"\nfeaturs = []\n",
            Path::new("s/suite.toml"),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("s/suite.toml:2:"), "{msg}");
        assert!(msg.contains("featurs"), "{msg}");
    }

    #[test]
    fn unknown_features_are_errors() {
        let err =
            SuiteManifest::parse("features = [\"nope\"]\n", Path::new("suite.toml")).unwrap_err();
        assert!(
            err.to_string().contains("unknown feature \"nope\""),
            "{err}"
        );
    }
}
