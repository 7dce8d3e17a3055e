//! Test doubles that inject faults: a backend that hangs, crashes or lies.
//! They exist to prove that the runner and the verdicts catch such engines;
//! they are never offered as a backend to users.

use super::{Backend, BackendInfo, ReferenceBackend, StreamingBody};
use crate::features::Features;
use crate::outcome::{Fingerprint, Outcome};

/// Misbehaves on purpose when a body contains one of the marker strings
/// below (put them in a custom section), and otherwise acts as the
/// reference backend.
#[derive(Clone, Copy, Debug, Default)]
pub struct FaultInjectingBackend;

/// Streaming compile never returns.
pub const HANG: &[u8] = b"fault:hang";
/// Streaming compile panics.
pub const PANIC: &[u8] = b"fault:panic";
/// Streaming compile answers Module, whatever the bytes, when the body
/// arrives in more than one non-empty chunk: a chunking-dependent bug.
pub const LIE_WHEN_SPLIT: &[u8] = b"fault:lie-when-split";

/// The first one-shot compile of a body (in this process) answers a
/// CompileError; later ones answer truly: a case fails its first run (the
/// invariance oracle disagrees with every plan) and passes when run again.
pub const FAIL_FIRST_RUN: &[u8] = b"fault:fail-first-run";

impl Backend for FaultInjectingBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: "fault-injecting".into(),
            version: "test double".into(),
        }
    }

    fn compile_streaming(&self, body: StreamingBody<'_>, features: &Features) -> Outcome {
        let chunks: Vec<&[u8]> = body.chunks.clone().collect();
        let bytes = chunks.concat();
        if contains(&bytes, HANG) {
            loop {
                std::thread::park();
            }
        }
        if contains(&bytes, PANIC) {
            panic!("injected panic");
        }
        if contains(&bytes, LIE_WHEN_SPLIT) && chunks.iter().filter(|c| !c.is_empty()).count() > 1 {
            return Outcome::Module {
                fingerprint: Fingerprint::default(),
            };
        }
        ReferenceBackend.compile_streaming(body, features)
    }

    fn compile_one_shot(&self, bytes: &[u8], features: &Features) -> Outcome {
        if contains(bytes, FAIL_FIRST_RUN) {
            static SEEN: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());
            let mut seen = SEEN.lock().unwrap();
            if !seen.iter().any(|b| b == bytes) {
                seen.push(bytes.to_vec());
                return Outcome::CompileError {
                    message: "injected: fails on the first run only".into(),
                };
            }
        }
        ReferenceBackend.compile_one_shot(bytes, features)
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
