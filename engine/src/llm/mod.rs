//! Language-model work, by the roles LightRAG gives the model: entity and relation
//! extraction (with gleaning), description summaries, and free chat (answers, Ollama
//! `generate`). [`LanguageModel`] is what the pipeline and the query engine call.
//!
//! Two kinds of implementation: the `builtin` model ([`builtin::BuiltinModel`]), which
//! does the work deterministically without a network, and [`prompted::PromptedModel`],
//! which renders LightRAG's prompts and sends them to a chat provider
//! ([`crate::providers`]).

pub mod builtin;
pub mod extractive;
pub mod limited;
pub mod prompted;
pub mod prompts;
pub mod templates;

use std::future::Future;
use std::pin::Pin;

use futures_util::Stream;
use thiserror::Error;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
/// Pieces of generated text, in order, as the model produces them.
pub type TextStream = Pin<Box<dyn Stream<Item = Result<String, ModelError>> + Send>>;

/// Why a model or embedding call failed (after retries, for the retryable kinds).
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum ModelError {
    #[error("{provider} returned HTTP {status}: {body}")]
    Status {
        provider: &'static str,
        status: u16,
        body: String,
    },
    #[error("{provider} did not answer within {seconds} s")]
    Timeout {
        provider: &'static str,
        seconds: u64,
    },
    #[error("{provider} sent nothing for {seconds} s in the middle of its answer")]
    Stalled {
        provider: &'static str,
        seconds: u64,
    },
    #[error("cannot reach {provider}: {reason}")]
    Connect {
        provider: &'static str,
        reason: String,
    },
    #[error("{provider} sent an answer we cannot read: {reason}")]
    Malformed {
        provider: &'static str,
        reason: String,
    },
    #[error(
        "embedding dimension mismatch: the model returned {got} dimensions, EMBEDDING_DIM is {expected}"
    )]
    Dimension { expected: usize, got: usize },
    #[error("the local model failed: {reason}")]
    Local { reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    pub fn new(role: Role, content: impl Into<String>) -> Message {
        Message {
            role,
            content: content.into(),
        }
    }
}

/// What extraction needs besides the chunk.
#[derive(Debug, Clone)]
pub struct ExtractionSettings {
    pub entity_types: Vec<String>,
    /// SUMMARY_LANGUAGE: the language descriptions are written in.
    pub language: String,
    /// MAX_GLEANING: follow-up rounds asking for what the first answer missed.
    pub max_gleaning: usize,
}

/// An entity's or relation's descriptions to condense into one.
#[derive(Debug, Clone)]
pub struct SummaryRequest<'a> {
    /// `Entity` or `Relation`.
    pub kind: &'a str,
    pub name: &'a str,
    pub descriptions: &'a [String],
    pub language: &'a str,
    /// SUMMARY_LENGTH_RECOMMENDED, in tokens.
    pub length: usize,
}

pub trait LanguageModel: Send + Sync {
    /// The extraction answer for one chunk, in LightRAG's record format; `section` is
    /// the chunk's heading path, for a chunk that has one.
    fn extract<'a>(
        &'a self,
        chunk: &'a str,
        section: Option<&'a str>,
        settings: &'a ExtractionSettings,
    ) -> BoxFuture<'a, Result<String, ModelError>>;

    /// One description standing for all of `request.descriptions`.
    fn summarize<'a>(
        &'a self,
        request: SummaryRequest<'a>,
    ) -> BoxFuture<'a, Result<String, ModelError>>;

    /// The high- and low-level keywords of a query, written in `language`.
    fn keywords<'a>(
        &'a self,
        query: &'a str,
        language: &'a str,
    ) -> BoxFuture<'a, Result<Keywords, ModelError>>;

    /// A free chat completion, streamed.
    fn chat(&self, messages: Vec<Message>) -> BoxFuture<'_, Result<TextStream, ModelError>>;
}

/// What a query is about: themes (matched against relations) and names and details
/// (matched against entities).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Keywords {
    pub high_level: Vec<String>,
    pub low_level: Vec<String>,
}

impl Keywords {
    /// Reads a model's JSON answer, tolerating text around the object; anything
    /// unreadable is no keywords.
    pub fn parse(answer: &str) -> Keywords {
        let json = match (answer.find('{'), answer.rfind('}')) {
            (Some(start), Some(end)) if start < end => &answer[start..=end],
            _ => return Keywords::default(),
        };
        let value: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
        let list = |key: &str| -> Vec<String> {
            value[key]
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|k| k.as_str().map(str::trim))
                        .filter(|k| !k.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        Keywords {
            high_level: list("high_level_keywords"),
            low_level: list("low_level_keywords"),
        }
    }
}

/// Collects a stream into one string.
pub async fn collect(mut stream: TextStream) -> Result<String, ModelError> {
    use futures_util::StreamExt;
    let mut out = String::new();
    while let Some(piece) = stream.next().await {
        out.push_str(&piece?);
    }
    Ok(out)
}

/// A stream of one already-known text.
pub fn once(text: String) -> TextStream {
    Box::pin(futures_util::stream::once(async move { Ok(text) }))
}

/// Runs a future to completion from synchronous pipeline code. Pipeline work runs on
/// blocking threads of the worker's runtime, whose reactor the provider clients use.
pub fn wait<F: Future>(future: F) -> F::Output {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => tokio::task::block_in_place(|| handle.block_on(future)),
        Err(_) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime can always be built")
            .block_on(future),
    }
}
