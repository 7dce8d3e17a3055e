//! End-to-end throughput of the harness in a browser against a bare
//! in-page loop over the same work, in one run, for each browser.
//!
//! - harness: a whole `Run` on the `chromium` or `firefox` backend (driver
//!   page, WebSocket channels, the shared driver building a Response per
//!   plan in the page's workers, verdicts), reduced plan set;
//! - bare: `benches/bare-page.html`, the same (module, plan) pairs compiled
//!   with `compileStreaming` in as many dedicated workers of one page as the
//!   backend has, with as many in flight, in the same kind of browser,
//!   launched the same way. Only the compile loop is timed (not loading).
//!
//! Prints `BROWSER overhead ratio: X.XX` (harness time / bare time;
//! throughput is its inverse). Run:
//! `cargo bench -p streamconform-engines --bench browser_overhead`.
//! `STREAMCONFORM_BENCH_CASES=N` limits the cases (default: the spec
//! suite); `STREAMCONFORM_BENCH_BROWSER=chromium` runs one browser.

#[path = "common/mod.rs"]
mod common;

use std::time::Duration;

use streamconform::runner::Run;
use streamconform_engines::browser::launcher::{Browser, BrowserKind};
use streamconform_engines::loopback_server::{BodyEnding, LoopbackServer, Origin, Route};

fn main() {
    let only = std::env::var("STREAMCONFORM_BENCH_BROWSER").ok();
    let cases = common::spec_cases();
    for &kind in BrowserKind::ALL {
        if only.as_deref().is_some_and(|name| name != kind.name()) {
            continue;
        }
        bench(kind, cases.clone());
    }
}

fn bench(kind: BrowserKind, cases: Vec<streamconform::case::Case>) {
    // The backend's own sizing: one page worker per core, four cases in
    // flight per worker.
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let backend = streamconform_engines::by_name(kind.name()).expect("browser backend");
    println!(
        "{}: {} cases, reduced plans, {}, {workers} page workers",
        kind.name(),
        cases.len(),
        backend.engine.info().version
    );
    let in_flight = backend.engine.preferred_jobs().unwrap_or(workers);

    // The same work for the bare page, split over as many workers.
    let server = LoopbackServer::start().expect("loopback server");
    let shards = common::shards(&cases, workers);
    let file = |content_type: &str, body: Vec<u8>| Route {
        status: 200,
        headers: vec![("Content-Type".into(), content_type.into())],
        body,
        end: BodyEnding::Complete,
    };
    for (i, shard) in shards.iter().enumerate() {
        server.serve(
            Origin::Primary,
            &format!("/bench/shard-{i}.json"),
            file("application/json", serde_json::to_vec(shard).unwrap()),
        );
    }
    for (name, text) in [
        ("bare-worker.mjs", include_str!("bare-worker.mjs")),
        ("bare-compile.mjs", include_str!("bare-compile.mjs")),
    ] {
        server.serve(
            Origin::Primary,
            &format!("/bench/{name}"),
            file("text/javascript", text.as_bytes().to_vec()),
        );
    }
    let page = server.serve(
        Origin::Primary,
        "/bench/bare-page.html",
        file("text/html", include_bytes!("bare-page.html").to_vec()),
    );
    let (channel, connections) = server.open_channel("/channel/bench");
    let url = format!(
        "{page}?workers={workers}&in_flight={}&ws={channel}",
        (in_flight / workers).max(1)
    );
    let bare_browser = Browser::open(kind, &url, &[]).expect("launch the bare page");
    let mut socket = connections
        .recv_timeout(Duration::from_secs(60))
        .expect("the bare page connects");
    let mut bare_round = || -> Duration {
        socket.send(tungstenite::Message::text("round")).unwrap();
        match socket.read().expect("the bare page answers") {
            tungstenite::Message::Text(ms) => {
                Duration::from_millis(ms.as_str().parse().expect("milliseconds"))
            }
            other => panic!("unexpected message {other:?}"),
        }
    };

    let case_count = cases.len();
    let run = Run::new(cases, vec![backend], common::harness_config(in_flight));
    common::compare(
        kind.name(),
        || common::harness_round(&run, case_count),
        &mut bare_round,
    );
    bare_browser.kill();
}
