//! The `streamconform` binary end to end: exit codes, bad input, reports,
//! replay lines.

use crate::common;

use common::{report_without_timings, scratch, streamconform, text, VALID, WRONG_EXPECTATION};
use std::process::Command;

/// Expectations that list that failure, as `suite/a.wast:2`.
const XFAIL_A2: &str =
    "backend = \"reference\"\n[[failure]]\ncase = \"suite/a.wast:2\"\nreason = \"the suite is wrong on purpose\"\n";

/// The command of the first `repro:` line in a run's output.
fn first_repro_line(output: &str) -> &str {
    output
        .lines()
        .find_map(|l| l.trim().strip_prefix("repro: "))
        .expect("a repro line")
}

#[test]
fn exit_code_is_0_when_nothing_is_unexpected() {
    let dir = scratch("exit0");
    std::fs::write(dir.join("suite/a.wast"), VALID).unwrap();
    let out = streamconform(&["run", "--suite", "suite"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("reference  suite"), "{t}");
}

#[test]
fn exit_code_is_1_on_failure_and_the_repro_line_replays_it() {
    let dir = scratch("exit1");
    std::fs::write(
        dir.join("suite/a.wast"),
        format!("{VALID}{WRONG_EXPECTATION}"),
    )
    .unwrap();
    let out = streamconform(&["run", "--suite", "suite", "--no-truncation"], &dir);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("FAIL [reference] suite/a.wast:2"), "{t}");
    let repro = first_repro_line(&t);
    // The line is a shell command that works from any directory: run it
    // from elsewhere, as printed.
    assert!(
        repro.starts_with("cd ") && repro.contains("streamconform run"),
        "{repro}"
    );
    let elsewhere = std::env::temp_dir();
    let replay = Command::new("sh")
        .args(["-c", repro])
        .current_dir(&elsewhere)
        .env_remove("CI")
        .output()
        .unwrap();
    assert_eq!(replay.status.code(), Some(1), "{}", text(&replay));
    assert!(
        text(&replay).contains("1 cases x 1 backend(s) (reference wasmparser")
            && text(&replay).contains("plans: --plan whole"),
        "{}",
        text(&replay)
    );
}

#[test]
fn expectations_turn_a_failure_into_xfail_and_an_unexpected_pass_into_a_failure() {
    let dir = scratch("xfail");
    std::fs::write(
        dir.join("suite/a.wast"),
        format!("{VALID}{WRONG_EXPECTATION}"),
    )
    .unwrap();
    std::fs::write(dir.join("e.toml"), XFAIL_A2).unwrap();
    let out = streamconform(
        &[
            "run",
            "--suite",
            "suite",
            "--no-truncation",
            "--expectations",
            "e.toml",
        ],
        &dir,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let stale = "backend = \"reference\"\n[[failure]]\ncase = \"suite/a.wast:1\"\nreason = \"not really\"\n";
    std::fs::write(dir.join("e.toml"), stale).unwrap();
    let out = streamconform(
        &[
            "run",
            "--suite",
            "suite",
            "--no-truncation",
            "--case",
            "suite/a.wast:1",
            "--expectations",
            "e.toml",
        ],
        &dir,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("UNEXPECTED PASS [reference] suite/a.wast:1"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_malformed_wast_costs_its_file_and_is_named_with_its_line() {
    let dir = scratch("malformed");
    std::fs::write(dir.join("suite/good.wast"), VALID).unwrap();
    std::fs::write(
        dir.join("suite/bad.wast"),
        "(module)\n\n(assert_invalid (module (func i32.bogus)) \"x\")\n(module)\n",
    )
    .unwrap();
    let out = streamconform(&["run", "--suite", "suite", "--report", "r.json"], &dir);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("input error: suite/bad.wast:3"), "{t}");
    // The good file still ran and the report was written.
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("r.json")).unwrap()).unwrap();
    assert!(report["results"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["id"] == "suite/good.wast:1"));
    assert!(report["input_errors"][0]
        .as_str()
        .unwrap()
        .starts_with("suite/bad.wast:3"));
}

#[test]
fn bad_arguments_and_files_are_usage_errors_with_a_clear_message() {
    let dir = scratch("usage");
    std::fs::write(dir.join("suite/a.wast"), VALID).unwrap();
    std::fs::write(
        dir.join("bad.toml"),
        "backend = \"reference\"\n[[failure]]\ncase = \"x\"\n",
    )
    .unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["run", "--suite", "suite", "--plans", "fastest"],
            "unknown plan \"fastest\"; expected a plan set: default",
        ),
        (
            &["run", "--suite", "suite", "--plan", "sliced"],
            "unknown plan \"sliced\"; expected a plan name: `whole`",
        ),
        (
            &["run", "--suite", "suite", "--case", "suite/a.wast:9"],
            "no case has the id",
        ),
        (&["run", "--suite", "nowhere"], "unknown suite \"nowhere\""),
        (
            &["run", "--suite", "suite", "--backend", "v8"],
            "unknown backend \"v8\"; available: reference",
        ),
        (
            &["run", "--suite", "suite", "--expectations", "bad.toml"],
            "bad.toml:2: missing field `reason`",
        ),
        (
            &["run", "--suite", "suite", "--cuts", "3,x"],
            "\"x\" is not an offset",
        ),
        (&["run", "--frobnicate"], "unexpected argument"),
    ];
    for (args, needle) in cases {
        let out = streamconform(args, &dir);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {t}");
        assert!(t.contains(needle), "{args:?}: expected {needle:?} in {t}");
    }
}

