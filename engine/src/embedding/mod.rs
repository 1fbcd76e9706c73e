//! Embeddings. The `builtin` embedder ([`builtin::HashedNgrams`]) needs no model and
//! no network; `local` runs a BERT model in process (feature `local-models`); provider
//! embedders live in [`crate::providers`]; [`prepared`] adds the document and query
//! prefixes and the token limit in front of any of them.

pub mod builtin;
pub mod identity;
#[cfg(feature = "local-models")]
pub mod local;
pub mod prepared;

use futures_util::{StreamExt, TryStreamExt};

use crate::llm::{BoxFuture, ModelError};
use crate::storage::VectorRecord;

pub trait Embedder: Send + Sync {
    /// EMBEDDING_DIM: the length of every vector this embedder returns.
    fn dim(&self) -> usize;

    /// One vector per text, in order, the texts being documents.
    fn embed<'a>(&'a self, texts: &'a [String])
    -> BoxFuture<'a, Result<Vec<Vec<f32>>, ModelError>>;

    /// One vector per text used as `purpose`. Providers that embed queries and
    /// documents differently (task types, input types, prefixes) override this.
    fn embed_for<'a>(
        &'a self,
        texts: &'a [String],
        purpose: Purpose,
    ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, ModelError>> {
        let _ = purpose;
        self.embed(texts)
    }
}

/// What embedded texts are used as: stored (chunks, entities, relations) or matched
/// against them (a query and its keywords).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Document,
    Query,
}

impl Embedder for builtin::HashedNgrams {
    fn dim(&self) -> usize {
        builtin::HashedNgrams::dim(self)
    }

    fn embed<'a>(
        &'a self,
        texts: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, ModelError>> {
        Box::pin(async move { Ok(self.embed_batch(texts)) })
    }
}

/// How texts are sent to an embedder: EMBEDDING_BATCH_NUM per call, at most
/// `concurrency` calls at once from this caller.
#[derive(Debug, Clone, Copy)]
pub struct Batching {
    pub batch_size: usize,
    pub concurrency: usize,
}

/// Embeds documents, as [`embed_all_for`] does.
pub async fn embed_all(
    embedder: &dyn Embedder,
    texts: &[String],
    batching: Batching,
) -> Result<Vec<Vec<f32>>, ModelError> {
    embed_all_for(embedder, texts, batching, Purpose::Document).await
}

/// Embeds `texts` in batches, checking every vector's length against the embedder's
/// dimension (a mismatch would corrupt the vector store).
pub async fn embed_all_for(
    embedder: &dyn Embedder,
    texts: &[String],
    batching: Batching,
    purpose: Purpose,
) -> Result<Vec<Vec<f32>>, ModelError> {
    let batches: Vec<Vec<Vec<f32>>> =
        futures_util::stream::iter(texts.chunks(batching.batch_size.max(1)))
            .map(|batch| embedder.embed_for(batch, purpose))
            .buffered(batching.concurrency.max(1))
            .try_collect()
            .await?;
    let vectors: Vec<Vec<f32>> = batches.into_iter().flatten().collect();
    if vectors.len() != texts.len() {
        return Err(ModelError::Malformed {
            provider: "embedding",
            reason: format!("{} vectors for {} texts", vectors.len(), texts.len()),
        });
    }
    if let Some(bad) = vectors.iter().find(|v| v.len() != embedder.dim()) {
        return Err(ModelError::Dimension {
            expected: embedder.dim(),
            got: bad.len(),
        });
    }
    Ok(vectors)
}

/// Fills each record's vector by embedding its `meta.content`, as [`embed_all`] does.
pub async fn embed_records(
    embedder: &dyn Embedder,
    records: &mut [VectorRecord],
    batching: Batching,
) -> Result<(), ModelError> {
    let texts: Vec<String> = records
        .iter()
        .map(|r| r.meta["content"].as_str().unwrap_or_default().to_owned())
        .collect();
    let vectors = embed_all(embedder, &texts, batching).await?;
    for (record, vector) in records.iter_mut().zip(vectors) {
        record.vector = vector;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_keep_order_and_dimensions_are_checked() {
        let embedder = builtin::HashedNgrams::new(64);
        let texts: Vec<String> = (0..25).map(|i| format!("text number {i}")).collect();
        let batching = Batching {
            batch_size: 10,
            concurrency: 3,
        };
        let vectors = crate::llm::wait(embed_all(&embedder, &texts, batching)).unwrap();
        assert_eq!(vectors, embedder.embed_batch(&texts));

        struct Liar;
        impl Embedder for Liar {
            fn dim(&self) -> usize {
                8
            }
            fn embed<'a>(
                &'a self,
                texts: &'a [String],
            ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, ModelError>> {
                Box::pin(async move { Ok(texts.iter().map(|_| vec![0.0; 4]).collect()) })
            }
        }
        let error = crate::llm::wait(embed_all(&Liar, &texts, batching)).unwrap_err();
        assert_eq!(
            error,
            ModelError::Dimension {
                expected: 8,
                got: 4
            }
        );
    }
}
