//! Which external stores (PostgreSQL, Redis) this process last found unreachable, for
//! whoever reports the server's state (the worker's `/health`), and how long an
//! operation waits for one ([`Patience`]).
//!
//! The pools mark a store [`down`] when an operation gives up on reaching it and [`up`]
//! when one succeeds again; nothing else writes here. The state is per process: each
//! worker reports what its own connections last saw. Reading it costs one atomic load
//! while every store answers ([`current`] returns `None` without taking the lock), and
//! so does marking a store up that was not down: this sits on every storage call.
//!
//! The change is what gets logged, once each way (lost, back), not every call that
//! meets the outage: an idle pipeline polls twice a second, and a poll that finds its
//! store away logs at DEBUG only ([`is_outage`]).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::StorageError;

/// How long an operation keeps trying while its store is unreachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Patience {
    /// The pool's first contact, as the worker starts: the store's configured attempts
    /// in all (POSTGRES_CONNECTION_RETRIES, REDIS_RETRY_ATTEMPTS), backing off.
    Start,
    /// Everything after, requests and pipeline alike: a dead pooled connection is
    /// replaced at once (the server may be back already), and a fresh connection that
    /// fails ends the operation, which a request answers with a 503 at once rather
    /// than after a back-off schedule.
    Serve,
}

/// An attempt's failure, as [`retry`] sees it.
pub(crate) enum Miss<E> {
    /// No retry can help: the error the operation ends with.
    Final(StorageError),
    /// The store could not be reached; `stale` when the connection came from the pool.
    Unreachable { error: E, stale: bool },
}

/// A pool's start-up schedule: attempts in all, and the pause after the first, doubled
/// after each attempt up to the longest.
pub(crate) struct Schedule {
    pub attempts: u32,
    pub first_pause: Duration,
    pub longest_pause: Duration,
}

/// Attempts until one succeeds, a failure is final, or `patience` runs out (at
/// [`Patience::Start`] the schedule's attempts, at [`Patience::Serve`] one). A stale
/// pooled connection is retried at once, once: the server may well be back already.
/// `unavailable` makes the operation's error of the last unreachable one.
pub(crate) fn retry<T, E: std::fmt::Display>(
    kind: &'static str,
    address: &str,
    patience: Patience,
    schedule: Schedule,
    mut attempt: impl FnMut() -> Result<T, Miss<E>>,
    unavailable: impl Fn(&E) -> StorageError,
) -> Result<T, StorageError> {
    let attempts = match patience {
        Patience::Start => schedule.attempts.max(1),
        Patience::Serve => 1,
    };
    let mut pause = schedule.first_pause;
    let mut tried = 0;
    let mut stale_retried = false;
    loop {
        let error = match attempt() {
            Ok(value) => return Ok(value),
            Err(Miss::Final(e)) => return Err(e),
            Err(Miss::Unreachable { error, stale }) => {
                if stale && !stale_retried {
                    stale_retried = true;
                    continue;
                }
                error
            }
        };
        tried += 1;
        if tried >= attempts {
            return Err(unavailable(&error));
        }
        tracing::warn!(store = kind, address, attempt = tried, attempts, error = %error,
            "{kind} unreachable; trying again");
        std::thread::sleep(pause);
        pause = (pause * 2).min(schedule.longest_pause);
    }
}

/// One store found unreachable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outage {
    /// What the store is ("PostgreSQL", "Redis").
    pub kind: &'static str,
    /// Where it was expected (`host:port`, or a Redis URI without its password).
    pub address: String,
    /// The last error seen reaching it.
    pub reason: String,
    /// When it was first found unreachable, in ISO 8601 with the UTC offset.
    pub since: String,
}

/// Whether [`OUTAGES`] holds anything: the fast path of readers and of [`up`].
static ANY: AtomicBool = AtomicBool::new(false);
static OUTAGES: Mutex<Vec<Outage>> = Mutex::new(Vec::new());

fn outages() -> std::sync::MutexGuard<'static, Vec<Outage>> {
    OUTAGES.lock().unwrap_or_else(|e| e.into_inner())
}

