//! Differential fuzzing: modules generated from a seed (wasm-smith, valid
//! and mutated into invalid ones) run on every chosen backend under the
//! default plans; a backend that disagrees with the reference's one-shot
//! validation, or fails invariance, is a finding, saved as a replayable
//! case and minimized.
