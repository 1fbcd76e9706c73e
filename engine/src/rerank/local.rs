//! `RERANK_BINDING=local` (not a LightRAG binding): a cross-encoder run in process, as
//! sentence-transformers' `CrossEncoder` scores with a one-label BERT classifier
//! (`BertForSequenceClassification`: the encoder, the pooler's dense layer and tanh on
//! `[CLS]`, a linear classifier): the query and a document go in as one pair
//! (`[CLS] query [SEP] document [SEP]`, segments 0 and 1), the classifier's logit
//! through a sigmoid is the document's relevance in (0, 1).
//!
//! A pair longer than the model's window is cut longest-first (the longer of the two
//! loses tokens first), as the Hugging Face tokenizer truncates pairs. Pairs are encoded
//! in batches of at most [`BATCH_ROWS`], each padded to its longest member, on the
//! worker's bounded model thread pool, off the async runtime.

use std::sync::Arc;

use candle_core::{D, Module};
use candle_nn::Linear;
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use super::{Reranker, Scored};
use crate::llm::{BoxFuture, ModelError};
use crate::models::bert::TokenBatch;
use crate::models::{LoadError, ModelDirectory};

/// Pairs encoded in one forward pass at most: bounds the activations' memory.
pub const BATCH_ROWS: usize = 16;

/// A cross-encoder reranker on a model directory.
pub struct CrossEncoder {
    scorer: Arc<Scorer>,
    pool: Arc<rayon::ThreadPool>,
}

/// What scoring needs, shared with the pool's threads.
struct Scorer {
    model: Arc<ModelDirectory>,
    /// The model's tokenizer, cutting pairs to its window.
    tokenizer: Tokenizer,
    pooler: Linear,
    classifier: Linear,
}

fn failed(reason: impl std::fmt::Display) -> ModelError {
    ModelError::Local {
        reason: reason.to_string(),
    }
}

impl CrossEncoder {
    /// The cross-encoder of `model`, whose checkpoint must hold the pooler
    /// (`pooler.dense`, beside the encoder) and a one-label `classifier`.
    pub fn new(
        model: Arc<ModelDirectory>,
        pool: Arc<rayon::ThreadPool>,
    ) -> Result<CrossEncoder, LoadError> {
        let unsupported = |reason: String| LoadError::Unsupported {
            path: model.path.join("model.safetensors"),
            reason,
        };
        let hidden = model.hidden_size();
        let encoder = match model.encoder_prefix {
            "" => model.weights.clone(),
            prefix => model.weights.pp(prefix),
        };
        let pooler = candle_nn::linear(hidden, hidden, encoder.pp("pooler.dense"))
            .map_err(|e| unsupported(format!("no pooler: {e}")))?;
        let classifier = candle_nn::linear(hidden, 1, model.weights.pp("classifier"))
            .map_err(|e| unsupported(format!("no one-label classifier: {e}")))?;
        let mut tokenizer = model.tokenizer.clone();
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: model.max_seq_length,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|e| unsupported(format!("cannot truncate pairs: {e}")))?;
        Ok(CrossEncoder {
            scorer: Arc::new(Scorer {
                model,
                tokenizer,
                pooler,
                classifier,
            }),
            pool,
        })
    }

    /// The relevance of each document to `query`, on the calling thread.
    pub fn score_blocking(
        &self,
        query: &str,
        documents: &[String],
    ) -> Result<Vec<f64>, ModelError> {
        self.scorer.score(query, documents)
    }
}

impl Scorer {
    /// The relevance of each document to `query`, on the calling thread.
    fn score(&self, query: &str, documents: &[String]) -> Result<Vec<f64>, ModelError> {
        let mut rows = Vec::with_capacity(documents.len());
        for document in documents {
            let encoding = self
                .tokenizer
                .encode((query, document.as_str()), true)
                .map_err(|e| failed(format!("cannot tokenize: {e}")))?;
            rows.push((
                encoding.get_ids().to_vec(),
                encoding.get_type_ids().to_vec(),
            ));
        }
        let mut scores = Vec::with_capacity(rows.len());
        for group in rows.chunks(BATCH_ROWS) {
            scores.extend(self.logits(group).map_err(failed)?);
        }
        Ok(scores
            .into_iter()
            .map(|logit| 1.0 / (1.0 + (-f64::from(logit)).exp()))
            .collect())
    }

    fn logits(&self, rows: &[(Vec<u32>, Vec<u32>)]) -> candle_core::Result<Vec<f32>> {
        let batch = TokenBatch::pad(rows, self.model.config.pad_token_id);
        let states = self.model.encoder.forward(&batch)?;
        let pooled = self.pooler.forward(&states.cls()?)?.tanh()?;
        self.classifier
            .forward(&pooled)?
            .squeeze(D::Minus1)?
            .to_vec1()
    }
}

impl Reranker for CrossEncoder {
    fn rerank<'a>(
        &'a self,
        query: &'a str,
        documents: &'a [String],
        top_n: Option<usize>,
    ) -> BoxFuture<'a, Result<Vec<Scored>, ModelError>> {
        Box::pin(async move {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let scorer = self.scorer.clone();
            let (query, documents) = (query.to_owned(), documents.to_vec());
            self.pool.spawn(move || {
                let _ = tx.send(scorer.score(&query, &documents));
            });
            let scores = rx
                .await
                .unwrap_or_else(|_| Err(failed("the model thread stopped")))?;
            let mut scored: Vec<Scored> = scores
                .into_iter()
                .enumerate()
                .map(|(index, relevance_score)| Scored {
                    index,
                    relevance_score,
                })
                .collect();
            // A stable sort keeps the retrieval order among equal scores.
            scored.sort_by(|a, b| b.relevance_score.total_cmp(&a.relevance_score));
            if let Some(n) = top_n {
                scored.truncate(n);
            }
            Ok(scored)
        })
    }
}

#[cfg(test)]
mod tests;
