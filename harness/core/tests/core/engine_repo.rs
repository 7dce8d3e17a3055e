//! An engine repo outside the workspace, built against the core's package:
//! what `streamconform = "0.1"` gives a user, not what the workspace path
//! gives us.
//!
//! The test packs the core (`cargo package --no-verify`), unpacks the
//! `.crate`, writes a scratch crate that depends on the unpacked directory,
//! implements `Backend` with the crate's root names only and runs
//! `Conformance` on the `streaming` suite from a `harness = false` test, and
//! runs `cargo test` there. It must pass with cases run; and with a bug
//! seeded in the scratch engine (the last chunk lost) it must fail, so a
//! pass means something.
//!
//! Everything lives under the target directory's `tmp/engine-repo/`, with
//! its own target directory there: later runs rebuild only what changed.
//! Cargo runs offline when the registry cache has everything, else online.

use flate2::read::GzDecoder;
use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The scratch engine: a real backend in about twenty lines, as an engine
/// repo would write it (it buffers the body and compiles it with the
/// reference backend's one-shot compile, built on wasmparser).
const SCRATCH_LIB: &str = r#"//! A scratch engine repo's backend.

use streamconform::{Backend, BackendInfo, BodyEnd, Features, Outcome, ReferenceBackend, StreamingBody};

/// Buffers the body, then compiles it in one go.
pub struct BufferingEngine {
    /// A seeded bug for the negative control: the last chunk is lost.
    pub lose_last_chunk: bool,
}

impl Backend for BufferingEngine {
    fn info(&self) -> BackendInfo {
        BackendInfo { name: "buffering".into(), version: env!("CARGO_PKG_VERSION").into() }
    }
    fn compile_streaming(&self, body: StreamingBody<'_>, features: &Features) -> Outcome {
        let count = body.chunks.len() - usize::from(self.lose_last_chunk);
        let bytes: Vec<u8> = body.chunks.take(count).flatten().copied().collect();
        match body.end {
            BodyEnd::Close => self.compile_one_shot(&bytes, features),
            BodyEnd::Error => Outcome::PassedThrough,
            BodyEnd::Never => Outcome::Pending,
        }
    }
    fn compile_one_shot(&self, bytes: &[u8], features: &Features) -> Outcome {
        ReferenceBackend.compile_one_shot(bytes, features)
    }
}
"#;

/// The streaming suite with the reduced plans and a few truncations per
/// module (each truncation of the 1 MiB module costs a 1 MiB compile per
/// plan; all of them would take half a minute).
const SCRATCH_TEST: &str = r#"use scratch_engine::BufferingEngine;
use streamconform::{Conformance, Limits, PlanSet, SuiteSpec};

fn main() {
    let lose_last_chunk = std::env::var_os("SCRATCH_ENGINE_BUG").is_some();
    Conformance::new(BufferingEngine { lose_last_chunk })
        .suites([SuiteSpec::Streaming])
        .plans(PlanSet::Reduced)
        .limits(Limits { max_truncations_per_module: 16, ..Limits::default() })
        .run_as_test_harness()
}
"#;

fn scratch_manifest(core: &Path) -> String {
    format!(
        r#"[package]
name = "scratch-engine"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
streamconform = {{ path = {core:?} }}

[[test]]
name = "streaming"
harness = false

# Its own workspace, whatever directory it sits in.
[workspace]

[profile.dev.package."*"]
opt-level = 3
"#,
        core = core.display().to_string()
    )
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("harness/core/ has a grandparent")
        .to_path_buf()
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    // The outer run's target directory belongs to the outer run.
    command
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR");
    command
}

fn text(output: &Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs cargo offline; again online if offline resolution or download was
/// what failed (a cold registry cache), not the command itself.
fn run_cargo(args: &[&str], setup: impl Fn(&mut Command)) -> Output {
    let run = |offline: bool| {
        let mut command = cargo();
        command.args(args);
        if offline {
            command.arg("--offline");
        }
        setup(&mut command);
        command
            .output()
            .unwrap_or_else(|e| panic!("cargo {args:?}: {e}"))
    };
    let output = run(true);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let cold_cache =
        !output.status.success() && stderr.contains("offline") && !stderr.contains("Running ");
    if cold_cache {
        eprintln!("engine repo: the registry cache lacks something; cargo {args:?} online");
        run(false)
    } else {
        output
    }
}

/// Writes `bytes` to `path` unless it already holds them, so that an
/// unchanged file keeps its modification time and cargo rebuilds nothing.
fn write_if_changed(path: &Path, bytes: &[u8]) {
    if fs::read(path).is_ok_and(|old| old == bytes) {
        return;
    }
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// Unpacks the `.crate` (a gzipped tar of `NAME-VERSION/...`) into `into`,
/// rewriting only the files that changed and removing those that are gone.
/// Returns the package directory.
fn unpack(crate_file: &Path, into: &Path) -> PathBuf {
    let gz = fs::File::open(crate_file).unwrap_or_else(|e| panic!("{}: {e}", crate_file.display()));
    let mut archive = tar::Archive::new(GzDecoder::new(gz));
    let mut written = BTreeSet::new();
    for entry in archive.entries().expect("a .crate is a tar archive") {
        let mut entry = entry.expect("a tar entry");
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let relative = entry.path().expect("an entry path").into_owned();
        assert!(
            relative
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_))),
            "{}: an entry outside the package",
            relative.display()
        );
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        let path = into.join(&relative);
        write_if_changed(&path, &bytes);
        written.insert(path);
    }
    let package = into.join(format!("streamconform-{VERSION}"));
    assert!(
        package.join("Cargo.toml").is_file(),
        "{} has no {}",
        crate_file.display(),
        package.join("Cargo.toml").display()
    );
    for entry in walkdir::WalkDir::new(into) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() && !written.contains(entry.path()) {
            fs::remove_file(entry.path()).unwrap();
        }
    }
    package
}

