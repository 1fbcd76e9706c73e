//! The chunking a document asked for (its request's `chunking` object or its file
//! name's hint), stored with it in `full_docs` and resolved into a [`Plan`] against
//! the server's CHUNK_SIZE and CHUNK_OVERLAP_SIZE when it is processed. A parameter
//! not given takes the server's default for the strategy ([`ChunkingDefaults`]:
//! CHUNK_F_*, CHUNK_R_*, CHUNK_V_*, CHUNK_P_*), then LightRAG's.

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

/// The server's parameters per strategy, for what a document leaves out; each one's
/// `strategy` is its own.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkingDefaults {
    pub fixed_token: ChunkingRequest,
    pub recursive_character: ChunkingRequest,
    pub semantic_vector: ChunkingRequest,
    pub paragraph_semantic: ChunkingRequest,
}

impl Default for ChunkingDefaults {
    /// Nothing configured: every parameter falls to CHUNK_SIZE, CHUNK_OVERLAP_SIZE or
    /// LightRAG's default.
    fn default() -> Self {
        ChunkingDefaults {
            fixed_token: ChunkingRequest::new(Strategy::FixedToken),
            recursive_character: ChunkingRequest::new(Strategy::RecursiveCharacter),
            semantic_vector: ChunkingRequest::new(Strategy::SemanticVector),
            paragraph_semantic: ChunkingRequest::new(Strategy::ParagraphSemantic),
        }
    }
}

impl ChunkingDefaults {
    pub fn of(&self, strategy: Strategy) -> &ChunkingRequest {
        match strategy {
            Strategy::FixedToken => &self.fixed_token,
            Strategy::RecursiveCharacter => &self.recursive_character,
            Strategy::SemanticVector => &self.semantic_vector,
            Strategy::ParagraphSemantic => &self.paragraph_semantic,
        }
    }
}

impl ChunkingRequest {
    pub fn new(strategy: Strategy) -> ChunkingRequest {
        ChunkingRequest {
            strategy,
            ..ChunkingRequest::default()
        }
    }

    /// This request with what it leaves out taken from the server's defaults for its
    /// strategy (`split_by_character_only` is on when either turns it on, as in
    /// LightRAG).
    pub fn or_defaults(&self, defaults: &ChunkingDefaults) -> ChunkingRequest {
        let d = defaults.of(self.strategy);
        ChunkingRequest {
            strategy: self.strategy,
            chunk_token_size: self.chunk_token_size.or(d.chunk_token_size),
            // A default overlap that does not fit the document's own size is left out.
            chunk_overlap_token_size: self.chunk_overlap_token_size.or(d
                .chunk_overlap_token_size
                .filter(|o| self.chunk_token_size.is_none_or(|size| *o < size))),
            split_by_character: self
                .split_by_character
                .clone()
                .or_else(|| d.split_by_character.clone()),
            split_by_character_only: self.split_by_character_only || d.split_by_character_only,
            separators: self.separators.clone().or_else(|| d.separators.clone()),
            drop_references: self.drop_references.or(d.drop_references),
            breakpoint_threshold_type: self
                .breakpoint_threshold_type
                .or(d.breakpoint_threshold_type),
            breakpoint_threshold_amount: self
                .breakpoint_threshold_amount
                .or(d.breakpoint_threshold_amount),
            buffer_size: self.buffer_size.or(d.buffer_size),
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

    #[test]
    fn the_request_outranks_the_servers_defaults() {
        let defaults = ChunkingDefaults {
            recursive_character: ChunkingRequest {
                chunk_token_size: Some(300),
                chunk_overlap_token_size: Some(30),
                separators: Some(vec!["|".into()]),
                ..ChunkingRequest::new(Strategy::RecursiveCharacter)
            },
            ..ChunkingDefaults::default()
        };
        let asked = ChunkingRequest {
            chunk_token_size: Some(80),
            ..ChunkingRequest::new(Strategy::RecursiveCharacter)
        };
        let Plan::RecursiveCharacter(r) = asked
            .or_defaults(&defaults)
            .over(&ChunkingOptions::default())
        else {
            panic!()
        };
        assert_eq!(
            (r.chunk_token_size, r.overlap_token_size, r.separators),
            (80, 30, vec!["|".to_owned()])
        );
        // Another strategy keeps CHUNK_SIZE.
        let Plan::FixedToken(f) = ChunkingRequest::default()
            .or_defaults(&defaults)
            .over(&ChunkingOptions::default())
        else {
            panic!()
        };
        assert_eq!(f.chunk_token_size, 1200);
    }
}
