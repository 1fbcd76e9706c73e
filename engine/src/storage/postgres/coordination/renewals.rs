//! "At most one token renewal per user per interval" across nodes: a row of ours per
//! user with the time of its last renewal, moved by an upsert whose condition is the
//! interval, so exactly one of several racing nodes gets a row back. Times are the
//! database's.

use std::sync::Arc;
use std::time::Duration;

use crate::coordination::Renewals;
use crate::storage::Result;
use crate::storage::postgres::PostgresConfig;
use crate::storage::postgres::pool::Pool;

const CLAIM: &str = "INSERT INTO lightrag_master_token_renewals AS r (username, renewed_at) \
     VALUES ($1, clock_timestamp()) ON CONFLICT (username) DO UPDATE \
     SET renewed_at = clock_timestamp() \
     WHERE r.renewed_at <= clock_timestamp() - $2::int8 * interval '1 millisecond' \
     RETURNING 1";

pub struct PgRenewals {
    pool: Arc<Pool>,
    interval: Duration,
}

impl PgRenewals {
    /// Fails when PostgreSQL cannot be reached.
    pub fn new(config: &PostgresConfig, interval: Duration) -> Result<Self> {
        Ok(PgRenewals {
            pool: Pool::shared(config)?,
            interval,
        })
    }
}

impl Renewals for PgRenewals {
    /// A PostgreSQL that cannot answer renews nothing: the token stays valid until it
    /// expires, and the next request asks again.
    fn try_claim(&self, username: &str) -> bool {
        let interval = self.interval.as_millis() as i64;
        self.pool
            .run(|c| Ok(c.query_opt(CLAIM, &[&username, &interval])?.is_some()))
            .unwrap_or_else(|error| {
                tracing::warn!(user = username, %error, "token not renewed: PostgreSQL did not answer");
                false
            })
    }
}
