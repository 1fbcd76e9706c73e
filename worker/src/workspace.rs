//! Workspaces: isolated sets of documents, graph and vectors in the same store. The
//! server's `WORKSPACE` is the default; a request's `LIGHTRAG-WORKSPACE` header selects
//! another (sanitised as LightRAG does), created on first use. Each workspace has its
//! own store handle, vector caches (reloaded by its own generation counters), pipeline
//! claim and pipeline status in the arena, and input directory.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::extract::FromRequestParts;
use http::request::Parts;
use lightrag_config::api::sanitize_workspace;
use lightrag_engine::storage::StorageError;
use lightrag_engine::storage::bundle::{Indexes, Stores};
use lightrag_engine::storage::sqlite::SqliteStorage;

use crate::app::App;
use crate::error::ApiError;
use crate::pipeline::ArenaGenerations;
use crate::pipeline_status::PipelineStatus;
use crate::shared::SharedRegion;

/// The request header naming the workspace.
pub const HEADER: &str = "LIGHTRAG-WORKSPACE";

pub struct Workspace {
    pub name: String,
    pub storage: SqliteStorage,
    pub generations: ArenaGenerations,
    /// This worker's cached copies of the workspace's vectors.
    pub indexes: Indexes,
    pub pipeline_status: PipelineStatus,
    /// `INPUT_DIR[/<workspace>]`.
    pub input_dir: PathBuf,
}

impl Workspace {
    /// The workspace's stores, as the engine takes them.
    pub fn stores(&self) -> Stores<'_> {
        Stores::new(&self.storage, &self.generations, &self.indexes)
    }

    pub fn open(
        settings: &lightrag_config::Settings,
        shared: &'static SharedRegion,
        name: &str,
    ) -> Result<Workspace, StorageError> {
        Ok(Workspace {
            storage: SqliteStorage::open(&settings.working_dir, name)?,
            generations: ArenaGenerations::new(&shared.vector_generations, name),
            indexes: Indexes::default(),
            pipeline_status: PipelineStatus::new(shared.pipeline_status(name)),
            input_dir: match name {
                "" => settings.input_dir.clone(),
                name => settings.input_dir.join(name),
            },
            name: name.to_owned(),
        })
    }
}

/// Workspaces one worker keeps open at most: each holds a store connection and vector
/// caches, and a header can name any number of them.
pub const MAX_OPEN: usize = 256;

/// The workspaces this worker has opened, by name.
#[derive(Default)]
pub struct Workspaces {
    open: Mutex<HashMap<String, Arc<Workspace>>>,
}

impl Workspaces {
    pub fn get_or_open(
        &self,
        name: &str,
        open: impl FnOnce() -> Result<Workspace, StorageError>,
    ) -> Result<Arc<Workspace>, OpenError> {
        let mut map = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(ws) = map.get(name) {
            return Ok(ws.clone());
        }
        if map.len() >= MAX_OPEN {
            return Err(OpenError::TooMany);
        }
        let ws = Arc::new(open()?);
        map.insert(name.to_owned(), ws.clone());
        tracing::info!(workspace = %name, "workspace opened");
        Ok(ws)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("More than {MAX_OPEN} workspaces are in use; this one cannot be opened")]
    TooMany,
}

/// The workspace a request addresses: its `LIGHTRAG-WORKSPACE` header, or the server's.
pub struct Ws(pub Arc<Workspace>);

/// The sanitised workspace named by a header value; `None` for a blank one.
pub fn requested(parts: &Parts) -> Option<String> {
    let value = parts.headers.get(HEADER)?.to_str().ok()?.trim();
    (!value.is_empty()).then(|| sanitize_workspace(value))
}

impl FromRequestParts<Arc<App>> for Ws {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Ws, ApiError> {
        match requested(parts) {
            None => Ok(Ws(app.default_workspace.clone())),
            Some(name) => {
                let app = app.clone();
                tokio::task::spawn_blocking(move || app.workspace(&name))
                    .await
                    .map_err(|e| ApiError::internal(&e))?
                    .map(Ws)
                    .map_err(|e| match e {
                        OpenError::TooMany => ApiError::bad_request(e.to_string()),
                        OpenError::Storage(e) => ApiError::internal(&e),
                    })
            }
        }
    }
}
