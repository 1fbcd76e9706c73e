//! The listening socket: adopted from systemd socket activation when `LISTEN_PID` names
//! us, otherwise bound here with SO_REUSEADDR and the configured backlog, retrying a busy
//! address five times one second apart (gunicorn's policy).

use std::net::{TcpListener, ToSocketAddrs};
use std::os::fd::{AsRawFd, FromRawFd};
use std::time::Duration;

/// First fd systemd passes (`SD_LISTEN_FDS_START`).
const SD_LISTEN_FDS_START: i32 = 3;
const BIND_ATTEMPTS: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("Can't connect to {address}: {source}")]
    Bind {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid LISTEN_FDS {0:?}: expected a positive number")]
    ListenFds(String),
    #[error("the inherited fd is not a listening socket")]
    NotListening,
}

/// Takes fd 3 when systemd passed sockets to this very process, and removes the
/// `LISTEN_*` variables so workers and children do not see them.
///
/// `getenv` values are read from the master's own environment; call before any thread
/// exists (the master is single-threaded).
///
/// Without systemd's variables, `LIGHTRAG_LISTEN_FD=N` names an inherited listening fd
/// (what an upgrading master passes too, besides `LISTEN_FDS`).
pub fn adopt_inherited(own_pid: u32) -> Result<Option<TcpListener>, ListenError> {
    let pid = std::env::var("LISTEN_PID").ok();
    let fds = std::env::var("LISTEN_FDS").ok();
    let named = std::env::var(crate::upgrade::LISTEN_FD).ok();
    // SAFETY: the master is single-threaded here; nothing reads the environment concurrently.
    unsafe {
        std::env::remove_var("LISTEN_PID");
        std::env::remove_var("LISTEN_FDS");
        std::env::remove_var("LISTEN_FDNAMES");
        std::env::remove_var(crate::upgrade::LISTEN_FD);
    }
    let (Some(pid), Some(fds)) = (pid, fds) else {
        return adopt_named(named);
    };
    if pid.trim().parse::<u32>().ok() != Some(own_pid) {
        tracing::info!(listen_pid = %pid, "LISTEN_PID is not ours; ignoring systemd sockets");
        return adopt_named(named);
    }
    let count: i32 = fds
        .trim()
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ListenError::ListenFds(fds.clone()))?;
    if count > 1 {
        tracing::warn!(
            count,
            "systemd passed several sockets; serving the first (fd 3)"
        );
    }
    if !is_listening(SD_LISTEN_FDS_START) {
        return Err(ListenError::NotListening);
    }
    // SAFETY: systemd's protocol hands us ownership of fds 3..3+LISTEN_FDS.
    Ok(Some(unsafe {
        TcpListener::from_raw_fd(SD_LISTEN_FDS_START)
    }))
}

fn adopt_named(named: Option<String>) -> Result<Option<TcpListener>, ListenError> {
    let Some(named) = named else {
        return Ok(None);
    };
    let fd: i32 = named
        .trim()
        .parse()
        .map_err(|_| ListenError::ListenFds(named.clone()))?;
    if !is_listening(fd) {
        return Err(ListenError::NotListening);
    }
    // SAFETY: whoever set LIGHTRAG_LISTEN_FD handed this fd over to us.
    Ok(Some(unsafe { TcpListener::from_raw_fd(fd) }))
}

/// True when `fd` is a socket in the listening state (SO_ACCEPTCONN).
fn is_listening(fd: i32) -> bool {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `value`.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ACCEPTCONN,
            (&raw mut value).cast(),
            &mut len,
        )
    };
    rc == 0 && value != 0
}

/// Binds `address` with the given backlog, retrying while the address is busy.
pub fn bind(address: &str, backlog: i32) -> Result<TcpListener, ListenError> {
    let mut attempt = 1;
    loop {
        match bind_once(address, backlog) {
            Ok(listener) => return Ok(listener),
            Err(source) if attempt >= BIND_ATTEMPTS => {
                return Err(ListenError::Bind {
                    address: address.to_owned(),
                    source,
                });
            }
            Err(e) => {
                tracing::error!(%address, attempt, error = %e, "connection in use, retrying in 1 second");
                attempt += 1;
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
}

fn bind_once(address: &str, backlog: i32) -> std::io::Result<TcpListener> {
    let addr = address.to_socket_addrs()?.next().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "address resolves to nothing",
        )
    })?;
    // std sets SO_REUSEADDR on Unix listeners; listen(2) again to apply our backlog.
    let listener = TcpListener::bind(addr)?;
    // SAFETY: plain syscall on an fd we own.
    if unsafe { libc::listen(listener.as_raw_fd(), backlog) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(listener)
}
