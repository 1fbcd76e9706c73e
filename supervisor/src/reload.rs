//! HUP, make-before-break: re-read flags, environment and `.env`, boot a new generation
//! beside the serving one, and retire the old generation only when every new worker is
//! ready. If the new configuration does not load, nothing changes; if a new worker fails
//! to boot or the generation misses its boot deadline, the new workers are killed and
//! the previous configuration and socket come back ([`Rollback`]).
//!
//! Gunicorn instead stops the old workers as soon as the new ones are forked, and keeps
//! a broken configuration it cannot roll back.

use std::ffi::OsString;
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use lightrag_config::{Environment, Settings};

use crate::fleet::{Fleet, Observed, Order, Phase};
use crate::fork_safety;
use crate::listener;
use crate::logging;
use crate::privileges::Credentials;
use crate::tls;

/// Boot budget of a reload's new generation when the heartbeat watchdog is off.
const DEFAULT_BOOT_TIMEOUT: Duration = Duration::from_secs(60);

/// The configuration a reload switches to.
pub(crate) struct Prepared {
    pub settings: Settings,
    /// A socket on the new address, if the address changed.
    pub listener: Option<TcpListener>,
}

/// What a reload replaced, kept until the new generation is up.
pub(crate) struct Rollback {
    pub settings: Box<Settings>,
    /// The socket moved away from; `None` if the address stayed.
    pub listener: Option<TcpListener>,
}

/// Loads the configuration as a fresh start would, and binds the new address if it
/// changed. The error is the reason to keep the current configuration.
pub(crate) fn prepare(
    current: &Settings,
    args: &[OsString],
    cwd: &Path,
    credentials: Option<Credentials>,
) -> Result<Prepared, String> {
    let env = Environment::capture(cwd).map_err(|e| e.to_string())?;
    let settings = Settings::load(args.iter().cloned(), &env).map_err(|e| e.to_string())?;
    // A bad new certificate refuses the reload: the serving workers keep theirs.
    tls::check(&settings)?;
    fork_safety::check(fork_safety::Os::current(), settings.workers, |name| {
        env.get(name).map(|(v, _)| v.to_owned())
    })
    .map_err(|e| e.to_string())?;
    let resolved = Credentials::resolve(settings.user.as_deref(), settings.group.as_deref())
        .map_err(|e| e.to_string())?;
    if resolved != credentials {
        return Err("WORKER_USER/WORKER_GROUP cannot change on reload".to_owned());
    }
    let listener = if settings.bind_address() != current.bind_address() {
        Some(
            listener::bind(&settings.bind_address(), settings.backlog)
                .map_err(|e| e.to_string())?,
        )
    } else {
        None
    };
    Ok(Prepared { settings, listener })
}

/// How long the new generation of `settings` may take to become ready.
pub(crate) fn boot_timeout(settings: &Settings) -> Duration {
    settings.worker_timeout.unwrap_or(DEFAULT_BOOT_TIMEOUT)
}

impl Rollback {
    /// Puts the previous configuration and socket back; returns its worker count.
    pub fn restore(self, settings: &mut Settings, socket: &mut Option<TcpListener>) -> usize {
        if let Some(old) = self.listener {
            *socket = Some(old);
        }
        if let Err(e) = logging::configure(&self.settings) {
            tracing::error!(error = %e, "cannot restore the previous log file");
        }
        *settings = *self.settings;
        settings.workers
    }
}

/// Where a reload stands after a turn.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Progress {
    /// No reload, or the new generation is still booting.
    Pending,
    /// Every new worker is ready; `orders` stop the older generations.
    Switched {
        generation: u64,
        workers: usize,
        orders: Vec<Order>,
    },
    /// The new generation missed its deadline: roll back.
    Overdue,
}

impl<P: Observed> Fleet<P> {
    /// Starts a generation of `target` workers that must be ready by `deadline`. Only
    /// while running (see [`Fleet::is_running`]); the orders spawn the new workers.
    pub fn begin_reload(&mut self, target: usize, deadline: Instant) -> Vec<Order> {
        self.generation += 1;
        self.target = target;
        self.phase = Phase::Reloading {
            generation: self.generation,
            deadline,
        };
        vec![Order::Spawn { replacing: None }; target]
    }

    /// Switches to the new generation once it is all ready.
    pub fn reload_progress(&mut self, now: Instant) -> Progress {
        let Phase::Reloading {
            generation,
            deadline,
        } = self.phase
        else {
            return Progress::Pending;
        };
        let ready = self
            .members
            .iter()
            .filter(|m| m.generation == generation && m.ready)
            .count();
        if ready >= self.target {
            let orders = self
                .members
                .iter_mut()
                .filter(|m| m.generation < generation)
                .filter_map(|m| m.request_stop(now))
                .collect();
            self.phase = Phase::Running;
            Progress::Switched {
                generation,
                workers: ready,
                orders,
            }
        } else if now >= deadline {
            Progress::Overdue
        } else {
            Progress::Pending
        }
    }

