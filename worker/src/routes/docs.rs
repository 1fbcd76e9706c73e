//! `GET /openapi.json` and `GET /docs` (Swagger UI from assets vendored in the binary:
//! nothing is fetched at build or run time). Both answer 404 with ENABLE_API_DOCS=false.
//!
//! The document is built on its first request, not at boot: it is large (about 2 MiB
//! of heap in every worker, most of an idle worker's own memory) and few servers are
//! ever asked for it.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use http::{HeaderValue, header};
use utoipa::OpenApi;
use utoipa_swagger_ui::{Config, SwaggerUi};

use super::{auth, customization, documents, graph, health, metrics, ollama, query, root};
use crate::app::{API_VERSION, App};

#[derive(OpenApi)]
#[openapi(
    info(title = "LightRAG Server API", version = API_VERSION,
         description = "LightRAG-compatible API served by lightrag-master"),
    paths(
        root::root, customization::customization, customization::asset, health::health, metrics::metrics,
        auth::login, auth::auth_status, auth::auth_verify,
        documents::status_counts, documents::track_status,
        documents::insert::insert_text, documents::insert::insert_texts, documents::paginated,
        documents::pipeline_status, documents::clear_cache, documents::clear_documents,
        documents::cancel_pipeline, documents::reprocess_failed,
        documents::upload::upload, documents::upload::supported_file_types,
        documents::scan::scan, documents::scan::scan_status,
        documents::deletion::delete_document, documents::recovery::source_conflicts,
        documents::recovery::repair_source_conflict, documents::recovery::force_reset,
        query::query, query::query_stream, query::query_data,
        ollama::version, ollama::tags, ollama::ps, ollama::generate, ollama::chat,
        graph::label_list, graph::label_popular, graph::entity_exists, graph::label_search,
        graph::graphs, graph::edit::entity_edit, graph::edit::relation_edit,
        graph::edit::entity_create, graph::edit::relation_create, graph::edit::entities_merge,
        graph::edit::entity_delete, graph::edit::relation_delete,
    ),
    components(schemas(health::Health, auth::LoginResponse, auth::AuthStatus)),
    modifiers(&Security),
)]
struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
    }
}

/// `GET /openapi.json`: the document, serialised once, on first use.
async fn openapi_json(State(app): State<Arc<App>>) -> Response {
    static DOCUMENT: OnceLock<Bytes> = OnceLock::new();
    let body = DOCUMENT
        .get_or_init(|| Bytes::from(openapi(&app).to_string()))
        .clone();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// The OpenAPI document, with the API prefix as its server and the constraints the
/// handlers enforce (see [`super::contract`]).
pub fn openapi(app: &App) -> serde_json::Value {
    let mut doc = ApiDoc::openapi();
    let prefix = &app.settings.api.api_prefix;
    if !prefix.is_empty() {
        doc.servers = Some(vec![utoipa::openapi::Server::new(prefix)]);
    }
    let mut doc = serde_json::to_value(doc).unwrap_or_default();
    super::contract::apply(&mut doc, app);
    doc
}

pub fn routes(app: &App) -> Router<Arc<App>> {
    if !app.settings.api.enable_api_docs {
        return Router::new();
    }
    let prefix = app.settings.api.api_prefix.clone();
    let doc_url = format!("{prefix}/openapi.json");
    let swagger = SwaggerUi::new("/docs").config(Config::new([doc_url]));
    // SwaggerUi redirects /docs to an absolute /docs/; behind a proxy prefix that must
    // carry the prefix.
    let slash = format!("{prefix}/docs/");
    Router::from(swagger)
        .route("/openapi.json", get(openapi_json))
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            let slash = slash.clone();
            async move {
                if req.uri().path() == "/docs" {
                    Redirect::temporary(&slash).into_response()
                } else {
                    next.run(req).await
                }
            }
        }))
}
