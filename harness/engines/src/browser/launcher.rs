//! Starting a headless browser on a URL, with a fresh profile, in its own
//! process group and dying with the harness (the process launcher's
//! guarantees), and finding out its version.
//!
//! The URL never goes on the browser's command line, which every local
//! user can read (`/proc/PID/cmdline`): the browser opens a start page in
//! its profile, a directory only the harness's user can read, and that
//! page replaces itself with the URL (see PROTOCOL.md, "Who can reach a
//! channel").

use crate::launcher::{Launch, WorkerProcess};
use crate::switches::{self, Switch};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The start page in a browser's profile that sends it on to its URL.
const START_PAGE: &str = "streamconform-start.html";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrowserKind {
    Chromium,
    Firefox,
    /// WebKitGTK's MiniBrowser: WebCore's `fetch` and `Response` over
    /// JavaScriptCore. It has no headless mode, so it runs on a virtual X
    /// display of its own (Xvfb).
    Webkit,
}

/// Where Debian's `libwebkit2gtk-4.1-0` puts MiniBrowser, per architecture.
const MINIBROWSER: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser",
    "/usr/lib/aarch64-linux-gnu/webkit2gtk-4.1/MiniBrowser",
];

/// Starts Xvfb on a display it picks itself (`-displayfd`: no race with
/// other X servers, and a stale lock of a killed one is cleaned up by the
/// next), waits for it, runs the browser on it, and stops it when the
/// browser ends. Both are in the browser's process group, so killing the
/// browser kills its display too, and both die with this script
/// (`setpriv --pdeathsig`): the harness's own death signal reaches only its
/// direct child, this script, and nothing must outlive it. Xvfb's output
/// goes nowhere: it must not hold the browser's pipes open. `$1` is the
/// directory the display number is written to, the rest the browser's
/// command.
const ON_VIRTUAL_DISPLAY: &str = r#"directory=$1; shift
setpriv --pdeathsig KILL Xvfb -displayfd 3 -nolisten tcp -screen 0 1280x1024x24 3>"$directory/display" >/dev/null 2>&1 &
xvfb=$!
tries=0
until [ -s "$directory/display" ]; do
  tries=$((tries + 1))
  if [ "$tries" -gt 400 ] || ! kill -0 "$xvfb" 2>/dev/null; then
    echo "Xvfb did not start" >&2
    kill "$xvfb" 2>/dev/null
    exit 1
  fi
  sleep 0.05
done
DISPLAY=":$(cat "$directory/display")" setpriv --pdeathsig KILL "$@"
status=$?
kill "$xvfb" 2>/dev/null
exit "$status"
"#;

