//! Ollama's native API: `/api/chat` (newline-delimited JSON when streaming) and
//! `/api/embed`.

use serde_json::{Value, json};

use super::lines::Line;
use super::{Api, ChatProvider, Endpoint, floats, malformed};
use crate::embedding::Embedder;
use crate::llm::{BoxFuture, Message, ModelError, TextStream};

const PROVIDER: &str = "ollama";

pub struct Ollama {
    api: Api,
}

impl Ollama {
    pub fn new(endpoint: Endpoint) -> Ollama {
        Ollama {
            api: Api::new(PROVIDER, endpoint),
        }
    }
}

/// The URL of an API path (`/api/...`) on the endpoint's host.
fn url(api: &Api, path: &str) -> String {
    format!("{}{path}", api.endpoint.host)
}

fn ndjson(line: &str) -> Line {
    match serde_json::from_str::<Value>(line) {
        Ok(chunk) => {
            if let Some(error) = chunk["error"].as_str() {
                return Line::Error(malformed(PROVIDER, error.to_owned()));
            }
            match chunk["message"]["content"].as_str() {
                Some(text) if !text.is_empty() => Line::Text(text.to_owned()),
                _ if chunk["done"] == true => Line::Done,
                _ => Line::Skip,
            }
        }
        Err(e) => Line::Error(malformed(PROVIDER, format!("stream line: {e}"))),
    }
}

impl ChatProvider for Ollama {
    fn chat(
        &self,
        messages: Vec<Message>,
        stream: bool,
    ) -> BoxFuture<'_, Result<TextStream, ModelError>> {
        Box::pin(async move {
            let url = url(&self.api, "/api/chat");
            self.api
                .chat(&url, &messages, stream, ndjson, "/message/content")
                .await
        })
    }
}

pub struct OllamaEmbedder {
    api: Api,
    dim: usize,
}

impl OllamaEmbedder {
    pub fn new(endpoint: Endpoint, dim: usize) -> OllamaEmbedder {
        OllamaEmbedder {
            api: Api::new(PROVIDER, endpoint),
            dim,
        }
    }
}

impl Embedder for OllamaEmbedder {
    fn dim(&self) -> usize {
        self.dim
    }

    fn embed<'a>(
        &'a self,
        texts: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, ModelError>> {
        Box::pin(async move {
            let body = json!({"model": self.api.endpoint.model, "input": texts});
            let answer = self
                .api
                .post_json(&url(&self.api, "/api/embed"), &body)
                .await?;
            let vectors = answer["embeddings"]
                .as_array()
                .ok_or_else(|| malformed(PROVIDER, "no embeddings in the answer"))?
                .iter()
                .map(floats)
                .collect();
            Ok(vectors)
        })
    }
}
