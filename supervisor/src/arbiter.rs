//! The master's loop. Single-threaded and tokio-free (a runtime in the master would
//! make every later fork unsafe). Signal handlers only queue bytes; each turn of
//! [`Arbiter::run`] forwards worker log lines, dispatches queued signals, reaps
//! children, tracks readiness, enforces heartbeats and converges on the target count.
//!
//! Differences from gunicorn, on purpose: a worker counts as up only once it reports
//! Ready in its arena slot; HUP starts the new generation and stops the old one only when
//! every new worker is ready (and keeps the old one if the new one fails); `max_requests`
//! recycling starts the replacement before stopping the old worker; crash loops back off.

use std::ffi::OsString;
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use lightrag_config::{Environment, Hook, Settings};
use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::arena::{Arena, MAX_WORKERS, SlotState};
use crate::backoff::Backoff;
use crate::fork_safety;
use crate::hooks;
use crate::listener;
use crate::log_pipe::LinePipe;
use crate::pidfile::Pidfile;
use crate::privileges::Credentials;
use crate::sd_notify::{self, Notifier};
use crate::signals::SignalQueue;
use crate::spawn::{self, APP_LOAD_ERROR, ChildHygiene, WORKER_BOOT_ERROR, WorkerMain};
use crate::upgrade::{self, Upgraded};
use crate::{clock, logging};

/// Longest the master sleeps between turns when nothing happens.
const IDLE_TICK: Duration = Duration::from_secs(1);
/// Turn length while something is converging (boot, reload, stop).
const BUSY_TICK: Duration = Duration::from_millis(20);
/// How long an aborted (SIGABRT) worker gets before SIGKILL.
const ABORT_GRACE: Duration = Duration::from_secs(1);
/// Boot budget of a reload's new generation when the heartbeat watchdog is off.
const DEFAULT_BOOT_TIMEOUT: Duration = Duration::from_secs(60);

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

struct Worker {
    pid: Pid,
    slot: usize,
    generation: u64,
    spawned_at: Instant,
    pipe: LinePipe,
    ready: bool,
    /// When the master asked it to stop (TERM); SIGKILL after the graceful timeout.
    stop_sent: Option<Instant>,
    /// When the watchdog sent SIGABRT; SIGKILL after [`ABORT_GRACE`].
    abort_sent: Option<Instant>,
    killed: bool,
    /// The worker started to take over from this one (max-requests recycling).
    replacement: Option<Pid>,
}

enum Phase {
    Running,
    /// A new generation boots beside the old one; the old settings and listener are
    /// kept to roll back to.
    Reloading {
        generation: u64,
        previous: Box<Settings>,
        previous_listener: Option<TcpListener>,
        deadline: Instant,
    },
    Stopping {
        deadline: Instant,
    },
}

pub struct Arbiter {
    exe: PathBuf,
    /// Set while this master is the new one of a USR2 upgrade, until the old one exits.
    upgraded: Option<Upgraded>,
    /// Set while a new master started by our USR2 runs.
    upgrade: Option<upgrade::Pending>,
    notifier: Notifier,
    /// Ready workers last reported in `STATUS=`.
    reported_ready: Option<usize>,
    args: Vec<OsString>,
    cwd: PathBuf,
    settings: Settings,
    credentials: Option<Credentials>,
    /// `None` once stopping: the master closes its copy first.
    listener: Option<TcpListener>,
    arena: Arena,
    signals: SignalQueue,
    pidfile: Option<Pidfile>,
    worker_main: WorkerMain,
    workers: Vec<Worker>,
    slot_used: Vec<bool>,
    target: usize,
    generation: u64,
    phase: Phase,
    backoff: Backoff,
    /// Set once the first generation is fully ready; before that a boot failure halts.
    booted: bool,
    exit_code: i32,
}

