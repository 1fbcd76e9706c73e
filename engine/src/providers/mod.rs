//! Model providers over HTTP: OpenAI-compatible servers (OpenAI, vLLM, llama.cpp,
//! LM Studio ...), Azure OpenAI and Ollama, for chat and embeddings. Each call is retried
//! with back-off on 429, 5xx, timeouts and refused connections, within its
//! [`Timeouts`] ([`retry`]); streamed answers arrive piece by piece ([`lines`]).

mod lines;
pub mod ollama;
pub mod openai;
pub(crate) mod retry;

use std::future::Future;
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
    pub timeouts: Timeouts,
    /// Azure's `api-version` query parameter.
    pub api_version: String,
}

/// How long a call may take. The settings decide both (TIMEOUT, and the role's
/// LLM_TIMEOUT or EMBEDDING_TIMEOUT capped by it), so `attempt` is at most `call`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// One request, until its whole answer is read (for a stream, its head); also the
    /// longest a streamed answer may pause between two pieces.
    pub attempt: Duration,
    /// The whole call: every attempt and the back-off between them.
    pub call: Duration,
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

    /// Posts `body` and reads the answer with `read`, as [`retry::call`] says.
    async fn post<T, Fut>(
        &self,
        url: &str,
        body: &serde_json::Value,
        read: impl Fn(reqwest::Response) -> Fut,
    ) -> Result<T, ModelError>
    where
        Fut: Future<Output = Result<T, ModelError>>,
    {
        let build = || {
            let request = self.client.post(url).json(body);
            match (&self.endpoint.api_key, self.endpoint.binding) {
                (Some(key), Binding::AzureOpenAi) => request.header("api-key", key),
                (Some(key), _) => request.bearer_auth(key),
                (None, _) => request,
            }
        };
        retry::call(self.provider, self.endpoint.timeouts, build, read).await
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
        let provider = self.provider;
        if stream {
            let pause = self.endpoint.timeouts.attempt;
            return self
                .post(url, &body, |response| async move {
                    Ok(lines::stream(provider, response, line, pause))
                })
                .await;
        }
        let text = self
            .post(url, &body, |response| text_at(provider, response, content))
            .await?;
        Ok(crate::llm::once(text))
    }

    /// A post's whole answer, as JSON.
    async fn post_json(
        &self,
        url: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, ModelError> {
        self.post(url, body, |response| read_json(self.provider, response))
            .await
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

pub(crate) fn malformed(provider: &'static str, reason: impl Into<String>) -> ModelError {
    ModelError::Malformed {
        provider,
        reason: reason.into(),
    }
}

/// The text at `content` (a JSON pointer) of a whole chat answer.
async fn text_at(
    provider: &'static str,
    response: reqwest::Response,
    content: &str,
) -> Result<String, ModelError> {
    let answer = read_json(provider, response).await?;
    answer
        .pointer(content)
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| malformed(provider, format!("no {content} in the answer")))
}

pub(crate) async fn read_json(
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
