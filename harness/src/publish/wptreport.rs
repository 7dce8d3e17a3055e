//! TODO(issue 10)

use super::PublishError;
use crate::reporter::json::Report;
use std::path::Path;

pub fn write(report: &Report, path: &Path) -> Result<(), PublishError> {
    let _ = (report, path);
    todo!("issue 10: wptreport")
}
