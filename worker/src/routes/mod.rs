//! The HTTP routes. Each API area gets its own module; protected routes sit behind
//! [`guard::RequireAuth`]; unknown paths and methods answer in LightRAG's shapes. What
//! every route shares (CORS, body ceilings, the panic guard) is done around the router,
//! in [`crate::service`].

mod auth;
mod contract;
mod customization;
mod docs;
mod documents;
mod graph;
mod guard;
mod health;
mod metrics;
mod ndjson;
mod ollama;
mod query;
mod root;
#[cfg(feature = "testing")]
mod testing;
mod webui;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use lightrag_supervisor::WorkerContext;

use crate::app::App;
use crate::error;
use guard::RequireAuth;

/// Why the application could not be built (the worker then exits with APP_LOAD_ERROR).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Cors(#[from] crate::cors::InvalidOrigin),
    #[cfg(feature = "testing")]
    #[error("boot failure requested by the test-boot-exit file")]
    InjectedFailure,
}

pub fn router(ctx: &WorkerContext, app: Arc<App>) -> Result<Router, AppError> {
    let protected = Router::new()
        .route("/metrics", get(metrics::metrics))
        .route("/documents/status_counts", get(documents::status_counts))
        .route("/graph/label/list", get(graph::label_list))
        .route("/graph/label/popular", get(graph::label_popular))
        .route("/graph/entity/exists", get(graph::entity_exists))
        .route("/graph/label/search", get(graph::label_search))
        .route("/graphs", get(graph::graphs))
        .route("/graph/entity/edit", post(graph::edit::entity_edit))
        .route("/graph/relation/edit", post(graph::edit::relation_edit))
        .route("/graph/entity/create", post(graph::edit::entity_create))
        .route("/graph/relation/create", post(graph::edit::relation_create))
        .route("/graph/entities/merge", post(graph::edit::entities_merge))
        .route(
            "/graph/entity/delete",
            axum::routing::delete(graph::edit::entity_delete),
        )
        .route(
            "/graph/relation/delete",
            axum::routing::delete(graph::edit::relation_delete),
        )
        .route(
            "/documents",
            axum::routing::delete(documents::clear_documents),
        )
        .route("/documents/clear_cache", post(documents::clear_cache))
        .route(
            "/documents/cancel_pipeline",
            post(documents::cancel_pipeline),
        )
        .route(
            "/documents/reprocess_failed",
            post(documents::reprocess_failed),
        )
        .route("/documents/paginated", post(documents::paginated))
        .route(
            "/documents/pipeline_status",
            get(documents::pipeline_status),
        )
        .route("/api/version", get(ollama::version))
        .route("/api/tags", get(ollama::tags))
        .route("/api/ps", get(ollama::ps))
        .route("/api/generate", post(ollama::generate))
        .route("/api/chat", post(ollama::chat))
        .route("/query", post(query::query))
        .route("/query/stream", post(query::query_stream))
        .route("/query/data", post(query::query_data))
        .route("/documents/text", post(documents::insert::insert_text))
        .route("/documents/upload", post(documents::upload::upload))
        .route("/documents/scan", post(documents::scan::scan))
        .route(
            "/documents/source_conflicts",
            get(documents::recovery::source_conflicts),
        )
        .route(
            "/documents/source_conflicts/repair",
            post(documents::recovery::repair_source_conflict),
        )
        .route(
            "/documents/recovery/force_reset",
            post(documents::recovery::force_reset),
        )
        .route(
            "/documents/delete_document",
            axum::routing::delete(documents::deletion::delete_document),
        )
        .route(
            "/documents/scan/status/{track_id}",
            get(documents::scan::scan_status),
        )
        .route(
            "/documents/supported_file_types",
            get(documents::upload::supported_file_types),
        )
        .route("/documents/texts", post(documents::insert::insert_texts))
        .route(
            "/documents/track_status/{track_id}",
            get(documents::track_status),
        );
    #[cfg(feature = "testing")]
    let protected = protected.merge(testing::routes(ctx)?);
    #[cfg(not(feature = "testing"))]
    let _ = ctx;
    let protected = protected.route_layer(RequireAuth::protected(app.clone()));
    let verify = Router::new()
        .route("/auth/verify", get(auth::auth_verify))
        .route_layer(RequireAuth::ignoring_whitelist(app.clone()));
    let router = Router::new()
        .route("/", get(root::root))
        .route("/login", post(auth::login))
        .route("/auth-status", get(auth::auth_status))
        .route("/ui/customization", get(customization::customization))
        .route(
            "/ui/customization/assets/{asset_hash}/{asset_id}",
            get(customization::asset),
        )
        .route("/webui", get(webui::admin_bare))
        .route("/webui/", get(webui::admin_index))
        .route("/webui/{*path}", get(webui::admin_file))
        .route("/workspace", get(webui::workspace_index))
        .route("/workspace/", get(webui::workspace_index))
        .route("/workspace/{*path}", get(webui::workspace_file))
        .merge(health::routes())
        .merge(protected)
        .merge(verify)
        .merge(docs::routes(&app));
    Ok(router
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(app))
}
