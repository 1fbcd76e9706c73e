//! Knowledge-graph routes: the reads the web UI's graph explorer makes (`/graphs`, the
//! label list (kept between changes, [`labels`]), popular labels, label search, entity
//! existence) here, and the edits (create, edit, rename, merge, delete) in [`edit`].

pub mod edit;
mod labels;

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::documents::blocking;
use crate::app::App;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::workspace::Ws;

/// Every entity name.
#[utoipa::path(get, path = "/graph/label/list", tag = "graph",
    responses((status = 200, body = Vec<String>)))]
pub async fn label_list(Ws(ws): Ws) -> Result<axum::response::Response, ApiError> {
    labels::answer(ws).await
}

/// Entity names by number of relations, most connected first.
#[utoipa::path(get, path = "/graph/label/popular", tag = "graph",
    params(("limit" = Option<usize>, Query, minimum = 1, maximum = 1000, description = "default 300")),
    responses((status = 200, body = Vec<String>), (status = 422)))]
pub async fn label_popular(Ws(ws): Ws, q: QueryParams) -> Result<Json<Vec<String>>, ApiError> {
    let limit = q.integer("limit", 300, 1, Some(1000))?;
    Ok(Json(
        blocking(&ws, move |ws| ws.storage.most_connected(limit)).await?,
    ))
}

/// Entity names matching `q`, best first (exact, prefix, word prefix, substring, then
/// the letters in order).
#[utoipa::path(get, path = "/graph/label/search", tag = "graph",
    params(("q" = String, Query), ("limit" = Option<usize>, Query, minimum = 1, maximum = 100, description = "default 50")),
    responses((status = 200, body = Vec<String>), (status = 422)))]
pub async fn label_search(
    State(app): State<Arc<App>>,
    Ws(ws): Ws,
    q: QueryParams,
) -> Result<Json<Vec<String>>, ApiError> {
    let query = q.required("q")?.to_owned();
    let limit = q.integer("limit", 50, 1, Some(100))?;
    Ok(Json(
        edit::read(&app, &ws, move |editor| editor.search_labels(&query, limit)).await?,
    ))
}

/// The neighbourhood of an entity (`label=*`: the most connected part of the graph),
/// breadth first; when too large, fewer hops then higher degree are kept.
#[utoipa::path(get, path = "/graphs", tag = "graph",
    params(("label" = String, Query, description = "an entity name, or `*`"),
        ("max_depth" = Option<usize>, Query, minimum = 1, description = "default 3"),
        ("max_nodes" = Option<usize>, Query, minimum = 1, description = "at most MAX_GRAPH_NODES")),
    responses((status = 200, description = "{nodes, edges, is_truncated}"), (status = 422)))]
pub async fn graphs(
    State(app): State<Arc<App>>,
    Ws(ws): Ws,
    q: QueryParams,
) -> Result<Json<lightrag_engine::graph_edit::Subgraph>, ApiError> {
    let label = q.required("label")?.to_owned();
    let max_depth = q.integer("max_depth", 3, 1, None)?;
    let cap = app.settings.query.max_graph_nodes;
    let max_nodes = q.integer("max_nodes", cap, 1, None)?.min(cap);
    Ok(Json(
        edit::read(&app, &ws, move |editor| {
            editor.subgraph(&label, max_depth, max_nodes)
        })
        .await?,
    ))
}

#[derive(Serialize, ToSchema)]
pub struct Exists {
    exists: bool,
}

/// Whether an entity of that name is in the graph.
#[utoipa::path(get, path = "/graph/entity/exists", tag = "graph",
    params(("name" = String, Query)),
    responses((status = 200, body = Exists), (status = 422)))]
pub async fn entity_exists(Ws(ws): Ws, q: QueryParams) -> Result<Json<Exists>, ApiError> {
    let name = q.required("name")?.to_owned();
    let exists = blocking(&ws, move |ws| ws.storage.node_get(&name))
        .await?
        .is_some();
    Ok(Json(Exists { exists }))
}
