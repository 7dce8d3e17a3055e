//! `--suite DIR` with a user's own suite: Web API `.toml` case files with
//! their modules in any form, `.wast` files beside them, bad cases, and
//! empty directories, through the `streamconform` binary; and the limits on
//! what one module may cost (size, derived cases, copies of its bytes).

use crate::common;

use common::{streamconform, text};
use std::path::PathBuf;
use std::process::Output;

/// A fresh directory under the target dir, named after the test, with the
/// given files written below `mine/`.
fn scratch(name: &str, files: &[(&str, &[u8])]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("suites")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("mine")).unwrap();
    for (path, contents) in files {
        let path = dir.join("mine").join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }
    dir
}

/// Exports a function `f`: a module a user would compile from their own
/// toolchain and drop next to the case file.
const ADD_WASM: &[u8] =
    b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0\x03\x02\x01\0\x07\x05\x01\x01f\0\0\x0a\x04\x01\x02\0\x0b";

const CASES: &str = r#"# A user's Web API cases.
[[case]]
name = "wasm-file"
step = "2.F.9"
module = { file = "modules/add.wasm" }
expect = "module"

[[case]]
name = "wasm-file-pulled"
step = "C4"
module = { file = "modules/add.wasm" }
pacing = "pull"
expect = "module"

[[case]]
name = "wrong-content-type"
step = "2.F.5"
headers = [["Content-Type", "text/html"]]
module = { file = "modules/add.wasm" }
expect = "type-error"

[[case]]
name = "inline-wat"
step = "2.F.9"
module = { wat = "(module (func (export \"g\") (result i32) i32.const 7))" }
expect = "module"

[[case]]
name = "inline-hex-invalid"
step = "2.F.9"
module = { hex = "0061736d01000000cafe" }
expect = "compile-error"

[[case]]
name = "wat-file"
step = "2.F.9"
module = { file = "modules/text.wat" }
expect = "module"

[[case]]
name = "builtin-name"
step = "2.F.9"
module = "large"
expect = "module"
"#;

fn user_suite(name: &str) -> PathBuf {
    scratch(
        name,
        &[
            ("api.toml", CASES.as_bytes()),
            ("modules/add.wasm", ADD_WASM),
            (
                "modules/text.wat",
                b"(module (memory 1) (export \"m\" (memory 0)))\n",
            ),
        ],
    )
}

const IDS: [&str; 7] = [
    "mine/api/wasm-file",
    "mine/api/wasm-file-pulled",
    "mine/api/wrong-content-type",
    "mine/api/inline-wat",
    "mine/api/inline-hex-invalid",
    "mine/api/wat-file",
    "mine/api/builtin-name",
];

fn listed_ids(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect()
}

