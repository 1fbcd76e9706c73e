//! LightRAG's `pipeline_status`, shared by every worker through the arena, so
//! `/documents/pipeline_status` and `/health` answer the same whichever worker is asked.
//! Fixed-size fields behind a robust mutex (a worker killed while updating it cannot
//! wedge the others); messages are truncated to their slots and the history is a ring.
//!
//! There are [`SLOTS`] statuses for any number of workspaces: a workspace takes a slot
//! when its pipeline first writes to its board (opening a workspace, or asking about it,
//! takes none), and a slot whose pipeline is not busy may be taken over by another
//! workspace, the least recently written first. Every access checks, under the slot's
//! lock, that the slot is still its workspace's; a workspace without a slot reads as
//! idle. Only when every slot runs a pipeline is a start not shown (the claim, not the
//! board, keeps runs exclusive).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use lightrag_engine::coordination::{Snapshot, StatusBoard};
use lightrag_supervisor::robust_mutex::{LockError, RobustGuard, RobustMutex};

use super::keyed_table::hash;

/// Pipeline statuses shared by every worker.
pub const SLOTS: usize = 16;

const JOB_NAME: usize = 128;
const MESSAGE: usize = 512;
const HISTORY: usize = 64;

#[derive(Clone, Copy)]
#[repr(C)]
struct Text<const N: usize> {
    len: u16,
    bytes: [u8; N],
}

impl<const N: usize> Text<N> {
    const EMPTY: Self = Text {
        len: 0,
        bytes: [0; N],
    };

    fn set(&mut self, s: &str) {
        let mut end = s.len().min(N);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.bytes[..end].copy_from_slice(&s.as_bytes()[..end]);
        self.len = end as u16;
    }

    fn get(&self) -> String {
        String::from_utf8_lossy(&self.bytes[..usize::from(self.len).min(N)]).into_owned()
    }
}

#[repr(C)]
pub struct PipelineState {
    /// The hash of the workspace using the slot (0: free).
    owner: u64,
    /// When the slot was last written, in [`StatusSlots::ticks`].
    written: u64,
    busy: bool,
    cancellation_requested: bool,
    job_name: Text<JOB_NAME>,
    /// Epoch seconds; 0 when no job ran yet.
    job_start: i64,
    docs: u32,
    batchs: u32,
    cur_batch: u32,
    latest_message: Text<MESSAGE>,
    history: [Text<MESSAGE>; HISTORY],
    /// Messages ever recorded; the ring holds the last `HISTORY`.
    recorded: u64,
}

impl PipelineState {
    pub const EMPTY: PipelineState = PipelineState {
        owner: 0,
        written: 0,
        busy: false,
        cancellation_requested: false,
        job_name: Text::EMPTY,
        job_start: 0,
        docs: 0,
        batchs: 0,
        cur_batch: 0,
        latest_message: Text::EMPTY,
        history: [Text::EMPTY; HISTORY],
        recorded: 0,
    };
}

/// The status slots in the arena.
#[repr(C)]
pub struct StatusSlots {
    /// Held while a slot is given to a workspace, so that one never has two.
    placing: RobustMutex<()>,
    /// Writes so far, which order slots by how recently they were written.
    ticks: AtomicU64,
    slots: [RobustMutex<PipelineState>; SLOTS],
    /// Per slot, its owner while its pipeline is busy, else 0; written under the slot's
    /// lock, so `/health`'s constant polls read it without taking (and contending
    /// across processes for) any lock.
    running: [AtomicU64; SLOTS],
}

/// No slot yet.
const UNBOUND: usize = usize::MAX;

fn unusable(error: LockError) {
    tracing::error!(%error, "pipeline status unusable");
}

impl StatusSlots {
    /// Initialises the slots at `place`.
    ///
    /// # Safety
    /// As [`RobustMutex::init_zeroed_at`]: zero-filled shared memory, before any other
    /// process uses it.
    pub unsafe fn init_at(place: *mut Self) -> Result<(), LockError> {
        unsafe {
            RobustMutex::init_at(&raw mut (*place).placing, ())?;
            // The slots are 530 KiB of zeros, which is PipelineState::EMPTY: only their
            // locks are written, so a slot's pages exist once a pipeline writes to it.
            for i in 0..SLOTS {
                RobustMutex::init_zeroed_at(&raw mut (*place).slots[i])?;
            }
        }
        Ok(())
    }

