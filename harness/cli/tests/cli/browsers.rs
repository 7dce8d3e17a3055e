//! Real browsers (Debian's chromium and firefox-esr, installed by
//! `scripts/install-engines.sh browsers`) start headless with a fresh
//! profile, load a page from the loopback server and talk back over the
//! run's WebSocket channel, reporting the version `--version` gives; killed,
//! a browser leaves no process of its group behind.

use crate::common;

use std::process::Command;
use std::time::Duration;
use streamconform_engines::browser::launcher::{Browser, BrowserKind};
use streamconform_engines::loopback_server::{BodyEnding, LoopbackServer, Origin, Route};
use tungstenite::Message;

/// What is left of process group `group` once SIGKILL, sent to the whole
/// group, has been delivered. Delivery is asynchronous: a member busy in
/// the kernel (a renderer the page's navigation from the start page is
/// retiring, under load) dies a moment after the leader is reaped. So
/// this waits for the group to empty, up to a bound that only a member
/// the kill missed (a group that outlives its browser) reaches.
fn group_left_after_kill(group: u32) -> Vec<u32> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = group_members(group);
        if left.is_empty() || std::time::Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Processes whose process group is `group` (zombies aside).
fn group_members(group: u32) -> Vec<u32> {
    common::live_processes()
        .into_iter()
        .filter(|p| p.process_group == group)
        .map(|p| p.pid)
        .collect()
}

#[test]
fn each_browser_loads_a_page_that_talks_back_over_the_channel() {
    common::install_browsers();
    let server = LoopbackServer::start().unwrap();
    for &kind in BrowserKind::ALL {
        let version = kind.version().unwrap();
        let (channel, connections) = server.open_channel(&format!("/channel/{}", kind.name()));
        let page = format!(
            "<!doctype html><script>\n\
             const socket = new WebSocket({channel:?});\n\
             socket.onopen = () => socket.send(JSON.stringify({{ agent: navigator.userAgent, origin: location.origin }}));\n\
             </script>"
        );
        let url = server.serve(
            Origin::Primary,
            &format!("/page/{}.html", kind.name()),
            Route {
                status: 200,
                headers: vec![("Content-Type".into(), "text/html".into())],
                body: page.into_bytes(),
                end: BodyEnding::Complete,
            },
        );
        let browser = Browser::open(kind, &url, &[]).unwrap();
        let mut socket = connections
            .recv_timeout(Duration::from_secs(90))
            .unwrap_or_else(|_| panic!("{} never connected back", kind.name()));
        let Message::Text(hello) = socket.read().unwrap() else {
            panic!("not a text message")
        };
        let hello: serde_json::Value = serde_json::from_str(&hello).unwrap();
        let agent = hello["agent"].as_str().unwrap();
        // "Chromium 156.0.8078.79 built on ..." -> "156.";
        // "Mozilla Firefox 153.7.0esr" -> "153.".
        let major = version
            .split_whitespace()
            .find(|word| word.chars().next().is_some_and(|c| c.is_ascii_digit()))
            .and_then(|v| v.split('.').next())
            .unwrap();
        let expected = match kind {
            BrowserKind::Chromium => format!("HeadlessChrome/{major}."),
            BrowserKind::Firefox => format!("Firefox/{major}."),
            // "WebKitGTK 2.50.6": WebKit's user agent carries a frozen
            // AppleWebKit version, never WebKitGTK's.
            BrowserKind::Webkit => "AppleWebKit/".into(),
        };
        assert!(agent.contains(&expected), "{agent} vs {version}");
        assert_eq!(hello["origin"], server.origin(Origin::Primary));

        let group = browser.process_id();
        assert!(!group_members(group).is_empty());
        browser.kill();
        drop(browser);
        assert_eq!(
            group_left_after_kill(group),
            Vec::<u32>::new(),
            "{}",
            kind.name()
        );
    }
}