impl BrowserKind {
    pub const ALL: &'static [BrowserKind] = &[
        BrowserKind::Chromium,
        BrowserKind::Firefox,
        BrowserKind::Webkit,
    ];

    /// The backend name.
    pub fn name(self) -> &'static str {
        match self {
            BrowserKind::Chromium => "chromium",
            BrowserKind::Firefox => "firefox",
            BrowserKind::Webkit => "webkit",
        }
    }

    /// `STREAMCONFORM_CHROMIUM` / `STREAMCONFORM_FIREFOX` /
    /// `STREAMCONFORM_WEBKIT` if set, else Debian's binary (what
    /// `scripts/install-engines.sh` installs): on PATH, or for WebKit
    /// MiniBrowser in the library's directory.
    pub fn binary(self) -> String {
        let variable = format!("STREAMCONFORM_{}", self.name().to_ascii_uppercase());
        std::env::var(variable).unwrap_or_else(|_| match self {
            BrowserKind::Chromium => "chromium".into(),
            BrowserKind::Firefox => "firefox-esr".into(),
            BrowserKind::Webkit => MINIBROWSER
                .iter()
                .find(|path| Path::new(path).exists())
                .unwrap_or(&MINIBROWSER[0])
                .to_string(),
        })
    }

    /// What `--version` prints (`Chromium 156.0.8078.79 built on ...`,
    /// `Mozilla Firefox 153.7.0esr`, `WebKitGTK 2.50.6`), its first line
    /// trimmed. MiniBrowser needs a display even for that.
    pub fn version(self) -> Result<String, String> {
        let binary = self.binary();
        let display;
        let out = match self {
            BrowserKind::Webkit => {
                display = tempfile::tempdir().map_err(|e| format!("a temporary directory: {e}"))?;
                Command::new("sh")
                    .args(["-c", ON_VIRTUAL_DISPLAY, "streamconform-webkit"])
                    .arg(display.path())
                    .args([&binary, "--version"])
                    .output()
            }
            _ => Command::new(&binary).arg("--version").output(),
        }
        .map_err(|e| format!("cannot run {binary}: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        match text.lines().next().map(str::trim) {
            Some(line) if out.status.success() && !line.is_empty() => Ok(line.to_string()),
            _ => Err(format!("{binary} --version failed ({})", out.status)),
        }
    }

    /// The version number alone (`156.0.8078.79`, `153.7.0esr`): the
    /// first word of `--version` that starts with a digit.
    pub fn version_number(self) -> Result<String, String> {
        let line = self.version()?;
        line.split_whitespace()
            .find(|word| word.starts_with(|c: char| c.is_ascii_digit()))
            .map(str::to_string)
            .ok_or_else(|| format!("no version number in {line:?}"))
    }

    /// The command that opens `url` headless with the profile in
    /// `profile` (an empty directory the caller owns, prepared with
    /// [`BrowserKind::prepare_profile`]), with `switches` on.
    pub fn launch(self, url: &str, profile: &std::path::Path, switches: &[Switch]) -> Launch {
        let mut command = vec![self.binary()];
        match self {
            BrowserKind::Chromium => {
                command.extend(
                    [
                        "--headless=new",
                        // The page is ours, on loopback; a sandbox needs
                        // privileges containers and root lack, and without
                        // it the zygote only gets in the way.
                        "--no-sandbox",
                        "--no-zygote",
                        "--disable-gpu",
                        "--disable-dev-shm-usage",
                        "--no-first-run",
                        "--no-default-browser-check",
                        "--disable-background-timer-throttling",
                        "--disable-renderer-backgrounding",
                    ]
                    .map(String::from),
                );
                command.push(format!("--user-data-dir={}", profile.display()));
            }
            BrowserKind::Firefox => {
                command.extend(["--headless", "--no-remote", "--profile"].map(String::from));
                command.push(profile.display().to_string());
            }
            BrowserKind::Webkit => {
                // Private browsing: nothing of a run outlives it.
                command.push("--private".into());
            }
        }
        let rendered = switches::render(switches);
        command.extend(rendered.args);
        command.push(url.to_string());
        let mut env = rendered.env;
        if self == BrowserKind::Webkit {
            let wrapped = ["sh", "-c", ON_VIRTUAL_DISPLAY, "streamconform-webkit"]
                .map(String::from)
                .into_iter()
                .chain([profile.display().to_string()]);
            command = wrapped.chain(command).collect();
            // Its settings, caches and data go in the profile, not $HOME.
            let home = profile.display().to_string();
            for (variable, dir) in [
                ("HOME", ""),
                ("XDG_CONFIG_HOME", "/config"),
                ("XDG_CACHE_HOME", "/cache"),
                ("XDG_DATA_HOME", "/data"),
            ] {
                env.push((variable.into(), format!("{home}{dir}")));
            }
        }
        Launch { command, env }
    }

    /// Writes what the browser reads from its profile before it starts:
    /// for Firefox the prefs of `switches`, and prefs that keep a browser
    /// with no network from trying to reach one (updates, telemetry,
    /// first-run pages), which on a small machine competes with the work.
    pub fn prepare_profile(
        self,
        profile: &std::path::Path,
        switches: &[Switch],
    ) -> std::io::Result<()> {
        if self != BrowserKind::Firefox {
            return Ok(());
        }
        let mut prefs: Vec<(String, String)> = [
            ("app.update.disabledForTesting", "true"),
            ("browser.shell.checkDefaultBrowser", "false"),
            ("browser.aboutwelcome.enabled", "false"),
            ("datareporting.policy.dataSubmissionEnabled", "false"),
            ("toolkit.telemetry.reportingpolicy.firstRun", "false"),
            ("browser.safebrowsing.update.enabled", "false"),
            ("network.captive-portal-service.enabled", "false"),
            ("network.connectivity-service.enabled", "false"),
            ("extensions.update.enabled", "false"),
            // A page worker whose channel is not open yet (the harness
            // opens it when the slot waits for a worker) tries again soon;
            // Firefox would otherwise delay its reconnects more each time.
            ("network.websocket.delay-failed-reconnects", "false"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for pref in switches::render(switches).prefs {
            prefs.push((pref, "true".into()));
        }
        let text: String = prefs
            .iter()
            .map(|(name, value)| format!("user_pref({name:?}, {value});\n"))
            .collect();
        std::fs::write(profile.join("user.js"), text)
    }
}

/// A running browser and its profile (removed when it is dropped, after
/// the browser is killed).
pub struct Browser {
    process: WorkerProcess,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Opens `url` in a fresh headless `kind` with `switches` on. Its
    /// output is not kept: browsers log freely, and the page speaks over
    /// its channel.
    pub fn open(kind: BrowserKind, url: &str, switches: &[Switch]) -> Result<Browser, String> {
        let profile = tempfile::Builder::new()
            .prefix(&format!("streamconform-{}-", kind.name()))
            .tempdir()
            .map_err(|e| format!("creating a browser profile: {e}"))?;
        kind.prepare_profile(profile.path(), switches)
            .map_err(|e| format!("writing the browser profile: {e}"))?;
        let start = write_start_page(profile.path(), url)
            .map_err(|e| format!("writing the browser's start page: {e}"))?;
        let launched = kind
            .launch(&file_url(&start), profile.path(), switches)
            .start()?;
        // Drain its output so a chatty browser never blocks on a full pipe.
        for stream in [
            Box::new(launched.stdout) as Box<dyn std::io::Read + Send>,
            Box::new(launched.stderr),
        ] {
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut { stream }, &mut std::io::sink());
            });
        }
        drop(launched.stdin);
        Ok(Browser {
            process: launched.process,
            _profile: profile,
        })
    }

    pub fn process_id(&self) -> u32 {
        self.process.id()
    }

    /// Whether the browser has exited (crashed, or killed from outside).
    pub fn has_exited(&self) -> bool {
        self.process.has_exited()
    }

    /// Kills the browser and everything it started; says how it ended.
    pub fn kill(&self) -> String {
        self.process.kill();
        self.process.end()
    }
}

