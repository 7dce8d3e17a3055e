//! The loopback HTTP server that `fetch()` cases talk to, and that browsers
//! load their driver page from and talk back to (over a WebSocket channel).
//!
//! It listens on two ports of 127.0.0.1: two origins, so that a case can be
//! same-origin or cross-origin relative to the first. Each response is a
//! [`Route`] registered under a path before the case runs; a route says
//! exactly which status line, header lines and body bytes go out, and how
//! the body ends (whole, stalled, cut short), which is what status, CORS,
//! redirect, abort and network-error cases need. Every connection is
//! closed after one response, so no state leaks between cases. A channel
//! is a path where a WebSocket upgrade is accepted and the connection
//! handed to whoever opened the channel (a browser backend, one connection
//! per page).
//!
//! Any local process can connect, so routes live under an unguessable
//! per-run prefix, a channel takes one upgrade per opening, requests are
//! read only up to fixed sizes, and each request head must arrive within a
//! total deadline from accept. A local flood cannot starve the run: a
//! connection is only *unidentified* until its request line shows whether
//! it carries the run's prefix; one that does not is answered 404 and
//! closed at once, and when too many are unidentified the oldest is closed
//! to make room, so a connection of the run (whose client sends its
//! request line at once) is never refused for a flood's sake. The server
//! records, per registered route, whether it was served as registered; a
//! case whose body was not (see [`LoopbackServer::fault_since`]) is the
//! harness's fault, never the engine's result.

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use streamconform::scenario::{FetchUrl, Scenario, Served};

/// How long a stalled body keeps its connection open if the client never
/// goes away: longer than any pending window, short enough to not pile up.
const STALL_LIMIT: Duration = Duration::from_secs(600);

/// The longest request line, and the most header bytes, read.
const MAX_REQUEST_LINE: u64 = 8 * 1024;
const MAX_HEADER_BYTES: u64 = 64 * 1024;

/// A connection's thread only reads a request head and writes a response:
/// a small stack, so that many unidentified connections cost little.
const CONNECTION_STACK: usize = 128 << 10;

/// How many connections the server holds, and for how long.
#[derive(Clone, Copy, Debug)]
pub struct ServerLimits {
    /// From accept to the end of the request head, in total (not per
    /// read: a connection trickling a byte at a time is cut off too).
    pub head_deadline: Duration,
    /// Connections whose request line has not arrived yet; beyond this
    /// the oldest is closed to make room (the run's clients send their
    /// request line at once, a flood's connections linger).
    pub max_unidentified: usize,
    /// Connections of this run (request line under its prefix) served at
    /// once; more are answered 503, recorded on their route.
    pub max_served: usize,
}

impl Default for ServerLimits {
    fn default() -> ServerLimits {
        ServerLimits {
            head_deadline: Duration::from_secs(10),
            max_unidentified: 1024,
            max_served: 256,
        }
    }
}

/// What the server answers on one path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub status: u16,
    /// Header lines, sent verbatim and in order (repeats allowed).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub end: BodyEnding,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyEnding {
    /// The whole body, with its `Content-Length`.
    Complete,
    /// The whole body gzip-encoded, with `Content-Encoding: gzip`.
    Gzip,
    /// The first `n` bytes, then silence until the client leaves.
    Stall(usize),
    /// The first `n` bytes, then the connection closes short of the
    /// announced `Content-Length`.
    Reset(usize),
}

/// Which of the two listening origins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The engine's own origin (browsers load their page from here).
    Primary,
    /// Another origin: the same host on another port.
    Other,
}

pub struct LoopbackServer {
    origins: [String; 2],
    /// Starts every route's path: `/run-<128 random bits>`.
    prefix: String,
    tables: Arc<Tables>,
}

/// A WebSocket connection accepted on a channel.
pub type ChannelConnection = tungstenite::WebSocket<TcpStream>;

/// What the server answers, by full path, and how it went.
#[derive(Default)]
struct Tables {
    routes: Mutex<HashMap<String, Arc<Route>>>,
    channels: Mutex<HashMap<String, mpsc::Sender<ChannelConnection>>>,
    /// Per registered route, whether it was served as registered.
    served: Mutex<HashMap<String, Serving>>,
    /// Connections closed before their request line arrived to make room
    /// (or refused for want of a thread or file descriptor): any of them
    /// may have been the run's own.
    dropped_unidentified: AtomicU64,
}

