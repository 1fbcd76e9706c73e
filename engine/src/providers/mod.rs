//! Model providers over HTTP: OpenAI-compatible servers (OpenAI, vLLM, llama.cpp,
//! LM Studio ...), Azure OpenAI, Ollama, lollms, Gemini and Amazon Bedrock for chat and
//! embeddings, Jina and VoyageAI for embeddings, each on the wire as LightRAG 1.5.7's
//! binding speaks it. Each call is retried with back-off on 429, 5xx, timeouts and
//! refused connections, within its [`Timeouts`] ([`retry`]); streamed answers arrive
//! piece by piece ([`lines`]).

pub mod bedrock;
mod eventstream;
pub mod gemini;
pub mod jina;
mod lines;
pub mod lollms;
pub mod ollama;
pub mod openai;
pub(crate) mod retry;
mod sigv4;
pub mod voyageai;

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
    Lollms,
    Gemini,
    Bedrock,
    Jina,
    VoyageAi,
}

/// The AWS identity and region Bedrock requests are signed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsAccess {
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
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
    /// Bedrock's signing identity.
    pub aws: Option<AwsAccess>,
    /// Whether an embedder sends its dimension (EMBEDDING_SEND_DIM).
    pub send_dim: bool,
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
/// `api-key` header, Gemini's `x-goog-api-key`, a SigV4 signature for Bedrock, a bearer
/// token elsewhere), retried as [`retry`] says.
struct Api {
    provider: &'static str,
    client: reqwest::Client,
    endpoint: Endpoint,
    /// The key goes in `Authorization` as it is, without `Bearer` (lollms embeddings).
    raw_key: bool,
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
            raw_key: false,
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
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        // Signed per attempt: a SigV4 signature carries its time.
        let build = || {
            let request = self
                .client
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(bytes.clone());
            self.authorize(request, url, &bytes)
        };
        retry::call(self.provider, self.endpoint.timeouts, build, read).await
    }

    fn authorize(
        &self,
        request: reqwest::RequestBuilder,
        url: &str,
        body: &[u8],
    ) -> reqwest::RequestBuilder {
        if let Some(aws) = &self.endpoint.aws {
            return sigv4::sign(request, aws, url, body);
        }
        match (&self.endpoint.api_key, self.endpoint.binding) {
            (Some(key), Binding::AzureOpenAi) => request.header("api-key", key),
            (Some(key), Binding::Gemini) => request.header("x-goog-api-key", key),
            (Some(key), _) if self.raw_key => request.header(reqwest::header::AUTHORIZATION, key),
            (Some(key), _) => request.bearer_auth(key),
            (None, _) => request,
        }
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
        self.answer(
            url,
            &body,
            stream,
            |response, pause| lines::stream(provider, response, line, pause),
            |response| text_at(provider, response, content),
        )
        .await
    }

    /// Posts `body`: a streamed answer is handed to `streamed` (with the longest pause
    /// allowed between pieces), a whole one read by `whole`.
    async fn answer<S, W, Fut>(
        &self,
        url: &str,
        body: &serde_json::Value,
        stream: bool,
        streamed: S,
        whole: W,
    ) -> Result<TextStream, ModelError>
    where
        S: Fn(reqwest::Response, Duration) -> TextStream,
        W: Fn(reqwest::Response) -> Fut,
        Fut: Future<Output = Result<String, ModelError>>,
    {
        if stream {
            let pause = self.endpoint.timeouts.attempt;
            return self
                .post(url, body, |response| {
                    let pieces = streamed(response, pause);
                    async move { Ok(pieces) }
                })
                .await;
        }
        let text = self.post(url, body, whole).await?;
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
        Binding::Lollms => Some(Arc::new(lollms::Lollms::new(endpoint))),
        Binding::Gemini => Some(Arc::new(gemini::Gemini::new(endpoint))),
        Binding::Bedrock => Some(Arc::new(bedrock::Bedrock::new(endpoint))),
        // Embedding-only providers: configuration never gives them the LLM role.
        Binding::Jina | Binding::VoyageAi => None,
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
        Binding::Lollms => Some(Arc::new(lollms::LollmsEmbedder::new(endpoint, dim))),
        Binding::Gemini => Some(Arc::new(gemini::GeminiEmbedder::new(endpoint, dim))),
        Binding::Bedrock => Some(Arc::new(bedrock::BedrockEmbedder::new(endpoint, dim))),
        Binding::Jina => Some(Arc::new(jina::JinaEmbedder::new(endpoint, dim))),
        Binding::VoyageAi => Some(Arc::new(voyageai::VoyageEmbedder::new(endpoint, dim))),
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

/// `data[].embedding` of an OpenAI-style embeddings answer, in `index` order.
fn indexed_embeddings(
    provider: &'static str,
    answer: &serde_json::Value,
) -> Result<Vec<Vec<f32>>, ModelError> {
    let mut data: Vec<(u64, Vec<f32>)> = answer["data"]
        .as_array()
        .ok_or_else(|| malformed(provider, "no data in the embeddings answer"))?
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let index = item["index"].as_u64().unwrap_or(i as u64);
            (index, floats(&item["embedding"]))
        })
        .collect();
    data.sort_by_key(|(index, _)| *index);
    Ok(data.into_iter().map(|(_, v)| v).collect())
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
