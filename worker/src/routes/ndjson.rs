//! Newline-delimited JSON answers streamed as they are produced (`/query/stream`, the
//! Ollama emulation): a task writes lines into a channel, the response body reads them.
//! When the client goes away the body is dropped, the channel closes, and the writer
//! sees it at its next line or through [`Lines::closed`].

use axum::body::{Body, Bytes};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, header};
use serde_json::Value;
use tokio::sync::mpsc;

/// Lines a task may buffer ahead of a slow client.
const BUFFERED_LINES: usize = 64;

#[derive(Clone)]
pub struct Lines(mpsc::Sender<String>);

impl Lines {
    /// Sends one line; false once the client is gone.
    pub async fn send(&self, value: Value) -> bool {
        self.0.send(format!("{value}\n")).await.is_ok()
    }

    /// Sends without waiting (progress notes from blocking code); dropped when full.
    pub fn try_send(&self, value: Value) {
        let _ = self.0.try_send(format!("{value}\n"));
    }

    /// Completes when the client has gone away.
    pub async fn closed(&self) {
        self.0.closed().await
    }
}

/// Whether the request asked to close its connection after the answer.
pub fn closing(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONNECTION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("close"))
}

/// A line writer and the streaming response reading from it, with LightRAG's headers
/// (`Connection: keep-alive` unless the client asked to close: the header would keep
/// its connection open after the last line).
pub fn channel(closing: bool) -> (Lines, Response) {
    let (sender, receiver) = mpsc::channel::<String>(BUFFERED_LINES);
    let body = futures_util::stream::unfold(receiver, |mut receiver| async move {
        let line = receiver.recv().await?;
        Some((
            Ok::<_, std::convert::Infallible>(Bytes::from(line)),
            receiver,
        ))
    });
    let mut response = (
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            (header::CACHE_CONTROL, "no-cache"),
            (http::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Body::from_stream(body),
    )
        .into_response();
    if !closing {
        response.headers_mut().insert(
            header::CONNECTION,
            http::HeaderValue::from_static("keep-alive"),
        );
    }
    (Lines(sender), response)
}
