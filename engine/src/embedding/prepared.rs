//! What every text goes through before the embedding model sees it, as LightRAG 1.5.7
//! does it: EMBEDDING_DOCUMENT_PREFIX or EMBEDDING_QUERY_PREFIX in front (models such
//! as e5 or bge are trained with "passage: " / "query: " markers), then the whole cut
//! to EMBEDDING_TOKEN_LIMIT tokens, so an over-long text is embedded by its head
//! rather than refused by the provider.

use std::sync::Arc;

use super::{Embedder, Purpose};
use crate::chunking::Tokenizer;
use crate::llm::{BoxFuture, ModelError};

/// The preparation settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preparation {
    pub document_prefix: String,
    pub query_prefix: String,
    /// Longest input, in tokens (o200k, the tokenizer chunks are counted with).
    pub token_limit: Option<usize>,
}

impl Preparation {
    /// Nothing to do: the embedder can be used as it is.
    pub fn is_identity(&self) -> bool {
        self.document_prefix.is_empty()
            && self.query_prefix.is_empty()
            && self.token_limit.is_none()
    }

    /// `text` as the model receives it.
    pub fn apply(&self, tokenizer: &Tokenizer, text: &str, purpose: Purpose) -> String {
        let prefix = match purpose {
            Purpose::Document => &self.document_prefix,
            Purpose::Query => &self.query_prefix,
        };
        let text = format!("{prefix}{text}");
        match self.token_limit {
            Some(limit) => {
                let tokens = tokenizer.encode(&text);
                if tokens.len() <= limit {
                    return text;
                }
                tracing::warn!(
                    tokens = tokens.len(),
                    limit,
                    "embedding input cut to EMBEDDING_TOKEN_LIMIT"
                );
                tokenizer.decode(&tokens[..limit])
            }
            None => text,
        }
    }
}

/// An embedder whose inputs are prepared first.
pub struct Prepared {
    inner: Arc<dyn Embedder>,
    preparation: Preparation,
    tokenizer: Tokenizer,
}

impl Prepared {
    /// `inner` itself when there is nothing to prepare.
    pub fn wrap(inner: Arc<dyn Embedder>, preparation: Preparation) -> Arc<dyn Embedder> {
        if preparation.is_identity() {
            return inner;
        }
        Arc::new(Prepared {
            inner,
            preparation,
            tokenizer: Tokenizer::o200k(),
        })
    }
}

impl Embedder for Prepared {
    fn dim(&self) -> usize {
        self.inner.dim()
    }

    fn embed<'a>(
        &'a self,
        texts: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, ModelError>> {
        self.embed_for(texts, Purpose::Document)
    }

    fn embed_for<'a>(
        &'a self,
        texts: &'a [String],
        purpose: Purpose,
    ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, ModelError>> {
        Box::pin(async move {
            let prepared: Vec<String> = texts
                .iter()
                .map(|t| self.preparation.apply(&self.tokenizer, t, purpose))
                .collect();
            self.inner.embed_for(&prepared, purpose).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_by_purpose_and_the_token_limit_cuts_the_whole_input() {
        let tokenizer = Tokenizer::o200k();
        let p = Preparation {
            document_prefix: "passage: ".to_owned(),
            query_prefix: "query: ".to_owned(),
            token_limit: Some(4),
        };
        assert_eq!(
            p.apply(&tokenizer, "cats", Purpose::Document),
            "passage: cats"
        );
        assert_eq!(p.apply(&tokenizer, "cats", Purpose::Query), "query: cats");
        let long = "one two three four five six seven";
        let cut = p.apply(&tokenizer, long, Purpose::Query);
        assert_eq!(tokenizer.count(&cut), 4);
        assert!(cut.starts_with("query: one"), "{cut}");
        assert!(Preparation::default().is_identity());
    }
}
