//! Which of the two streaming functions a case calls: data every layer
//! names (a case file's `function`, a case, a report).

use serde::{Deserialize, Serialize};

/// Which of the two streaming functions a case calls. An
/// `instantiateStreaming` case's id ends in [`INSTANTIATE_SUFFIX`], so the
/// two cases of one module sit side by side in every report and an
/// expectations file can name either.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum StreamingFunction {
    /// `WebAssembly.compileStreaming(source, options)`: judged against the
    /// engine's own `new WebAssembly.Module(bytes)`.
    #[default]
    Compile,
    /// `WebAssembly.instantiateStreaming(source, importObject, options)`:
    /// judged against the engine's own
    /// `WebAssembly.instantiate(bytes, importObject, options)`.
    Instantiate,
}

/// How the id of an `instantiateStreaming` case ends: `spec/x.wast:12@instantiate`.
pub const INSTANTIATE_SUFFIX: &str = "@instantiate";

impl StreamingFunction {
    /// The name as JavaScript spells it: `compileStreaming`, `instantiateStreaming`.
    pub fn js_name(self) -> &'static str {
        match self {
            StreamingFunction::Compile => "compileStreaming",
            StreamingFunction::Instantiate => "instantiateStreaming",
        }
    }

    /// The function an id names (see [`INSTANTIATE_SUFFIX`]).
    pub fn of_id(id: &str) -> StreamingFunction {
        if id.ends_with(INSTANTIATE_SUFFIX) {
            StreamingFunction::Instantiate
        } else {
            StreamingFunction::Compile
        }
    }

    /// Whether this is the default, `compileStreaming` (serde skips it).
    pub fn is_compile(&self) -> bool {
        *self == StreamingFunction::Compile
    }
}

impl std::fmt::Display for StreamingFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.js_name())
    }
}