/// A plan that does not fit a selected case is the invocation's fault:
/// a usage error naming the case, before anything runs.
#[test]
fn a_split_past_the_end_of_a_body_is_a_usage_error_naming_the_case() {
    let dir = scratch("split-past-end");
    std::fs::write(dir.join("suite/a.wast"), VALID).unwrap();
    let out = streamconform(
        &[
            "run",
            "--suite",
            "suite",
            "--no-truncation",
            "--plan",
            "split@999",
        ],
        &dir,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("suite/a.wast:1") && text(&out).contains("cut 999 is past the end"),
        "{}",
        text(&out)
    );
}

#[test]
fn bless_is_refused_in_ci() {
    let dir = scratch("bless-ci");
    std::fs::write(dir.join("suite/a.wast"), VALID).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_streamconform"))
        .args([
            "run",
            "--suite",
            "suite",
            "--expectations",
            "e.toml",
            "--bless",
        ])
        .current_dir(&dir)
        .env("CI", "true")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("CI never rewrites expectations"),
        "{}",
        text(&out)
    );
    assert!(!dir.join("e.toml").exists());
}

#[test]
fn bless_writes_failures_with_a_reason_to_fill_in() {
    let dir = scratch("bless");
    std::fs::write(
        dir.join("suite/a.wast"),
        format!("{VALID}{WRONG_EXPECTATION}"),
    )
    .unwrap();
    std::fs::write(dir.join("reference.toml"), "backend = \"reference\"\n").unwrap();
    let out = streamconform(
        &[
            "run",
            "--suite",
            "suite",
            "--no-truncation",
            "--expectations",
            "reference.toml",
            "--bless",
        ],
        &dir,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let written = std::fs::read_to_string(dir.join("reference.toml")).unwrap();
    assert!(
        written.contains("case = \"suite/a.wast:2\"") && written.contains("TODO explain"),
        "{written}"
    );
    let again = streamconform(
        &[
            "run",
            "--suite",
            "suite",
            "--no-truncation",
            "--expectations",
            "reference.toml",
        ],
        &dir,
    );
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
}

#[test]
fn plans_print_as_json_cut_lists() {
    let dir = scratch("plans");
    let module: &[u8] = b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0\x03\x02\x01\0\x0a\x04\x01\x02\0\x0b";
    std::fs::write(dir.join("m.wasm"), module).unwrap();
    let out = streamconform(
        &["plans", "m.wasm", "--plans", "default", "--format", "json"],
        &dir,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let plans: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plans[0], serde_json::json!({"name": "whole", "cuts": []}));
    let one_byte = plans.iter().find(|p| p["name"] == "one-byte").unwrap();
    assert_eq!(one_byte["cuts"].as_array().unwrap().len(), module.len() - 1);
    assert!(plans
        .iter()
        .any(|p| p["name"] == "split@0" && p["cuts"] == serde_json::json!([0])));
}

#[test]
fn the_report_follows_the_documented_schema() {
    let dir = scratch("report");
    std::fs::write(
        dir.join("suite/a.wast"),
        format!("{VALID}{WRONG_EXPECTATION}(assert_malformed (module quote \"(func\") \"x\")\n"),
    )
    .unwrap();
    let out = streamconform(&["run", "--suite", "suite", "--report", "r.json"], &dir);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let bytes = std::fs::read(dir.join("r.json")).unwrap();
    // The library's own types read it back (deny_unknown_fields on both ends).
    let report: streamconform::reporter::json::Report = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        (report.schema.as_str(), report.schema_version),
        ("streamconform-report", 7)
    );
    assert_eq!(report.run.backends[0].name, "reference");
    assert_eq!(report.run.suites, ["suite"]);
    assert_eq!(report.finished.cases_run, report.results.len());
    assert_eq!(report.finished.exit_code(), 1);
    assert_eq!(report.not_applicable.len(), 1);
    let failing = report
        .results
        .iter()
        .find(|r| r.id == "suite/a.wast:2")
        .unwrap();
    assert_eq!(failing.status, streamconform::verdict::Status::Failed);
    assert!(failing.failing_plans.iter().all(|p| !p.plan.is_empty()));
    assert!(failing
        .repro
        .as_deref()
        .unwrap()
        .contains("--case suite/a.wast:2"));
    let row = &report.summary[0];
    assert_eq!((row.failed, row.not_applicable), (1, 1));
}

