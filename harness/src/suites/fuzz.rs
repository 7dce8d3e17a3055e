//! The `fuzz:SEED` suite: modules generated deterministically from a seed
//! and an index, so a case id regenerates its module.
