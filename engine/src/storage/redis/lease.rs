//! A workspace's pipeline claim across nodes: a lease key in Redis holding the
//! holder's fencing token, with a time to live so a node that dies (SIGKILL, power)
//! loses it within [`LEASE_TTL`] and a survivor resumes its documents.
//!
//! The token comes from `INCR` of a per-workspace counter that is never reset, so
//! every claim's token is larger than every earlier one. The holder renews the lease
//! every [`RENEW_EVERY`] from a thread of its own; renewal, release and the
//! still-held check all compare the token first (Lua), so a holder whose lease lapsed
//! and was taken can neither extend nor delete its successor's, and sees that it must
//! stop writing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use super::pool::Pool;
use crate::coordination::PipelineClaim;

/// How long a lease outlives its holder's last renewal.
pub const LEASE_TTL: Duration = Duration::from_secs(10);
/// How often the holder renews: three renewals may fail before the lease lapses.
pub const RENEW_EVERY: Duration = Duration::from_secs(3);

/// Takes the lease when free: the next fencing number, set with `NX PX`.
const CLAIM: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token, 'NX', 'PX', ARGV[1])
return token";

/// Extends the lease if `ARGV[1]` still holds it.
const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0";

/// Deletes the lease if `ARGV[1]` still holds it.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0";

/// Whether `ARGV[1]` holds the lease.
const HELD: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end
return 0";

/// The lease and fencing-counter keys of one workspace.
#[derive(Clone)]
pub(crate) struct LeaseKeys {
    pub(crate) lease: String,
    pub(crate) fence: String,
}

/// A held lease; dropping it stops the renewals and releases it.
pub(crate) struct RedisClaim {
    pool: Arc<Pool>,
    keys: LeaseKeys,
    token: u64,
    /// Set by the renewer when a renewal found the lease gone or taken.
    lost: Arc<AtomicBool>,
    /// Dropped to stop the renewer.
    stop: Option<mpsc::Sender<()>>,
}

/// Runs `script` over the workspace's keys; only the claim (it counts) is not repeated
/// when its reply is lost.
fn run(pool: &Pool, script: &str, keys: &LeaseKeys, args: &[u64]) -> crate::storage::Result<u64> {
    pool.run(script != CLAIM, |c| {
        redis::cmd("EVAL")
            .arg(script)
            .arg(2)
            .arg(&keys.lease)
            .arg(&keys.fence)
            .arg(args)
            .query(c)
    })
}

/// Whether a live holder has the lease.
pub(crate) fn held(pool: &Pool, keys: &LeaseKeys) -> crate::storage::Result<bool> {
    pool.run(true, |c| {
        redis::cmd("EXISTS").arg(&keys.lease).query::<bool>(c)
    })
}

impl RedisClaim {
    /// Takes the lease unless somebody holds it; None too when Redis cannot answer
    /// (another node may hold it).
    pub(crate) fn take(pool: Arc<Pool>, keys: LeaseKeys) -> Option<RedisClaim> {
        let ttl = LEASE_TTL.as_millis() as u64;
        let token = match run(&pool, CLAIM, &keys, &[ttl]) {
            Ok(0) => return None,
            Ok(token) => token,
            Err(error) => {
                crate::log_unless_outage!(warn, &error, lease = %keys.lease, %error, "pipeline lease not taken: Redis did not answer");
                return None;
            }
        };
        tracing::info!(lease = %keys.lease, token, "pipeline lease taken");
        let lost = Arc::new(AtomicBool::new(false));
        let (stop, stopped) = mpsc::channel::<()>();
        {
            let (pool, keys, lost) = (pool.clone(), keys.clone(), lost.clone());
            std::thread::Builder::new()
                .name("lease-renewer".into())
                .spawn(move || renew(&pool, &keys, token, &lost, &stopped))
                .ok()?;
        }
        Some(RedisClaim {
            pool,
            keys,
            token,
            lost,
            stop: Some(stop),
        })
    }
}

/// Renews until told to stop or the lease is found lost; a Redis that does not answer
/// is asked again at the next period (the check before each write decides).
fn renew(
    pool: &Pool,
    keys: &LeaseKeys,
    token: u64,
    lost: &AtomicBool,
    stopped: &mpsc::Receiver<()>,
) {
    let ttl = LEASE_TTL.as_millis() as u64;
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(RENEW_EVERY) {
        match run(pool, RENEW, keys, &[token, ttl]) {
            Ok(0) => {
                tracing::warn!(lease = %keys.lease, token, "pipeline lease lost");
                lost.store(true, Ordering::Release);
                return;
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(lease = %keys.lease, token, %error, "pipeline lease not renewed")
            }
        }
    }
}

impl PipelineClaim for RedisClaim {
    fn token(&self) -> u64 {
        self.token
    }

    /// Asks Redis: a holder that cannot tell whether it still holds the lease stops.
    fn still_held(&self) -> bool {
        !self.lost.load(Ordering::Acquire)
            && run(&self.pool, HELD, &self.keys, &[self.token]).is_ok_and(|held| held == 1)
    }
}

impl Drop for RedisClaim {
    fn drop(&mut self) {
        self.stop.take();
        match run(&self.pool, RELEASE, &self.keys, &[self.token]) {
            Ok(_) => {
                tracing::info!(lease = %self.keys.lease, token = self.token, "pipeline lease released")
            }
            // It lapses on its own.
            Err(error) => {
                tracing::warn!(lease = %self.keys.lease, %error, "pipeline lease not released")
            }
        }
    }
}
