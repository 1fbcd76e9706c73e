//! Workspaces as requests address them: the server's `WORKSPACE` is the default; a
//! request's `LIGHTRAG-WORKSPACE` header selects another, sanitised as LightRAG does and
//! refused (400) when it cannot be represented: never the default instead. A named
//! workspace is opened on first use and kept in this worker's table
//! ([`crate::open_workspaces`]). Any workspace but the server's takes credentials, even
//! on a route WHITELIST_PATHS opens to everyone (LightRAG serves those from the
//! server's workspace only), so that no anonymous request creates state. What a workspace is (its store handle, caches,
//! coordination handles) is the engine's [`lightrag_engine::workspace::Workspace`].

use std::sync::Arc;

use axum::extract::FromRequestParts;
use http::HeaderMap;
use http::request::Parts;
use lightrag_config::api::{WorkspaceNameError, workspace_name};
use lightrag_engine::workspace::Workspace;

use crate::app::App;
use crate::error::ApiError;
use crate::open_workspaces::OpenError;

/// The request header naming the workspace.
pub const HEADER: &str = "LIGHTRAG-WORKSPACE";

/// The workspace a request addresses: its `LIGHTRAG-WORKSPACE` header, or the server's.
pub struct Ws(pub Arc<Workspace>);

/// The sanitised workspace named by the header; `None` without one (or a blank one).
pub fn requested(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(HEADER) else {
        return Ok(None);
    };
    let refused = |e: WorkspaceNameError| ApiError::bad_request(format!("Invalid {HEADER}: {e}"));
    let text = std::str::from_utf8(value.as_bytes())
        .map_err(|_| refused(WorkspaceNameError::NotAscii))?
        .trim();
    if text.is_empty() {
        return Ok(None);
    }
    workspace_name(text).map(Some).map_err(refused)
}

impl FromRequestParts<Arc<App>> for Ws {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Ws, ApiError> {
        match requested(&parts.headers)? {
            None => Ok(Ws(app.default_workspace.clone())),
            Some(name) => {
                if name == app.default_workspace.name {
                    return Ok(Ws(app.default_workspace.clone()));
                }
                if app
                    .auth
                    .check(parts.uri.path(), &parts.headers, false)
                    .is_err()
                {
                    return Err(ApiError::unauthorized(
                        "Credentials are required to use a workspace other than the server's",
                    ));
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn header(value: &[u8]) -> Result<Option<String>, u16> {
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, http::HeaderValue::from_bytes(value).unwrap());
        requested(&headers).map_err(|e| e.status.as_u16())
    }

    #[test]
    fn header_names_are_sanitised_or_refused() {
        assert_eq!(header(b" team-a ").unwrap().as_deref(), Some("team_a"));
        assert_eq!(header(b"  ").unwrap(), None);
        assert_eq!(header("équipe".as_bytes()), Err(400));
        assert_eq!(header(b"caf\xe9"), Err(400));
        assert_eq!(header(b"__parsed__"), Err(400));
        assert_eq!(header(&[b'w'; 300]), Err(400));
        assert_eq!(requested(&HeaderMap::new()).unwrap(), None);
    }
}
