//! The arbiter's part played in memory, for the decision tests: a spawn hands out the
//! next pid with a fresh slot, signals are recorded, slots are cells the test sets, and
//! the clock moves only when the test says so.

use std::cell::Cell;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::{Fleet, Observed, Order, Outcome};
use crate::arena::SlotState;

pub(crate) struct Slot {
    state: Cell<SlotState>,
    heartbeat_ms: Cell<u64>,
}

impl Observed for Slot {
    fn state(&self) -> SlotState {
        self.state.get()
    }
    fn heartbeat_ms(&self) -> u64 {
        self.heartbeat_ms.get()
    }
}

pub(crate) struct Master {
    pub fleet: Fleet<Slot>,
    pub now: Instant,
    pub now_ms: u64,
    next_pid: i32,
    /// Every signal sent (the watchdog's abort as SIGABRT), oldest first, until taken.
    signals: Vec<(Pid, Signal)>,
}

impl Master {
    pub fn new(target: usize) -> Master {
        Master {
            fleet: Fleet::new(target),
            now: Instant::now(),
            now_ms: 1_000_000,
            next_pid: 100,
            signals: Vec::new(),
        }
    }

    /// Carries out `orders`; returns the pids spawned.
    pub fn carry_out(&mut self, orders: Vec<Order>) -> Vec<Pid> {
        let mut spawned = Vec::new();
        for order in orders {
            match order {
                Order::Spawn { replacing } => {
                    self.next_pid += 1;
                    let pid = Pid::from_raw(self.next_pid);
                    let slot = Slot {
                        state: Cell::new(SlotState::Booting),
                        heartbeat_ms: Cell::new(self.now_ms),
                    };
                    self.fleet.spawned(pid, slot, self.now, replacing);
                    spawned.push(pid);
                }
                Order::Signal(pid, signal) => self.signals.push((pid, signal)),
                Order::Abort(pid) => self.signals.push((pid, Signal::SIGABRT)),
            }
        }
        spawned
    }

    /// One turn of converging on the target; returns the pids spawned.
    pub fn manage(&mut self) -> Vec<Pid> {
        let orders = self.fleet.manage(self.now);
        self.carry_out(orders)
    }

    /// Spawns the first generation and lets every worker report Ready.
    pub fn boot(&mut self) -> Vec<Pid> {
        let pids = self.manage();
        for &pid in &pids {
            self.set_state(pid, SlotState::Ready);
        }
        assert!(self.fleet.note_readiness(), "the first generation is up");
        pids
    }

    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.now_ms += by.as_millis() as u64;
    }

    fn slot(&self, pid: Pid) -> &Slot {
        &self
            .fleet
            .members()
            .iter()
            .find(|m| m.pid == pid)
            .expect("a live worker")
            .process
    }

    pub fn set_state(&self, pid: Pid, state: SlotState) {
        self.slot(pid).state.set(state);
    }

    /// `pid` reports Ready and the master notices.
    pub fn ready(&mut self, pid: Pid) {
        self.set_state(pid, SlotState::Ready);
        self.fleet.note_readiness();
    }

    pub fn beat(&self, pid: Pid) {
        self.slot(pid).heartbeat_ms.set(self.now_ms);
    }

    /// `pid` is reaped with exit `code`.
    pub fn exit(&mut self, pid: Pid, code: i32) -> Outcome {
        self.fleet
            .exited(pid, Some(code), self.now)
            .expect("a worker")
            .outcome
    }

    /// The watchdog's turn with `timeout` and a 30 s graceful budget.
    pub fn watch(&mut self, timeout: Option<Duration>) {
        let orders = self
            .fleet
            .watch(self.now, self.now_ms, Duration::from_secs(30), timeout);
        self.carry_out(orders);
    }

    /// The signals sent since the last call.
    pub fn take_signals(&mut self) -> Vec<(Pid, Signal)> {
        std::mem::take(&mut self.signals)
    }

    pub fn pids(&self) -> Vec<Pid> {
        self.fleet.members().iter().map(|m| m.pid).collect()
    }
}
