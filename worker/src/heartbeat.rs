//! The worker's heartbeat: a task on the runtime writes the monotonic clock into the
//! worker's arena slot. It runs as an ordinary task on purpose: if the runtime is
//! blocked, the beat stops and the master's watchdog notices. The same task checks that
//! the master is still our parent (the portable fallback of PR_SET_PDEATHSIG).

use std::time::Duration;

use lightrag_config::Settings;
use lightrag_supervisor::{WorkerSlot, clock};
use nix::unistd::Pid;

/// A quarter of the watchdog timeout, between 50 ms and 1 s.
fn interval(settings: &Settings) -> Duration {
    settings
        .worker_timeout
        .map(|t| (t / 4).clamp(Duration::from_millis(50), Duration::from_secs(1)))
        .unwrap_or(Duration::from_secs(1))
}

pub fn spawn(slot: &'static WorkerSlot, settings: &Settings, master: Pid) {
    let period = interval(settings);
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            slot.beat(clock::monotonic_ms());
            if nix::unistd::getppid() != master {
                tracing::warn!("master is gone; worker exiting");
                std::process::exit(0);
            }
        }
    });
}