/// The driver page (the shared driver core behind the page transport)
/// speaks the process protocol over its channel in each browser: a hello
/// of this protocol version naming the browser and its `origin`
/// capability, then a one-shot and a streamed compile, each `started` then
/// answered.
#[test]
fn the_driver_page_speaks_the_protocol_in_each_browser() {
    use streamconform::scenario::{stream_event_runs, Scenario};
    use streamconform::Outcome;
    use streamconform_engines::browser::page::serve_driver_page;
    use streamconform_engines::worker::protocol::{
        Hello, ModuleRequest, Reply, Request, RequestBody, WireCuts, WireEvent, WireScenario,
        PROTOCOL_VERSION,
    };
    common::install_browsers();
    let server = LoopbackServer::start().unwrap();
    let module = b"\0asm\x01\0\0\0\0\x05\x04name";
    for &kind in BrowserKind::ALL {
        let mut page = serve_driver_page(&server, &[kind.name().to_string()], "page");
        let connections = page.workers.remove(0);
        let browser = Browser::open(kind, &page.url, &[]).unwrap();
        let mut socket = connections
            .recv_timeout(Duration::from_secs(90))
            .unwrap_or_else(|_| panic!("{} never connected back", kind.name()));
        let mut next = || match socket.read().unwrap() {
            Message::Text(text) => text.as_bytes().to_vec(),
            other => panic!("{other:?}"),
        };
        let hello = Hello::parse(&next()).unwrap();
        assert_eq!(hello.protocol, PROTOCOL_VERSION);
        assert_eq!(hello.engine, kind.name());
        // Chromium's page knows its full version (client hints); Firefox
        // tells content only its major version ("153.0"), so the backend
        // will take Firefox's from `--version`.
        let installed = kind.version().unwrap();
        let page_knows = match kind {
            BrowserKind::Chromium => hello.version.clone(),
            BrowserKind::Firefox => hello.version.split('.').next().unwrap().to_string() + ".",
            // Only the frozen AppleWebKit version: the backend takes
            // WebKitGTK's from MiniBrowser --version.
            BrowserKind::Webkit => "WebKitGTK ".into(),
        };
        assert!(
            installed.contains(&page_knows),
            "{} vs {installed}",
            hello.version
        );
        assert!(hello.capabilities.iter().any(|c| c == "origin"));

        let scenario = Scenario::byte_level();
        let streamed = RequestBody::Case {
            scenario: Box::new(WireScenario::new(&scenario, None)),
            cuts: WireCuts(&[4, 9]),
            events: stream_event_runs(&scenario, 3)
                .into_iter()
                .map(WireEvent)
                .collect(),
        };
        let mut send = |text: String| socket.send(Message::text(text)).unwrap();
        send(serde_json::to_string(&ModuleRequest::new(1, module)).unwrap());
        for (id, body) in [(7, &RequestBody::OneShot { options: None }), (8, &streamed)] {
            let request = Request {
                id,
                module: 1,
                settle_ms: Some(1000),
                function: Default::default(),
                imports: None,
                body,
            };
            send(serde_json::to_string(&request).unwrap());
        }
        // A message carries one or more replies, one per line.
        let mut next = || match socket.read().unwrap() {
            Message::Text(text) => text
                .as_str()
                .split('\n')
                .map(|line| Reply::parse(line.as_bytes()).unwrap())
                .collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        let mut started = Vec::new();
        let mut answered = Vec::new();
        while answered.len() < 2 {
            for reply in next() {
                match reply {
                    Reply::Started { id } => started.push(id),
                    Reply::Result { id, outcome } => {
                        assert!(started.contains(&id), "{id} answered before started");
                        assert!(
                            matches!(outcome.outcome, Outcome::Module { .. }),
                            "{}: {id}: {:?}",
                            kind.name(),
                            outcome.outcome
                        );
                        answered.push(id);
                    }
                    Reply::Pong => panic!("{}: a pong without a ping", kind.name()),
                }
            }
        }
        answered.sort();
        assert_eq!(answered, [7, 8]);
        browser.kill();
    }
}

/// The same protocol client that drives process workers drives a browser
/// page over the WebSocket transport: a one-shot and a streamed compile on
/// a Chromium page, answered; killing the browser loses what is in flight
/// (the channel closes) instead of hanging.
#[test]
fn the_protocol_client_drives_a_browser_page() {
    use streamconform::scenario::{stream_event_runs, JsValue, Scenario, StreamEnd};
    use streamconform::Outcome;
    use streamconform_engines::browser::page::serve_driver_page;
    use streamconform_engines::worker::client::{Deadlines, Worker};
    use streamconform_engines::worker::protocol::{
        Request, RequestBody, WireCuts, WireEvent, WireScenario,
    };
    use streamconform_engines::worker::transport::{Transport, WebSocketTransport};
    common::install_browsers();
    let server = LoopbackServer::start().unwrap();
    let mut page = serve_driver_page(&server, &["client".to_string()], "page");
    let connections = page.workers.remove(0);
    let browser = Browser::open(BrowserKind::Chromium, &page.url, &[]).unwrap();
    let socket = connections
        .recv_timeout(Duration::from_secs(90))
        .expect("the page connects back");
    let worker = Worker::connect("chromium", |receive| {
        WebSocketTransport::start(socket, receive).map(|t| Box::new(t) as Box<dyn Transport>)
    })
    .unwrap();
    let hello = worker.hello().clone();
    assert_eq!(hello.engine, "chromium");
    let deadlines = Deadlines {
        settle: Duration::from_millis(1000),
        hang_grace: Duration::from_secs(20),
    };
    let module: &[u8] = b"\0asm\x01\0\0\0\0\x05\x04name";
    let request = |id, body| Request {
        id,
        module: 1,
        settle_ms: Some(1000),
        function: Default::default(),
        imports: None,
        body,
    };
    let one_shot = worker
        .request(
            (1, module),
            &request(1, &RequestBody::OneShot { options: None }),
            deadlines,
        )
        .unwrap();
    assert!(
        matches!(one_shot.outcome, Outcome::Module { .. }),
        "{one_shot:?}"
    );

    // A stream that errors with the page's own object after its chunks.
    let mut errors = Scenario::byte_level();
    errors.stream_end = StreamEnd::Error;
    errors.reason = Some(JsValue::Object);
    let body = RequestBody::Case {
        scenario: Box::new(WireScenario::new(&errors, None)),
        cuts: WireCuts(&[4]),
        events: stream_event_runs(&errors, 2)
            .into_iter()
            .map(WireEvent)
            .collect(),
    };
    let streamed = worker
        .request((1, module), &request(2, &body), deadlines)
        .unwrap();
    // Whatever Chromium makes of it (the spec passes the error through;
    // Chromium has been seen to reject with a TypeError), it answers.
    assert!(
        !matches!(streamed.outcome, Outcome::Crash { .. } | Outcome::Timeout),
        "{streamed:?}"
    );
    println!("chromium, a stream that errors: {:?}", streamed.outcome);

    browser.kill();
    let lost = worker.request(
        (1, module),
        &request(3, &RequestBody::OneShot { options: None }),
        deadlines,
    );
    assert!(lost.is_err(), "{lost:?}");
}

/// The content processes of the browser whose process group is `group`:
/// those that run its pages (and their workers), not the browser itself,
/// its network or GPU processes, or WebKit's virtual display.
fn content_processes(kind: BrowserKind, group: u32) -> Vec<u32> {
    common::live_processes()
        .into_iter()
        .filter(|p| p.process_group == group)
        .filter(|p| {
            let cmdline = std::fs::read(p.dir.join("cmdline")).unwrap_or_default();
            // Chromium rewrites its children's command lines as one
            // string: words are split at spaces as well as at NULs.
            let words: Vec<String> = cmdline
                .split(|&b| b == 0 || b == b' ')
                .filter(|w| !w.is_empty())
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect();
            match kind {
                BrowserKind::Chromium => words.iter().any(|w| w == "--type=renderer"),
                BrowserKind::Firefox => words.iter().any(|w| w == "-isForBrowser"),
                BrowserKind::Webkit => words
                    .first()
                    .is_some_and(|w| w.ends_with("/WebKitWebProcess")),
            }
        })
        .map(|p| p.pid)
        .collect()
}

/// A child process killed if the test fails while it runs.
struct KilledOnDrop(std::process::Child);

impl Drop for KilledOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a disrupted run does to its browser once it is going.
#[derive(Clone, Copy, Debug)]
enum Disruption {
    /// Kills the browser's whole process group.
    KillBrowser,
    /// Kills the processes that run its pages, leaving the browser up
    /// (as a crash of WebKitGTK's web process does).
    KillPage,
}

/// Killing the browser in the middle of a run, or only the process its
/// page runs in, costs only the requests it had in flight, and those run
/// again on a relaunched browser: the run completes with the results of an
/// undisturbed run, in each browser. A dead page is noticed when it dies
/// (its lifeline closes), not when its workers fail to come back.
#[test]
fn a_browser_or_page_killed_mid_run_costs_only_its_in_flight_cases() {
    use streamconform::reporter::json::Report;
    use streamconform::Outcome;
    common::install_browsers();
    let dir = std::env::temp_dir().join(format!("streamconform-killed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let run = |kind: BrowserKind, report: &str| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_streamconform"));
        command
            .args(["run", "--backend", kind.name(), "--suite", "webapi"])
            .args(["--plans", "reduced", "--report", report])
            // Cases the engine hangs on are left out of the comparison;
            // they need not take the default 120 s each.
            .args(["--timeout", "30"])
            .current_dir(&dir)
            .env_remove("CI")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        command
    };
    // A case the engine hangs on is itself an engine that stops
    // answering: how it is reported (its plans' hang deadlines, or the
    // case's own) depends on when the relaunches fall, so such a case is
    // left out of the comparison, and counted, never silently.
    let hangs = |case: &streamconform::reporter::json::ReportedCase| {
        case.aborted
            .as_deref()
            .is_some_and(|a| a.starts_with(streamconform::verdict::TIMEOUT_PREFIX))
            || case
                .failing_plans
                .iter()
                .any(|p| matches!(p.actual, Outcome::Timeout))
    };
    let read = |report: &str| -> Report {
        serde_json::from_slice(&std::fs::read(dir.join(report)).unwrap()).unwrap()
    };
    // The harness's child that runs its browser (with no switches, as
    // shipped): the browser, or for webkit its display's wrapper.
    let browser_of = |harness: u32| {
        common::live_processes().into_iter().find(|p| {
            p.parent == harness
                && std::fs::read(p.dir.join("cmdline")).is_ok_and(|c| {
                    let c = String::from_utf8_lossy(&c);
                    c.contains("streamconform-") && !c.contains("wasm")
                })
        })
    };
    for &kind in BrowserKind::ALL {
        let clean = format!("{}-clean.json", kind.name());
        let undisturbed = run(kind, &clean).status().unwrap();
        let clean = read(&clean);
        let mut hung: std::collections::BTreeSet<String> = clean
            .results
            .iter()
            .filter(|case| hangs(case))
            .map(|case| case.id.clone())
            .collect();
        for disruption in [Disruption::KillBrowser, Disruption::KillPage] {
            let name = format!("{}-{disruption:?}.json", kind.name());
            let mut harness = KilledOnDrop(run(kind, &name).spawn().unwrap());
            let harness = &mut harness.0;
            let journal = dir.join(format!("{name}.journal"));
            let started = std::time::Instant::now();
            // Once a quarter of the cases are done, disrupt the browser
            // that runs them.
            let browser = loop {
                assert!(
                    started.elapsed() < Duration::from_secs(120),
                    "{}: the run never got going",
                    kind.name()
                );
                let done = std::fs::read_to_string(&journal).map_or(0, |j| j.lines().count());
                match browser_of(harness.id()) {
                    Some(browser) if done >= 64 => break browser,
                    _ => std::thread::sleep(Duration::from_millis(20)),
                }
            };
            match disruption {
                Disruption::KillBrowser => {
                    // The browser leads its own process group.
                    unsafe {
                        libc::killpg(browser.pid as libc::pid_t, libc::SIGKILL);
                    }
                }
                Disruption::KillPage => {
                    let pages = content_processes(kind, browser.process_group);
                    assert!(!pages.is_empty(), "{}: no content process", kind.name());
                    for page in pages {
                        unsafe {
                            libc::kill(page as libc::pid_t, libc::SIGKILL);
                        }
                    }
                    // The browser lives on with a dead page; the harness
                    // replaces it as soon as a request needs a worker. A
                    // page connection deadline (60 s) is not what did it.
                    let killed = std::time::Instant::now();
                    loop {
                        let relaunched =
                            browser_of(harness.id()).is_some_and(|b| b.pid != browser.pid);
                        if relaunched || harness.try_wait().unwrap().is_some() {
                            break;
                        }
                        assert!(
                            killed.elapsed() < Duration::from_secs(30),
                            "{}: a browser whose page died was not replaced within 30 s",
                            kind.name()
                        );
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            }
            let finished = std::time::Instant::now();
            let status = loop {
                if let Some(status) = harness.try_wait().unwrap() {
                    break status;
                }
                assert!(
                    finished.elapsed() < Duration::from_secs(600),
                    "{} ({disruption:?}): the disrupted run never ended",
                    kind.name()
                );
                std::thread::sleep(Duration::from_millis(50));
            };
            assert!(
                !group_members(browser.process_group).contains(&browser.pid),
                "{} ({disruption:?}): the disrupted browser is gone",
                kind.name()
            );
            assert_eq!(
                status.code(),
                undisturbed.code(),
                "{} ({disruption:?}): the run completes as an undisturbed one does",
                kind.name()
            );
            let disrupted = read(&name);
            hung.extend(
                disrupted
                    .results
                    .iter()
                    .filter(|case| hangs(case))
                    .map(|case| case.id.clone()),
            );
            let judged = |report: &Report| {
                report
                    .results
                    .iter()
                    .filter(|case| !hung.contains(&case.id))
                    .map(|case| format!("{} {}", case.id, common::judged(case)))
                    .collect::<Vec<_>>()
            };
            let (disrupted_judged, clean_judged) = (judged(&disrupted), judged(&clean));
            assert_eq!(disrupted.results.len(), clean.results.len());
            assert!(
                hung.len() * 10 < clean.results.len(),
                "{}: the comparison leaves out {} hanging cases of {}: {hung:?}",
                kind.name(),
                hung.len(),
                clean.results.len()
            );
            let differing: Vec<(&String, &String)> = disrupted_judged
                .iter()
                .zip(&clean_judged)
                .filter(|(k, c)| k != c)
                .collect();
            assert!(
                differing.is_empty(),
                "{} ({disruption:?}): every case has its undisturbed result (disrupted, then undisturbed): {differing:#?}",
                kind.name()
            );
            println!(
                "{} ({disruption:?}): {} cases as undisturbed; {} hanging cases left out: {hung:?}",
                kind.name(),
                clean_judged.len(),
                hung.len()
            );
        }
        // Nothing the runs started outlives them for long: their
        // browsers, and for webkit the virtual display, ran in this
        // directory. (Chromium's crash handler leaves on its own a moment
        // after.)
        let outliving = || -> Vec<String> {
            common::live_processes()
                .into_iter()
                .filter(|p| std::fs::read_link(p.dir.join("cwd")).is_ok_and(|cwd| cwd == dir))
                .map(|p| {
                    let cmdline = std::fs::read(p.dir.join("cmdline")).unwrap_or_default();
                    format!(
                        "{} {}",
                        p.pid,
                        String::from_utf8_lossy(&cmdline).replace('\0', " ")
                    )
                })
                .collect()
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut left = outliving();
        while !left.is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
            left = outliving();
        }
        assert!(
            left.is_empty(),
            "{}: processes of the runs outlived them: {left:#?}",
            kind.name()
        );
    }
}
