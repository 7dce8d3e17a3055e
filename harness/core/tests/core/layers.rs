//! Dependencies go one way. Between crates the compiler enforces it (the
//! core, `streamconform`, sees none of the engines, publish or CLI crates).
//! Inside the core: data at the bottom, then oracles and verdicts, then the
//! runner, with its consumers and the session on top and the reference
//! backend beside the runner (it sees only data and the backend traits). A `use crate::X`
//! (or `crate::X::...` in code) from a module of a lower layer than `X` is
//! a cycle in the making, and fails here with the file and line.
//!
//! Test code (`#[cfg(test)]` and below) may reach anywhere.

use std::path::{Path, PathBuf};

/// Each top-level module of `harness/core/src` (backends by their own file) and
/// its layer. A module may use modules of strictly lower layers only.
const LAYERS: &[(&str, u8)] = &[
    // Data: what a case, an outcome, a scenario and a plan are.
    ("error", 0),
    ("features", 0),
    ("outcome", 0),
    ("imports", 0),
    ("streaming_function", 0),
    // Text for an output medium, and files written by create-then-rename.
    ("escape", 0),
    ("output", 1),
    ("plan", 1),
    ("scenario", 1),
    ("case", 2),
    // What instantiating a module gives, by the JS API: the model the
    // reference backend runs and the suites check their directives with.
    ("instantiation", 2),
    // Oracles and loaders: judging and where cases come from.
    ("verdict", 3),
    ("suites", 3),
    ("expectations", 4),
    // The backend traits. The engines that are not in-process live in the
    // engines crate, which this crate cannot see: the compiler keeps them
    // out.
    ("backend", 3),
    ("backend::reference", 4),
    ("backend::fault_injection", 4),
    ("runner", 5),
    // Consumers of run events, and the libtest front end.
    ("reporter", 6),
    ("libtest", 6),
    // A reporter that keeps results as they finish, and its reader.
    ("journal", 6),
    // Differential fuzzing: generated cases, runs, minimization.
    ("fuzz", 7),
    // A run described as data, checked, run and concluded.
    ("session", 7),
];

fn layer_of(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

/// The module a source file belongs to: `runner/pool.rs` → `runner`,
/// `backend/process.rs` → `backend::process`, `backend/mod.rs` → `backend`.
fn module_of(relative: &Path) -> String {
    let parts: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    match parts.as_slice() {
        [top, sub, ..] if top == "backend" && sub != "mod" => format!("backend::{sub}"),
        [top, ..] => top.clone(),
        [] => unreachable!(),
    }
}

/// The modules a `crate::` path on this line names (`crate::backend::process`
/// counts as `backend::process` when that is a layered module).
fn used_modules(line: &str) -> Vec<String> {
    let mut used = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let path: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let mut segments = path.split("::").filter(|s| !s.is_empty());
        let Some(top) = segments.next() else { continue };
        let nested = segments.next().map(|sub| format!("{top}::{sub}"));
        match nested.filter(|n| layer_of(n).is_some()) {
            Some(n) => used.push(n),
            None => used.push(top.to_string()),
        }
    }
    used
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn modules_only_use_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    files.sort();
    let mut violations = Vec::new();
    let mut checked = 0;
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let module = module_of(relative);
        if matches!(module.as_str(), "lib" | "main") {
            continue;
        }
        let own = layer_of(&module).unwrap_or_else(|| {
            panic!(
                "{}: module `{module}` has no layer in tests/layers.rs",
                relative.display()
            )
        });
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("#[cfg(test)]") {
                break;
            }
            if line.trim_start().starts_with("//") {
                continue;
            }
            for used in used_modules(line) {
                // A module's children see each other (`backend::process`
                // uses `backend`'s traits).
                if used == module || module.starts_with(&format!("{used}::")) {
                    continue;
                }
                let Some(theirs) = layer_of(&used) else {
                    violations.push(format!(
                        "{}:{}: unknown module `{used}`",
                        relative.display(),
                        n + 1
                    ));
                    continue;
                };
                checked += 1;
                if theirs >= own {
                    violations.push(format!(
                        "{}:{}: `{module}` (layer {own}) uses `{used}` (layer {theirs})",
                        relative.display(),
                        n + 1
                    ));
                }
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} crate:: uses found; is the scan broken?"
    );
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn the_scan_sees_a_violation() {
    assert_eq!(
        used_modules("use crate::runner::{Run, conclude};"),
        ["runner"]
    );
    assert_eq!(
        used_modules("let b = crate::backend::reference::x(y); crate::case::Case"),
        ["backend::reference", "case"]
    );
    assert_eq!(
        module_of(Path::new("backend/reference/mod.rs")),
        "backend::reference"
    );
    assert_eq!(module_of(Path::new("backend/mod.rs")), "backend");
    assert_eq!(module_of(Path::new("runner/pool.rs")), "runner");
}
