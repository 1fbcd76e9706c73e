//! Reranking a query's chunks, as LightRAG 1.5.7 does after retrieval: a provider
//! scores every retrieved chunk against the query, the chunks are reordered by score
//! (and cut to the `top_n` asked), those below MIN_RERANK_SCORE are dropped. Reranking
//! is an improvement, never a requirement: a provider that fails (after its retries,
//! within RERANK_TIMEOUT) or answers nothing leaves the original order, logged.
//!
//! The providers (cohere, jina, aliyun) speak one JSON-over-HTTP shape with their own
//! bodies and answer paths ([`cohere`], [`jina`], [`aliyun`]); [`chunked`] scores long
//! documents piece by piece for cohere's RERANK_ENABLE_CHUNKING. Beyond LightRAG,
//! [`local`] (feature `local-models`) scores with a cross-encoder in process.

mod aliyun;
pub mod chunked;
mod cohere;
mod jina;
#[cfg(feature = "local-models")]
pub mod local;

use std::time::Duration;

use serde_json::Value;

use crate::llm::{BoxFuture, ModelError};
use crate::providers::{Timeouts, malformed, read_json, retry};

/// One document's relevance, by its index in the documents given.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub index: usize,
    pub relevance_score: f64,
}

/// Scores documents against a query.
pub trait Reranker: Send + Sync {
    /// The scores of (some of) `documents`, most relevant first; at most `top_n` when
    /// given. Indices outside `documents` may come back from a provider; the caller
    /// ignores them.
    fn rerank<'a>(
        &'a self,
        query: &'a str,
        documents: &'a [String],
        top_n: Option<usize>,
    ) -> BoxFuture<'a, Result<Vec<Scored>, ModelError>>;
}

/// The rerank providers, by LightRAG's binding names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Cohere,
    Jina,
    Aliyun,
}

/// Where and how to reach one rerank model.
#[derive(Debug, Clone)]
pub struct RerankEndpoint {
    pub provider: Provider,
    /// The full URL posted to.
    pub url: String,
    /// Sent as `Authorization: Bearer`.
    pub api_key: Option<String>,
    pub model: String,
    pub timeouts: Timeouts,
}

/// What sets one provider's wire format apart.
struct Wire {
    name: &'static str,
    /// The request body for a model, query, documents and optional `top_n`.
    body: fn(&str, &str, &[String], Option<usize>) -> Value,
    /// Where the answer lists its results (a JSON pointer).
    results: &'static str,
}

impl Provider {
    fn wire(self) -> Wire {
        match self {
            Provider::Cohere => cohere::WIRE,
            Provider::Jina => jina::WIRE,
            Provider::Aliyun => aliyun::WIRE,
        }
    }
}

/// A rerank provider over HTTP, each call retried as [`retry`] says.
pub struct Remote {
    client: reqwest::Client,
    endpoint: RerankEndpoint,
    wire: Wire,
}

impl Remote {
    pub fn new(endpoint: RerankEndpoint) -> Remote {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Remote {
            client,
            wire: endpoint.provider.wire(),
            endpoint,
        }
    }
}

impl Reranker for Remote {
    fn rerank<'a>(
        &'a self,
        query: &'a str,
        documents: &'a [String],
        top_n: Option<usize>,
    ) -> BoxFuture<'a, Result<Vec<Scored>, ModelError>> {
        Box::pin(async move {
            let e = &self.endpoint;
            let body = (self.wire.body)(&e.model, query, documents, top_n);
            let build = || {
                let request = self.client.post(&e.url).json(&body);
                match &e.api_key {
                    Some(key) => request.bearer_auth(key),
                    None => request,
                }
            };
            let name = self.wire.name;
            let answer = retry::call(name, e.timeouts, build, |response| {
                read_json(name, response)
            })
            .await?;
            results(name, answer.pointer(self.wire.results))
        })
    }
}

/// The `{index, relevance_score}` items of an answer. A missing or non-list result set
/// reads as no results, as in LightRAG; an item without both fields is a malformed
/// answer.
fn results(provider: &'static str, list: Option<&Value>) -> Result<Vec<Scored>, ModelError> {
    let Some(items) = list.and_then(Value::as_array) else {
        tracing::warn!(provider, "rerank answer has no list of results");
        return Ok(Vec::new());
    };
    items
        .iter()
        .map(|item| {
            let index = item["index"].as_u64();
            let score = item["relevance_score"].as_f64();
            match (index, score) {
                (Some(index), Some(relevance_score)) => Ok(Scored {
                    index: usize::try_from(index).unwrap_or(usize::MAX),
                    relevance_score,
                }),
                _ => Err(malformed(
                    provider,
                    format!("rerank result without index and relevance_score: {item}"),
                )),
            }
        })
        .collect()
}

/// LightRAG's message when a query asks for a rerank and no reranker is configured.
const NOT_CONFIGURED: &str = "Rerank is enabled but no rerank model is configured. Please set up a rerank model or set enable_rerank=False in query parameters.";

/// LightRAG's rerank step over a query's `items` (whose texts `text` gives): reordered
/// by `reranker` and cut to `top_n`, or left as they are when there is no reranker,
/// when it fails or when it answers nothing; then, when `min_score` is above 0, the
/// items scoring below it are dropped (an unscored item counts as 1.0, LightRAG's
/// default).
pub async fn rerank<T>(
    reranker: Option<&dyn Reranker>,
    query: &str,
    items: Vec<T>,
    text: impl Fn(&T) -> &str,
    top_n: usize,
    min_score: f64,
) -> Vec<T> {
    if items.is_empty() {
        return items;
    }
    let scored = match reranker {
        None => {
            tracing::warn!("{NOT_CONFIGURED}");
            unscored(items)
        }
        Some(reranker) => {
            let texts: Vec<String> = items.iter().map(|i| text(i).to_owned()).collect();
            match reranker.rerank(query, &texts, Some(top_n)).await {
                Ok(order) if !order.is_empty() => reorder(items, &order),
                Ok(_) => {
                    tracing::warn!("rerank returned no results; keeping the original order");
                    unscored(items)
                }
                Err(error) => {
                    tracing::error!(%error, documents = texts.len(), "rerank failed; keeping the original order");
                    unscored(items)
                }
            }
        }
    };
    if min_score <= 0.0 {
        return scored.into_iter().map(|(item, _)| item).collect();
    }
    let before = scored.len();
    let kept: Vec<T> = scored
        .into_iter()
        .filter(|(_, score)| score.unwrap_or(1.0) >= min_score)
        .map(|(item, _)| item)
        .collect();
    if kept.len() < before {
        tracing::info!(
            kept = kept.len(),
            dropped = before - kept.len(),
            min_score,
            "rerank filtering"
        );
    }
    kept
}

fn unscored<T>(items: Vec<T>) -> Vec<(T, Option<f64>)> {
    items.into_iter().map(|item| (item, None)).collect()
}

/// `items` in the order of `order`, each with its score; indices outside `items` and
/// repeated ones are ignored, items `order` leaves out are dropped.
fn reorder<T>(items: Vec<T>, order: &[Scored]) -> Vec<(T, Option<f64>)> {
    let original = items.len();
    let mut slots: Vec<Option<T>> = items.into_iter().map(Some).collect();
    let reordered: Vec<(T, Option<f64>)> = order
        .iter()
        .filter_map(|s| {
            let item = slots.get_mut(s.index)?.take()?;
            Some((item, Some(s.relevance_score)))
        })
        .collect();
    tracing::info!(
        kept = reordered.len(),
        original,
        "reranked the query's chunks"
    );
    reordered
}

#[cfg(test)]
mod tests;
