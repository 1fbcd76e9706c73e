//! `GET /health`: public liveness for everyone (load balancers, the web UI's poll), plus
//! the configuration tier for authenticated callers, as in LightRAG 1.5.
//!
//! The `LIGHTRAG-WORKSPACE` header selects whose pipeline is reported, read from the
//! shared status without opening the workspace: this route needs no credentials, so it
//! must not create state (a workspace, a status slot) for every name it is sent.
//!
//! The route is polled constantly and its answer hardly ever changes (everything but
//! `pipeline_busy`/`pipeline_active` and the worker count is fixed for the worker's
//! life), so each variant is serialised once and then served as shared bytes.
//!
//! While a store this worker uses was last found unreachable (the engine's
//! [`outages`], kept by the storage pools), `status` is `degraded` and `storage` says
//! which store, why and since when; that answer is made afresh each time, and the
//! healthy one, LightRAG's shape exactly, comes back with the first call that
//! succeeds (the pipeline's poll makes one every half second). Meanwhile the pipeline
//! is reported idle without asking a store that may make the probe wait. The HTTP
//! status stays 200 either way: this is the liveness probe, and a database outage must
//! not get every replica restarted.

use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderValue, header};
use lightrag_supervisor::SlotState;
use serde::Serialize;
use utoipa::ToSchema;

use lightrag_engine::storage::outages::{self, Outage};

use crate::app::{API_VERSION, App, CORE_VERSION};
use crate::error::ApiError;
use crate::workspace;

#[derive(Serialize, ToSchema)]
pub struct Health<'a> {
    /// `healthy`, or `degraded` while a store is unreachable.
    status: &'static str,
    /// Beyond LightRAG, only while `degraded`.
    #[serde(skip_serializing_if = "Option::is_none")]
    storage: Option<StorageState<'a>>,
    auth_mode: &'static str,
    core_version: &'static str,
    api_version: &'static str,
    webui_available: bool,
    workspace_available: bool,
    api_docs_available: bool,
    webui_title: Option<&'a str>,
    webui_description: Option<&'a str>,
    ai_content_notice_enabled: bool,
    pipeline_busy: bool,
    pipeline_active: bool,
    // The rest only for authenticated callers. Plain optional fields rather than a
    // flattened struct: serde's flatten goes through a slow generic map path, and this
    // route is polled constantly.
    #[serde(skip_serializing_if = "Option::is_none")]
    working_directory: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    input_directory: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    configuration: Option<&'a Configuration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    server_mode: Option<&'static str>,
    /// Workers accepting requests right now.
    #[serde(skip_serializing_if = "Option::is_none")]
    workers: Option<usize>,
}

/// The stores this worker last found unreachable.
#[derive(Serialize, ToSchema)]
pub struct StorageState<'a> {
    unavailable: Vec<UnavailableStore<'a>>,
}

#[derive(Serialize, ToSchema)]
pub struct UnavailableStore<'a> {
    /// `PostgreSQL` or `Redis`.
    store: &'static str,
    /// Where (for authenticated callers only, like the directories).
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<&'a str>,
    /// The last error reaching it.
    reason: &'a str,
    /// When it was first found unreachable (ISO 8601).
    since: &'a str,
}

#[derive(Serialize, ToSchema)]
pub struct Configuration {
    llm_binding: &'static str,
    llm_binding_host: String,
    llm_model: String,
    embedding_binding: &'static str,
    embedding_binding_host: String,
    embedding_model: String,
    /// Beyond LightRAG: the active embedding's dimensions.
    embedding_dim: usize,
    summary_max_tokens: usize,
    summary_language: String,
    force_llm_summary_on_merge: usize,
    max_parallel_insert: usize,
    max_async: usize,
    llm_timeout: u64,
    embedding_func_max_async: usize,
    embedding_batch_num: usize,
    embedding_timeout: u64,
    role_llm_config: RoleLlmConfig,
    enable_llm_cache_for_extract: bool,
    kv_storage: String,
    doc_status_storage: String,
    graph_storage: String,
    vector_storage: String,
    workspace: String,
    enable_rerank: bool,
    rerank_binding: &'static str,
    rerank_model: Option<String>,
    rerank_binding_host: Option<String>,
    rerank_max_async: usize,
    rerank_timeout: u64,
    min_rerank_score: f64,
}

/// The model each LLM role uses, as LightRAG 1.5.7 reports it.
#[derive(Serialize, ToSchema)]
pub struct RoleLlmConfig {
    extract: RoleLlm,
    keyword: RoleLlm,
    query: RoleLlm,
}

#[derive(Serialize, ToSchema)]
pub struct RoleLlm {
    binding: &'static str,
    model: String,
    host: String,
    max_async: usize,
    timeout: u64,
}

impl RoleLlm {
    fn of(p: &lightrag_config::ProviderSettings) -> RoleLlm {
        RoleLlm {
            binding: p.binding.name(),
            model: p.model.clone(),
            host: p.host.clone(),
            max_async: p.max_async,
            timeout: p.timeout.as_secs(),
        }
    }
}

/// Liveness, and the server's configuration for authenticated callers.
#[utoipa::path(get, path = "/health", tag = "server",
    responses((status = 200, body = Health), (status = 400)))]
