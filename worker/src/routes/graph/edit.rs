//! Graph edits: `POST /graph/entity/edit`, `/graph/relation/edit`,
//! `/graph/entity/create`, `/graph/relation/create`, `/graph/entities/merge`,
//! `DELETE /graph/entity/delete`, `/graph/relation/delete`. Each runs under the
//! workspace's pipeline claim (409 while the pipeline or another edit holds it), so no
//! ingestion interleaves, and is visible from every worker as soon as it answers.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Request, State};
use http::StatusCode;
use lightrag_engine::graph_edit::{EditError, EntityUpdate, GraphEditor, RelationUpdate};
use lightrag_engine::storage::{Entity, Relation};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::app::App;
use crate::error::ApiError;
use crate::extract;
use crate::validate::Body;
use crate::workspace::Ws;
use lightrag_engine::workspace::Workspace;

const BUSY: &str = "Pipeline is busy with another operation. Wait for the running job to finish before editing the knowledge graph.";
const ENTITY_FIELDS: &[&str] = &[
    "entity_name",
    "entity_type",
    "description",
    "source_id",
    "file_path",
];
const RELATION_TEXT_FIELDS: &[&str] = &["description", "keywords", "source_id", "file_path"];

fn editor<'a>(app: &'a App, ws: &'a Workspace) -> GraphEditor<'a> {
    GraphEditor {
        stores: ws.stores(),
        embedder: &*app.embedder,
        batching: crate::engine_settings::embedding_batching(&app.settings),
    }
}

fn answer(error: EditError, not_found: StatusCode) -> ApiError {
    match error {
        EditError::NotFound(message) => ApiError::new(not_found, message),
        EditError::Invalid(message) => ApiError::bad_request(message),
        other => ApiError::engine(&other),
    }
}

/// A read of the graph, off the async threads.
pub async fn read<T: Send + 'static>(
    app: &Arc<App>,
    ws: &Arc<Workspace>,
    f: impl FnOnce(&GraphEditor<'_>) -> Result<T, EditError> + Send + 'static,
) -> Result<T, ApiError> {
    let (app, ws) = (app.clone(), ws.clone());
    tokio::task::spawn_blocking(move || f(&editor(&app, &ws)))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| answer(e, StatusCode::NOT_FOUND))
}

/// An edit under the pipeline claim; `not_found` is the route's status for a missing
/// element.
async fn edit<T: Send + 'static>(
    app: &Arc<App>,
    ws: &Arc<Workspace>,
    not_found: StatusCode,
    f: impl FnOnce(&GraphEditor<'_>) -> Result<T, EditError> + Send + 'static,
) -> Result<T, ApiError> {
    let (app, ws) = (app.clone(), ws.clone());
    tokio::task::spawn_blocking(move || {
        let Some(_claim) = ws.claim() else {
            return Err(ApiError::new(StatusCode::CONFLICT, BUSY));
        };
        f(&editor(&app, &ws)).map_err(|e| answer(e, not_found))
    })
    .await
    .map_err(|e| ApiError::internal(&e))?
}

/// An entity or relation name: a non-blank string.
fn name(body: &Map<String, Value>, field: &str) -> Result<String, ApiError> {
    Body(body).text(field, "Value error, Name cannot be empty")
}

fn object(body: &Map<String, Value>, field: &str) -> Result<Map<String, Value>, ApiError> {
    Body(body).object(field).cloned()
}

