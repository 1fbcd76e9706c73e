//! The master's decisions about its workers, with no process in them: when to spawn,
//! whom to stop, when to kill, when to give up. [`Fleet`] keeps the book of workers in
//! spawn order and answers each event (a signal, a reap, a slot changing state, time
//! passing) with [`Order`]s that the arbiter carries out by forking or signalling. Time
//! comes in as arguments and a worker's slot is read through [`Observed`], so the unit
//! tests drive it with fake workers and a fake clock, as gunicorn's tests mock `fork`.
//!
//! Differences from gunicorn, on purpose: a worker counts as up only once its slot says
//! Ready; `max_requests` recycling starts the replacement before stopping the old worker;
//! crash loops back off. The HUP switch and its rollback are in [`crate::reload`].

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use crate::arena::{MAX_WORKERS, SlotState};
use crate::backoff::Backoff;
use crate::spawn::{APP_LOAD_ERROR, WORKER_BOOT_ERROR};

/// How long an aborted (SIGABRT) worker gets before SIGKILL.
const ABORT_GRACE: Duration = Duration::from_secs(1);
/// Budget of a quick stop (INT, QUIT) before SIGKILL.
const QUICK_STOP: Duration = Duration::from_secs(2);

/// What the fleet reads of a worker: its slot in the arena.
pub(crate) trait Observed {
    fn state(&self) -> SlotState;
    /// Monotonic milliseconds of the worker's last heartbeat.
    fn heartbeat_ms(&self) -> u64;
}

/// What the arbiter must do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// Fork a worker of the current generation; `replacing` is the worker it takes over
    /// from (recycling), to be passed back to [`Fleet::spawned`].
    Spawn {
        replacing: Option<Pid>,
    },
    Signal(Pid, Signal),
    /// The watchdog's SIGABRT for a worker whose heartbeat stopped.
    Abort(Pid),
}

/// One worker in the book. Fields are the crate's so that [`crate::reload`] can decide
/// over generations; only the fleet and the reload change them.
pub(crate) struct Member<P> {
    pub pid: Pid,
    pub generation: u64,
    /// The arbiter's handle on the process (slot, log pipe); a fake in tests.
    pub process: P,
    spawned_at: Instant,
    pub(crate) ready: bool,
    /// When the master asked it to stop; SIGKILL once the stop budget is spent.
    pub(crate) stop_sent: Option<Instant>,
    /// When the watchdog sent SIGABRT; SIGKILL after [`ABORT_GRACE`].
    abort_sent: Option<Instant>,
    killed: bool,
    /// The worker started to take over from this one (max-requests recycling).
    replacement: Option<Pid>,
}

impl<P> Member<P> {
    /// Counts towards the target: not stopping, not already replaced.
    fn is_live(&self) -> bool {
        self.stop_sent.is_none() && self.replacement.is_none()
    }

    /// Graceful stop (TTOU, reload, recycling); asked once.
    pub(crate) fn request_stop(&mut self, now: Instant) -> Option<Order> {
        if self.stop_sent.is_some() {
            return None;
        }
        self.stop_sent = Some(now);
        Some(Order::Signal(self.pid, Signal::SIGTERM))
    }
}

pub(crate) enum Phase {
    Running,
    /// A new generation boots beside the old one ([`crate::reload`]).
    Reloading {
        generation: u64,
        deadline: Instant,
    },
    Stopping {
        deadline: Instant,
    },
}

/// Why a reaped worker is gone, and what follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The master had asked it to stop.
    Stopped,
    /// Died on its own; respawned by [`Fleet::manage`], after `delay` if it is a crash loop.
    Died {
        lived: Duration,
        delay: Option<Duration>,
    },
    /// Failed to boot before the first generation was up: the master stops with `exit`.
    BootFailed { exit: i32 },
    /// A worker of the reload's new generation failed to boot: roll the reload back.
    ReloadFailed,
}

pub(crate) struct Departure<P> {
    pub process: P,
    pub outcome: Outcome,
}

/// The book of workers and the decisions over it. The fields are the crate's for the
/// reload's decisions ([`crate::reload`]); the arbiter goes through the methods.
pub(crate) struct Fleet<P> {
    pub(crate) members: Vec<Member<P>>,
    pub(crate) target: usize,
    pub(crate) generation: u64,
    pub(crate) phase: Phase,
    backoff: Backoff,
    /// Set once the first generation is fully ready; before that a boot failure halts.
    booted: bool,
}

