//! Ten identical node runs of the streaming suite with the reduced plans
//! give identical results: same cases, verdicts, outcomes and failing
//! plans (only timings may differ). A harness whose results depend on
//! scheduling, worker restarts or load cannot be trusted with a deviation.

use std::process::Command;
use streamconform::reporter::json::Report;

fn results_without_timings(report: &Report) -> Vec<serde_json::Value> {
    report
        .results
        .iter()
        .map(|case| {
            let mut value = serde_json::to_value(case).unwrap();
            value.as_object_mut().unwrap().remove("duration_ms");
            value
        })
        .collect()
}

#[test]
fn ten_identical_node_runs_give_identical_results() {
    let dir = std::env::temp_dir().join(format!("streamconform-ten-runs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut first: Option<Vec<serde_json::Value>> = None;
    for run in 0..10 {
        let out = Command::new(env!("CARGO_BIN_EXE_streamconform"))
            .args(["run", "--backend", "node", "--suite", "streaming"])
            .args(["--plans", "reduced", "--report", "r.json"])
            .current_dir(&dir)
            .env_remove("CI")
            .env_remove("STREAMCONFORM_NODE")
            .output()
            .unwrap();
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "run {run}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Report =
            serde_json::from_slice(&std::fs::read(dir.join("r.json")).unwrap()).unwrap();
        let results = results_without_timings(&report);
        assert!(results.len() > 1000, "{} results", results.len());
        match &first {
            None => first = Some(results),
            Some(first) => {
                let differing: Vec<_> = first
                    .iter()
                    .zip(&results)
                    .filter(|(a, b)| a != b)
                    .map(|(a, b)| format!("first: {a}\nrun {run}: {b}"))
                    .take(5)
                    .collect();
                assert_eq!(first.len(), results.len(), "run {run}: cases differ");
                assert!(differing.is_empty(), "{}", differing.join("\n"));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
