//! Newline-delimited JSON answers streamed as they are produced (`/query/stream`, the
//! Ollama emulation): a task writes lines into a channel, the response body reads them.
//! When the client goes away the body is dropped, the channel closes, and the writer
//! sees it at its next line or through [`Lines::closed`].

use axum::body::{Body, Bytes};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use http::{HeaderMap, header};
use lightrag_engine::llm::{ModelError, TextStream};
use serde_json::Value;
use tokio::sync::mpsc;

/// Lines a task may buffer ahead of a slow client.
const BUFFERED_LINES: usize = 64;

/// How relaying a model's stream ended.
pub enum Relayed {
    /// Every piece was sent: the whole text.
    Complete(String),
    /// The model failed after the text so far.
    Failed(ModelError, String),
    /// The client went away, and the model call with the dropped stream.
    Gone,
}

#[derive(Clone)]
pub struct Lines {
    sender: mpsc::Sender<String>,
    ascii: bool,
}

/// How lines spell non-ASCII text.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `\uXXXX` escapes, as Python's `json.dumps` writes them (`/query/stream`).
    Ascii,
    /// UTF-8 as is (the Ollama emulation).
    Utf8,
}

/// JSON with every non-ASCII character escaped (UTF-16 pairs beyond the BMP); still the
/// same JSON, since such characters can only stand inside strings.
fn ascii_json(value: &Value) -> String {
    let text = value.to_string();
    if text.is_ascii() {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

impl Lines {
    fn line(&self, value: &Value) -> String {
        let mut line = if self.ascii {
            ascii_json(value)
        } else {
            value.to_string()
        };
        line.push('\n');
        line
    }

    /// Sends one line; false once the client is gone.
    pub async fn send(&self, value: Value) -> bool {
        self.sender.send(self.line(&value)).await.is_ok()
    }

    /// Sends without waiting (progress notes from blocking code); dropped when full.
    pub fn try_send(&self, value: Value) {
        let _ = self.sender.try_send(self.line(&value));
    }

    /// Completes when the client has gone away.
    pub async fn closed(&self) {
        self.sender.closed().await
    }

    /// Sends each piece of a model's answer as the line `line(piece)` until the answer
    /// ends, fails, or the client goes away (noticed even while the model is silent).
    pub async fn relay(
        &self,
        mut answer: TextStream,
        mut line: impl FnMut(&str) -> Value,
    ) -> Relayed {
        let mut text = String::new();
        loop {
            let next = tokio::select! {
                _ = self.closed() => return Relayed::Gone,
                next = answer.next() => next,
            };
            match next {
                None => return Relayed::Complete(text),
                Some(Ok(piece)) => {
                    text.push_str(&piece);
                    if !self.send(line(&piece)).await {
                        return Relayed::Gone;
                    }
                }
                Some(Err(error)) => return Relayed::Failed(error, text),
            }
        }
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
pub fn channel(closing: bool, encoding: Encoding) -> (Lines, Response) {
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
    (
        Lines {
            sender,
            ascii: encoding == Encoding::Ascii,
        },
        response,
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    /// Stands for the model call's permit: set when the answer stream is dropped.
    struct Permit(Arc<AtomicBool>);

    impl Drop for Permit {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Release);
        }
    }

    /// When a stalled client's connection is cut (SEND_TIMEOUT), hyper drops the body:
    /// the relay must stop and drop the model's stream, which returns its permit.
    #[tokio::test]
    async fn dropping_an_unread_body_stops_the_answer_and_frees_its_permit() {
        let released = Arc::new(AtomicBool::new(false));
        let permit = Permit(released.clone());
        let endless: TextStream = Box::pin(futures_util::stream::repeat_with(move || {
            let _ = &permit;
            Ok("piece".to_owned())
        }));
        let (lines, response) = channel(false, Encoding::Utf8);
        let relay = tokio::spawn(async move { lines.relay(endless, |p| Value::from(p)).await });
        // Nobody reads: the channel fills and the relay waits on it.
        tokio::task::yield_now().await;
        assert!(!relay.is_finished());
        drop(response);
        assert!(matches!(relay.await.unwrap(), Relayed::Gone));
        assert!(
            released.load(Ordering::Acquire),
            "the permit went with the stream"
        );
    }

    #[test]
    fn ascii_lines_escape_like_python() {
        let value = serde_json::json!({"response": "孙悟空 é 😀"});
        assert_eq!(
            ascii_json(&value),
            r#"{"response":"\u5b59\u609f\u7a7a \u00e9 \ud83d\ude00"}"#
        );
        let back: Value = serde_json::from_str(&ascii_json(&value)).unwrap();
        assert_eq!(back, value);
    }
}
