//! Zero-downtime binary upgrade on USR2, the nginx/gunicorn way, with feedback.
//!
//! The old master forks and execs the binary on disk (possibly replaced) with its
//! original arguments and working directory, handing over the listening socket as fd 3
//! (`LISTEN_FDS=1`, `LISTEN_PID`, and `LIGHTRAG_LISTEN_FD`), and a pipe on which the new
//! master reports `ready` once all its workers accept. The new master writes
//! `<pidfile>.2`; when the old master exits it renames that to the plain name. Both
//! generations accept on the same socket meanwhile, so no connection is refused.
//!
//! [`Upgrades`] is what the master's loop holds: the new master it started (USR2, its
//! report, its exit, WINCH once it is ready) or, in a new master, the old one it waits
//! to outlive before taking over the plain pidfile.

use std::ffi::{CString, OsString};
use std::io::Write;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use lightrag_config::Hook;
use nix::fcntl::OFlag;
use nix::sys::signal::Signal;
use nix::unistd::{ForkResult, Pid};

use crate::hooks;
use crate::pidfile::Pidfile;
use crate::sd_notify::Notifier;
use crate::signals::{BlockedSignals, SignalQueue};

const UPGRADE_FROM: &str = "LIGHTRAG_UPGRADE_FROM";
const NOTIFY_FD: &str = "LIGHTRAG_UPGRADE_NOTIFY_FD";
pub const LISTEN_FD: &str = "LIGHTRAG_LISTEN_FD";
const READY: &[u8] = b"ready\n";

/// What the old master tracks while a new one boots.
pub struct Pending {
    pub child: Pid,
    report: Option<OwnedFd>,
    pub ready: bool,
}

/// What the new master's report said so far.
#[derive(Debug, PartialEq, Eq)]
pub enum Report {
    Nothing,
    Ready,
    /// The pipe closed without `ready`: the new master is gone or gave up.
    Failed,
}

impl Pending {
    /// The fd to poll while the report is outstanding.
    pub fn fd(&self) -> Option<RawFd> {
        self.report.as_ref().map(|fd| fd.as_raw_fd())
    }

    /// Reads the new master's report without blocking.
    pub fn poll(&mut self) -> Report {
        let Some(fd) = &self.report else {
            return Report::Nothing;
        };
        let mut buf = [0u8; 16];
        match nix::unistd::read(fd, &mut buf) {
            Ok(n) if n > 0 && buf[..n].starts_with(b"ready") => {
                self.ready = true;
                self.report = None;
                Report::Ready
            }
            Ok(_) => {
                self.report = None;
                Report::Failed
            }
            Err(_) => Report::Nothing,
        }
    }
}

