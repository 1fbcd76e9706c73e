//! Per-workspace pipeline claims in the arena, with a fencing token.
//!
//! A claim cell holds `epoch << 32 | pid`: the pid of the process holding the pipeline
//! (0: nobody) and how many claims the workspace has seen. Each new claim increments
//! the epoch, so the cell's value is the claim's token and a holder can tell whether it
//! still holds the pipeline (a process taken for dead and taken over sees another
//! value). A dead holder's claim is taken over, so a SIGKILLed worker's documents are
//! resumed by another.

use std::sync::atomic::{AtomicU64, Ordering};

use lightrag_engine::coordination::PipelineClaim;
use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;

/// Whether process `pid` exists (0: nobody).
pub fn is_alive(pid: u64) -> bool {
    pid != 0 && !matches!(kill(Pid::from_raw(pid as i32), None), Err(Errno::ESRCH))
}

fn holder(value: u64) -> u64 {
    value & 0xffff_ffff
}

fn epoch(value: u64) -> u64 {
    value >> 32
}

/// The workspace's pipeline, held by this process until dropped (a panic under it
/// releases it too).
pub struct ArenaClaim {
    cell: &'static AtomicU64,
    token: u64,
}

impl ArenaClaim {
    /// Takes `cell` for this process unless a live process holds it.
    pub fn take(cell: &'static AtomicU64) -> Option<ArenaClaim> {
        let current = cell.load(Ordering::Acquire);
        let owner = holder(current);
        if is_alive(owner) {
            return None;
        }
        if owner != 0 {
            tracing::warn!(
                dead_owner = owner,
                "taking over the pipeline of a dead worker"
            );
        }
        let token = ((epoch(current) + 1) << 32) | u64::from(std::process::id());
        cell.compare_exchange(current, token, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| ArenaClaim { cell, token })
    }
}

/// Whether a live process holds `cell`.
pub fn held(cell: &AtomicU64) -> bool {
    is_alive(holder(cell.load(Ordering::Acquire)))
}

impl PipelineClaim for ArenaClaim {
    fn token(&self) -> u64 {
        self.token
    }

    fn still_held(&self) -> bool {
        self.cell.load(Ordering::Acquire) == self.token
    }
}

impl Drop for ArenaClaim {
    fn drop(&mut self) {
        // The epoch stays, so the next claim's token is larger.
        let released = self.token & !0xffff_ffff;
        let _ =
            self.cell
                .compare_exchange(self.token, released, Ordering::AcqRel, Ordering::Acquire);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell() -> &'static AtomicU64 {
        Box::leak(Box::new(AtomicU64::new(0)))
    }

    #[test]
    fn a_claim_is_exclusive_until_dropped_and_tokens_grow() {
        let cell = cell();
        let first = ArenaClaim::take(cell).expect("free");
        assert!(
            ArenaClaim::take(cell).is_none(),
            "held by this live process"
        );
        assert!(first.still_held() && held(cell));
        let first_token = first.token();
        drop(first);
        assert!(!held(cell));
        let second = ArenaClaim::take(cell).unwrap();
        assert!(second.token() > first_token);
    }

    #[test]
    fn a_panic_under_a_claim_releases_it() {
        let cell = cell();
        let outcome = std::panic::catch_unwind(|| {
            let _claim = ArenaClaim::take(cell).expect("free");
            panic!("an edit went wrong");
        });
        assert!(outcome.is_err());
        assert!(ArenaClaim::take(cell).is_some());
    }

    #[test]
    fn a_dead_owner_is_taken_over_and_its_claim_is_fenced() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = u64::from(child.id());
        child.wait().unwrap();
        let cell = cell();
        cell.store((7 << 32) | dead, Ordering::Release);
        let stale = ArenaClaim {
            cell,
            token: (7 << 32) | dead,
        };
        let claim = ArenaClaim::take(cell).expect("taken over");
        assert_eq!(
            holder(cell.load(Ordering::Acquire)),
            u64::from(std::process::id())
        );
        assert!(claim.still_held());
        assert!(!stale.still_held(), "the old holder sees it lost the claim");
        drop(stale);
        assert!(
            claim.still_held(),
            "the old holder's release does not free the new claim"
        );
    }
}