/// Faults of the command line itself are usage errors (exit 2) named
/// before anything runs, never engine failures; a closed pipe ends quietly.
#[test]
fn bad_invocations_are_usage_errors_before_the_run() {
    let dir = scratch("usage");
    std::fs::write(dir.join("suite/a.wast"), VALID).unwrap();
    let run = |args: &[&str]| streamconform(args, &dir);

    // A cut list past the end of the body, a huge range, a plan past it.
    for plan in [
        ["--cuts", "99999"],
        ["--cuts", "1..99999999999"],
        ["--plan", "split@99999"],
    ] {
        let out = run(&[
            "run",
            "--suite",
            "suite",
            "--no-truncation",
            plan[0],
            plan[1],
        ]);
        assert_eq!(out.status.code(), Some(2), "{plan:?}: {}", text(&out));
        assert!(text(&out).contains("error:"), "{}", text(&out));
    }

    // An expectations file for a backend not in the run, and two for one.
    std::fs::write(dir.join("other.toml"), "backend = \"referense\"\n").unwrap();
    let out = run(&["run", "--suite", "suite", "--expectations", "other.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("\"referense\" is not in this run"),
        "{}",
        text(&out)
    );
    std::fs::write(dir.join("one.toml"), "backend = \"reference\"\n").unwrap();
    std::fs::write(dir.join("two.toml"), "backend = \"reference\"\n").unwrap();
    let out = run(&[
        "run",
        "--suite",
        "suite",
        "--expectations",
        "one.toml",
        "--expectations",
        "two.toml",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("both for backend"), "{}", text(&out));

    // An unwritable report path fails before the run; a good one is only
    // there once complete (no `.partial` left behind).
    let out = run(&["run", "--suite", "suite", "--report", "no/such/dir/r.json"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        !text(&out).contains("cases x"),
        "the run must not start: {}",
        text(&out)
    );
    let out = run(&["run", "--suite", "suite", "--report", "r.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(dir.join("r.json").exists() && partial_report(&dir, "r.json").is_none());
}

#[test]
fn a_closed_pipe_ends_the_program_quietly() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let dir = scratch("pipe");
    let hang_up_after_64_bytes = |args: &[&str]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_streamconform"))
            .args(args)
            .current_dir(&dir)
            .env_remove("CI")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Read a line's worth, then hang up, as `| head -1` does.
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 64];
        stdout.read_exact(&mut first).unwrap();
        drop(stdout);
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        (out.status.code(), stderr)
    };
    // Both write far more than a pipe holds after the first line.
    for args in [
        &["list", "--suite", "spec"][..],
        &["run", "--suite", "spec", "--plans", "whole"][..],
    ] {
        let (code, stderr) = hang_up_after_64_bytes(args);
        assert_eq!(code, Some(141), "{args:?}: {stderr}");
    }
    // `backends` may have written its few lines before the hang-up: it
    // ends either way, quietly.
    let (code, stderr) = hang_up_after_64_bytes(&["backends"]);
    assert!(matches!(code, Some(0 | 141)), "{code:?}: {stderr}");
}

/// An engine that cannot start is an environment error: said once, exit 2,
/// no case recorded as an engine failure, and nothing blessed.
#[test]
fn a_missing_engine_is_a_setup_error_not_engine_failures() {
    let dir = scratch("setup");
    std::fs::write(dir.join("suite/a.wast"), VALID).unwrap();
    std::fs::write(dir.join("deno.toml"), "backend = \"deno\"\n").unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "--backend",
            "deno",
            "--suite",
            "suite",
            "--report",
            "r.json",
        ];
        args.extend(extra);
        Command::new(env!("CARGO_BIN_EXE_streamconform"))
            .args(&args)
            .current_dir(&dir)
            .env_remove("CI")
            .env("STREAMCONFORM_DENO", "/nonexistent/deno")
            .output()
            .unwrap()
    };
    let out = run(&[]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert_eq!(
        t.matches("setup error: backend deno is unavailable")
            .count(),
        1,
        "{t}"
    );
    assert!(!t.contains("FAIL"), "{t}");
    let report: streamconform::reporter::json::Report =
        serde_json::from_slice(&std::fs::read(dir.join("r.json")).unwrap()).unwrap();
    assert!(report.results.is_empty());
    assert_eq!(report.finished.setup_errors.len(), 1);

    let out = run(&["--expectations", "deno.toml", "--bless"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let blessed = std::fs::read_to_string(dir.join("deno.toml")).unwrap();
    assert!(!blessed.contains("[[failure]]"), "{blessed}");
}

#[test]
fn replay_lines_carry_the_options_that_change_outcomes() {
    let dir = scratch("replay-options");
    std::fs::write(
        dir.join("suite/a.wast"),
        format!("{VALID}{WRONG_EXPECTATION}"),
    )
    .unwrap();
    // Limits other than the defaults decide which cases exist.
    for (options, ending) in [
        (
            &["--no-truncation", "--settle-ms", "5", "--hang-timeout", "7"][..],
            "--settle-ms 5 --hang-timeout 7",
        ),
        (
            &[
                "--max-module-bytes",
                "1000",
                "--max-truncations-per-module",
                "3",
            ],
            "--max-module-bytes 1000 --max-truncations-per-module 3",
        ),
    ] {
        let out = streamconform(&[&["run", "--suite", "suite"][..], options].concat(), &dir);
        let t = text(&out);
        let repro = first_repro_line(&t);
        assert!(repro.ends_with(ending), "{repro}");
    }
}

/// Runs the binary in `dir` and sends it SIGINT once `ready()` holds
/// (polled; it must within two minutes).
fn run_interrupted(
    args: &[&str],
    dir: &std::path::Path,
    ready: impl Fn() -> bool,
) -> std::process::Output {
    let child = Command::new(env!("CARGO_BIN_EXE_streamconform"))
        .args(args)
        .current_dir(dir)
        .env_remove("CI")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while !ready() {
        assert!(
            started.elapsed().as_secs() < 120,
            "not ready to interrupt: {args:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    child.wait_with_output().unwrap()
}

/// SIGINT mid-run: no case starts after it, the started ones finish, and
/// the report is complete JSON marked interrupted; exit 130.
#[test]
fn an_interrupted_run_reports_what_finished_and_exits_130() {
    let dir = scratch("interrupt");
    // Interrupt once results are being written (every two-chunk split of
    // every module takes far longer than the run gets).
    let out = run_interrupted(
        &[
            "run",
            "--suite",
            "spec",
            "--plans",
            "exhaustive",
            "--report",
            "r.json",
        ],
        &dir,
        || {
            partial_report(&dir, "r.json")
                .and_then(|p| std::fs::metadata(p).ok())
                .map_or(0, |m| m.len())
                >= 64 * 1024
        },
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    let report: streamconform::reporter::json::Report =
        serde_json::from_slice(&std::fs::read(dir.join("r.json")).unwrap()).unwrap();
    assert!(report.finished.interrupted);
    assert!(
        !report.results.is_empty(),
        "some cases finished before the interrupt"
    );
    assert!(
        report.results.len() < report.run.cases,
        "the run stopped early"
    );
    assert_eq!(report.results.len(), report.finished.cases_run);
}

/// SIGINT mid-run keeps the journal and says how to resume; the resumed
/// run runs the rest and writes the report an uninterrupted run writes.
#[test]
fn an_interrupted_run_resumed_gives_the_report_of_an_uninterrupted_run() {
    let dir = scratch("resume");
    // A listed failure comes first, so it is journaled before the
    // interrupt and its expectation is applied again when replayed.
    std::fs::write(
        dir.join("suite/a.wast"),
        format!("{VALID}{WRONG_EXPECTATION}"),
    )
    .unwrap();
    std::fs::write(dir.join("e.toml"), XFAIL_A2).unwrap();
    let args = [
        "run",
        "--suite",
        "suite",
        "--suite",
        "streaming",
        "--expectations",
        "e.toml",
        "--report",
        "r.json",
    ];
    let journal = dir.join("r.json.journal");

    let whole = streamconform(&args, &dir);
    assert_eq!(whole.status.code(), Some(0), "{}", text(&whole));
    assert!(!journal.exists(), "a completed run leaves no journal");
    let expected = report_without_timings(&dir.join("r.json"));
    let total = expected["results"].as_array().unwrap().len();
    assert!(total > 1000, "{total} results: too few to interrupt midway");
    std::fs::remove_file(dir.join("r.json")).unwrap();

    // Interrupt once a few dozen results are journaled: early in a run of
    // thousands, so it cannot have finished by then.
    let journaled =
        || std::fs::read(&journal).map_or(0, |j| j.iter().filter(|&&b| b == b'\n').count());
    let out = run_interrupted(&args, &dir, || journaled() >= 40);
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    let interrupted = report_without_timings(&dir.join("r.json"));
    let done = interrupted["results"].as_array().unwrap().len();
    assert!(
        interrupted["finished"]["interrupted"] == true && done < total,
        "{done} of {total}"
    );
    let kept = std::fs::read_to_string(&journal).expect("the journal is kept");
    assert!(
        kept.contains("\"id\":\"suite/a.wast:2\""),
        "the listed failure is replayed"
    );
    assert_eq!(
        kept.lines().count(),
        1 + done,
        "a header, then a line per result"
    );

    // The printed command resumes from any directory.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let resume = stdout
        .lines()
        .find_map(|l| l.strip_prefix("resume: "))
        .unwrap_or_else(|| panic!("no resume line in {stdout}"));
    let resumed = Command::new("sh")
        .args(["-c", resume])
        .current_dir(std::env::temp_dir())
        .env_remove("CI")
        .output()
        .unwrap();
    assert_eq!(resumed.status.code(), Some(0), "{}", text(&resumed));
    assert!(
        text(&resumed).contains(&format!("{done} results replayed")),
        "{}",
        text(&resumed)
    );
    assert!(!journal.exists(), "a completed run leaves no journal");
    let report = report_without_timings(&dir.join("r.json"));
    let results = |r: &serde_json::Value| r["results"].as_array().unwrap().clone();
    let ids = |r: &serde_json::Value| -> Vec<String> {
        results(r).iter().map(|c| c["id"].to_string()).collect()
    };
    assert_eq!(
        ids(&report),
        ids(&expected),
        "the same cases, in the same order"
    );
    for (got, want) in results(&report).iter().zip(results(&expected).iter()) {
        assert_eq!(got, want);
    }
    assert_eq!(report, expected);
    let listed = results(&report)
        .into_iter()
        .find(|r| r["id"] == "suite/a.wast:2")
        .unwrap();
    assert_eq!(listed["status"], "expected-failure");
}

/// The journal of an interrupted run with `--suite suite --no-truncation`,
/// written by hand: its header, then `lines`.
fn write_journal(dir: &std::path::Path, lines: &str) {
    use streamconform::session::journal::Header;
    use streamconform::session::RunSpec;
    let run = RunSpec {
        suites: vec!["suite".into()],
        truncation: false,
        report: Some("r.json".into()),
        ..RunSpec::default()
    };
    let header = Header::new(dir.to_path_buf(), run);
    let header = serde_json::to_string(&header).unwrap();
    std::fs::write(dir.join("r.json.journal"), format!("{header}\n{lines}")).unwrap();
}

/// A journal line as a run writes it: the raw result of `id`, passed
/// under `plans_run` plans, without the one-shot outcome a run records (so
/// a replayed result can be told from a run one).
fn journal_line(id: &str, plans_run: usize) -> String {
    use std::borrow::Cow;
    use streamconform::session::journal::Entry;
    use streamconform::verdict::{CaseResult, Verdict};
    let entry = Entry {
        backend: Cow::Borrowed("reference"),
        duration_ms: 1,
        result: Cow::Owned(CaseResult {
            id: id.into(),
            expected: streamconform::OutcomeClass::Module,
            one_shot: None,
            plans_run,
            failing_plans_total: 0,
            failing_plans: vec![],
            aborted: None,
            verdict: Verdict::Pass,
            minimized: None,
            retried: None,
        }),
    };
    serde_json::to_string(&entry).unwrap() + "\n"
}

/// A run killed while writing a line leaves it cut off: that case runs
/// again; the whole lines are replayed, not run.
#[test]
fn a_resumed_run_replays_journaled_results_and_reruns_a_cut_off_last_line() {
    let dir = scratch("resume-cut-off");
    std::fs::write(dir.join("suite/a.wast"), VALID.repeat(3)).unwrap();
    // A journaled result must have run the plans this run gives its case
    // (resume checks it): as many as a whole run gives.
    let whole = streamconform(
        &[
            "run",
            "--suite",
            "suite",
            "--no-truncation",
            "--report",
            "whole.json",
        ],
        &dir,
    );
    assert_eq!(whole.status.code(), Some(0), "{}", text(&whole));
    let whole: streamconform::reporter::json::Report =
        serde_json::from_slice(&std::fs::read(dir.join("whole.json")).unwrap()).unwrap();
    let plans = whole.results[0].plans_run;
    let cut_off = journal_line("suite/a.wast:2", plans);
    write_journal(
        &dir,
        &format!(
            "{}{}",
            journal_line("suite/a.wast:1", plans),
            &cut_off[..cut_off.len() / 2]
        ),
    );
    // --jobs changes nothing a case comes to, so it may be given.
    let out = streamconform(&["run", "--resume", "r.json.journal", "--jobs", "1"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("1 results replayed"), "{}", text(&out));
    assert!(!dir.join("r.json.journal").exists());
    let report: streamconform::reporter::json::Report =
        serde_json::from_slice(&std::fs::read(dir.join("r.json")).unwrap()).unwrap();
    let one_shots: Vec<(&str, bool)> = report
        .results
        .iter()
        .map(|r| (r.id.as_str(), r.one_shot.is_some()))
        .collect();
    assert_eq!(
        one_shots,
        [
            ("suite/a.wast:1", false),
            ("suite/a.wast:2", true),
            ("suite/a.wast:3", true)
        ],
        "the first replayed from the journal, the others run"
    );
    assert_eq!(report.finished.cases_run, 3);
}

/// A journal that cannot be resumed as it is, and options that would
/// change what it recorded, are input errors before anything runs.
#[test]
fn bad_journals_are_input_errors_naming_the_file_and_line() {
    let dir = scratch("resume-bad");
    std::fs::write(dir.join("suite/a.wast"), VALID.repeat(2)).unwrap();
    let resume = || streamconform(&["run", "--resume", "r.json.journal"], &dir);
    let expect_error = |out: std::process::Output, needle: &str| {
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(
            text(&out).contains(needle),
            "expected {needle:?} in {}",
            text(&out)
        );
        assert!(
            !text(&out).contains("cases x"),
            "the run must not start: {}",
            text(&out)
        );
    };

    std::fs::write(
        dir.join("r.json.journal"),
        "{\"schema\":\"streamconform-jour\n",
    )
    .unwrap();
    expect_error(
        resume(),
        "r.json.journal:1: not a streamconform-journal header",
    );

    write_journal(&dir, "");
    let journal = std::fs::read_to_string(dir.join("r.json.journal")).unwrap();
    let version = format!("\"tool_version\":\"{}\"", env!("CARGO_PKG_VERSION"));
    assert!(journal.contains(&version), "{journal}");
    std::fs::write(
        dir.join("r.json.journal"),
        journal.replace(&version, "\"tool_version\":\"0.0.1\""),
    )
    .unwrap();
    expect_error(resume(), "r.json.journal:1: written by streamconform 0.0.1");

    write_journal(
        &dir,
        &format!(
            "{}{{\"backend\":\n{}",
            journal_line("suite/a.wast:1", 1),
            journal_line("suite/a.wast:2", 1)
        ),
    );
    expect_error(resume(), "r.json.journal:3: not a journaled result");

    write_journal(&dir, &journal_line("suite/gone.wast:1", 1));
    expect_error(resume(), "suite/gone.wast:1 (reference)");

    // A journal resumes only as the file its run wrote: put elsewhere, its
    // header could make the resumed run write its report and outputs where
    // the run never did.
    write_journal(&dir, "");
    std::fs::rename(dir.join("r.json.journal"), dir.join("moved.journal")).unwrap();
    expect_error(
        streamconform(&["run", "--resume", "moved.journal"], &dir),
        "moved.journal:1: it is the journal of the report r.json",
    );
    std::fs::remove_file(dir.join("moved.journal")).unwrap();

    write_journal(&dir, "");
    expect_error(
        streamconform(
            &["run", "--resume", "r.json.journal", "--suite", "spec"],
            &dir,
        ),
        "only --jobs, --backends-at-once, --show-failures and --quiet may go with it, not --suite",
    );
    // A fresh run does not replace the journal of one that did not finish.
    expect_error(
        streamconform(&["run", "--suite", "suite", "--report", "r.json"], &dir),
        "run --resume",
    );
    let out = resume();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// A disk that fills up mid-run (simulated with a file size limit, which
/// fails writes the same way): the run stops with an error naming the file,
/// and the previous report is left as it was, never truncated.
#[test]
fn a_full_disk_stops_the_run_naming_the_file_and_keeps_the_old_report() {
    let dir = scratch("full-disk");
    std::fs::write(dir.join("r.json"), "the previous report\n").unwrap();
    let out = Command::new("sh")
        .args([
            "-c",
            // Ignore SIGXFSZ so the limit fails writes (EFBIG) instead of
            // killing the process; 64 blocks of 512 bytes.
            r#"trap "" XFSZ; ulimit -f 64; exec "$0" "$@""#,
            env!("CARGO_BIN_EXE_streamconform"),
        ])
        .args(["run", "--suite", "streaming", "--report", "r.json"])
        .current_dir(&dir)
        .env_remove("CI")
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    // The report (`r.json`) or its journal (`r.json.journal`), whichever
    // fills the limit first.
    assert!(t.contains("error: writing r.json"), "{t}");
    assert!(t.contains("File too large"), "{t}");
    assert_eq!(
        std::fs::read_to_string(dir.join("r.json")).unwrap(),
        "the previous report\n"
    );
}

/// The report being written for `name` in `dir` (`.NAME.XXXXXX.partial`).
fn partial_report(dir: &std::path::Path, name: &str) -> Option<std::path::PathBuf> {
    std::fs::read_dir(dir).ok()?.find_map(|entry| {
        let path = entry.ok()?.path();
        let file = path.file_name()?.to_str()?;
        (file.starts_with(&format!(".{name}.")) && file.ends_with(".partial")).then_some(path)
    })
}
