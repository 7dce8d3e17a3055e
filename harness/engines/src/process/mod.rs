//! Out-of-process backends: any executable that speaks the streamconform
//! process protocol (`harness/engines/PROTOCOL.md`). The JS engines run one shared
//! driver compiled into this crate: `harness/engines/js/driver-core.mjs` (the
//! protocol, web-platform APIs only) under `harness/engines/js/stdio.mjs`.
//!
//! The pieces, shared with browser backends:
//! - `../launcher.rs` starts worker processes (own process group, dying
//!   with the harness; browsers start the same way);
//! - `../worker/` is any worker: its transport (stdio, WebSocket), the
//!   wire vocabulary, the protocol client and the pool;
//! - `../worker/engine.rs` is the backend over any workers: handshake,
//!   proposal detection, retries;
//! - this file says how a process worker starts: the command, its
//!   switches, the driver written out beside it.
//!
//! Workers are long-lived, one per core by default, each with many cases
//! in flight. A request lost with its worker (it exited, broke the
//! protocol, or was killed because a neighbour hung) runs again on a fresh
//! worker; one the worker took and never answered is a timeout.

pub use crate::worker::protocol::{Hello, PROTOCOL_VERSION};

use super::switches::{self, Switch};
use crate::js::{DRIVER_CORE, STDIO_TRANSPORT};
use crate::launcher::Launch;
use crate::loopback_server::{LoopbackServer, ServerOnDemand};
use crate::worker::engine::{WorkerBackend, WorkerPool, WorkerSource};
use crate::worker::pool::Pool;
use crate::worker::protocol::module_id;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// A backend whose workers are processes: the worker backend over them.
pub type ProcessBackend = WorkerBackend;

/// Any executable that speaks the protocol: `command` is the program and
/// its arguments.
pub fn backend(
    name: &str,
    command: Vec<String>,
    workers: usize,
    settle: Duration,
) -> ProcessBackend {
    let source = ProcessSource {
        program_and_args: command,
        script: Vec::new(),
        server: ServerOnDemand::default(),
    };
    WorkerBackend::new(name, Box::new(source), Vec::new(), workers, settle)
}

/// A JS engine running the shared driver: `program [args...]
/// [switches...] DRIVER`, with the candidate switches of `engine`.
pub fn js(
    name: &str,
    engine: &str,
    program_and_args: &[String],
    workers: usize,
    settle: Duration,
) -> Result<ProcessBackend, String> {
    let source = ProcessSource {
        program_and_args: program_and_args.to_vec(),
        script: vec![driver_path()?],
        server: ServerOnDemand::default(),
    };
    Ok(WorkerBackend::new(
        name,
        Box::new(source),
        switches::candidates(engine),
        workers,
        settle,
    ))
}

struct ProcessSource {
    /// The command up to where switches go (`node`, `deno run ...`), and
    /// what follows them (the driver script).
    program_and_args: Vec<String>,
    script: Vec<String>,
    /// Started on the first case that fetches.
    server: ServerOnDemand,
}

impl ProcessSource {
    fn launch(&self, set: &[Switch]) -> Launch {
        let rendered = switches::render(set);
        let mut command = self.program_and_args.clone();
        command.extend(rendered.args);
        command.extend(self.script.iter().cloned());
        Launch {
            command,
            env: rendered.env,
        }
    }
}

impl WorkerSource for ProcessSource {
    fn pool(&self, switches: &[Switch], size: usize) -> Arc<dyn WorkerPool> {
        Arc::new(Pool::new(self.launch(switches), size))
    }

    fn server(&self) -> Result<Arc<LoopbackServer>, String> {
        self.server.get()
    }
}

/// Writes the embedded driver, core and stdio transport side by side, to
/// a directory named by their contents, once per process; the command runs
/// the transport. Each file is written under a temporary name and renamed,
/// so a worker of another run never imports a half-written one.
fn driver_path() -> Result<String, String> {
    static PATH: OnceLock<Result<String, String>> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!(
            "streamconform-driver-{:016x}",
            module_id(format!("{DRIVER_CORE}\0{STDIO_TRANSPORT}").as_bytes())
        ));
        let write = |name: &str, text: &str| -> std::io::Result<std::path::PathBuf> {
            let path = dir.join(name);
            let partial = dir.join(format!("{name}.{}.partial", std::process::id()));
            std::fs::write(&partial, text)?;
            std::fs::rename(&partial, &path)?;
            Ok(path)
        };
        let written = std::fs::create_dir_all(&dir)
            .and_then(|()| write("driver-core.mjs", DRIVER_CORE))
            .and_then(|_| write("stdio.mjs", STDIO_TRANSPORT));
        match written {
            Ok(path) => Ok(path.display().to_string()),
            Err(e) => Err(format!("writing the driver to {}: {e}", dir.display())),
        }
    })
    .clone()
}
