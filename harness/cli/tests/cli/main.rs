//! The `streamconform` command end to end, one test binary (its tests run
//! in parallel; the engine installs they need are serialized by the
//! install script's lock).

mod browsers;
mod cli;
mod common;
mod determinism;
mod faults;
mod flaky;
mod fuzz;
mod hostile;
mod minimize;
mod publish;
mod releases;
mod shard;
mod site;
mod suites;