/// Old master: start the new binary. `exe` and `args` are what this master was started
/// with; the pre_exec hook runs in the forked child right before `exec`.
///
/// A hand-made fork + execve rather than `Command`: `LISTEN_PID` must be the child's own
/// pid, known only after the fork, and `Command` fixes the environment before it.
pub fn reexec(
    exe: &Path,
    args: &[OsString],
    cwd: &Path,
    listener: &TcpListener,
    notify_socket: Option<&str>,
    settings: &lightrag_config::Settings,
    signals: &SignalQueue,
) -> std::io::Result<Pending> {
    let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    nix::fcntl::fcntl(&read, nix::fcntl::FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
    let cstring = |s: &[u8]| CString::new(s).map_err(std::io::Error::other);
    let program = cstring(exe.as_os_str().as_bytes())?;
    let argv = args
        .iter()
        .map(|a| cstring(a.as_bytes()))
        .collect::<Result<Vec<_>, _>>()?;
    let master_pid = std::process::id();
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(k, _)| {
            ![
                UPGRADE_FROM,
                NOTIFY_FD,
                LISTEN_FD,
                "LISTEN_FDS",
                "LISTEN_PID",
                "NOTIFY_SOCKET",
            ]
            .iter()
            .any(|v| k == v)
        })
        .collect();
    env.push((UPGRADE_FROM.into(), master_pid.to_string().into()));
    env.push((NOTIFY_FD.into(), write.as_raw_fd().to_string().into()));
    env.push((LISTEN_FD.into(), "3".into()));
    env.push(("LISTEN_FDS".into(), "1".into()));
    if let Some(path) = notify_socket {
        env.push(("NOTIFY_SOCKET".into(), path.into()));
    }
    let listen_fd = listener.as_raw_fd();
    let report_fd = write.as_raw_fd();
    let blocked = BlockedSignals::block_all()?;
    // SAFETY: the master is single-threaded, so the child may run ordinary code.
    match unsafe { nix::unistd::fork() }? {
        ForkResult::Parent { child } => {
            drop(blocked);
            drop(write);
            Ok(Pending {
                child,
                report: Some(read),
                ready: false,
            })
        }
        ForkResult::Child => {
            signals.forget_in_child();
            hooks::run_logged(
                settings,
                Hook::PreExec,
                hooks::Event {
                    master_pid: master_pid as i32,
                    ..Default::default()
                },
            );
            env.push(("LISTEN_PID".into(), std::process::id().to_string().into()));
            let envp = env
                .iter()
                .filter_map(|(k, v)| {
                    let mut pair = k.as_bytes().to_vec();
                    pair.push(b'=');
                    pair.extend_from_slice(v.as_bytes());
                    CString::new(pair).ok()
                })
                .collect::<Vec<_>>();
            // SAFETY: fd plumbing in the child before exec: the listener onto fd 3 and
            // the report pipe made inheritable.
            let plumbed = unsafe {
                let moved = if listen_fd == 3 {
                    libc::fcntl(3, libc::F_SETFD, 0)
                } else {
                    libc::dup2(listen_fd, 3)
                };
                moved >= 0 && libc::fcntl(report_fd, libc::F_SETFD, 0) >= 0
            };
            if plumbed && std::env::set_current_dir(cwd).is_ok() {
                drop(blocked);
                let error = nix::unistd::execve(&program, &argv, &envp).unwrap_err();
                eprintln!("upgrade: cannot exec {}: {error}", exe.display());
            }
            // SAFETY: leave the child without running the master's exit code.
            unsafe { libc::_exit(127) }
        }
    }
}

/// New master: set when this process was started by a USR2 upgrade.
pub struct Upgraded {
    pub old_master: Pid,
    report: Option<std::fs::File>,
}

impl Upgraded {
    /// Reads (and removes) the upgrade variables; call once at start, single-threaded.
    pub fn from_env() -> Option<Upgraded> {
        let old = std::env::var(UPGRADE_FROM).ok()?.parse::<i32>().ok()?;
        let report = std::env::var(NOTIFY_FD)
            .ok()
            .and_then(|fd| fd.parse::<RawFd>().ok())
            // SAFETY: the old master handed us this fd for our exclusive use.
            .map(|fd| unsafe { std::fs::File::from_raw_fd(fd) });
        // SAFETY: single-threaded start-up.
        unsafe {
            std::env::remove_var(UPGRADE_FROM);
            std::env::remove_var(NOTIFY_FD);
        }
        Some(Upgraded {
            old_master: Pid::from_raw(old),
            report,
        })
    }

    /// Tells the old master that every worker of ours accepts.
    pub fn report_ready(&mut self) {
        if let Some(mut report) = self.report.take() {
            let _ = report.write_all(READY);
        }
    }

    /// The old master exited: we are the master now.
    pub fn old_master_gone(&self) -> bool {
        nix::unistd::getppid() != self.old_master
    }
}

/// `<pidfile>.2`, the new master's pidfile while the old one runs.
pub fn pending_pidfile(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".2");
    PathBuf::from(name)
}

/// Both sides of an upgrade, as the master's loop sees them.
pub(crate) struct Upgrades {
    /// The binary as it was at start: USR2 execs whatever is at this path then.
    exe: PathBuf,
    /// Set while this master is the new one of a USR2 upgrade, until the old one exits.
    upgraded: Option<Upgraded>,
    /// Set while a new master started by our USR2 runs.
    pending: Option<Pending>,
}

