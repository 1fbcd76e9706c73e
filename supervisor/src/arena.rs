//! The shared-memory arena: one anonymous `MAP_SHARED` mapping made by the master before
//! the first fork, so every present and future worker sees the same bytes.
//!
//! Only plain `#[repr(C)]` data lives here: atomics and robust process-shared mutexes
//! ([`crate::robust_mutex`]). No pointers, no std locks: those are process-private. The
//! mapping is zero-filled, so every atomic starts at 0 and every slot starts `Free`.
//!
//! Layout: a header, a fixed table of [`WorkerSlot`]s (one per live worker, reused after
//! reaping), then an application region the worker crate carves its shared state from.

use std::num::NonZeroUsize;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};

use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous};

/// Upper bound on simultaneous workers (a HUP briefly runs two generations side by side).
pub const MAX_WORKERS: usize = 1024;

/// Bytes reserved for application state after the slot table.
pub const APP_REGION_BYTES: usize = 4 << 20;

const MAGIC: u64 = 0x4c52_4147_4152_4e41; // "LRAGARNA"

/// Lifecycle of a slot, as both sides see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum SlotState {
    /// Unused; the master may hand it to a new worker.
    Free = 0,
    /// Forked, not yet accepting.
    Booting = 1,
    /// Accepting connections.
    Ready = 2,
    /// Reached its request limit; keeps serving until its replacement is ready.
    Retiring = 3,
    /// Told to stop; finishing in-flight requests.
    Stopping = 4,
}

impl SlotState {
    fn from_u32(v: u32) -> SlotState {
        match v {
            1 => SlotState::Booting,
            2 => SlotState::Ready,
            3 => SlotState::Retiring,
            4 => SlotState::Stopping,
            _ => SlotState::Free,
        }
    }
}

/// One worker's public record. The master writes pid/generation/state on spawn and
/// reap; the worker writes its heartbeat, counters and the Ready/Retiring transitions.
#[repr(C, align(64))]
#[derive(Debug)]
pub struct WorkerSlot {
    pid: AtomicI32,
    state: AtomicU32,
    generation: AtomicU64,
    /// Monotonic milliseconds ([`crate::clock::monotonic_ms`]) of the last beat.
    heartbeat_ms: AtomicU64,
    requests_served: AtomicU64,
    in_flight: AtomicU64,
}

impl WorkerSlot {
    pub fn pid(&self) -> i32 {
        self.pid.load(Ordering::Acquire)
    }
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
    pub fn state(&self) -> SlotState {
        SlotState::from_u32(self.state.load(Ordering::Acquire))
    }
    pub fn set_state(&self, state: SlotState) {
        self.state.store(state as u32, Ordering::Release);
    }
    /// Moves `from` to `to` only if nobody changed the state meanwhile.
    pub fn transition(&self, from: SlotState, to: SlotState) -> bool {
        self.state
            .compare_exchange(from as u32, to as u32, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
    pub fn heartbeat_ms(&self) -> u64 {
        self.heartbeat_ms.load(Ordering::Acquire)
    }
    pub fn beat(&self, now_ms: u64) {
        self.heartbeat_ms.store(now_ms, Ordering::Release);
    }
    pub fn requests_served(&self) -> u64 {
        self.requests_served.load(Ordering::Relaxed)
    }
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }
    /// A request started.
    pub fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }
    /// A request finished; returns the worker's total served so far.
    pub fn request_finished(&self) -> u64 {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.requests_served.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Master side: claim the slot for a freshly forked worker.
    pub(crate) fn assign(&self, pid: i32, generation: u64, now_ms: u64) {
        self.requests_served.store(0, Ordering::Relaxed);
        self.in_flight.store(0, Ordering::Relaxed);
        self.generation.store(generation, Ordering::Release);
        self.heartbeat_ms.store(now_ms, Ordering::Release);
        self.pid.store(pid, Ordering::Release);
        self.set_state(SlotState::Booting);
    }

    /// Master side: record the forked child's pid.
    pub(crate) fn set_pid(&self, pid: i32) {
        self.pid.store(pid, Ordering::Release);
    }

    /// Master side: the worker is gone.
    pub(crate) fn release(&self) {
        self.pid.store(0, Ordering::Release);
        self.set_state(SlotState::Free);
    }
}

#[repr(C)]
struct Header {
    magic: AtomicU64,
    master_pid: AtomicI32,
    /// Workers that died without being asked to (crash, OOM kill, watchdog).
    unexpected_exits: AtomicU64,
    /// Heartbeat timeouts (WORKER TIMEOUT).
    timeouts: AtomicU64,
    /// One past the highest slot index ever assigned: readers scan only that far.
    slots_used: AtomicU64,
}

#[repr(C)]
struct Layout {
    header: Header,
    slots: [WorkerSlot; MAX_WORKERS],
    app: AppRegion,
}

/// Raw bytes for application state, cache-line aligned. Zero-filled at start.
#[repr(C, align(64))]
pub struct AppRegion([u8; APP_REGION_BYTES]);

impl AppRegion {
    /// The region's start, for placing `#[repr(C)]` shared structures.
    pub fn as_ptr(&self) -> *mut u8 {
        self.0.as_ptr().cast_mut()
    }
}

/// A handle on the mapping. Copyable: the mapping lives as long as the process.
#[derive(Clone, Copy)]
pub struct Arena {
    layout: &'static Layout,
}

// SAFETY: the mapping is never unmapped and holds only atomics and process-shared mutexes.
unsafe impl Send for Arena {}
unsafe impl Sync for Arena {}

impl Arena {
    /// Maps the arena. Call once in the master, before the first fork.
    pub fn map(master_pid: i32) -> std::io::Result<Arena> {
        let len = NonZeroUsize::new(std::mem::size_of::<Layout>()).expect("non-empty layout");
        // SAFETY: a fresh anonymous mapping aliases nothing; it is zero-filled, which is a
        // valid bit pattern for every field of `Layout` (atomics and bytes).
        let ptr: NonNull<Layout> = unsafe {
            mmap_anonymous(
                None,
                len,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
            )
        }
        .map_err(std::io::Error::from)?
        .cast();
        // SAFETY: see above; the mapping is never unmapped, so 'static holds.
        let layout: &'static Layout = unsafe { ptr.as_ref() };
        layout.header.magic.store(MAGIC, Ordering::Release);
        layout
            .header
            .master_pid
            .store(master_pid, Ordering::Release);
        Ok(Arena { layout })
    }

