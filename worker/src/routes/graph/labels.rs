//! `GET /graph/label/list`, answered from the serialised list this worker last read,
//! while it is still true. The web UI asks for it on every graph view, and reading every
//! node name from the store, on a blocking thread, cost more than the request around it.
//!
//! The list is the graph's node names, and every change to the nodes (indexing,
//! deletion, edits, clearing) writes or removes their entity vectors after the nodes,
//! which moves the workspace's entity generation for every worker of the node, and of
//! every node when PostgreSQL or Redis coordinates them
//! ([`Generations`](lightrag_engine::storage::Generations)). So an answer
//! kept with the generation read before the store was read is true while the generation
//! stays the same; a write that lands between the two reads makes it stale at once.
//!
//! Answers are kept per workspace as this worker opened it: a workspace closed and
//! opened again has new generation handles, whose numbers say nothing of the old ones'.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, Weak};

use axum::body::Bytes;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};
use lightrag_engine::storage::VectorNamespace;
use lightrag_engine::workspace::Workspace;

use crate::error::ApiError;
use crate::routes::documents::blocking;

/// One workspace's answer.
struct Answer {
    /// The workspace as opened when the answer was made; held weakly, so a workspace
    /// closed meanwhile is never mistaken for one opened since.
    workspace: Weak<Workspace>,
    generation: u64,
    body: Bytes,
}

impl Answer {
    fn serves(&self, ws: &Arc<Workspace>, generation: u64) -> bool {
        self.generation == generation && std::ptr::eq(self.workspace.as_ptr(), Arc::as_ptr(ws))
    }
}

/// Answers by workspace name; past [`MAX_ANSWERS`], those of closed workspaces go.
static ANSWERS: LazyLock<Mutex<HashMap<String, Answer>>> = LazyLock::new(Mutex::default);
const MAX_ANSWERS: usize = 64;

fn answers() -> MutexGuard<'static, HashMap<String, Answer>> {
    ANSWERS.lock().unwrap_or_else(|e| e.into_inner())
}

/// The JSON list of `ws`'s node names.
pub async fn answer(ws: Arc<Workspace>) -> Result<Response, ApiError> {
    // Read before the store: a write after this read moves it again.
    let generation = ws.generations.current(VectorNamespace::Entities);
    let kept = answers()
        .get(&ws.name)
        .filter(|answer| answer.serves(&ws, generation))
        .map(|answer| answer.body.clone());
    let body = match kept {
        Some(body) => body,
        None => {
            let names = blocking(&ws, |ws| ws.storage.node_names()).await?;
            let body = Bytes::from(serde_json::to_vec(&names).map_err(|e| ApiError::internal(&e))?);
            remember(&ws, generation, body.clone());
            body
        }
    };
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}

fn remember(ws: &Arc<Workspace>, generation: u64, body: Bytes) {
    let mut all = answers();
    if all.len() >= MAX_ANSWERS && !all.contains_key(&ws.name) {
        all.retain(|_, answer| answer.workspace.strong_count() > 0);
        if all.len() >= MAX_ANSWERS {
            all.clear();
        }
    }
    all.insert(
        ws.name.clone(),
        Answer {
            workspace: Arc::downgrade(ws),
            generation,
            body,
        },
    );
}
