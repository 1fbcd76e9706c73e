//! "At most one renewal per user per 60 s", held across all workers: a lock-free table in
//! the arena mapping a user-name hash to the time of its last renewal. A compare-and-swap
//! on the time decides which request renews when several race on different workers.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use lightrag_supervisor::clock;

/// LightRAG caps its table at 10 000 users; a power of two above that.
const ENTRIES: usize = 16384;
pub const MIN_INTERVAL_MS: u64 = 60_000;

#[repr(C)]
struct Slot {
    key: AtomicU64,
    last_ms: AtomicU64,
}

#[repr(C)]
pub struct RenewalTable {
    slots: [Slot; ENTRIES],
}

fn key(username: &str) -> u64 {
    let mut h = DefaultHasher::new();
    username.hash(&mut h);
    h.finish().max(1)
}

impl RenewalTable {
    /// True for exactly one caller per user per [`MIN_INTERVAL_MS`], across processes.
    pub fn try_claim(&self, username: &str) -> bool {
        self.try_claim_at(username, clock::monotonic_ms())
    }

    fn try_claim_at(&self, username: &str, now: u64) -> bool {
        let key = key(username);
        let start = (key as usize) % ENTRIES;
        // Linear probing over a bounded neighbourhood; a full neighbourhood reuses its
        // stalest slot (forgetting a user only allows one early renewal).
        let mut stalest = start;
        for i in 0..64 {
            let index = (start + i) % ENTRIES;
            let slot = &self.slots[index];
            let current = slot.key.load(Ordering::Acquire);
            if current == 0 {
                if slot
                    .key
                    .compare_exchange(0, key, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
                    && slot.key.load(Ordering::Acquire) != key
                {
                    continue;
                }
                return claim_time(slot, now);
            }
            if current == key {
                return claim_time(slot, now);
            }
            if slot.last_ms.load(Ordering::Relaxed)
                < self.slots[stalest].last_ms.load(Ordering::Relaxed)
            {
                stalest = index;
            }
        }
        let slot = &self.slots[stalest];
        slot.key.store(key, Ordering::Release);
        claim_time(slot, now)
    }
}

fn claim_time(slot: &Slot, now: u64) -> bool {
    let last = slot.last_ms.load(Ordering::Acquire);
    if last != 0 && now < last + MIN_INTERVAL_MS {
        return false;
    }
    slot.last_ms
        .compare_exchange(last, now.max(1), Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use lightrag_supervisor::Arena;

    #[test]
    fn once_per_minute_per_user() {
        let arena = Arena::map(std::process::id() as i32).unwrap();
        let table = &crate::shared::SharedRegion::of(arena.app_region()).renewals;
        assert!(table.try_claim_at("alice", 1_000));
        assert!(!table.try_claim_at("alice", 30_000));
        assert!(table.try_claim_at("bob", 30_000));
        assert!(table.try_claim_at("alice", 61_000));
        assert!(!table.try_claim_at("alice", 61_001));
    }
}
