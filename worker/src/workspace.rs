//! Workspaces as requests address them: the server's `WORKSPACE` is the default; a
//! request's `LIGHTRAG-WORKSPACE` header selects another (sanitised as LightRAG does),
//! opened on first use and kept in this worker's table ([`crate::open_workspaces`]). What a workspace is (its store
//! handle, caches, coordination handles) is the engine's
//! [`lightrag_engine::workspace::Workspace`].

use std::sync::Arc;

use axum::extract::FromRequestParts;
use http::request::Parts;
use lightrag_config::api::sanitize_workspace;
use lightrag_engine::workspace::Workspace;

use crate::app::App;
use crate::error::ApiError;
use crate::open_workspaces::OpenError;

/// The request header naming the workspace.
pub const HEADER: &str = "LIGHTRAG-WORKSPACE";

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
                        OpenError::Storage(e) => ApiError::engine(&e),
                    })
            }
        }
    }
}
