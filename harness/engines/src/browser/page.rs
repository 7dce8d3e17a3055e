//! The driver page, served from the loopback server's first origin: the
//! page, its worker script and the driver core, under the run's prefix.

use crate::js::{DRIVER_CORE, PAGE_HTML, PAGE_TRANSPORT, PAGE_WORKER};
use crate::loopback_server::{BodyEnding, ChannelConnection, LoopbackServer, Origin, Route};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};

/// The driver page as served: its URL and where its connections arrive.
pub struct DriverPage {
    /// Carries the run's secrets (its prefix, the channels' names): never
    /// put it on a command line ([`crate::browser::launcher::Browser`]
    /// opens it from a file in the profile).
    pub url: String,
    /// Each worker channel's first connection, in order.
    pub workers: Vec<Receiver<ChannelConnection>>,
    /// The page's own connection, held for as long as the page lives: it
    /// closes when the page's content process crashes or is killed while
    /// the browser lives on, which no worker channel can tell apart from a
    /// worker the page is about to replace.
    pub lifeline: Receiver<ChannelConnection>,
}

/// Where the driver page finds the channel `name` (under the run prefix).
pub fn channel_path(name: &str) -> String {
    format!("/channel/{name}")
}

/// Opens a channel for each of `channels` and one for `lifeline` (names of
/// letters, digits and `-`) and serves the driver page. The page runs one
/// driver worker per channel and finds the channels beside itself, under
/// the same run prefix; when a channel's connection closes, the page tries
/// it again with a fresh worker until the harness opens the channel again
/// ([`channel_path`]). The page itself connects to `lifeline` once, when it
/// loads, and says nothing there: that connection ends only with the page.
pub fn serve_driver_page(
    server: &LoopbackServer,
    channels: &[String],
    lifeline: &str,
) -> DriverPage {
    assert!(
        !channels.is_empty(),
        "a driver page serves at least one channel"
    );
    for name in channels.iter().map(String::as_str).chain([lifeline]) {
        assert!(
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
            "channel names need no escaping: {name:?}"
        );
    }
    let workers = channels
        .iter()
        .map(|name| server.open_channel(&channel_path(name)).1)
        .collect();
    let lifeline_connection = server.open_channel(&channel_path(lifeline)).1;
    let file = |content_type: &str, text: &str| Route {
        status: 200,
        headers: vec![("Content-Type".into(), content_type.into())],
        body: text.as_bytes().to_vec(),
        end: BodyEnding::Complete,
    };
    let javascript = "text/javascript; charset=utf-8";
    for (path, text) in [
        ("/driver/driver-core.mjs", DRIVER_CORE),
        ("/driver/page.mjs", PAGE_TRANSPORT),
        ("/driver/page-worker.mjs", PAGE_WORKER),
    ] {
        server.serve(Origin::Primary, path, file(javascript, text));
    }
    let page = server.serve(
        Origin::Primary,
        "/driver/page.html",
        file("text/html; charset=utf-8", PAGE_HTML),
    );
    DriverPage {
        url: format!("{page}?channels={}&lifeline={lifeline}", channels.join(",")),
        workers,
        lifeline: lifeline_connection,
    }
}

/// A driver page's lifeline, watched: [`Lifeline::ended`] once the page's
/// connection, having come, closed. Until it comes (a browser still
/// starting) the page counts as alive; the pool's connect deadline covers
/// a page that never loads.
pub struct Lifeline {
    watched: Arc<Watched>,
}

#[derive(Default)]
struct Watched {
    ended: AtomicBool,
    /// The connection's socket once it came, to end the watch with.
    socket: Mutex<Option<TcpStream>>,
}

impl Lifeline {
    /// Watches the connection that arrives on `connection`, on a thread of
    /// its own that ends with the connection, or when the channel closes
    /// before one came.
    pub fn watch(connection: Receiver<ChannelConnection>) -> Lifeline {
        let watched = Arc::new(Watched::default());
        let watching = watched.clone();
        std::thread::spawn(move || {
            let Ok(mut socket) = connection.recv() else {
                return;
            };
            match socket.get_ref().try_clone() {
                Ok(stream) => *watching.socket.lock().unwrap() = Some(stream),
                Err(_) => return watching.ended.store(true, Ordering::Relaxed),
            }
            // The page says nothing here; whatever comes is read and let go.
            while !matches!(socket.read(), Ok(tungstenite::Message::Close(_)) | Err(_)) {}
            watching.ended.store(true, Ordering::Relaxed);
            // The socket closes now, not when the launch is dropped.
            watching.socket.lock().unwrap().take();
        });
        Lifeline { watched }
    }

    /// Whether the page's connection came and closed: its content process
    /// is gone, or the page went elsewhere.
    pub fn ended(&self) -> bool {
        self.watched.ended.load(Ordering::Relaxed)
    }
}

impl Drop for Lifeline {
    /// Ends the watching thread with the connection.
    fn drop(&mut self) {
        if let Some(socket) = self.watched.socket.lock().unwrap().take() {
            let _ = socket.shutdown(std::net::Shutdown::Both);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn eventually(what: &str, condition: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !condition() {
            assert!(Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// A lifeline is alive until its connection comes and while it stays
    /// open; it ends when the page's side closes, and its channel takes
    /// only that one connection.
    #[test]
    fn a_lifeline_ends_when_the_page_s_connection_closes() {
        let server = LoopbackServer::start().unwrap();
        let page = serve_driver_page(&server, &["worker".to_string()], "life");
        let lifeline = Lifeline::watch(page.lifeline);
        std::thread::sleep(Duration::from_millis(50));
        assert!(!lifeline.ended(), "no connection yet: the page still loads");
        let url = page
            .url
            .replacen("http://", "ws://", 1)
            .replace("/driver/page.html", "/channel/life");
        let url = url.split('?').next().unwrap().to_string();
        let (mut socket, _) = tungstenite::connect(&url).unwrap();
        socket.send(tungstenite::Message::text("ignored")).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert!(!lifeline.ended(), "the connection is open: the page lives");
        assert!(
            tungstenite::connect(&url).is_err(),
            "the lifeline takes one connection"
        );
        drop(socket);
        eventually("the lifeline ends with its connection", || lifeline.ended());
    }

    /// A lifeline dropped before its page connected ends its watch: the
    /// channel is closed, and nothing waits on it.
    #[test]
    fn a_lifeline_whose_page_never_came_stops_watching_when_its_channel_closes() {
        let server = LoopbackServer::start().unwrap();
        let page = serve_driver_page(&server, &["worker".to_string()], "life");
        let watched = {
            let lifeline = Lifeline::watch(page.lifeline);
            lifeline.watched.clone()
        };
        server.close_channel(&channel_path("life"));
        eventually("the watching thread lets go", || {
            Arc::strong_count(&watched) == 1
        });
        assert!(!watched.ended.load(Ordering::Relaxed));
    }
}