#[test]
fn a_users_web_api_cases_run_on_the_reference_backend() {
    let dir = user_suite("reference");
    let out = streamconform(&["run", "--suite", "mine", "--report", "r.json"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("7 cases x 1 backend(s)"), "{t}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("r.json")).unwrap()).unwrap();
    let ids: Vec<&str> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, IDS);
}

#[test]
fn a_users_web_api_cases_run_on_node() {
    let dir = user_suite("node");
    let out = streamconform(&["run", "--suite", "mine", "--backend", "node"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("7 cases x 1 backend(s) (node"), "{t}");
    assert!(t.contains("node     TOTAL"), "{t}");
}

#[test]
fn list_prints_a_directorys_cases_in_a_stable_order() {
    let dir = user_suite("list");
    let out = streamconform(&["list", "--suite", "mine"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(listed_ids(&out), IDS);
    let again = streamconform(&["list", "--suite", "./mine/"], &dir);
    assert_eq!(listed_ids(&again), IDS);
}

#[test]
fn a_bad_case_costs_only_itself_with_its_file_and_line() {
    let bad = format!(
        "{CASES}\n[[case]]\nname = \"missing-file\"\nstep = \"2.F.9\"\nmodule = {{ file = \"nope.wasm\" }}\nexpect = \"module\"\n\n[[case]]\nname = \"typo\"\nstep = \"2.F.9\"\nexpct = \"module\"\n\n[[case]]\nname = \"last-good\"\nstep = \"2.F.9\"\nexpect = \"module\"\n"
    );
    let dir = scratch(
        "bad-case",
        &[
            ("api.toml", bad.as_bytes()),
            ("modules/add.wasm", ADD_WASM),
            ("modules/text.wat", b"(module)"),
        ],
    );
    let line_of = |needle: &str| bad.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let out = streamconform(&["run", "--suite", "mine"], &dir);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("8 cases x 1 backend(s)"), "{t}");
    let header = line_of("name = \"missing-file\"") - 1;
    assert!(
        t.contains(&format!(
            "input error: mine/api.toml:{header}: case \"missing-file\""
        )) && t.contains("nope.wasm"),
        "{t}"
    );
    assert!(
        t.contains(&format!("input error: mine/api.toml:{}:", line_of("expct")))
            && t.contains("expct"),
        "{t}"
    );
    let listed = streamconform(&["list", "--suite", "mine"], &dir);
    assert_eq!(listed.status.code(), Some(2));
    assert!(listed_ids(&listed).contains(&"mine/api/last-good".to_string()));
}

#[test]
fn an_empty_directory_is_an_input_error_naming_it() {
    let dir = scratch("empty", &[("notes.txt", b"no cases here")]);
    for args in [
        &["run", "--suite", "mine"][..],
        &["list", "--suite", "mine"][..],
    ] {
        let out = streamconform(args, &dir);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(
            text(&out).contains("mine: no case found in this suite directory"),
            "{}",
            text(&out)
        );
    }
    // A directory whose only file is broken is no better.
    let dir = scratch("only-bad", &[("a.toml", b"[[case]]\nname = 1\n")]);
    let out = streamconform(&["run", "--suite", "mine"], &dir);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("mine/a.toml:2:"), "{t}");
    assert!(t.contains("mine: no case found"), "{t}");
}

#[test]
fn a_mixed_directory_loads_wast_and_toml_files() {
    let dir = scratch(
        "mixed",
        &[
            ("a.wast", b"(module (func))\n(assert_invalid (module (func (result i32))) \"type mismatch\")\n"),
            ("b.toml", b"[[case]]\nname = \"c\"\nstep = \"2.F.9\"\nmodule = { wat = \"(module)\" }\nexpect = \"module\"\n"),
            ("sub/c.wast", b"(module)\n"),
        ],
    );
    let out = streamconform(&["list", "--suite", "mine", "--no-truncation"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        listed_ids(&out),
        [
            "mine/a.wast:1",
            "mine/a.wast:2",
            "mine/b/c",
            "mine/sub/c.wast:1"
        ]
    );
    let out = streamconform(&["run", "--suite", "mine", "--no-truncation"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("4 cases x 1 backend(s)"),
        "{}",
        text(&out)
    );
}

#[test]
fn suite_toml_gives_the_module_table_and_the_kind() {
    let dir = scratch(
        "manifest",
        &[
            (
                "suite.toml",
                b"description = \"mine\"\nkind = \"webapi\"\n\n[modules]\nadd = { file = \"add.wasm\" }\nempty = \"0061736d01000000\"\n",
            ),
            ("add.wasm", ADD_WASM),
            // With kind = "webapi" a .wast file is module text, not cases.
            ("text.wast", b"(module (func (export \"h\")))"),
            (
                "a.toml",
                b"[[case]]\nname = \"named\"\nstep = \"2.F.9\"\nmodule = \"add\"\nexpect = \"module\"\n\n[[case]]\nname = \"wast-text\"\nstep = \"2.F.9\"\nmodule = { file = \"text.wast\" }\nexpect = \"module\"\n\n[[case]]\nname = \"default-module\"\nstep = \"2.F.9\"\nexpect = \"module\"\n",
            ),
        ],
    );
    let out = streamconform(&["list", "--suite", "mine"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        listed_ids(&out),
        ["mine/a/named", "mine/a/wast-text", "mine/a/default-module"]
    );
    let out = streamconform(&["run", "--suite", "mine"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // A table in its own file, pointed to; the file is not a case file.
    let dir = scratch(
        "manifest-pointer",
        &[
            ("suite.toml", b"modules = \"tables/mods.toml\"\n"),
            ("tables/mods.toml", b"[modules]\nmine = \"0061736d01000000\"\nbroken = \"0x\"\n"),
            ("a.toml", b"[[case]]\nname = \"n\"\nstep = \"2.F.9\"\nmodule = \"mine\"\nexpect = \"module\"\n"),
        ],
    );
    let out = streamconform(&["list", "--suite", "mine"], &dir);
    assert_eq!(listed_ids(&out), ["mine/a/n"]);
    // A bad table entry costs that entry, named with its line.
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("mine/tables/mods.toml:3: module \"broken\""),
        "{}",
        text(&out)
    );
}

/// Symlinked case files are followed; a link looping back to an ancestor
/// is an error naming it, and costs nothing else.
#[test]
fn symlinked_case_files_are_followed_and_loops_are_errors() {
    let dir = scratch("symlinks", &[("real/a.wast", b"(module)\n")]);
    std::fs::create_dir_all(dir.join("suite")).unwrap();
    std::os::unix::fs::symlink(dir.join("mine/real/a.wast"), dir.join("suite/linked.wast"))
        .unwrap();
    let out = streamconform(&["list", "--suite", "suite", "--no-truncation"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(listed_ids(&out), ["suite/linked.wast:1"]);

    std::os::unix::fs::symlink(dir.join("suite"), dir.join("suite/loop")).unwrap();
    let out = streamconform(&["list", "--suite", "suite", "--no-truncation"], &dir);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("loop"), "{}", text(&out));
    assert_eq!(listed_ids(&out), ["suite/linked.wast:1"]);
}

/// `leb128(n)`, unsigned.
fn leb(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        out.push(if n == 0 { byte } else { byte | 0x80 });
        if n == 0 {
            return;
        }
    }
}

/// A valid module of `n` functions of 26 `nop`s each (29 bytes per
/// function): about three structural offsets per function.
fn many_functions(n: usize) -> Vec<u8> {
    let mut m = b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0".to_vec();
    let section = |id: u8, payload: Vec<u8>, m: &mut Vec<u8>| {
        m.push(id);
        leb(payload.len(), m);
        m.extend(payload);
    };
    let mut funcs = Vec::new();
    leb(n, &mut funcs);
    funcs.resize(funcs.len() + n, 0);
    section(3, funcs, &mut m);
    let mut code = Vec::new();
    leb(n, &mut code);
    for _ in 0..n {
        code.extend([28, 0]);
        code.extend([1; 26]);
        code.push(0x0b);
    }
    section(10, code, &mut m);
    m
}

/// `(module binary "...")` for `bytes`, on one line.
fn binary_directive(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut text = String::from("(module binary \"");
    for b in bytes {
        let _ = write!(text, "\\{b:02x}");
    }
    text.push_str("\")\n");
    text
}

#[test]
fn a_module_over_the_size_limit_is_an_input_error_that_costs_its_case_only() {
    let wast = format!(
        "(module (func (export \"f\")))\n{}(module)\n",
        binary_directive(&many_functions(100))
    );
    let dir = scratch("module-too-large", &[("a.wast", wast.as_bytes())]);
    let len = many_functions(100).len();
    let args = ["--suite", "mine", "--max-module-bytes", "1000"];
    let out = streamconform(&[&["run"][..], &args].concat(), &dir);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains(&format!(
            "input error: mine/a.wast:2: the module is {len} bytes, over the limit of 1000 (--max-module-bytes)"
        )),
        "{t}"
    );
    // The file's other cases ran, and passed.
    assert!(
        t.contains("reference  mine   mine                2       2"),
        "{t}"
    );
    let listed = streamconform(&[&["list"][..], &args, &["--no-truncation"]].concat(), &dir);
    assert_eq!(listed.status.code(), Some(2), "{}", text(&listed));
    assert_eq!(listed_ids(&listed), ["mine/a.wast:1", "mine/a.wast:3"]);
    // Within the default limit, the module is a case like any other.
    let listed = streamconform(&["list", "--suite", "mine", "--no-truncation"], &dir);
    assert_eq!(listed.status.code(), Some(0), "{}", text(&listed));
    assert_eq!(listed_ids(&listed).len(), 3);
}

#[test]
fn a_huge_module_yields_a_bounded_thinned_set_and_says_so() {
    use std::sync::Arc;
    use streamconform::case::{Case, CaseOrigin};
    use streamconform::suites::truncation::{
        derive, truncation_id, DEFAULT_MAX_TRUNCATIONS_PER_MODULE,
    };
    use streamconform::{Features, OutcomeClass};
    let parent = Case {
        id: "s/big.wast:1".into(),
        suite: "s".into(),
        group: "g".into(),
        origin: CaseOrigin::Directive,
        bytes: many_functions(5000).into(),
        expected: OutcomeClass::Module.into(),
        features: Arc::new(Features::baseline()),
        scenario: None,
        function: Default::default(),
        imports: Default::default(),
    };
    let parents = std::slice::from_ref(&parent);
    let (derived, thinned) = derive(parents, DEFAULT_MAX_TRUNCATIONS_PER_MODULE);
    assert_eq!(derived.len(), DEFAULT_MAX_TRUNCATIONS_PER_MODULE);
    assert!(derived[0].id.ends_with("@0"), "{}", derived[0].id);
    assert_eq!(thinned.len(), 1);
    assert_eq!(thinned[0].id, "s/big.wast:1/truncated@*");
    assert!(
        thinned[0].reason.contains("not derived"),
        "{}",
        thinned[0].reason
    );
    // Any cap, down to none; from two on, the first and last offset.
    let last = parent.bytes.len() - 1;
    for cap in [0, 1, 2, 10] {
        let (derived, thinned) = derive(parents, cap);
        assert_eq!(derived.len(), cap);
        assert!(thinned[0]
            .reason
            .ends_with(&format!("at most {cap} per module")));
        if cap >= 2 {
            assert_eq!(derived.last().unwrap().id, truncation_id(&parent.id, last));
        }
    }
}

#[test]
fn the_truncation_cap_sets_how_many_cases_one_module_yields() {
    let wast = binary_directive(&many_functions(40));
    let dir = scratch("truncation-cap", &[("a.wast", wast.as_bytes())]);
    let truncated = |out: &Output| {
        listed_ids(out)
            .iter()
            .filter(|id| id.contains("/truncated@"))
            .count()
    };
    let all = streamconform(&["list", "--suite", "mine"], &dir);
    assert_eq!(all.status.code(), Some(0), "{}", text(&all));
    let total = truncated(&all);
    assert!(total > 100, "{total} offsets");
    let capped = ["--suite", "mine", "--max-truncations-per-module", "7"];
    let out = streamconform(&[&["list"][..], &capped].concat(), &dir);
    assert_eq!(truncated(&out), 7, "{}", text(&out));
    // The rest is counted as not applicable, with the count.
    let out = streamconform(
        &[
            &["run"][..],
            &capped,
            &["--plans", "whole", "--report", "r.json"],
        ]
        .concat(),
        &dir,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("r.json")).unwrap()).unwrap();
    let not_applicable = report["not_applicable"].as_array().unwrap();
    assert_eq!(not_applicable.len(), 1, "{not_applicable:?}");
    assert_eq!(
        not_applicable[0]["reason"],
        format!(
            "{} of {total} truncation offsets not derived: at most 7 per module",
            total - 7
        )
    );
}

/// A 3 MB module's derived cases are views of its one buffer: loading it
/// costs one copy of the module, however many cases it yields.
#[test]
fn the_cases_derived_from_a_large_module_share_its_bytes() {
    use streamconform::suites::{load_all, Limits, SuiteSpec};
    let module = many_functions(105_000);
    assert!(module.len() > 3_000_000, "{}", module.len());
    let dir = scratch(
        "large-module-shared",
        &[("big.wast", binary_directive(&module).as_bytes())],
    );
    let limits = Limits::default();
    let loaded = load_all(&[SuiteSpec::Directory(dir.join("mine"))], true, &limits);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    assert_eq!(loaded.cases.len(), 1 + limits.max_truncations_per_module);
    let parent = &loaded.cases[0];
    assert_eq!(&*parent.bytes, &module[..]);
    for case in &loaded.cases[1..] {
        assert!(
            std::ptr::eq(case.bytes.whole_buffer(), parent.bytes.whole_buffer()),
            "{} has its own copy",
            case.id
        );
    }
}
