//! The driver page, served from the loopback server's first origin: the
//! page, the page transport and the driver core, under the run's prefix.

use crate::backend::js::{DRIVER_CORE, PAGE_HTML, PAGE_TRANSPORT};
use crate::loopback_server::{BodyEnding, ChannelConnection, LoopbackServer, Origin, Route};

/// Opens a channel named `name` (letters, digits and `-`) and serves the
/// driver page: returns the page's URL, which tells the page the channel's
/// name, and where the page's connection arrives. The page finds the
/// channel beside itself, under the same run prefix.
pub fn serve_driver_page(
    server: &LoopbackServer,
    name: &str,
) -> (String, std::sync::mpsc::Receiver<ChannelConnection>) {
    assert!(
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
        "channel names need no escaping: {name:?}"
    );
    let (_, connections) = server.open_channel(&format!("/channel/{name}"));
    let file = |content_type: &str, text: &str| Route {
        status: 200,
        headers: vec![("Content-Type".into(), content_type.into())],
        body: text.as_bytes().to_vec(),
        end: BodyEnding::Complete,
    };
    let javascript = "text/javascript; charset=utf-8";
    server.serve(
        Origin::Primary,
        "/driver/driver-core.mjs",
        file(javascript, DRIVER_CORE),
    );
    server.serve(
        Origin::Primary,
        "/driver/page.mjs",
        file(javascript, PAGE_TRANSPORT),
    );
    let page = server.serve(
        Origin::Primary,
        "/driver/page.html",
        file("text/html; charset=utf-8", PAGE_HTML),
    );
    (format!("{page}?channel={name}"), connections)
}
