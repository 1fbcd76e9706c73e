use std::time::Duration;

use nix::sys::signal::Signal::{SIGABRT, SIGKILL, SIGQUIT, SIGTERM};

use super::fake::Master;
use super::{Order, Outcome};
use crate::arena::{MAX_WORKERS, SlotState};
use crate::spawn::{APP_LOAD_ERROR, WORKER_BOOT_ERROR};

const LONG_LIFE: Duration = Duration::from_secs(5);
const QUICK_DEATH: Duration = Duration::from_millis(10);

#[test]
fn the_first_generation_counts_as_up_only_once_every_worker_is_ready() {
    let mut master = Master::new(3);
    let pids = master.manage();
    assert_eq!(pids.len(), 3);
    assert!(master.manage().is_empty(), "booting workers count");
    master.set_state(pids[0], SlotState::Ready);
    master.set_state(pids[1], SlotState::Ready);
    assert!(!master.fleet.note_readiness());
    master.set_state(pids[2], SlotState::Ready);
    assert!(master.fleet.note_readiness());
    assert!(!master.fleet.note_readiness(), "reported once");
    assert_eq!(master.fleet.serving(), 3);
    assert!(!master.fleet.is_converging());
}

#[test]
fn a_worker_that_dies_is_replaced_at_once() {
    let mut master = Master::new(2);
    let pids = master.boot();
    master.advance(LONG_LIFE);
    let outcome = master.exit(pids[0], 255);
    assert_eq!(
        outcome,
        Outcome::Died {
            lived: LONG_LIFE,
            delay: None
        }
    );
    let respawned = master.manage();
    assert_eq!(respawned.len(), 1);
    assert_eq!(master.pids(), vec![pids[1], respawned[0]]);
    assert!(master.take_signals().is_empty());
}

#[test]
fn a_crash_loop_waits_longer_before_each_respawn() {
    let mut master = Master::new(1);
    let mut pid = master.boot()[0];
    master.advance(QUICK_DEATH);
    assert!(matches!(
        master.exit(pid, 255),
        Outcome::Died { delay: None, .. }
    ));
    pid = master.manage()[0];
    master.advance(QUICK_DEATH);
    assert_eq!(
        master.exit(pid, 255),
        Outcome::Died {
            lived: QUICK_DEATH,
            delay: Some(Duration::from_millis(100))
        }
    );
    assert!(master.manage().is_empty(), "the respawn waits");
    master.advance(Duration::from_millis(99));
    assert!(master.manage().is_empty());
    master.advance(Duration::from_millis(1));
    pid = master.manage()[0];
    master.advance(QUICK_DEATH);
    assert!(matches!(
        master.exit(pid, 255),
        Outcome::Died { delay: Some(d), .. } if d == Duration::from_millis(200)
    ));
    master.advance(Duration::from_millis(200));
    pid = master.manage()[0];
    master.advance(LONG_LIFE);
    assert!(
        matches!(master.exit(pid, 255), Outcome::Died { delay: None, .. }),
        "a worker that lived resets the back-off"
    );
    assert_eq!(master.manage().len(), 1);
}

#[test]
fn a_boot_failure_before_the_first_generation_is_up_halts_with_its_code() {
    let mut master = Master::new(2);
    let pids = master.manage();
    assert_eq!(
        master.exit(pids[0], APP_LOAD_ERROR),
        Outcome::BootFailed {
            exit: APP_LOAD_ERROR
        }
    );
    assert_eq!(
        master.exit(pids[1], 1),
        Outcome::BootFailed {
            exit: WORKER_BOOT_ERROR
        }
    );

    let mut master = Master::new(1);
    master.boot();
    let extra = {
        master.fleet.grow();
        master.manage()[0]
    };
    assert!(
        matches!(master.exit(extra, 3), Outcome::Died { .. }),
        "once up, a worker that fails to boot is only replaced"
    );
    assert_eq!(master.manage().len(), 1);
}

#[test]
fn ttou_stops_the_oldest_worker_and_never_the_last() {
    let mut master = Master::new(3);
    let first = master.boot();
    master.advance(LONG_LIFE);
    master.exit(first[0], 255);
    let young = master.manage()[0];
    master.ready(young);

    assert_eq!(master.fleet.shrink(), Some(3));
    master.manage();
    assert_eq!(master.take_signals(), vec![(first[1], SIGTERM)]);
    master.manage();
    assert!(master.take_signals().is_empty(), "asked once");
    assert_eq!(master.exit(first[1], 0), Outcome::Stopped);
    assert!(
        master.manage().is_empty(),
        "a stopped worker is not replaced"
    );

    assert_eq!(master.fleet.shrink(), Some(2));
    master.manage();
    assert_eq!(master.take_signals(), vec![(first[2], SIGTERM)]);
    assert_eq!(master.fleet.shrink(), None);
    assert_eq!(master.fleet.target(), 1);
    master.manage();
    assert!(master.take_signals().is_empty());
    assert_eq!(master.fleet.serving(), 1);
}

