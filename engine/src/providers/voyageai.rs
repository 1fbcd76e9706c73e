//! VoyageAI's embeddings API (`/embeddings`, what LightRAG's voyageai binding reaches
//! through the voyageai SDK): documents and queries marked by `input_type`, long texts
//! truncated by the provider, `output_dimension` only with EMBEDDING_SEND_DIM.

use serde_json::json;

use super::{Api, Endpoint, indexed_embeddings};
use crate::embedding::{Embedder, Purpose};
use crate::llm::{BoxFuture, ModelError};

const PROVIDER: &str = "voyageai";

pub struct VoyageEmbedder {
    api: Api,
    dim: usize,
}

impl VoyageEmbedder {
    pub fn new(endpoint: Endpoint, dim: usize) -> VoyageEmbedder {
        VoyageEmbedder {
            api: Api::new(PROVIDER, endpoint),
            dim,
        }
    }
}

impl Embedder for VoyageEmbedder {
    fn dim(&self) -> usize {
        self.dim
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
            let mut body = json!({
                "input": texts,
                "model": self.api.endpoint.model,
                "input_type": match purpose {
                    Purpose::Document => "document",
                    Purpose::Query => "query",
                },
                "truncation": true,
            });
            if self.api.endpoint.send_dim {
                body["output_dimension"] = json!(self.dim);
            }
            let url = format!("{}/embeddings", self.api.endpoint.host);
            let answer = self.api.post_json(&url, &body).await?;
            indexed_embeddings(PROVIDER, &answer)
        })
    }
}
