//! Serving a built LightRAG web UI from `WEBUI_DIR`: the admin app at `/webui/`
//! (`index.html`), the end-user query app at `/workspace/` (`workspace.html`), each
//! blocking the other's entry page, with the runtime configuration injected into HTML
//! and LightRAG's cache headers (HTML never cached, `assets/` cached for a year).
//! Without a directory, `/webui` goes where LightRAG sends it when no UI is bundled.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use http::{StatusCode, header};
use serde_json::json;

use super::root::service_info;
use crate::app::App;
use crate::error::ApiError;
use crate::extract::PathText;

/// Replaced in served HTML by the runtime configuration.
const PLACEHOLDER: &str = "<!-- __LIGHTRAG_RUNTIME_CONFIG__ -->";
const ADMIN_INDEX: &str = "index.html";
const WORKSPACE_INDEX: &str = "workspace.html";

/// Which of the two apps a request is for.
#[derive(Clone, Copy)]
enum Mount {
    Admin,
    Workspace,
}

impl Mount {
    fn index(self) -> &'static str {
        match self {
            Mount::Admin => ADMIN_INDEX,
            Mount::Workspace => WORKSPACE_INDEX,
        }
    }

    /// The other app's entry page, which this mount refuses.
    fn blocked(self) -> &'static str {
        match self {
            Mount::Admin => WORKSPACE_INDEX,
            Mount::Workspace => ADMIN_INDEX,
        }
    }
}

/// Whether the configured directory holds the entry page of an app.
pub fn has(app: &App, page: &str) -> bool {
    app.settings
        .api
        .webui_dir
        .as_ref()
        .is_some_and(|dir| dir.join(page).is_file())
}

pub fn admin_available(app: &App) -> bool {
    has(app, ADMIN_INDEX)
}

pub fn workspace_available(app: &App) -> bool {
    has(app, WORKSPACE_INDEX)
}

/// A request path inside the directory: only normal components (no `..`, no root).
fn resolve(dir: &Path, path: &str) -> Option<PathBuf> {
    let relative = Path::new(path);
    relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| dir.join(relative))
}

fn not_found() -> Response {
    ApiError::new(StatusCode::NOT_FOUND, "Not Found").into_response()
}

/// The inline script that replaces the placeholder.
fn runtime_config(app: &App) -> String {
    let prefix = &app.settings.api.api_prefix;
    let title = app.settings.api.webui_title.clone();
    let config = json!({
        "apiPrefix": prefix,
        "webuiPrefix": format!("{prefix}/webui/"),
        "webuiTitle": title,
    });
    // `</` cannot end the script early once escaped.
    let config = config.to_string().replace("</", "<\\/");
    let set_title = title
        .map(|t| {
            format!(
                "document.title = {};",
                json!(t).to_string().replace("</", "<\\/")
            )
        })
        .unwrap_or_default();
    format!("<script>window.__LIGHTRAG_CONFIG__ = {config};{set_title}</script>")
}

async fn serve(app: &App, mount: Mount, path: &str) -> Response {
    let Some(dir) = app.settings.api.webui_dir.as_ref() else {
        return not_found();
    };
    let path = if path.is_empty() || path.ends_with('/') {
        format!("{path}{}", mount.index())
    } else {
        path.to_owned()
    };
    if path == mount.blocked() {
        return not_found();
    }
    let Some(file) = resolve(dir, &path) else {
        return not_found();
    };
    let Ok(bytes) = tokio::fs::read(&file).await else {
        return not_found();
    };
    let mime = mime_guess::from_path(&file).first_or_octet_stream();
    if mime.essence_str() == "text/html" {
        let html = String::from_utf8_lossy(&bytes).replace(PLACEHOLDER, &runtime_config(app));
        return (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache, no-store, must-revalidate"),
                (header::PRAGMA, "no-cache"),
                (header::EXPIRES, "0"),
            ],
            html,
        )
            .into_response();
    }
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        [
            (header::CONTENT_TYPE, mime.essence_str().to_owned()),
            (header::CACHE_CONTROL, cache.to_owned()),
        ],
        bytes,
    )
        .into_response()
}

/// Without a bundled UI, LightRAG sends `/webui` to the docs (or describes itself).
fn no_bundle(app: &App) -> Response {
    let prefix = &app.settings.api.api_prefix;
    if app.settings.api.enable_api_docs {
        Redirect::temporary(&format!("{prefix}/docs")).into_response()
    } else {
        service_info(app).into_response()
    }
}

/// `GET /webui`: to the directory form.
pub async fn admin_bare(State(app): State<Arc<App>>) -> Response {
    if !admin_available(&app) {
        return no_bundle(&app);
    }
    Redirect::temporary(&format!("{}/webui/", app.settings.api.api_prefix)).into_response()
}

/// `GET /webui/`: the admin app.
pub async fn admin_index(State(app): State<Arc<App>>) -> Response {
    if !admin_available(&app) {
        return no_bundle(&app);
    }
    serve(&app, Mount::Admin, "").await
}

/// `GET /webui/{*path}`
pub async fn admin_file(State(app): State<Arc<App>>, PathText(path): PathText) -> Response {
    serve(&app, Mount::Admin, &path).await
}

/// `GET /workspace` and `/workspace/`: the query app, or the service description when
/// the build has none (never a redirect to the docs).
pub async fn workspace_index(State(app): State<Arc<App>>) -> Response {
    if !workspace_available(&app) {
        return service_info(&app).into_response();
    }
    serve(&app, Mount::Workspace, "").await
}

/// `GET /workspace/{*path}`
pub async fn workspace_file(State(app): State<Arc<App>>, PathText(path): PathText) -> Response {
    if !workspace_available(&app) {
        return service_info(&app).into_response();
    }
    serve(&app, Mount::Workspace, &path).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_directory() {
        let dir = Path::new("/srv/ui");
        assert_eq!(
            resolve(dir, "assets/app.js"),
            Some(dir.join("assets/app.js"))
        );
        assert_eq!(resolve(dir, "../etc/passwd"), None);
        assert_eq!(resolve(dir, "assets/../../x"), None);
        assert_eq!(resolve(dir, "/etc/passwd"), None);
    }
}
