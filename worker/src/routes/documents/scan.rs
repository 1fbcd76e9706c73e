//! `POST /documents/scan` and `GET /documents/scan/status/{track_id}`: queue the files
//! dropped into the input directory. The scan runs in the background and records its
//! progress in the `scan_jobs` store, so any worker can answer the status request.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use lightrag_engine::ids;
use lightrag_engine::storage::KvNamespace;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use lightrag_engine::documents::{intake, scan};

use super::blocking;
use crate::app::App;
use crate::error::ApiError;
use crate::extract::PathText;
use crate::workspace::Ws;
use lightrag_engine::workspace::Workspace;

/// Names kept per sample list; the rest are counted as dropped.
const SAMPLE_LIMIT: usize = 20;

#[derive(Serialize, Deserialize, ToSchema, Default, Clone)]
pub struct Sample {
    items: Vec<String>,
    truncated: bool,
    dropped: usize,
}

impl Sample {
    fn push(&mut self, item: String) {
        if self.items.len() < SAMPLE_LIMIT {
            self.items.push(item);
        } else {
            self.truncated = true;
            self.dropped += 1;
        }
    }
}

/// LightRAG's scan job record.
#[derive(Serialize, Deserialize, ToSchema, Clone)]
pub struct ScanStatus {
    track_id: String,
    status: String,
    counts: BTreeMap<String, usize>,
    counters_dropped: usize,
    samples: BTreeMap<String, Sample>,
    created_at: f64,
    updated_at: f64,
    version: u64,
    message: String,
}

fn epoch_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn save(ws: &Workspace, job: &ScanStatus) -> lightrag_engine::storage::Result<()> {
    let value = serde_json::to_value(job).unwrap_or_default();
    ws.storage
        .kv_upsert(KvNamespace::ScanJobs, &[(job.track_id.clone(), value)])
}

#[derive(Serialize, ToSchema)]
pub struct ScanResponse {
    status: &'static str,
    message: &'static str,
    track_id: String,
}

/// Queue the new files in the input directory; failed documents get one more run.
#[utoipa::path(post, path = "/documents/scan", tag = "documents",
    responses((status = 200, body = ScanResponse)))]
pub async fn scan(State(app): State<Arc<App>>, Ws(ws): Ws) -> Result<Json<ScanResponse>, ApiError> {
    let track_id = ids::track_id(ids::TrackKind::Scan, chrono::Utc::now());
    if ws.pipeline_busy() {
        return Ok(Json(ScanResponse {
            status: "scanning_skipped_pipeline_busy",
            message: "Pipeline is busy; the scan was skipped. Try again when it is idle.",
            track_id,
        }));
    }
    let now = epoch_secs();
    let job = ScanStatus {
        track_id: track_id.clone(),
        status: "running".to_owned(),
        counts: BTreeMap::new(),
        counters_dropped: 0,
        samples: ["processed", "warning", "error"]
            .map(|k| (k.to_owned(), Sample::default()))
            .into(),
        created_at: now,
        updated_at: now,
        version: 1,
        message: "Scanning the input directory".to_owned(),
    };
    let started = job.clone();
    blocking(&ws, move |ws| save(ws, &started)).await?;
    let scanned = ws.clone();
    tokio::task::spawn_blocking(move || {
        let mut job = job;
        if let Err(error) = run(&scanned, &mut job) {
            tracing::error!(track_id = %job.track_id, %error, "scan failed");
            job.status = "failed".to_owned();
            job.message = format!("Scan failed: {error}");
        }
        job.updated_at = epoch_secs();
        job.version += 1;
        if let Err(error) = save(&scanned, &job) {
            tracing::error!(track_id = %job.track_id, %error, "scan record not saved");
        }
        app.pipeline_wake.notify_one();
    });
    Ok(Json(ScanResponse {
        status: "scanning_started",
        message: "Scanning process has been initiated in the background",
        track_id,
    }))
}

/// Runs the engine's scan and records its outcome in the job.
fn run(ws: &Workspace, job: &mut ScanStatus) -> Result<(), intake::IntakeError> {
    let report = scan::scan(ws, &job.track_id)?;
    job.counts
        .extend(report.counts.iter().map(|(k, n)| ((*k).to_owned(), *n)));
    let samples = &mut job.samples;
    for warning in report.warnings {
        samples
            .entry("warning".to_owned())
            .or_default()
            .push(warning);
    }
    for name in &report.queued {
        samples
            .entry("processed".to_owned())
            .or_default()
            .push(name.clone());
    }
    let retried = report.counts.get("retried_failed").copied().unwrap_or(0);
    job.status = "completed".to_owned();
    job.message = format!(
        "Scan completed: {} new file(s) queued, {retried} failed document(s) retried",
        report.queued.len()
    );
    Ok(())
}

/// The progress and outcome of one scan.
#[utoipa::path(get, path = "/documents/scan/status/{track_id}", tag = "documents",
    params(("track_id" = String, Path)),
    responses((status = 200, body = ScanStatus), (status = 404)))]
pub async fn scan_status(
    Ws(ws): Ws,
    PathText(track_id): PathText,
) -> Result<Json<serde_json::Value>, ApiError> {
    let key = track_id.clone();
    let record = blocking(&ws, move |ws| {
        ws.storage.kv_get(KvNamespace::ScanJobs, &key)
    })
    .await?;
    record.map(Json).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("Scan job '{track_id}' not found or expired"),
        )
    })
}
