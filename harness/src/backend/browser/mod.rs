//! Browsers as engines under test (Chromium, Firefox), in pieces as the
//! process backend is: the browser launcher (`launcher.rs`), the driver
//! page it opens (`page.rs`: the shared driver core behind the page
//! transport, `js/page.mjs`), the channel the page talks back on
//! (`loopback_server::open_channel`), and, still to come, the backend that
//! pools pages. A page reaches the harness only through the run's
//! unguessable prefix.

pub mod launcher;
pub mod page;
