//! Amazon Bedrock's runtime API as LightRAG's bedrock binding calls it through boto3:
//! the Converse API (`/model/{id}/converse`, and `/converse-stream` whose answer is a
//! binary event stream, see [`super::eventstream`]) for chat, `InvokeModel`
//! (`/model/{id}/invoke`) for Titan and Cohere embeddings; every request SigV4-signed.
//!
//! As in LightRAG, system messages go in `system`, the others in `messages` with one
//! text block each, and no inference parameters are sent.

use serde_json::{Value, json};

use super::eventstream;
use super::lines::{self, Line};
use super::{Api, ChatProvider, Endpoint, floats, malformed, read_json};
use crate::embedding::Embedder;
use crate::llm::{BoxFuture, Message, ModelError, Role, TextStream};

const PROVIDER: &str = "bedrock";

/// A path segment as botocore encodes it (model ids hold `:`, ARNs `/`).
fn segment(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn url(api: &Api, model: &str, operation: &str) -> String {
    format!("{}/model/{}/{operation}", api.endpoint.host, segment(model))
}

fn request(messages: &[Message]) -> Value {
    let system: Vec<Value> = messages
        .iter()
        .filter(|m| m.role == Role::System)
        .map(|m| json!({"text": m.content}))
        .collect();
    let turns: Vec<Value> = messages
        .iter()
        .filter(|m| m.role != Role::System)
        .map(|m| json!({"role": m.role.as_str(), "content": [{"text": m.content}]}))
        .collect();
    let mut body = json!({ "messages": turns });
    if !system.is_empty() {
        body["system"] = Value::Array(system);
    }
    body
}

/// One ConverseStream event: text deltas, the end, or an exception.
fn event(frame: &[u8]) -> Line {
    let message = match eventstream::decode(frame) {
        Ok(message) => message,
        Err(reason) => return Line::Error(malformed(PROVIDER, reason)),
    };
    let payload: Value = serde_json::from_slice(&message.payload).unwrap_or_default();
    if message.header(":message-type") == Some("exception") {
        let kind = message.header(":exception-type").unwrap_or("exception");
        let text = payload["message"].as_str().unwrap_or_default();
        return Line::Error(malformed(PROVIDER, format!("{kind}: {text}")));
    }
    match message.header(":event-type") {
        Some("contentBlockDelta") => match payload["delta"]["text"].as_str() {
            Some(text) if !text.is_empty() => Line::Text(text.to_owned()),
            _ => Line::Skip,
        },
        Some("messageStop") => Line::Done,
        _ => Line::Skip,
    }
}

pub struct Bedrock {
    api: Api,
}

impl Bedrock {
    pub fn new(endpoint: Endpoint) -> Bedrock {
        Bedrock {
            api: Api::new(PROVIDER, endpoint),
        }
    }
}

impl ChatProvider for Bedrock {
    fn chat(
        &self,
        messages: Vec<Message>,
        stream: bool,
    ) -> BoxFuture<'_, Result<TextStream, ModelError>> {
        Box::pin(async move {
            let model = &self.api.endpoint.model;
            let operation = if stream {
                "converse-stream"
            } else {
                "converse"
            };
            self.api
                .answer(
                    &url(&self.api, model, operation),
                    &request(&messages),
                    stream,
                    |response, pause| {
                        lines::frames(PROVIDER, response, eventstream::split, event, pause)
                    },
                    |response| async move {
                        let answer = read_json(PROVIDER, response).await?;
                        match answer["output"]["message"]["content"][0]["text"].as_str() {
                            Some(text) if !text.trim().is_empty() => Ok(text.to_owned()),
                            _ => Err(malformed(PROVIDER, "no text in the converse answer")),
                        }
                    },
                )
                .await
        })
    }
}

pub struct BedrockEmbedder {
    api: Api,
    dim: usize,
}

impl BedrockEmbedder {
    pub fn new(endpoint: Endpoint, dim: usize) -> BedrockEmbedder {
        BedrockEmbedder {
            api: Api::new(PROVIDER, endpoint),
            dim,
        }
    }

    /// Titan embeds one text per call (v2 asked for float vectors).
    async fn titan(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ModelError> {
        let model = &self.api.endpoint.model;
        let url = url(&self.api, model, "invoke");
        let mut vectors = Vec::with_capacity(texts.len());
        for text in texts {
            let body = if model.contains("v2") {
                json!({"inputText": text, "embeddingTypes": ["float"]})
            } else {
                json!({ "inputText": text })
            };
            let answer = self.api.post_json(&url, &body).await?;
            let vector = floats(&answer["embedding"]);
            if vector.is_empty() {
                return Err(malformed(PROVIDER, "no embedding in the answer"));
            }
            vectors.push(vector);
        }
        Ok(vectors)
    }

    async fn cohere(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ModelError> {
        let url = url(&self.api, &self.api.endpoint.model, "invoke");
        let body = json!({"texts": texts, "input_type": "search_document", "truncate": "NONE"});
        let answer = self.api.post_json(&url, &body).await?;
        let vectors: Vec<Vec<f32>> = answer["embeddings"]
            .as_array()
            .ok_or_else(|| malformed(PROVIDER, "no embeddings in the answer"))?
            .iter()
            .map(floats)
            .collect();
        Ok(vectors)
    }
}

impl Embedder for BedrockEmbedder {
    fn dim(&self) -> usize {
        self.dim
    }

    fn embed<'a>(
        &'a self,
        texts: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, ModelError>> {
        Box::pin(async move {
            let model = &self.api.endpoint.model;
            match model.split('.').next() {
                Some("amazon") => self.titan(texts).await,
                Some("cohere") => self.cohere(texts).await,
                _ => Err(malformed(
                    PROVIDER,
                    format!("embedding model {model} is not an amazon or cohere model"),
                )),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converse_body_and_stream_events() {
        let body = request(&[
            Message::new(Role::System, "s"),
            Message::new(Role::User, "q"),
        ]);
        assert_eq!(body["system"][0]["text"], "s");
        assert_eq!(body["messages"][0]["content"][0]["text"], "q");
        assert_eq!(segment("anthropic.claude-3:0"), "anthropic.claude-3%3A0");
        let delta = eventstream::encode(
            &[
                (":message-type", "event"),
                (":event-type", "contentBlockDelta"),
            ],
            br#"{"contentBlockIndex":0,"delta":{"text":"Hi"}}"#,
        );
        assert!(matches!(event(&delta), Line::Text(t) if t == "Hi"));
        let stop = eventstream::encode(&[(":event-type", "messageStop")], b"{}");
        assert!(matches!(event(&stop), Line::Done));
        let failure = eventstream::encode(
            &[
                (":message-type", "exception"),
                (":exception-type", "throttlingException"),
            ],
            br#"{"message":"slow down"}"#,
        );
        assert!(matches!(event(&failure), Line::Error(e) if e.to_string().contains("slow down")));
    }
}
