//! The workspaces one worker has open, by name, and their bound: each holds a store
//! connection and vector caches, and a request header can name any number of them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use lightrag_engine::storage::StorageError;
use lightrag_engine::workspace::Workspace;

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

    /// The workspaces opened so far.
    pub fn all(&self) -> Vec<Arc<Workspace>> {
        let map = self.open.lock().unwrap_or_else(|e| e.into_inner());
        map.values().cloned().collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("More than {MAX_OPEN} workspaces are in use; this one cannot be opened")]
    TooMany,
}
