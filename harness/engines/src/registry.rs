//! The named backends: what `--backend NAME` builds.

use crate::{browser, process};
use streamconform::backend::{BackendUnderTest, ReferenceBackend, WorkerTiming};
use streamconform::error::Error;

/// The names `--backend` accepts (plus `command:PROGRAM`, any executable
/// that speaks the process protocol).
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
    let js = |program: String, args: &[&str]| -> Result<BackendUnderTest, Error> {
        let mut command = vec![program];
        command.extend(args.iter().map(|a| a.to_string()));
        process::js(name, name, &command, workers, timing.settle)
            .map(|mut backend| {
                backend.set_hang_grace(timing.hang_grace);
                BackendUnderTest::complete(backend)
            })
            .map_err(|e| Error::UnknownBackend {
                name: name.to_string(),
                available: e,
            })
    };
    match name {
        "reference" => Ok(BackendUnderTest::complete(ReferenceBackend)),
        "node" => js(engine_binary("node"), &[]),
        // The loopback server is the only network a case may reach.
        "deno" => js(
            engine_binary("deno"),
            &["run", "--quiet", "--allow-net=127.0.0.1"],
        ),
        "bun" => js(engine_binary("bun"), &[]),
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
            None => Err(Error::UnknownBackend {
                name: name.to_string(),
                available: format!("{}, command:PROGRAM", BACKEND_NAMES.join(", ")),
            }),
        },
    }
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