/// What became of a registered route.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Serving {
    /// Nobody asked for it (yet).
    NotRequested,
    /// Its response went out as registered (or as far as the client, who
    /// left, let it).
    Served,
    /// Asked for, but the server did not answer as registered: why.
    Failed(String),
}

/// The routes registered for one case, to ask afterwards whether they were
/// served as registered ([`LoopbackServer::fault_since`]).
#[derive(Clone, Debug)]
pub struct Registered {
    /// The URL the engine fetches.
    pub url: String,
    /// Full paths of the routes, the fetched one first.
    paths: Vec<String>,
    /// [`Tables::dropped_unidentified`] when they were registered.
    dropped_before: u64,
}

/// 128 bits no other local process can guess, as 32 hex digits. std's
/// `RandomState` keys come from the OS's randomness; two of them, hashing
/// distinct inputs, give the bits without a dependency for the few strings
/// a run needs (its prefix, its channels' names).
pub fn unguessable() -> String {
    use std::hash::BuildHasher;
    let a = std::collections::hash_map::RandomState::new().hash_one(std::process::id());
    let b = std::collections::hash_map::RandomState::new().hash_one(std::time::SystemTime::now());
    format!("{a:016x}{b:016x}")
}

/// A server started when first needed and kept by its owner (a backend)
/// for the rest of the run; a failed start is remembered, not retried.
#[derive(Default)]
pub struct ServerOnDemand(std::sync::OnceLock<Result<Arc<LoopbackServer>, String>>);