/// Records that `kind` at `address` could not be reached because of `reason`; the time
/// of the first failure is kept while the outage lasts. True when the store was not
/// already down.
pub(crate) fn down(kind: &'static str, address: &str, reason: &str) -> bool {
    let mut outages = outages();
    let began = match outages
        .iter_mut()
        .find(|o| o.kind == kind && o.address == address)
    {
        Some(outage) => {
            reason.clone_into(&mut outage.reason);
            false
        }
        None => {
            outages.push(Outage {
                kind,
                address: address.to_owned(),
                reason: reason.to_owned(),
                since: crate::clock::now_iso8601(),
            });
            true
        }
    };
    ANY.store(true, Ordering::Release);
    began
}

/// Records that `kind` at `address` answered; the outage it ends, if it was down.
pub(crate) fn up(kind: &'static str, address: &str) -> Option<Outage> {
    if !ANY.load(Ordering::Acquire) {
        return None;
    }
    let mut outages = outages();
    let ended = outages
        .iter()
        .position(|o| o.kind == kind && o.address == address)
        .map(|at| outages.remove(at));
    ANY.store(!outages.is_empty(), Ordering::Release);
    ended
}

/// Records what a store call's `outcome` says of the store: down when it could not be
/// reached, up when it answered (if only to refuse). The change is logged, once.
pub(crate) fn record<T>(kind: &'static str, address: &str, outcome: &super::Result<T>) {
    match outcome {
        Err(StorageError::Unavailable { reason, .. }) => {
            if down(kind, address, reason) {
                tracing::error!(store = kind, address, reason = %reason,
                    "{kind} lost: its routes answer 503 until it is back");
            }
        }
        _ => {
            if let Some(ended) = up(kind, address) {
                tracing::warn!(store = kind, address, since = %ended.since, "{kind} back");
            }
        }
    }
}

/// Whether `error` says a store is away: an outage [`record`] has logged as it began,
/// which callers that meet it on every poll log at DEBUG only.
pub fn is_outage(error: &StorageError) -> bool {
    matches!(error, StorageError::Unavailable { .. })
}

/// `tracing::$level!(...)` of a failed store call, or `tracing::debug!(...)` when the
/// call failed because the store is away ([`is_outage`]): the outage itself is logged
/// once as it begins and once as it ends, not by every poll that meets it.
#[macro_export]
macro_rules! log_unless_outage {
    ($level:ident, $error:expr, $($event:tt)+) => {
        if $crate::storage::outages::is_outage($error) {
            ::tracing::debug!($($event)+)
        } else {
            ::tracing::$level!($($event)+)
        }
    };
}

/// The stores unreachable right now, oldest outage first; `None` when every store last
/// answered.
pub fn current() -> Option<Vec<Outage>> {
    if !ANY.load(Ordering::Acquire) {
        return None;
    }
    let outages = outages();
    (!outages.is_empty()).then(|| outages.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The outages of this test's own stores (other tests may mark theirs).
    fn mine() -> Vec<Outage> {
        current()
            .unwrap_or_default()
            .into_iter()
            .filter(|o| o.address.starts_with("outages-test"))
            .collect()
    }

    #[test]
    fn an_outage_lasts_from_the_first_failure_until_a_success() {
        assert_eq!(mine(), []);
        assert!(down("PostgreSQL", "outages-test:1", "refused"), "it began");
        let first = mine();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].reason, "refused");
        assert!(
            !down("PostgreSQL", "outages-test:1", "timed out"),
            "it goes on"
        );
        down("Redis", "outages-test-redis", "reset");
        let both = mine();
        assert_eq!(both.len(), 2);
        assert_eq!(both[0].reason, "timed out");
        assert_eq!(both[0].since, first[0].since, "the start is kept");
        let ended = up("PostgreSQL", "outages-test:1").expect("it was down");
        assert_eq!(ended.since, first[0].since);
        assert_eq!(mine().iter().map(|o| o.kind).collect::<Vec<_>>(), ["Redis"]);
        assert!(up("Redis", "outages-test-redis").is_some());
        assert!(up("Redis", "outages-test-redis").is_none(), "already up");
        assert_eq!(mine(), []);
    }
}
