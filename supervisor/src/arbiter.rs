//! The master's loop. Single-threaded and tokio-free (a runtime in the master would
//! make every later fork unsafe). Signal handlers only queue bytes; each turn of
//! [`Arbiter::run`] forwards worker log lines, dispatches queued signals, reaps
//! children, reads the workers' slots and carries out what the [`Fleet`] decides:
//! forks, signals, hooks, sd_notify. The decisions themselves (respawn and back-off,
//! scaling, recycling, the watchdog, the reload switch) are in [`crate::fleet`] and
//! [`crate::reload`]; binary upgrades in [`crate::upgrade`].

use std::ffi::OsString;
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use lightrag_config::{Hook, Settings};
use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::arena::{Arena, MAX_WORKERS, SlotState, WorkerSlot};
use crate::fleet::{Fleet, Observed, Order, Outcome};
use crate::hooks;
use crate::log_pipe::LinePipe;
use crate::pidfile::Pidfile;
use crate::privileges::Credentials;
use crate::reload::{self, Progress, Rollback};
use crate::sd_notify::{self, Notifier};
use crate::signals::SignalQueue;
use crate::spawn::{self, APP_LOAD_ERROR, ChildHygiene, WorkerMain};
use crate::upgrade::{Upgraded, Upgrades};
use crate::{clock, logging};

/// Longest the master sleeps between turns when nothing happens.
const IDLE_TICK: Duration = Duration::from_secs(1);
/// Turn length while something is converging (boot, reload, stop).
const BUSY_TICK: Duration = Duration::from_millis(20);

/// Everything the master was started with.
pub struct Startup {
    pub exe: PathBuf,
    pub upgraded: Option<Upgraded>,
    pub notifier: Notifier,
    pub args: Vec<OsString>,
    pub cwd: PathBuf,
    pub settings: Settings,
    pub credentials: Option<Credentials>,
    pub listener: TcpListener,
    pub arena: Arena,
    pub signals: SignalQueue,
    pub pidfile: Option<Pidfile>,
    pub worker_main: WorkerMain,
}

/// A forked worker as the loop holds it: its arena slot and its log pipe.
struct Process {
    slot: usize,
    record: &'static WorkerSlot,
    pipe: LinePipe,
}

impl Observed for Process {
    fn state(&self) -> SlotState {
        self.record.state()
    }
    fn heartbeat_ms(&self) -> u64 {
        self.record.heartbeat_ms()
    }
}

pub struct Arbiter {
    upgrades: Upgrades,
    notifier: Notifier,
    /// Ready workers last reported in `STATUS=`.
    reported_ready: Option<usize>,
    args: Vec<OsString>,
    cwd: PathBuf,
    settings: Settings,
    credentials: Option<Credentials>,
    /// `None` once stopping: the master closes its copy first.
    listener: Option<TcpListener>,
    /// Set while a reload's new generation boots.
    rollback: Option<Rollback>,
    arena: Arena,
    signals: SignalQueue,
    pidfile: Option<Pidfile>,
    worker_main: WorkerMain,
    fleet: Fleet<Process>,
    exit_code: i32,
}

impl Arbiter {
    pub fn new(startup: Startup) -> Arbiter {
        Arbiter {
            upgrades: Upgrades::new(startup.exe, startup.upgraded),
            notifier: startup.notifier,
            reported_ready: None,
            args: startup.args,
            cwd: startup.cwd,
            fleet: Fleet::new(startup.settings.workers),
            settings: startup.settings,
            credentials: startup.credentials,
            listener: Some(startup.listener),
            rollback: None,
            arena: startup.arena,
            signals: startup.signals,
            pidfile: startup.pidfile,
            worker_main: startup.worker_main,
            exit_code: 0,
        }
    }

    /// Runs until every worker is gone after a stop; returns the process exit code.
    pub fn run(mut self) -> i32 {
        self.workers_changed(None);
        self.manage_workers();
        loop {
            self.wait_for_events();
            self.notifier.keep_alive();
            self.upgrades
                .follow(self.pidfile.as_mut(), self.settings.pidfile.as_deref());
            for signal in self.signals.drain() {
                self.handle_signal(signal);
            }
            self.reap_workers();
            self.track_readiness();
            let orders = self.fleet.watch(
                Instant::now(),
                clock::monotonic_ms(),
                self.settings.graceful_timeout,
                self.settings.worker_timeout,
            );
            self.carry_out(orders);
            self.manage_workers();
            if self.fleet.is_done() {
                break;
            }
        }
        self.halt()
    }

