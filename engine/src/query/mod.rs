//! Answering questions from the index, LightRAG's way. Retrieval per mode:
//!
//! - `local`: low-level keywords → entity vectors → those entities, their relations and
//!   their source chunks;
//! - `global`: high-level keywords → relation vectors → those relations, their endpoint
//!   entities and their source chunks;
//! - `hybrid`: both, merged round-robin without duplicates;
//! - `mix` (the default): hybrid plus a direct vector search of the chunks;
//! - `naive`: the chunk vectors only; `bypass`: nothing.
//!
//! Query, keyword texts are embedded in one batched call. The merged chunks are
//! reranked when the query asks and a reranker is configured ([`crate::rerank`]),
//! before CHUNK_TOP_K cuts them. The context is cut to the token budgets ([`context`]) and becomes LightRAG's answer prompt; references are
//! numbered by how many of the final chunks come from each file. [`answer`] is the one
//! path from a question to its answer (retrieval, cache, prompt, model) that every
//! front end takes.

pub mod answer;
mod chunk_pick;
pub mod context;
mod keywords;
mod line_tokens;
mod ranking;
mod retrieval;

use serde::Serialize;
use serde_json::Value;

use crate::chunking::Tokenizer;
use crate::embedding::Embedder;
use crate::llm::{Keywords, LanguageModel, ModelError};
use crate::rerank::Reranker;
use crate::storage::StorageError;
use crate::storage::bundle::Stores;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Local,
    Global,
    Hybrid,
    Naive,
    Mix,
    Bypass,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        Some(match s {
            "local" => Mode::Local,
            "global" => Mode::Global,
            "hybrid" => Mode::Hybrid,
            "naive" => Mode::Naive,
            "mix" => Mode::Mix,
            "bypass" => Mode::Bypass,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Local => "local",
            Mode::Global => "global",
            Mode::Hybrid => "hybrid",
            Mode::Naive => "naive",
            Mode::Mix => "mix",
            Mode::Bypass => "bypass",
        }
    }

    fn uses_graph(self) -> bool {
        matches!(self, Mode::Local | Mode::Global | Mode::Hybrid | Mode::Mix)
    }
}

/// How source chunks of entities and relations are chosen (KG_CHUNK_PICK_METHOD).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkPick {
    /// The chunks most similar to the query.
    Vector,
    /// The chunks shared by most of the retrieved entities or relations.
    Weight,
}

/// One query's parameters, defaults applied.
#[derive(Debug, Clone)]
pub struct QueryParams {
    pub query: String,
    pub mode: Mode,
    pub top_k: usize,
    pub chunk_top_k: usize,
    pub max_entity_tokens: usize,
    pub max_relation_tokens: usize,
    pub max_total_tokens: usize,
    pub hl_keywords: Vec<String>,
    pub ll_keywords: Vec<String>,
    pub response_type: String,
    /// The additional instructions (with the server's prefix already applied).
    pub user_prompt: String,
    /// Rerank the chunks (the request's `enable_rerank`, else RERANK_BY_DEFAULT).
    pub enable_rerank: bool,
}

