//! `suite.toml`: per-suite configuration, as data.

use crate::error::Error;
use crate::features::{Features, SpecVersion};
use serde::Deserialize;
use std::path::Path;

/// The optional `suite.toml` at the root of a `.wast` directory.
///
/// ```toml
/// description = "streaming decoder edge cases"
/// base = "wasm3"                 # wasm1, wasm2 or wasm3 (the default)
/// features = ["wide-arithmetic"] # proposals beyond the base
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
}

impl SuiteManifest {
    pub const FILE_NAME: &'static str = "suite.toml";

    pub fn parse(text: &str, path: &Path) -> Result<SuiteManifest, Error> {
        let manifest: SuiteManifest = toml::from_str(text).map_err(|e| {
            Error::toml_parse(
                path,
                text,
                &e,
                "a suite manifest: `description`, `base`, `features`",
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
