//! The one place where a workspace's storage backend is chosen.
//!
//! Every role (KV namespaces, document status, vectors, graph, workspace listing) is a
//! trait; [`Storage`] is all of them at once, which is what the engine holds per
//! workspace. A new backend implements the role traits and gets a [`Backend`] variant
//! here; nothing else in the engine changes.

use std::path::PathBuf;

use super::sqlite::SqliteStorage;
use super::{DocStatusStorage, GraphStorage, KvStorage, Result, VectorStorage, WorkspaceListing};

/// Every storage role, served for one workspace.
pub trait Storage:
    KvStorage + DocStatusStorage + VectorStorage + GraphStorage + WorkspaceListing + Send + Sync
{
}

impl<T> Storage for T where
    T: KvStorage + DocStatusStorage + VectorStorage + GraphStorage + WorkspaceListing + Send + Sync
{
}

/// The storage implementations this build has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite in WAL mode under the working directory (LightRAG's file-backed names).
    Embedded,
}

/// Where and how a deployment stores its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageConfig {
    pub backend: Backend,
    /// WORKING_DIR: the embedded store's directory.
    pub working_dir: PathBuf,
}

/// Opens `workspace` on the configured backend. Call after fork: a handle never crosses
/// one.
pub fn open(config: &StorageConfig, workspace: &str) -> Result<Box<dyn Storage>> {
    match config.backend {
        Backend::Embedded => Ok(Box::new(SqliteStorage::open(
            &config.working_dir,
            workspace,
        )?)),
    }
}
