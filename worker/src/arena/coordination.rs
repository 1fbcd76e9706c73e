//! The engine's coordination seam on this node's shared-memory arena: pipeline claims
//! and status boards per workspace, vector change counters, model-call permits.

use std::sync::Arc;

use lightrag_engine::coordination::{
    Claim, Coordination, Generations, Permit, Permits, StatusBoard,
};
use lightrag_engine::llm::BoxFuture;
use lightrag_engine::storage::VectorNamespace;

use super::SharedRegion;
use super::claims::{self, ArenaClaim};
use super::keyed_table::{KeyedTable, Slot, TakeOver};
use super::permits::PermitTable;
use super::pipeline_status::PipelineStatus;

/// Coordination among the workers of this node.
pub struct ArenaCoordination {
    shared: &'static SharedRegion,
}

impl ArenaCoordination {
    pub fn new(shared: &'static SharedRegion) -> Self {
        ArenaCoordination { shared }
    }
}

impl Coordination for ArenaCoordination {
    fn claim(&self, workspace: &str) -> Option<Claim> {
        let cell = self
            .shared
            .pipeline_owners
            .slot(workspace, &claims::TAKE_OVER)?;
        ArenaClaim::take(cell).map(|claim| Box::new(claim) as Claim)
    }

    /// Asking places nothing: a workspace without an entry has no claim.
    fn pipeline_busy(&self, workspace: &str) -> bool {
        self.shared
            .pipeline_owners
            .find(workspace)
            .is_some_and(claims::held)
    }

    fn board(&self, workspace: &str) -> Arc<dyn StatusBoard> {
        Arc::new(PipelineStatus::new(
            &self.shared.pipeline_statuses,
            workspace,
        ))
    }

    fn generations(&self, workspace: &str) -> Arc<dyn Generations> {
        Arc::new(ArenaGenerations {
            table: &self.shared.vector_generations,
            workspace: workspace.to_owned(),
        })
    }
}

/// Vector generations of one workspace: a write on any worker makes every other worker
/// reload its cached vectors. A generation is a number the table never issued before,
/// so an entry that changed hands can never show a reader the generation it cached.
struct ArenaGenerations {
    table: &'static KeyedTable<256>,
    workspace: String,
}

/// Any generation entry may change hands (its workspace then reloads once), the one
/// written longest ago first.
const GENERATIONS: TakeOver = TakeOver {
    allowed: |_| true,
    start: |fresh| fresh,
};

/// Attempts at a bump before giving up (each fails only when another write or a
/// take-over changed the entry meanwhile).
const BUMP_ATTEMPTS: usize = 16;

impl ArenaGenerations {
    fn slot(&self, namespace: VectorNamespace) -> Option<Slot<'static>> {
        self.table.slot(
            &format!("{}:{}", self.workspace, namespace.as_str()),
            &GENERATIONS,
        )
    }
}

impl Generations for ArenaGenerations {
    /// An entry taken over while read answers a number never issued: caches reload.
    fn current(&self, namespace: VectorNamespace) -> u64 {
        self.slot(namespace)
            .and_then(|slot| slot.load())
            .unwrap_or_else(|| self.table.fresh())
    }

    fn bump(&self, namespace: VectorNamespace) {
        for _ in 0..BUMP_ATTEMPTS {
            let Some(slot) = self.slot(namespace) else {
                break;
            };
            let Some(current) = slot.load() else {
                continue;
            };
            // Another write to the entry since `current` was read does as well: it came
            // after this one's to the store.
            if slot.compare_exchange(current, self.table.fresh())
                || slot.load().is_some_and(|now| now != current)
            {
                return;
            }
        }
        tracing::error!(workspace = %self.workspace, namespace = namespace.as_str(), "vector generation not bumped");
    }
}

/// One role's permits (MAX_ASYNC or EMBEDDING_FUNC_MAX_ASYNC) in the arena.
pub struct ArenaPermits {
    pub table: &'static PermitTable,
    pub limit: usize,
}

impl Permits for ArenaPermits {
    fn acquire(&self) -> BoxFuture<'_, Permit> {
        Box::pin(async move { Box::new(self.table.acquire(self.limit).await) as Permit })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use lightrag_engine::documents::maintenance;
    use lightrag_engine::storage::StorageConfig;
    use lightrag_engine::workspace::Workspace;
    use lightrag_supervisor::Arena;

