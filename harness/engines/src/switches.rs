//! Which engine switch turns on which proposal: data, one row per (engine,
//! proposal). A row is only a candidate: the process backend starts a
//! worker with the switch and keeps it only if the proposal's probe
//! (`features::PROBES`) then compiles and did not without it, so a switch
//! an engine version dropped or renamed costs nothing but a line in the
//! run info.
//!
//! Switches that change what the JS API looks like (V8's `--wasm-staging`,
//! type reflection) are deliberately absent: they would change the
//! outcomes being judged, not only which proposals exist.

/// How one switch is passed to the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Switch {
    /// A V8 flag given to node directly (`node --flag stdio.mjs`).
    NodeV8(&'static str),
    /// A V8 flag given to deno through `--v8-flags=a,b`.
    DenoV8(&'static str),
    /// A JavaScriptCore option for bun, set as `BUN_JSC_<option>=1`.
    BunJsc(&'static str),
    /// A V8 flag given to Chromium through `--js-flags="a b"`.
    ChromiumV8(&'static str),
    /// A boolean Firefox pref set to true in the profile's `user.js`.
    FirefoxPref(&'static str),
    /// A JavaScriptCore option for WebKitGTK, set as `JSC_<option>=1` in
    /// the browser's environment (its web process inherits it).
    WebkitJsc(&'static str),
}

/// (engine, proposal, switch) candidates.
pub const ENGINE_SWITCHES: &[(&str, &str, Switch)] = &[
    (
        "node",
        "extended-const",
        Switch::NodeV8("--experimental-wasm-extended-const"),
    ),
    (
        "node",
        "relaxed-simd",
        Switch::NodeV8("--experimental-wasm-relaxed-simd"),
    ),
    (
        "node",
        "memory64",
        Switch::NodeV8("--experimental-wasm-memory64"),
    ),
    (
        "node",
        "multi-memory",
        Switch::NodeV8("--experimental-wasm-multi-memory"),
    ),
    ("node", "gc", Switch::NodeV8("--experimental-wasm-gc")),
    (
        "node",
        "function-references",
        Switch::NodeV8("--experimental-wasm-typed-funcref"),
    ),
    (
        "node",
        "exceptions",
        Switch::NodeV8("--experimental-wasm-exnref"),
    ),
    // Releases of node run beside the machine's (`node@26`) have flags the
    // machine's lacks; each is probed on the release it is offered to.
    (
        "node",
        "custom-descriptors",
        Switch::NodeV8("--experimental-wasm-custom-descriptors"),
    ),
    (
        "node",
        "shared-everything-threads",
        Switch::NodeV8("--experimental-wasm-shared"),
    ),
    (
        "node",
        "stack-switching",
        Switch::NodeV8("--experimental-wasm-wasmfx"),
    ),
    (
        "deno",
        "wide-arithmetic",
        Switch::DenoV8("--experimental-wasm-wide-arithmetic"),
    ),
    (
        "deno",
        "custom-descriptors",
        Switch::DenoV8("--experimental-wasm-custom-descriptors"),
    ),
    (
        "deno",
        "shared-everything-threads",
        Switch::DenoV8("--experimental-wasm-shared"),
    ),
    (
        "deno",
        "stack-switching",
        Switch::DenoV8("--experimental-wasm-wasmfx"),
    ),
    ("bun", "memory64", Switch::BunJsc("useWasmMemory64")),
    ("webkit", "memory64", Switch::WebkitJsc("useWasmMemory64")),
    // Chromium 156's V8 names these `--wasm-*`; the `--experimental-wasm-*`
    // names node's older V8 takes are unrecognized there.
    (
        "chromium",
        "wide-arithmetic",
        Switch::ChromiumV8("--wasm-wide-arithmetic"),
    ),
    (
        "chromium",
        "custom-descriptors",
        Switch::ChromiumV8("--wasm-custom-descriptors"),
    ),
    (
        "chromium",
        "shared-everything-threads",
        Switch::ChromiumV8("--wasm-shared"),
    ),
    (
        "chromium",
        "stack-switching",
        Switch::ChromiumV8("--wasm-wasmfx"),
    ),
    (
        "firefox",
        "wide-arithmetic",
        Switch::FirefoxPref("javascript.options.wasm_wide_arithmetic"),
    ),
    (
        "firefox",
        "stack-switching",
        Switch::FirefoxPref("javascript.options.wasm_stack_switching"),
    ),
];

/// The candidate switches of one engine, as (proposal, switch).
pub fn candidates(engine: &str) -> Vec<(String, Switch)> {
    ENGINE_SWITCHES
        .iter()
        .filter(|(e, _, _)| *e == engine)
        .map(|(_, proposal, switch)| (proposal.to_string(), *switch))
        .collect()
}

/// Command-line arguments and environment for a set of switches.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rendered {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Firefox prefs to set to true.
    pub prefs: Vec<String>,
}

pub fn render(switches: &[Switch]) -> Rendered {
    let mut rendered = Rendered::default();
    let mut deno = Vec::new();
    let mut chromium = Vec::new();
    for switch in switches {
        match switch {
            Switch::NodeV8(flag) => rendered.args.push(flag.to_string()),
            Switch::DenoV8(flag) => deno.push(*flag),
            Switch::BunJsc(option) => rendered
                .env
                .push((format!("BUN_JSC_{option}"), "1".to_string())),
            Switch::ChromiumV8(flag) => chromium.push(*flag),
            Switch::FirefoxPref(pref) => rendered.prefs.push(pref.to_string()),
            Switch::WebkitJsc(option) => rendered
                .env
                .push((format!("JSC_{option}"), "1".to_string())),
        }
    }
    if !deno.is_empty() {
        // deno takes all V8 flags in one argument; a second would replace it.
        rendered.args.push(format!("--v8-flags={}", deno.join(",")));
    }
    if !chromium.is_empty() {
        // So does Chromium, separated by spaces.
        rendered
            .args
            .push(format!("--js-flags={}", chromium.join(" ")));
    }
    rendered
}

impl std::fmt::Display for Switch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Switch::NodeV8(flag) => f.write_str(flag),
            Switch::DenoV8(flag) => write!(f, "--v8-flags={flag}"),
            Switch::BunJsc(option) => write!(f, "BUN_JSC_{option}=1"),
            Switch::ChromiumV8(flag) => write!(f, "--js-flags={flag}"),
            Switch::FirefoxPref(pref) => write!(f, "user_pref({pref:?}, true)"),
            Switch::WebkitJsc(option) => write!(f, "JSC_{option}=1"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use streamconform::features::{KNOWN_FEATURES, PROBES};

    #[test]
    fn every_row_names_a_probed_proposal() {
        for (engine, proposal, _) in ENGINE_SWITCHES {
            assert!(
                KNOWN_FEATURES.contains(proposal) && PROBES.iter().any(|(p, _)| p == proposal),
                "{engine}: {proposal} has no probe, so its switch could never be confirmed"
            );
        }
    }

    #[test]
    fn deno_flags_share_one_argument() {
        let r = render(&[
            Switch::DenoV8("--a"),
            Switch::DenoV8("--b"),
            Switch::BunJsc("useX"),
            Switch::NodeV8("--c"),
        ]);
        assert_eq!(r.args, ["--c", "--v8-flags=--a,--b"]);
        assert_eq!(r.env, [("BUN_JSC_useX".to_string(), "1".to_string())]);
    }

    #[test]
    fn chromium_flags_share_one_argument_and_firefox_prefs_stay_prefs() {
        let r = render(&[
            Switch::ChromiumV8("--a"),
            Switch::FirefoxPref("javascript.options.wasm_x"),
            Switch::ChromiumV8("--b"),
        ]);
        assert_eq!(r.args, ["--js-flags=--a --b"]);
        assert_eq!(r.prefs, ["javascript.options.wasm_x"]);
        assert!(r.env.is_empty());
    }

    #[test]
    fn webkit_options_go_in_the_environment_without_bun_s_prefix() {
        let r = render(&[Switch::WebkitJsc("useX")]);
        assert_eq!(r.env, [("JSC_useX".to_string(), "1".to_string())]);
        assert!(r.args.is_empty() && r.prefs.is_empty());
    }
}