impl<P: Observed> Fleet<P> {
    pub fn new(target: usize) -> Fleet<P> {
        Fleet {
            members: Vec::new(),
            target,
            generation: 1,
            phase: Phase::Running,
            backoff: Backoff::default(),
            booted: false,
        }
    }

    pub fn target(&self) -> usize {
        self.target
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Every worker not yet reaped, oldest first.
    pub fn members(&self) -> &[Member<P>] {
        &self.members
    }

    pub fn processes_mut(&mut self) -> impl Iterator<Item = &mut P> {
        self.members.iter_mut().map(|m| &mut m.process)
    }

    /// The first generation was all ready once.
    pub fn has_booted(&self) -> bool {
        self.booted
    }

    pub fn is_running(&self) -> bool {
        matches!(self.phase, Phase::Running)
    }

    /// A stop was asked and every worker is gone: the master may exit.
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Stopping { .. }) && self.members.is_empty()
    }

    /// Something is on its way (boot, reload, recycling, stop): the loop turns faster.
    pub fn is_converging(&self) -> bool {
        !self.is_running()
            || self
                .members
                .iter()
                .any(|m| !m.ready || m.replacement.is_some())
            || self.live_count() != self.target
    }

    /// Ready workers not asked to stop.
    pub fn serving(&self) -> usize {
        self.members
            .iter()
            .filter(|m| m.ready && m.stop_sent.is_none())
            .count()
    }

    fn live_count(&self) -> usize {
        self.members.iter().filter(|m| m.is_live()).count()
    }

    /// TTIN: one more worker. Returns the previous target if it moved.
    pub fn grow(&mut self) -> Option<usize> {
        if self.target + 1 > MAX_WORKERS / 2 {
            tracing::warn!(
                limit = MAX_WORKERS / 2,
                "TTIN ignored: worker limit reached"
            );
            return None;
        }
        self.target += 1;
        tracing::info!(workers = self.target, "worker count raised");
        Some(self.target - 1)
    }

    /// TTOU: one worker fewer, never below one ([`Fleet::manage`] stops the oldest).
    /// Returns the previous target if it moved.
    pub fn shrink(&mut self) -> Option<usize> {
        if self.target <= 1 {
            tracing::info!("TTOU ignored: already at one worker");
            return None;
        }
        self.target -= 1;
        tracing::info!(workers = self.target, "worker count lowered");
        Some(self.target + 1)
    }

    /// Sets the target (WINCH: zero); returns the previous one.
    pub fn set_target(&mut self, target: usize) -> usize {
        std::mem::replace(&mut self.target, target)
    }

    /// A [`Order::Spawn`] was carried out: `pid` belongs to the current generation.
    pub fn spawned(&mut self, pid: Pid, process: P, now: Instant, replacing: Option<Pid>) {
        if let Some(old) = self.members.iter_mut().find(|m| Some(m.pid) == replacing) {
            old.replacement = Some(pid);
        }
        self.members.push(Member {
            pid,
            generation: self.generation,
            process,
            spawned_at: now,
            ready: false,
            stop_sent: None,
            abort_sent: None,
            killed: false,
            replacement: None,
        });
    }

    /// Converges on the target: spawns what is missing (unless a crash loop makes it
    /// wait), stops the oldest of any surplus. Idle during a reload or a stop.
    pub fn manage(&mut self, now: Instant) -> Vec<Order> {
        if !self.is_running() {
            return Vec::new();
        }
        let live = self.live_count();
        if live < self.target {
            if self.backoff.wait_until(now).is_some() {
                return Vec::new();
            }
            vec![Order::Spawn { replacing: None }; self.target - live]
        } else {
            // `members` is in spawn order, so the first live ones are the oldest.
            let surplus = live - self.target;
            self.members
                .iter_mut()
                .filter(|m| m.is_live())
                .take(surplus)
                .filter_map(|m| m.request_stop(now))
                .collect()
        }
    }

    /// `pid` was reaped with exit `code` (none if signalled). `None` if it is no worker.
    pub fn exited(&mut self, pid: Pid, code: Option<i32>, now: Instant) -> Option<Departure<P>> {
        let index = self.members.iter().position(|m| m.pid == pid)?;
        let member = self.members.remove(index);
        for other in &mut self.members {
            if other.replacement == Some(pid) {
                other.replacement = None;
            }
        }
        let reloading_its_generation = matches!(
            self.phase,
            Phase::Reloading { generation, .. } if generation == member.generation
        );
        let outcome = if member.stop_sent.is_some() {
            Outcome::Stopped
        } else if !member.ready && !self.booted && self.is_running() {
            let exit = match code {
                Some(APP_LOAD_ERROR) => APP_LOAD_ERROR,
                _ => WORKER_BOOT_ERROR,
            };
            Outcome::BootFailed { exit }
        } else if !member.ready && reloading_its_generation {
            Outcome::ReloadFailed
        } else {
            let lived = now.saturating_duration_since(member.spawned_at);
            Outcome::Died {
                lived,
                delay: self.backoff.record_death(lived, now),
            }
        };
        Some(Departure {
            process: member.process,
            outcome,
        })
    }

    /// Marks the workers whose slot says they accept. True once: when the first
    /// generation is all ready (the master then tells systemd, or the old master).
    pub fn note_readiness(&mut self) -> bool {
        for member in &mut self.members {
            if !member.ready
                && matches!(
                    member.process.state(),
                    SlotState::Ready | SlotState::Retiring
                )
            {
                member.ready = true;
            }
        }
        let ready = self.members.iter().filter(|m| m.ready).count();
        if self.booted || ready < self.target {
            return false;
        }
        self.booted = true;
        true
    }

    /// Make-before-break: a worker at its request limit gets a replacement first and is
    /// stopped once the replacement is ready.
    pub fn recycle(&mut self, now: Instant) -> Vec<Order> {
        if !self.is_running() {
            return Vec::new();
        }
        let mut orders = Vec::new();
        for member in &self.members {
            if member.stop_sent.is_none()
                && member.replacement.is_none()
                && member.process.state() == SlotState::Retiring
            {
                tracing::info!(
                    "Autorestarting worker (pid:{}) after its request limit",
                    member.pid.as_raw()
                );
                orders.push(Order::Spawn {
                    replacing: Some(member.pid),
                });
            }
        }
        let ready: Vec<Pid> = self
            .members
            .iter()
            .filter(|m| m.ready)
            .map(|m| m.pid)
            .collect();
        for member in &mut self.members {
            if member.replacement.is_some_and(|r| ready.contains(&r)) {
                orders.extend(member.request_stop(now));
            }
        }
        orders
    }

    /// The watchdog: SIGKILL what outlived its stop budget or its abort, SIGABRT what
    /// stopped beating for longer than `timeout` (none: no watchdog).
    pub fn watch(
        &mut self,
        now: Instant,
        now_ms: u64,
        graceful: Duration,
        timeout: Option<Duration>,
    ) -> Vec<Order> {
        let stop_deadline = match self.phase {
            Phase::Stopping { deadline } => Some(deadline),
            _ => None,
        };
        let timeout_ms = timeout.map(|t| t.as_millis() as u64);
        let mut orders = Vec::new();
        for member in &mut self.members {
            if member.killed {
                continue;
            }
            let overdue_stop = match stop_deadline {
                Some(deadline) => now >= deadline,
                None => member.stop_sent.is_some_and(|t| now >= t + graceful),
            };
            let overdue_abort = member.abort_sent.is_some_and(|t| now >= t + ABORT_GRACE);
            if overdue_stop || overdue_abort {
                member.killed = true;
                orders.push(Order::Signal(member.pid, Signal::SIGKILL));
                continue;
            }
            let Some(timeout_ms) = timeout_ms else {
                continue;
            };
            if member.abort_sent.is_none() && member.stop_sent.is_none() {
                let silent = now_ms.saturating_sub(member.process.heartbeat_ms());
                if silent > timeout_ms {
                    tracing::error!("WORKER TIMEOUT (pid:{})", member.pid.as_raw());
                    member.abort_sent = Some(now);
                    orders.push(Order::Abort(member.pid));
                }
            }
        }
        orders
    }

    /// TERM (graceful, within `graceful`) or INT/QUIT (quick). A quick stop during a
    /// graceful one takes over; a second graceful one is ignored (`None`).
    pub fn stop(&mut self, graceful: bool, now: Instant, budget: Duration) -> Option<Vec<Order>> {
        if graceful && matches!(self.phase, Phase::Stopping { .. }) {
            return None;
        }
        let (signal, budget) = if graceful {
            (Signal::SIGTERM, budget)
        } else {
            (Signal::SIGQUIT, QUICK_STOP)
        };
        self.phase = Phase::Stopping {
            deadline: now + budget,
        };
        Some(
            self.members
                .iter_mut()
                .map(|m| {
                    m.stop_sent = Some(now);
                    Order::Signal(m.pid, signal)
                })
                .collect(),
        )
    }
}

#[cfg(test)]
pub(crate) mod fake;
#[cfg(test)]
mod tests;
