//! Per-workspace pipeline claims in the arena, with a fencing token.
//!
//! A claim cell holds `epoch << 32 | pid`: the pid of the process holding the pipeline
//! (0: nobody) and how many claims the workspace has seen. Each new claim increments
//! the epoch, so the cell's value is the claim's token and a holder can tell whether it
//! still holds the pipeline (a process taken for dead and taken over sees another
//! value). A dead holder's claim is taken over, so a SIGKILLed worker's documents are
//! resumed by another.
//!
//! Cells are entries of a [`KeyedTable`]: a claim's swap verifies that the entry is
//! still its workspace's, and only an entry nobody live holds may change hands
//! ([`TAKE_OVER`]), so a held claim always stands in its own workspace's entry.

use lightrag_engine::coordination::PipelineClaim;

use super::keyed_table::{Slot, TakeOver};
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

/// Claim entries may change hands once nobody live holds them; a workspace placed anew
/// starts from an epoch never used before.
pub const TAKE_OVER: TakeOver = TakeOver {
    allowed: unheld,
    start: released,
};

fn unheld(value: u64) -> bool {
    !is_alive(holder(value))
}

fn released(fresh: u64) -> u64 {
    (fresh & 0xffff_ffff) << 32
}

/// The workspace's pipeline, held by this process until dropped (a panic under it
/// releases it too).
pub struct ArenaClaim {
    cell: Slot<'static>,
    token: u64,
}

impl ArenaClaim {
    /// Takes `cell` for this process unless a live process holds it.
    pub fn take(cell: Slot<'static>) -> Option<ArenaClaim> {
        let current = cell.load()?;
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
        cell.compare_exchange(current, token)
            .then_some(ArenaClaim { cell, token })
    }
}

/// Whether a live process holds `cell`.
pub fn held(cell: Slot<'_>) -> bool {
    cell.load().is_some_and(|value| is_alive(holder(value)))
}

impl PipelineClaim for ArenaClaim {
    fn token(&self) -> u64 {
        self.token
    }

    fn still_held(&self) -> bool {
        self.cell.load() == Some(self.token)
    }
}

impl Drop for ArenaClaim {
    fn drop(&mut self) {
        // The epoch stays, so the next claim's token is larger.
        self.cell
            .compare_exchange(self.token, self.token & !0xffff_ffff);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell() -> Slot<'static> {
        super::super::keyed_table::KeyedTable::<4>::leaked()
            .slot("w", &TAKE_OVER)
            .unwrap()
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
    fn a_held_claims_entry_never_changes_hands() {
        let table = super::super::keyed_table::KeyedTable::<1>::leaked();
        let w = table.slot("w", &TAKE_OVER).unwrap();
        let claim = ArenaClaim::take(w).unwrap();
        assert!(
            table.slot("v", &TAKE_OVER).is_none(),
            "held by a live process"
        );
        drop(claim);
        let v = table
            .slot("v", &TAKE_OVER)
            .expect("released: may change hands");
        assert!(ArenaClaim::take(w).is_none(), "w's slot answers for w only");
        assert!(!held(w));
        assert!(ArenaClaim::take(v).is_some());
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
        assert!(cell.compare_exchange(cell.load().unwrap(), (7 << 32) | dead));
        let stale = ArenaClaim {
            cell,
            token: (7 << 32) | dead,
        };
        let claim = ArenaClaim::take(cell).expect("taken over");
        assert_eq!(cell.load().map(holder), Some(u64::from(std::process::id())));
        assert!(claim.still_held());
        assert!(!stale.still_held(), "the old holder sees it lost the claim");
        drop(stale);
        assert!(
            claim.still_held(),
            "the old holder's release does not free the new claim"
        );
    }
}
