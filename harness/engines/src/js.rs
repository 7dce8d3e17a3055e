//! The JS driver, embedded: one core that speaks the protocol with
//! web-platform APIs only, and a thin transport per kind of engine. Process
//! workers and browser pages run the same core.

/// The protocol's semantics (`js/driver-core.mjs`).
pub const DRIVER_CORE: &str = include_str!("../js/driver-core.mjs");
/// The transport node, deno and bun run: the core on stdin and stdout.
pub const STDIO_TRANSPORT: &str = include_str!("../js/stdio.mjs");
/// The transport a browser page runs: it keeps one dedicated worker per
/// WebSocket channel going.
pub const PAGE_TRANSPORT: &str = include_str!("../js/page.mjs");
/// The core in one of the page's workers, on its channel.
pub const PAGE_WORKER: &str = include_str!("../js/page-worker.mjs");
/// The page that loads it.
pub const PAGE_HTML: &str = include_str!("../js/page.html");