impl ServerOnDemand {
    pub fn get(&self) -> Result<Arc<LoopbackServer>, String> {
        self.0
            .get_or_init(|| {
                LoopbackServer::start()
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .clone()
    }
}

impl LoopbackServer {
    /// Binds both ports and serves from background threads for the life of
    /// the process.
    pub fn start() -> io::Result<LoopbackServer> {
        LoopbackServer::start_with(ServerLimits::default())
    }

    /// [`LoopbackServer::start`] within other limits.
    pub fn start_with(limits: ServerLimits) -> io::Result<LoopbackServer> {
        let tables: Arc<Tables> = Arc::default();
        let prefix = format!("/run-{}", unguessable());
        let connections = Arc::new(Connections {
            limits,
            prefix: prefix.clone(),
            unidentified: Mutex::default(),
            next_id: AtomicU64::new(0),
            served: AtomicUsize::new(0),
        });
        let mut origins = [String::new(), String::new()];
        for origin in &mut origins {
            let listener = TcpListener::bind("127.0.0.1:0")?;
            *origin = format!("http://{}", listener.local_addr()?);
            let (tables, connections) = (tables.clone(), connections.clone());
            std::thread::Builder::new()
                .name("loopback-accept".into())
                .spawn(move || accept(listener, tables, connections))?;
        }
        Ok(LoopbackServer {
            origins,
            prefix,
            tables,
        })
    }

    /// Why the routes of `registered` were not served as registered, if
    /// they were not: the server refused or cut off a request for one of
    /// them, or it dropped connections it could not yet identify while
    /// one of them was never asked for (that connection may have been
    /// it). `None`: whatever the engine did, it did with what the case
    /// describes.
    pub fn fault_since(&self, registered: &Registered) -> Option<String> {
        let served = self.tables.served.lock().unwrap();
        let mut not_requested = None;
        for path in &registered.paths {
            match served.get(path) {
                Some(Serving::Failed(why)) => return Some(why.clone()),
                Some(Serving::Served) => {}
                Some(Serving::NotRequested) | None => {
                    not_requested.get_or_insert(path);
                }
            }
        }
        let dropped =
            self.tables.dropped_unidentified.load(Ordering::SeqCst) - registered.dropped_before;
        let path = not_requested?;
        (dropped > 0).then(|| {
            format!(
                "the loopback server closed {dropped} connection(s) before their request line arrived (over its limit of unidentified connections, a local flood?) while the case ran, and {path} was never requested"
            )
        })
    }

    /// `http://127.0.0.1:PORT` of that origin.
    pub fn origin(&self, origin: Origin) -> &str {
        match origin {
            Origin::Primary => &self.origins[0],
            Origin::Other => &self.origins[1],
        }
    }

    /// Serves `route` at `path` (on both origins) and returns the full URL
    /// on `origin`. Registering the same path again replaces the route.
    pub fn serve(&self, origin: Origin, path: &str, route: Route) -> String {
        let path = format!("{}{path}", self.prefix);
        self.tables
            .served
            .lock()
            .unwrap()
            .insert(path.clone(), Serving::NotRequested);
        self.tables
            .routes
            .lock()
            .unwrap()
            .insert(path.clone(), Arc::new(route));
        format!("{}{path}", self.origin(origin))
    }

    /// Accepts one WebSocket connection at `path` on the primary origin:
    /// returns the `ws://` URL and where the connection arrives. Only a
    /// client that knows the run's prefix can reach it, and only the first
    /// upgrade is taken: the channel then closes, and further upgrades find
    /// nothing until its owner opens it again for the next connection it
    /// expects.
    pub fn open_channel(&self, path: &str) -> (String, mpsc::Receiver<ChannelConnection>) {
        let path = format!("{}{path}", self.prefix);
        let (tx, rx) = mpsc::channel();
        self.tables
            .channels
            .lock()
            .unwrap()
            .insert(path.clone(), tx);
        let origin = self.origin(Origin::Primary).replacen("http://", "ws://", 1);
        (format!("{origin}{path}"), rx)
    }

    /// Stops accepting the connection a channel at `path` still waits for.
    pub fn close_channel(&self, path: &str) {
        let path = format!("{}{path}", self.prefix);
        self.tables.channels.lock().unwrap().remove(&path);
    }
}

/// The scenario's fetch, served: registers what the loopback server must
/// answer for `scenario` (its status, header lines and `module` bytes, and
/// the redirect in front of them if any) and returns the URL the engine
/// fetches, with what to ask [`LoopbackServer::fault_since`] afterwards.
/// `None` for cases that fetch no server URL (`data:`, `blob:`).
pub fn serve_scenario(
    server: &LoopbackServer,
    scenario: &Scenario,
    module: &[u8],
) -> Option<Registered> {
    let request = scenario.fetch.as_ref()?;
    let origin_of = |url: FetchUrl| match url {
        FetchUrl::CrossOrigin => Origin::Other,
        _ => Origin::Primary,
    };
    if !request.url.is_server() {
        return None;
    }
    // Paths are derived from the case, so a rerun registers the same ones.
    let key = {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        serde_json::to_string(scenario)
            .unwrap_or_default()
            .hash(&mut hasher);
        module.hash(&mut hasher);
        hasher.finish()
    };
    let dropped_before = server.tables.dropped_unidentified.load(Ordering::SeqCst);
    let end = match request.served {
        Served::Complete => BodyEnding::Complete,
        Served::Gzip => BodyEnding::Gzip,
        Served::Stall => BodyEnding::Stall(request.served_bytes),
        Served::Reset => BodyEnding::Reset(request.served_bytes),
    };
    let target = server.serve(
        origin_of(request.url),
        &format!("/case/{key:016x}"),
        Route {
            status: scenario.status,
            headers: scenario.headers.clone(),
            body: module.to_vec(),
            end,
        },
    );
    let full_path = |url: &str| url[server.origin(Origin::Primary).len()..].to_string();
    let mut paths = vec![full_path(&target)];
    let url = match request.redirected_from {
        None => target,
        Some(from) => {
            let url = server.serve(
                origin_of(from),
                &format!("/redirect/{key:016x}"),
                Route {
                    status: request.redirect_status,
                    headers: vec![("Location".into(), target)],
                    body: vec![],
                    end: BodyEnding::Complete,
                },
            );
            paths.insert(0, full_path(&url));
            url
        }
    };
    Some(Registered {
        url,
        paths,
        dropped_before,
    })
}

/// The connections the server holds.
struct Connections {
    limits: ServerLimits,
    prefix: String,
    /// Connections whose request line has not arrived, oldest first, with
    /// a handle to close each.
    unidentified: Mutex<VecDeque<(u64, TcpStream)>>,
    next_id: AtomicU64,
    /// Connections of this run being served.
    served: AtomicUsize,
}

impl Connections {
    /// Takes in a new connection as unidentified, closing the oldest if
    /// there are too many; returns its id.
    fn admit(&self, stream: &TcpStream, tables: &Tables) -> io::Result<u64> {
        let handle = stream.try_clone()?;
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let mut unidentified = self.unidentified.lock().unwrap();
        while unidentified.len() >= self.limits.max_unidentified.max(1) {
            self.drop_oldest(&mut unidentified, tables);
        }
        unidentified.push_back((id, handle));
        Ok(id)
    }

    /// Closes the oldest unidentified connection (its thread's read ends).
    fn drop_oldest(&self, unidentified: &mut VecDeque<(u64, TcpStream)>, tables: &Tables) {
        if let Some((_, oldest)) = unidentified.pop_front() {
            let _ = oldest.shutdown(Shutdown::Both);
            tables.dropped_unidentified.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// The connection's request line arrived (or it ended): it is no longer
    /// one the server may close to make room.
    fn identified(&self, id: u64) {
        self.unidentified
            .lock()
            .unwrap()
            .retain(|(other, _)| *other != id);
    }
}

fn accept(listener: TcpListener, tables: Arc<Tables>, connections: Arc<Connections>) {
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(_) => {
                // Out of file descriptors, most likely (a flood): make room
                // and let the backlog wait rather than spin.
                connections.drop_oldest(&mut connections.unidentified.lock().unwrap(), &tables);
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
        };
        let accepted = Instant::now();
        let Ok(id) = connections.admit(&stream, &tables) else {
            tables.dropped_unidentified.fetch_add(1, Ordering::SeqCst);
            continue;
        };
        let (shared, conns) = (tables.clone(), connections.clone());
        let spawned = std::thread::Builder::new()
            .name("loopback-conn".into())
            .stack_size(CONNECTION_STACK)
            .spawn(move || {
                // A client that goes away mid-response is its own business.
                let _ = handle(stream, &shared, &conns, id, accepted);
                conns.identified(id);
            });
        if spawned.is_err() {
            // The thread never ran (the stream went with it, closed).
            connections.identified(id);
            tables.dropped_unidentified.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Reads from a connection within a total deadline: each read may wait
/// only for what is left of it, so trickling bytes does not extend it.
struct DeadlineReader {
    stream: TcpStream,
    deadline: Instant,
}

impl Read for DeadlineReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "request head deadline passed",
            ));
        }
        self.stream.set_read_timeout(Some(left))?;
        self.stream.read(buf)
    }
}

/// Reads one line of at most `limit` bytes; `None` if it is longer (or the
/// connection ends first).
fn read_limited_line(reader: &mut impl BufRead, limit: u64) -> io::Result<Option<String>> {
    let mut line = String::new();
    reader.take(limit).read_line(&mut line)?;
    Ok(line.ends_with('\n').then_some(line))
}

fn handle(
    stream: TcpStream,
    tables: &Tables,
    connections: &Connections,
    id: u64,
    accepted: Instant,
) -> io::Result<()> {
    let deadline = accepted + connections.limits.head_deadline;
    let mut reader = BufReader::new(DeadlineReader {
        stream: stream.try_clone()?,
        deadline,
    });
    let too_large = |mut stream: &TcpStream, what: &str| {
        stream.write_all(
            format!(
                "HTTP/1.1 431 {what} Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
    };
    let Some(request_line) = read_limited_line(&mut reader, MAX_REQUEST_LINE)? else {
        return too_large(&stream, "Request Line");
    };
    connections.identified(id);
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    // Routes are paths; a query (the driver page's) does not choose one.
    let path = parts.next().unwrap_or("");
    let path = path
        .split_once('?')
        .map_or(path, |(path, _query)| path)
        .to_string();
    if !path.starts_with(&connections.prefix) {
        // Not this run's: answered at once, holding nothing a case needs.
        return not_found(stream);
    }
    let record = |outcome: Serving| {
        if let Some(serving) = tables.served.lock().unwrap().get_mut(&path) {
            *serving = outcome;
        }
    };
    let served = &connections.served;
    if served.fetch_add(1, Ordering::SeqCst) >= connections.limits.max_served {
        served.fetch_sub(1, Ordering::SeqCst);
        record(Serving::Failed(format!(
            "the loopback server refused the request for {path} (503): over its limit of {} connections of the run at once",
            connections.limits.max_served
        )));
        let mut stream = stream;
        return stream.write_all(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    }
    let result = serve_request(stream, tables, &method, &path, &mut reader);
    served.fetch_sub(1, Ordering::SeqCst);
    match &result {
        Err(e) if e.kind() == io::ErrorKind::TimedOut || e.kind() == io::ErrorKind::WouldBlock => {
            record(Serving::Failed(format!(
                "the request head for {path} did not arrive within {} s of its connection",
                connections.limits.head_deadline.as_secs_f64()
            )))
        }
        _ => {}
    }
    result
}

fn not_found(mut stream: TcpStream) -> io::Result<()> {
    stream.write_all(
        b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 9\r\nConnection: close\r\n\r\nno route\n",
    )
}

/// A request of this run, after its request line: reads its headers
/// (within the head deadline) and answers from the tables.
fn serve_request(
    stream: TcpStream,
    tables: &Tables,
    method: &str,
    path: &str,
    reader: &mut impl BufRead,
) -> io::Result<()> {
    let record = |outcome: Serving| {
        if let Some(serving) = tables.served.lock().unwrap().get_mut(path) {
            *serving = outcome;
        }
    };
    // Read the request headers up to the blank line; only a WebSocket
    // upgrade's key matters.
    let mut header_bytes = 0;
    let mut websocket_key = None;
    loop {
        let Some(line) = read_limited_line(reader, MAX_HEADER_BYTES - header_bytes)? else {
            record(Serving::Failed(format!(
                "the request for {path} had over {MAX_HEADER_BYTES} bytes of headers (431)"
            )));
            let mut stream = stream;
            return stream.write_all(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        };
        header_bytes += line.len() as u64;
        if line == "\r\n" || line == "\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("sec-websocket-key") {
                websocket_key = Some(value.trim().to_string());
            }
        }
    }
    if let Some(key) = websocket_key {
        // A channel takes one connection: taken out of the table here, a
        // second upgrade (a local process that learned the path) finds
        // nothing.
        let channel = tables.channels.lock().unwrap().remove(path);
        if let Some(channel) = channel {
            return hand_over(stream, &key, &channel);
        }
    }
    let route = tables.routes.lock().unwrap().get(path).cloned();
    let mut stream = stream;
    let Some(route) = route else {
        return not_found(stream);
    };
    // Served as registered from here on: a write that fails now fails
    // because the client left, which is the engine's doing.
    record(Serving::Served);
    // HTTP: these statuses carry no content (and no Content-Length).
    let no_content = matches!(route.status, 204 | 205 | 304);
    let (body, encoded) = match route.end {
        _ if no_content => (Vec::new(), false),
        BodyEnding::Gzip => (gzip(&route.body), true),
        _ => (route.body.clone(), false),
    };
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        route.status,
        reason_phrase(route.status)
    );
    for (name, value) in &route.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if encoded {
        head.push_str("Content-Encoding: gzip\r\n");
    }
    if !no_content {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("Cache-Control: no-store\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes())?;
    if method == "HEAD" || no_content {
        return stream.shutdown(std::net::Shutdown::Both);
    }
    match route.end {
        BodyEnding::Complete | BodyEnding::Gzip => stream.write_all(&body)?,
        BodyEnding::Stall(n) => {
            stream.write_all(&body[..n.min(body.len())])?;
            stream.flush()?;
            // Hold the connection open until the client closes it.
            stream.set_read_timeout(Some(STALL_LIMIT))?;
            let mut sink = [0u8; 256];
            while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
        }
        BodyEnding::Reset(n) => {
            stream.write_all(&body[..n.min(body.len())])?;
            stream.flush()?;
        }
    }
    stream.flush()?;
    stream.shutdown(std::net::Shutdown::Both)
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Status",
    }
}

/// Completes a WebSocket upgrade and hands the connection to the channel's
/// owner. The handshake is three header lines; the framing after it is
/// tungstenite's.
fn hand_over(
    mut stream: TcpStream,
    key: &str,
    channel: &mpsc::Sender<ChannelConnection>,
) -> io::Result<()> {
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    stream.write_all(
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        )
        .as_bytes(),
    )?;
    // The page speaks for as long as it runs; no request timeout now.
    stream.set_read_timeout(None)?;
    let socket =
        tungstenite::WebSocket::from_raw_socket(stream, tungstenite::protocol::Role::Server, None);
    // Nobody listening any more: the connection just closes.
    let _ = channel.send(socket);
    Ok(())
}

/// `data` as one gzip member (what `Content-Encoding: gzip` means).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(url: &str) -> Vec<u8> {
        let rest = url.strip_prefix("http://").unwrap();
        let (host, path) = rest.split_at(rest.find('/').unwrap());
        let mut stream = TcpStream::connect(host).unwrap();
        // One write: a head sent in pieces may still be arriving when a
        // server that answers after the request line closes, and the
        // unread rest turns its close into a reset that loses the answer.
        let head = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        response
    }