    pub fn slot(&self, index: usize) -> &'static WorkerSlot {
        &self.layout.slots[index]
    }

    /// Every slot ever assigned (free ones included), not the whole table: scanning
    /// 1024 cache lines on each request would cost more than the request.
    pub fn slots(&self) -> &'static [WorkerSlot] {
        let used = self.layout.header.slots_used.load(Ordering::Acquire) as usize;
        &self.layout.slots[..used.min(MAX_WORKERS)]
    }

    /// Master side: slot `index` is about to be used.
    pub(crate) fn note_slot_used(&self, index: usize) {
        self.layout
            .header
            .slots_used
            .fetch_max(index as u64 + 1, Ordering::AcqRel);
    }

    pub fn master_pid(&self) -> i32 {
        self.layout.header.master_pid.load(Ordering::Acquire)
    }

    /// Workers that died without being asked to, since the master started.
    pub fn unexpected_exits(&self) -> u64 {
        self.layout.header.unexpected_exits.load(Ordering::Relaxed)
    }

    /// Heartbeat timeouts since the master started.
    pub fn timeouts(&self) -> u64 {
        self.layout.header.timeouts.load(Ordering::Relaxed)
    }

    pub(crate) fn count_unexpected_exit(&self) {
        self.layout
            .header
            .unexpected_exits
            .fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_timeout(&self) {
        self.layout.header.timeouts.fetch_add(1, Ordering::Relaxed);
    }

    pub fn app_region(&self) -> &'static AppRegion {
        &self.layout.app
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::wait::{WaitStatus, waitpid};
    use nix::unistd::{ForkResult, fork};

    #[test]
    fn slots_are_shared_with_a_forked_child() {
        let arena = Arena::map(std::process::id() as i32).unwrap();
        let slot = arena.slot(3);
        assert!(arena.slots().is_empty());
        arena.note_slot_used(3);
        assert_eq!(arena.slots().len(), 4);
        slot.assign(42, 7, 1);
        // SAFETY: the child only touches atomics and exits with _exit.
        match unsafe { fork() }.unwrap() {
            ForkResult::Child => {
                slot.set_state(SlotState::Ready);
                slot.request_started();
                slot.request_finished();
                slot.beat(99);
                unsafe { libc::_exit(0) };
            }
            ForkResult::Parent { child } => {
                assert_eq!(waitpid(child, None).unwrap(), WaitStatus::Exited(child, 0));
            }
        }
        assert_eq!(slot.state(), SlotState::Ready);
        assert_eq!(slot.requests_served(), 1);
        assert_eq!(slot.in_flight(), 0);
        assert_eq!(slot.heartbeat_ms(), 99);
        assert_eq!((slot.pid(), slot.generation()), (42, 7));
        assert!(slot.transition(SlotState::Ready, SlotState::Retiring));
        assert!(!slot.transition(SlotState::Ready, SlotState::Stopping));
        slot.release();
        assert_eq!(slot.state(), SlotState::Free);
    }
}
