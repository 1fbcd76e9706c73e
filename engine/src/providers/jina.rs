//! Jina AI's embeddings API as LightRAG's jina binding calls it: a POST to the whole
//! embeddings URL (EMBEDDING_BINDING_HOST), task `text-matching`, the dimension always
//! sent, vectors returned as base64 little-endian float32.

use base64::Engine as _;
use serde_json::json;

use super::{Api, Endpoint, malformed};
use crate::embedding::Embedder;
use crate::llm::{BoxFuture, ModelError};

const PROVIDER: &str = "jina";

/// A base64 string of little-endian float32 values.
fn decode(encoded: &str) -> Result<Vec<f32>, ModelError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| malformed(PROVIDER, format!("embedding: {e}")))?;
    if bytes.len() % 4 != 0 {
        return Err(malformed(PROVIDER, "embedding is not a float32 array"));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

pub struct JinaEmbedder {
    api: Api,
    dim: usize,
}

impl JinaEmbedder {
    pub fn new(endpoint: Endpoint, dim: usize) -> JinaEmbedder {
        JinaEmbedder {
            api: Api::new(PROVIDER, endpoint),
            dim,
        }
    }
}

impl Embedder for JinaEmbedder {
    fn dim(&self) -> usize {
        self.dim
    }

    fn embed<'a>(
        &'a self,
        texts: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, ModelError>> {
        Box::pin(async move {
            let body = json!({
                "model": self.api.endpoint.model,
                "task": "text-matching",
                "dimensions": self.dim,
                "embedding_type": "base64",
                "input": texts,
            });
            let answer = self.api.post_json(&self.api.endpoint.host, &body).await?;
            let data = answer["data"]
                .as_array()
                .filter(|d| !d.is_empty())
                .ok_or_else(|| malformed(PROVIDER, "no data in the embeddings answer"))?;
            data.iter()
                .map(|item| {
                    item["embedding"]
                        .as_str()
                        .ok_or_else(|| malformed(PROVIDER, "an embedding is not base64"))
                        .and_then(decode)
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_float32_round_trip() {
        let bytes: Vec<u8> = [1.0f32, -0.5]
            .iter()
            .flat_map(|f| f.to_le_bytes())
            .collect();
        let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
        assert_eq!(decode(&encoded).unwrap(), vec![1.0, -0.5]);
        assert!(decode("AAA=").is_err());
    }
}
