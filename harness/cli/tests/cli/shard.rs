//! `run --shard K/N` and `report merge`: the shards of a run, merged, give
//! the report of the unsharded run (timings aside), and shards of
//! different runs are refused, naming what differs.

use crate::common;

use common::{report_without_timings, scratch, streamconform, text, VALID, WRONG_EXPECTATION};
use serde_json::Value;
use std::path::Path;
use streamconform::runner::Shard;

/// A directory suite and expectations whose rules only all shards
/// together can judge: `suite/w*` matches a failing case in one shard and
/// only passing ones in another (stale there alone, not in the run);
/// `suite/v*` matches passing cases only (stale in the run); the rest
/// match nothing.
fn suite_with_rules(dir: &Path) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..6 {
        std::fs::write(dir.join(format!("suite/w{i}.wast")), VALID).unwrap();
        std::fs::write(dir.join(format!("suite/v{i}.wast")), VALID).unwrap();
        ids.push(format!("suite/w{i}.wast:1"));
    }
    std::fs::write(dir.join("suite/wrong.wast"), WRONG_EXPECTATION).unwrap();
    // Found not applicable when loading: in every shard, counted once.
    std::fs::write(
        dir.join("suite/text.wast"),
        "(assert_malformed (module quote \"(func\") \"x\")\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("e.toml"),
        "backend = \"reference\"\n\
         [[failure]]\ncase = \"suite/gone.wast:1\"\nreason = \"removed since\"\n\
         [[rule]]\ncases = \"suite/w*\"\nreason = \"the suite is wrong on purpose\"\n\
         [[rule]]\ncases = \"suite/v*\"\nreason = \"stale: these pass\"\n\
         [[rule]]\ncases = \"nowhere/*\"\nreason = \"matches nothing\"\n",
    )
    .unwrap();
    ids
}

#[test]
fn merged_shards_give_the_unsharded_report() {
    let dir = scratch("shard-merge");
    let w_ids = suite_with_rules(&dir);
    // The test means something only if some shard sees `suite/w*` pass
    // without its failing case.
    let failing_in = |s: Shard| s.contains("suite/wrong.wast:1");
    assert!(
        (1..=3)
            .map(|index| Shard { index, total: 3 })
            .any(|s| { !failing_in(s) && w_ids.iter().any(|id| s.contains(id)) }),
        "no shard has suite/w* cases without the failing one; change the suite"
    );
    let base = [
        "run",
        "--backend",
        "reference",
        "--suite",
        "webapi",
        "--suite",
        "suite",
        "--no-truncation",
        "--expectations",
        "e.toml",
    ];
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter().chain(extra).map(|s| s.to_string()).collect()
    };
    let run = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        streamconform(&args, &dir)
    };

    let out = run(with(&["--report", "all.json"]));
    // The stale rule fails the unsharded run.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("STALE RULE e.toml:"), "{}", text(&out));

    let mut shard_cases = 0;
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let report = format!("s{k}.json");
        let out = run(with(&["--shard", &shard, "--report", &report]));
        // Rules are judged when the shards are merged, not in one shard.
        assert_eq!(out.status.code(), Some(0), "shard {shard}: {}", text(&out));
        let r: Value = serde_json::from_slice(&std::fs::read(dir.join(&report)).unwrap()).unwrap();
        assert_eq!(
            r["run"]["shard"],
            serde_json::json!({"index": k, "total": 3})
        );
        let results = r["results"].as_array().unwrap();
        assert!(!results.is_empty(), "shard {shard} ran nothing");
        assert_eq!(r["run"]["cases"].as_u64().unwrap() as usize, results.len());
        assert!(results.iter().all(|c| c["case_index"].is_u64()));
        assert!(r["finished"]["stale_rules"].as_array().unwrap().is_empty());
        assert!(!r["finished"]["expectation_tallies"]
            .as_array()
            .unwrap()
            .is_empty());
        shard_cases += results.len();
    }

    // Given in any order.
    let out = streamconform(
        &[
            "report",
            "merge",
            "s3.json",
            "s1.json",
            "s2.json",
            "-o",
            "merged.json",
        ],
        &dir,
    );
    // The merged run concludes what the unsharded one did: a stale rule.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = report_without_timings(&dir.join("all.json"));
    let merged = report_without_timings(&dir.join("merged.json"));
    assert_eq!(all["results"].as_array().unwrap().len(), shard_cases);
    // Field by field first, for a readable failure.
    for field in [
        "run",
        "input_errors",
        "not_applicable",
        "summary",
        "finished",
    ] {
        assert_eq!(merged[field], all[field], "{field}");
    }
    assert_eq!(merged, all);
    assert_eq!(all["not_applicable"].as_array().unwrap().len(), 1);
    // What the merge judged is right, not merely equal.
    let stale = all["finished"]["stale_rules"].as_array().unwrap();
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert!(stale[0].as_str().unwrap().contains("suite/v*"), "{stale:?}");
    assert_eq!(
        all["finished"]["expectations_not_run"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn merge_refuses_shards_of_different_runs_naming_what_differs() {
    let dir = scratch("shard-refuse");
    for i in 0..8 {
        std::fs::write(dir.join(format!("suite/m{i}.wast")), VALID).unwrap();
    }
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "--suite", "suite", "--no-truncation"];
        args.extend(extra);
        let out = streamconform(&args, &dir);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
    };
    run(&["--shard", "1/2", "--report", "a1.json"]);
    run(&["--shard", "2/2", "--report", "a2.json"]);
    run(&[
        "--shard", "2/2", "--plans", "reduced", "--report", "b2.json",
    ]);
    run(&["--shard", "1/3", "--report", "c1.json"]);
    run(&["--shard", "2/3", "--report", "c2.json"]);
    run(&["--report", "whole.json"]);
    let merge = |files: &[&str]| {
        let mut args = vec!["report", "merge"];
        args.extend(files);
        args.extend(["-o", "out.json"]);
        let out = streamconform(&args, &dir);
        (out.status.code(), text(&out))
    };
    let (code, said) = merge(&["a1.json", "a2.json"]);
    assert_eq!(code, Some(0), "{said}");
    for (files, says) in [
        (
            &["a1.json", "b2.json"][..],
            "b2.json (shard 2/2) is of a different run than a1.json (shard 1/2): plans differ",
        ),
        (&["a1.json", "c2.json"], "the shard totals differ"),
        (
            &["a1.json", "whole.json"],
            "whole.json is not a shard's report",
        ),
        (&["a1.json", "a1.json"], "shard 1/2 is given twice"),
        (
            &["a2.json", "a2.json", "a1.json"],
            "shard 2/2 is given twice",
        ),
        (&["c1.json", "c2.json"], "shard 3/3 is missing"),
    ] {
        let (code, said) = merge(files);
        assert_eq!(code, Some(2), "{files:?}: {said}");
        assert!(said.contains(says), "{files:?}: {said}");
    }
}