pub async fn health(State(app): State<Arc<App>>, req: Request) -> Result<Response, ApiError> {
    // The request itself rather than the `HeaderMap` extractor, which clones every header.
    let headers = req.headers();
    let requested = workspace::requested(headers)?;
    let outages = outages::current();
    // While a store is away the pipeline cannot run, and a board kept in it would only
    // answer `false` after waiting for a connection: the probe must answer at once.
    let busy = outages.is_none()
        && match requested {
            Some(name) if name != app.default_workspace.name => {
                app.shared.pipeline_statuses.busy(&name)
            }
            _ => app.default_workspace.board.busy(),
        };
    let authenticated = app.auth.credentials_sent(headers)
        && app
            .auth
            .check("/health", headers, false)
            .is_ok_and(|granted| app.auth.sees_configuration(&granted));
    let workers = authenticated.then(|| {
        app.arena
            .slots()
            .iter()
            .filter(|s| matches!(s.state(), SlotState::Ready | SlotState::Retiring))
            .count()
    });
    let variant = Variant { busy, workers };
    let body = match outages {
        Some(outages) => Bytes::from(serialise(&app, variant, &outages)?),
        None => match cached(variant) {
            Some(body) => body,
            None => remember(variant, Bytes::from(serialise(&app, variant, &[])?)),
        },
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

/// What varies between two answers; `workers` is there for authenticated callers only.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Variant {
    busy: bool,
    workers: Option<usize>,
}

/// Bodies already serialised. A handful at most (busy or not, times the worker counts
/// seen), and started over past [`MAX_VARIANTS`].
static BODIES: Mutex<Vec<(Variant, Bytes)>> = Mutex::new(Vec::new());
const MAX_VARIANTS: usize = 16;

fn bodies() -> std::sync::MutexGuard<'static, Vec<(Variant, Bytes)>> {
    BODIES.lock().unwrap_or_else(|e| e.into_inner())
}

fn cached(variant: Variant) -> Option<Bytes> {
    bodies()
        .iter()
        .find(|(v, _)| *v == variant)
        .map(|(_, body)| body.clone())
}

fn remember(variant: Variant, body: Bytes) -> Bytes {
    let mut bodies = bodies();
    if bodies.len() >= MAX_VARIANTS {
        bodies.clear();
    }
    bodies.push((variant, body.clone()));
    body
}

fn serialise(
    app: &App,
    Variant { busy, workers }: Variant,
    outages: &[Outage],
) -> Result<Vec<u8>, ApiError> {
    let authenticated = workers.is_some();
    let settings = &app.settings;
    let detail = |value| authenticated.then_some(value);
    // What does not change while the worker lives is worked out once: this route is
    // polled constantly.
    static STATIC: OnceLock<(Configuration, bool, bool)> = OnceLock::new();
    let (configuration, webui, workspace_ui) = STATIC.get_or_init(|| {
        (
            configuration(app),
            super::webui::admin_available(app),
            super::webui::workspace_available(app),
        )
    });
    let storage = (!outages.is_empty()).then(|| StorageState {
        unavailable: outages
            .iter()
            .map(|o| UnavailableStore {
                store: o.kind,
                address: detail(o.address.as_str()),
                reason: &o.reason,
                since: &o.since,
            })
            .collect(),
    });
    serde_json::to_vec(&Health {
        status: if storage.is_some() {
            "degraded"
        } else {
            "healthy"
        },
        storage,
        auth_mode: app.auth.auth_mode(),
        core_version: CORE_VERSION,
        api_version: API_VERSION,
        webui_available: *webui,
        workspace_available: *workspace_ui,
        api_docs_available: settings.api.enable_api_docs,
        webui_title: settings.api.webui_title.as_deref(),
        webui_description: settings.api.webui_description.as_deref(),
        ai_content_notice_enabled: settings.api.ai_content_notice,
        pipeline_busy: busy,
        pipeline_active: busy,
        working_directory: detail(app.working_directory.as_str()),
        input_directory: detail(app.input_directory.as_str()),
        configuration: authenticated.then_some(configuration),
        server_mode: authenticated.then_some("gunicorn"),
        workers,
    })
    .map_err(|e| ApiError::internal(&e))
}

fn configuration(app: &App) -> Configuration {
    let settings = &app.settings;
    let models = &settings.models;
    Configuration {
        llm_binding: models.llm.binding.name(),
        llm_binding_host: models.llm.host.clone(),
        llm_model: models.llm.model.clone(),
        embedding_binding: models.embedding.binding.name(),
        embedding_binding_host: models.embedding.host.clone(),
        embedding_model: models.embedding.model.clone(),
        embedding_dim: app.embedding.dim,
        summary_max_tokens: settings.indexing.summary_max_tokens,
        summary_language: settings.indexing.summary_language.clone(),
        force_llm_summary_on_merge: settings.indexing.force_summary_on_merge,
        max_parallel_insert: settings.indexing.max_parallel_insert,
        max_async: models.llm.max_async,
        llm_timeout: models.llm.timeout.as_secs(),
        embedding_func_max_async: models.embedding.max_async,
        embedding_batch_num: models.embedding_batch,
        embedding_timeout: models.embedding.timeout.as_secs(),
        role_llm_config: RoleLlmConfig {
            extract: RoleLlm::of(&models.extract),
            keyword: RoleLlm::of(&models.keyword),
            query: RoleLlm::of(&models.query),
        },
        enable_llm_cache_for_extract: settings.indexing.cache_extraction,
        kv_storage: settings.storage.kv.clone(),
        doc_status_storage: settings.storage.doc_status.clone(),
        graph_storage: settings.storage.graph.clone(),
        vector_storage: settings.storage.vector.clone(),
        workspace: settings.api.workspace.clone(),
        enable_rerank: app.reranker.is_some(),
        rerank_binding: settings.rerank.binding.name(),
        rerank_model: settings.rerank.model.clone(),
        rerank_binding_host: settings.rerank.host.clone(),
        rerank_max_async: settings.rerank.max_async,
        rerank_timeout: settings.rerank.timeout.as_secs(),
        min_rerank_score: settings.rerank.min_score,
    }
}

pub fn routes() -> Router<Arc<App>> {
    Router::new().route("/health", get(health))
}
