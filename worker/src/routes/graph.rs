//! Knowledge-graph routes. So far the read-only label routes the web UI's graph explorer
//! starts from: `GET /graph/label/list`, `/graph/label/popular`, `/graph/entity/exists`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use lightrag_engine::storage::GraphStorage;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::documents::blocking;
use crate::app::App;
use crate::error::{ApiError, FieldError};

fn query_error(field: &str, kind: &'static str, msg: String, input: serde_json::Value) -> ApiError {
    ApiError::validation(vec![FieldError {
        kind,
        loc: vec!["query".into(), field.into()],
        msg,
        input,
        ctx: None,
    }])
}

/// Every entity name.
#[utoipa::path(get, path = "/graph/label/list", tag = "graph",
    responses((status = 200, body = Vec<String>)))]
pub async fn label_list(State(app): State<Arc<App>>) -> Result<Json<Vec<String>>, ApiError> {
    Ok(Json(blocking(&app, |app| app.storage.node_names()).await?))
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
    State(app): State<Arc<App>>,
    Query(q): Query<PopularQuery>,
) -> Result<Json<Vec<String>>, ApiError> {
    let limit = match q.limit {
        None => 300,
        Some(raw) => {
            let n: usize = raw.trim().parse().map_err(|_| {
                query_error(
                    "limit",
                    "int_parsing",
                    "Input should be a valid integer, unable to parse string as an integer".into(),
                    raw.clone().into(),
                )
            })?;
            if !(1..=1000).contains(&n) {
                let (kind, msg) = if n < 1 {
                    (
                        "greater_than_equal",
                        "Input should be greater than or equal to 1",
                    )
                } else {
                    (
                        "less_than_equal",
                        "Input should be less than or equal to 1000",
                    )
                };
                return Err(query_error("limit", kind, msg.into(), raw.into()));
            }
            n
        }
    };
    Ok(Json(
        blocking(&app, move |app| app.storage.most_connected(limit)).await?,
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
    State(app): State<Arc<App>>,
    Query(q): Query<ExistsQuery>,
) -> Result<Json<Exists>, ApiError> {
    let Some(name) = q.name else {
        return Err(ApiError::validation(vec![FieldError::missing(
            "query", "name",
        )]));
    };
    let exists = blocking(&app, move |app| app.storage.node_get(&name))
        .await?
        .is_some();
    Ok(Json(Exists { exists }))
}
