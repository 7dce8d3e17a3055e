//! Item 1 of the trust review: a local process can take over a browser run.
//!
//! A fault-injection double, [`HijackDouble`], plays a hostile local
//! process: while a browser run goes on it scans `/proc/*/cmdline` for the
//! run's browser processes, takes every URL, run prefix, channel name and
//! port it can find, connects WebSockets to `PREFIX/channel/NAME` and
//! answers the protocol (hello, proposal probes, cases) with forged
//! results. The run must come out exactly as expected, with no forged
//! text, in Chromium and in Firefox; and the run's real secret (which the
//! test, as the harness's own user, reads from the profile) must show in
//! no browser process's command line or environment.
//!
//! Hostile inputs tried: 4 (one hijacked run per browser; a page worker
//! replaced on its channel while an intruder tries the same channel, per
//! browser).

use crate::common;

use std::collections::{HashMap, HashSet};
use std::io::ErrorKind;
use std::net::TcpStream;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use streamconform_engines::browser::launcher::BrowserKind;
use streamconform_engines::browser::pool::PagePool;
use streamconform_engines::loopback_server::LoopbackServer;
use streamconform_engines::worker::client::Deadlines;
use streamconform_engines::worker::engine::WorkerPool;
use streamconform_engines::worker::protocol::{Request, RequestBody, PROTOCOL_VERSION};
use tungstenite::Message;

/// What every forged result says, so a report can be searched for it.
const FORGED: &str = "FORGED BY LOCAL PROCESS";

/// How often the double scans `/proc`: fast enough to beat a browser's
/// page to its channel (a page needs about a second to load).
const SCAN_EVERY: Duration = Duration::from_millis(5);

/// How often the double tries one channel URL again.
const RETRY_EVERY: Duration = Duration::from_millis(100);

/// Connections the double opens in all, so a broken run cannot make it
/// spin without bound.
const MAX_ATTEMPTS: usize = 20_000;

/// What the double saw and did.
#[derive(Default, Debug)]
struct Findings {
    /// Browser processes (the run's descendants named chromium/firefox).
    browsers: HashSet<u32>,
    /// Every URL-looking string on their command lines.
    urls: HashSet<String>,
    /// Run prefixes (`run-HEX`) found on any command line.
    prefixes: HashSet<String>,
    /// Ports the run listens on.
    ports: HashSet<u16>,
    /// WebSocket URLs tried.
    targets: HashSet<String>,
    /// `file://` documents named on command lines.
    files: HashSet<PathBuf>,
    /// Secrets the test (not the double) read from those documents, and
    /// where any of them showed up in a process's cmdline or environ.
    secrets: HashSet<String>,
    secrets_exposed: Vec<String>,
}

/// A fault-injection double: a hostile local process that reads `/proc`,
/// connects to whatever channel it can name and answers with forged
/// results. It keeps to the descendants of one process (the run under
/// test) so that other tests' browsers on the machine are left alone; a
/// real attacker would take them all.
struct HijackDouble {
    stop: Arc<AtomicBool>,
    findings: Arc<Mutex<Findings>>,
    attempts: Arc<AtomicUsize>,
    accepted: Arc<AtomicUsize>,
    forged: Arc<AtomicUsize>,
    scanner: Option<JoinHandle<()>>,
}

impl HijackDouble {
    fn start(root: u32) -> HijackDouble {
        let double = HijackDouble {
            stop: Arc::default(),
            findings: Arc::default(),
            attempts: Arc::default(),
            accepted: Arc::default(),
            forged: Arc::default(),
            scanner: None,
        };
        let (stop, findings) = (double.stop.clone(), double.findings.clone());
        let (attempts, accepted, forged) = (
            double.attempts.clone(),
            double.accepted.clone(),
            double.forged.clone(),
        );
        let scanner = std::thread::spawn(move || {
            let mut live_connections: HashMap<String, Arc<AtomicUsize>> = HashMap::new();
            let mut last_tried: HashMap<String, Instant> = HashMap::new();
            while !stop.load(Ordering::Relaxed) {
                let targets = scan(root, &mut findings.lock().unwrap());
                for target in targets {
                    // Keep a couple of forged workers queued on every
                    // channel it can name, as long as the run lasts.
                    let live = live_connections.entry(target.clone()).or_default();
                    let due = last_tried
                        .get(&target)
                        .is_none_or(|at| at.elapsed() >= RETRY_EVERY);
                    if !due
                        || live.load(Ordering::SeqCst) >= 2
                        || attempts.fetch_add(1, Ordering::SeqCst) >= MAX_ATTEMPTS
                    {
                        continue;
                    }
                    last_tried.insert(target.clone(), Instant::now());
                    live.fetch_add(1, Ordering::SeqCst);
                    let (stop, accepted, forged, live) =
                        (stop.clone(), accepted.clone(), forged.clone(), live.clone());
                    std::thread::spawn(move || {
                        impersonate(&target, &stop, &accepted, &forged);
                        live.fetch_sub(1, Ordering::SeqCst);
                    });
                }
                std::thread::sleep(SCAN_EVERY);
            }
        });
        HijackDouble {
            scanner: Some(scanner),
            ..double
        }
    }

