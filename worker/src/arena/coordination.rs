//! The engine's coordination seam on this node's shared-memory arena: pipeline claims
//! and status boards per workspace, vector change counters, model-call permits.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use lightrag_engine::coordination::{
    Claim, Coordination, Generations, Permit, Permits, StatusBoard,
};
use lightrag_engine::llm::BoxFuture;
use lightrag_engine::storage::VectorNamespace;

use super::SharedRegion;
use super::claims::{self, ArenaClaim};
use super::keyed_table::KeyedTable;
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
        ArenaClaim::take(self.shared.pipeline_owners.value(workspace))
            .map(|claim| Box::new(claim) as Claim)
    }

    fn pipeline_busy(&self, workspace: &str) -> bool {
        claims::held(self.shared.pipeline_owners.value(workspace))
    }

    fn board(&self, workspace: &str) -> Arc<dyn StatusBoard> {
        Arc::new(PipelineStatus::new(self.shared.pipeline_status(workspace)))
    }

    fn generations(&self, workspace: &str) -> Arc<dyn Generations> {
        Arc::new(ArenaGenerations {
            table: &self.shared.vector_generations,
            workspace: workspace.to_owned(),
        })
    }
}

/// Vector generations of one workspace: a write on any worker makes every other worker
/// reload its cached vectors.
struct ArenaGenerations {
    table: &'static KeyedTable<256>,
    workspace: String,
}

impl ArenaGenerations {
    fn cell(&self, namespace: VectorNamespace) -> &std::sync::atomic::AtomicU64 {
        self.table
            .value(&format!("{}:{}", self.workspace, namespace.as_str()))
    }
}

impl Generations for ArenaGenerations {
    fn current(&self, namespace: VectorNamespace) -> u64 {
        self.cell(namespace).load(Ordering::Acquire)
    }
    fn bump(&self, namespace: VectorNamespace) {
        self.cell(namespace).fetch_add(1, Ordering::AcqRel);
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
        shared
            .pipeline_owners
            .value("w")
            .store((1 << 32) | dead, Ordering::Release);
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
}