/// `updated_data` may only hold the known fields, with string values (a relation's
/// weight: a number); anything else is LightRAG's 400.
fn updates<T: DeserializeOwned>(
    data: Map<String, Value>,
    text_fields: &[&str],
    number_fields: &[&str],
) -> Result<T, ApiError> {
    for (key, value) in &data {
        let ok = (text_fields.contains(&key.as_str()) && value.is_string())
            || (number_fields.contains(&key.as_str()) && value.is_number());
        if !ok {
            return Err(ApiError::bad_request(format!(
                "Invalid updated_data: field '{key}' is not editable or has the wrong type"
            )));
        }
    }
    serde_json::from_value(Value::Object(data)).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// An entity as the edit routes answer it: its properties and `entity_name`.
fn entity_data(entity: &Entity) -> Value {
    let mut data = json!(entity);
    data["entity_name"] = Value::from(entity.name.as_str());
    data
}

/// A relation as the edit routes answer it: its properties, `src_id` and `tgt_id`.
fn relation_data(relation: &Relation) -> Value {
    let mut data = json!(relation);
    data["src_id"] = Value::from(relation.source.as_str());
    data["tgt_id"] = Value::from(relation.target.as_str());
    data
}

/// Edit an entity: its type, description, sources; a new `entity_name` renames it
/// (`allow_rename`) or merges it into an existing one (`allow_merge`).
#[utoipa::path(post, path = "/graph/entity/edit", tag = "graph",
    responses((status = 200), (status = 400), (status = 409), (status = 422)))]
pub async fn entity_edit(
    State(app): State<Arc<App>>,
    Ws(ws): Ws,
    req: Request,
) -> Result<Json<Value>, ApiError> {
    let body = extract::json_object(req).await?;
    let entity = name(&body, "entity_name")?;
    let update: EntityUpdate = updates(object(&body, "updated_data")?, ENTITY_FIELDS, &[])?;
    let (allow_rename, allow_merge) = (
        Body(&body).flag("allow_rename", false)?,
        Body(&body).flag("allow_merge", false)?,
    );
    let original = entity.clone();
    let (edited, merged) = edit(&app, &ws, StatusCode::BAD_REQUEST, move |editor| {
        editor.edit_entity(&entity, &update, allow_rename, allow_merge)
    })
    .await?;
    let (final_name, data) = (edited.name.clone(), entity_data(&edited));
    let renamed = final_name != original;
    tracing::info!(entity = %original, final_entity = %final_name, renamed, merged, "entity edited");
    Ok(Json(json!({
        "status": "success",
        "message": if merged { format!("Entity merged successfully into '{final_name}'") } else { "Entity updated successfully".to_owned() },
        "data": data,
        "operation_summary": {
            "merged": merged,
            "merge_status": if merged { "success" } else { "not_attempted" },
            "merge_error": null,
            "operation_status": "success",
            "target_entity": merged.then_some(&final_name),
            "final_entity": final_name,
            "renamed": renamed,
        },
    })))
}

/// Edit a relation's description, keywords, sources or weight.
#[utoipa::path(post, path = "/graph/relation/edit", tag = "graph",
    responses((status = 200), (status = 400), (status = 409), (status = 422)))]
pub async fn relation_edit(
    State(app): State<Arc<App>>,
    Ws(ws): Ws,
    req: Request,
) -> Result<Json<Value>, ApiError> {
    let body = extract::json_object(req).await?;
    let (source, target) = (name(&body, "source_id")?, name(&body, "target_id")?);
    let update: RelationUpdate = updates(
        object(&body, "updated_data")?,
        RELATION_TEXT_FIELDS,
        &["weight"],
    )?;
    let relation = edit(&app, &ws, StatusCode::BAD_REQUEST, move |editor| {
        editor.edit_relation(&source, &target, &update)
    })
    .await?;
    Ok(Json(
        json!({"status": "success", "message": "Relation updated successfully", "data": relation_data(&relation)}),
    ))
}

/// Create an entity (embedded for vector search at once).
#[utoipa::path(post, path = "/graph/entity/create", tag = "graph",
    responses((status = 200), (status = 400), (status = 409), (status = 422)))]
pub async fn entity_create(
    State(app): State<Arc<App>>,
    Ws(ws): Ws,
    req: Request,
) -> Result<Json<Value>, ApiError> {
    let body = extract::json_object(req).await?;
    let entity = name(&body, "entity_name")?;
    let fields = object(&body, "entity_data")?;
    let created = entity.clone();
    let entity = edit(&app, &ws, StatusCode::BAD_REQUEST, move |editor| {
        editor.create_entity(&entity, &fields)
    })
    .await?;
    // A new entity is answered without its `entity_id`, as LightRAG's route does.
    let mut data = entity_data(&entity);
    if let Some(map) = data.as_object_mut() {
        map.shift_remove("entity_id");
    }
    Ok(Json(
        json!({"status": "success", "message": format!("Entity '{created}' created successfully"), "data": data}),
    ))
}

