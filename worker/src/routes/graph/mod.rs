//! Knowledge-graph routes: the reads the web UI's graph explorer makes (`/graphs`, the
//! label list, popular labels, label search, entity existence) here, and the edits
//! (create, edit, rename, merge, delete) in [`edit`].

pub mod edit;

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::documents::blocking;
use crate::app::App;
use crate::error::{ApiError, FieldError};
use crate::workspace::Ws;

fn query_error(field: &str, kind: &'static str, msg: String, input: serde_json::Value) -> ApiError {
    ApiError::invalid(vec!["query".into(), field.into()], kind, msg, input)
}

/// Every entity name.
#[utoipa::path(get, path = "/graph/label/list", tag = "graph",
    responses((status = 200, body = Vec<String>)))]
pub async fn label_list(Ws(ws): Ws) -> Result<Json<Vec<String>>, ApiError> {
    Ok(Json(blocking(&ws, |ws| ws.storage.node_names()).await?))
}

/// A bounded integer query parameter, with FastAPI's 422s.
fn bounded(
    raw: Option<&str>,
    field: &str,
    default: usize,
    min: usize,
    max: Option<usize>,
) -> Result<usize, ApiError> {
    let Some(raw) = raw else {
        return Ok(default);
    };
    let n: usize = raw.trim().parse().map_err(|_| {
        query_error(
            field,
            "int_parsing",
            "Input should be a valid integer, unable to parse string as an integer".into(),
            raw.into(),
        )
    })?;
    if n < min {
        return Err(query_error(
            field,
            "greater_than_equal",
            format!("Input should be greater than or equal to {min}"),
            raw.into(),
        ));
    }
    if let Some(max) = max.filter(|max| n > *max) {
        return Err(query_error(
            field,
            "less_than_equal",
            format!("Input should be less than or equal to {max}"),
            raw.into(),
        ));
    }
    Ok(n)
}

#[derive(Deserialize)]
pub struct PopularQuery {
    limit: Option<String>,
}

/// Entity names by number of relations, most connected first.
#[utoipa::path(get, path = "/graph/label/popular", tag = "graph",
    params(("limit" = Option<usize>, Query, description = "1..1000, default 300")),
    responses((status = 200, body = Vec<String>), (status = 422)))]
pub async fn label_popular(
    Ws(ws): Ws,
    Query(q): Query<PopularQuery>,
) -> Result<Json<Vec<String>>, ApiError> {
    let limit = bounded(q.limit.as_deref(), "limit", 300, 1, Some(1000))?;
    Ok(Json(
        blocking(&ws, move |ws| ws.storage.most_connected(limit)).await?,
    ))
}

#[derive(Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
    limit: Option<String>,
}

/// Entity names matching `q`, best first (exact, prefix, word prefix, substring, then
/// the letters in order).
#[utoipa::path(get, path = "/graph/label/search", tag = "graph",
    params(("q" = String, Query), ("limit" = Option<usize>, Query, description = "1..100, default 50")),
    responses((status = 200, body = Vec<String>), (status = 422)))]
pub async fn label_search(
    State(app): State<Arc<App>>,
    Ws(ws): Ws,
    Query(q): Query<SearchQuery>,
) -> Result<Json<Vec<String>>, ApiError> {
    let Some(query) = q.q else {
        return Err(ApiError::validation(vec![FieldError::missing(
            "query", "q",
        )]));
    };
    let limit = bounded(q.limit.as_deref(), "limit", 50, 1, Some(100))?;
    Ok(Json(
        edit::read(&app, &ws, move |editor| editor.search_labels(&query, limit)).await?,
    ))
}

#[derive(Deserialize)]
pub struct GraphsQuery {
    label: Option<String>,
    max_depth: Option<String>,
    max_nodes: Option<String>,
}

/// The neighbourhood of an entity (`label=*`: the most connected part of the graph),
/// breadth first; when too large, fewer hops then higher degree are kept.
#[utoipa::path(get, path = "/graphs", tag = "graph",
    params(("label" = String, Query), ("max_depth" = Option<usize>, Query), ("max_nodes" = Option<usize>, Query)),
    responses((status = 200, description = "{nodes, edges, is_truncated}"), (status = 422)))]
pub async fn graphs(
    State(app): State<Arc<App>>,
    Ws(ws): Ws,
    Query(q): Query<GraphsQuery>,
) -> Result<Json<lightrag_engine::graph_edit::Subgraph>, ApiError> {
    let Some(label) = q.label else {
        return Err(ApiError::validation(vec![FieldError::missing(
            "query", "label",
        )]));
    };
    let max_depth = bounded(q.max_depth.as_deref(), "max_depth", 3, 1, None)?;
    let cap = app.settings.query.max_graph_nodes;
    let max_nodes = bounded(q.max_nodes.as_deref(), "max_nodes", cap, 1, None)?.min(cap);
    Ok(Json(
        edit::read(&app, &ws, move |editor| {
            editor.subgraph(&label, max_depth, max_nodes)
        })
        .await?,
    ))
}

#[derive(Deserialize)]
pub struct ExistsQuery {
    name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Exists {
    exists: bool,
}

/// Whether an entity of that name is in the graph.
#[utoipa::path(get, path = "/graph/entity/exists", tag = "graph",
    params(("name" = String, Query)),
    responses((status = 200, body = Exists), (status = 422)))]
pub async fn entity_exists(
    Ws(ws): Ws,
    Query(q): Query<ExistsQuery>,
) -> Result<Json<Exists>, ApiError> {
    let Some(name) = q.name else {
        return Err(ApiError::validation(vec![FieldError::missing(
            "query", "name",
        )]));
    };
    let exists = blocking(&ws, move |ws| ws.storage.node_get(&name))
        .await?
        .is_some();
    Ok(Json(Exists { exists }))
}
