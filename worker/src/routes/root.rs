//! `GET /` and `GET /ui/customization`: where a browser lands, and the UI's branding.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use http::header;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::{API_VERSION, App};

#[derive(Serialize, ToSchema)]
pub struct ServiceInfo {
    status: &'static str,
    service: &'static str,
    api_version: &'static str,
    message: &'static str,
    health_url: String,
}

/// Without a bundled web UI, `/` sends browsers to the API docs, or describes the service
/// when the docs are disabled too.
#[utoipa::path(get, path = "/", tag = "server",
    responses((status = 307, description = "Redirect to the API docs"), (status = 200, body = ServiceInfo)))]
pub async fn root(State(app): State<Arc<App>>) -> Response {
    let prefix = &app.settings.api.api_prefix;
    if app.settings.api.enable_api_docs {
        return Redirect::temporary(&format!("{prefix}/docs")).into_response();
    }
    Json(ServiceInfo {
        status: "healthy",
        service: "LightRAG Server",
        api_version: API_VERSION,
        message: "LightRAG Server is running. The web UI and the API docs are not available.",
        health_url: format!("{prefix}/health"),
    })
    .into_response()
}

#[derive(Serialize, ToSchema)]
pub struct Brand {
    title: &'static str,
    description: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct Customization {
    customized: bool,
    brand: Brand,
}

/// The uncustomized answer: no UI template bundle is installed.
#[utoipa::path(get, path = "/ui/customization", tag = "server",
    params(("locale" = Option<String>, Query, description = "BCP 47 locale")),
    responses((status = 200, body = Customization)))]
pub async fn customization() -> Response {
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(Customization {
            customized: false,
            brand: Brand {
                title: "LightRAG",
                description: "Simple and Fast RAG",
            },
        }),
    )
        .into_response()
}
