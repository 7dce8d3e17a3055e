//! What an `instantiateStreaming` case passes as its import object, as
//! data: the harness builds the same object for the streamed call and for
//! the engine's one-shot `WebAssembly.instantiate`.

use std::sync::Arc;

/// The import object an `instantiateStreaming` case passes, as data: the
/// harness builds the same object for the streamed call and for the
/// engine's one-shot `WebAssembly.instantiate`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ImportObject {
    /// No import object (`undefined`): a module with imports is then a
    /// `TypeError` once compiled ("read the imports", step 1).
    #[default]
    Omitted,
    /// A plain object `{NAME: instance.exports, ...}`: each module
    /// instantiated one-shot, in order, with the object built so far as its
    /// import object, and its exports added under its name. A `.wast`
    /// script's environment is this: the `spectest` host module (as a
    /// WebAssembly module, so its functions, globals, table and memory have
    /// types to link against) and the instances `register`ed before the
    /// case.
    Instances(Arc<[NamedModule]>),
}

/// One namespace of an [`ImportObject::Instances`]: a module whose
/// instance's exports the import object holds under `name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedModule {
    /// The namespace: the module name imports use (`spectest`).
    pub name: String,
    /// The module's bytes (it must compile and instantiate one-shot).
    pub bytes: Arc<[u8]>,
}
