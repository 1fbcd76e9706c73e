//! OpenAI's chat-completions and embeddings APIs, as OpenAI and every compatible
//! server speak them, and Azure OpenAI's deployment-scoped variant of the same.

use serde_json::{Value, json};

use super::lines::Line;
use super::{Api, ChatProvider, Endpoint, indexed_embeddings, malformed};
use crate::embedding::Embedder;
use crate::llm::{BoxFuture, Message, ModelError, TextStream};
use crate::providers::Binding;

const PROVIDER: &str = "openai";

/// The URL of an operation (`chat/completions`, `embeddings`): under the host, or
/// under the deployment with the `api-version` for Azure.
fn url(api: &Api, operation: &str) -> String {
    let e = &api.endpoint;
    match e.binding {
        Binding::AzureOpenAi => format!(
            "{}/openai/deployments/{}/{operation}?api-version={}",
            e.host, e.model, e.api_version
        ),
        _ => format!("{}/{operation}", e.host),
    }
}

pub struct OpenAi {
    api: Api,
}

impl OpenAi {
    pub fn new(endpoint: Endpoint) -> OpenAi {
        OpenAi {
            api: Api::new(PROVIDER, endpoint),
        }
    }
}

/// One server-sent event line of a streamed completion.
fn event(line: &str) -> Line {
    let Some(data) = line.strip_prefix("data:").map(str::trim) else {
        return Line::Skip;
    };
    if data == "[DONE]" {
        return Line::Done;
    }
    match serde_json::from_str::<Value>(data) {
        Ok(chunk) => match chunk["choices"][0]["delta"]["content"].as_str() {
            Some(text) if !text.is_empty() => Line::Text(text.to_owned()),
            _ => Line::Skip,
        },
        Err(e) => Line::Error(malformed(PROVIDER, format!("stream event: {e}"))),
    }
}

impl ChatProvider for OpenAi {
    fn chat(
        &self,
        messages: Vec<Message>,
        stream: bool,
    ) -> BoxFuture<'_, Result<TextStream, ModelError>> {
        Box::pin(async move {
            let url = url(&self.api, "chat/completions");
            self.api
                .chat(&url, &messages, stream, event, "/choices/0/message/content")
                .await
        })
    }
}

pub struct OpenAiEmbedder {
    api: Api,
    dim: usize,
}

impl OpenAiEmbedder {
    pub fn new(endpoint: Endpoint, dim: usize) -> OpenAiEmbedder {
        OpenAiEmbedder {
            api: Api::new(PROVIDER, endpoint),
            dim,
        }
    }
}

impl Embedder for OpenAiEmbedder {
    fn dim(&self) -> usize {
        self.dim
    }

    fn embed<'a>(
        &'a self,
        texts: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, ModelError>> {
        Box::pin(async move {
            let mut body = json!({
                "model": self.api.endpoint.model,
                "input": texts,
                "encoding_format": "float",
            });
            if self.api.endpoint.send_dim {
                body["dimensions"] = json!(self.dim);
            }
            let answer = self
                .api
                .post_json(&url(&self.api, "embeddings"), &body)
                .await?;
            indexed_embeddings(PROVIDER, &answer)
        })
    }
}
