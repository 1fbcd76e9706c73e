//! The chunking a document asked for (its request's `chunking` object or its file
//! name's hint), stored with it in `full_docs` and resolved into a [`Plan`] against
//! the server's CHUNK_SIZE and CHUNK_OVERLAP_SIZE when it is processed. A parameter
//! not given takes LightRAG's default for the strategy.

use serde::{Deserialize, Serialize};

use super::{
    Breakpoint, ChunkingOptions, DEFAULT_P_CHUNK_SIZE, DEFAULT_R_SEPARATORS, ParagraphSemantic,
    Plan, RecursiveCharacter, SemanticVector, Strategy,
};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChunkingRequest {
    #[serde(default, skip_serializing_if = "Strategy::is_fixed_token")]
    pub strategy: Strategy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_token_size: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_overlap_token_size: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_by_character: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub split_by_character_only: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separators: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_references: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breakpoint_threshold_type: Option<Breakpoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breakpoint_threshold_amount: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffer_size: Option<usize>,
}

impl ChunkingRequest {
    pub fn new(strategy: Strategy) -> ChunkingRequest {
        ChunkingRequest {
            strategy,
            ..ChunkingRequest::default()
        }
    }

    /// The plan this request gives on top of the server's options (an overlap not given
    /// stays below the size).
    pub fn over(&self, server: &ChunkingOptions) -> Plan {
        let size = self.chunk_token_size.unwrap_or(match self.strategy {
            Strategy::ParagraphSemantic => DEFAULT_P_CHUNK_SIZE,
            _ => server.chunk_token_size,
        });
        let overlap = self
            .chunk_overlap_token_size
            .unwrap_or(server.overlap_token_size.min(size.saturating_sub(1)));
        match self.strategy {
            Strategy::FixedToken => Plan::FixedToken(ChunkingOptions {
                chunk_token_size: size,
                overlap_token_size: overlap,
                split_by_character: self.split_by_character.clone(),
                split_by_character_only: self.split_by_character_only,
            }),
            Strategy::RecursiveCharacter => Plan::RecursiveCharacter(RecursiveCharacter {
                chunk_token_size: size,
                overlap_token_size: overlap,
                separators: self.separators.clone().unwrap_or_else(|| {
                    DEFAULT_R_SEPARATORS.iter().map(|s| s.to_string()).collect()
                }),
            }),
            Strategy::SemanticVector => {
                let threshold = self.breakpoint_threshold_type.unwrap_or_default();
                Plan::SemanticVector(SemanticVector {
                    chunk_token_size: size,
                    threshold,
                    amount: self
                        .breakpoint_threshold_amount
                        .unwrap_or(threshold.default_amount()),
                    buffer_size: self.buffer_size.unwrap_or(1),
                })
            }
            Strategy::ParagraphSemantic => Plan::ParagraphSemantic(ParagraphSemantic {
                chunk_token_size: size,
                overlap_token_size: overlap,
                drop_references: self.drop_references.unwrap_or(false),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_strategy_takes_lightrag_defaults() {
        let server = ChunkingOptions::default();
        let fixed = ChunkingRequest {
            chunk_token_size: Some(50),
            ..ChunkingRequest::default()
        };
        let Plan::FixedToken(options) = fixed.over(&server) else {
            panic!()
        };
        assert_eq!(
            (options.chunk_token_size, options.overlap_token_size),
            (50, 49)
        );
        assert_eq!(
            serde_json::to_value(&fixed).unwrap(),
            json!({"chunk_token_size": 50})
        );
        let Plan::RecursiveCharacter(r) =
            ChunkingRequest::new(Strategy::RecursiveCharacter).over(&server)
        else {
            panic!()
        };
        assert_eq!(
            (r.chunk_token_size, r.overlap_token_size, r.separators.len()),
            (1200, 100, 9)
        );
        let Plan::SemanticVector(v) = ChunkingRequest::new(Strategy::SemanticVector).over(&server)
        else {
            panic!()
        };
        assert_eq!(
            (v.threshold, v.amount, v.buffer_size),
            (Breakpoint::Percentile, 95.0, 1)
        );
        let Plan::ParagraphSemantic(p) =
            ChunkingRequest::new(Strategy::ParagraphSemantic).over(&server)
        else {
            panic!()
        };
        assert_eq!(
            (p.chunk_token_size, p.overlap_token_size, p.drop_references),
            (2000, 100, false)
        );
        let stored =
            json!({"strategy": "semantic_vector", "breakpoint_threshold_type": "gradient"});
        let back: ChunkingRequest = serde_json::from_value(stored.clone()).unwrap();
        assert_eq!(back.breakpoint_threshold_type, Some(Breakpoint::Gradient));
        assert_eq!(serde_json::to_value(&back).unwrap(), stored);
    }
}
