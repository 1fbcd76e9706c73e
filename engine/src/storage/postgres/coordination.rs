//! Coordination across nodes when document status is in PostgreSQL: everything that
//! must be one per workspace across every node is in the database.
//!
//! - [`claim`]: the pipeline claim, a session-level advisory lock on a connection of
//!   the holder's own (released by the server when the holder dies or is cut off) with
//!   a fencing token from a row of ours.
//! - [`status_board`]: `pipeline_status`, one row per workspace.
//! - [`generations`]: the vector change counters, rows moved by the writer and pushed
//!   to every node by `NOTIFY`, over the node's own counters.
//! - [`throttle`] and [`renewals`]: the login throttle and the token-renewal limit.
//!
//! Model-call permits (MAX_ASYNC) stay per node: see docs/differences.md.

mod claim;
mod generations;
mod renewals;
mod sessions;
mod status_board;
mod throttle;

use std::sync::Arc;

pub use renewals::PgRenewals;
pub use throttle::PgThrottle;

use super::PostgresConfig;
use super::pool::Pool;
use crate::coordination::{Claim, Coordination, Generations, StatusBoard};
use crate::storage::Result;
use claim::PgClaim;
use generations::Listener;
use sessions::Sessions;
use status_board::PgStatusBoard;

/// The key our rows use for LightRAG workspace `workspace`: the PostgreSQL workspace
/// its documents are stored under, so that two LightRAG workspaces sharing one
/// (POSTGRES_WORKSPACE) share one pipeline too.
pub(crate) fn scope(config: &PostgresConfig, workspace: &str) -> String {
    config.effective_workspace(workspace)
}

pub struct PgCoordination {
    /// The node's own coordination, under the change counters.
    local: Arc<dyn Coordination>,
    config: PostgresConfig,
    pool: Arc<Pool>,
    sessions: Arc<Sessions>,
    listener: Arc<Listener>,
}

impl PgCoordination {
    /// `local` is the node's own coordination. Fails when PostgreSQL cannot be reached.
    pub fn new(local: Arc<dyn Coordination>, config: &PostgresConfig) -> Result<Self> {
        let pool = Pool::shared(config)?;
        Ok(PgCoordination {
            local,
            config: config.clone(),
            sessions: Arc::new(Sessions::new(pool.clone())),
            listener: Listener::new(pool.clone()),
            pool,
        })
    }
}

impl Coordination for PgCoordination {
    fn claim(&self, workspace: &str) -> Option<Claim> {
        let scope = scope(&self.config, workspace);
        PgClaim::take(self.sessions.clone(), &scope).map(|c| Box::new(c) as Claim)
    }

    /// A PostgreSQL that cannot answer counts as busy: nothing then takes the job for
    /// dead.
    fn pipeline_busy(&self, workspace: &str) -> bool {
        let scope = scope(&self.config, workspace);
        let sql = claim::held_sql();
        self.pool
            .run(|c| Ok(c.query_one(sql.as_str(), &[&scope])?.get::<_, bool>(0)))
            .unwrap_or(true)
    }

    fn board(&self, workspace: &str) -> Arc<dyn StatusBoard> {
        let scope = scope(&self.config, workspace);
        Arc::new(PgStatusBoard::new(self.pool.clone(), scope))
    }

    fn generations(&self, workspace: &str) -> Arc<dyn Generations> {
        let local = || self.local.generations(workspace);
        self.listener
            .generations(&scope(&self.config, workspace), local)
    }
}
