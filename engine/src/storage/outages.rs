//! Which external stores (PostgreSQL, Redis) this process last found unreachable, for
//! whoever reports the server's state (the worker's `/health`).
//!
//! The pools mark a store [`down`] when an operation gives up on reaching it and [`up`]
//! when one succeeds again; nothing else writes here. The state is per process: each
//! worker reports what its own connections last saw. Reading it costs one atomic load
//! while every store answers ([`current`] returns `None` without taking the lock), and
//! so does marking a store up that was not down: this sits on every storage call.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

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
/// of the first failure is kept while the outage lasts.
pub(crate) fn down(kind: &'static str, address: &str, reason: &str) {
    let mut outages = outages();
    match outages
        .iter_mut()
        .find(|o| o.kind == kind && o.address == address)
    {
        Some(outage) => reason.clone_into(&mut outage.reason),
        None => outages.push(Outage {
            kind,
            address: address.to_owned(),
            reason: reason.to_owned(),
            since: crate::clock::now_iso8601(),
        }),
    }
    ANY.store(true, Ordering::Release);
}

/// Records that `kind` at `address` answered.
pub(crate) fn up(kind: &'static str, address: &str) {
    if !ANY.load(Ordering::Acquire) {
        return;
    }
    let mut outages = outages();
    outages.retain(|o| !(o.kind == kind && o.address == address));
    ANY.store(!outages.is_empty(), Ordering::Release);
}

/// Records what a store call's `outcome` says of the store: down when it could not be
/// reached, up when it answered (if only to refuse).
pub(crate) fn record<T>(kind: &'static str, address: &str, outcome: &super::Result<T>) {
    match outcome {
        Err(super::StorageError::Unavailable { reason, .. }) => down(kind, address, reason),
        _ => up(kind, address),
    }
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
        down("PostgreSQL", "outages-test:1", "refused");
        let first = mine();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].reason, "refused");
        down("PostgreSQL", "outages-test:1", "timed out");
        down("Redis", "outages-test-redis", "reset");
        let both = mine();
        assert_eq!(both.len(), 2);
        assert_eq!(both[0].reason, "timed out");
        assert_eq!(both[0].since, first[0].since, "the start is kept");
        up("PostgreSQL", "outages-test:1");
        assert_eq!(mine().iter().map(|o| o.kind).collect::<Vec<_>>(), ["Redis"]);
        up("Redis", "outages-test-redis");
        assert_eq!(mine(), []);
    }
}
