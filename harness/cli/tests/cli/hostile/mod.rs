//! The hostile-input suite: each item of the trust review replayed as an
//! attacker or a careless user would, asserting what the harness must do
//! instead (refuse with a clear error, escape, verify, stay bounded).
//! Run it alone with `cargo test -p streamconform-cli --test cli -- hostile::`.
//!
//! - `forgery`: a local process that reads `/proc` and connects to a
//!   browser run's channel changes no result.
//! - `escaping`: engine messages, case ids and versions in every output
//!   medium (reproducer script, Markdown, terminal, the site's filter).
//! - `evidence`: shards and journals are verified, not trusted; staleness
//!   of a rule is judged over the suites its file covers.
//! - `harness_faults`: the harness's own faults (a flooded loopback
//!   server, settle windows, load) never become engine results.
//! - `bounds`: durations, protocol lines, module files, suite entries,
//!   output paths and counts are bounded and validated.

mod bounds;
mod escaping;
mod evidence;
mod forgery;
mod harness_faults;
