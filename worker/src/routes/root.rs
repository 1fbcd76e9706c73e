//! `GET /`: where a browser lands.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;
use utoipa::ToSchema;

use lightrag_config::api::DefaultUi;

use crate::app::{API_VERSION, App};

#[derive(Serialize, ToSchema)]
pub struct ServiceInfo {
    status: &'static str,
    service: &'static str,
    api_version: &'static str,
    message: &'static str,
    health_url: String,
}

/// LightRAG's description of itself where no page can be shown.
pub fn service_info(app: &App) -> Json<ServiceInfo> {
    Json(ServiceInfo {
        status: "healthy",
        service: "LightRAG Server",
        api_version: API_VERSION,
        message: "LightRAG Server is running. The web UI and the API docs are not available.",
        health_url: format!("{}/health", app.settings.api.api_prefix),
    })
}

/// Browsers land on the web UI (`/workspace/` with `LIGHTRAG_DEFAULT_UI=workspace`);
/// without one, on the API docs, or a description when the docs are disabled too.
#[utoipa::path(get, path = "/", tag = "server",
    responses((status = 307, description = "Redirect to the web UI or the API docs"), (status = 200, body = ServiceInfo)))]
pub async fn root(State(app): State<Arc<App>>) -> Response {
    let prefix = &app.settings.api.api_prefix;
    let workspace_ui = app.settings.api.default_ui == DefaultUi::Workspace;
    if workspace_ui && super::webui::workspace_available(&app) {
        return Redirect::temporary(&format!("{prefix}/workspace/")).into_response();
    }
    if super::webui::admin_available(&app) {
        return Redirect::temporary(&format!("{prefix}/webui/")).into_response();
    }
    if app.settings.api.enable_api_docs {
        return Redirect::temporary(&format!("{prefix}/docs")).into_response();
    }
    service_info(&app).into_response()
}
