//! Coordination across nodes when document status is in Redis: what must be one per
//! workspace across every node (the pipeline claim, as a fenced lease, and the
//! pipeline-status board) is in Redis, and the rest stays with the node's own
//! coordination it wraps (the vector change counters, since vectors are each node's
//! own). Model-call permits and token renewals are not part of [`Coordination`] and stay
//! per node; the login throttle is [`super::RedisThrottle`].

use std::sync::Arc;

use super::RedisConfig;
use super::lease::{self, LeaseKeys, RedisClaim};
use super::pool::Pool;
use super::status_board::RedisStatusBoard;
use crate::coordination::{Claim, Coordination, Generations, StatusBoard};
use crate::storage::Result;

pub struct RedisCoordination {
    local: Arc<dyn Coordination>,
    pool: Arc<Pool>,
}

impl RedisCoordination {
    /// `local` answers what stays per node. Fails when Redis cannot be reached.
    pub fn new(local: Arc<dyn Coordination>, config: &RedisConfig) -> Result<Self> {
        Ok(RedisCoordination {
            local,
            pool: super::pool(config)?,
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
        self.local.generations(workspace)
    }
}
