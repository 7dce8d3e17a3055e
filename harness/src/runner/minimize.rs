//! Minimization: shrinking a failing plan's cut list to the fewest cuts
//! that still fail the same oracles with the same outcome class, then
//! moving each cut toward a structural offset (delta debugging over cuts).

use crate::backend::BackendUnderTest;
use crate::case::Case;
use crate::error::Error;
use crate::verdict::{Minimized, PlanFailure};

/// Bounds on one minimization.
#[derive(Clone, Debug)]
pub struct MinimizeOptions {
    /// The most compiles one minimization may spend.
    pub max_attempts: usize,
}

impl Default for MinimizeOptions {
    fn default() -> Self {
        MinimizeOptions { max_attempts: 2000 }
    }
}

/// Shrinks `failure` (a failing plan of `case` on `backend`).
pub fn minimize(
    backend: &BackendUnderTest,
    case: &Case,
    failure: &PlanFailure,
    options: &MinimizeOptions,
) -> Result<Minimized, Error> {
    let _ = (backend, case, failure, options);
    todo!("issue 11: minimize")
}