    /// on_exit: the pidfile goes, the log reaches the disk. The arena needs no
    /// finalising: an anonymous mapping ends with the last process holding it.
    fn halt(self) -> i32 {
        if let Some(pidfile) = &self.pidfile {
            pidfile.remove();
        }
        hooks::run_logged(&self.settings, Hook::OnExit, self.master_event());
        tracing::info!(pid = std::process::id(), "Shutting down: Master");
        logging::flush();
        self.exit_code
    }

    fn master_event(&self) -> hooks::Event {
        hooks::Event {
            master_pid: std::process::id() as i32,
            ..Default::default()
        }
    }

    /// nworkers_changed: the target count moved from `old` (none at start).
    fn workers_changed(&mut self, old: Option<usize>) {
        hooks::run_logged(
            &self.settings,
            Hook::NworkersChanged,
            hooks::Event {
                workers_change: Some((old, self.fleet.target())),
                ..self.master_event()
            },
        );
    }

    /// Does what the fleet decided.
    fn carry_out(&mut self, orders: Vec<Order>) {
        for order in orders {
            match order {
                Order::Spawn { replacing } => self.spawn_worker(replacing),
                Order::Signal(pid, signal) => {
                    let _ = kill(pid, signal);
                }
                Order::Abort(pid) => {
                    self.arena.count_timeout();
                    let _ = kill(pid, Signal::SIGABRT);
                }
            }
        }
    }

    // ----- waiting -------------------------------------------------------------------

    fn wait_for_events(&mut self) {
        let tick = if self.fleet.is_converging() {
            BUSY_TICK
        } else {
            IDLE_TICK
        };
        let tick = self
            .notifier
            .max_sleep()
            .map_or(tick, |watchdog| tick.min(watchdog));
        let mut fds: Vec<libc::pollfd> = std::iter::once(self.signals.fd())
            .chain(self.fleet.members().iter().map(|m| m.process.pipe.fd()))
            .chain(self.upgrades.fd())
            .map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: `fds` is a valid array of pollfd for the duration of the call.
        unsafe {
            libc::poll(
                fds.as_mut_ptr(),
                fds.len() as libc::nfds_t,
                tick.as_millis() as i32,
            )
        };
        for process in self.fleet.processes_mut() {
            process.pipe.pump(logging::forward);
        }
    }

    // ----- signals -------------------------------------------------------------------

    fn handle_signal(&mut self, signal: Signal) {
        if signal != Signal::SIGCHLD {
            tracing::info!(
                "Handling signal: {}",
                signal.as_str()[3..].to_ascii_lowercase()
            );
        }
        match signal {
            Signal::SIGCHLD => {}
            Signal::SIGTERM => self.stop(true),
            Signal::SIGINT | Signal::SIGQUIT => self.stop(false),
            Signal::SIGHUP => self.reload(),
            Signal::SIGTTIN => {
                if let Some(old) = self.fleet.grow() {
                    self.workers_changed(Some(old));
                }
            }
            Signal::SIGTTOU => {
                if let Some(old) = self.fleet.shrink() {
                    self.workers_changed(Some(old));
                }
            }
            Signal::SIGUSR1 => self.reopen_logs(),
            Signal::SIGUSR2 => self.upgrades.start(
                &self.args,
                &self.cwd,
                self.listener.as_ref(),
                &self.notifier,
                &self.settings,
                &self.signals,
            ),
            Signal::SIGWINCH => self.handle_winch(),
            other => tracing::debug!(signal = other.as_str(), "unexpected signal ignored"),
        }
    }

    /// WINCH: once a new master is ready, stop our workers (this master stays and keeps
    /// the socket, so HUP brings them back). Otherwise ignored: terminals send WINCH.
    fn handle_winch(&mut self) {
        if !self.upgrades.new_master_ready() {
            tracing::debug!("WINCH ignored: no upgraded master is ready");
            return;
        }
        let old = self.fleet.set_target(0);
        tracing::info!("stopping this master's workers; the new master serves");
        self.workers_changed(Some(old));
    }

    /// USR1: reopen the log file (workers own none, but are told anyway).
    fn reopen_logs(&mut self) {
        if let Err(e) = logging::reopen() {
            tracing::error!(error = %e, "cannot reopen the log file");
        }
        for member in self.fleet.members() {
            let _ = kill(member.pid, Signal::SIGUSR1);
        }
    }