impl Arbiter {
    pub fn new(startup: Startup) -> Arbiter {
        Arbiter {
            exe: startup.exe,
            upgraded: startup.upgraded,
            upgrade: None,
            notifier: startup.notifier,
            reported_ready: None,
            args: startup.args,
            cwd: startup.cwd,
            target: startup.settings.workers,
            settings: startup.settings,
            credentials: startup.credentials,
            listener: Some(startup.listener),
            arena: startup.arena,
            signals: startup.signals,
            pidfile: startup.pidfile,
            worker_main: startup.worker_main,
            workers: Vec::new(),
            slot_used: vec![false; MAX_WORKERS],
            generation: 1,
            phase: Phase::Running,
            backoff: Backoff::default(),
            booted: false,
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
            self.follow_upgrade();
            for signal in self.signals.drain() {
                self.handle_signal(signal);
            }
            self.reap_workers();
            self.track_readiness();
            self.murder_workers();
            self.manage_workers();
            if matches!(self.phase, Phase::Stopping { .. }) && self.workers.is_empty() {
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
                workers_change: Some((old, self.target)),
                ..self.master_event()
            },
        );
    }

    /// Old master: read the new master's report. New master: take over the plain
    /// pidfile once the old master has exited.
    fn follow_upgrade(&mut self) {
        if let Some(pending) = &mut self.upgrade {
            let child = pending.child.as_raw();
            match pending.poll() {
                upgrade::Report::Ready => tracing::info!(
                    "upgrade: new master (pid:{child}) is ready; send WINCH to stop the old workers, then TERM to finish"
                ),
                upgrade::Report::Failed => tracing::error!(
                    "upgrade failed: the new master (pid:{child}) did not come up; still serving"
                ),
                upgrade::Report::Nothing => {}
            }
        }
        if self.upgraded.as_ref().is_some_and(|u| u.old_master_gone()) {
            self.upgraded = None;
            if let (Some(pidfile), Some(plain)) = (&mut self.pidfile, &self.settings.pidfile) {
                pidfile.rename_to(plain);
            }
            tracing::info!("upgrade complete: the old master is gone; this master is promoted");
        }
    }

    // ----- waiting -------------------------------------------------------------------

    fn wait_for_events(&mut self) {
        let converging = !matches!(self.phase, Phase::Running)
            || self
                .workers
                .iter()
                .any(|w| !w.ready || w.replacement.is_some())
            || self.live_count() != self.target;
        let tick = if converging { BUSY_TICK } else { IDLE_TICK };
        let tick = self
            .notifier
            .max_sleep()
            .map_or(tick, |watchdog| tick.min(watchdog));
        let mut fds: Vec<libc::pollfd> = std::iter::once(self.signals.fd())
            .chain(self.workers.iter().map(|w| w.pipe.fd()))
            .chain(self.upgrade.as_ref().and_then(|u| u.fd()))
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
        for worker in &mut self.workers {
            worker.pipe.pump(logging::forward);
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
            Signal::SIGTTIN => self.handle_ttin(),
            Signal::SIGTTOU => self.handle_ttou(),
            Signal::SIGUSR1 => self.handle_usr1(),
            Signal::SIGUSR2 => self.handle_usr2(),
            Signal::SIGWINCH => self.handle_winch(),
            other => tracing::debug!(signal = other.as_str(), "unexpected signal ignored"),
        }
    }

    /// TTIN: one more worker.
    fn handle_ttin(&mut self) {
        if self.target + 1 > MAX_WORKERS / 2 {
            tracing::warn!(
                limit = MAX_WORKERS / 2,
                "TTIN ignored: worker limit reached"
            );
            return;
        }
        self.target += 1;
        tracing::info!(workers = self.target, "worker count raised");
        self.workers_changed(Some(self.target - 1));
    }

