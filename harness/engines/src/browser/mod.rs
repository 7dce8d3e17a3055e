//! Browsers as engines under test (Chromium, Firefox, WebKit), in the pieces the
//! process backend has:
//! - `launcher.rs` starts a browser (headless, or WebKit on an Xvfb display
//!   of its own) with a fresh profile, the
//!   proposal flags or prefs of a switch set, in its own process group and
//!   dying with the harness;
//! - `page.rs` serves the driver page: the shared driver core in one
//!   dedicated worker per channel, behind the page transport
//!   (`js/page.mjs`, `js/page-worker.mjs`);
//! - `pool.rs` is one browser as a pool of those workers: a hung worker is
//!   replaced by its page, a crashed browser relaunched;
//! - the protocol client, WebSocket transport and the backend logic
//!   (handshake, proposal detection, retries) are `../worker/`'s, as for
//!   processes.
//!
//! The loopback server belongs to the backend, which lives as long as the
//! run: it serves the driver page from its first origin, the channels
//! beside it, and the bodies of cases that fetch, so the second origin is
//! cross-origin to the page. Everything sits under the run's unguessable
//! prefix, each channel has an unguessable name and takes only the one
//! connection its slot waits for, and the page's URL never goes on a
//! command line (the browser starts on a page in its 0700 profile that
//! replaces itself with it): no other local process reaches a channel (see
//! PROTOCOL.md, "Who can reach a channel").

pub mod launcher;
pub mod page;
pub mod pool;

use crate::loopback_server::{LoopbackServer, ServerOnDemand};
use crate::switches::{self, Switch};
use crate::worker::engine::{WorkerBackend, WorkerPool, WorkerSource};
use crate::worker::protocol::Hello;
use launcher::BrowserKind;
use pool::PagePool;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// A backend whose workers are driver workers in a browser page.
pub type BrowserBackend = WorkerBackend;

/// `kind` with `workers` driver workers per browser (per switch set).
pub fn backend(kind: BrowserKind, workers: usize, settle: Duration) -> BrowserBackend {
    let source = BrowserSource {
        kind,
        server: ServerOnDemand::default(),
        version: OnceLock::new(),
        pools: AtomicUsize::new(0),
    };
    WorkerBackend::new(
        kind.name(),
        Box::new(source),
        switches::candidates(kind.name()),
        workers,
        settle,
    )
}

struct BrowserSource {
    kind: BrowserKind,
    server: ServerOnDemand,
    /// `--version`'s number: Firefox tells pages only its major version.
    version: OnceLock<Result<String, String>>,
    /// Pools made so far, to name their channels apart.
    pools: AtomicUsize,
}

impl WorkerSource for BrowserSource {
    fn pool(&self, switches: &[Switch], size: usize) -> Arc<dyn WorkerPool> {
        let label = format!(
            "{}-{}",
            self.kind.name(),
            self.pools.fetch_add(1, Ordering::Relaxed)
        );
        match self.server() {
            Ok(server) => Arc::new(PagePool::new(self.kind, switches, server, label, size)),
            Err(why) => Arc::new(Unavailable(format!("loopback server: {why}"))),
        }
    }

    fn describe(&self, hello: &Hello) -> String {
        let version = self.version.get_or_init(|| self.kind.version_number());
        match version {
            Ok(version) => format!("{} {version}", hello.engine),
            Err(_) => format!("{} {}", hello.engine, hello.version),
        }
    }

    fn server(&self) -> Result<Arc<LoopbackServer>, String> {
        self.server.get()
    }

    /// More than a process worker: each message to or from a page
    /// crosses the browser's processes, and the more requests in flight,
    /// the more of them share a message (the transport and the page batch
    /// what waits). Not many more: compiles queue for the same cores, and
    /// one that waits past the pending window is judged pending. The spec
    /// suite, reduced plans, Chromium 156 on 2 cores (two page workers):
    /// 8 in flight without batching 44 s; with batching, 16 in flight
    /// 20.5 s, 32 in flight 20.0 s, 64 in flight 100 s with 30 cases
    /// wrongly pending.
    fn cases_per_worker(&self) -> usize {
        8
    }
}

/// A pool that cannot start workers, and says why.
struct Unavailable(String);

impl WorkerPool for Unavailable {
    fn worker(&self) -> Result<Arc<crate::worker::client::Worker>, String> {
        Err(self.0.clone())
    }
}