#[test]
fn bad_and_empty_shards_are_usage_errors() {
    let dir = scratch("shard-bad");
    std::fs::write(dir.join("suite/only.wast"), VALID).unwrap();
    let id = "suite/only.wast:1";
    let empty = (1..=2)
        .map(|index| Shard { index, total: 2 })
        .find(|s| !s.contains(id))
        .unwrap();
    let run = |shard: &str| {
        let out = streamconform(
            &[
                "run",
                "--suite",
                "suite",
                "--no-truncation",
                "--shard",
                shard,
            ],
            &dir,
        );
        (out.status.code(), text(&out))
    };
    let (code, said) = run(&empty.to_string());
    assert_eq!(code, Some(2), "{said}");
    assert!(
        said.contains(&format!("shard {empty} holds none of the 1 selected cases")),
        "{said}"
    );
    let out = streamconform(
        &["run", "--suite", "suite", "--shard", "1/2", "--bless"],
        &dir,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("cannot be used with"), "{}", text(&out));
    for (bad, says) in [
        ("3/2", "between 1 and N"),
        ("1/0", "at least 1"),
        ("x", "K/N"),
    ] {
        let (code, said) = run(bad);
        assert_eq!(code, Some(2), "{bad}: {said}");
        assert!(said.contains(says), "{bad}: {said}");
    }
}

/// A spec subset with its truncation cases (ids that sort differently from
/// their run order), in four shards.
#[test]
fn merged_shards_of_a_spec_subset_give_the_unsharded_report() {
    let dir = scratch("shard-spec");
    let base = ["run", "--suite", "spec", "--filter", "/i32.wast", "--quiet"];
    let run = |extra: &[&str]| {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        let out = streamconform(&args, &dir);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
    };
    run(&["--report", "all.json"]);
    let mut files = Vec::new();
    for k in 1..=4 {
        let file = format!("s{k}.json");
        run(&["--shard", &format!("{k}/4"), "--report", &file]);
        files.push(file);
    }
    let mut args = vec!["report", "merge", "-o", "merged.json"];
    args.extend(files.iter().map(String::as_str));
    let out = streamconform(&args, &dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let all = report_without_timings(&dir.join("all.json"));
    let ids = |r: &Value| -> Vec<String> {
        r["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    let order = ids(&all);
    assert!(order.len() > 100 && order.iter().any(|id| id.contains("/truncated@")));
    let mut sorted = order.clone();
    sorted.sort();
    assert_ne!(order, sorted, "the run order is not the ids' order");
    let merged = report_without_timings(&dir.join("merged.json"));
    assert_eq!(ids(&merged), order);
    assert_eq!(merged, all);
}