    fn finish(mut self) -> (Findings, usize, usize, usize) {
        self.stop.store(true, Ordering::Relaxed);
        self.scanner.take().unwrap().join().unwrap();
        let findings = std::mem::take(&mut *self.findings.lock().unwrap());
        (
            findings,
            self.attempts.load(Ordering::SeqCst),
            self.accepted.load(Ordering::SeqCst),
            self.forged.load(Ordering::SeqCst),
        )
    }
}

/// The descendants of `root`, by the parent links `/proc/PID/stat` shows
/// every user.
fn descendants(root: u32) -> Vec<common::LiveProcess> {
    let live = common::live_processes();
    let mut family: HashSet<u32> = HashSet::from([root]);
    // Parents may be listed after their children: repeat until stable.
    loop {
        let before = family.len();
        for process in &live {
            if family.contains(&process.parent) {
                family.insert(process.pid);
            }
        }
        if family.len() == before {
            break;
        }
    }
    live.into_iter()
        .filter(|p| p.pid != root && family.contains(&p.pid))
        .collect()
}

/// One scan: records what the run's processes show, and returns the
/// WebSocket URLs worth trying.
fn scan(root: u32, findings: &mut Findings) -> Vec<String> {
    let mut names: HashSet<String> = HashSet::new();
    for process in descendants(root) {
        let Ok(cmdline) = std::fs::read(process.dir.join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let program = args
            .first()
            .map_or("", |a| a.rsplit('/').next().unwrap_or(a));
        if program.contains("chrom") || program.contains("firefox") {
            findings.browsers.insert(process.pid);
        }
        // What the test itself checks: the secrets it learned from the
        // profile's documents are on no command line and in no environment.
        let environ = std::fs::read(process.dir.join("environ")).unwrap_or_default();
        let environ = String::from_utf8_lossy(&environ);
        for secret in &findings.secrets {
            if args.iter().any(|a| a.contains(secret.as_str())) || environ.contains(secret.as_str())
            {
                findings
                    .secrets_exposed
                    .push(format!("{secret} in process {} ({program})", process.pid));
            }
        }
        for arg in &args {
            for url in urls_in(arg) {
                if let Some(path) = url.strip_prefix("file://") {
                    findings.files.insert(PathBuf::from(path));
                }
                findings.urls.insert(url);
            }
            for prefix in run_prefixes_in(arg) {
                findings.prefixes.insert(prefix);
            }
            if let Some((_, query)) = arg.split_once("channels=") {
                let list = query.split(['&', '#', ' ']).next().unwrap_or("");
                names.extend(list.split(',').map(str::to_string));
            }
        }
    }
    // The test's own look (as the harness's user) into the documents the
    // command lines name: the secrets they carry (the run prefix, the
    // channels' names).
    for file in &findings.files {
        if let Ok(text) = std::fs::read_to_string(file) {
            findings.secrets.extend(run_prefixes_in(&text));
            if let Some((_, query)) = text.split_once("channels=") {
                let list = query.split(['&', '#', '"']).next().unwrap_or("");
                findings.secrets.extend(
                    list.split(',')
                        .filter(|n| !n.is_empty())
                        .map(str::to_string),
                );
            }
        }
    }
    findings.ports.extend(common::loopback_ports(root));
    for url in &findings.urls {
        if let Some(port) = port_in(url) {
            findings.ports.insert(port);
        }
    }
    // Channel names as the page uses them, and as the harness used to
    // name them (label-generation-slot).
    for browser in ["chromium", "firefox"] {
        for pool in 0..4 {
            names.insert(format!("{browser}-{pool}-g0-w0"));
            names.insert(format!("{browser}-{pool}-g0-w1"));
        }
    }
    let mut prefixes: Vec<String> = findings.prefixes.iter().map(|p| format!("/{p}")).collect();
    prefixes.push(String::new());
    let mut targets = Vec::new();
    for port in &findings.ports {
        for prefix in &prefixes {
            for name in &names {
                targets.push(format!("ws://127.0.0.1:{port}{prefix}/channel/{name}"));
            }
        }
    }
    findings.targets.extend(targets.iter().cloned());
    targets
}

/// Every `scheme://...` in `text`, up to white space or a quote.
fn urls_in(text: &str) -> Vec<String> {
    let mut urls = Vec::new();
    for (at, _) in text.match_indices("://") {
        let start = text[..at]
            .rfind(|c: char| !c.is_ascii_alphanumeric())
            .map_or(0, |i| i + 1);
        let end = text[at..]
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
            .map_or(text.len(), |i| at + i);
        if start < at {
            urls.push(text[start..end].to_string());
        }
    }
    urls
}

/// Every `run-` followed by hex digits (the loopback server's prefix).
fn run_prefixes_in(text: &str) -> Vec<String> {
    text.match_indices("run-")
        .filter_map(|(at, _)| {
            let hex: String = text[at + 4..]
                .chars()
                .take_while(char::is_ascii_hexdigit)
                .collect();
            (hex.len() >= 16).then(|| format!("run-{hex}"))
        })
        .collect()
}

fn port_in(url: &str) -> Option<u16> {
    let (_, rest) = url.split_once("127.0.0.1:")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Connects to `target` and, if let in, speaks as a page worker would,
/// answering every probe and case with a forged CompileError.
fn impersonate(target: &str, stop: &AtomicBool, accepted: &AtomicUsize, forged: &AtomicUsize) {
    let Some(address) = target
        .strip_prefix("ws://")
        .and_then(|rest| rest.split('/').next())
    else {
        return;
    };
    let Ok(stream) = TcpStream::connect(address) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let Ok((mut socket, _)) = tungstenite::client(target, stream) else {
        return;
    };
    accepted.fetch_add(1, Ordering::SeqCst);
    let engine = if target.contains("firefox") {
        "firefox"
    } else {
        "chromium"
    };
    let hello = serde_json::json!({
        "type": "hello", "protocol": PROTOCOL_VERSION, "engine": engine,
        "version": "1.0", "capabilities": ["fetch", "origin"],
    });
    if socket.send(Message::text(hello.to_string())).is_err() {
        return;
    }
    while !stop.load(Ordering::Relaxed) {
        let text = match socket.read() {
            Ok(Message::Text(text)) => text,
            Ok(Message::Close(_)) => return,
            Ok(_) => continue,
            Err(tungstenite::Error::Io(e))
                if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
            {
                continue
            }
            Err(_) => return,
        };
        let mut replies = Vec::new();
        for line in text.as_str().split('\n') {
            let Ok(request) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            if matches!(request["type"].as_str(), Some("one-shot" | "case")) {
                let id = &request["id"];
                replies.push(serde_json::json!({"type": "started", "id": id}).to_string());
                replies.push(
                    serde_json::json!({"type": "result", "id": id,
                        "outcome": {"class": "compile-error", "message": FORGED}})
                    .to_string(),
                );
                forged.fetch_add(1, Ordering::SeqCst);
            }
        }
        if !replies.is_empty() && socket.send(Message::text(replies.join("\n"))).is_err() {
            return;
        }
    }
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A browser run over `webapi/chunks/` with the hijack double at work:
/// judged against the browser's expectations file as the browser tests
/// are, it passes, and nothing forged reaches the report.
fn hijacked_run(browser: &str) {
    common::install_browsers();
    let scratch = tempfile::tempdir().unwrap();
    let report = scratch.path().join("report.json");
    let expectations = format!("expectations/{browser}.toml");
    let harness = Command::new(env!("CARGO_BIN_EXE_streamconform"))
        .args(["run", "--backend", browser, "--suite", "webapi"])
        .args([
            "--filter",
            "webapi/chunks/",
            "--expectations",
            &expectations,
        ])
        .arg("--report")
        .arg(&report)
        .current_dir(repository())
        .env_remove("CI")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run streamconform");
    let double = HijackDouble::start(harness.id());
    let out = harness.wait_with_output().unwrap();
    let (findings, attempts, accepted, forged) = double.finish();
    let output = common::text(&out);
    let summary = format!(
        "{browser}: {attempts} attempts, {accepted} let in, {forged} forged; {findings:?}\n{output}"
    );

    println!(
        "{browser}: the double saw {} browser processes, ports {:?}, {} files; \
         tried {attempts} connections to {} channel URLs; learned {} secrets",
        findings.browsers.len(),
        findings.ports,
        findings.files.len(),
        findings.targets.len(),
        findings.secrets.len()
    );
    // The double did its part: it saw the browsers and tried channels.
    assert!(!findings.browsers.is_empty(), "no browser seen: {summary}");
    assert!(!findings.ports.is_empty(), "no port found: {summary}");
    assert!(attempts > 0, "no connection attempted: {summary}");

    assert_eq!(accepted, 0, "a forged worker was let in: {summary}");
    assert_eq!(forged, 0, "results were forged: {summary}");
    assert!(!output.contains(FORGED), "{summary}");
    let report_text = std::fs::read_to_string(&report).unwrap_or_default();
    assert!(!report_text.contains(FORGED), "{summary}");
    assert_eq!(out.status.code(), Some(0), "{summary}");
    let parsed: streamconform::reporter::json::Report = serde_json::from_str(&report_text).unwrap();
    assert!(!parsed.results.is_empty(), "{summary}");

    // Nothing of the run's secret is on a command line or in an
    // environment: the double found no prefix, and the secret the page's
    // document carries is nowhere another process can read it.
    assert!(findings.prefixes.is_empty(), "a prefix leaked: {summary}");
    assert!(!findings.secrets.is_empty(), "no secret learned: {summary}");
    assert!(
        findings.secrets_exposed.is_empty(),
        "the secret leaked: {summary}"
    );
    // The documents that carry it sit where only the harness's user can
    // read: a directory of mode 0700, owned by this user.
    for file in &findings.files {
        let dir = std::fs::metadata(file.parent().unwrap());
        if let Ok(dir) = dir {
            assert_eq!(
                dir.permissions().mode() & 0o777,
                0o700,
                "{}",
                file.display()
            );
            assert_eq!(dir.uid(), unsafe { libc::getuid() }, "{}", file.display());
        }
    }
}

#[test]
fn a_local_process_cannot_forge_chromium_results() {
    hijacked_run("chromium");
}

#[test]
fn a_local_process_cannot_forge_firefox_results() {
    hijacked_run("firefox");
}

/// A page worker the harness gives up on (as on a hang) is replaced by its
/// page through its channel, opened again for that one connection: the
/// slot gets a working worker in the same browser, and a second upgrade
/// on the channel (a process that learned its URL) is refused.
fn replaced_worker(kind: BrowserKind) {
    common::install_browsers();
    let server = Arc::new(LoopbackServer::start().unwrap());
    let label = format!("replaced-{}", kind.name());
    let pool = PagePool::new(kind, &[], server, label.clone(), 1);
    let first = pool.worker().expect("the page's first worker");
    first.kill();
    let started = Instant::now();
    let second = pool.worker().expect("the page replaces its worker");
    assert!(!Arc::ptr_eq(&first, &second));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{}: replaced in {:?}",
        kind.name(),
        started.elapsed()
    );
    let module: &[u8] = b"\0asm\x01\0\0\0";
    let request = Request {
        id: 1,
        module: 1,
        settle_ms: Some(1000),
        function: Default::default(),
        imports: None,
        body: &RequestBody::OneShot { options: None },
    };
    let deadlines = Deadlines {
        settle: Duration::from_secs(1),
        hang_grace: Duration::from_secs(20),
    };
    let answer = second.request((1, module), &request, deadlines).unwrap();
    assert!(
        matches!(answer.outcome, streamconform::Outcome::Module { .. }),
        "{answer:?}"
    );
    // The channel's real URL, as the test (the harness's user) reads it
    // from the start page in the browser's profile: with the worker in
    // place, a second upgrade there is refused...
    let channel = channel_url_of_child_browser(&label);
    let intruder = tungstenite::connect(channel.as_str());
    assert!(
        matches!(&intruder, Err(tungstenite::Error::Http(r)) if r.status() == 404),
        "{}: {channel}: {intruder:?}",
        kind.name()
    );
    // ...and took nothing from the page: replaced again, the worker comes.
    second.kill();
    let third = pool.worker().expect("the page replaces its worker again");
    assert!(third.request((1, module), &request, deadlines).is_ok());
}

/// `ws://.../run-PREFIX/channel/NAME` of the driver page, with a channel
/// named after `label`, that a browser started by this process opens: from
/// the start page its command line names.
fn channel_url_of_child_browser(label: &str) -> String {
    let me = std::process::id();
    let start_page_text = common::live_processes()
        .into_iter()
        .filter(|p| p.parent == me)
        .filter_map(|p| std::fs::read(p.dir.join("cmdline")).ok())
        .flat_map(|c| urls_in(&String::from_utf8_lossy(&c).replace('\0', " ")))
        .filter_map(|url| url.strip_prefix("file://").map(PathBuf::from))
        .filter_map(|page| std::fs::read_to_string(page).ok())
        .find(|text| text.contains(&format!("channels={label}-")))
        .expect("a browser started on a start page");
    let page = urls_in(&start_page_text)
        .into_iter()
        .find(|url| url.starts_with("http://"))
        .expect("the start page names the driver page");
    let (page, name) = page.split_once("?channels=").unwrap();
    let base = page.strip_suffix("/driver/page.html").unwrap();
    format!("{}/channel/{name}", base.replacen("http://", "ws://", 1))
}

#[test]
fn a_replaced_chromium_page_worker_takes_its_reopened_channel() {
    replaced_worker(BrowserKind::Chromium);
}

#[test]
fn a_replaced_firefox_page_worker_takes_its_reopened_channel() {
    replaced_worker(BrowserKind::Firefox);
}
