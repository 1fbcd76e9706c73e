//! The worker crate's state in the arena's application region, shared by every worker:
//! the login-throttle table, the token-renewal table, the metrics counters, the vector
//! generation counters, the pipeline claims and status, and the model-call permits.
//! [`coordination`] serves the engine's coordination seam from these tables.
//!
//! The master lays it out once before the first fork ([`init_shared`]) without knowing
//! what it is; every worker then reaches the same bytes through [`SharedRegion::of`].

use lightrag_supervisor::AppRegion;
use lightrag_supervisor::arena::APP_REGION_BYTES;
use lightrag_supervisor::robust_mutex::RobustMutex;

pub mod claims;
pub mod coordination;
pub mod keyed_table;
pub mod metrics;
pub mod permits;
pub mod pipeline_status;
pub mod renewal;
pub mod throttle;

use keyed_table::KeyedTable;
use metrics::MetricsBlock;
use permits::PermitTable;
use pipeline_status::StatusSlots;
use renewal::RenewalTable;
use throttle::ThrottleTable;

#[repr(C)]
pub struct SharedRegion {
    pub throttle: RobustMutex<ThrottleTable>,
    pub renewals: RenewalTable,
    pub metrics: MetricsBlock,
    /// `<workspace>:<vector namespace>` to its write generation.
    pub vector_generations: KeyedTable<256>,
    /// Workspace to its pipeline claim (see [`claims`]).
    pub pipeline_owners: KeyedTable<256>,
    /// The pipeline status of the workspaces whose pipelines write (see [`pipeline_status`]).
    pub pipeline_statuses: StatusSlots,
    /// LLM calls in flight (MAX_ASYNC across workers).
    pub llm_permits: PermitTable,
    /// Embedding calls in flight (EMBEDDING_FUNC_MAX_ASYNC across workers).
    pub embedding_permits: PermitTable,
    /// Rerank calls in flight (MAX_ASYNC_RERANK across workers).
    pub rerank_permits: PermitTable,
}

const _: () = assert!(std::mem::size_of::<SharedRegion>() <= APP_REGION_BYTES);
const _: () = assert!(std::mem::align_of::<SharedRegion>() <= 64);

impl SharedRegion {
    /// The region inside `app`, as laid out by [`init_shared`].
    pub fn of(app: &'static AppRegion) -> &'static SharedRegion {
        // SAFETY: the region is 64-byte aligned, large enough (checked above), shared for
        // the process's life, and was initialised by the master before any fork. Every
        // field is atomics or a robust mutex, valid to share between processes.
        unsafe { &*app.as_ptr().cast::<SharedRegion>() }
    }
}

/// Lays out the shared region; the master calls it once, before the first fork.
pub fn init_shared(app: &'static AppRegion) -> std::io::Result<()> {
    let region = app.as_ptr().cast::<SharedRegion>();
    // SAFETY: the zero-filled mapping is valid for the atomics and is every table's empty
    // value; each mutex is initialised in place exactly once, before any other process
    // exists to use it.
    unsafe {
        // The table's 128 KiB of zeros are ThrottleTable::EMPTY (see `StatusSlots`).
        RobustMutex::init_zeroed_at(&raw mut (*region).throttle).map_err(std::io::Error::other)?;
        StatusSlots::init_at(&raw mut (*region).pipeline_statuses)
            .map_err(std::io::Error::other)?;
        KeyedTable::init_at(&raw mut (*region).vector_generations)
            .map_err(std::io::Error::other)?;
        KeyedTable::init_at(&raw mut (*region).pipeline_owners).map_err(std::io::Error::other)?;
        RenewalTable::init_at(&raw mut (*region).renewals).map_err(std::io::Error::other)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use lightrag_supervisor::Arena;

    use super::*;

    /// Pages of `len` bytes at `start` that are resident.
    fn resident_pages(start: *const u8, len: usize) -> usize {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        let from = start as usize & !(page - 1);
        let pages = (start as usize + len - from).div_ceil(page);
        let mut resident = vec![0u8; pages];
        // SAFETY: the range lies inside the arena's mapping, and `resident` has a byte
        // per page.
        let rc = unsafe { libc::mincore(from as *mut _, pages * page, resident.as_mut_ptr()) };
        assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
        resident.iter().filter(|&&b| b & 1 == 1).count()
    }

    /// The master lays the region out before the first fork: it writes the locks, not
    /// the tables' 700 KiB of empty values, which the zero-filled mapping already is, so
    /// those pages are not held (by the master, for every worker) before any is used.
    #[test]
    fn laying_out_the_region_writes_only_the_pages_of_its_locks() {
        let arena = Arena::map(std::process::id() as i32).unwrap();
        let region = arena.app_region().as_ptr().cast::<u8>();
        assert_eq!(resident_pages(region, size_of::<SharedRegion>()), 0);
        init_shared(arena.app_region()).unwrap();
        // 21 locks: the throttle's, the status slots' 17, and one per keyed table.
        let resident = resident_pages(region, size_of::<SharedRegion>());
        assert!(
            resident <= 24,
            "{resident} pages resident after init_shared"
        );
        // What the tables hold still reads as empty.
        let shared = SharedRegion::of(arena.app_region());
        assert!(!shared.pipeline_statuses.busy("any"));
    }
}
