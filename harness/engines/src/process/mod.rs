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
use std::path::{Path, PathBuf};
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
/// a directory of this user's named by their contents, once per process;
/// the command runs the transport. Each file is written under a temporary
/// name and renamed, so a worker of another run never imports a
/// half-written one.
fn driver_path() -> Result<String, String> {
    static PATH: OnceLock<Result<String, String>> = OnceLock::new();
    PATH.get_or_init(|| {
        let name = format!(
            "streamconform-driver-{}-{:016x}",
            // SAFETY: geteuid has no preconditions and cannot fail.
            unsafe { libc::geteuid() },
            module_id(format!("{DRIVER_CORE}\0{STDIO_TRANSPORT}").as_bytes())
        );
        let dir = private_dir(&std::env::temp_dir(), &name).map_err(|e| {
            format!("making a directory for the driver in the temporary directory: {e}")
        })?;
        let write = |name: &str, text: &str| -> std::io::Result<std::path::PathBuf> {
            let path = dir.join(name);
            let partial = dir.join(format!("{name}.{}.partial", std::process::id()));
            std::fs::write(&partial, text)?;
            std::fs::rename(&partial, &path)?;
            Ok(path)
        };
        let written =
            write("driver-core.mjs", DRIVER_CORE).and_then(|_| write("stdio.mjs", STDIO_TRANSPORT));
        match written {
            Ok(path) => Ok(path.display().to_string()),
            Err(e) => Err(format!("writing the driver to {}: {e}", dir.display())),
        }
    })
    .clone()
}

/// `parent/name` if it is a directory only this user can write (made now
/// with mode 0700, or found so and not a link), else a fresh directory of
/// that kind beside it, kept for the process's life. The temporary
/// directory is shared: another user who made `name` first could swap the
/// driver a worker imports, or plant a link the harness writes through,
/// and so forge results; he costs at most the sharing of the driver
/// between runs.
fn private_dir(parent: &Path, name: &str) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let dir = parent.join(name);
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => return Ok(dir),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let found = std::fs::symlink_metadata(&dir)?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let ours = found.uid() == unsafe { libc::geteuid() };
    if found.is_dir() && ours && found.mode() & 0o077 == 0 {
        return Ok(dir);
    }
    Ok(tempfile::Builder::new()
        .prefix(&format!("{name}-"))
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir_in(parent)?
        .keep())
}

#[cfg(test)]
mod tests {
    use super::private_dir;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_driver_directory_is_made_private_to_this_user() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = private_dir(tmp.path(), "driver").unwrap();
        assert_eq!(dir, tmp.path().join("driver"));
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        // Found again (another run of this user's), it is shared.
        assert_eq!(private_dir(tmp.path(), "driver").unwrap(), dir);
    }

    /// A name taken by a directory others can write to, or by a link
    /// (what another user could plant in the shared temporary directory),
    /// is not used: a fresh private directory is.
    #[test]
    fn a_planted_driver_directory_or_link_is_not_used() {
        let tmp = tempfile::tempdir().unwrap();
        let open = tmp.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(elsewhere.path(), &link).unwrap();
        for planted in [&open, &link] {
            let name = planted.file_name().unwrap().to_str().unwrap();
            let dir = private_dir(tmp.path(), name).unwrap();
            assert_ne!(&dir, planted);
            assert_eq!(dir.parent(), Some(tmp.path()));
            let found = std::fs::symlink_metadata(&dir).unwrap();
            assert!(found.is_dir());
            assert_eq!(found.permissions().mode() & 0o777, 0o700);
        }
    }
}
