//! Browsers as engines under test (Chromium, Firefox), in pieces as the
//! process backend is: a browser launcher (this directory), the page
//! channel on the loopback server (`loopback_server::open_channel`), and,
//! still to come, the driver page and the backend that pools pages. A page
//! reaches the harness only through the run's unguessable prefix.

pub mod launcher;