/// Server-wide retrieval settings.
#[derive(Debug, Clone)]
pub struct RetrievalSettings {
    pub cosine_threshold: f32,
    pub related_chunk_number: usize,
    pub chunk_pick: ChunkPick,
    pub language: String,
    /// ENABLE_CONTENT_HEADINGS: chunks carry their parent headings into the context.
    pub content_headings: bool,
    /// MIN_RERANK_SCORE: reranked chunks scoring below it are dropped.
    pub min_rerank_score: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// A retrieved entity, as `/query/data` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct EntityRow {
    pub entity_name: String,
    pub entity_type: String,
    pub description: String,
    pub source_id: String,
    pub file_path: String,
    pub created_at: Value,
    pub reference_id: String,
    /// Tokens of the row's context line, once counted (0: not yet).
    #[serde(skip)]
    pub tokens: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct RelationRow {
    pub src_id: String,
    pub tgt_id: String,
    pub description: String,
    pub keywords: String,
    pub weight: f64,
    pub source_id: String,
    pub file_path: String,
    pub created_at: Value,
    pub reference_id: String,
    /// Tokens of the row's context line, once counted (0: not yet).
    #[serde(skip)]
    pub tokens: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChunkRow {
    pub reference_id: String,
    pub content: String,
    pub file_path: String,
    pub chunk_id: String,
    /// The chunk's parent headings, shown in the context only (as LightRAG does).
    #[serde(skip)]
    pub content_headings: Option<String>,
    /// Tokens of the row's context line, once counted (0: not yet).
    #[serde(skip)]
    pub tokens: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reference {
    pub reference_id: String,
    pub file_path: String,
}

/// Counts LightRAG reports in `metadata.processing_info`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProcessingInfo {
    pub total_entities_found: usize,
    pub total_relations_found: usize,
    pub entities_after_truncation: usize,
    pub relations_after_truncation: usize,
    pub total_chunks_found: usize,
    pub final_chunks_count: usize,
}

/// What retrieval found, cut to the budgets, with reference ids assigned.
#[derive(Debug, Clone, Default)]
pub struct Retrieval {
    pub keywords: Keywords,
    pub entities: Vec<EntityRow>,
    pub relations: Vec<RelationRow>,
    pub chunks: Vec<ChunkRow>,
    pub references: Vec<Reference>,
    pub info: ProcessingInfo,
}

impl Retrieval {
    /// Nothing to answer from.
    pub fn is_empty(&self) -> bool {
        self.entities.is_empty() && self.relations.is_empty() && self.chunks.is_empty()
    }
}

/// Progress steps, as `/query/stream` reports them with `include_progress`.
pub const PROGRESS_KEYWORDS: &str = "extracting_keywords";
pub const PROGRESS_ENTITIES: &str = "retrieving_entities";
pub const PROGRESS_RELATIONS: &str = "retrieving_relations";
pub const PROGRESS_CHUNKS: &str = "retrieving_chunks";
pub const PROGRESS_RERANKING: &str = "reranking";
pub const PROGRESS_GENERATING: &str = "generating_response";

/// The query side of one workspace.
pub struct QueryEngine<'a> {
    pub stores: Stores<'a>,
    pub tokenizer: &'a Tokenizer,
    pub embedder: &'a dyn Embedder,
    pub model: &'a dyn LanguageModel,
    /// The chunks' reranker (RERANK_BINDING), if one is configured.
    pub reranker: Option<&'a dyn Reranker>,
    pub settings: &'a RetrievalSettings,
    /// ENABLE_LLM_CACHE: the model's keywords are cached ([`keywords`]).
    pub cache_keywords: bool,
}

impl QueryEngine<'_> {
    /// Keywords (from the caller, or the model), retrieval for the mode, truncation to
    /// the budgets, references. `progress` hears each step as it starts.
    pub async fn retrieve(
        &self,
        params: &QueryParams,
        progress: &(dyn Fn(&'static str) + Sync),
    ) -> Result<Retrieval, QueryError> {
        if params.mode == Mode::Bypass {
            return Ok(Retrieval::default());
        }
        let mut keywords = Keywords {
            high_level: params.hl_keywords.clone(),
            low_level: params.ll_keywords.clone(),
        };
        if params.mode.uses_graph()
            && keywords.high_level.is_empty()
            && keywords.low_level.is_empty()
        {
            progress(PROGRESS_KEYWORDS);
            keywords = self.extract_keywords(params).await?;
            // LightRAG's fallback: a short query is its own low-level keyword.
            if keywords.high_level.is_empty()
                && keywords.low_level.is_empty()
                && params.query.chars().count() < 50
            {
                keywords.low_level.push(params.query.clone());
            }
        }
        retrieval::run(self, params, keywords, progress).await
    }
}

/// LightRAG's query "weight": CJK, Hangul and fullwidth characters count 2.
pub fn query_weight(query: &str) -> usize {
    query
        .chars()
        .map(|c| match c as u32 {
            0x1100..=0x11FF
            | 0x2E80..=0x9FFF
            | 0xA960..=0xA97F
            | 0xAC00..=0xD7FF
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFFEF
            | 0x20000..=0x2FA1F => 2,
            _ => 1,
        })
        .sum()
}
