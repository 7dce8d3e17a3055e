//! Starting worker processes so that none outlives the harness.
//!
//! Each worker runs in its own process group (a terminal's Ctrl-C reaches
//! the harness only, which decides what happens to its workers) and is
//! killed with its whole group. On Linux each is also told to die with the
//! harness (`PR_SET_PDEATHSIG`), so a harness killed with SIGKILL leaves no
//! orphans either. That signal fires when the *thread* that started the
//! child ends, so every worker is started from one launcher thread that
//! lives as long as the process.

use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Mutex, OnceLock};

/// How to start a worker: the command line and extra environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launch {
    pub command: Vec<String>,
    pub env: Vec<(String, String)>,
}

/// A started worker process and its pipes.
pub struct Launched {
    pub process: WorkerProcess,
    pub stdin: ChildStdin,
    pub stdout: ChildStdout,
    pub stderr: ChildStderr,
}

/// A worker process, killed with its process group when dropped.
pub struct WorkerProcess {
    child: Mutex<Child>,
    /// Set once the child is reaped: its pid may then belong to someone
    /// else, so its group is never signalled again.
    status: Mutex<Option<ExitStatus>>,
}

impl Launch {
    pub fn program(&self) -> &str {
        self.command.first().map_or("", String::as_str)
    }

    /// Starts the worker (on the launcher thread; see the module docs).
    pub fn start(&self) -> Result<Launched, String> {
        type Job = (Launch, mpsc::Sender<io::Result<Child>>);
        static LAUNCHER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
        let launcher = LAUNCHER.get_or_init(|| {
            let (tx, rx) = mpsc::channel::<Job>();
            std::thread::Builder::new()
                .name("streamconform-launcher".into())
                .spawn(move || {
                    for (launch, reply) in rx {
                        let _ = reply.send(launch.spawn_here());
                    }
                })
                .expect("the launcher thread starts");
            Mutex::new(tx)
        });
        let (reply, started) = mpsc::channel();
        launcher
            .lock()
            .unwrap()
            .send((self.clone(), reply))
            .map_err(|_| "the launcher thread is gone".to_string())?;
        let mut child = started
            .recv()
            .map_err(|_| "the launcher thread is gone".to_string())?
            .map_err(|e| format!("cannot start {}: {e}", self.program()))?;
        Ok(Launched {
            stdin: child.stdin.take().expect("piped stdin"),
            stdout: child.stdout.take().expect("piped stdout"),
            stderr: child.stderr.take().expect("piped stderr"),
            process: WorkerProcess {
                child: Mutex::new(child),
                status: Mutex::new(None),
            },
        })
    }

    fn spawn_here(&self) -> io::Result<Child> {
        let (program, args) = self
            .command
            .split_first()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty command"))?;
        let mut command = Command::new(program);
        command
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        #[cfg(target_os = "linux")]
        {
            let harness = std::process::id() as libc::pid_t;
            // SAFETY: runs in the child between fork and exec and calls
            // only async-signal-safe functions.
            unsafe {
                command.pre_exec(move || {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                    // The harness died before the line above took effect.
                    if libc::getppid() != harness {
                        libc::_exit(1);
                    }
                    Ok(())
                });
            }
        }
        command.spawn()
    }
}

impl WorkerProcess {
    /// Kills the worker and everything it started (its process group).
    pub fn kill(&self) {
        let child = self.child.lock().unwrap();
        if self.status.lock().unwrap().is_none() {
            // The group id is the child's pid, which stays ours until the
            // child is reaped (it is a zombie until then at worst).
            // SAFETY: killpg has no memory-safety preconditions.
            unsafe {
                libc::killpg(child.id() as libc::pid_t, libc::SIGKILL);
            }
        }
    }

