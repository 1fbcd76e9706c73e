//! The change counters of every workspace's vector namespaces across nodes: a row of
//! ours per workspace and namespace, incremented by the writer, which notifies every
//! listener (`LISTEN/NOTIFY` on [`CHANNEL`]) in the same statement.
//!
//! [`Generations::current`] runs on every query, so it is a read of local atomics; one
//! listener thread per process moves them as notifications arrive. Notifications sent
//! while the listener was away are lost, so after every (re)connection, and every
//! [`FALLBACK_EVERY`] without one, it reads the tracked workspaces' rows again (a few
//! rows, never a data table).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postgres::Client;
use postgres::fallible_iterator::FallibleIterator;

use crate::storage::postgres::pool::Pool;
use crate::storage::{Generations, VectorNamespace};

pub(crate) const CHANNEL: &str = "lightrag_master_generations";
/// How long the listener waits for a notification before it reads the rows anyway.
pub(crate) const FALLBACK_EVERY: Duration = Duration::from_secs(10);
/// How long a reconnection waits after a failure.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// The next generation, and its notification: `generation namespace workspace`.
const BUMP: &str = "WITH b AS (INSERT INTO lightrag_master_generations AS g \
     (workspace, namespace, generation) VALUES ($1, $2, 1) \
     ON CONFLICT (workspace, namespace) DO UPDATE SET generation = g.generation + 1 \
     RETURNING generation) \
     SELECT b.generation FROM b \
     CROSS JOIN LATERAL pg_notify('lightrag_master_generations', \
       b.generation || ' ' || $2 || ' ' || $1)";

const ROWS: &str = "SELECT workspace, namespace, generation FROM lightrag_master_generations \
     WHERE workspace = ANY($1)";

fn namespace(name: &str) -> Option<VectorNamespace> {
    VectorNamespace::ALL
        .into_iter()
        .find(|ns| ns.as_str() == name)
}

/// One workspace's counters in this process: the node's own (the arena's, moved at
/// once for every worker of the node, and alone when PostgreSQL cannot be reached)
/// plus the largest generation seen in PostgreSQL. Both only grow, so their sum moves
/// whenever either does.
pub(crate) struct PgGenerations {
    workspace: String,
    pool: Arc<Pool>,
    local: Arc<dyn Generations>,
    shared: [AtomicU64; 3],
}

impl PgGenerations {
    fn seen(&self, namespace: VectorNamespace, generation: u64) {
        self.shared[namespace as usize].fetch_max(generation, Ordering::AcqRel);
    }
}

impl Generations for PgGenerations {
    fn current(&self, namespace: VectorNamespace) -> u64 {
        self.local.current(namespace) + self.shared[namespace as usize].load(Ordering::Acquire)
    }

    fn bump(&self, namespace: VectorNamespace) {
        self.local.bump(namespace);
        let bumped = self.pool.run(|c| {
            let row = c.query_one(BUMP, &[&self.workspace, &namespace.as_str()])?;
            Ok(row.get::<_, i64>(0) as u64)
        });
        match bumped {
            Ok(generation) => self.seen(namespace, generation),
            Err(error) => {
                tracing::warn!(workspace = %self.workspace, namespace = namespace.as_str(), %error, "change counter not shared; other nodes may serve stale caches");
            }
        }
    }
}

/// Every workspace's counters in this process, and the thread that keeps them current.
pub(crate) struct Listener {
    pool: Arc<Pool>,
    tracked: Mutex<HashMap<String, Arc<PgGenerations>>>,
    started: std::sync::Once,
}

impl Listener {
    pub(crate) fn new(pool: Arc<Pool>) -> Arc<Listener> {
        Arc::new(Listener {
            pool,
            tracked: Mutex::new(HashMap::new()),
            started: std::sync::Once::new(),
        })
    }

    /// `workspace`'s counters over the node's own `local` ones, read once now; the
    /// listener starts with the first.
    pub(crate) fn generations(
        self: &Arc<Self>,
        workspace: &str,
        local: impl FnOnce() -> Arc<dyn Generations>,
    ) -> Arc<PgGenerations> {
        let counters = {
            let mut tracked = self.tracked.lock().unwrap_or_else(|e| e.into_inner());
            tracked
                .entry(workspace.to_owned())
                .or_insert_with(|| {
                    Arc::new(PgGenerations {
                        workspace: workspace.to_owned(),
                        pool: self.pool.clone(),
                        local: local(),
                        shared: Default::default(),
                    })
                })
                .clone()
        };
        let names = vec![workspace.to_owned()];
        if let Err(error) = self.pool.run(|c| self.read_rows(c, &names)) {
            crate::log_unless_outage!(warn, &error, workspace, %error, "change counters not read");
        }
        self.started.call_once(|| {
            let listener = self.clone();
            let spawned = std::thread::Builder::new()
                .name("generations-listener".into())
                .spawn(move || listener.listen());
            if let Err(error) = spawned {
                tracing::error!(%error, "change-counter listener not started");
            }
        });
        counters
    }

    /// Moves the counters to the rows of `workspaces`.
    fn read_rows(&self, c: &mut Client, workspaces: &[String]) -> Result<(), postgres::Error> {
        for row in c.query(ROWS, &[&workspaces])? {
            self.apply(row.get(0), row.get(1), row.get::<_, i64>(2) as u64);
        }
        Ok(())
    }

    fn apply(&self, workspace: &str, namespace_name: &str, generation: u64) {
        let tracked = self.tracked.lock().unwrap_or_else(|e| e.into_inner());
        if let (Some(counters), Some(ns)) = (tracked.get(workspace), namespace(namespace_name)) {
            counters.seen(ns, generation);
        }
    }

    fn all_tracked(&self) -> Vec<String> {
        let tracked = self.tracked.lock().unwrap_or_else(|e| e.into_inner());
        tracked.keys().cloned().collect()
    }

    /// Listens for ever, reconnecting after any failure.
    fn listen(&self) {
        loop {
            if let Err(error) = self.listen_once() {
                crate::log_unless_outage!(warn, &error, %error, "change-counter listener lost its connection; reconnecting");
            }
            std::thread::sleep(RECONNECT_AFTER);
        }
    }

    fn listen_once(&self) -> crate::storage::Result<()> {
        let mut c = self.pool.dedicated()?;
        c.batch_execute(&format!(
            "{}; LISTEN {CHANNEL}",
            super::claim::SESSION_BOUNDS
        ))?;
        loop {
            // Whatever was sent before LISTEN took effect, or while away.
            self.read_rows(&mut c, &self.all_tracked())?;
            {
                let mut notifications = c.notifications();
                let mut iter = notifications.timeout_iter(FALLBACK_EVERY);
                while let Some(n) = FallibleIterator::next(&mut iter)? {
                    let mut parts = n.payload().splitn(3, ' ');
                    let generation = parts.next().and_then(|g| g.parse().ok());
                    if let (Some(generation), Some(ns), Some(ws)) =
                        (generation, parts.next(), parts.next())
                    {
                        self.apply(ws, ns, generation);
                    }
                }
            }
            c.is_valid(super::claim::PING_TIMEOUT)?;
        }
    }
}
