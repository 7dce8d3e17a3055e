//! Consumers of run events (see `runner::events`): each output is one
//! [`Reporter`](crate::runner::Reporter) and knows nothing of the others.
//!
//! - `summary.rs`: counts per (backend, suite, group) and the table;
//! - `terminal.rs`: what a person reads at the end of a CLI run;
//! - `json.rs`: the versioned JSON report (`reports/SCHEMA.md`), streamed;
//! - `bless.rs`: rewrites expectations files from the run;
//! - `releases.rs`: what differs between releases of one engine run side
//!   by side (`--backend node --backend node@22`);

pub mod bless;
pub mod json;
pub mod releases;
pub mod summary;
pub mod terminal;

use crate::runner::{Reporter, RunEvent};
use std::path::PathBuf;

/// A reporter that writes to a file: its errors (a full disk, say) name
/// the file.
pub struct ToFile<R> {
    pub path: PathBuf,
    pub inner: R,
}

impl<R: Reporter> Reporter for ToFile<R> {
    fn report(&mut self, event: &RunEvent<'_>) -> std::io::Result<()> {
        self.inner.report(event).map_err(|e| {
            std::io::Error::new(e.kind(), format!("writing {}: {e}", self.path.display()))
        })
    }
}
