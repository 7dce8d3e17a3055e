//! The core's integration tests, one binary: the streaming corpus is
//! generated, the docs hold together, the crate layers, seeded bugs are found.

mod corpus;
mod docs;
mod layers;
mod seeded_bugs;
