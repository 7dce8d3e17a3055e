//! Moving protocol lines between the harness and one worker.
//!
//! A transport knows nothing of what the lines mean (that is the protocol
//! client's business): it sends lines, hands every received line to a
//! callback as bytes, says when the peer is gone and how it ended, and can
//! end it. Process workers speak on stdio; browser pages on a WebSocket
//! channel of the loopback server.

use crate::launcher::{CpuUse, Launch, WorkerProcess};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

/// What a transport hands to its receiver.
pub enum Received {
    /// One line, without its newline, as bytes: whether it is UTF-8 and
    /// protocol is for the receiver to judge.
    Line(Vec<u8>),
    /// The peer wrote more than [`MAX_LINE_BYTES`] without a newline: a
    /// protocol fault. Nothing more is read from it.
    TooLong,
    /// The peer closed its side; nothing more will come.
    Closed,
}

/// The longest line a worker may write. Replies are outcomes and messages
/// (an engine's message may quote names from a module of up to 16 MiB);
/// without a bound a worker that never ends its line is buffered until the
/// harness runs out of memory (an 800 MB line took it to 1.65 GB).
pub const MAX_LINE_BYTES: usize = 32 << 20;

/// One worker's connection.
pub trait Transport: Send + Sync {
    /// Sends one or more lines, separated by `\n` (the last newline is
    /// added).
    fn send(&self, line: &[u8]) -> io::Result<()>;
    /// Ends the worker behind the connection.
    fn kill(&self);
    /// Once the peer is gone: how it ended (exit status or signal) and the
    /// tail of what it said outside the protocol (stderr), for crash
    /// messages. Ends the peer if it has not ended by itself.
    fn end_report(&self) -> String;
    /// The CPU use of the worker's processes, where the transport can see
    /// them (a process it started); `None` turns off the check for stuck
    /// workers (see `client`), leaving the hang timeout.
    fn cpu_use(&self) -> Option<CpuUse> {
        None
    }
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
            read_lines(BufReader::new(stdout), MAX_LINE_BYTES, &mut receive);
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