/// Writes the page in `profile` that replaces itself with `url`: only the
/// page's `file://` URL goes on the command line, and the profile (mode
/// 0700, made by the harness) keeps `url`'s secrets from other users.
fn write_start_page(profile: &Path, url: &str) -> std::io::Result<PathBuf> {
    std::fs::set_permissions(profile, std::fs::Permissions::from_mode(0o700))?;
    let path = profile.join(START_PAGE);
    let target = streamconform::escape::script_json(url)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    write!(
        file,
        "<!doctype html><meta charset=\"utf-8\"><title>streamconform</title>\n\
         <script>location.replace({target});</script>\n"
    )?;
    Ok(path)
}

/// `file://` and `path`, its bytes outside the unreserved set and `/`
/// percent-encoded.
fn file_url(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut url = String::from("file://");
    for &byte in path.as_os_str().as_bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            url.push(byte as char);
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The start page is the profile's own (0600 in a 0700 directory),
    /// carries the URL as a script string that cannot close its element,
    /// and is named by a `file://` URL without the secret.
    #[test]
    fn the_start_page_keeps_the_url_in_the_profile() {
        let profile = tempfile::tempdir().unwrap();
        let url = "http://127.0.0.1:1/run-0123456789abcdef/page.html?x=</script>";
        let page = write_start_page(profile.path(), url).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(profile.path()), 0o700);
        assert_eq!(mode(&page), 0o600);
        let text = std::fs::read_to_string(&page).unwrap();
        assert!(text.contains("run-0123456789abcdef"), "{text}");
        assert_eq!(text.matches("</script>").count(), 1, "{text}");
        let on_command_line = file_url(&page);
        assert!(on_command_line.starts_with("file:///"));
        assert!(!on_command_line.contains("run-"), "{on_command_line}");
        assert_eq!(file_url(Path::new("/a b/%")), "file:///a%20b/%25");
        // A page already there is never overwritten.
        assert!(write_start_page(profile.path(), url).is_err());
    }
}