/// Create a relation between two existing entities.
#[utoipa::path(post, path = "/graph/relation/create", tag = "graph",
    responses((status = 200), (status = 400), (status = 409), (status = 422)))]
pub async fn relation_create(
    State(app): State<Arc<App>>,
    Ws(ws): Ws,
    req: Request,
) -> Result<Json<Value>, ApiError> {
    let body = extract::json_object(req).await?;
    let (source, target) = (name(&body, "source_entity")?, name(&body, "target_entity")?);
    let fields = object(&body, "relation_data")?;
    let message = format!("Relation created successfully between '{source}' and '{target}'");
    let relation = edit(&app, &ws, StatusCode::BAD_REQUEST, move |editor| {
        editor.create_relation(&source, &target, &fields)
    })
    .await?;
    Ok(Json(
        json!({"status": "success", "message": message, "data": relation_data(&relation)}),
    ))
}

/// Merge entities into one (created if missing): their relations move to it.
#[utoipa::path(post, path = "/graph/entities/merge", tag = "graph",
    responses((status = 200), (status = 400), (status = 409), (status = 422)))]
pub async fn entities_merge(
    State(app): State<Arc<App>>,
    Ws(ws): Ws,
    req: Request,
) -> Result<Json<Value>, ApiError> {
    let body = extract::json_object(req).await?;
    let target = name(&body, "entity_to_change_into")?;
    let sources: Vec<String> = match body.get("entities_to_change") {
        None => return Err(Body(&body).missing("entities_to_change")),
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
            })
            .collect::<Option<_>>()
            .ok_or_else(|| {
                ApiError::invalid(
                    vec!["body".into(), "entities_to_change".into()],
                    "value_error",
                    "Value error, entity names must be non-empty strings",
                    body["entities_to_change"].clone(),
                )
            })?,
        Some(other) => {
            return Err(ApiError::invalid(
                vec!["body".into(), "entities_to_change".into()],
                "too_short",
                "List should have at least 1 item after validation, not 0",
                other.clone(),
            ));
        }
    };
    let message = format!(
        "Successfully merged {} entities into '{target}'",
        sources.len()
    );
    let merged = edit(&app, &ws, StatusCode::BAD_REQUEST, move |editor| {
        editor.merge_entities(&sources, &target)
    })
    .await?;
    Ok(Json(
        json!({"status": "success", "message": message, "data": entity_data(&merged)}),
    ))
}

fn deleted(message: String) -> Json<Value> {
    Json(
        json!({"status": "success", "doc_id": "", "message": message, "status_code": 200, "file_path": null}),
    )
}

/// Delete an entity and its relations.
#[utoipa::path(delete, path = "/graph/entity/delete", tag = "graph",
    responses((status = 200), (status = 404), (status = 409), (status = 422)))]
pub async fn entity_delete(
    State(app): State<Arc<App>>,
    Ws(ws): Ws,
    req: Request,
) -> Result<Json<Value>, ApiError> {
    let body = extract::json_object(req).await?;
    let entity = name(&body, "entity_name")?;
    let message = format!("Entity '{entity}' deleted successfully");
    edit(&app, &ws, StatusCode::NOT_FOUND, move |editor| {
        editor.delete_entity(&entity)
    })
    .await?;
    Ok(deleted(message))
}

/// Delete a relation.
#[utoipa::path(delete, path = "/graph/relation/delete", tag = "graph",
    responses((status = 200), (status = 404), (status = 409), (status = 422)))]
pub async fn relation_delete(
    State(app): State<Arc<App>>,
    Ws(ws): Ws,
    req: Request,
) -> Result<Json<Value>, ApiError> {
    let body = extract::json_object(req).await?;
    let (source, target) = (name(&body, "source_entity")?, name(&body, "target_entity")?);
    let message = format!("Relation from '{source}' to '{target}' deleted successfully");
    edit(&app, &ws, StatusCode::NOT_FOUND, move |editor| {
        editor.delete_relation(&source, &target)
    })
    .await?;
    Ok(deleted(message))
}