    /// Abandons the new generation (SIGKILL: it never served) and goes back to
    /// `target` workers of the old one.
    pub fn roll_back(&mut self, target: usize, now: Instant) -> Vec<Order> {
        let Phase::Reloading { generation, .. } = self.phase else {
            return Vec::new();
        };
        self.phase = Phase::Running;
        self.target = target;
        self.members
            .iter_mut()
            .filter(|m| m.generation == generation)
            .map(|m| {
                m.stop_sent = Some(now);
                Order::Signal(m.pid, nix::sys::signal::Signal::SIGKILL)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use nix::sys::signal::Signal::{SIGKILL, SIGTERM};

    use super::Progress;
    use crate::fleet::fake::Master;
    use crate::fleet::{Order, Outcome};

    const BUDGET: Duration = Duration::from_secs(60);

    /// A booted master of `old` workers, reloading to `new`; returns both pid sets.
    fn reloading(old: usize, new: usize) -> (Master, Vec<nix::unistd::Pid>, Vec<nix::unistd::Pid>) {
        let mut master = Master::new(old);
        let old = master.boot();
        let orders = master.fleet.begin_reload(new, master.now + BUDGET);
        let new = master.carry_out(orders);
        (master, old, new)
    }

    #[test]
    fn the_old_generation_stops_only_once_every_new_worker_is_ready() {
        let (mut master, old, new) = reloading(2, 3);
        assert_eq!(new.len(), 3);
        assert!(!master.fleet.is_running(), "a second HUP is refused");
        assert_eq!(master.fleet.generation(), 2);
        assert!(master.manage().is_empty());
        assert_eq!(master.fleet.reload_progress(master.now), Progress::Pending);
        master.ready(new[0]);
        master.ready(new[1]);
        assert_eq!(master.fleet.reload_progress(master.now), Progress::Pending);
        assert!(
            master.take_signals().is_empty(),
            "the old generation still serves"
        );

        master.ready(new[2]);
        let Progress::Switched {
            generation,
            workers,
            orders,
        } = master.fleet.reload_progress(master.now)
        else {
            panic!("switched")
        };
        assert_eq!((generation, workers), (2, 3));
        assert_eq!(
            orders,
            vec![
                Order::Signal(old[0], SIGTERM),
                Order::Signal(old[1], SIGTERM)
            ]
        );
        assert!(master.fleet.is_running());
        master.carry_out(orders);
        for pid in old {
            assert_eq!(master.exit(pid, 0), Outcome::Stopped);
        }
        assert!(
            master.manage().is_empty(),
            "the new generation is the target"
        );
        assert_eq!(master.pids(), new);
    }

    #[test]
    fn a_new_worker_that_fails_to_boot_rolls_the_reload_back() {
        let (mut master, old, new) = reloading(2, 3);
        master.ready(new[1]);
        assert_eq!(master.exit(new[0], 3), Outcome::ReloadFailed);
        let orders = master.fleet.roll_back(2, master.now);
        assert_eq!(
            orders,
            vec![
                Order::Signal(new[1], SIGKILL),
                Order::Signal(new[2], SIGKILL)
            ],
            "only the new generation goes"
        );
        master.carry_out(orders);
        master.take_signals();
        assert!(master.fleet.is_running());
        assert_eq!(master.fleet.target(), 2);
        assert_eq!(master.exit(new[1], 0), Outcome::Stopped);
        assert_eq!(master.exit(new[2], 0), Outcome::Stopped);
        assert!(master.manage().is_empty(), "the old generation is whole");
        assert_eq!(master.pids(), old);
        assert!(
            master.take_signals().is_empty(),
            "nothing stops the old generation"
        );
    }

    #[test]
    fn a_new_generation_that_misses_its_deadline_is_overdue() {
        let (mut master, _, new) = reloading(1, 1);
        master.advance(BUDGET - Duration::from_millis(1));
        assert_eq!(master.fleet.reload_progress(master.now), Progress::Pending);
        master.advance(Duration::from_millis(1));
        assert_eq!(master.fleet.reload_progress(master.now), Progress::Overdue);
        assert_eq!(
            master.fleet.roll_back(1, master.now),
            vec![Order::Signal(new[0], SIGKILL)]
        );
    }

    #[test]
    fn an_old_worker_that_dies_during_a_reload_is_not_respawned() {
        let (mut master, old, new) = reloading(2, 2);
        master.advance(Duration::from_secs(5));
        assert!(matches!(master.exit(old[0], 255), Outcome::Died { .. }));
        assert!(master.manage().is_empty(), "the new generation takes over");
        master.ready(new[0]);
        master.ready(new[1]);
        assert!(matches!(
            master.fleet.reload_progress(master.now),
            Progress::Switched { orders, .. } if orders == vec![Order::Signal(old[1], SIGTERM)]
        ));
    }
}
