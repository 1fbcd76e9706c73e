//! Coordination across nodes when document status is in Redis: what must be one per
//! workspace across every node (the pipeline claim, as a fenced lease, and the
//! pipeline-status board) is in Redis, and the change counters that tell caches to
//! reload are announced through it ([`super::generations`]) over the node's own ones,
//! which this wraps. Model-call permits are not part of [`Coordination`] and stay per
//! node; the login throttle is [`super::RedisThrottle`], token renewals
//! [`super::RedisRenewals`].

use std::sync::Arc;

use super::RedisConfig;
use super::generations::Hub;
use super::lease::{self, LeaseKeys, RedisClaim};
use super::pool::Pool;
use super::status_board::RedisStatusBoard;
use crate::coordination::{Claim, Coordination, Generations, StatusBoard};
use crate::storage::Result;

pub struct RedisCoordination {
    local: Arc<dyn Coordination>,
    pool: Arc<Pool>,
    /// This process's subscription to every node's cache-generation announcements.
    hub: Arc<Hub>,
}

impl RedisCoordination {
    /// `local` answers what stays per node. Fails when Redis cannot be reached. Starts
    /// a thread that follows the other nodes' writes (one per instance: each stands for
    /// a node).
    pub fn new(local: Arc<dyn Coordination>, config: &RedisConfig) -> Result<Self> {
        let pool = super::pool(config)?;
        Ok(RedisCoordination {
            local,
            hub: Hub::start(pool.clone(), pool.client()),
            pool,
        })
    }

    fn keys(&self, workspace: &str) -> LeaseKeys {
        let config = self.pool.config();
        LeaseKeys {
            lease: config.final_namespace(workspace, "pipeline_lease"),
            fence: config.final_namespace(workspace, "pipeline_fence"),
        }
    }
}

impl Coordination for RedisCoordination {
    fn claim(&self, workspace: &str) -> Option<Claim> {
        RedisClaim::take(self.pool.clone(), self.keys(workspace)).map(|c| Box::new(c) as Claim)
    }

    /// A Redis that cannot answer counts as busy: nothing then takes the job for dead.
    fn pipeline_busy(&self, workspace: &str) -> bool {
        lease::held(&self.pool, &self.keys(workspace)).unwrap_or(true)
    }

    fn board(&self, workspace: &str) -> Arc<dyn StatusBoard> {
        let key = self
            .pool
            .config()
            .final_namespace(workspace, "pipeline_status");
        Arc::new(RedisStatusBoard::new(self.pool.clone(), key))
    }

    fn generations(&self, workspace: &str) -> Arc<dyn Generations> {
        let prefix = self
            .pool
            .config()
            .final_namespace(workspace, "cache_generation");
        Arc::new(self.hub.follow(&prefix, self.local.generations(workspace)))
    }
}
