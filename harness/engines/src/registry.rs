//! The named backends: what `--backend NAME` builds.

use crate::releases::{self, ReleaseSpec};
use crate::{browser, process};
use streamconform::backend::{BackendUnderTest, ReferenceBackend, WorkerTiming};
use streamconform::error::Error;

/// The names `--backend` accepts (plus `ENGINE@VERSION`, a release of node,
/// deno or bun: `releases.rs`; and `command:PROGRAM`, any executable that
/// speaks the process protocol).
pub const BACKEND_NAMES: &[&str] = &[
    "reference",
    "node",
    "deno",
    "bun",
    "chromium",
    "firefox",
    "webkit",
];

/// Builds a backend by its command-line name.
pub fn by_name(name: &str) -> Result<BackendUnderTest, Error> {
    by_name_with(name, WorkerTiming::default())
}

/// [`by_name`] with the clocks of out-of-process engines.
pub fn by_name_with(name: &str, timing: WorkerTiming) -> Result<BackendUnderTest, Error> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let unknown = |available: String| Error::UnknownBackend {
        name: name.to_string(),
        available,
    };
    let unavailable = |reason: String| Error::BackendUnavailable {
        name: name.to_string(),
        reason,
    };
    if let Some(spec) = ReleaseSpec::parse(name) {
        let spec = spec.map_err(|message| Error::InvalidBackendName {
            name: name.to_string(),
            message,
        })?;
        let binary = releases::installed_binary(&spec).map_err(unavailable)?;
        return js_engine(
            name,
            spec.engine,
            binary.display().to_string(),
            workers,
            timing,
        )
        .map_err(unavailable);
    }
    match name {
        "reference" => Ok(BackendUnderTest::complete(ReferenceBackend)),
        "node" | "deno" | "bun" => {
            js_engine(name, name, engine_binary(name), workers, timing).map_err(unavailable)
        }
        "chromium" | "firefox" | "webkit" => {
            let kind = browser::launcher::BrowserKind::ALL
                .iter()
                .find(|kind| kind.name() == name)
                .expect("every browser backend is a kind");
            let mut backend = browser::backend(*kind, workers, timing.settle);
            backend.set_hang_grace(timing.hang_grace);
            Ok(BackendUnderTest::complete(backend))
        }
        _ => match name.strip_prefix("command:") {
            Some(program) => {
                let mut backend =
                    process::backend(name, vec![program.to_string()], workers, timing.settle);
                backend.set_hang_grace(timing.hang_grace);
                Ok(BackendUnderTest::complete(backend))
            }
            None => Err(unknown(format!(
                "{}, {}@VERSION, command:PROGRAM",
                BACKEND_NAMES.join(", "),
                releases::VERSIONED_ENGINES.join("|")
            ))),
        },
    }
}

/// The JS engine `engine` (node, deno, bun) run from `program`, named
/// `name` (the engine's, or a release's: `node@22`).
fn js_engine(
    name: &str,
    engine: &str,
    program: String,
    workers: usize,
    timing: WorkerTiming,
) -> Result<BackendUnderTest, String> {
    let mut command = vec![program];
    // The loopback server is the only network a case may reach.
    if engine == "deno" {
        command.extend(["run", "--quiet", "--allow-net=127.0.0.1"].map(String::from));
    }
    let mut backend = process::js(name, engine, &command, workers, timing.settle)?;
    backend.set_hang_grace(timing.hang_grace);
    Ok(BackendUnderTest::complete(backend))
}

/// Where an engine binary is: `STREAMCONFORM_<NAME>` if set; for deno and
/// bun, what `scripts/install-engines.sh` linked into an `engines/bin/`
/// directory (`STREAMCONFORM_ENGINES_DIR/bin`, else the first `engines/bin`
/// found from the current directory upwards: the checkout a run starts
/// in); otherwise the name on PATH (the machine's node).
///
/// Found at run time, not compile time: a published crate has no checkout
/// beside it.
pub fn engine_binary(name: &str) -> String {
    if let Ok(path) = std::env::var(format!("STREAMCONFORM_{}", name.to_ascii_uppercase())) {
        return path;
    }
    if name != "node" {
        if let Some(installed) = installed_engines_dir().map(|bin| bin.join(name)) {
            if installed.exists() {
                return installed.display().to_string();
            }
        }
    }
    name.to_string()
}

/// The `engines/bin` directory the install script fills, if there is one.
pub fn installed_engines_dir() -> Option<std::path::PathBuf> {
    if let Some(dir) = std::env::var_os("STREAMCONFORM_ENGINES_DIR") {
        return Some(std::path::PathBuf::from(dir).join("bin"));
    }
    let here = std::env::current_dir().ok()?;
    here.ancestors()
        .map(|dir| dir.join("engines/bin"))
        .find(|bin| bin.is_dir())
}

/// The named backends as the session builds them.
#[derive(Clone, Copy, Debug, Default)]
pub struct NamedBackends;

impl streamconform::session::BackendRegistry for NamedBackends {
    fn backend(&self, name: &str, timing: WorkerTiming) -> Result<BackendUnderTest, Error> {
        by_name_with(name, timing)
    }
}
