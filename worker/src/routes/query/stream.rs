//! The body of a `/query/stream` answer, LightRAG's NDJSON: progress notes (with
//! `include_progress`), the references, then the answer: one line when it is fixed,
//! cached or asked for with `stream: false`, else a line per piece as the model writes
//! it; with progress, the time taken last. A failure after the headers is an
//! `{"error": ...}` line. A streamed answer stops, and its model call with it, as soon
//! as the client goes away.

use std::time::Instant;

use axum::response::Response;
use lightrag_engine::llm::collect;
use lightrag_engine::query::answer::{Answer, AnswerError, AnswerRequest, Answered, Answerer};
use serde_json::{Value, json};

use super::super::ndjson::{self, Lines, Relayed};
use super::{QueryRequest, references, seconds_since};
use crate::error::ApiError;

/// Starts the answer and its NDJSON response. Without progress lines the headers wait
/// for retrieval, so that a failed retrieval is still a plain HTTP error.
pub(super) async fn respond(
    answerer: Answerer,
    question: AnswerRequest,
    request: QueryRequest,
    closing: bool,
    started: Instant,
) -> Result<Response, ApiError> {
    let (lines, response) = ndjson::channel(closing, ndjson::Encoding::Ascii);
    if request.include_progress {
        let notes = lines.clone();
        let progress = move |step: &'static str| notes.try_send(json!({"progress": step}));
        tokio::spawn(async move {
            let answered = answerer.answer(question, progress).await;
            write(request, answered, lines, started).await;
        });
    } else {
        let answered = match answerer.answer(question, |_| {}).await {
            Err(AnswerError::Retrieval(e)) => return Err(ApiError::engine(&e)),
            answered => answered,
        };
        tokio::spawn(write(request, answered, lines, started));
    }
    Ok(response)
}

/// The `error` of a line reporting a failure: a failed retrieval's own message; for a
/// failed answer, what a 500 would say (an error id, the cause in the log).
fn failure(error: &AnswerError) -> Value {
    match error {
        AnswerError::Retrieval(e) => Value::from(e.to_string()),
        e => ApiError::engine(e).detail,
    }
}

/// Everything after the headers.
async fn write(
    request: QueryRequest,
    answered: Result<Answered, AnswerError>,
    lines: Lines,
    started: Instant,
) {
    let Answered { retrieval, answer } = match answered {
        Ok(answered) => answered,
        Err(e) => {
            lines.send(json!({"error": failure(&e)})).await;
            return;
        }
    };
    let refs = request
        .include_references
        .then(|| references(&retrieval, request.include_chunk_content));
    let single = |text: String, llm_generated: bool| {
        let mut line = json!({"response": text, "llm_generated": llm_generated});
        if let Some(refs) = &refs {
            line["references"] = refs.clone();
        }
        line
    };
    let delivered = match answer {
        Answer::Fixed(text) => lines.send(single(text, false)).await,
        Answer::Cached(text) => lines.send(single(text, true)).await,
        Answer::Generated(stream) if request.stream == Some(false) => match collect(stream).await {
            Ok(text) => lines.send(single(text, true)).await,
            Err(e) => lines.send(json!({"error": e.to_string()})).await,
        },
        Answer::Generated(stream) => {
            if let Some(refs) = &refs
                && !lines.send(json!({"references": refs})).await
            {
                return;
            }
            match lines
                .relay(stream, |piece| json!({"response": piece}))
                .await
            {
                Relayed::Complete(_) => true,
                Relayed::Failed(e, _) => {
                    lines.send(json!({"error": e.to_string()})).await;
                    return;
                }
                Relayed::Gone => {
                    tracing::info!(mode = %request.mode.as_str(), "client disconnected; generation stopped");
                    return;
                }
            }
        }
    };
    if delivered && request.include_progress {
        lines
            .send(json!({"response_time": seconds_since(started)}))
            .await;
    }
}
