//! The systemd notification protocol, spoken by the master when `NOTIFY_SOCKET` is set:
//! `READY=1` only once every worker accepts, `RELOADING=1` + `MONOTONIC_USEC` and then
//! `READY=1` around a reload, `STOPPING=1`, `STATUS=` lines, `WATCHDOG=1` at half of
//! `WATCHDOG_USEC`, and `MAINPID=` from a new master after a binary upgrade. Errors are
//! ignored: notification is advisory.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

pub struct Notifier {
    socket: Option<(UnixDatagram, String)>,
    watchdog: Option<Duration>,
    last_watchdog: Instant,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET` and `WATCHDOG_USEC` (honoured only when `WATCHDOG_PID` is
    /// unset or names us). Workers never notify, so the caller removes the variables
    /// from the environment afterwards.
    pub fn from_env(own_pid: u32) -> Notifier {
        let socket = std::env::var("NOTIFY_SOCKET")
            .ok()
            .filter(|p| !p.is_empty())
            .and_then(|path| Some((UnixDatagram::unbound().ok()?, path)));
        let watchdog_for_us = std::env::var("WATCHDOG_PID")
            .map(|p| p.trim().parse::<u32>().ok() == Some(own_pid))
            .unwrap_or(true);
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|&us| us > 0 && watchdog_for_us && socket.is_some())
            .map(|us| Duration::from_micros(us / 2));
        Notifier {
            socket,
            watchdog,
            last_watchdog: Instant::now(),
        }
    }

    /// The notification socket, for a re-executed master to inherit.
    pub fn socket_path(&self) -> Option<&str> {
        self.socket.as_ref().map(|(_, path)| path.as_str())
    }

    pub fn send(&self, message: &str) {
        let Some((socket, path)) = &self.socket else {
            return;
        };
        let sent = match path.strip_prefix('@') {
            Some(name) => send_abstract(socket, name, message),
            None => socket.send_to(message.as_bytes(), path).map(drop),
        };
        if let Err(e) = sent {
            tracing::debug!(error = %e, "sd_notify failed");
        }
    }

    /// Sends `WATCHDOG=1` when half the watchdog interval has passed. Called every turn
    /// of the master loop, so a stuck loop stops the pings.
    pub fn keep_alive(&mut self) {
        if let Some(every) = self.watchdog
            && self.last_watchdog.elapsed() >= every
        {
            self.send("WATCHDOG=1");
            self.last_watchdog = Instant::now();
        }
    }

    /// How long the master loop may sleep without missing a watchdog ping.
    pub fn max_sleep(&self) -> Option<Duration> {
        self.watchdog
            .map(|every| every.saturating_sub(self.last_watchdog.elapsed()))
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn send_abstract(socket: &UnixDatagram, name: &str, message: &str) -> std::io::Result<()> {
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
    socket.send_to_addr(message.as_bytes(), &addr).map(drop)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn send_abstract(_: &UnixDatagram, _: &str, _: &str) -> std::io::Result<()> {
    Err(std::io::Error::other("abstract sockets need Linux"))
}

/// `MONOTONIC_USEC` for `RELOADING=1`.
pub fn monotonic_usec() -> u64 {
    crate::clock::monotonic_ms() * 1000
}
