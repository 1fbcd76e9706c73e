//! `POST /documents/upload` and `GET /documents/supported_file_types`.
//!
//! An upload is checked (filename rules, parser hint, file type, duplicates) before a
//! byte is written, then streamed to `INPUT_DIR[/<workspace>]/<name>` with an exclusive,
//! no-follow create and fsynced together with its pending record before the 200, and
//! published where every node's pipeline can read it (document status in PostgreSQL):
//! the text is extracted later by the pipeline, which moves the file into `__parsed__/`.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::response::IntoResponse;
use http::{StatusCode, header};
use lightrag_engine::ids;
use lightrag_engine::parsing;
use serde::Serialize;
use utoipa::ToSchema;

use lightrag_engine::documents::{Incoming, input_files, intake};
use lightrag_engine::storage::{FullDoc, StorageError};

use super::blocking;
use super::insert::InsertResponse;
use crate::app::App;
use crate::error::{ApiError, FieldError};
use crate::workspace::Ws;

fn already_in_input_dir(canonical: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        format!("File '{canonical}' already exists in the input directory."),
    )
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1}MB", bytes as f64 / (1024.0 * 1024.0))
}

/// Removes a partial upload when dropped unless it was kept.
struct PartialFile {
    path: PathBuf,
    keep: bool,
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn create_exclusive(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// Upload one file; it is parsed and indexed in the background.
#[utoipa::path(post, path = "/documents/upload", tag = "documents",
    responses((status = 200, body = InsertResponse), (status = 400), (status = 409),
        (status = 413), (status = 422)))]
pub async fn upload(
    State(app): State<Arc<App>>,
    Ws(ws): Ws,
    req: Request,
) -> Result<Json<InsertResponse>, ApiError> {
    let missing_file = || ApiError::validation(vec![FieldError::missing("body", "file")]);
    let mut form = Multipart::from_request(req, &())
        .await
        .map_err(|_| missing_file())?;
    let mut field = loop {
        match form.next_field().await {
            Ok(Some(field)) if field.name() == Some("file") => break field,
            Ok(Some(_)) => continue,
            Ok(None) => return Err(missing_file()),
            Err(e) => return Err(multipart_error(&app, e)),
        }
    };
    let name = field.file_name().unwrap_or_default().to_owned();
    let input_files::Named {
        canonical,
        chunking,
    } = input_files::read_name(&name).map_err(|e| match e {
        // LightRAG answers an unusable chunking selector as it does a bad request
        // chunking: 422.
        input_files::NameError::CustomChunking => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
        }
        e => ApiError::engine(&e),
    })?;
    let dir = ws.input_dir.clone();
    let path = dir.join(&name);
    {
        let name = canonical.clone();
        let max_pending = app.settings.api.max_pending_documents;
        // Cheap refusals before the body is read; the record itself is reserved
        // atomically once the file is on disk.
        blocking(&ws, move |ws| {
            intake::admission(ws, 1, max_pending)?;
            intake::check_new(ws, &name)
        })
        .await?;
        if path.symlink_metadata().is_ok() {
            return Err(already_in_input_dir(&canonical));
        }
    }
    std::fs::create_dir_all(&dir).map_err(|e| ApiError::internal(&e))?;
    let file = match create_exclusive(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(already_in_input_dir(&canonical));
        }
        Err(e) => return Err(ApiError::internal(&e)),
    };
    let mut partial = PartialFile {
        path: path.clone(),
        keep: false,
    };
    let mut file = std::io::BufWriter::with_capacity(1 << 20, file);
    let limit = app.settings.api.max_upload_size;
    let mut received: u64 = 0;
    loop {
        match field.chunk().await {
            Ok(Some(bytes)) => {
                received += bytes.len() as u64;
                if limit.is_some_and(|max| received > max) {
                    continue;
                }
                file.write_all(&bytes).map_err(|e| ApiError::internal(&e))?;
            }
            Ok(None) => break,
            Err(_) if limit.is_some_and(|max| received > max) => break,
            Err(e) => return Err(multipart_error(&app, e)),
        }
    }
    if let Some(max) = limit.filter(|&max| received > max) {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "File too large. Maximum size: {}, uploaded: {}",
                megabytes(max),
                megabytes(received)
            ),
        ));
    }
    let file = file.into_inner().map_err(|e| ApiError::internal(&e))?;
    let doc = Incoming {
        full_doc: FullDoc::file(name.clone(), canonical.clone(), chunking),
        source: canonical.clone(),
    };
    let max_pending = app.settings.api.max_pending_documents;
    let track_id = ids::track_id(ids::TrackKind::Upload, chrono::Utc::now());
    let track = track_id.clone();
    let file_name = name.clone();
    blocking(&ws, move |ws| {
        // The file and its directory entry are on disk before the record points at it.
        file.sync_all().map_err(StorageError::from)?;
        if let Ok(dir) = std::fs::File::open(&dir) {
            dir.sync_all().map_err(StorageError::from)?;
        }
        // Where every node's pipeline can read it before the record exists.
        ws.inputs.publish(&file_name)?;
        intake::accept(ws, max_pending, &track, std::slice::from_ref(&doc))
            .inspect_err(|_| ws.inputs.forget(&doc.source))
    })
    .await?;
    app.pipeline_wake.notify_one();
    partial.keep = true;
    tracing::info!(file = %name, bytes = received, %track_id, "upload accepted");
    Ok(Json(InsertResponse {
        status: "success",
        message: format!(
            "File '{name}' uploaded successfully. Processing will continue in background."
        ),
        track_id,
    }))
}

/// A broken or over-long multipart body: the ceiling's 413 when the body limit cut it.
fn multipart_error(app: &App, error: axum::extract::multipart::MultipartError) -> ApiError {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        let limit = crate::body_limit::ceiling(&app.settings.api, "/documents/upload");
        return ApiError::body_too_large(limit.unwrap_or_default());
    }
    ApiError::bad_request(format!("Invalid multipart body: {}", error.body_text()))
}

#[derive(Serialize, ToSchema)]
pub struct SupportedFileTypes {
    supported_extensions: Vec<String>,
    engines: std::collections::BTreeMap<&'static str, Vec<String>>,
}

/// The file types an upload or a scan accepts, per parser engine.
#[utoipa::path(get, path = "/documents/supported_file_types", tag = "documents",
    responses((status = 200, body = SupportedFileTypes)))]
pub async fn supported_file_types() -> impl IntoResponse {
    let all = parsing::supported_extensions();
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::VARY, "LIGHTRAG-WORKSPACE"),
        ],
        Json(SupportedFileTypes {
            engines: [(parsing::ENGINE, all.clone())].into(),
            supported_extensions: all,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_megabytes_with_one_decimal() {
        assert_eq!(megabytes(104_857_600), "100.0MB");
        assert_eq!(megabytes(1_572_864), "1.5MB");
    }
}
