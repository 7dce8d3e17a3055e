//! Helpers shared by the integration tests: driving the `streamconform`
//! binary, and the live processes `/proc` shows.
// Each test crate that includes this module uses its own part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Runs the binary in `dir`, outside CI (so `--bless` is allowed).
pub fn streamconform(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_streamconform"))
        .args(args)
        .current_dir(dir)
        .env_remove("CI")
        .output()
        .expect("run streamconform")
}

/// Installs Debian's chromium and firefox-esr if missing
/// (`scripts/install-engines.sh browsers`), or fails the test.
pub fn install_browsers() {
    static OUTCOME: OnceLock<Result<(), String>> = OnceLock::new();
    installed(&OUTCOME, "browsers");
}

/// Installs deno and bun into `engines/bin` if missing
/// (`scripts/install-engines.sh js`), or fails the test.
pub fn install_js_engines() {
    static OUTCOME: OnceLock<Result<(), String>> = OnceLock::new();
    installed(&OUTCOME, "js");
}

/// Runs the install script for `what` once per test process: the tests of
/// this binary run in parallel, and those that need it wait for that one
/// run and all get its outcome (a failure fails each of them, with the
/// script's output). Other processes (nextest runs each test in its own,
/// and other test binaries may run alongside) are serialized by the
/// script's own lock, and find the engines installed.
fn installed(outcome: &OnceLock<Result<(), String>>, what: &str) {
    if let Err(reason) = outcome.get_or_init(|| run_install_script(what)) {
        panic!("{reason}");
    }
}

fn run_install_script(what: &str) -> Result<(), String> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/install-engines.sh"
    );
    let out = Command::new("bash")
        .args([script, what])
        .output()
        .map_err(|e| format!("cannot run {script}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{script} {what} failed ({}): {}",
            out.status,
            text(&out)
        ))
    }
}

/// stdout then stderr, for assertions and failure messages.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A process that is alive (not a zombie), as `/proc` shows it.
pub struct LiveProcess {
    pub pid: u32,
    pub parent: u32,
    pub process_group: u32,
    /// Its `/proc/PID` directory.
    pub dir: std::path::PathBuf,
}

/// Every live process this user can see.
pub fn live_processes() -> Vec<LiveProcess> {
    let mut live = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // After the command name: state, ppid, pgrp.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace()
            .collect();
        let Some(process_group) = fields.get(2).and_then(|g| g.parse().ok()) else {
            continue;
        };
        if fields[0] != "Z" {
            live.push(LiveProcess {
                pid,
                parent: fields[1].parse().unwrap_or(0),
                process_group,
                dir: entry.path(),
            });
        }
    }
    live
}

/// The part of a reported result that nothing outside the engine (a fault,
/// a killed worker, a retry) may change.
pub fn judged(case: &streamconform::reporter::json::ReportedCase) -> String {
    format!(
        "{:?} {:?} {:?} {:?}",
        case.verdict,
        case.one_shot,
        case.failing_plans
            .iter()
            .map(|p| (&p.plan, &p.actual))
            .collect::<Vec<_>>(),
        case.aborted
    )
}

/// A fresh directory under the target dir, named after the test, with an
/// empty `suite/` in it.
pub fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("suite")).unwrap();
    dir
}

pub const VALID: &str = "(module (func (export \"f\")))\n";
/// A plain `module` directive whose bytes are malformed: the suite itself is
/// wrong about it, so every backend "fails" it. Used to get exit code 1.
pub const WRONG_EXPECTATION: &str = "(module binary \"\\00asm\" \"\\01\\00\\00\\00\" \"\\0b\")\n";

/// A JSON report without what differs from run to run: when it started,
/// how long it and each case took.
pub fn report_without_timings(path: &Path) -> serde_json::Value {
    let mut report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap();
    report["run"].as_object_mut().unwrap().remove("started_at");
    report["finished"]
        .as_object_mut()
        .unwrap()
        .remove("elapsed_secs");
    for result in report["results"].as_array_mut().unwrap() {
        result.as_object_mut().unwrap().remove("duration_ms");
    }
    report
}

/// The loopback TCP ports `pid` listens on: its socket inodes
/// (`/proc/PID/fd`) looked up in `/proc/net/tcp`, which lists every
/// user's sockets. What a local attacker (or a fault-injection double
/// playing one) finds of a run.
pub fn loopback_ports(pid: u32) -> Vec<u16> {
    let inodes: std::collections::HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|link| {
            let link = link.to_string_lossy().into_owned();
            Some(
                link.strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_string(),
            )
        })
        .collect();
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (address, port) = fields.get(1)?.split_once(':')?;
            let listening = fields.get(3) == Some(&"0A");
            (address == "0100007F" && listening && inodes.contains(*fields.get(9)?))
                .then(|| u16::from_str_radix(port, 16).ok())
                .flatten()
        })
        .collect()
}
