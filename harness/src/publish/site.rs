//! TODO(issue 10)

use super::history::History;
use super::PublishError;
use crate::reporter::json::Report;
use std::path::Path;

pub fn write(report: &Report, history: Option<&History>, dir: &Path) -> Result<(), PublishError> {
    let _ = (report, history, dir);
    todo!("issue 10: site")
}
