//! The login throttle across nodes: failed logins per client address and user name are
//! a counter `{fn}:{client} {user}` (`{fn}` the `login_throttle` prefix; an address has
//! no space, so keys cannot collide) that expires with its window, so the limit holds
//! whichever node a login lands on.
//!
//! As on one node, an attempt is counted before its password is verified, in the same
//! script that checks the limit; a success deletes the counter. The window is fixed: it
//! starts with the first failure.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::RedisConfig;
use super::pool::Pool;
use crate::coordination::{Locked, LoginThrottle};
use crate::storage::Result;

/// The milliseconds left of the lockout when the limit is used up (at least 1), else
/// 0 with the attempt counted.
const RESERVE: &str = r"
local failures = tonumber(redis.call('GET', KEYS[1]) or '0')
if failures >= tonumber(ARGV[1]) then
  return math.max(redis.call('PTTL', KEYS[1]), 1)
end
if redis.call('INCR', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0";

/// How long a client is told to wait when Redis cannot keep the record.
const UNRECORDED: Locked = Locked {
    retry_after_secs: 5,
};

pub struct RedisThrottle {
    pool: Arc<Pool>,
    prefix: String,
    max_failures: u32,
    window: Duration,
}

impl RedisThrottle {
    /// `max_failures` 0 turns throttling off. Fails when Redis cannot be reached.
    pub fn new(config: &RedisConfig, max_failures: u32, window: Duration) -> Result<Self> {
        Ok(RedisThrottle {
            pool: super::pool(config)?,
            prefix: config.final_namespace("", "login_throttle"),
            max_failures,
            window,
        })
    }

    fn key(&self, client: IpAddr, username: &str) -> String {
        format!("{}:{client} {username}", self.prefix)
    }
}

impl LoginThrottle for RedisThrottle {
    fn reserve(&self, client: IpAddr, username: &str) -> std::result::Result<(), Locked> {
        if self.max_failures == 0 {
            return Ok(());
        }
        let key = self.key(client, username);
        let window = self.window.as_millis() as u64;
        // Counting: not repeated when a reply is lost.
        let left = self.pool.run(false, |c| {
            redis::cmd("EVAL")
                .arg(RESERVE)
                .arg(1)
                .arg(&key)
                .arg(self.max_failures)
                .arg(window)
                .query::<u64>(c)
        });
        match left {
            Ok(0) => Ok(()),
            Ok(ms) => Err(Locked {
                retry_after_secs: ms.div_ceil(1000),
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
        let key = self.key(client, username);
        if let Err(error) = self
            .pool
            .run(true, |c| redis::cmd("DEL").arg(&key).query::<()>(c))
        {
            tracing::warn!(%error, "login throttle record not cleared");
        }
    }
}
