//! The login throttle across nodes: failed logins per client address and user name are
//! a row of ours with the end of its window, so the limit holds whichever node a login
//! lands on.
//!
//! As on one node, an attempt is counted before its password is verified, in the one
//! statement that checks the limit (an upsert, which locks the row against concurrent
//! attempts); a success deletes the row. The window is fixed: it starts with the first
//! failure. Times are the database's, so nodes with skewed clocks agree.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::coordination::{Locked, LoginThrottle};
use crate::storage::Result;
use crate::storage::postgres::PostgresConfig;
use crate::storage::postgres::pool::Pool;

/// Counts the attempt (a new window when the last one ended) and returns the count
/// with the milliseconds left of the window: a count over the limit is refused.
const RESERVE: &str = "INSERT INTO lightrag_master_login_failures AS f \
     (client, username, failures, window_end) \
     VALUES ($1, $2, 1, clock_timestamp() + $3::int8 * interval '1 millisecond') \
     ON CONFLICT (client, username) DO UPDATE SET \
       failures = CASE WHEN f.window_end <= clock_timestamp() THEN 1 ELSE f.failures + 1 END, \
       window_end = CASE WHEN f.window_end <= clock_timestamp() THEN EXCLUDED.window_end \
         ELSE f.window_end END \
     RETURNING failures, \
       ceil(extract(epoch FROM window_end - clock_timestamp()) * 1000)::int8";

const CLEAR: &str =
    "DELETE FROM lightrag_master_login_failures WHERE client = $1 AND username = $2";

/// Ended windows are deleted once every this many reservations of a process.
const SWEEP_EVERY: u32 = 256;
const SWEEP: &str =
    "DELETE FROM lightrag_master_login_failures WHERE window_end < clock_timestamp()";

/// How long a client is told to wait when PostgreSQL cannot keep the record.
const UNRECORDED: Locked = Locked {
    retry_after_secs: 5,
};

pub struct PgThrottle {
    pool: Arc<Pool>,
    max_failures: u32,
    window: Duration,
    reservations: AtomicU32,
}

impl PgThrottle {
    /// `max_failures` 0 turns throttling off. Fails when PostgreSQL cannot be reached.
    pub fn new(config: &PostgresConfig, max_failures: u32, window: Duration) -> Result<Self> {
        Ok(PgThrottle {
            pool: Pool::shared(config)?,
            max_failures,
            window,
            reservations: AtomicU32::new(0),
        })
    }

    fn sweep(&self) {
        if self.reservations.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1
            && let Err(error) = self.pool.run(|c| c.execute(SWEEP, &[]).map(drop))
        {
            tracing::warn!(%error, "ended login-throttle windows not deleted");
        }
    }
}

impl LoginThrottle for PgThrottle {
    fn reserve(&self, client: IpAddr, username: &str) -> std::result::Result<(), Locked> {
        if self.max_failures == 0 {
            return Ok(());
        }
        self.sweep();
        let client = client.to_string();
        let window = self.window.as_millis() as i64;
        let counted = self.pool.run(|c| {
            let row = c.query_one(RESERVE, &[&client, &username, &window])?;
            Ok((row.get::<_, i32>(0), row.get::<_, i64>(1)))
        });
        match counted {
            Ok((failures, _)) if failures as u32 <= self.max_failures => Ok(()),
            Ok((_, left_ms)) => Err(Locked {
                retry_after_secs: (left_ms.max(1) as u64).div_ceil(1000),
            }),
            Err(error) => {
                tracing::warn!(%error, "login refused: the throttle cannot record it");
                Err(UNRECORDED)
            }
        }
    }

    fn record_success(&self, client: IpAddr, username: &str) {
        if self.max_failures == 0 {
            return;
        }
        let client = client.to_string();
        if let Err(error) = self
            .pool
            .run(|c| c.execute(CLEAR, &[&client, &username]).map(drop))
        {
            tracing::warn!(%error, "login throttle record not cleared");
        }
    }
}