impl Upgrades {
    pub fn new(exe: PathBuf, upgraded: Option<Upgraded>) -> Upgrades {
        Upgrades {
            exe,
            upgraded,
            pending: None,
        }
    }

    /// The new master's report pipe, while its report is outstanding.
    pub fn fd(&self) -> Option<RawFd> {
        self.pending.as_ref().and_then(Pending::fd)
    }

    /// A new master started by our USR2 said it is ready (WINCH may stop our workers).
    pub fn new_master_ready(&self) -> bool {
        self.pending.as_ref().is_some_and(|p| p.ready)
    }

    /// USR2: start the binary on disk as a new master on the same socket (none once
    /// stopping).
    pub fn start(
        &mut self,
        args: &[OsString],
        cwd: &Path,
        listener: Option<&TcpListener>,
        notifier: &Notifier,
        settings: &lightrag_config::Settings,
        signals: &SignalQueue,
    ) {
        if self.upgraded.is_some() {
            tracing::warn!("USR2 ignored: this master is itself an upgrade not yet promoted");
            return;
        }
        if let Some(pending) = &self.pending {
            tracing::warn!(
                "USR2 ignored: an upgrade is already pending (new master pid:{})",
                pending.child.as_raw()
            );
            return;
        }
        let Some(listener) = listener else {
            return;
        };
        let exe = &self.exe;
        match reexec(
            exe,
            args,
            cwd,
            listener,
            notifier.socket_path(),
            settings,
            signals,
        ) {
            Ok(pending) => {
                tracing::info!(
                    "upgrade: started {} as new master pid:{}",
                    exe.display(),
                    pending.child.as_raw()
                );
                self.pending = Some(pending);
            }
            Err(e) => tracing::error!("upgrade failed: cannot start {}: {e}", exe.display()),
        }
    }

    /// Each turn. Old master: read the new master's report. New master: take over the
    /// plain pidfile (`plain`) once the old master has exited.
    pub fn follow(&mut self, pidfile: Option<&mut Pidfile>, plain: Option<&Path>) {
        if let Some(pending) = &mut self.pending {
            let child = pending.child.as_raw();
            match pending.poll() {
                Report::Ready => tracing::info!(
                    "upgrade: new master (pid:{child}) is ready; send WINCH to stop the old workers, then TERM to finish"
                ),
                Report::Failed => tracing::error!(
                    "upgrade failed: the new master (pid:{child}) did not come up; still serving"
                ),
                Report::Nothing => {}
            }
        }
        if self.upgraded.as_ref().is_some_and(|u| u.old_master_gone()) {
            self.upgraded = None;
            if let (Some(pidfile), Some(plain)) = (pidfile, plain) {
                pidfile.rename_to(plain);
            }
            tracing::info!("upgrade complete: the old master is gone; this master is promoted");
        }
    }

    /// This master's first generation is up: an upgraded master tells the old one, and
    /// systemd that it is the main process now.
    pub fn report_ready(&mut self, notifier: &Notifier) {
        if let Some(upgraded) = &mut self.upgraded {
            upgraded.report_ready();
            notifier.send(&format!("MAINPID={}", std::process::id()));
        }
    }

    /// A child was reaped; true if it was the new master.
    pub fn reaped(&mut self, pid: Pid, code: Option<i32>, signal: Option<Signal>) -> bool {
        if self.pending.as_ref().is_none_or(|p| p.child != pid) {
            return false;
        }
        let pid = pid.as_raw();
        let how = match (code, signal) {
            (Some(code), _) => format!("exit code {code}"),
            (_, Some(signal)) => signal.as_str().to_owned(),
            _ => "unknown".to_owned(),
        };
        if self.pending.take().is_some_and(|p| p.ready) {
            tracing::warn!("the new master (pid:{pid}) exited ({how})");
        } else {
            tracing::error!(
                "upgrade failed: the new master (pid:{pid}) exited before it was ready ({how}); still serving"
            );
        }
        true
    }
}