    /// Ends the worker if it has not ended by itself within a moment
    /// (with its group, before it is reaped), and says how it ended:
    /// ` (exit status N)` or ` (killed by signal N)`.
    pub fn end(&self) -> String {
        let pid = self.id() as libc::pid_t;
        if self.status.lock().unwrap().is_none() {
            // Its output closing comes a moment before its exit: wait for
            // that, so an exit status is not reported as our kill.
            for _ in 0..40 {
                if exited_unreaped(pid) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            self.kill();
            let mut child = self.child.lock().unwrap();
            let mut status = self.status.lock().unwrap();
            if status.is_none() {
                *status = child.wait().ok();
            }
        }
        match self.status.lock().unwrap().as_ref() {
            Some(s) => match (s.code(), s.signal()) {
                (Some(code), _) => format!(" (exit status {code})"),
                (None, Some(signal)) => format!(" (killed by signal {signal})"),
                _ => String::new(),
            },
            None => String::new(),
        }
    }

    pub fn id(&self) -> u32 {
        self.child.lock().unwrap().id()
    }

    /// What the worker's process group has used of the CPU so far, to
    /// tell a worker that stopped answering because it is busy (a long
    /// synchronous compile) from one that is stuck for good (a deadlock:
    /// no thread can run, so its CPU time stands still). The whole group,
    /// not only the worker: a worker may be a wrapper whose child does the
    /// work. `None` once the worker has exited, or where `/proc` cannot
    /// tell.
    pub fn cpu_use(&self) -> Option<CpuUse> {
        if self.has_exited() {
            return None;
        }
        group_cpu_use(self.id())
    }

    /// Whether the worker has exited (it is not reaped, so it can still
    /// be asked how with [`WorkerProcess::end`]).
    pub fn has_exited(&self) -> bool {
        self.status.lock().unwrap().is_some() || exited_unreaped(self.id() as libc::pid_t)
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.kill();
        let mut child = self.child.lock().unwrap();
        if self.status.lock().unwrap().is_none() {
            let _ = child.wait();
        }
    }
}

/// CPU use of a process group, from `/proc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuUse {
    /// User and system time of its processes (all their threads), in
    /// clock ticks: only compared, never converted.
    pub ticks: u64,
    /// Whether any of their threads is running, waiting to run, or in an
    /// uninterruptible wait (paging in, the kernel throttling memory): a
    /// starved worker is not a stuck one.
    pub runnable: bool,
}

/// The CPU use of every process in group `group` (read from `/proc`; a
/// process that ends while being read is skipped).
#[cfg(target_os = "linux")]
fn group_cpu_use(group: u32) -> Option<CpuUse> {
    // The fields after the command name, which is in parentheses and may
    // hold anything, so the last `)` ends it (proc(5)): state is field 3,
    // the process group 5, utime 14 and stime 15.
    fn fields(stat: &str) -> Option<Vec<&str>> {
        let (_, rest) = stat.rsplit_once(')')?;
        Some(rest.split_whitespace().collect())
    }
    let mut total = CpuUse {
        ticks: 0,
        runnable: false,
    };
    let mut members = 0;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(f) = fields(&stat) else { continue };
        if f.get(2).and_then(|g| g.parse::<u32>().ok()) != Some(group) {
            continue;
        }
        let (Some(utime), Some(stime)) = (
            f.get(11).and_then(|t| t.parse::<u64>().ok()),
            f.get(12).and_then(|t| t.parse::<u64>().ok()),
        ) else {
            continue;
        };
        members += 1;
        total.ticks += utime + stime;
        // A process's own state is its main thread's: look at each thread.
        let threads = std::fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flatten();
        total.runnable |= threads.flatten().any(|thread| {
            std::fs::read_to_string(thread.path().join("stat"))
                .ok()
                .and_then(|stat| {
                    fields(&stat).and_then(|f| f.first().map(|s| matches!(*s, "R" | "D")))
                })
                .unwrap_or(false)
        });
    }
    (members > 0).then_some(total)
}

#[cfg(not(target_os = "linux"))]
fn group_cpu_use(_group: u32) -> Option<CpuUse> {
    None
}

/// Whether `pid` has exited, without reaping it (so its pid, and with it
/// its process group id, stays ours to signal).
fn exited_unreaped(pid: libc::pid_t) -> bool {
    // SAFETY: `info` is plain data that waitid fills in.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
        libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, flags) == 0 && info.si_pid() != 0
    }
}
