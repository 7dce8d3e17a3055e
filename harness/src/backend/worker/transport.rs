//! Moving protocol lines between the harness and one worker.
//!
//! A transport knows nothing of what the lines mean (that is the protocol
//! client's business): it sends lines, hands every received line to a
//! callback as bytes, says when the peer is gone and how it ended, and can
//! end it. Process workers speak on stdio; browser pages on a WebSocket
//! channel of the loopback server.

use crate::backend::launcher::{Launch, WorkerProcess};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

/// What a transport hands to its receiver.
pub enum Received {
    /// One line, without its newline, as bytes: whether it is UTF-8 and
    /// protocol is for the receiver to judge.
    Line(Vec<u8>),
    /// The peer closed its side; nothing more will come.
    Closed,
}

/// One worker's connection.
pub trait Transport: Send + Sync {
    /// Sends one line (the newline is added).
    fn send(&self, line: &[u8]) -> io::Result<()>;
    /// Ends the worker behind the connection.
    fn kill(&self);
    /// Once the peer is gone: how it ended (exit status or signal) and the
    /// tail of what it said outside the protocol (stderr), for crash
    /// messages. Ends the peer if it has not ended by itself.
    fn end_report(&self) -> String;
}

/// A worker process speaking on its stdin and stdout.
pub struct StdioTransport {
    stdin: Mutex<std::process::ChildStdin>,
    process: WorkerProcess,
    stderr_tail: Arc<Mutex<String>>,
    /// Disconnected when the stderr reader has read everything.
    stderr_done: Mutex<mpsc::Receiver<()>>,
}

/// How much of a worker's stderr is kept for crash messages.
const STDERR_TAIL_BYTES: usize = 2000;

impl StdioTransport {
    /// Starts the worker; `receive` gets each line it writes to stdout,
    /// then `Closed`, on a reader thread of its own.
    pub fn start(
        launch: &Launch,
        mut receive: impl FnMut(Received) + Send + 'static,
    ) -> Result<StdioTransport, String> {
        let launched = launch.start()?;
        let stderr_tail = Arc::new(Mutex::new(String::new()));
        let tail = stderr_tail.clone();
        let stderr = launched.stderr;
        let (stderr_done_tx, stderr_done) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            keep_tail(stderr, &tail);
            drop(stderr_done_tx);
        });
        let stdout = launched.stdout;
        std::thread::spawn(move || {
            // Split on bytes, not UTF-8 lines: a line that is not UTF-8
            // must reach the receiver as what it is, not stop the reading.
            for line in BufReader::new(stdout).split(b'\n') {
                match line {
                    Ok(line) => receive(Received::Line(line)),
                    Err(_) => break,
                }
            }
            receive(Received::Closed);
        });
        Ok(StdioTransport {
            stdin: Mutex::new(launched.stdin),
            process: launched.process,
            stderr_tail,
            stderr_done: Mutex::new(stderr_done),
        })
    }
}

impl Transport for StdioTransport {
    fn send(&self, line: &[u8]) -> io::Result<()> {
        let mut stdin = self.stdin.lock().unwrap();
        stdin.write_all(line)?;
        stdin.write_all(b"\n")?;
        stdin.flush()
    }

    fn kill(&self) {
        self.process.kill();
    }

    fn end_report(&self) -> String {
        let status = self.process.end();
        // The process is gone, so its stderr ends: wait briefly for the
        // last of it (a grandchild could hold it open; not for long).
        let _ = self
            .stderr_done
            .lock()
            .unwrap()
            .recv_timeout(Duration::from_millis(200));
        let tail = self.stderr_tail.lock().unwrap();
        if tail.trim().is_empty() {
            status
        } else {
            format!("{status}; stderr: {}", tail.trim())
        }
    }
}

/// Keeps the last [`STDERR_TAIL_BYTES`] of a stream (at a char boundary).
fn keep_tail(mut stderr: impl Read, tail: &Mutex<String>) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = stderr.read(&mut buf) {
        if n == 0 {
            break;
        }
        let mut tail = tail.lock().unwrap();
        tail.push_str(&String::from_utf8_lossy(&buf[..n]));
        if tail.len() > STDERR_TAIL_BYTES {
            let cut = tail.len() - STDERR_TAIL_BYTES;
            let cut = (cut..tail.len())
                .find(|&i| tail.is_char_boundary(i))
                .unwrap_or(tail.len());
            tail.drain(..cut);
        }
    }
}

/// A browser page on its WebSocket channel: one protocol message per text
/// message. The browser behind it belongs to the backend, which reports
/// how it ended; the transport only knows the channel closed.
pub struct WebSocketTransport {
    /// Writes go through their own view of the socket, so a read blocked
    /// waiting for the page never holds them up. (Only the reading view
    /// answers control frames, and pages send none unasked.)
    writer: Mutex<tungstenite::WebSocket<std::net::TcpStream>>,
    stream: std::net::TcpStream,
}

impl WebSocketTransport {
    /// Takes over an accepted channel connection; `receive` gets each
    /// message, then `Closed`, on a reader thread of its own.
    pub fn start(
        mut socket: crate::loopback_server::ChannelConnection,
        mut receive: impl FnMut(Received) + Send + 'static,
    ) -> Result<WebSocketTransport, String> {
        let stream = socket
            .get_ref()
            .try_clone()
            .map_err(|e| format!("channel: {e}"))?;
        // Each request is one small write answered by the page: without
        // this, Nagle's algorithm holds a write back until the previous
        // one is acknowledged, a delay per request.
        stream
            .set_nodelay(true)
            .map_err(|e| format!("channel: {e}"))?;
        let writer = tungstenite::WebSocket::from_raw_socket(
            stream.try_clone().map_err(|e| format!("channel: {e}"))?,
            tungstenite::protocol::Role::Server,
            None,
        );
        std::thread::spawn(move || {
            use tungstenite::Message;
            loop {
                match socket.read() {
                    Ok(Message::Text(text)) => receive(Received::Line(text.as_bytes().to_vec())),
                    // Not the protocol's framing; the client says so.
                    Ok(Message::Binary(bytes)) => receive(Received::Line(bytes.to_vec())),
                    Ok(Message::Close(_)) | Err(_) => break,
                    Ok(_) => continue,
                }
            }
            receive(Received::Closed);
        });
        Ok(WebSocketTransport {
            writer: Mutex::new(writer),
            stream,
        })
    }
}

impl Transport for WebSocketTransport {
    fn send(&self, line: &[u8]) -> io::Result<()> {
        // Requests are serialized JSON, so always UTF-8.
        let text = String::from_utf8_lossy(line).into_owned();
        self.writer
            .lock()
            .unwrap()
            .send(tungstenite::Message::text(text))
            .map_err(io::Error::other)
    }

    fn kill(&self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }

    fn end_report(&self) -> String {
        " (the page's channel closed)".into()
    }
}