    /// TERM (graceful) or INT/QUIT (quick).
    fn stop(&mut self, graceful: bool) {
        let Some(orders) =
            self.fleet
                .stop(graceful, Instant::now(), self.settings.graceful_timeout)
        else {
            return;
        };
        // Close the master's copy first: once workers drop theirs, connects are refused.
        self.listener = None;
        self.rollback = None;
        self.notifier.send("STOPPING=1");
        self.carry_out(orders);
    }

    // ----- reload --------------------------------------------------------------------

    /// HUP: switch to the configuration as it is now ([`crate::reload`]).
    fn reload(&mut self) {
        if !self.fleet.is_running() {
            tracing::warn!("HUP ignored: a reload or stop is already in progress");
            return;
        }
        let prepared =
            match reload::prepare(&self.settings, &self.args, &self.cwd, self.credentials) {
                Ok(prepared) => prepared,
                Err(reason) => {
                    tracing::error!("reload failed: {reason}; keeping the current configuration");
                    return;
                }
            };
        let previous_listener = prepared.listener.and_then(|new| self.listener.replace(new));
        let settings = prepared.settings;
        if let Err(e) = logging::configure(&settings) {
            tracing::error!(error = %e, "reload: cannot open the new log file; keeping the old one");
        }
        for warning in settings.warnings() {
            tracing::warn!("{warning}");
        }
        self.notifier.send(&format!(
            "RELOADING=1\nMONOTONIC_USEC={}",
            sd_notify::monotonic_usec()
        ));
        let old_target = self.fleet.target();
        let previous = std::mem::replace(&mut self.settings, settings);
        let deadline = Instant::now() + reload::boot_timeout(&self.settings);
        self.rollback = Some(Rollback {
            settings: Box::new(previous),
            listener: previous_listener,
        });
        let spawns = self.fleet.begin_reload(self.settings.workers, deadline);
        hooks::run_logged(&self.settings, Hook::OnReload, self.master_event());
        if old_target != self.fleet.target() {
            self.workers_changed(Some(old_target));
        }
        tracing::info!(
            generation = self.fleet.generation(),
            workers = self.fleet.target(),
            "Reloading: booting a new generation"
        );
        self.carry_out(spawns);
    }

    /// The new generation failed: stop it, restore the previous configuration.
    fn roll_back(&mut self, reason: &str) {
        let Some(rollback) = self.rollback.take() else {
            return;
        };
        let target = rollback.restore(&mut self.settings, &mut self.listener);
        let orders = self.fleet.roll_back(target, Instant::now());
        self.carry_out(orders);
        self.notifier.send("READY=1");
        tracing::error!(
            "reload failed: {reason}; still serving with the previous generation and configuration"
        );
    }

    // ----- reaping -------------------------------------------------------------------

