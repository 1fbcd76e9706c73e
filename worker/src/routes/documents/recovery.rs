//! LightRAG's repair endpoints, with the contracts our pipeline makes simple:
//! `GET /documents/source_conflicts`, `POST /documents/source_conflicts/repair` and
//! `POST /documents/recovery/force_reset`. A document's id is derived from its canonical
//! source name, reserved with an insert-if-absent (a second document under a known name
//! is refused, 409), so two documents can never claim one source: the conflict list is
//! always empty and a repair finds the primary as the only candidate. No fence blocks
//! the workspace: the one multi-step operation that a crash can interrupt, a deletion,
//! is finished by the pipeline from its durable marker; `pipeline_status` reports it
//! (`recovery_required`) until then, and the reset says so.

use axum::Json;
use axum::extract::Request;
use http::StatusCode;
use lightrag_engine::documents::maintenance;
use lightrag_engine::ids;
use serde_json::{Map, Value, json};

use super::blocking;
use crate::error::{ApiError, FieldError};
use crate::extract::{self, QueryParams};
use crate::validate::Body;
use crate::workspace::Ws;

/// Source names claimed by more than one document: never any here.
#[utoipa::path(get, path = "/documents/source_conflicts", tag = "documents",
    params(("limit" = Option<usize>, Query, minimum = 1, maximum = 200),
        ("cursor" = Option<String>, Query, max_length = 0, description = "no cursor is ever handed out")),
    responses((status = 200), (status = 400), (status = 422)))]
pub async fn source_conflicts(q: QueryParams) -> Result<Json<Value>, ApiError> {
    q.integer("limit", 50, 1, Some(200))?;
    // No cursor is ever handed out, so any given one is stale or forged.
    if q.get("cursor").is_some_and(|c| !c.is_empty()) {
        return Err(ApiError::bad_request("Invalid cursor"));
    }
    Ok(Json(json!({"conflicts": [], "next_cursor": null})))
}

fn required_name(body: &Map<String, Value>, field: &str) -> Result<String, ApiError> {
    match body.get(field) {
        None => Err(ApiError::validation(vec![FieldError::missing(
            "body", field,
        )])),
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(other) => Err(ApiError::invalid(
            vec!["body".into(), field.into()],
            "string_too_short",
            "String should have at least 1 character",
            other.clone(),
        )),
    }
}

/// The fingerprint of a candidate set, for the compare-and-swap.
fn fingerprint(candidates: &[String]) -> String {
    ids::md5_hex(candidates.join("\n").as_bytes())
}

/// Keeps one document for a source name and demotes the others: with at most one
/// document per name, a repair confirms the primary and demotes nothing.
#[utoipa::path(post, path = "/documents/source_conflicts/repair", tag = "documents",
    responses((status = 200), (status = 409), (status = 422)))]
pub async fn repair_source_conflict(Ws(ws): Ws, req: Request) -> Result<Json<Value>, ApiError> {
    let body = extract::json_object(req).await?;
    let key = required_name(&body, "canonical_source_key")?;
    let primary = required_name(&body, "primary_doc_id")?;
    let dry_run = Body(&body).flag("dry_run", true)?;
    let expected_count = body
        .get("expected_candidate_count")
        .filter(|v| !v.is_null());
    let expected_fingerprint = body
        .get("expected_candidate_fingerprint")
        .filter(|v| !v.is_null());
    if !dry_run && (expected_count.is_none() || expected_fingerprint.is_none()) {
        return Err(ApiError::invalid(
            vec!["body".into()],
            "value_error",
            "Value error, expected_candidate_count and expected_candidate_fingerprint are required when dry_run is false",
            Value::Object(body.clone()),
        ));
    }
    let lookup = key.clone();
    let holder = blocking(&ws, move |ws| {
        ws.storage.doc_get(&ids::doc_id_for_source(&lookup))
    })
    .await?;
    let candidates: Vec<String> = holder.into_iter().map(|d| d.id).collect();
    if !candidates.contains(&primary) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("Document '{primary}' is not a candidate for source '{key}'"),
        ));
    }
    let print = fingerprint(&candidates);
    if !dry_run
        && (expected_count.and_then(Value::as_u64) != Some(candidates.len() as u64)
            || expected_fingerprint.and_then(Value::as_str) != Some(print.as_str()))
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "The candidates changed since they were inspected; inspect them again",
        ));
    }
    Ok(Json(json!({
        "canonical_source_key": key,
        "primary_doc_id": primary,
        "candidate_count": candidates.len(),
        "fingerprint": print,
        "demoted_sample_doc_ids": [],
        "committed": !dry_run,
    })))
}

/// Drops a recovery fence: there never is one here.
#[utoipa::path(post, path = "/documents/recovery/force_reset", tag = "documents",
    responses((status = 200), (status = 400)))]
pub async fn force_reset(Ws(ws): Ws, req: Request) -> Result<Json<Value>, ApiError> {
    let body = extract::json_object(req).await?;
    let confirmed = matches!(body.get("confirm"), Some(Value::Bool(true)));
    if !confirmed {
        return Err(ApiError::bad_request(
            "Set confirm to true to reset the recovery fence",
        ));
    }
    let pending = blocking(&ws, maintenance::recovery_pending).await?;
    let message = match pending {
        None => {
            "No recovery is required: the pipeline resumes interrupted work by itself.".to_owned()
        }
        Some(work) => format!("No fence to reset: {work}."),
    };
    Ok(Json(json!({
        "status": "no_recovery_required",
        "message": message,
        "cancelled_manual_retries": 0,
    })))
}
