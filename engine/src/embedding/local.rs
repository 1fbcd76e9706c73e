//! `EMBEDDING_BINDING=local`: sentence embeddings from a BERT model run in process
//! ([`crate::models`]), as sentence-transformers computes them: the tokens' hidden
//! states mean-pooled under the attention mask (or the `[CLS]` state, as the model's
//! pooling config says), then L2-normalised.
//!
//! A text longer than the model's window (its `max_seq_length`, special tokens
//! included) is not truncated: its tokens are cut into consecutive windows, each
//! wrapped in the special tokens and encoded on its own, and the pooled vector is the
//! mean over every window's tokens. The cost grows with the windows: a 1,200-token
//! chunk on a 256-token model is about six forward passes.
//!
//! The windows of one call are sorted by length and encoded in batches of at most
//! [`BATCH_ROWS`], each padded to its longest member. Every call runs on the worker's
//! bounded model thread pool, off the async runtime.

use std::sync::Arc;

use candle_core::Tensor;

use super::Embedder;
use crate::llm::{BoxFuture, ModelError};
use crate::models::ModelDirectory;
use crate::models::bert::{self, TokenBatch};
use crate::models::directory::Pooling;

/// Windows encoded in one forward pass at most: bounds the activations' memory.
pub const BATCH_ROWS: usize = 32;

pub struct LocalEmbedder {
    model: Arc<ModelDirectory>,
    pool: Arc<rayon::ThreadPool>,
}

/// One window of one text, ready to encode.
struct Window {
    text: usize,
    ids: Vec<u32>,
}

fn failed(reason: impl std::fmt::Display) -> ModelError {
    ModelError::Local {
        reason: reason.to_string(),
    }
}

impl LocalEmbedder {
    pub fn new(model: Arc<ModelDirectory>, pool: Arc<rayon::ThreadPool>) -> LocalEmbedder {
        LocalEmbedder { model, pool }
    }

    pub fn model(&self) -> &ModelDirectory {
        &self.model
    }

    /// The windows of `text` (index `index`): its tokens cut to fit the model, each
    /// piece between the special tokens the tokenizer puts around a whole text.
    fn windows(&self, index: usize, text: &str) -> Result<Vec<Window>, ModelError> {
        let encoding = self
            .model
            .tokenizer
            .encode(text, true)
            .map_err(|e| failed(format!("cannot tokenize: {e}")))?;
        let (ids, special) = (encoding.get_ids(), encoding.get_special_tokens_mask());
        let prefix = special.iter().take_while(|s| **s == 1).count();
        let suffix = special[prefix..]
            .iter()
            .rev()
            .take_while(|s| **s == 1)
            .count();
        let (head, body, tail) = (
            &ids[..prefix],
            &ids[prefix..ids.len() - suffix],
            &ids[ids.len() - suffix..],
        );
        let room = self
            .model
            .max_seq_length
            .saturating_sub(prefix + suffix)
            .max(1);
        let wrap = |piece: &[u32]| Window {
            text: index,
            ids: [head, piece, tail].concat(),
        };
        if body.is_empty() {
            return Ok(vec![wrap(&[])]);
        }
        Ok(body.chunks(room).map(wrap).collect())
    }

    /// Embeds `texts` on the calling thread (the model pool, see [`Embedder::embed`]).
    pub fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ModelError> {
        let mut windows = Vec::new();
        for (index, text) in texts.iter().enumerate() {
            windows.extend(self.windows(index, text)?);
        }
        windows.sort_by_key(|w| w.ids.len());
        let hidden = self.model.hidden_size();
        let mut sums = vec![vec![0f32; hidden]; texts.len()];
        let mut counts = vec![0f32; texts.len()];
        for group in windows.chunks(BATCH_ROWS) {
            let (group_sums, group_counts) = self.encode(group).map_err(failed)?;
            for ((window, sum), count) in group.iter().zip(group_sums).zip(group_counts) {
                sums[window.text]
                    .iter_mut()
                    .zip(sum)
                    .for_each(|(total, x)| *total += x);
                counts[window.text] += count;
            }
        }
        Ok(sums
            .into_iter()
            .zip(counts)
            .map(|(mut vector, count)| {
                vector.iter_mut().for_each(|x| *x /= count.max(1.0));
                normalize(&mut vector);
                vector
            })
            .collect())
    }

    /// Each window's pooled sum and the tokens it covers (1 for `[CLS]` pooling).
    fn encode(&self, group: &[Window]) -> candle_core::Result<(Vec<Vec<f32>>, Vec<f32>)> {
        let rows: Vec<(Vec<u32>, Vec<u32>)> = group
            .iter()
            .map(|w| (w.ids.clone(), vec![0; w.ids.len()]))
            .collect();
        let batch = TokenBatch::pad(&rows, self.model.config.pad_token_id);
        let states = self.model.encoder.forward(&batch)?;
        let (sums, counts): (Tensor, Vec<f32>) = match self.model.pooling {
            Pooling::Mean => {
                let (sums, counts) = states.masked_sum()?;
                (sums, counts.to_vec1()?)
            }
            Pooling::Cls => (states.cls()?, vec![1.0; group.len()]),
        };
        Ok((bert::rows(&sums)?, counts))
    }
}

fn normalize(vector: &mut [f32]) {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
}

impl Embedder for LocalEmbedder {
    fn dim(&self) -> usize {
        self.model.hidden_size()
    }

    fn embed<'a>(
        &'a self,
        texts: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, ModelError>> {
        Box::pin(async move {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let embedder = LocalEmbedder {
                model: self.model.clone(),
                pool: self.pool.clone(),
            };
            let texts = texts.to_vec();
            self.pool.spawn(move || {
                let _ = tx.send(embedder.embed_blocking(&texts));
            });
            rx.await
                .unwrap_or_else(|_| Err(failed("the model thread stopped")))
        })
    }
}
