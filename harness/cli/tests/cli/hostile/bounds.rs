//! Items 9, 10, 11 and 13 of the trust review: numbers a careless user or
//! a hostile file gives (durations, `--jobs`, a repeated `--backend`,
//! times in a report), lines a worker never ends, module files that never
//! end or lie outside the suite, and suite entries that are not files.
//! Each is refused with exit 2 naming the flag or file and the limit, or
//! costs its own case; nothing panics, hangs or grows without bound.

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
    let runs: [(&[&str], &[&str]); 6] = [
        (
            &["--backend", "reference", "--backend", "reference"],
            &["--backend reference", "more than once"],
        ),
        (&["--jobs", "0"], &["--jobs", "1024"]),
        (&["--jobs", "1025"], &["--jobs", "1024"]),
        (&["--jobs", "100000"], &["--jobs", "1024"]),
        (&["--jobs", "18446744073709551615"], &["--jobs", "1024"]),
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
