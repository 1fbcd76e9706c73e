//! Zero-downtime binary upgrade on USR2, the nginx/gunicorn way, with feedback.
//!
//! The old master forks and execs the binary on disk (possibly replaced) with its
//! original arguments and working directory, handing over the listening socket as fd 3
//! (`LISTEN_FDS=1`, `LISTEN_PID`, and `LIGHTRAG_LISTEN_FD`), and a pipe on which the new
//! master reports `ready` once all its workers accept. The new master writes
//! `<pidfile>.2`; when the old master exits it renames that to the plain name. Both
//! generations accept on the same socket meanwhile, so no connection is refused.

use std::ffi::OsString;
use std::io::Write;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::fcntl::OFlag;
use nix::unistd::Pid;

use crate::hooks;

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
/// with; `pre_exec` runs in the forked child right before `exec`.
pub fn reexec(
    exe: &Path,
    args: &[OsString],
    cwd: &Path,
    listener: &TcpListener,
    notify_socket: Option<&str>,
    settings: &lightrag_config::Settings,
) -> std::io::Result<Pending> {
    let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    nix::fcntl::fcntl(&read, nix::fcntl::FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
    let listen_fd = listener.as_raw_fd();
    let report_fd = write.as_raw_fd();
    let master_pid = std::process::id();
    let settings = settings.clone();
    let mut cmd = Command::new(exe);
    cmd.args(args.iter().skip(1))
        .current_dir(cwd)
        .env(UPGRADE_FROM, master_pid.to_string())
        .env(NOTIFY_FD, report_fd.to_string())
        .env(LISTEN_FD, "3")
        .env("LISTEN_FDS", "1");
    if let Some(path) = notify_socket {
        cmd.env("NOTIFY_SOCKET", path);
    }
    // SAFETY: the master is single-threaded, so the forked child may run ordinary code
    // before exec: the pre_exec hook, LISTEN_PID (only known in the child), and fd
    // plumbing (dup2 onto 3, inheritable report pipe).
    unsafe {
        cmd.pre_exec(move || {
            let pid = std::process::id() as i32;
            hooks::run_logged(
                &settings,
                "pre_exec",
                hooks::Event {
                    master_pid: master_pid as i32,
                    ..Default::default()
                },
            );
            // SAFETY: setenv in the single-threaded child just before exec.
            std::env::set_var("LISTEN_PID", pid.to_string());
            let moved = if listen_fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(listen_fd, 3)
            };
            if moved < 0 || libc::fcntl(report_fd, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    drop(write);
    Ok(Pending {
        child: Pid::from_raw(child.id() as i32),
        report: Some(read),
        ready: false,
    })
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
