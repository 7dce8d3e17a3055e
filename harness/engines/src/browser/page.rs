//! The driver page, served from the loopback server's first origin: the
//! page, its worker script and the driver core, under the run's prefix.

use crate::js::{DRIVER_CORE, PAGE_HTML, PAGE_TRANSPORT, PAGE_WORKER};
use crate::loopback_server::{BodyEnding, ChannelConnection, LoopbackServer, Origin, Route};
use std::sync::mpsc::Receiver;

/// Where the driver page finds the channel `name` (under the run prefix).
pub fn channel_path(name: &str) -> String {
    format!("/channel/{name}")
}

/// Opens a channel for each of `channels` (names of letters, digits and
/// `-`) and serves the driver page: returns the page's URL, which tells
/// the page the channels' names, and where each channel's first connection
/// arrives, in order. The page runs one driver worker per channel and
/// finds the channels beside itself, under the same run prefix; when a
/// channel's connection closes, the page tries it again with a fresh worker
/// until the harness opens the channel again ([`channel_path`]).
///
/// The URL carries the run's secrets (its prefix, the channels' names):
/// never put it on a command line ([`crate::browser::launcher::Browser`]
/// opens it from a file in the profile).
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
        .map(|name| server.open_channel(&channel_path(name)).1)
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