    /// USR2: start the binary on disk as a new master on the same socket.
    fn handle_usr2(&mut self) {
        if self.upgraded.is_some() {
            tracing::warn!("USR2 ignored: this master is itself an upgrade not yet promoted");
            return;
        }
        if let Some(pending) = &self.upgrade {
            tracing::warn!(
                "USR2 ignored: an upgrade is already pending (new master pid:{})",
                pending.child.as_raw()
            );
            return;
        }
        let Some(listener) = &self.listener else {
            return;
        };
        match upgrade::reexec(
            &self.exe,
            &self.args,
            &self.cwd,
            listener,
            self.notifier.socket_path(),
            &self.settings,
            &self.signals,
        ) {
            Ok(pending) => {
                tracing::info!(
                    "upgrade: started {} as new master pid:{}",
                    self.exe.display(),
                    pending.child.as_raw()
                );
                self.upgrade = Some(pending);
            }
            Err(e) => tracing::error!("upgrade failed: cannot start {}: {e}", self.exe.display()),
        }
    }

    /// WINCH: once a new master is ready, stop our workers (this master stays and keeps
    /// the socket, so HUP brings them back). Otherwise ignored: terminals send WINCH.
    fn handle_winch(&mut self) {
        if !self.upgrade.as_ref().is_some_and(|u| u.ready) {
            tracing::debug!("WINCH ignored: no upgraded master is ready");
            return;
        }
        let old = self.target;
        self.target = 0;
        tracing::info!("stopping this master's workers; the new master serves");
        self.workers_changed(Some(old));
    }

    /// TTOU: one worker fewer, never below one; the oldest goes.
    fn handle_ttou(&mut self) {
        if self.target <= 1 {
            tracing::info!("TTOU ignored: already at one worker");
            return;
        }
        self.target -= 1;
        tracing::info!(workers = self.target, "worker count lowered");
        self.workers_changed(Some(self.target + 1));
    }

    /// USR1: reopen the log file (workers own none, but are told anyway).
    fn handle_usr1(&mut self) {
        if let Err(e) = logging::reopen() {
            tracing::error!(error = %e, "cannot reopen the log file");
        }
        for worker in &self.workers {
            let _ = kill(worker.pid, Signal::SIGUSR1);
        }
    }

    /// TERM (graceful) or INT/QUIT (quick). A quick stop during a graceful one takes over.
    fn stop(&mut self, graceful: bool) {
        let already = matches!(self.phase, Phase::Stopping { .. });
        if already && graceful {
            return;
        }
        // Close the master's copy first: once workers drop theirs, connects are refused.
        self.listener = None;
        let (signal, budget) = if graceful {
            (Signal::SIGTERM, self.settings.graceful_timeout)
        } else {
            (Signal::SIGQUIT, Duration::from_secs(2))
        };
        self.phase = Phase::Stopping {
            deadline: Instant::now() + budget,
        };
        self.notifier.send("STOPPING=1");
        for worker in &mut self.workers {
            worker.stop_sent = Some(Instant::now());
            let _ = kill(worker.pid, signal);
        }
    }

    // ----- reload --------------------------------------------------------------------

    /// HUP: re-read flags, environment and `.env`; boot a new generation; retire the old
    /// one only when the new one is ready.
    fn reload(&mut self) {
        if !matches!(self.phase, Phase::Running) {
            tracing::warn!("HUP ignored: a reload or stop is already in progress");
            return;
        }
        let settings = match self.load_settings() {
            Ok(settings) => settings,
            Err(reason) => {
                tracing::error!("reload failed: {reason}; keeping the current configuration");
                return;
            }
        };
        let previous_listener = if settings.bind_address() != self.settings.bind_address() {
            match listener::bind(&settings.bind_address(), settings.backlog) {
                Ok(new) => self.listener.replace(new),
                Err(e) => {
                    tracing::error!("reload failed: {e}; keeping the current configuration");
                    return;
                }
            }
        } else {
            None
        };
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
        self.generation += 1;
        let old_target = self.target;
        self.target = settings.workers;
        let previous = std::mem::replace(&mut self.settings, settings);
        hooks::run_logged(&self.settings, Hook::OnReload, self.master_event());
        if old_target != self.target {
            self.workers_changed(Some(old_target));
        }
        tracing::info!(
            generation = self.generation,
            workers = self.target,
            "Reloading: booting a new generation"
        );
        self.phase = Phase::Reloading {
            generation: self.generation,
            previous: Box::new(previous),
            previous_listener,
            deadline: Instant::now() + self.boot_timeout(),
        };
        for _ in 0..self.target {
            self.spawn_worker();
        }
    }