    use super::*;

    #[test]
    fn a_dead_workers_job_is_cleared_from_the_board() {
        let arena = Arena::map(std::process::id() as i32).unwrap();
        crate::arena::init_shared(arena.app_region()).unwrap();
        let shared = SharedRegion::of(arena.app_region());
        let coordination = Arc::new(ArenaCoordination::new(shared));
        let dir = std::env::temp_dir().join(format!("lrm-dead-job-{}", std::process::id()));
        let config = StorageConfig::embedded(dir.clone());
        let ws = Workspace::open(&config, coordination.clone(), &dir, "w").unwrap();
        // A job started by a process that died holding the claim.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = u64::from(child.id());
        child.wait().unwrap();
        let cell = shared
            .pipeline_owners
            .slot("w", &claims::TAKE_OVER)
            .unwrap();
        assert!(cell.compare_exchange(cell.load().unwrap(), (1 << 32) | dead));
        ws.board.start("Deleting 1 Documents", 1, 1);
        assert!(ws.board.busy());
        let status = maintenance::pipeline_status(&ws);
        assert!(!status.busy, "{status:?}");
        assert!(status.latest_message.contains("exited"), "{status:?}");
        // A live job is left alone.
        let claim = ws.claim().unwrap();
        ws.board.start("Default Job", 1, 1);
        assert!(maintenance::pipeline_status(&ws).busy);
        drop(claim);
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn generations(shared: &'static SharedRegion, workspace: &str) -> ArenaGenerations {
        ArenaGenerations {
            table: &shared.vector_generations,
            workspace: workspace.to_owned(),
        }
    }

    #[test]
    fn a_workspace_whose_entry_was_taken_over_never_sees_a_generation_it_cached() {
        let arena = Arena::map(std::process::id() as i32).unwrap();
        crate::arena::init_shared(arena.app_region()).unwrap();
        let shared = SharedRegion::of(arena.app_region());
        let x = generations(shared, "x");
        x.bump(VectorNamespace::Chunks);
        let cached = x.current(VectorNamespace::Chunks);
        // Many other workspaces, each written once: every entry changes hands.
        for i in 0..1_000 {
            generations(shared, &format!("w{i}")).bump(VectorNamespace::Chunks);
        }
        assert_ne!(x.current(VectorNamespace::Chunks), cached);
    }

    /// Writers store then bump while others flood the table with take-overs: a reader
    /// that sees the generation it cached has missed no completed write.
    #[test]
    fn concurrent_take_overs_never_hide_a_write() {
        use std::sync::atomic::AtomicU64;
        let arena = Arena::map(std::process::id() as i32).unwrap();
        crate::arena::init_shared(arena.app_region()).unwrap();
        let shared = SharedRegion::of(arena.app_region());
        let stored = Arc::new(AtomicU64::new(0));
        let bumped = Arc::new(AtomicU64::new(0));
        let writer = {
            let (stored, bumped) = (stored.clone(), bumped.clone());
            std::thread::spawn(move || {
                let x = generations(shared, "x");
                for _ in 0..20_000 {
                    let version = stored.fetch_add(1, Ordering::AcqRel) + 1;
                    x.bump(VectorNamespace::Entities);
                    bumped.fetch_max(version, Ordering::AcqRel);
                }
            })
        };
        let flooders: Vec<_> = (0..2)
            .map(|t| {
                std::thread::spawn(move || {
                    for i in 0..20_000 {
                        generations(shared, &format!("f{t}-{}", i % 600))
                            .bump(VectorNamespace::Entities);
                    }
                })
            })
            .collect();
        let x = generations(shared, "x");
        while !writer.is_finished() {
            let cached = x.current(VectorNamespace::Entities);
            let seen = stored.load(Ordering::Acquire);
            std::thread::yield_now();
            let completed = bumped.load(Ordering::Acquire);
            if x.current(VectorNamespace::Entities) == cached {
                assert!(
                    completed <= seen,
                    "write {completed} hidden (cached {seen})"
                );
            }
        }
        writer.join().unwrap();
        for f in flooders {
            f.join().unwrap();
        }
    }
}