/// libtest's `N passed; M failed; K ignored` of a run's last summary.
fn counts(stdout: &str) -> Option<(usize, usize, usize)> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("test result:"))?;
    let number = |word: &str| -> Option<usize> {
        let words: Vec<&str> = line
            .split([' ', ';', '.'])
            .filter(|w| !w.is_empty())
            .collect();
        let at = words.iter().position(|w| *w == word)?;
        words.get(at.checked_sub(1)?)?.parse().ok()
    };
    Some((number("passed")?, number("failed")?, number("ignored")?))
}

#[test]
fn an_engine_repo_runs_the_packaged_crate() {
    let started = Instant::now();
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("engine-repo");
    let root = workspace_root();

    // The package, as `cargo publish` would upload it.
    let package_target = base.join("package-target");
    let packed = run_cargo(
        &[
            "package",
            "-p",
            "streamconform",
            "--no-verify",
            "--allow-dirty",
        ],
        |c| {
            c.current_dir(&root)
                .arg("--target-dir")
                .arg(&package_target);
        },
    );
    assert!(
        packed.status.success(),
        "cargo package failed\n{}",
        text(&packed)
    );
    let crate_file = package_target.join(format!("package/streamconform-{VERSION}.crate"));
    let core = unpack(&crate_file, &base.join("unpacked"));

    // The engine repo: its own workspace, the package as a path dependency.
    let scratch = base.join("scratch-engine");
    write_if_changed(
        &scratch.join("Cargo.toml"),
        scratch_manifest(&core).as_bytes(),
    );
    write_if_changed(&scratch.join("src/lib.rs"), SCRATCH_LIB.as_bytes());
    write_if_changed(&scratch.join("tests/streaming.rs"), SCRATCH_TEST.as_bytes());
    // The versions the package was checked with, not whatever is newest
    // (cargo adds the scratch crate to it).
    write_if_changed(
        &scratch.join("Cargo.lock"),
        &fs::read(core.join("Cargo.lock")).unwrap(),
    );
    let manifest = scratch.join("Cargo.toml");
    let test = |bug: bool| {
        run_cargo(
            &[
                "test",
                "--test",
                "streaming",
                "--manifest-path",
                manifest.to_str().unwrap(),
            ],
            |c| {
                c.current_dir(&scratch)
                    .env("CARGO_TARGET_DIR", base.join("target"));
                if bug {
                    c.env("SCRATCH_ENGINE_BUG", "1");
                } else {
                    c.env_remove("SCRATCH_ENGINE_BUG");
                }
            },
        )
    };

    let good = test(false);
    let stdout = String::from_utf8_lossy(&good.stdout);
    assert!(
        good.status.success(),
        "the engine repo's cargo test failed\n{}",
        text(&good)
    );
    let (passed, failed, ignored) =
        counts(&stdout).unwrap_or_else(|| panic!("no libtest summary\n{}", text(&good)));
    assert_eq!(failed, 0, "{}", text(&good));
    assert!(
        passed >= 100,
        "only {passed} cases passed ({ignored} ignored): the streaming suite did not run\n{}",
        text(&good)
    );
    eprintln!(
        "engine repo: {passed} passed, {ignored} ignored, {:.1?} so far",
        started.elapsed()
    );

    // The negative control: the same repo with a bug seeded must fail.
    let bad = test(true);
    let stdout = String::from_utf8_lossy(&bad.stdout);
    assert!(
        !bad.status.success(),
        "a lost last chunk went unnoticed\n{}",
        text(&bad)
    );
    let (_, failed, _) =
        counts(&stdout).unwrap_or_else(|| panic!("no libtest summary\n{}", text(&bad)));
    assert!(failed > 0, "{}", text(&bad));
    eprintln!(
        "engine repo: with the seeded bug {failed} cases failed; {:.1?} in all",
        started.elapsed()
    );
}
