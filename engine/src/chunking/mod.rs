//! Splitting a document's text into the chunks that are embedded and extracted, with
//! LightRAG's four built-in strategies: `fixed_token` (F, the default),
//! `recursive_character` (R), `semantic_vector` (V) and `paragraph_semantic` (P). A
//! document selects one by its request's `chunking` object or its file name's hint;
//! [`Plan`] is that choice resolved against the server's CHUNK_SIZE and
//! CHUNK_OVERLAP_SIZE. Whatever the strategy, a document whose text carries Markdown
//! headings gets each chunk's heading path ([`headings`]).
//!
//! Tokens are o200k_base, the encoding of LightRAG's default tokenizer model
//! (gpt-4o-mini), shipped in the crate.

mod fixed_token;
pub mod headings;
mod paragraph_semantic;
mod recursive_character;
mod request;
mod semantic_vector;

use serde::{Deserialize, Serialize};
use tiktoken_rs::{CoreBPE, Rank};

use fixed_token::chunk;
pub use headings::ChunkHeading;
pub use request::{ChunkingDefaults, ChunkingRequest};

/// Largest chunk size (and overlap) accepted, from a request as from CHUNK_SIZE.
pub const MAX_CHUNK_TOKENS: usize = 1_000_000;

/// LightRAG's default separator cascade for `recursive_character` (its
/// DEFAULT_R_SEPARATORS): paragraph, line, Chinese sentence and clause punctuation,
/// space, character. English `.?!` is left out: split literally, it would cut `0.95`.
pub const DEFAULT_R_SEPARATORS: &[&str] = &["\n\n", "\n", "。", "！", "？", "；", "，", " ", ""];

/// `paragraph_semantic`'s own default size (LightRAG's DEFAULT_CHUNK_P_SIZE): merging
/// whole sections needs more room than CHUNK_SIZE.
pub const DEFAULT_P_CHUNK_SIZE: usize = 2000;

/// The request's limits on `separators` (LightRAG's bounds: the splitter rescans the
/// text once per separator).
pub const MAX_SEPARATORS: usize = 64;
pub const MAX_SEPARATOR_CHARS: usize = 256;

/// The fixed-token parameters; also the server's chunking (CHUNK_SIZE,
/// CHUNK_OVERLAP_SIZE) the other strategies take their defaults from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkingOptions {
    pub chunk_token_size: usize,
    pub overlap_token_size: usize,
    pub split_by_character: Option<String>,
    pub split_by_character_only: bool,
}

impl Default for ChunkingOptions {
    /// LightRAG's CHUNK_SIZE 1200 and CHUNK_OVERLAP_SIZE 100.
    fn default() -> Self {
        ChunkingOptions {
            chunk_token_size: 1200,
            overlap_token_size: 100,
            split_by_character: None,
            split_by_character_only: false,
        }
    }
}

/// A strategy by LightRAG's name; its selector letter is what filename hints use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    #[default]
    FixedToken,
    RecursiveCharacter,
    SemanticVector,
    ParagraphSemantic,
}

impl Strategy {
    pub const ALL: [Strategy; 4] = [
        Strategy::FixedToken,
        Strategy::RecursiveCharacter,
        Strategy::SemanticVector,
        Strategy::ParagraphSemantic,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Strategy::FixedToken => "fixed_token",
            Strategy::RecursiveCharacter => "recursive_character",
            Strategy::SemanticVector => "semantic_vector",
            Strategy::ParagraphSemantic => "paragraph_semantic",
        }
    }

    /// The letter of LightRAG's `process_options` (`F`, `R`, `V`, `P`).
    pub fn selector(self) -> char {
        match self {
            Strategy::FixedToken => 'F',
            Strategy::RecursiveCharacter => 'R',
            Strategy::SemanticVector => 'V',
            Strategy::ParagraphSemantic => 'P',
        }
    }

    pub fn from_name(name: &str) -> Option<Strategy> {
        Strategy::ALL.into_iter().find(|s| s.name() == name)
    }

    pub fn from_selector(letter: char) -> Option<Strategy> {
        Strategy::ALL.into_iter().find(|s| s.selector() == letter)
    }

    pub fn is_fixed_token(&self) -> bool {
        *self == Strategy::FixedToken
    }
}

/// How `semantic_vector` turns the distances between neighbouring sentence groups
/// into a threshold (LangChain's `breakpoint_threshold_type`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Breakpoint {
    #[default]
    Percentile,
    StandardDeviation,
    Interquartile,
    Gradient,
}

impl Breakpoint {
    pub const NAMES: [&'static str; 4] = [
        "percentile",
        "standard_deviation",
        "interquartile",
        "gradient",
    ];

    pub fn from_name(name: &str) -> Option<Breakpoint> {
        let all = [
            Breakpoint::Percentile,
            Breakpoint::StandardDeviation,
            Breakpoint::Interquartile,
            Breakpoint::Gradient,
        ];
        Breakpoint::NAMES
            .iter()
            .position(|n| *n == name)
            .map(|i| all[i])
    }

    /// LangChain's amount when none is given: the 95th percentile (of distances or
    /// of their gradient), 3 standard deviations, 1.5 interquartile ranges.
    pub fn default_amount(self) -> f64 {
        match self {
            Breakpoint::Percentile | Breakpoint::Gradient => 95.0,
            Breakpoint::StandardDeviation => 3.0,
            Breakpoint::Interquartile => 1.5,
        }
    }

