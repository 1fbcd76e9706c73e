//! Ollama's native API: `/api/chat` (newline-delimited JSON when streaming) and
//! `/api/embed`.

use serde_json::{Value, json};

use super::lines::Line;
use super::{ChatProvider, Endpoint, chat_answer, floats, malformed, messages_json, retry};
use crate::embedding::Embedder;
use crate::llm::{BoxFuture, Message, ModelError, TextStream};

const PROVIDER: &str = "ollama";

struct Api {
    client: reqwest::Client,
    endpoint: Endpoint,
}

impl Api {
    async fn post(&self, path: &str, body: &Value) -> Result<reqwest::Response, ModelError> {
        let url = format!("{}{path}", self.endpoint.host);
        retry::send(PROVIDER, self.endpoint.timeout, || {
            let request = self.client.post(&url).json(body);
            match &self.endpoint.api_key {
                Some(key) => request.bearer_auth(key),
                None => request,
            }
        })
        .await
    }
}

pub struct Ollama {
    api: Api,
}

impl Ollama {
    pub fn new(client: reqwest::Client, endpoint: Endpoint) -> Ollama {
        Ollama {
            api: Api { client, endpoint },
        }
    }
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
            let body = json!({
                "model": self.api.endpoint.model,
                "messages": messages_json(&messages),
                "stream": stream,
            });
            let response = self.api.post("/api/chat", &body).await?;
            chat_answer(PROVIDER, response, stream, ndjson, "/message/content").await
        })
    }
}

pub struct OllamaEmbedder {
    api: Api,
    dim: usize,
}

impl OllamaEmbedder {
    pub fn new(client: reqwest::Client, endpoint: Endpoint, dim: usize) -> OllamaEmbedder {
        OllamaEmbedder {
            api: Api { client, endpoint },
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
            let answer: Value = self
                .api
                .post("/api/embed", &body)
                .await?
                .json()
                .await
                .map_err(|e| malformed(PROVIDER, e.to_string()))?;
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
