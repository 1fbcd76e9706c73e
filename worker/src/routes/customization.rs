//! `GET /ui/customization` and `/ui/customization/assets/{asset_hash}/{asset_id}`: the
//! web UI's branding, as LightRAG serves it. The brand title and description are
//! always WEBUI_TITLE / WEBUI_DESCRIPTION (a bundle cannot change them); a
//! UI_TEMPLATES_DIR bundle (read and checked with the configuration) adds per-locale
//! texts and logos. Assets are only what the bundle references, addressed by their
//! content hash, so they are cached for a year; without a bundle there are none.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use lightrag_config::ui_bundle::{self, UiBundle};
use serde_json::{Value, json};

use crate::app::App;
use crate::error::ApiError;
use crate::extract::QueryParams;

const DEFAULT_TITLE: &str = "LightRAG";
const DEFAULT_DESCRIPTION: &str = "Simple and Fast RAG";
const ASSET_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";
/// Keeps an SVG logo inert even when opened as a page.
const ASSET_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; sandbox";

fn markdown(content: &str) -> Value {
    json!({"format": "markdown", "content": content})
}

/// The customised answer for `locale` (empty: the bundle's default).
fn customized(app: &App, bundle: &UiBundle, locale: &str, brand: Value) -> Result<Value, ApiError> {
    let requested = if locale.trim().is_empty() {
        bundle.default_locale.clone()
    } else {
        ui_bundle::normalize_locale(locale).map_err(ApiError::bad_request)?
    };
    let (resolved, fallback_used) = bundle.resolve(&requested);
    let content = &bundle.locales[resolved];
    let mut brand = brand;
    // The URL and its alt text come together, or neither.
    let logo = content
        .logo
        .as_deref()
        .and_then(|id| bundle.asset_by_id(id));
    brand["logo_url"] = logo.map_or(Value::Null, |a| {
        let prefix = &app.settings.api.api_prefix;
        format!("{prefix}/ui/customization/assets/{}/{}", a.sha256, a.id).into()
    });
    brand["logo_alt"] = logo.map_or(Value::Null, |_| content.logo_alt.clone().into());
    let optional = |text: &Option<String>| text.as_deref().map_or(Value::Null, markdown);
    Ok(json!({
        "customized": true,
        "requested_locale": requested,
        "locale": resolved,
        "fallback_used": fallback_used,
        "direction": ui_bundle::direction(resolved),
        "brand": brand,
        "welcome": markdown(&content.welcome),
        "query_empty": markdown(&content.query_empty),
        "login": optional(&content.login),
        "agreements": optional(&content.agreements),
        "consent_required": content.login.is_some() && content.agreements.is_some(),
    }))
}

/// The branding and, with a bundle, the texts of a locale.
#[utoipa::path(get, path = "/ui/customization", tag = "server",
    params(("locale" = Option<String>, Query, description = "BCP 47 locale")),
    responses((status = 200, description = "{customized:false, brand} or the bundle's content"),
        (status = 400, description = "Invalid locale")))]
pub async fn customization(State(app): State<Arc<App>>, q: QueryParams) -> Response {
    let api = &app.settings.api;
    let brand = json!({
        "title": api.webui_title.as_deref().unwrap_or(DEFAULT_TITLE),
        "description": api.webui_description.as_deref().unwrap_or(DEFAULT_DESCRIPTION),
    });
    let body = match &app.settings.ui_bundle {
        None => json!({"customized": false, "brand": brand}),
        Some(bundle) => match customized(&app, bundle, q.get("locale").unwrap_or(""), brand) {
            Ok(body) => body,
            Err(e) => return e.into_response(),
        },
    };
    ([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// A bundle asset by content hash and id.
#[utoipa::path(get, path = "/ui/customization/assets/{asset_hash}/{asset_id}", tag = "server",
    params(("asset_hash" = String, Path), ("asset_id" = String, Path)),
    responses((status = 200, description = "The image"),
        (status = 404, description = "{\"detail\":\"Unknown asset\"}")))]
pub async fn asset(
    State(app): State<Arc<App>>,
    Path((hash, id)): Path<(String, String)>,
) -> Response {
    let Some(asset) = app
        .settings
        .ui_bundle
        .as_ref()
        .and_then(|b| b.asset(&hash, &id))
    else {
        return ApiError::new(StatusCode::NOT_FOUND, "Unknown asset").into_response();
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(asset.mime)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static(ASSET_CACHE_CONTROL),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(ASSET_CSP),
            ),
        ],
        asset.content.clone(),
    )
        .into_response()
}
