//! `--bless`: rewrites each backend's expectations file from the run (see
//! `Expectations::blessed`). Refused under CI.

use crate::expectations::{BlessInput, Expectations};
use crate::runner::{Reporter, RunEvent};
use crate::verdict::{Status, Verdict};
use std::collections::BTreeMap;
use std::io;

pub struct Bless {
    /// backend name → its file (as the run judged with it), and what it saw.
    files: BTreeMap<String, (Expectations, Vec<BlessInput>)>,
    /// One line per file written, for the caller to print.
    pub written: Vec<String>,
}

impl Bless {
    pub fn new(expectations: impl IntoIterator<Item = Expectations>) -> Bless {
        Bless {
            files: expectations
                .into_iter()
                .map(|e| (e.backend.clone(), (e, Vec::new())))
                .collect(),
            written: Vec::new(),
        }
    }
}

impl Reporter for Bless {
    fn report(&mut self, event: &RunEvent<'_>) -> io::Result<()> {
        match event {
            RunEvent::CaseFinished(done) => {
                if let Some((_, seen)) = self.files.get_mut(done.backend) {
                    // Passing cases matter only if an entry names them.
                    if done.result.verdict == Verdict::Pass && done.status != Status::UnexpectedPass
                    {
                        return Ok(());
                    }
                    // A retry passed it: no deviation to record.
                    if done.status.is_flaky() {
                        return Ok(());
                    }
                    seen.push(BlessInput::from(*done));
                }
            }
            RunEvent::RunFinished(finished) if finished.interrupted => {
                self.written.push(
                    "not blessed: the run was interrupted, so its results are partial".into(),
                );
            }
            RunEvent::RunFinished(_) => {
                for (e, seen) in self.files.values() {
                    let blessed = e.blessed(seen);
                    blessed.write().map_err(io::Error::other)?;
                    self.written.push(format!(
                        "blessed {} entries and rules into {}",
                        blessed.len(),
                        blessed.path.display()
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }
}