    #[test]
    fn routes_answer_with_their_exact_lines_on_both_origins() {
        let server = LoopbackServer::start().unwrap();
        assert_ne!(server.origin(Origin::Primary), server.origin(Origin::Other));
        let route = Route {
            status: 404,
            headers: vec![
                ("Content-Type".into(), "application/wasm".into()),
                ("content-type".into(), "text/plain".into()),
            ],
            body: b"\0asm".to_vec(),
            end: BodyEnding::Complete,
        };
        let url = server.serve(Origin::Other, "/a", route);
        let response = String::from_utf8(get(&url)).unwrap();
        assert!(
            response.starts_with("HTTP/1.1 404 Not Found\r\n"),
            "{response}"
        );
        assert!(response.contains("Content-Type: application/wasm\r\ncontent-type: text/plain\r\n"));
        assert!(response.ends_with(
            "Content-Length: 4\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n\0asm"
        ));
        let unknown = format!("{}/b", server.origin(Origin::Primary));
        assert!(String::from_utf8(get(&unknown))
            .unwrap()
            .starts_with("HTTP/1.1 404"));
    }

    #[test]
    fn a_reset_body_stops_short_of_its_length() {
        let server = LoopbackServer::start().unwrap();
        let route = Route {
            status: 200,
            headers: vec![],
            body: b"0123456789".to_vec(),
            end: BodyEnding::Reset(3),
        };
        let response = get(&server.serve(Origin::Primary, "/r", route));
        let text = String::from_utf8(response).unwrap();
        assert!(text.contains("Content-Length: 10\r\n"));
        assert!(text.ends_with("\r\n\r\n012"), "{text}");
    }

