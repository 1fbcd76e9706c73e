//! `GET /ui/customization` and `/ui/customization/assets/{asset_hash}/{asset_id}`: the
//! web UI's branding, as LightRAG serves it without a UI_TEMPLATES_DIR bundle. The
//! brand is WEBUI_TITLE / WEBUI_DESCRIPTION (LightRAG's defaults otherwise); with no
//! bundle there is no asset, so every asset URL is LightRAG's 404 `Unknown asset`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::App;
use crate::error::ApiError;

const DEFAULT_TITLE: &str = "LightRAG";
const DEFAULT_DESCRIPTION: &str = "Simple and Fast RAG";

#[derive(Serialize, ToSchema)]
pub struct Brand {
    title: String,
    description: String,
}

#[derive(Serialize, ToSchema)]
pub struct Customization {
    customized: bool,
    brand: Brand,
}

/// The uncustomized answer, branded with WEBUI_TITLE and WEBUI_DESCRIPTION.
#[utoipa::path(get, path = "/ui/customization", tag = "server",
    params(("locale" = Option<String>, Query, description = "BCP 47 locale")),
    responses((status = 200, body = Customization)))]
pub async fn customization(State(app): State<Arc<App>>) -> Response {
    let api = &app.settings.api;
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(Customization {
            customized: false,
            brand: Brand {
                title: api
                    .webui_title
                    .clone()
                    .unwrap_or_else(|| DEFAULT_TITLE.to_owned()),
                description: api
                    .webui_description
                    .clone()
                    .unwrap_or_else(|| DEFAULT_DESCRIPTION.to_owned()),
            },
        }),
    )
        .into_response()
}

/// A bundle asset by content hash and id; without a bundle none exists.
#[utoipa::path(get, path = "/ui/customization/assets/{asset_hash}/{asset_id}", tag = "server",
    params(("asset_hash" = String, Path), ("asset_id" = String, Path)),
    responses((status = 404, description = "{\"detail\":\"Unknown asset\"}")))]
pub async fn asset() -> Response {
    ApiError::new(StatusCode::NOT_FOUND, "Unknown asset").into_response()
}