    fn load_settings(&self) -> Result<Settings, String> {
        let env = Environment::capture(&self.cwd).map_err(|e| e.to_string())?;
        let settings =
            Settings::load(self.args.iter().cloned(), &env).map_err(|e| e.to_string())?;
        fork_safety::check(fork_safety::Os::current(), settings.workers, |name| {
            env.get(name).map(|(v, _)| v.to_owned())
        })
        .map_err(|e| e.to_string())?;
        let credentials = Credentials::resolve(settings.user.as_deref(), settings.group.as_deref())
            .map_err(|e| e.to_string())?;
        if credentials != self.credentials {
            return Err("WORKER_USER/WORKER_GROUP cannot change on reload".to_owned());
        }
        Ok(settings)
    }

    fn boot_timeout(&self) -> Duration {
        self.settings.worker_timeout.unwrap_or(DEFAULT_BOOT_TIMEOUT)
    }

    /// The new generation failed: stop it, restore the previous configuration.
    fn abort_reload(&mut self, reason: &str) {
        let Phase::Reloading {
            generation,
            previous,
            previous_listener,
            ..
        } = std::mem::replace(&mut self.phase, Phase::Running)
        else {
            return;
        };
        for worker in self
            .workers
            .iter_mut()
            .filter(|w| w.generation == generation)
        {
            worker.stop_sent = Some(Instant::now());
            let _ = kill(worker.pid, Signal::SIGKILL);
        }
        if let Some(old) = previous_listener {
            self.listener = Some(old);
        }
        if let Err(e) = logging::configure(&previous) {
            tracing::error!(error = %e, "cannot restore the previous log file");
        }
        self.settings = *previous;
        self.target = self.settings.workers;
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
            if self.upgrade.as_ref().is_some_and(|u| u.child == pid) {
                self.upgrade_exited(pid, code, signal);
                continue;
            }
            match self.workers.iter().position(|w| w.pid == pid) {
                Some(index) => self.worker_exited(index, code, signal),
                None => tracing::debug!(pid = pid.as_raw(), "reaped a child that is not a worker"),
            }
        }
    }

    fn upgrade_exited(&mut self, pid: Pid, code: Option<i32>, signal: Option<Signal>) {
        let pid = pid.as_raw();
        let how = match (code, signal) {
            (Some(code), _) => format!("exit code {code}"),
            (_, Some(signal)) => signal.as_str().to_owned(),
            _ => "unknown".to_owned(),
        };
        if self.upgrade.take().is_some_and(|u| u.ready) {
            tracing::warn!("the new master (pid:{pid}) exited ({how})");
        } else {
            tracing::error!(
                "upgrade failed: the new master (pid:{pid}) exited before it was ready ({how}); still serving"
            );
        }
    }

    fn worker_exited(&mut self, index: usize, code: Option<i32>, signal: Option<Signal>) {
        let mut worker = self.workers.remove(index);
        worker.pipe.pump(logging::forward);
        self.arena.slot(worker.slot).release();
        self.slot_used[worker.slot] = false;
        let pid = worker.pid.as_raw();
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
        for other in &mut self.workers {
            if other.replacement == Some(worker.pid) {
                other.replacement = None;
            }
        }
        let halting = !worker.ready
            && worker.stop_sent.is_none()
            && !self.booted
            && matches!(self.phase, Phase::Running);
        if !halting {
            hooks::run_logged(
                &self.settings,
                Hook::ChildExit,
                hooks::Event {
                    worker: Some((pid, worker.slot)),
                    ..self.master_event()
                },
            );
        }
        if worker.stop_sent.is_some() {
            return;
        }
        self.arena.count_unexpected_exit();
        let lived = worker.spawned_at.elapsed();
        if !worker.ready {
            if !self.booted && matches!(self.phase, Phase::Running) {
                let (exit, what) = if code == Some(APP_LOAD_ERROR) {
                    (APP_LOAD_ERROR, "App failed to load.")
                } else {
                    (WORKER_BOOT_ERROR, "Worker failed to boot.")
                };
                tracing::error!("{what} (pid:{pid}) Shutting down.");
                self.exit_code = exit;
                self.stop(false);
                return;
            }
            if let Phase::Reloading { generation, .. } = self.phase
                && generation == worker.generation
            {
                self.abort_reload(&format!("new worker (pid:{pid}) failed to boot"));
                return;
            }
        }
        if let Some(delay) = self.backoff.record_death(lived, Instant::now()) {
            tracing::warn!(
                delay_ms = delay.as_millis() as u64,
                "worker (pid:{pid}) died {} ms after start; delaying the next spawn",
                lived.as_millis()
            );
        }
    }

    // ----- readiness, recycling ------------------------------------------------------

    fn track_readiness(&mut self) {
        for worker in &mut self.workers {
            if !worker.ready
                && matches!(
                    self.arena.slot(worker.slot).state(),
                    SlotState::Ready | SlotState::Retiring
                )
            {
                worker.ready = true;
            }
        }
        if !self.booted && self.workers.iter().filter(|w| w.ready).count() >= self.target {
            self.booted = true;
            tracing::info!(workers = self.target, "all workers ready");
            if let Some(upgraded) = &mut self.upgraded {
                upgraded.report_ready();
                self.notifier
                    .send(&format!("MAINPID={}", std::process::id()));
            }
            self.notifier.send("READY=1");
        }
        let ready = self
            .workers
            .iter()
            .filter(|w| w.ready && w.stop_sent.is_none())
            .count();
        if self.booted && self.reported_ready != Some(ready) {
            self.reported_ready = Some(ready);
            self.notifier.send(&format!(
                "STATUS={ready} workers ready of {} wanted (generation {})",
                self.target, self.generation
            ));
        }
        self.finish_reload();
        self.recycle_workers();
    }

    fn finish_reload(&mut self) {
        let Phase::Reloading {
            generation,
            deadline,
            ..
        } = self.phase
        else {
            return;
        };
        let ready = self
            .workers
            .iter()
            .filter(|w| w.generation == generation && w.ready)
            .count();
        if ready >= self.target {
            for worker in self
                .workers
                .iter_mut()
                .filter(|w| w.generation < generation)
            {
                request_stop(worker);
            }
            self.phase = Phase::Running;
            tracing::info!(generation, workers = ready, "reload complete");
            self.notifier.send("READY=1");
        } else if Instant::now() >= deadline {
            self.abort_reload("the new workers did not become ready in time");
        }
    }

    /// Make-before-break: a worker at its request limit gets a replacement first and is
    /// stopped once the replacement accepts.
    fn recycle_workers(&mut self) {
        if !matches!(self.phase, Phase::Running) {
            return;
        }
        let retiring: Vec<Pid> = self
            .workers
            .iter()
            .filter(|w| {
                w.stop_sent.is_none()
                    && w.replacement.is_none()
                    && self.arena.slot(w.slot).state() == SlotState::Retiring
            })
            .map(|w| w.pid)
            .collect();
        for pid in retiring {
            tracing::info!(
                "Autorestarting worker (pid:{}) after its request limit",
                pid.as_raw()
            );
            let replacement = self.spawn_worker();
            if let Some(worker) = self.workers.iter_mut().find(|w| w.pid == pid) {
                worker.replacement = replacement;
            }
        }
        let ready: Vec<Pid> = self
            .workers
            .iter()
            .filter(|w| w.ready)
            .map(|w| w.pid)
            .collect();
        for worker in &mut self.workers {
            if worker.stop_sent.is_none() && worker.replacement.is_some_and(|r| ready.contains(&r))
            {
                request_stop(worker);
            }
        }
    }

    // ----- heartbeat watchdog --------------------------------------------------------

    fn murder_workers(&mut self) {
        let now = Instant::now();
        let graceful = self.settings.graceful_timeout;
        let stop_deadline = match self.phase {
            Phase::Stopping { deadline } => Some(deadline),
            _ => None,
        };
        let timeout_ms = self.settings.worker_timeout.map(|t| t.as_millis() as u64);
        let now_ms = clock::monotonic_ms();
        for worker in &mut self.workers {
            if worker.killed {
                continue;
            }
            let overdue_stop = match stop_deadline {
                Some(deadline) => now >= deadline,
                None => worker.stop_sent.is_some_and(|t| now >= t + graceful),
            };
            let overdue_abort = worker.abort_sent.is_some_and(|t| now >= t + ABORT_GRACE);
            if overdue_stop || overdue_abort {
                worker.killed = true;
                let _ = kill(worker.pid, Signal::SIGKILL);
                continue;
            }
            let Some(timeout_ms) = timeout_ms else {
                continue;
            };
            if worker.abort_sent.is_none() && worker.stop_sent.is_none() {
                let silent = now_ms.saturating_sub(self.arena.slot(worker.slot).heartbeat_ms());
                if silent > timeout_ms {
                    tracing::error!("WORKER TIMEOUT (pid:{})", worker.pid.as_raw());
                    self.arena.count_timeout();
                    worker.abort_sent = Some(now);
                    let _ = kill(worker.pid, Signal::SIGABRT);
                }
            }
        }
    }

    // ----- converging on the target --------------------------------------------------

    /// Workers that count towards the target: not stopping, not already replaced.
    fn live_count(&self) -> usize {
        self.workers.iter().filter(|w| is_live(w)).count()
    }

    fn manage_workers(&mut self) {
        if !matches!(self.phase, Phase::Running) {
            return;
        }
        let live = self.live_count();
        if live < self.target {
            if self.backoff.wait_until(Instant::now()).is_some() {
                return;
            }
            for _ in live..self.target {
                self.spawn_worker();
            }
        } else if live > self.target {
            // `workers` is in spawn order, so the first live ones are the oldest.
            let surplus = live - self.target;
            for worker in self.workers.iter_mut().filter(|w| is_live(w)).take(surplus) {
                request_stop(worker);
            }
        }
    }

    fn spawn_worker(&mut self) -> Option<Pid> {
        let listener = self.listener.as_ref()?;
        let Some(slot) = self.slot_used.iter().position(|used| !used) else {
            tracing::error!(limit = MAX_WORKERS, "no free worker slot");
            return None;
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
        let previous_listener = match &self.phase {
            Phase::Reloading {
                previous_listener: Some(old),
                ..
            } => Some(old.as_raw_fd()),
            _ => None,
        };
        let hygiene = ChildHygiene {
            signals: &self.signals,
            close: self
                .workers
                .iter()
                .map(|w| w.pipe.fd())
                .chain(previous_listener)
                .collect(),
            credentials: self.credentials,
        };
        match spawn::spawn(
            self.worker_main,
            self.arena,
            slot,
            self.generation,
            listener,
            &self.settings,
            max_requests,
            hygiene,
        ) {
            Ok(spawned) => {
                tracing::info!("Booting worker with pid: {}", spawned.pid.as_raw());
                self.slot_used[slot] = true;
                self.workers.push(Worker {
                    pid: spawned.pid,
                    slot,
                    generation: self.generation,
                    spawned_at: Instant::now(),
                    pipe: spawned.pipe,
                    ready: false,
                    stop_sent: None,
                    abort_sent: None,
                    killed: false,
                    replacement: None,
                });
                Some(spawned.pid)
            }
            Err(e) => {
                tracing::error!(error = %e, "fork failed");
                None
            }
        }
    }
}

fn is_live(worker: &Worker) -> bool {
    worker.stop_sent.is_none() && worker.replacement.is_none()
}

/// Graceful stop of one worker (TTOU, reload, recycling).
fn request_stop(worker: &mut Worker) {
    if worker.stop_sent.is_none() {
        worker.stop_sent = Some(Instant::now());
        let _ = kill(worker.pid, Signal::SIGTERM);
    }
}