    fn ok_route() -> Route {
        Route {
            status: 200,
            headers: vec![],
            body: b"ok".to_vec(),
            end: BodyEnding::Complete,
        }
    }

    /// Other local processes: a path without the run's prefix finds
    /// nothing; an oversized request line is refused without reading it
    /// all.
    #[test]
    fn the_server_only_answers_this_run_within_limits() {
        let server = LoopbackServer::start().unwrap();
        let url = server.serve(Origin::Primary, "/case/1", ok_route());
        assert!(url.contains("/run-") && url.len() > 50, "{url}");
        assert!(get(&url).starts_with(b"HTTP/1.1 200"));
        let guessed = format!("{}/case/1", server.origin(Origin::Primary));
        assert!(get(&guessed).starts_with(b"HTTP/1.1 404"));

        let host = server
            .origin(Origin::Primary)
            .strip_prefix("http://")
            .unwrap();
        let mut stream = TcpStream::connect(host).unwrap();
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(1 << 20));
        let _ = stream.write_all(long.as_bytes());
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        assert!(
            response.starts_with(b"HTTP/1.1 431"),
            "{:?}",
            String::from_utf8_lossy(&response)
        );
    }

    /// A connection trickling its request head a byte at a time is cut
    /// off at the total deadline from accept, however often it writes (a
    /// per-read timeout let one stay 16 s and more).
    #[test]
    fn the_request_head_deadline_is_total_not_per_read() {
        let deadline = Duration::from_millis(600);
        let server = LoopbackServer::start_with(ServerLimits {
            head_deadline: deadline,
            ..ServerLimits::default()
        })
        .unwrap();
        let url = server.serve(Origin::Primary, "/case/slow", ok_route());
        let host = server
            .origin(Origin::Primary)
            .strip_prefix("http://")
            .unwrap()
            .to_string();
        let path = url[url.find("/run-").unwrap()..].to_string();
        // One trickler without the prefix, one with it (its route records
        // that it was not served as registered).
        for request in [
            "GET /flood".to_string(),
            format!("GET {path} HTTP/1.1\r\nX: "),
        ] {
            let mut stream = TcpStream::connect(&host).unwrap();
            stream.write_all(request.as_bytes()).unwrap();
            let started = Instant::now();
            let closed = loop {
                std::thread::sleep(Duration::from_millis(50));
                if stream.write_all(b"a").is_err() {
                    break started.elapsed();
                }
                stream.set_nonblocking(true).unwrap();
                let mut byte = [0u8; 64];
                let ended = !matches!(stream.read(&mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
                stream.set_nonblocking(false).unwrap();
                if ended {
                    break started.elapsed();
                }
                assert!(started.elapsed() < deadline * 5, "{request:?} still open");
            };
            assert!(
                closed >= deadline / 2,
                "{request:?} closed after {closed:?}"
            );
        }
        let registered = Registered {
            url: url.clone(),
            paths: vec![path],
            dropped_before: 0,
        };
        let why = server
            .fault_since(&registered)
            .expect("not served as registered");
        assert!(why.contains("did not arrive within 0.6 s"), "{why}");
    }

    /// A flood of connections that never finish their request line, past
    /// the limit of unidentified connections, neither refuses nor delays a
    /// request of the run; a route never requested while the server had to
    /// close connections to make room is reported as not served.
    #[test]
    fn a_flood_of_lingering_connections_starves_no_request_of_the_run() {
        let limits = ServerLimits {
            max_unidentified: 64,
            ..ServerLimits::default()
        };
        let server = LoopbackServer::start_with(limits).unwrap();
        let host = server
            .origin(Origin::Primary)
            .strip_prefix("http://")
            .unwrap()
            .to_string();
        let requested = server.serve(Origin::Primary, "/case/a", ok_route());
        let ignored = server.serve(Origin::Primary, "/case/b", ok_route());
        let registered = |url: &str| Registered {
            url: url.to_string(),
            paths: vec![url[url.find("/run-").unwrap()..].to_string()],
            dropped_before: 0,
        };
        let mut flood = Vec::new();
        for _ in 0..3 * limits.max_unidentified {
            let mut stream = TcpStream::connect(&host).unwrap();
            stream.write_all(b"GET /").unwrap();
            flood.push(stream);
        }
        let started = Instant::now();
        assert!(get(&requested).starts_with(b"HTTP/1.1 200"));
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(server.fault_since(&registered(&requested)), None);
        let why = server
            .fault_since(&registered(&ignored))
            .expect("crowded out, maybe");
        assert!(why.contains("never requested"), "{why}");
        drop(flood);
    }

    #[test]
    fn a_channel_hands_over_websocket_connections_under_the_run_prefix_only() {
        use tungstenite::Message;
        let server = LoopbackServer::start().unwrap();
        let (url, connections) = server.open_channel("/channel");
        assert!(
            url.starts_with("ws://127.0.0.1:") && url.contains("/run-"),
            "{url}"
        );
        let (mut client, _) = tungstenite::connect(url.as_str()).unwrap();
        client.send(Message::text("hello from the page")).unwrap();
        let mut page = connections
            .recv_timeout(Duration::from_secs(10))
            .expect("the connection is handed over");
        assert_eq!(page.read().unwrap(), Message::text("hello from the page"));
        page.send(Message::text("a request")).unwrap();
        assert_eq!(client.read().unwrap(), Message::text("a request"));
        // Without the run's prefix there is no channel.
        let guessed = url.replacen(&server.prefix, "", 1);
        assert!(tungstenite::connect(guessed.as_str()).is_err());
    }

    /// A channel takes the one connection it was opened for: a second
    /// upgrade (a local process that learned the path) is refused, until
    /// the owner opens the channel again for its next connection; a closed
    /// channel takes none.
    #[test]
    fn a_channel_takes_one_connection_per_opening() {
        let server = LoopbackServer::start().unwrap();
        let (url, first) = server.open_channel("/channel/once");
        let (_page, _) = tungstenite::connect(url.as_str()).unwrap();
        first.recv_timeout(Duration::from_secs(10)).unwrap();
        let intruder = tungstenite::connect(url.as_str());
        assert!(
            matches!(&intruder, Err(tungstenite::Error::Http(r)) if r.status() == 404),
            "{intruder:?}"
        );
        assert!(first.try_recv().is_err());

        let (_, second) = server.open_channel("/channel/once");
        let (_next_page, _) = tungstenite::connect(url.as_str()).unwrap();
        second.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(tungstenite::connect(url.as_str()).is_err());

        let (_, third) = server.open_channel("/channel/once");
        server.close_channel("/channel/once");
        assert!(tungstenite::connect(url.as_str()).is_err());
        assert!(third.try_recv().is_err());
    }

    #[test]
    fn gzip_bodies_decode_to_the_module() {
        use std::io::Read as _;
        let module = b"\0asm\x01\0\0\0".repeat(1000);
        let encoded = gzip(&module);
        assert_eq!(&encoded[..2], &[0x1f, 0x8b]);
        assert!(encoded.len() < module.len());
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(&encoded[..])
            .read_to_end(&mut decoded)
            .unwrap();
        assert_eq!(decoded, module);
    }
}
