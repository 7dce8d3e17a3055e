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
//! read only up to fixed sizes, idle connections are dropped, and the
//! connections served at once are bounded.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;
use streamconform::scenario::{FetchUrl, Scenario, Served};

/// How long a stalled body keeps its connection open if the client never
/// goes away: longer than any pending window, short enough to not pile up.
const STALL_LIMIT: Duration = Duration::from_secs(600);

/// How long a connection may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest request line, and the most header bytes, read.
const MAX_REQUEST_LINE: u64 = 8 * 1024;
const MAX_HEADER_BYTES: u64 = 64 * 1024;

/// Connections served at once; more are answered 503 and closed.
const MAX_CONNECTIONS: usize = 256;

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

/// What the server answers, by full path.
#[derive(Default)]
struct Tables {
    routes: Mutex<HashMap<String, Arc<Route>>>,
    channels: Mutex<HashMap<String, mpsc::Sender<ChannelConnection>>>,
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
        let tables: Arc<Tables> = Arc::default();
        let live = Arc::new(AtomicUsize::new(0));
        let mut origins = [String::new(), String::new()];
        for origin in &mut origins {
            let listener = TcpListener::bind("127.0.0.1:0")?;
            *origin = format!("http://{}", listener.local_addr()?);
            let (tables, live) = (tables.clone(), live.clone());
            std::thread::Builder::new()
                .name("loopback-accept".into())
                .spawn(move || accept(listener, tables, live))?;
        }
        Ok(LoopbackServer {
            origins,
            prefix: format!("/run-{}", unguessable()),
            tables,
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
/// fetches. `None` for cases that fetch no server URL (`data:`, `blob:`).
pub fn serve_scenario(
    server: &LoopbackServer,
    scenario: &Scenario,
    module: &[u8],
) -> Option<String> {
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
    Some(match request.redirected_from {
        None => target,
        Some(from) => server.serve(
            origin_of(from),
            &format!("/redirect/{key:016x}"),
            Route {
                status: request.redirect_status,
                headers: vec![("Location".into(), target)],
                body: vec![],
                end: BodyEnding::Complete,
            },
        ),
    })
}

fn accept(listener: TcpListener, tables: Arc<Tables>, live: Arc<AtomicUsize>) {
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        if live.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            live.fetch_sub(1, Ordering::SeqCst);
            let _ = stream.write_all(
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            continue;
        }
        let (tables, slot) = (tables.clone(), live.clone());
        let spawned = std::thread::Builder::new()
            .name("loopback-conn".into())
            .spawn(move || {
                // A client that goes away mid-response is its own business.
                let _ = handle(stream, &tables);
                slot.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            // The thread never ran (the stream went with it, closed), so
            // its slot is given back here.
            live.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Reads one line of at most `limit` bytes; `None` if it is longer (or the
/// connection ends first).
fn read_limited_line(reader: &mut impl BufRead, limit: u64) -> io::Result<Option<String>> {
    let mut line = String::new();
    reader.take(limit).read_line(&mut line)?;
    Ok(line.ends_with('\n').then_some(line))
}

fn handle(stream: TcpStream, tables: &Tables) -> io::Result<()> {
    stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    let mut reader = BufReader::new(stream.try_clone()?);
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
    // Read the request headers up to the blank line; only a WebSocket
    // upgrade's key matters.
    let mut header_bytes = 0;
    let mut websocket_key = None;
    loop {
        let Some(line) = read_limited_line(&mut reader, MAX_HEADER_BYTES - header_bytes)? else {
            return too_large(&stream, "Request Header Fields");
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
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("");
    // Routes are paths; a query (the driver page's) does not choose one.
    let path = parts.next().unwrap_or("");
    let path = path.split_once('?').map_or(path, |(path, _query)| path);
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
        return stream.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 9\r\nConnection: close\r\n\r\nno route\n",
        );
    };
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
        write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").unwrap();
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

    /// Other local processes: a path without the run's prefix finds
    /// nothing; an oversized request line is refused without reading it
    /// all; connections beyond the bound are turned away.
    #[test]
    fn the_server_only_answers_this_run_within_limits() {
        let server = LoopbackServer::start().unwrap();
        let url = server.serve(
            Origin::Primary,
            "/case/1",
            Route {
                status: 200,
                headers: vec![],
                body: b"ok".to_vec(),
                end: BodyEnding::Complete,
            },
        );
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

        let idle: Vec<TcpStream> = (0..MAX_CONNECTIONS)
            .map(|_| TcpStream::connect(host).unwrap())
            .collect();
        // Let the server take them all in before the one too many.
        std::thread::sleep(Duration::from_millis(300));
        let mut extra = TcpStream::connect(host).unwrap();
        let mut response = Vec::new();
        extra.read_to_end(&mut response).unwrap();
        assert!(
            response.starts_with(b"HTTP/1.1 503"),
            "{:?}",
            String::from_utf8_lossy(&response)
        );
        drop(idle);
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