    fn cpu_use(&self) -> Option<CpuUse> {
        self.process.cpu_use()
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

/// Hands each line of `reader` to `receive`, holding at most `max` bytes
/// of one: a longer line is [`Received::TooLong`] and ends the reading.
/// Split on bytes, not UTF-8 lines: a line that is not UTF-8 must reach
/// the receiver as what it is, not stop the reading.
fn read_lines(mut reader: impl BufRead, max: usize, receive: &mut impl FnMut(Received)) {
    loop {
        let mut line = Vec::new();
        match (&mut reader)
            .take(max as u64 + 1)
            .read_until(b'\n', &mut line)
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        } else if line.len() > max {
            return receive(Received::TooLong);
        }
        receive(Received::Line(line));
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

/// How long the writer waits, once woken, for more lines to send in the
/// same message. Chromium's spec suite run: 45,000 messages in 20.4 s
/// without it; under 10,000 in 18 s with 1 ms. A request waits at most
/// this much longer, while many more are in flight.
const LINGER: Duration = Duration::from_millis(1);

/// A browser page on its WebSocket channel: a text message carries one or
/// more protocol lines, separated by `\n`. The browser behind it belongs to the backend, which reports
/// how it ended; the transport only knows the channel closed.
pub struct WebSocketTransport {
    outbox: Arc<Outbox>,
    stream: std::net::TcpStream,
}

/// Lines waiting for the writer thread. Whatever is sent while it writes
/// or lingers goes out together in its next message: every message costs
/// the browser a trip through its processes, and with many requests in
/// flight that, not the compiles, was what limited a page's throughput.
#[derive(Default)]
struct Outbox {
    waiting: Mutex<(Vec<u8>, Option<String>)>,
    wake: std::sync::Condvar,
}

impl WebSocketTransport {
    /// Takes over an accepted channel connection; `receive` gets each
    /// line, then `Closed`, on a reader thread of its own.
    pub fn start(
        mut socket: crate::loopback_server::ChannelConnection,
        mut receive: impl FnMut(Received) + Send + 'static,
    ) -> Result<WebSocketTransport, String> {
        let stream = socket
            .get_ref()
            .try_clone()
            .map_err(|e| format!("channel: {e}"))?;
        // Requests are small writes answered by the page: without this,
        // Nagle's algorithm holds a write back until the previous one is
        // acknowledged.
        stream
            .set_nodelay(true)
            .map_err(|e| format!("channel: {e}"))?;
        // Writes go through their own view of the socket, so a read
        // blocked waiting for the page never holds them up. (Only the
        // reading view answers control frames, and pages send none unasked.)
        let mut writer = tungstenite::WebSocket::from_raw_socket(
            stream.try_clone().map_err(|e| format!("channel: {e}"))?,
            tungstenite::protocol::Role::Server,
            None,
        );
        let outbox = Arc::new(Outbox::default());
        let (waiting, write_end) = (outbox.clone(), stream.try_clone());
        let write_end = write_end.map_err(|e| format!("channel: {e}"))?;
        std::thread::spawn(move || loop {
            {
                let mut guard = waiting.waiting.lock().unwrap();
                while guard.0.is_empty() && guard.1.is_none() {
                    guard = waiting.wake.wait(guard).unwrap();
                }
            }
            // Lets the requests sent just after this one join its message.
            std::thread::sleep(LINGER);
            let lines = {
                let mut guard = waiting.waiting.lock().unwrap();
                if guard.1.is_some() {
                    return;
                }
                std::mem::take(&mut guard.0)
            };
            // Requests are serialized JSON, so always UTF-8.
            let text = String::from_utf8_lossy(&lines).into_owned();
            if let Err(e) = writer.send(tungstenite::Message::text(text)) {
                // The reader sees the socket end and the client loses
                // what was in flight; later sends fail at once.
                waiting.waiting.lock().unwrap().1 = Some(e.to_string());
                let _ = write_end.shutdown(std::net::Shutdown::Both);
                return;
            }
        });
        std::thread::spawn(move || {
            use tungstenite::Message;
            loop {
                // A message carries one or more lines (the page batches
                // what it says in one turn).
                let message = match socket.read() {
                    Ok(Message::Text(text)) => text.as_bytes().to_vec(),
                    // Not the protocol's framing; the client says so.
                    Ok(Message::Binary(bytes)) => bytes.to_vec(),
                    Ok(Message::Close(_)) | Err(_) => break,
                    Ok(_) => continue,
                };
                for line in message.split(|&b| b == b'\n') {
                    receive(Received::Line(line.to_vec()));
                }
            }
            receive(Received::Closed);
        });
        Ok(WebSocketTransport { outbox, stream })
    }
}

impl Transport for WebSocketTransport {
    fn send(&self, line: &[u8]) -> io::Result<()> {
        let mut guard = self.outbox.waiting.lock().unwrap();
        if let Some(why) = &guard.1 {
            return Err(io::Error::other(why.clone()));
        }
        if !guard.0.is_empty() {
            guard.0.push(b'\n');
        }
        guard.0.extend_from_slice(line);
        drop(guard);
        self.outbox.wake.notify_one();
        Ok(())
    }

    fn kill(&self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
        let mut guard = self.outbox.waiting.lock().unwrap();
        guard
            .1
            .get_or_insert_with(|| "the channel was closed".into());
        drop(guard);
        self.outbox.wake.notify_one();
    }

    fn end_report(&self) -> String {
        " (the page's channel closed)".into()
    }
}

impl Drop for WebSocketTransport {
    /// Ends the writer thread with the channel.
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loopback_server::LoopbackServer;
    use tungstenite::Message;

    /// Lines up to the limit arrive whole (a last one without its newline
    /// too); a longer one is `TooLong`, read no further than the limit, and
    /// nothing after it is read.
    #[test]
    fn a_line_past_the_limit_is_too_long_and_ends_the_reading() {
        let got = |input: &[u8]| {
            let mut got = Vec::new();
            let mut reader = std::io::Cursor::new(input.to_vec());
            read_lines(&mut reader, 4, &mut |r| {
                got.push(match r {
                    Received::Line(line) => String::from_utf8(line).unwrap(),
                    Received::TooLong => "<too long>".into(),
                    Received::Closed => "<closed>".into(),
                })
            });
            (got, reader.position())
        };
        assert_eq!(got(b"ab\n\nabcd\nxy").0, ["ab", "", "abcd", "xy"]);
        let (lines, read) = got(b"ok\nabcdefgh\nnever");
        assert_eq!(lines, ["ok", "<too long>"]);
        assert_eq!(read, 3 + 5, "no further than one byte past the limit");
    }

    /// Lines sent in a burst reach the page in order, several to a message
    /// when they waited; a message of several lines from the page reaches
    /// the receiver as its lines, then `Closed` when the page goes.
    #[test]
    fn the_websocket_transport_batches_lines_and_splits_messages() {
        let server = LoopbackServer::start().unwrap();
        let (url, connections) = server.open_channel("/channel/t");
        let (mut page, _) = tungstenite::connect(url.as_str()).unwrap();
        let connection = connections
            .recv_timeout(Duration::from_secs(10))
            .expect("the connection is handed over");
        let (tx, rx) = mpsc::channel();
        let transport = WebSocketTransport::start(connection, move |received| {
            let _ = tx.send(match received {
                Received::Line(line) => Some(String::from_utf8(line).unwrap()),
                Received::TooLong | Received::Closed => None,
            });
        })
        .unwrap();
        let sent: Vec<String> = (0..200).map(|i| format!("{{\"line\":{i}}}")).collect();
        for line in &sent {
            transport.send(line.as_bytes()).unwrap();
        }
        let mut got = Vec::new();
        let mut messages = 0;
        while got.len() < sent.len() {
            let Message::Text(text) = page.read().unwrap() else {
                panic!("not text")
            };
            messages += 1;
            got.extend(text.as_str().split('\n').map(str::to_string));
        }
        assert_eq!(got, sent);
        assert!(messages < sent.len(), "lines that waited share a message");

        page.send(Message::text("a\nb\nc")).unwrap();
        let lines: Vec<_> = (0..3).map(|_| rx.recv().unwrap()).collect();
        assert_eq!(
            lines,
            [Some("a".into()), Some("b".into()), Some("c".into())]
        );
        drop(page);
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), None);
    }
}