    fn reap_workers(&mut self) {
        loop {
            let status = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    tracing::error!(error = %e, "waitpid failed");
                    return;
                }
                Ok(status) => status,
            };
            let (pid, code, signal) = match status {
                WaitStatus::Exited(pid, code) => (pid, Some(code), None),
                WaitStatus::Signaled(pid, signal, _) => (pid, None, Some(signal)),
                _ => continue,
            };
            if !self.upgrades.reaped(pid, code, signal) {
                self.worker_exited(pid, code, signal);
            }
        }
    }

    fn worker_exited(&mut self, pid: Pid, code: Option<i32>, signal: Option<Signal>) {
        let Some(departure) = self.fleet.exited(pid, code, Instant::now()) else {
            tracing::debug!(pid = pid.as_raw(), "reaped a child that is not a worker");
            return;
        };
        let mut process = departure.process;
        process.pipe.pump(logging::forward);
        process.record.release();
        let pid = pid.as_raw();
        match (code, signal) {
            (_, Some(Signal::SIGKILL)) => {
                tracing::error!("Worker (pid:{pid}) was sent SIGKILL! Perhaps out of memory?")
            }
            (_, Some(Signal::SIGTERM)) => tracing::info!("Worker (pid:{pid}) was sent SIGTERM!"),
            (_, Some(other)) => tracing::warn!("Worker (pid:{pid}) was sent {}!", other.as_str()),
            (Some(0), _) => tracing::info!("Worker exiting (pid: {pid})"),
            (Some(code), _) => tracing::error!("Worker (pid:{pid}) exited with code {code}"),
            (None, None) => {}
        }
        if !matches!(departure.outcome, Outcome::BootFailed { .. }) {
            hooks::run_logged(
                &self.settings,
                Hook::ChildExit,
                hooks::Event {
                    worker: Some((pid, process.slot)),
                    ..self.master_event()
                },
            );
        }
        if departure.outcome != Outcome::Stopped {
            self.arena.count_unexpected_exit();
        }
        match departure.outcome {
            Outcome::Stopped => {}
            Outcome::BootFailed { exit } => {
                let what = if exit == APP_LOAD_ERROR {
                    "App failed to load."
                } else {
                    "Worker failed to boot."
                };
                tracing::error!("{what} (pid:{pid}) Shutting down.");
                self.exit_code = exit;
                self.stop(false);
            }
            Outcome::ReloadFailed => {
                self.roll_back(&format!("new worker (pid:{pid}) failed to boot"))
            }
            Outcome::Died {
                lived,
                delay: Some(delay),
            } => tracing::warn!(
                delay_ms = delay.as_millis() as u64,
                "worker (pid:{pid}) died {} ms after start; delaying the next spawn",
                lived.as_millis()
            ),
            Outcome::Died { delay: None, .. } => {}
        }
    }

    // ----- readiness, reload switch, recycling ---------------------------------------

    fn track_readiness(&mut self) {
        if self.fleet.note_readiness() {
            tracing::info!(workers = self.fleet.target(), "all workers ready");
            self.upgrades.report_ready(&self.notifier);
            self.notifier.send("READY=1");
        }
        let ready = self.fleet.serving();
        if self.fleet.has_booted() && self.reported_ready != Some(ready) {
            self.reported_ready = Some(ready);
            self.notifier.send(&format!(
                "STATUS={ready} workers ready of {} wanted (generation {})",
                self.fleet.target(),
                self.fleet.generation()
            ));
        }
        match self.fleet.reload_progress(Instant::now()) {
            Progress::Pending => {}
            Progress::Switched {
                generation,
                workers,
                orders,
            } => {
                self.carry_out(orders);
                self.rollback = None;
                tracing::info!(generation, workers, "reload complete");
                self.notifier.send("READY=1");
            }
            Progress::Overdue => self.roll_back("the new workers did not become ready in time"),
        }
        let orders = self.fleet.recycle(Instant::now());
        self.carry_out(orders);
    }

    // ----- converging on the target --------------------------------------------------

    fn manage_workers(&mut self) {
        let orders = self.fleet.manage(Instant::now());
        self.carry_out(orders);
    }

    fn spawn_worker(&mut self, replacing: Option<Pid>) {
        let Some(listener) = &self.listener else {
            return;
        };
        let members = self.fleet.members();
        let Some(slot) = (0..MAX_WORKERS).find(|&i| members.iter().all(|m| m.process.slot != i))
        else {
            tracing::error!(limit = MAX_WORKERS, "no free worker slot");
            return;
        };
        hooks::run_logged(
            &self.settings,
            Hook::PreFork,
            hooks::Event {
                worker: Some((0, slot)),
                ..self.master_event()
            },
        );
        let max_requests = (self.settings.max_requests > 0).then(|| {
            self.settings.max_requests + fastrand::u64(0..=self.settings.max_requests_jitter)
        });
        // Other workers' log pipes, and the socket a reload is moving away from.
        let previous_listener = self
            .rollback
            .as_ref()
            .and_then(|r| r.listener.as_ref())
            .map(|old| old.as_raw_fd());
        let hygiene = ChildHygiene {
            signals: &self.signals,
            close: members
                .iter()
                .map(|m| m.process.pipe.fd())
                .chain(previous_listener)
                .collect(),
            credentials: self.credentials,
        };
        match spawn::spawn(
            self.worker_main,
            self.arena,
            slot,
            self.fleet.generation(),
            listener,
            &self.settings,
            max_requests,
            hygiene,
        ) {
            Ok(spawned) => {
                tracing::info!("Booting worker with pid: {}", spawned.pid.as_raw());
                let process = Process {
                    slot,
                    record: self.arena.slot(slot),
                    pipe: spawned.pipe,
                };
                self.fleet
                    .spawned(spawned.pid, process, Instant::now(), replacing);
            }
            Err(e) => tracing::error!(error = %e, "fork failed"),
        }
    }
}
