//! The lollms server as LightRAG's lollms binding calls it: `/lollms_generate` with
//! the whole conversation folded into one prompt (the answer is plain text, streamed
//! as lines), and `/lollms_embed`, one text per call (its key sent as the bare
//! `Authorization` value, as LightRAG does).

use serde_json::{Value, json};

use super::lines::{self, Line};
use super::{Api, ChatProvider, Endpoint, floats, malformed};
use crate::embedding::Embedder;
use crate::llm::{BoxFuture, Message, ModelError, Role, TextStream};

const PROVIDER: &str = "lollms";

/// LightRAG's prompt: the system prompt, then `role: content` lines, then the last
/// message as it is.
fn prompt(messages: &[Message]) -> String {
    let mut prompt = String::new();
    for m in messages.iter().filter(|m| m.role == Role::System) {
        prompt.push_str(&m.content);
        prompt.push('\n');
    }
    let turns: Vec<&Message> = messages.iter().filter(|m| m.role != Role::System).collect();
    if let Some((last, history)) = turns.split_last() {
        for m in history {
            prompt.push_str(&format!("{}: {}\n", m.role.as_str(), m.content));
        }
        prompt.push_str(&last.content);
    }
    prompt
}

/// The generation request with LightRAG's default sampling parameters.
fn request(model: &str, messages: &[Message], stream: bool) -> Value {
    json!({
        "prompt": prompt(messages),
        "model_name": model,
        "personality": -1,
        "n_predict": null,
        "stream": stream,
        "temperature": 0.1,
        "top_k": 50,
        "top_p": 0.95,
        "repeat_penalty": 0.8,
        "repeat_last_n": 40,
        "seed": null,
        "n_threads": 8,
    })
}

pub struct Lollms {
    api: Api,
}

impl Lollms {
    pub fn new(endpoint: Endpoint) -> Lollms {
        Lollms {
            api: Api::new(PROVIDER, endpoint),
        }
    }
}

impl ChatProvider for Lollms {
    fn chat(
        &self,
        messages: Vec<Message>,
        stream: bool,
    ) -> BoxFuture<'_, Result<TextStream, ModelError>> {
        Box::pin(async move {
            let url = format!("{}/lollms_generate", self.api.endpoint.host);
            let body = request(&self.api.endpoint.model, &messages, stream);
            self.api
                .answer(
                    &url,
                    &body,
                    stream,
                    |response, pause| {
                        lines::stream(PROVIDER, response, |l| Line::Text(l.to_owned()), pause)
                    },
                    |response| async move {
                        response
                            .text()
                            .await
                            .map_err(|e| malformed(PROVIDER, e.to_string()))
                    },
                )
                .await
        })
    }
}

pub struct LollmsEmbedder {
    api: Api,
    dim: usize,
}

impl LollmsEmbedder {
    pub fn new(endpoint: Endpoint, dim: usize) -> LollmsEmbedder {
        let mut api = Api::new(PROVIDER, endpoint);
        api.raw_key = true;
        LollmsEmbedder { api, dim }
    }
}

impl Embedder for LollmsEmbedder {
    fn dim(&self) -> usize {
        self.dim
    }

    fn embed<'a>(
        &'a self,
        texts: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, ModelError>> {
        Box::pin(async move {
            let url = format!("{}/lollms_embed", self.api.endpoint.host);
            let mut vectors = Vec::with_capacity(texts.len());
            for text in texts {
                let answer = self.api.post_json(&url, &json!({ "text": text })).await?;
                if answer.get("vector").is_none() {
                    return Err(malformed(PROVIDER, "no vector in the answer"));
                }
                vectors.push(floats(&answer["vector"]));
            }
            Ok(vectors)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_conversation_is_folded_into_one_prompt() {
        let messages = [
            Message::new(Role::System, "sys"),
            Message::new(Role::User, "a"),
            Message::new(Role::Assistant, "b"),
            Message::new(Role::User, "c"),
        ];
        assert_eq!(prompt(&messages), "sys\nuser: a\nassistant: b\nc");
        assert_eq!(request("m", &messages, true)["model_name"], "m");
    }
}
