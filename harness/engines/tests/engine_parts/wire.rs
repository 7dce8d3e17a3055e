//! Every value a case can take crosses the wire and is understood by the
//! driver: one request per variant of every enum of a scenario (from each
//! enum's `ALL`, so a new variant is covered as soon as it exists), run
//! through the real driver under the machine's node, must come back as a
//! result of the driver's own making, not a driver crash (`driver: unknown
//! chunk type ...` when a JS switch lacks a case the Rust enum has) or a
//! protocol error. A Rust/JS mismatch fails the build's tests, not a run.

use std::time::Duration;
use streamconform::backend::WebApiBackend;
use streamconform::scenario::{
    AbortAt, Argument, BodyShape, BodyState, ChunkPosition, ChunkType, CompileOptions,
    FetchRequest, FetchUrl, HeaderChange, JsValue, OptionsArgument, OptionsDictionary, Pacing,
    RedirectMode, RequestMode, Scenario, Served, StreamEnd,
};
use streamconform::{ChunkPlan, Outcome};
use streamconform_engines::process::ProcessBackend;

/// A valid module with a custom section "x".
const MODULE: &[u8] = b"\0asm\x01\0\0\0\0\x0a\x01xabcdefgh";

fn fetching(url: FetchUrl) -> FetchRequest {
    FetchRequest {
        url,
        mode: RequestMode::default(),
        redirect: RedirectMode::default(),
        redirected_from: None,
        redirect_status: 302,
        media_type: Some("application/wasm".into()),
        served: Served::default(),
        served_bytes: 4,
        abort: None,
    }
}

/// `base` changed by `change`, named for the report.
fn variant(name: String, change: impl FnOnce(&mut Scenario)) -> (String, Scenario) {
    let mut scenario = Scenario::byte_level();
    change(&mut scenario);
    (name, scenario)
}

/// One scenario per variant of each enum a scenario carries, each with
/// what that variant needs to mean something (a value for `argument =
/// "value"`, a fetch table for `"fetch"`, ...).
fn every_variant() -> Vec<(String, Scenario)> {
    let mut all = Vec::new();
    for &argument in Argument::ALL {
        all.push(variant(format!("argument {argument:?}"), |s| {
            s.argument = argument;
            match argument {
                Argument::Value | Argument::ValueInPromise => s.value = Some(JsValue::Zero),
                Argument::Rejected | Argument::ThenableThrows => s.reason = Some(JsValue::Object),
                Argument::Fetch | Argument::Fetched => {
                    s.fetch = Some(fetching(FetchUrl::SameOrigin))
                }
                Argument::ResponseRedirect => s.status = 301,
                _ => {}
            }
        }));
    }
    for &value in JsValue::ALL {
        all.push(variant(format!("value {value:?}"), |s| {
            s.argument = Argument::Value;
            s.value = Some(value);
        }));
        all.push(variant(format!("reason {value:?}"), |s| {
            s.stream_end = StreamEnd::Error;
            s.reason = Some(value);
        }));
    }
    for &body in BodyShape::ALL {
        all.push(variant(format!("body {body:?}"), |s| {
            s.body = body;
            s.text = Some("text".into());
            s.blob_type = Some("application/wasm".into());
        }));
    }
    for &chunk_type in ChunkType::ALL {
        all.push(variant(format!("chunk-type {chunk_type:?}"), |s| {
            s.chunk_type = chunk_type
        }));
        for &at in ChunkPosition::ALL {
            all.push(variant(
                format!("bad-chunk {chunk_type:?} at {at:?}"),
                |s| {
                    s.bad_chunk = Some(chunk_type);
                    s.bad_chunk_at = at;
                },
            ));
        }
    }
    for &end in StreamEnd::ALL {
        for &pacing in Pacing::ALL {
            all.push(variant(
                format!("stream-end {end:?}, pacing {pacing:?}"),
                |s| {
                    s.stream_end = end;
                    s.reason = Some(JsValue::Object);
                    s.error_after_chunks = Some(2);
                    s.pacing = pacing;
                },
            ));
        }
    }
    for &state in BodyState::ALL {
        all.push(variant(format!("body-state {state:?}"), |s| {
            s.body_state = state
        }));
    }
    for &options in CompileOptions::ALL {
        all.push(variant(format!("options {options:?}"), |s| {
            s.options = Some(OptionsArgument::Named(options))
        }));
    }
    all.push(variant("options dictionary".into(), |s| {
        s.options = Some(OptionsArgument::Dictionary(OptionsDictionary {
            builtins: Some(vec!["js-string".into()]),
            imported_string_constants: Some("'".into()),
        }))
    }));
    all.push(variant("headers, status, after-call".into(), |s| {
        s.headers = vec![
            ("Content-Type".into(), " application/wasm ".into()),
            ("X-A".into(), "1".into()),
        ];
        s.status = 203;
        s.after_call = Some(HeaderChange {
            set: Some(("Content-Type".into(), "text/plain".into())),
            delete: Some("X-A".into()),
        });
    }));
    let mut fetches = Vec::new();
    for &url in FetchUrl::ALL {
        fetches.push((format!("fetch url {url:?}"), fetching(url)));
        for &from in FetchUrl::ALL.iter().filter(|u| u.is_server()) {
            let mut fetch = fetching(url);
            fetch.redirected_from = Some(from);
            fetches.push((format!("fetch url {url:?} redirected from {from:?}"), fetch));
        }
    }
    let mut same_origin = |name: String, change: &dyn Fn(&mut FetchRequest)| {
        let mut fetch = fetching(FetchUrl::SameOrigin);
        change(&mut fetch);
        fetches.push((name, fetch));
    };
    for &mode in RequestMode::ALL {
        same_origin(format!("fetch mode {mode:?}"), &|f| f.mode = mode);
    }
    for &redirect in RedirectMode::ALL {
        same_origin(format!("fetch redirect {redirect:?}"), &|f| {
            f.redirect = redirect;
            f.redirected_from = Some(FetchUrl::SameOrigin);
        });
    }
    for &served in Served::ALL {
        same_origin(format!("fetch served {served:?}"), &|f| f.served = served);
    }
    for &abort in AbortAt::ALL {
        // A stalled body, so a mid-body abort finds it streaming.
        same_origin(format!("fetch abort {abort:?}"), &|f| {
            f.abort = Some(abort);
            f.served = Served::Stall;
        });
    }
    for (name, fetch) in fetches {
        for argument in [Argument::Fetch, Argument::Fetched] {
            let fetch = fetch.clone();
            all.push(variant(format!("{name}, argument {argument:?}"), |s| {
                s.argument = argument;
                s.reason = Some(JsValue::Object);
                s.fetch = Some(fetch);
            }));
        }
    }
    all
}

