//! Consumers of run events (see `runner::events`): each output is one
//! [`Reporter`](crate::runner::Reporter) and knows nothing of the others.
//!
//! - `summary.rs`: counts per (backend, suite, group) and the table;
//! - `terminal.rs`: what a person reads at the end of a CLI run;
//! - `json.rs`: the versioned JSON report (`reports/SCHEMA.md`), streamed;
//! - `bless.rs`: rewrites expectations files from the run.

pub mod bless;
pub mod json;
pub mod summary;
pub mod terminal;
