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

impl Binding {
    pub const NAMES: &[&str] = &["builtin", "openai", "azure_openai", "ollama"];

    pub fn parse(name: &str) -> Option<Binding> {
        Some(match name {
            "builtin" => Binding::Builtin,
            "openai" => Binding::OpenAi,
            "azure_openai" => Binding::AzureOpenAi,
            "ollama" => Binding::Ollama,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Binding::Builtin => "builtin",
            Binding::OpenAi => "openai",
            Binding::AzureOpenAi => "azure_openai",
            Binding::Ollama => "ollama",
        }
    }

    /// LightRAG's default host for the binding.
    pub fn default_host(self) -> &'static str {
        match self {
            Binding::Builtin => "",
            Binding::OpenAi | Binding::AzureOpenAi => "https://api.openai.com/v1",
            Binding::Ollama => "http://localhost:11434",
        }
    }
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

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default()
}

/// The chat provider for an HTTP binding; `None` for `builtin`.
pub fn chat_provider(endpoint: Endpoint) -> Option<Arc<dyn ChatProvider>> {
    match endpoint.binding {
        Binding::Builtin => None,
        Binding::OpenAi | Binding::AzureOpenAi => {
            Some(Arc::new(openai::OpenAi::new(client(), endpoint)))
        }
        Binding::Ollama => Some(Arc::new(ollama::Ollama::new(client(), endpoint))),
    }
}

/// The embedder for an HTTP binding, returning `dim` dimensions; `None` for `builtin`.
pub fn embedder(endpoint: Endpoint, dim: usize) -> Option<Arc<dyn Embedder>> {
    match endpoint.binding {
        Binding::Builtin => None,
        Binding::OpenAi | Binding::AzureOpenAi => Some(Arc::new(openai::OpenAiEmbedder::new(
            client(),
            endpoint,
            dim,
        ))),
        Binding::Ollama => Some(Arc::new(ollama::OllamaEmbedder::new(
            client(),
            endpoint,
            dim,
        ))),
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
    let answer: serde_json::Value = response
        .json()
        .await
        .map_err(|e| malformed(provider, e.to_string()))?;
    let text = answer
        .pointer(content)
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| malformed(provider, format!("no {content} in the answer")))?;
    Ok(crate::llm::once(text.to_owned()))
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
