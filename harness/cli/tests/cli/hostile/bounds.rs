//! Items 9, 10, 11 and 13 of the trust review: numbers a careless user or
//! a hostile file gives (durations, `--jobs`, a repeated `--backend`,
//! times in a report), lines a worker never ends, module files that never
//! end or lie outside the suite, and suite entries that are not files.
//! Each is refused with exit 2 naming the flag or file and the limit, or
//! costs its own case; nothing panics, hangs (every run is killed and
//! failed after a minute) or grows without bound (peak memory is measured
//! with `wait4`, under a 4 GiB address-space cap). 47 hostile inputs.

use crate::common::{scratch, text, VALID};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs the binary in `dir` like `common::streamconform`, but kills it
/// after `limit`: a hang is a failure of the test, not a stuck test.
fn streamconform_within(args: &[&str], dir: &Path, limit: Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_streamconform"))
        .args(args)
        .current_dir(dir)
        .env_remove("CI")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run streamconform");
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "streamconform {args:?} still ran after {limit:?}: {}",
                text(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// A usage error: exit 2, no panic, and a message with every `needle`.
fn assert_refused(out: &Output, needles: &[&str], what: &str) {
    let t = text(out);
    assert!(!t.contains("panicked"), "{what}: {t}");
    assert_eq!(out.status.code(), Some(2), "{what}: {t}");
    for needle in needles {
        assert!(t.contains(needle), "{what}: expected {needle:?} in: {t}");
    }
}

/// Item 9: durations past what a clock can add panicked in every worker
/// (`--timeout`, and the process never ended) or in the worker client
/// (`--hang-timeout` on node); zero and just past the limit are refused too.
#[test]
fn durations_out_of_bounds_are_usage_errors_naming_flag_and_limit() {
    let dir = scratch("hostile-bounds-durations");
    std::fs::write(dir.join("suite/a.wast"), VALID).unwrap();
    // `streamconform::session::MAX_TIMEOUT_SECS`, a week.
    let limit = "604800";
    let just_past = "604801";
    let runs: [(&[&str], &str); 7] = [
        (&["--timeout", "9223372036854775807"], "--timeout"),
        (&["--timeout", "0"], "--timeout"),
        (&["--timeout", just_past], "--timeout"),
        (
            &[
                "--backend",
                "node",
                "--hang-timeout",
                "18446744073709551615",
            ],
            "--hang-timeout",
        ),
        (&["--hang-timeout", just_past], "--hang-timeout"),
        (
            &["--minimize", "--timeout", "18446744073709551615"],
            "--timeout",
        ),
        (
            &[
                "--backend",
                "reference",
                "--timeout",
                "18446744073709551615",
            ],
            "--timeout",
        ),
    ];
    for (extra, flag) in runs {
        let mut args = vec!["run", "--suite", "suite", "--quiet"];
        args.extend_from_slice(extra);
        let out = streamconform_within(&args, &dir, Duration::from_secs(60));
        assert_refused(&out, &[flag, limit], &format!("{extra:?}"));
    }
    // The other commands that run cases take the same clocks.
    let others: [&[&str]; 2] = [
        &[
            "minimize",
            "suite/a.wast:1",
            "--suite",
            "suite",
            "--hang-timeout",
            "18446744073709551615",
        ],
        &[
            "fuzz",
            "--seed",
            "1",
            "--count",
            "1",
            "--timeout",
            "18446744073709551615",
        ],
    ];
    for args in others {
        let out = streamconform_within(args, &dir, Duration::from_secs(60));
        assert_refused(&out, &[limit], &format!("{args:?}"));
    }
}

/// Item 13: a repeated `--backend` ran every case twice under one name and
/// failed only in the wptreport step after the run; `--jobs` out of
/// `1..=1024` was taken as given (100,000 threads for 2 cases).
#[test]
fn a_repeated_backend_and_jobs_out_of_bounds_are_usage_errors() {
    let dir = scratch("hostile-bounds-jobs");
    std::fs::write(dir.join("suite/a.wast"), VALID).unwrap();
    let runs: [(&[&str], &[&str]); 8] = [
        (
            &["--backend", "reference", "--backend", "reference"],
            &["--backend reference", "more than once"],
        ),
        (&["--jobs", "0"], &["--jobs", "1024"]),
        (&["--jobs", "1025"], &["--jobs", "1024"]),
        (&["--jobs", "100000"], &["--jobs", "1024"]),
        (&["--jobs", "18446744073709551615"], &["--jobs", "1024"]),
        (&["--backends-at-once", "0"], &["--backends-at-once", "64"]),
        (&["--backends-at-once", "65"], &["--backends-at-once", "64"]),
        (
            &[
                "--backend",
                "reference",
                "--backend",
                "node",
                "--backend",
                "reference",
            ],
            &["--backend reference", "more than once"],
        ),
    ];
    for (extra, needles) in runs {
        let mut args = vec!["run", "--suite", "suite", "--quiet"];
        args.extend_from_slice(extra);
        let out = streamconform_within(&args, &dir, Duration::from_secs(60));
        assert_refused(&out, needles, &format!("{extra:?}"));
    }
    let fuzz = streamconform_within(
        &[
            "fuzz",
            "--seed",
            "1",
            "--count",
            "1",
            "--backend",
            "reference",
            "--backend",
            "reference",
        ],
        &dir,
        Duration::from_secs(60),
    );
    assert_refused(&fuzz, &["more than once"], "fuzz with a repeated backend");
    // The bounds themselves are fine.
    for jobs in ["1", "1024"] {
        let out = streamconform_within(
            &["run", "--suite", "suite", "--quiet", "--jobs", jobs],
            &dir,
            Duration::from_secs(60),
        );
        assert_eq!(out.status.code(), Some(0), "--jobs {jobs}: {}", text(&out));
    }
}

/// Item 9, report side: a report is a file anyone can edit; times no run
/// gives (1e308 seconds panicked in the JUnit writer, negative ones) are
/// refused naming the file and the field, by every output, and a history
/// night with impossible numbers does not panic either.
#[test]
fn a_report_with_impossible_numbers_is_refused_naming_file_and_field() {
    let dir = scratch("hostile-bounds-report");
    std::fs::write(dir.join("suite/a.wast"), VALID).unwrap();
    let out = streamconform_within(
        &["run", "--suite", "suite", "--quiet", "--report", "r.json"],
        &dir,
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let good: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("r.json")).unwrap()).unwrap();
    let outputs: [&[&str]; 4] = [
        &["--junit", "j.xml"],
        &["--wptreport", "w.json"],
        &["--markdown", "m.md"],
        &["--html", "site"],
    ];
    for elapsed in ["1e308", "-1", "1.7976931348623157e308", "-0.5e300"] {
        let mut report = good.clone();
        report["finished"]["elapsed_secs"] = serde_json::from_str(elapsed).unwrap();
        std::fs::write(dir.join("bad.json"), report.to_string()).unwrap();
        for output in outputs {
            let mut args = vec!["report", "bad.json"];
            args.extend_from_slice(output);
            let out = streamconform_within(&args, &dir, Duration::from_secs(60));
            assert_refused(
                &out,
                &["bad.json", "finished.elapsed_secs"],
                &format!("elapsed_secs {elapsed} {output:?}"),
            );
        }
    }
    // JSON has no infinity: a number past f64 is not a report at all.
    let json = good.to_string();
    let elapsed = format!("\"elapsed_secs\":{}", good["finished"]["elapsed_secs"]);
    assert!(json.contains(&elapsed), "{json}");
    std::fs::write(
        dir.join("bad.json"),
        json.replacen(&elapsed, "\"elapsed_secs\":1e400", 1),
    )
    .unwrap();
    let out = streamconform_within(
        &["report", "bad.json", "--junit", "j.xml"],
        &dir,
        Duration::from_secs(60),
    );
    assert_refused(&out, &["bad.json", "out of range"], "elapsed_secs 1e400");
    // Durations of cases as long as a u64 holds: written, not a panic.
    let mut report = good.clone();
    for result in report["results"].as_array_mut().unwrap() {
        result["duration_ms"] = u64::MAX.into();
    }
    std::fs::write(dir.join("long.json"), report.to_string()).unwrap();
    let mut args = vec!["report", "long.json"];
    for output in outputs {
        args.extend_from_slice(output);
    }
    let out = streamconform_within(&args, &dir, Duration::from_secs(60));
    assert_eq!(
        out.status.code(),
        Some(0),
        "duration_ms u64::MAX: {}",
        text(&out)
    );
    // A night kept in a history directory, edited: huge counts and time.
    let mut night = good.clone();
    night["run"]["started_at"] = "2020-01-01T00:00:00Z".into();
    night["run"]["revision"] = serde_json::Value::Null;
    for row in night["summary"].as_array_mut().unwrap() {
        for field in ["cases", "passed", "unexpected_passes"] {
            row[field] = u64::MAX.into();
        }
    }
    std::fs::create_dir_all(dir.join("h")).unwrap();
    let night_file = dir.join("h/2020-01-01-norev.json");
    std::fs::write(&night_file, night.to_string()).unwrap();
    let out = streamconform_within(
        &[
            "report",
            "r.json",
            "--history",
            "h",
            "--markdown",
            "m.md",
            "--html",
            "site",
        ],
        &dir,
        Duration::from_secs(60),
    );
    assert!(
        !text(&out).contains("panicked") && out.status.code() == Some(0),
        "huge counts in a night: {}",
        text(&out)
    );
    night["finished"]["elapsed_secs"] = 1e308.into();
    std::fs::write(&night_file, night.to_string()).unwrap();
    let out = streamconform_within(
        &["report", "r.json", "--history", "h", "--markdown", "m.md"],
        &dir,
        Duration::from_secs(60),
    );
    assert_refused(
        &out,
        &["2020-01-01-norev.json", "finished.elapsed_secs"],
        "a night claiming 1e308 s",
    );
}

/// What a finished child left: its output, exit status and peak memory.
struct Measured {
    out: Output,
    max_rss_kib: i64,
}

/// Runs the binary in `dir` with at most 4 GiB of address space (so code
/// that reads without bound fails instead of taking the machine), kills it
/// after `limit`, and measures its peak resident memory (`wait4`, this
/// child's alone).
// The child is reaped by `wait4`, which also gives its peak memory.
#[allow(clippy::zombie_processes)]
fn streamconform_measured(args: &[&str], dir: &Path, limit: Duration) -> Measured {
    use std::io::Read;
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let mut command = Command::new(env!("CARGO_BIN_EXE_streamconform"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("CI")
        // glibc reserves 64 MiB of address space per malloc arena, up to
        // eight per core: on a large machine that alone would reach the cap.
        .env("MALLOC_ARENA_MAX", "4")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs in between.
    unsafe {
        command.pre_exec(|| {
            let cap = libc::rlimit {
                rlim_cur: 4 << 30,
                rlim_max: 4 << 30,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &cap) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().expect("run streamconform");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let pid = child.id() as libc::pid_t;
    let started = Instant::now();
    let (mut status, mut usage) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
    loop {
        // SAFETY: plain syscall on our own child, with valid pointers.
        let done = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if done == pid {
            break;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("streamconform {args:?} still ran after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Measured {
        out: Output {
            status: std::process::ExitStatus::from_raw(status),
            stdout: stdout.join().unwrap(),
            stderr: stderr.join().unwrap(),
        },
        max_rss_kib: usage.ru_maxrss,
    }
}

/// A valid module that exports a function `f`.
const ADD_WASM: &[u8] =
    b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0\x03\x02\x01\0\x07\x05\x01\x01f\0\0\x0a\x04\x01\x02\0\x0b";

/// A Web API case named `name` whose module is the file `path`.
fn file_case(name: &str, path: &str) -> String {
    format!("[[case]]\nname = \"{name}\"\nstep = \"2.F.9\"\nmodule = {{ file = \"{path}\" }}\nexpect = \"module\"\n\n")
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

/// Items 10 and 11, module files: `/dev/zero` was read until memory ran
/// out (`--max-module-bytes` was checked after the read), a FIFO hung the
/// run, and `../../../../etc/passwd` was read and streamed. Each now costs
/// its case with an error naming the file and why; a file past the limit
/// is read no further than the limit; the good case still runs.
#[test]
fn module_files_are_bounded_regular_files_inside_the_suite() {
    let dir = scratch("hostile-bounds-module-files");
    let suite = dir.join("suite");
    std::fs::write(suite.join("add.wasm"), ADD_WASM).unwrap();
    std::fs::write(dir.join("outside.wasm"), ADD_WASM).unwrap();
    std::os::unix::fs::symlink(dir.join("outside.wasm"), suite.join("link.wasm")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", suite.join("passwd.wasm")).unwrap();
    mkfifo(&suite.join("pipe.wasm"));
    // Sparse: 64 MiB that take no disk, four times the module limit.
    std::fs::File::create(suite.join("big.wasm"))
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    let bad = [
        ("zero", "/dev/zero", "outside the suite"),
        ("fifo", "pipe.wasm", "a FIFO"),
        ("big", "big.wasm", "--max-module-bytes"),
        (
            "dotdot",
            "../../../../../../../../../../etc/passwd",
            "outside the suite",
        ),
        ("absolute", "/etc/passwd", "outside the suite"),
        ("linked-passwd", "passwd.wasm", "outside the suite"),
        ("linked-module", "link.wasm", "outside the suite"),
        ("up-one", "../outside.wasm", "outside the suite"),
        ("directory", ".", "a directory"),
    ];
    let run = run_file_cases(&dir, &bad, &[]);
    let t = text(&run.out);
    assert!(!t.contains("panicked"), "{t}");
    assert_eq!(run.out.status.code(), Some(2), "{t}");
    for (name, _, why) in bad {
        let line = t
            .lines()
            .find(|l| l.contains(&format!("case \"{name}\"")))
            .unwrap_or_else(|| panic!("no error for case {name}: {t}"));
        assert!(
            line.contains(why),
            "case {name}: expected {why:?} in {line}"
        );
    }
    // One more: the walk reports the FIFO in the suite directory itself.
    assert_only_the_good_case_ran(&dir, bad.len() + 1);
    // The 64 MiB file is read no further than the 16 MiB limit: the whole
    // run stays well below it plus the file.
    assert!(
        run.max_rss_kib < 200 << 10,
        "peak memory {} KiB: {t}",
        run.max_rss_kib
    );

    // The user may opt out for a suite they trust: files outside are
    // read, if they are regular files.
    let trusted = scratch("hostile-bounds-module-files-trusted");
    std::fs::write(trusted.join("suite/add.wasm"), ADD_WASM).unwrap();
    mkfifo(&trusted.join("pipe.wasm"));
    let outside = [
        ("zero", "/dev/zero", "a device"),
        ("fifo", "../pipe.wasm", "a FIFO"),
    ];
    let allowed = run_file_cases(&trusted, &outside, &["--allow-files-outside-suite"]);
    let t = text(&allowed.out);
    assert_eq!(allowed.out.status.code(), Some(2), "{t}");
    for (name, _, why) in outside {
        assert!(
            t.contains(&format!("case \"{name}\"")) && t.contains(why),
            "{name}: {t}"
        );
    }
    assert_only_the_good_case_ran(&trusted, outside.len());
    // Up and back in is inside; out is refused unless allowed.
    std::fs::write(
        trusted.join("suite/api.toml"),
        file_case("up-and-in", "../suite/add.wasm"),
    )
    .unwrap();
    let inside = streamconform_within(
        &["run", "--suite", "suite", "--quiet"],
        &trusted,
        Duration::from_secs(60),
    );
    assert_eq!(inside.status.code(), Some(0), "{}", text(&inside));
    std::fs::write(trusted.join("outside.wasm"), ADD_WASM).unwrap();
    std::fs::write(
        trusted.join("suite/api.toml"),
        file_case("up-one", "../outside.wasm"),
    )
    .unwrap();
    let refused = streamconform_within(
        &["run", "--suite", "suite", "--quiet"],
        &trusted,
        Duration::from_secs(60),
    );
    assert_refused(
        &refused,
        &["outside.wasm", "--allow-files-outside-suite"],
        "up one, not allowed",
    );
    let allowed = streamconform_within(
        &[
            "run",
            "--suite",
            "suite",
            "--quiet",
            "--allow-files-outside-suite",
        ],
        &trusted,
        Duration::from_secs(60),
    );
    assert_eq!(allowed.status.code(), Some(0), "{}", text(&allowed));
}

/// Runs `suite/api.toml` of `dir`: a good case `fine` (`add.wasm`) and one
/// case per `(name, module file, _)` of `bad`.
fn run_file_cases(dir: &Path, bad: &[(&str, &str, &str)], extra: &[&str]) -> Measured {
    std::fs::write(dir.join("suite/add.wasm"), ADD_WASM).unwrap();
    let mut cases = file_case("fine", "add.wasm");
    for (name, path, _) in bad {
        cases.push_str(&file_case(name, path));
    }
    std::fs::write(dir.join("suite/api.toml"), &cases).unwrap();
    let mut args = vec!["run", "--suite", "suite", "--quiet", "--report", "r.json"];
    args.extend_from_slice(extra);
    streamconform_measured(&args, dir, Duration::from_secs(60))
}

/// The report of `dir` has the good case alone, and `errors` input errors.
fn assert_only_the_good_case_ran(dir: &Path, errors: usize) {
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("r.json")).unwrap()).unwrap();
    let results = report["results"].as_array().unwrap();
    assert!(
        results.len() == 1 && results[0]["id"] == "suite/api/fine",
        "only the good case runs: {results:?}"
    );
    assert_eq!(report["input_errors"].as_array().unwrap().len(), errors);
}

/// Item 11: a FIFO or a device named `.wast` in a suite directory was
/// skipped with exit 0. Each is now an input error naming it (exit 2,
/// counted in the report); the other cases still run.
#[test]
fn a_fifo_or_device_case_file_is_an_error_naming_it() {
    let dir = scratch("hostile-bounds-special-case-files");
    let suite = dir.join("suite");
    std::fs::write(suite.join("a.wast"), VALID).unwrap();
    mkfifo(&suite.join("fifo.wast"));
    mkfifo(&suite.join("api.toml"));
    std::os::unix::fs::symlink("/dev/zero", suite.join("zero.wast")).unwrap();
    std::os::unix::fs::symlink("/dev/null", suite.join("null.wast")).unwrap();
    let out = streamconform_within(
        &[
            "run",
            "--suite",
            "suite",
            "--quiet",
            "--no-truncation",
            "--report",
            "r.json",
        ],
        &dir,
        Duration::from_secs(60),
    );
    let t = text(&out);
    assert_refused(
        &out,
        &[
            "fifo.wast: a FIFO, not a regular file",
            "api.toml: a FIFO, not a regular file",
            "zero.wast: a device, not a regular file",
            "null.wast: a device, not a regular file",
        ],
        "special files",
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("r.json")).unwrap()).unwrap();
    assert_eq!(report["input_errors"].as_array().unwrap().len(), 4, "{t}");
    assert_eq!(report["results"].as_array().unwrap().len(), 1, "{t}");
}

/// A worker (a `command:` backend) that answers its hello, then writes one
/// line that never ends.
const ENDLESS_LINE_WORKER: &str = r#"#!/usr/bin/env node
const hello = { type: "hello", protocol: PROTOCOL_VERSION, engine: "endless-line", version: "test double" };
process.stdout.write(JSON.stringify(hello) + "\n");
const chunk = '{"type":"result","id":1,"outcome":"' + "a".repeat(1 << 20);
process.stdin.once("data", function more() {
  while (process.stdout.write(chunk)) {}
  process.stdout.once("drain", more);
});
process.stdin.resume();
"#;

/// Item 10, protocol lines: a worker writing one line with no newline was
/// buffered without limit (an 800 MB line took the harness to 1.65 GB).
/// The harness now holds at most 32 MiB of a line: the worker is a
/// protocol fault named as such, and the harness's peak memory stays
/// bounded while the worker writes on.
#[test]
fn a_worker_line_that_never_ends_is_a_protocol_fault_in_bounded_memory() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("hostile-bounds-endless-line");
    std::fs::write(dir.join("suite/a.wast"), VALID).unwrap();
    let worker = dir.join("endless-line-worker");
    let version = streamconform_engines::worker::protocol::PROTOCOL_VERSION.to_string();
    std::fs::write(
        &worker,
        ENDLESS_LINE_WORKER.replace("PROTOCOL_VERSION", &version),
    )
    .unwrap();
    std::fs::set_permissions(&worker, std::fs::Permissions::from_mode(0o755)).unwrap();
    let backend = format!("command:{}", worker.display());
    let run = streamconform_measured(
        &[
            "run",
            "--suite",
            "suite",
            "--quiet",
            "--no-truncation",
            "--jobs",
            "1",
            "--plan",
            "whole",
            "--backend",
            &backend,
        ],
        &dir,
        Duration::from_secs(120),
    );
    let t = text(&run.out);
    assert!(!t.contains("panicked"), "{t}");
    assert!(
        matches!(run.out.status.code(), Some(1 | 2)),
        "a protocol error, not a pass or a crash of the harness: {:?} {t}",
        run.out.status
    );
    assert!(
        t.contains("broke the protocol") && t.contains("a line longer than 33554432 bytes"),
        "{t}"
    );
    // The cap (32 MiB), a line being handed on, and the harness (about
    // 75 MB in all, measured).
    assert!(
        run.max_rss_kib < 200 << 10,
        "peak memory {} KiB: {t}",
        run.max_rss_kib
    );
}

/// Item 10, other files a user names: the module of `plans FILE`, an
/// expectations file and a report were read with no check, so `/dev/zero`
/// filled memory and a FIFO hung. Each is refused naming the file.
#[test]
fn a_module_or_expectations_file_that_is_not_a_regular_file_is_refused() {
    let dir = scratch("hostile-bounds-user-files");
    std::fs::write(dir.join("suite/a.wast"), VALID).unwrap();
    mkfifo(&dir.join("pipe"));
    for file in ["/dev/zero", "pipe"] {
        let report = streamconform_measured(
            &["report", file, "--junit", "j.xml"],
            &dir,
            Duration::from_secs(60),
        );
        assert_refused(&report.out, &[file, "not a regular file"], "report");
        let plans = streamconform_measured(&["plans", file], &dir, Duration::from_secs(60));
        assert_refused(&plans.out, &[file, "not a regular file"], "plans");
        let run = streamconform_measured(
            &["run", "--suite", "suite", "--quiet", "--expectations", file],
            &dir,
            Duration::from_secs(60),
        );
        assert_refused(&run.out, &[file, "not a regular file"], "--expectations");
    }
}