    /// Slot `index`, locked, if it is `owner`'s.
    fn owned(&self, index: usize, owner: u64) -> Option<RobustGuard<'_, PipelineState>> {
        let slot = self.slots.get(index)?;
        let guard = slot.lock().map_err(unusable).ok()?;
        (guard.owner == owner).then_some(guard)
    }

    /// `owner`'s slot, locked: the one it had at `bound`, found again, or, when `take`,
    /// a free one or else the least recently written idle one.
    fn lock(
        &self,
        owner: u64,
        bound: &AtomicUsize,
        take: bool,
    ) -> Option<RobustGuard<'_, PipelineState>> {
        if let Some(guard) = self.owned(bound.load(Ordering::Acquire), owner) {
            return Some(guard);
        }
        let _placing = self.placing.lock().map_err(unusable).ok()?;
        let found = (0..SLOTS).find_map(|i| self.owned(i, owner).map(|guard| (i, guard)));
        let (index, guard) = match found {
            Some(found) => found,
            None if take => self.take(owner)?,
            None => return None,
        };
        bound.store(index, Ordering::Release);
        Some(guard)
    }

    /// A slot for `owner`, reset; the caller holds `placing`.
    fn take(&self, owner: u64) -> Option<(usize, RobustGuard<'_, PipelineState>)> {
        let mut best: Option<(usize, u64)> = None;
        for (i, slot) in self.slots.iter().enumerate() {
            let state = slot.lock().map_err(unusable).ok()?;
            let rank = if state.owner == 0 {
                0
            } else {
                state.written + 1
            };
            if (state.owner == 0 || !state.busy) && best.is_none_or(|(_, r)| rank < r) {
                best = Some((i, rank));
            }
        }
        let (index, _) = best?;
        let mut state = self.slots[index].lock().map_err(unusable).ok()?;
        // Owners change only under `placing`; a run may have started since.
        if state.owner != 0 && state.busy {
            return None;
        }
        *state = PipelineState::EMPTY;
        state.owner = owner;
        Some((index, state))
    }

    /// Slots on the heap, for tests.
    #[cfg(test)]
    pub fn leaked() -> &'static Self {
        let slots: &'static mut std::mem::MaybeUninit<Self> = Box::leak(Box::new_zeroed());
        // SAFETY: zero-filled, used by this process only.
        unsafe {
            Self::init_at(slots.as_mut_ptr()).unwrap();
            slots.assume_init_ref()
        }
    }

    /// Whether `workspace`'s pipeline runs, as its board shows; no slot is taken.
    pub fn busy(&self, workspace: &str) -> bool {
        self.running_for(hash(workspace))
    }

    /// Whether `owner` has a slot whose pipeline is busy (an owner has one slot at most).
    fn running_for(&self, owner: u64) -> bool {
        self.running
            .iter()
            .any(|r| r.load(Ordering::Acquire) == owner)
    }
}

/// One workspace's board on the shared slots.
pub struct PipelineStatus {
    slots: &'static StatusSlots,
    owner: u64,
    /// The slot it was last found in.
    bound: AtomicUsize,
}

impl PipelineStatus {
    pub fn new(slots: &'static StatusSlots, workspace: &str) -> Self {
        PipelineStatus {
            slots,
            owner: hash(workspace),
            bound: AtomicUsize::new(UNBOUND),
        }
    }

    /// Reads the workspace's status; `None` when it has no slot.
    fn read<T>(&self, f: impl FnOnce(&mut PipelineState) -> T) -> Option<T> {
        let mut state = self.slots.lock(self.owner, &self.bound, false)?;
        Some(f(&mut state))
    }

    /// Writes the workspace's status, taking a slot when `take` and it has none.
    fn write(&self, take: bool, f: impl FnOnce(&mut PipelineState)) {
        if let Some(mut state) = self.slots.lock(self.owner, &self.bound, take) {
            state.written = self.slots.ticks.fetch_add(1, Ordering::Relaxed) + 1;
            f(&mut state);
            // `lock` left the slot's index in `bound`.
            let index = self.bound.load(Ordering::Acquire);
            let running = if state.busy { state.owner } else { 0 };
            self.slots.running[index].store(running, Ordering::Release);
        } else if take {
            tracing::warn!(
                slots = SLOTS,
                "every pipeline status slot is running a pipeline; this run is not shown"
            );
        }
    }
}

