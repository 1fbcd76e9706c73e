//! Token renewals across nodes: "at most one renewal per user per interval" is a key
//! `{fn}:{user}` (`{fn}` the `token_renewal` prefix) set with `SET NX PX`, so exactly one
//! request renews, whichever node it lands on; the key expires with the interval.

use std::sync::Arc;
use std::time::Duration;

use super::RedisConfig;
use super::pool::Pool;
use crate::coordination::Renewals;
use crate::storage::Result;

pub struct RedisRenewals {
    pool: Arc<Pool>,
    prefix: String,
    interval: Duration,
}

impl RedisRenewals {
    /// Fails when Redis cannot be reached.
    pub fn new(config: &RedisConfig, interval: Duration) -> Result<Self> {
        Ok(RedisRenewals {
            pool: super::pool(config)?,
            prefix: config.final_namespace("", "token_renewal"),
            interval,
        })
    }
}

impl Renewals for RedisRenewals {
    /// A Redis that cannot answer renews nothing: the client keeps its valid token.
    fn try_claim(&self, username: &str) -> bool {
        let key = format!("{}:{username}", self.prefix);
        let interval = self.interval.as_millis().max(1) as u64;
        // Claiming: not repeated when a reply is lost.
        let set = self.pool.run(false, |c| {
            redis::cmd("SET")
                .arg(&key)
                .arg(1)
                .arg("NX")
                .arg("PX")
                .arg(interval)
                .query::<Option<String>>(c)
        });
        match set {
            Ok(reply) => reply.is_some(),
            Err(error) => {
                tracing::warn!(%error, user = username, "token not renewed: Redis cannot record it");
                false
            }
        }
    }
}