    /// Percentile-based types take an amount in (0, 100].
    pub fn is_percentile(self) -> bool {
        matches!(self, Breakpoint::Percentile | Breakpoint::Gradient)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecursiveCharacter {
    pub chunk_token_size: usize,
    pub overlap_token_size: usize,
    pub separators: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SemanticVector {
    /// A hard cap: a semantic group above it is split again by `recursive_character`.
    pub chunk_token_size: usize,
    pub threshold: Breakpoint,
    pub amount: f64,
    /// Sentences on each side joined to a sentence before it is embedded.
    pub buffer_size: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParagraphSemantic {
    pub chunk_token_size: usize,
    pub overlap_token_size: usize,
    /// Leave out sections headed References, Bibliography or 参考文献.
    pub drop_references: bool,
}

/// A document's chunking, every parameter resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    FixedToken(ChunkingOptions),
    RecursiveCharacter(RecursiveCharacter),
    SemanticVector(SemanticVector),
    ParagraphSemantic(ParagraphSemantic),
}

impl Plan {
    pub fn strategy(&self) -> Strategy {
        match self {
            Plan::FixedToken(_) => Strategy::FixedToken,
            Plan::RecursiveCharacter(_) => Strategy::RecursiveCharacter,
            Plan::SemanticVector(_) => Strategy::SemanticVector,
            Plan::ParagraphSemantic(_) => Strategy::ParagraphSemantic,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub tokens: usize,
    pub content: String,
    pub order: usize,
    /// The section the chunk starts in, for a document with headings.
    pub heading: Option<ChunkHeading>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChunkError {
    #[error(
        "invalid chunking configuration: overlap {overlap} must be smaller than the chunk size {size}"
    )]
    Overlap { size: usize, overlap: usize },
    #[error("invalid chunking configuration: chunk size {0} is above {MAX_CHUNK_TOKENS} tokens")]
    TooLarge(usize),
    #[error("a piece of {tokens} tokens exceeds the chunk size of {limit} tokens")]
    TokenLimitExceeded { tokens: usize, limit: usize },
    #[error("the embedder returned {got} vectors for {expected} sentence groups")]
    EmbeddingCount { expected: usize, got: usize },
}

/// Refuses sizes the chunkers cannot run with.
fn check_sizes(size: usize, overlap: usize) -> Result<(), ChunkError> {
    if size == 0 || overlap >= size {
        return Err(ChunkError::Overlap { size, overlap });
    }
    if size > MAX_CHUNK_TOKENS {
        return Err(ChunkError::TooLarge(size));
    }
    Ok(())
}

/// Splits `content` by `plan`; `embed` is called (once) only by `semantic_vector`.
/// With `has_headings` (the document's format renders headings as Markdown lines),
/// each chunk gets its heading path.
pub fn split<E: From<ChunkError>>(
    tokenizer: &Tokenizer,
    content: &str,
    plan: &Plan,
    has_headings: bool,
    embed: impl FnOnce(&[String]) -> Result<Vec<Vec<f32>>, E>,
) -> Result<Vec<Chunk>, E> {
    let outline = has_headings.then(|| headings::Outline::of(content));
    let mut chunks = match plan {
        Plan::FixedToken(options) => chunk(tokenizer, content, options)?,
        Plan::RecursiveCharacter(r) => {
            check_sizes(r.chunk_token_size, r.overlap_token_size)?;
            recursive_character::chunk(tokenizer, content, r)
        }
        Plan::SemanticVector(v) => {
            check_sizes(v.chunk_token_size, 0)?;
            semantic_vector::chunk(tokenizer, content, v, embed)?
        }
        Plan::ParagraphSemantic(p) => {
            check_sizes(
                p.chunk_token_size,
                p.overlap_token_size
                    .min(p.chunk_token_size.saturating_sub(1)),
            )?;
            paragraph_semantic::chunk(tokenizer, content, p, outline.as_ref())
        }
    };
    if let Some(outline) = &outline {
        outline.annotate(content, &mut chunks);
    }
    Ok(chunks)
}

/// Numbers chunk texts in order, dropping empty ones.
fn numbered(tokenizer: &Tokenizer, texts: impl IntoIterator<Item = String>) -> Vec<Chunk> {
    texts
        .into_iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .enumerate()
        .map(|(order, content)| Chunk {
            tokens: tokenizer.count(&content),
            content,
            order,
            heading: None,
        })
        .collect()
}

/// Token counting and slicing.
pub struct Tokenizer {
    bpe: &'static CoreBPE,
}

impl Tokenizer {
    /// o200k_base; built once per process on first use.
    pub fn o200k() -> Tokenizer {
        Tokenizer {
            bpe: tiktoken_rs::o200k_base_singleton(),
        }
    }

    /// Special-token text is encoded as ordinary text: documents are data.
    pub fn encode(&self, text: &str) -> Vec<Rank> {
        self.bpe.encode_ordinary(text)
    }

    pub fn count(&self, text: &str) -> usize {
        self.encode(text).len()
    }

    /// Slices may cut a multi-byte character; like Python's tiktoken, the broken bytes
    /// become U+FFFD rather than an error.
    pub fn decode(&self, tokens: &[Rank]) -> String {
        match self.bpe.decode_bytes(tokens) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(_) => String::new(),
        }
    }
}
