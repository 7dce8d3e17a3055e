//! The engines crate's parts against real engines and named test doubles:
//! the process backend, the wire protocol, and how an instance is read.

mod instances;
mod process;
mod wire;
