//! "At most one renewal per user per 60 s", held across all workers: a lock-free table in
//! the arena mapping a user-name hash to the time of its last renewal. A compare-and-swap
//! on the time decides which request renews when several race on different workers.

use lightrag_engine::coordination::Renewals;
use lightrag_supervisor::clock;

use lightrag_supervisor::robust_mutex::LockError;

use super::keyed_table::{KeyedTable, TakeOver};

/// LightRAG caps its table at 10 000 users; a power of two above that.
const ENTRIES: usize = 16384;
pub const MIN_INTERVAL_MS: u64 = 60_000;
/// The same, for the limits kept outside the arena.
pub const RENEWAL_INTERVAL: std::time::Duration = std::time::Duration::from_millis(MIN_INTERVAL_MS);

/// User name to the time of its last renewal. Losing an entry to a full neighbourhood
/// only allows one early renewal.
#[repr(C)]
pub struct RenewalTable {
    last_ms: KeyedTable<ENTRIES>,
}

/// Any entry may change hands, the oldest renewal's first; the new user starts as never
/// renewed.
const TAKE_OVER: TakeOver = TakeOver {
    allowed: |_| true,
    start: |_| 0,
};

/// Exactly one caller per user per [`MIN_INTERVAL_MS`], across processes.
impl Renewals for RenewalTable {
    fn try_claim(&self, username: &str) -> bool {
        self.try_claim_at(username, clock::monotonic_ms())
    }
}

impl RenewalTable {
    /// Initialises the table at `place`.
    ///
    /// # Safety
    /// As [`KeyedTable::init_at`].
    pub unsafe fn init_at(place: *mut Self) -> Result<(), LockError> {
        unsafe { KeyedTable::init_at(&raw mut (*place).last_ms) }
    }

    /// An entry that changed hands meanwhile renews nothing this time.
    fn try_claim_at(&self, username: &str, now: u64) -> bool {
        let Some(cell) = self.last_ms.slot(username, &TAKE_OVER) else {
            return false;
        };
        let Some(last) = cell.load() else {
            return false;
        };
        if last != 0 && now < last + MIN_INTERVAL_MS {
            return false;
        }
        cell.compare_exchange(last, now.max(1))
    }
}

#[cfg(test)]
mod tests {
    use lightrag_supervisor::Arena;

    #[test]
    fn once_per_minute_per_user() {
        let arena = Arena::map(std::process::id() as i32).unwrap();
        crate::arena::init_shared(arena.app_region()).unwrap();
        let table = &crate::arena::SharedRegion::of(arena.app_region()).renewals;
        assert!(table.try_claim_at("alice", 1_000));
        assert!(!table.try_claim_at("alice", 30_000));
        assert!(table.try_claim_at("bob", 30_000));
        assert!(table.try_claim_at("alice", 61_000));
        assert!(!table.try_claim_at("alice", 61_001));
    }
}
