//! Model providers over HTTP: OpenAI-compatible servers (OpenAI, vLLM, llama.cpp,
//! LM Studio ...), Azure OpenAI and Ollama, for chat and embeddings. Each call is retried
//! with back-off on 429, 5xx, timeouts and refused connections ([`retry`]); streamed
//! answers arrive piece by piece ([`lines`]).

mod lines;
pub mod ollama;
pub mod openai;
mod retry;

use std::sync::Arc;
use std::time::Duration;

use crate::embedding::Embedder;
use crate::llm::{BoxFuture, Message, ModelError, TextStream};

/// Which provider serves a role, by LightRAG's binding names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// The network-free model of this crate.
    Builtin,
    OpenAi,
    AzureOpenAi,
    Ollama,
}

/// Where and how to reach one provider model.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub binding: Binding,
    /// Base URL without a trailing slash.
    pub host: String,
    pub api_key: Option<String>,
    /// The model (for Azure, the deployment).
    pub model: String,
    pub timeout: Duration,
    /// Azure's `api-version` query parameter.
    pub api_version: String,
}

/// A chat endpoint: messages in, text out (streamed or in one piece).
pub trait ChatProvider: Send + Sync {
    fn chat(
        &self,
        messages: Vec<Message>,
        stream: bool,
    ) -> BoxFuture<'_, Result<TextStream, ModelError>>;
}

/// One endpoint over HTTP: JSON posts carrying the binding's credentials (Azure's
/// `api-key` header, a bearer token elsewhere), retried as [`retry`] says.
struct Api {
    provider: &'static str,
    client: reqwest::Client,
    endpoint: Endpoint,
}

impl Api {
    fn new(provider: &'static str, endpoint: Endpoint) -> Api {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Api {
            provider,
            client,
            endpoint,
        }
    }

    async fn post(
        &self,
        url: &str,
        body: &serde_json::Value,
    ) -> Result<reqwest::Response, ModelError> {
        retry::send(self.provider, self.endpoint.timeout, || {
            let request = self.client.post(url).json(body);
            match (&self.endpoint.api_key, self.endpoint.binding) {
                (Some(key), Binding::AzureOpenAi) => request.header("api-key", key),
                (Some(key), _) => request.bearer_auth(key),
                (None, _) => request,
            }
        })
        .await
    }

    /// A chat request (the same body for OpenAI and Ollama): the streamed answer read
    /// line by line with `line`, or the text at `content` (a JSON pointer) of the whole
    /// answer.
    async fn chat(
        &self,
        url: &str,
        messages: &[Message],
        stream: bool,
        line: fn(&str) -> lines::Line,
        content: &str,
    ) -> Result<TextStream, ModelError> {
        let body = serde_json::json!({
            "model": self.endpoint.model,
            "messages": messages_json(messages),
            "stream": stream,
        });
        let response = self.post(url, &body).await?;
        chat_answer(self.provider, response, stream, line, content).await
    }

    /// A post's whole answer, as JSON.
    async fn post_json(
        &self,
        url: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, ModelError> {
        read_json(self.provider, self.post(url, body).await?).await
    }
}

/// The chat provider for an HTTP binding; `None` for `builtin`.
pub fn chat_provider(endpoint: Endpoint) -> Option<Arc<dyn ChatProvider>> {
    match endpoint.binding {
        Binding::Builtin => None,
        Binding::OpenAi | Binding::AzureOpenAi => Some(Arc::new(openai::OpenAi::new(endpoint))),
        Binding::Ollama => Some(Arc::new(ollama::Ollama::new(endpoint))),
    }
}

/// The embedder for an HTTP binding, returning `dim` dimensions; `None` for `builtin`.
pub fn embedder(endpoint: Endpoint, dim: usize) -> Option<Arc<dyn Embedder>> {
    match endpoint.binding {
        Binding::Builtin => None,
        Binding::OpenAi | Binding::AzureOpenAi => {
            Some(Arc::new(openai::OpenAiEmbedder::new(endpoint, dim)))
        }
        Binding::Ollama => Some(Arc::new(ollama::OllamaEmbedder::new(endpoint, dim))),
    }
}

fn messages_json(messages: &[Message]) -> serde_json::Value {
    messages
        .iter()
        .map(|m| serde_json::json!({"role": m.role.as_str(), "content": m.content}))
        .collect()
}

fn malformed(provider: &'static str, reason: impl Into<String>) -> ModelError {
    ModelError::Malformed {
        provider,
        reason: reason.into(),
    }
}

/// A chat answer: the streamed lines, or the text at `content` (a JSON pointer) of the
/// whole answer.
async fn chat_answer(
    provider: &'static str,
    response: reqwest::Response,
    stream: bool,
    line: fn(&str) -> lines::Line,
    content: &str,
) -> Result<TextStream, ModelError> {
    if stream {
        return Ok(lines::stream(provider, response, line));
    }
    let answer = read_json(provider, response).await?;
    let text = answer
        .pointer(content)
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| malformed(provider, format!("no {content} in the answer")))?;
    Ok(crate::llm::once(text.to_owned()))
}

async fn read_json(
    provider: &'static str,
    response: reqwest::Response,
) -> Result<serde_json::Value, ModelError> {
    response
        .json()
        .await
        .map_err(|e| malformed(provider, e.to_string()))
}

/// A JSON array of numbers as a vector (anything else reads as empty, which the
/// dimension check then refuses).
fn floats(value: &serde_json::Value) -> Vec<f32> {
    value
        .as_array()
        .map(|v| {
            v.iter()
                .filter_map(|x| x.as_f64())
                .map(|x| x as f32)
                .collect()
        })
        .unwrap_or_default()
}
