//! Forking one worker. Everything between `fork` and the worker's entry point happens
//! here, in a fixed order: forget the master's signal handlers and fds, point stdout and
//! stderr at the log pipe, arrange to die with the master, unblock signals, drop
//! privileges, then hand over to the worker crate. The child never returns.

use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use lightrag_config::{Hook, Settings};
use nix::sys::signal::Signal;
use nix::unistd::{ForkResult, Pid, fork};

use crate::arena::{Arena, WorkerSlot};
use crate::log_pipe::LinePipe;
use crate::privileges::Credentials;
use crate::signals::{BlockedSignals, SignalQueue};
use crate::{clock, hooks, logging};

/// Exit code of a worker that failed before serving (gunicorn's `WORKER_BOOT_ERROR`).
pub const WORKER_BOOT_ERROR: i32 = 3;
/// Exit code of a worker whose application failed to load (gunicorn's `APP_LOAD_ERROR`).
pub const APP_LOAD_ERROR: i32 = 4;

/// What a worker process starts with.
pub struct WorkerContext {
    /// Index of the worker's slot in the arena; stable for the worker's life.
    pub id: usize,
    /// Reload generation the worker belongs to.
    pub generation: u64,
    pub slot: &'static WorkerSlot,
    pub arena: Arena,
    /// The inherited listening socket (the very fd the master bound or adopted).
    pub listener: TcpListener,
    pub settings: Settings,
    pub master_pid: Pid,
    /// Requests after which the worker asks to be replaced (jitter applied).
    pub max_requests: Option<u64>,
}

/// The worker crate's entry point: runs the worker, returns its exit code.
pub type WorkerMain = fn(WorkerContext) -> i32;

/// The parts of the master a child must shed.
pub(crate) struct ChildHygiene<'a> {
    pub signals: &'a SignalQueue,
    /// Master-only fds (other workers' log pipes).
    pub close: Vec<RawFd>,
    pub credentials: Option<Credentials>,
}

pub(crate) struct Spawned {
    pub pid: Pid,
    pub pipe: LinePipe,
}

/// Forks a worker into `slot_index`. Returns in the master only.
#[allow(clippy::too_many_arguments)]
pub(crate) fn spawn(
    main: WorkerMain,
    arena: Arena,
    slot_index: usize,
    generation: u64,
    listener: &TcpListener,
    settings: &Settings,
    max_requests: Option<u64>,
    hygiene: ChildHygiene<'_>,
) -> std::io::Result<Spawned> {
    let (pipe, write_end) = LinePipe::pair()?;
    let slot = arena.slot(slot_index);
    arena.note_slot_used(slot_index);
    // Claimed before the fork, so the child's Ready can never be overwritten by Booting.
    slot.assign(0, generation, clock::monotonic_ms());
    let master_pid = nix::unistd::getpid();
    let blocked = BlockedSignals::block_all()?;
    // SAFETY: the master is single-threaded, so the child may run arbitrary code.
    match unsafe { fork() } {
        Err(e) => {
            slot.release();
            Err(e.into())
        }
        Ok(ForkResult::Parent { child }) => {
            drop(blocked);
            slot.set_pid(child.as_raw());
            Ok(Spawned { pid: child, pipe })
        }
        Ok(ForkResult::Child) => {
            let listener_fd = listener.as_raw_fd();
            let settings = settings.clone();
            become_child(&hygiene, &pipe, write_end, master_pid);
            // The worker unblocks these once its runtime handles them
            // (`signals::unblock_worker_signals`).
            blocked.keep_worker_signals_blocked();
            // post_fork: logging is set up (become_child); privileges are not dropped yet.
            hooks::run_logged(
                &settings,
                Hook::PostFork,
                hooks::Event {
                    master_pid: master_pid.as_raw(),
                    worker: Some((std::process::id() as i32, slot_index)),
                    ..Default::default()
                },
            );
            if let Some(credentials) = hygiene.credentials
                && let Err(e) = credentials.apply()
            {
                tracing::error!(error = %e, "worker cannot drop privileges");
                std::process::exit(WORKER_BOOT_ERROR);
            }
            let context = WorkerContext {
                id: slot_index,
                generation,
                slot,
                arena,
                // SAFETY: the child takes over its inherited copy of the listening fd;
                // the master's object owning the same number is never dropped here.
                listener: unsafe { TcpListener::from_raw_fd(listener_fd) },
                settings,
                master_pid,
                max_requests,
            };
            let code = main(context);
            // Lines the worker held back must reach the master before it goes.
            crate::logging::flush_worker();
            std::process::exit(code);
        }
    }
}

fn become_child(hygiene: &ChildHygiene<'_>, pipe: &LinePipe, log: OwnedFd, master: Pid) {
    hygiene.signals.forget_in_child();
    // SAFETY: closing and duplicating fds this process owns; none is used afterwards
    // through another handle.
    unsafe {
        for &fd in &hygiene.close {
            libc::close(fd);
        }
        libc::close(pipe.fd());
        libc::dup2(log.as_raw_fd(), libc::STDOUT_FILENO);
        libc::dup2(log.as_raw_fd(), libc::STDERR_FILENO);
    }
    drop(log);
    logging::become_worker();
    die_with_master(master);
}

/// A worker must not outlive its master: SIGINT (quick exit) on parent death, and a
/// parent check for the window before the request took effect.
fn die_with_master(master: Pid) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGINT);
    if nix::unistd::getppid() != master {
        std::process::exit(0);
    }
}