fn node() -> ProcessBackend {
    streamconform_engines::process::js(
        "node",
        "node",
        &["node".into()],
        2,
        Duration::from_millis(300),
    )
    .expect("the driver is written out")
}

#[test]
fn every_scenario_variant_is_understood_by_the_driver() {
    let backend = node();
    // Offsets, a repeated one (an empty chunk) and a range on the wire.
    let plan = ChunkPlan {
        name: "mixed".into(),
        cuts: vec![0, 0, 1, 2, 3, 4, 9],
    };
    let variants = every_variant();
    let failures: Vec<String> = std::thread::scope(|scope| {
        let runs: Vec<_> = variants
            .chunks(variants.len().div_ceil(8))
            .map(|some| {
                let (backend, plan) = (&backend, &plan);
                scope.spawn(move || {
                    some.iter()
                        .filter_map(|(name, scenario)| {
                            let outcome = backend.compile_web_api(scenario, MODULE, plan).outcome;
                            matches!(outcome, Outcome::Crash { .. } | Outcome::Timeout)
                                .then(|| format!("{name}: {outcome:?}"))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        runs.into_iter()
            .flat_map(|run| run.join().unwrap())
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} of {} variants not understood:\n{}",
        failures.len(),
        variants.len(),
        failures.join("\n")
    );
}

/// The chunks a plan's cuts make on the wire are the module's bytes, in
/// order: a byte-by-byte plan with repeated offsets compiles to the same
/// module as the whole.
#[test]
fn cut_lists_on_the_wire_rebuild_the_module() {
    let backend = node();
    let whole = ChunkPlan {
        name: "whole".into(),
        cuts: vec![],
    };
    let mut cuts: Vec<usize> = vec![0, 0, 1];
    cuts.extend(1..MODULE.len());
    cuts.push(MODULE.len());
    let scenario = Scenario::byte_level();
    let expected = backend.compile_web_api(&scenario, MODULE, &whole).outcome;
    assert!(matches!(expected, Outcome::Module { .. }), "{expected:?}");
    let split = ChunkPlan {
        name: "split".into(),
        cuts,
    };
    assert_eq!(
        backend.compile_web_api(&scenario, MODULE, &split).outcome,
        expected
    );
}
