//! The master's signal queue: a self-pipe that receives one byte per delivered signal.
//!
//! The handler does nothing but `write(2)` the signal number (async-signal-safe, no
//! allocation, no logging). Unlike flag-based schemes, every delivery is a byte, so a
//! burst of 10 TTIN is 10 bytes and adds exactly 10 workers (as long as the kernel
//! delivered 10: standard signals sent faster than the master runs can merge).

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use nix::fcntl::OFlag;
use nix::sys::signal::Signal;
use signal_hook::SigId;

/// Signals the master handles, gunicorn's table.
pub const MASTER_SIGNALS: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGTTIN,
    Signal::SIGTTOU,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGCHLD,
];

pub struct SignalQueue {
    read: OwnedFd,
    write: OwnedFd,
    ids: Vec<SigId>,
}

impl SignalQueue {
    /// Installs the handlers. Call once, in the single-threaded master.
    pub fn install() -> io::Result<SignalQueue> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)?;
        let fd = write.as_raw_fd();
        let mut ids = Vec::with_capacity(MASTER_SIGNALS.len());
        for &signal in MASTER_SIGNALS {
            let byte = signal as u8;
            // SAFETY: the action only calls write(2) on a non-blocking pipe, which is
            // async-signal-safe; a full pipe drops the byte rather than blocking.
            let id = unsafe {
                signal_hook::low_level::register(signal as i32, move || {
                    libc::write(fd, (&raw const byte).cast(), 1);
                })
            }?;
            ids.push(id);
        }
        Ok(SignalQueue { read, write, ids })
    }

    /// The fd to poll for readability.
    pub fn fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    /// All signals delivered since the last call, in order.
    pub fn drain(&self) -> Vec<Signal> {
        let mut buf = [0u8; 256];
        let mut out = Vec::new();
        loop {
            match nix::unistd::read(&self.read, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend(
                    buf[..n]
                        .iter()
                        .filter_map(|&b| Signal::try_from(b as i32).ok()),
                ),
            }
        }
        out
    }

    /// In a freshly forked worker: remove the master's actions and close the pipe, so
    /// the worker's runtime can install its own handlers. Signals the worker does not
    /// handle itself stay ignored (the master's signals mean nothing to a worker).
    ///
    /// Takes `&self` because the child never returns to the master's code that owns the
    /// queue: the fds are closed here and the `OwnedFd`s are simply never dropped.
    pub fn forget_in_child(&self) {
        for id in &self.ids {
            signal_hook::low_level::unregister(*id);
        }
        // SAFETY: closing this process's copies; the master keeps its own.
        unsafe {
            libc::close(self.read.as_raw_fd());
            libc::close(self.write.as_raw_fd());
        }
    }
}

/// Blocks every signal for the current thread until the guard drops; used around
/// `fork` so no handler runs in the child before it has reset its dispositions.
pub struct BlockedSignals {
    previous: nix::sys::signal::SigSet,
}

impl BlockedSignals {
    pub fn block_all() -> io::Result<BlockedSignals> {
        let mut previous = nix::sys::signal::SigSet::empty();
        nix::sys::signal::pthread_sigmask(
            nix::sys::signal::SigmaskHow::SIG_SETMASK,
            Some(&nix::sys::signal::SigSet::all()),
            Some(&mut previous),
        )?;
        Ok(BlockedSignals { previous })
    }
}

/// Signals a worker handles itself. Between fork and the moment its runtime has
/// installed handlers for them they stay blocked (pending, not lost): a TERM sent to a
/// worker still booting is acted on once it can be.
pub const WORKER_SIGNALS: &[Signal] = &[
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGABRT,
    Signal::SIGUSR1,
];

fn worker_signal_set() -> nix::sys::signal::SigSet {
    let mut set = nix::sys::signal::SigSet::empty();
    for &signal in WORKER_SIGNALS {
        set.add(signal);
    }
    set
}

impl BlockedSignals {
    /// In a forked worker: leave only [`WORKER_SIGNALS`] blocked, in one step so that
    /// none is delivered to the master's (now forgotten) handlers in between.
    pub fn keep_worker_signals_blocked(self) {
        let _ = nix::sys::signal::pthread_sigmask(
            nix::sys::signal::SigmaskHow::SIG_SETMASK,
            Some(&worker_signal_set()),
            None,
        );
        std::mem::forget(self);
    }
}

/// In a worker, once its own handlers are installed: deliver what arrived meanwhile.
pub fn unblock_worker_signals() {
    let _ = nix::sys::signal::pthread_sigmask(
        nix::sys::signal::SigmaskHow::SIG_UNBLOCK,
        Some(&worker_signal_set()),
        None,
    );
}

impl Drop for BlockedSignals {
    fn drop(&mut self) {
        let _ = nix::sys::signal::pthread_sigmask(
            nix::sys::signal::SigmaskHow::SIG_SETMASK,
            Some(&self.previous),
            None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_delivery_is_queued() {
        let queue = SignalQueue::install().unwrap();
        for _ in 0..10 {
            nix::sys::signal::raise(Signal::SIGTTIN).unwrap();
        }
        nix::sys::signal::raise(Signal::SIGUSR1).unwrap();
        let got = queue.drain();
        assert_eq!(got.iter().filter(|s| **s == Signal::SIGTTIN).count(), 10);
        assert_eq!(got.last(), Some(&Signal::SIGUSR1));
    }
}
