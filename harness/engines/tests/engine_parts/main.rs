//! The engines crate's parts against real engines and named test doubles:
//! the process backend, the wire protocol, how an instance is read, and
//! releases installed beside the machine's engines.

mod instances;
mod process;
mod releases;
mod wire;
