//! Cross-worker concurrency limits for model calls (MAX_ASYNC for the LLM,
//! EMBEDDING_FUNC_MAX_ASYNC for embeddings, MAX_ASYNC_RERANK for reranks): a table of slots in the arena, each empty
//! (0) or holding the pid of the process using it. A worker takes a free slot with a
//! compare-and-swap and gives it back when the call ends; a slot held by a dead process
//! counts as free, so a SIGKILLed worker cannot leak permits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use lightrag_config::MAX_PERMITS;

use super::claims::is_alive;

/// How often a caller waiting for a permit looks again.
const POLL: Duration = Duration::from_millis(5);

#[repr(C)]
pub struct PermitTable {
    slots: [AtomicU64; MAX_PERMITS],
}

/// One slot, released on drop.
pub struct Permit {
    slot: &'static AtomicU64,
    pid: u64,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let _ = self
            .slot
            .compare_exchange(self.pid, 0, Ordering::AcqRel, Ordering::Acquire);
    }
}

impl PermitTable {
    /// A permit among the first `limit` slots, if one is free now.
    pub fn try_acquire(&'static self, limit: usize) -> Option<Permit> {
        let pid = u64::from(std::process::id());
        for slot in &self.slots[..limit.min(MAX_PERMITS)] {
            let holder = slot.load(Ordering::Acquire);
            if (holder == 0 || !is_alive(holder))
                && slot
                    .compare_exchange(holder, pid, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            {
                return Some(Permit { slot, pid });
            }
        }
        None
    }

    /// Waits for a permit among the first `limit` slots.
    pub async fn acquire(&'static self, limit: usize) -> Permit {
        loop {
            if let Some(permit) = self.try_acquire(limit) {
                return permit;
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> &'static PermitTable {
        Box::leak(Box::new(PermitTable {
            slots: [const { AtomicU64::new(0) }; MAX_PERMITS],
        }))
    }

    #[test]
    fn permits_are_bounded_and_returned_on_drop() {
        let t = table();
        let a = t.try_acquire(2).unwrap();
        let _b = t.try_acquire(2).unwrap();
        assert!(t.try_acquire(2).is_none());
        assert!(t.try_acquire(3).is_some(), "a larger limit has room");
        drop(a);
        assert!(t.try_acquire(2).is_some());
    }

    #[test]
    fn a_dead_holder_frees_its_slot() {
        let t = table();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = u64::from(child.id());
        child.wait().unwrap();
        t.slots[0].store(dead, Ordering::Release);
        let _held = t.try_acquire(1).expect("the dead holder's slot is free");
        assert!(t.try_acquire(1).is_none(), "now held by this process");
    }
}
