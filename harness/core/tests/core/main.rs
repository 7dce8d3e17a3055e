//! The core's integration tests, one binary: the streaming corpus is
//! generated, the docs hold together, the crate layers, seeded bugs are
//! found, an engine repo builds and runs against the packaged crate.

mod corpus;
mod coverage;
mod docs;
mod engine_repo;
mod layers;
mod seeded_bugs;
mod wpt;
