//! TODO(issue 10)

use super::history::Changes;
use super::PublishError;
use crate::reporter::json::Report;
use std::path::Path;

pub fn write(report: &Report, changes: Option<&Changes>, path: &Path) -> Result<(), PublishError> {
    let _ = (report, changes, path);
    todo!("issue 10: markdown")
}