impl StatusBoard for PipelineStatus {
    /// A run starts: busy, with its job name and document count.
    fn start(&self, job_name: &str, docs: usize, now: i64) {
        self.write(true, |s| {
            s.busy = true;
            s.cancellation_requested = false;
            s.job_name.set(job_name);
            s.job_start = now;
            s.docs = docs as u32;
            s.batchs = docs as u32;
            s.cur_batch = 0;
        });
    }

    fn progress(&self, cur_batch: usize) {
        self.write(false, |s| s.cur_batch = cur_batch as u32);
    }

    fn message(&self, message: &str) {
        self.write(true, |s| {
            s.latest_message.set(message);
            let slot = (s.recorded % HISTORY as u64) as usize;
            s.history[slot].set(message);
            s.recorded += 1;
        });
    }

    /// Asks the running job to stop; false when nothing runs.
    fn request_cancel(&self) -> bool {
        self.read(|s| {
            if s.busy {
                s.cancellation_requested = true;
            }
            s.busy
        })
        .unwrap_or(false)
    }

    /// Whether a run is going, without copying the rest (`/health` asks on every poll).
    fn busy(&self) -> bool {
        self.slots.running_for(self.owner)
    }

    fn cancellation_requested(&self) -> bool {
        self.read(|s| s.cancellation_requested).unwrap_or(false)
    }

    fn finish(&self) {
        self.write(false, |s| {
            s.busy = false;
            s.cancellation_requested = false;
        });
    }

    fn snapshot(&self) -> Snapshot {
        self.read(|s| {
            let kept = s.recorded.min(HISTORY as u64) as usize;
            let first = s.recorded as usize - kept;
            Snapshot {
                busy: s.busy,
                cancellation_requested: s.cancellation_requested,
                job_name: s.job_name.get(),
                job_start: (s.job_start != 0).then_some(s.job_start),
                docs: s.docs,
                batchs: s.batchs,
                cur_batch: s.cur_batch,
                latest_message: s.latest_message.get(),
                history_messages: (first..first + kept)
                    .map(|i| s.history[i % HISTORY].get())
                    .collect(),
            }
        })
        .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_is_shared_truncated_and_bounded() {
        let status = PipelineStatus::new(StatusSlots::leaked(), "");
        assert!(!status.busy());
        status.start("Default Job", 3, 1_795_674_000);
        for i in 0..100 {
            status.message(&format!("message {i}"));
        }
        status.message(&"é".repeat(400));
        let s = status.snapshot();
        assert!(s.busy);
        assert_eq!((s.docs, s.job_start), (3, Some(1_795_674_000)));
        assert_eq!(s.history_messages.len(), HISTORY);
        assert_eq!(s.history_messages[0], "message 37");
        assert_eq!(
            s.latest_message.chars().count(),
            256,
            "cut on a char boundary"
        );
        assert!(status.request_cancel());
        assert!(status.cancellation_requested());
        status.finish();
        assert!(!status.snapshot().busy);
        assert!(!status.request_cancel(), "nothing to cancel");
    }

    #[test]
    fn asking_takes_no_slot_and_idle_slots_are_taken_over() {
        let slots = StatusSlots::leaked();
        let boards: Vec<PipelineStatus> = (0..SLOTS + 1)
            .map(|i| PipelineStatus::new(slots, &format!("w{i}")))
            .collect();
        for (i, board) in boards.iter().enumerate() {
            assert!(!board.busy() && !slots.busy(&format!("w{i}")));
        }
        // Every slot runs a pipeline: one more start is not shown, and takes none.
        for board in &boards[..SLOTS] {
            board.start("Default Job", 1, 1);
        }
        boards[SLOTS].start("Default Job", 1, 1);
        assert!(!boards[SLOTS].busy());
        assert!(boards.iter().take(SLOTS).all(|b| b.busy()));
        // w3 finishes first: its slot is the one taken over.
        boards[3].finish();
        boards[3].message("w3 done");
        boards[SLOTS].start("Default Job", 2, 2);
        assert!(boards[SLOTS].busy() && slots.busy(&format!("w{SLOTS}")));
        assert_eq!(
            boards[SLOTS].snapshot().history_messages,
            Vec::<String>::new()
        );
        let lost = boards[3].snapshot();
        assert!(!lost.busy && lost.latest_message.is_empty(), "{lost:?}");
        assert!(boards[4].busy(), "a running pipeline keeps its slot");
    }
}
