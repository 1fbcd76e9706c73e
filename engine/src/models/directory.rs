//! A model directory as Hugging Face and sentence-transformers write it: `config.json`
//! (a BERT config), `tokenizer.json`, `model.safetensors`, and optionally
//! `sentence_bert_config.json` (the maximum sequence length) and
//! `1_Pooling/config.json` (how token states become one vector).
//!
//! The weights are read through a memory map of `model.safetensors`; candle copies them
//! into its own tensors, so a process loading the model before forking (the master)
//! lets its workers share those pages copy-on-write instead of holding a copy each.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use serde::Deserialize;
use tokenizers::Tokenizer;

use super::bert::{BertConfig, Encoder};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{path} is not a model we can run: {reason}")]
    Unsupported { path: PathBuf, reason: String },
    #[error("cannot load the weights of {path}: {reason}")]
    Weights { path: PathBuf, reason: String },
    #[error("cannot load the tokenizer {path}: {reason}")]
    Tokenizer { path: PathBuf, reason: String },
    #[error("cannot start the model's threads: {0}")]
    Threads(String),
}

/// How a sentence embedding is made from token states (`1_Pooling/config.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// The mean of the real tokens' states (the attention mask's ones).
    Mean,
    /// The `[CLS]` token's state.
    Cls,
}

#[derive(Deserialize)]
struct PoolingConfig {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
}

#[derive(Deserialize)]
struct SentenceConfig {
    max_seq_length: Option<usize>,
}

#[derive(Deserialize)]
struct ModelType {
    #[serde(default)]
    model_type: Option<String>,
}

/// A loaded model directory: the encoder, its tokenizer and how to pool.
pub struct ModelDirectory {
    pub path: PathBuf,
    pub config: BertConfig,
    pub encoder: Encoder,
    /// Truncation and padding switched off: callers window and pad themselves.
    pub tokenizer: Tokenizer,
    /// Tokens per forward pass, special tokens included.
    pub max_seq_length: usize,
    pub pooling: Pooling,
    /// The whole checkpoint, for heads beyond the encoder (`pooler.*`, `classifier.*`).
    pub weights: VarBuilder<'static>,
    /// Where the encoder's weights sit in `weights`: `""` or `"bert"`.
    pub encoder_prefix: &'static str,
}

fn read(path: &Path) -> Result<String, LoadError> {
    std::fs::read_to_string(path).map_err(|e| LoadError::Read {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

fn json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, LoadError> {
    serde_json::from_str(&read(path)?).map_err(|e| LoadError::Unsupported {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

fn pooling(dir: &Path) -> Result<Pooling, LoadError> {
    let path = dir.join("1_Pooling").join("config.json");
    if !path.exists() {
        return Ok(Pooling::Mean);
    }
    let config: PoolingConfig = json(&path)?;
    match (
        config.pooling_mode_mean_tokens,
        config.pooling_mode_cls_token,
        config.pooling_mode_max_tokens || config.pooling_mode_mean_sqrt_len_tokens,
    ) {
        (true, false, false) => Ok(Pooling::Mean),
        (false, true, false) => Ok(Pooling::Cls),
        _ => Err(LoadError::Unsupported {
            path,
            reason: "only mean or [CLS] pooling is supported".to_owned(),
        }),
    }
}

impl ModelDirectory {
    /// Loads the model in `dir` onto the CPU.
    pub fn open(dir: &Path) -> Result<ModelDirectory, LoadError> {
        let config_path = dir.join("config.json");
        let kind: ModelType = json(&config_path)?;
        if let Some(other) = kind.model_type.filter(|t| t != "bert") {
            return Err(LoadError::Unsupported {
                path: config_path,
                reason: format!("model_type {other:?}: only BERT models are supported"),
            });
        }
        let config: BertConfig = json(&config_path)?;
        let sentence = dir.join("sentence_bert_config.json");
        let max_seq_length = match sentence.exists() {
            true => json::<SentenceConfig>(&sentence)?.max_seq_length,
            false => None,
        }
        .unwrap_or(config.max_position_embeddings)
        .min(config.max_position_embeddings);
        if max_seq_length < 3 {
            return Err(LoadError::Unsupported {
                path: sentence,
                reason: format!("max_seq_length {max_seq_length} leaves no room for text"),
            });
        }
        let weights_path = dir.join("model.safetensors");
        let weights_error = |e: candle_core::Error| LoadError::Weights {
            path: weights_path.clone(),
            reason: e.to_string(),
        };
        // SAFETY: the file is mapped read-only and only read while candle copies the
        // tensors out; a model directory is not rewritten under a running server (the
        // fetch command unpacks into a fresh directory and renames it into place).
        let weights = unsafe {
            VarBuilder::from_mmaped_safetensors(&[&weights_path], DType::F32, &Device::Cpu)
        }
        .map_err(weights_error)?;
        let encoder_prefix = match weights.contains_tensor("bert.embeddings.word_embeddings.weight")
        {
            true => "bert",
            false => "",
        };
        let scoped = match encoder_prefix {
            "" => weights.clone(),
            prefix => weights.pp(prefix),
        };
        let encoder = Encoder::load(scoped, &config).map_err(weights_error)?;
        let tokenizer_path = dir.join("tokenizer.json");
        let tokenizer_error = |reason: String| LoadError::Tokenizer {
            path: tokenizer_path.clone(),
            reason,
        };
        let mut tokenizer =
            Tokenizer::from_file(&tokenizer_path).map_err(|e| tokenizer_error(e.to_string()))?;
        tokenizer
            .with_truncation(None)
            .map_err(|e| tokenizer_error(e.to_string()))?;
        tokenizer.with_padding(None);
        Ok(ModelDirectory {
            path: dir.to_owned(),
            pooling: pooling(dir)?,
            config,
            encoder,
            tokenizer,
            max_seq_length,
            weights,
            encoder_prefix,
        })
    }

    /// The length of the encoder's hidden states (a sentence embedding's dimension).
    pub fn hidden_size(&self) -> usize {
        self.config.hidden_size
    }
}