#[test]
fn ttin_adds_a_worker_up_to_the_limit() {
    let mut master = Master::new(1);
    master.boot();
    assert_eq!(master.fleet.grow(), Some(1));
    assert_eq!(master.manage().len(), 1);
    master.fleet.set_target(MAX_WORKERS / 2);
    assert_eq!(master.fleet.grow(), None);
    assert_eq!(master.fleet.target(), MAX_WORKERS / 2);
}

#[test]
fn recycling_starts_the_replacement_before_stopping_the_worker() {
    let mut master = Master::new(2);
    let pids = master.boot();
    let (old, other) = (pids[0], pids[1]);
    master.set_state(old, SlotState::Retiring);
    let orders = master.fleet.recycle(master.now);
    assert_eq!(
        orders,
        vec![Order::Spawn {
            replacing: Some(old)
        }]
    );
    let replacement = master.carry_out(orders)[0];
    assert!(
        master.manage().is_empty(),
        "the replacement counts for the old one"
    );
    assert!(master.take_signals().is_empty());
    assert!(master.fleet.is_converging());

    // The first replacement dies before it is ready: another one is started.
    master.advance(LONG_LIFE);
    master.exit(replacement, 255);
    assert!(
        master.manage().is_empty(),
        "the retiring worker still serves"
    );
    let orders = master.fleet.recycle(master.now);
    let replacement = master.carry_out(orders)[0];
    assert!(master.fleet.recycle(master.now).is_empty(), "still booting");
    assert!(
        master.take_signals().is_empty(),
        "nothing stops before it is ready"
    );

    master.ready(replacement);
    let orders = master.fleet.recycle(master.now);
    master.carry_out(orders);
    assert_eq!(master.take_signals(), vec![(old, SIGTERM)]);
    assert_eq!(master.exit(old, 0), Outcome::Stopped);
    assert_eq!(master.pids(), vec![other, replacement]);
    assert!(master.manage().is_empty());
    assert!(!master.fleet.is_converging());
}

#[test]
fn the_watchdog_aborts_a_silent_worker_then_kills_it() {
    let timeout = Some(Duration::from_secs(30));
    let mut master = Master::new(2);
    let pids = master.boot();
    master.advance(Duration::from_secs(20));
    master.beat(pids[1]);
    master.watch(timeout);
    assert!(master.take_signals().is_empty());
    master.advance(Duration::from_secs(11));
    master.watch(timeout);
    assert_eq!(master.take_signals(), vec![(pids[0], SIGABRT)]);
    master.watch(timeout);
    assert!(master.take_signals().is_empty(), "aborted once");
    master.advance(Duration::from_secs(1));
    master.watch(timeout);
    assert_eq!(master.take_signals(), vec![(pids[0], SIGKILL)]);
    master.advance(Duration::from_secs(1));
    master.watch(timeout);
    assert!(master.take_signals().is_empty(), "killed once");

    master.advance(Duration::from_secs(3600));
    master.watch(None);
    assert!(master.take_signals().is_empty(), "no timeout, no watchdog");
}

#[test]
fn a_graceful_stop_kills_what_outlives_its_budget() {
    let mut master = Master::new(2);
    let pids = master.boot();
    let orders = master.fleet.stop(true, master.now, Duration::from_secs(30));
    master.carry_out(orders.expect("a stop"));
    assert_eq!(
        master.take_signals(),
        vec![(pids[0], SIGTERM), (pids[1], SIGTERM)]
    );
    assert!(
        master
            .fleet
            .stop(true, master.now, Duration::from_secs(30))
            .is_none()
    );
    assert_eq!(master.exit(pids[0], 0), Outcome::Stopped);
    assert!(
        master.manage().is_empty(),
        "nothing respawns while stopping"
    );
    master.advance(Duration::from_secs(29));
    master.watch(None);
    assert!(master.take_signals().is_empty());
    master.advance(Duration::from_secs(1));
    master.watch(None);
    assert_eq!(master.take_signals(), vec![(pids[1], SIGKILL)]);
    assert!(!master.fleet.is_done());
    master.exit(pids[1], 0);
    assert!(master.fleet.is_done());
}

#[test]
fn a_quick_stop_takes_over_a_graceful_one() {
    let mut master = Master::new(1);
    let pid = master.boot()[0];
    let graceful = master.fleet.stop(true, master.now, Duration::from_secs(30));
    master.carry_out(graceful.unwrap());
    let quick = master
        .fleet
        .stop(false, master.now, Duration::from_secs(30));
    master.carry_out(quick.expect("a quick stop is never ignored"));
    assert_eq!(master.take_signals(), vec![(pid, SIGTERM), (pid, SIGQUIT)]);
    master.advance(Duration::from_secs(2));
    master.watch(None);
    assert_eq!(master.take_signals(), vec![(pid, SIGKILL)]);
}
