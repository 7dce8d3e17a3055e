//! The driver page, served from the loopback server's first origin: the
//! page, its worker script and the driver core, under the run's prefix.

use crate::js::{DRIVER_CORE, PAGE_HTML, PAGE_TRANSPORT, PAGE_WORKER};
use crate::loopback_server::{BodyEnding, ChannelConnection, LoopbackServer, Origin, Route};
use std::sync::mpsc::Receiver;

/// Opens a channel for each of `channels` (names of letters, digits and
/// `-`) and serves the driver page: returns the page's URL, which tells
/// the page the channels' names, and where each channel's connections
/// arrive, in order. The page runs one driver worker per channel and finds
/// the channels beside itself, under the same run prefix; a channel the
/// harness closes is opened again with a fresh worker.
pub fn serve_driver_page(
    server: &LoopbackServer,
    channels: &[String],
) -> (String, Vec<Receiver<ChannelConnection>>) {
    assert!(
        !channels.is_empty(),
        "a driver page serves at least one channel"
    );
    for name in channels {
        assert!(
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
            "channel names need no escaping: {name:?}"
        );
    }
    let connections = channels
        .iter()
        .map(|name| server.open_channel(&format!("/channel/{name}")).1)
        .collect();
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
    (
        format!("{page}?channels={}", channels.join(",")),
        connections,
    )
}
