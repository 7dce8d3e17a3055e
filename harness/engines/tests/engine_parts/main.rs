//! The engines crate's parts against real engines and named test doubles:
//! the process backend and the wire protocol.

mod process;
mod wire;
