//! One workspace as a process serves it: its storage (from the one factory), this
//! process's caches over it, and its handles on the coordination seam (change counters,
//! pipeline-status board). Workspaces never see each other's data.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::coordination::{Claim, Coordination, StatusBoard};
use crate::documents::input_store::{InputFiles, LocalInputs};
use crate::storage::bundle::{Indexes, Stores};
use crate::storage::postgres::PgInputs;
use crate::storage::{self, Backend, Generations, Result, Storage, StorageConfig};

pub struct Workspace {
    pub name: String,
    pub storage: Box<dyn Storage>,
    pub generations: Arc<dyn Generations>,
    /// This process's cached copies of the workspace's vectors.
    pub indexes: Indexes,
    pub board: Arc<dyn StatusBoard>,
    /// `INPUT_DIR[/<workspace>]`: uploads and scanned files.
    pub input_dir: PathBuf,
    /// Where accepted files wait for the pipeline (on another node too when document
    /// status is shared).
    pub inputs: Box<dyn InputFiles>,
    coordination: Arc<dyn Coordination>,
}

impl Workspace {
    /// Opens `name` on the configured storage; `input_root` is INPUT_DIR.
    pub fn open(
        config: &StorageConfig,
        coordination: Arc<dyn Coordination>,
        input_root: &Path,
        name: &str,
    ) -> Result<Workspace> {
        let input_dir = match name {
            "" => input_root.to_owned(),
            name => input_root.join(name),
        };
        let generations = coordination.generations(name);
        Ok(Workspace {
            storage: storage::open(config, name)?,
            indexes: Indexes::new(config.vector_index).building_in_background(generations.clone()),
            generations,
            board: coordination.board(name),
            inputs: inputs(config, name, &input_dir)?,
            input_dir,
            name: name.to_owned(),
            coordination,
        })
    }

    /// The workspace's stores, as ingestion, edits and retrieval take them.
    pub fn stores(&self) -> Stores<'_> {
        Stores::new(&*self.storage, &*self.generations, &self.indexes)
    }

    /// Claims the workspace's pipeline (see [`Coordination::claim`]).
    pub fn claim(&self) -> Option<Claim> {
        self.coordination.claim(&self.name)
    }

    /// Whether a live process holds the workspace's pipeline.
    pub fn pipeline_busy(&self) -> bool {
        self.coordination.pipeline_busy(&self.name)
    }
}

/// Accepted files wait in PostgreSQL when document status is there (any node may run
/// the pipeline), else in the input directory.
fn inputs(config: &StorageConfig, name: &str, dir: &Path) -> Result<Box<dyn InputFiles>> {
    Ok(match (config.doc_status, &config.postgres) {
        (Backend::Postgres, Some(pg)) => Box::new(PgInputs::open(pg, name, dir)?),
        _ => Box::new(LocalInputs::new(dir)),
    })
}

/// The answer path reaches a workspace's stores through it from blocking threads, and
/// caches a streamed answer after the request has returned.
impl crate::query::answer::StoreSource for Workspace {
    fn stores(&self) -> Stores<'_> {
        Workspace::stores(self)
    }
}
