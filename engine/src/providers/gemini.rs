//! Google Gemini's REST API as LightRAG's gemini binding (the google-genai SDK) calls
//! it: `models/{model}:generateContent`, `:streamGenerateContent?alt=sse` for streamed
//! answers, `:batchEmbedContents` for embeddings, the key in `x-goog-api-key`.
//!
//! LightRAG sends one user turn: earlier messages as `[role] content` lines, then
//! `[user] prompt`, with system messages as the system instruction. Parts marked as
//! thoughts are left out of the answer.

use serde_json::{Value, json};

use super::lines::{self, Line};
use super::{Api, ChatProvider, Endpoint, floats, malformed, read_json};
use crate::embedding::{Embedder, Purpose};
use crate::llm::{BoxFuture, Message, ModelError, Role, TextStream};

const PROVIDER: &str = "gemini";

/// Google's API root, which LightRAG also accepts with its version path.
const GOOGLE_ROOT: &str = "https://generativelanguage.googleapis.com";

/// The service root: the host as given, but Google's root with `/v1beta` or `/v1`
/// (which LightRAG treats as the SDK default) without it, as the version is added here.
fn root(host: &str) -> &str {
    match host.strip_prefix(GOOGLE_ROOT) {
        Some("/v1beta" | "/v1") => GOOGLE_ROOT,
        _ => host,
    }
}

fn url(api: &Api, operation: &str) -> String {
    format!(
        "{}/v1beta/models/{}:{operation}",
        root(&api.endpoint.host),
        api.endpoint.model
    )
}

/// The request body for `messages`, as LightRAG lays them out.
fn request(messages: &[Message]) -> Value {
    let system: Vec<&str> = messages
        .iter()
        .filter(|m| m.role == Role::System)
        .map(|m| m.content.as_str())
        .collect();
    let turns: Vec<&Message> = messages.iter().filter(|m| m.role != Role::System).collect();
    let mut lines: Vec<String> = Vec::new();
    if let Some((last, history)) = turns.split_last() {
        lines.extend(
            history
                .iter()
                .map(|m| format!("[{}] {}", m.role.as_str(), m.content)),
        );
        lines.push(format!("[user] {}", last.content));
    }
    let mut body = json!({
        "contents": [{"role": "user", "parts": [{"text": lines.join("\n")}]}],
    });
    if !system.is_empty() {
        body["systemInstruction"] = json!({"parts": [{"text": system.join("\n")}]});
    }
    body
}

/// The answer's text: every non-thought part of the candidates, as LightRAG joins them.
fn text(answer: &Value) -> String {
    answer["candidates"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["content"]["parts"].as_array().into_iter().flatten())
        .filter(|part| part["thought"] != true)
        .filter_map(|part| part["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn event(line: &str) -> Line {
    let Some(data) = line.strip_prefix("data:").map(str::trim) else {
        return Line::Skip;
    };
    match serde_json::from_str::<Value>(data) {
        Ok(chunk) if chunk.get("error").is_some() => Line::Error(malformed(
            PROVIDER,
            chunk["error"]["message"]
                .as_str()
                .unwrap_or("error")
                .to_owned(),
        )),
        Ok(chunk) => match text(&chunk) {
            piece if piece.is_empty() => Line::Skip,
            piece => Line::Text(piece),
        },
        Err(e) => Line::Error(malformed(PROVIDER, format!("stream event: {e}"))),
    }
}

pub struct Gemini {
    api: Api,
}

impl Gemini {
    pub fn new(endpoint: Endpoint) -> Gemini {
        Gemini {
            api: Api::new(PROVIDER, endpoint),
        }
    }
}

impl ChatProvider for Gemini {
    fn chat(
        &self,
        messages: Vec<Message>,
        stream: bool,
    ) -> BoxFuture<'_, Result<TextStream, ModelError>> {
        Box::pin(async move {
            let url = if stream {
                format!("{}?alt=sse", url(&self.api, "streamGenerateContent"))
            } else {
                url(&self.api, "generateContent")
            };
            self.api
                .answer(
                    &url,
                    &request(&messages),
                    stream,
                    |response, pause| lines::stream(PROVIDER, response, event, pause),
                    |response| async move {
                        let answer = read_json(PROVIDER, response).await?;
                        match text(&answer) {
                            t if t.is_empty() => Err(malformed(PROVIDER, "an empty answer")),
                            t => Ok(t),
                        }
                    },
                )
                .await
        })
    }
}

pub struct GeminiEmbedder {
    api: Api,
    dim: usize,
}

impl GeminiEmbedder {
    pub fn new(endpoint: Endpoint, dim: usize) -> GeminiEmbedder {
        GeminiEmbedder {
            api: Api::new(PROVIDER, endpoint),
            dim,
        }
    }

    /// Gemini's task type: documents are embedded for retrieval, queries to retrieve.
    fn task_type(purpose: Purpose) -> &'static str {
        match purpose {
            Purpose::Document => "RETRIEVAL_DOCUMENT",
            Purpose::Query => "RETRIEVAL_QUERY",
        }
    }
}

impl Embedder for GeminiEmbedder {
    fn dim(&self) -> usize {
        self.dim
    }

    fn embed<'a>(
        &'a self,
        texts: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, ModelError>> {
        self.embed_for(texts, Purpose::Document)
    }

    fn embed_for<'a>(
        &'a self,
        texts: &'a [String],
        purpose: Purpose,
    ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, ModelError>> {
        Box::pin(async move {
            let model = format!("models/{}", self.api.endpoint.model);
            let requests: Vec<Value> = texts
                .iter()
                .map(|text| {
                    let mut request = json!({
                        "model": model,
                        "content": {"parts": [{"text": text}]},
                        "taskType": Self::task_type(purpose),
                    });
                    if self.api.endpoint.send_dim {
                        request["outputDimensionality"] = json!(self.dim);
                    }
                    request
                })
                .collect();
            let answer = self
                .api
                .post_json(
                    &url(&self.api, "batchEmbedContents"),
                    &json!({ "requests": requests }),
                )
                .await?;
            Ok(answer["embeddings"]
                .as_array()
                .ok_or_else(|| malformed(PROVIDER, "no embeddings in the answer"))?
                .iter()
                .map(|e| floats(&e["values"]))
                .collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_becomes_role_lines_and_system_the_instruction() {
        let body = request(&[
            Message::new(Role::System, "be brief"),
            Message::new(Role::User, "hi"),
            Message::new(Role::Assistant, "hello"),
            Message::new(Role::User, "who?"),
        ]);
        assert_eq!(
            body["contents"][0]["parts"][0]["text"],
            "[user] hi\n[assistant] hello\n[user] who?"
        );
        assert_eq!(body["systemInstruction"]["parts"][0]["text"], "be brief");
        let answer = json!({"candidates": [{"content": {"parts": [
            {"text": "thinking", "thought": true}, {"text": "Paris"}]}}]});
        assert_eq!(text(&answer), "Paris");
        assert!(matches!(event("data: {\"candidates\":[]}"), Line::Skip));
        assert_eq!(
            root("https://generativelanguage.googleapis.com/v1beta"),
            GOOGLE_ROOT
        );
        assert_eq!(root("http://proxy:8080/v1beta"), "http://proxy:8080/v1beta");
    }
}
