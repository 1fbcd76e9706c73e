//! The in-process models' settings: where model directories live (MODELS_DIR, which
//! `lightrag-master fetch-model` fills), the threads each worker gives them, and what
//! the embedding binding becomes when nobody names one: `local` once a model is there,
//! `builtin` before.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::bindings::Binding;
use crate::error::ConfigError;
use crate::layers::Source;
use crate::resolver::{Resolver, number, path};
use crate::spec;

/// The model `fetch-model` installs and `local` uses unless EMBEDDING_MODEL names one.
pub const DEFAULT_LOCAL_EMBEDDING_MODEL: &str = "all-MiniLM-L6-v2";

/// Whether this build runs models in process (the `local-models` feature).
pub const AVAILABLE: bool = cfg!(feature = "local-models");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalModelSettings {
    /// MODELS_DIR.
    pub models_dir: PathBuf,
    /// LOCAL_MODEL_THREADS: 0 shares the cores out among the workers.
    pub threads: usize,
}

impl LocalModelSettings {
    /// The directory of model `name`: a path as given, or a directory in MODELS_DIR.
    pub fn model_dir(&self, name: &str) -> PathBuf {
        self.models_dir.join(name)
    }
}

pub(crate) fn settings(r: &Resolver<'_>) -> Result<LocalModelSettings, ConfigError> {
    Ok(LocalModelSettings {
        models_dir: r.get(&spec::MODELS_DIR, path)?,
        threads: r.get(&spec::LOCAL_MODEL_THREADS, number::<usize>(0, 1024))?,
    })
}

/// What `hidden_size` a model directory's `config.json` declares, when the directory
/// holds a whole model (`config.json`, `tokenizer.json`, `model.safetensors`).
pub fn model_dimension(dir: &Path) -> Option<usize> {
    #[derive(Deserialize)]
    struct Config {
        hidden_size: usize,
    }
    let complete = ["tokenizer.json", "model.safetensors"]
        .iter()
        .all(|f| dir.join(f).is_file());
    let text = std::fs::read_to_string(dir.join("config.json")).ok()?;
    let config: Config = serde_json::from_str(&text).ok()?;
    complete.then_some(config.hidden_size)
}

/// The embedding binding when EMBEDDING_BINDING is not given: `local` when this build
/// can run it and the model is in place.
pub(crate) fn derived_binding(local: &LocalModelSettings, model: Option<&str>) -> Binding {
    let name = model.unwrap_or(DEFAULT_LOCAL_EMBEDDING_MODEL);
    match AVAILABLE && model_dimension(&local.model_dir(name)).is_some() {
        true => Binding::Local,
        false => Binding::Builtin,
    }
}

/// EMBEDDING_DIM for the local model in `dir`: the model's own, which an explicit value
/// must equal.
pub(crate) fn local_dimension(
    r: &Resolver<'_>,
    dir: &Path,
    model: &str,
    configured: usize,
) -> Result<usize, ConfigError> {
    let Some(dimension) = model_dimension(dir) else {
        let (value, origin) = r
            .raw(&spec::EMBEDDING_MODEL)
            .unwrap_or_else(|| (model.to_owned(), Source::Default));
        return Err(ConfigError::Invalid {
            setting: spec::EMBEDDING_MODEL.env,
            origin,
            value,
            reason: format!(
                "no model in {} (config.json, tokenizer.json and model.safetensors); \
                 `lightrag-master fetch-model` installs {DEFAULT_LOCAL_EMBEDDING_MODEL}",
                dir.display()
            ),
        });
    };
    match r.raw(&spec::EMBEDDING_DIM) {
        Some((value, origin)) if origin != Source::Default && configured != dimension => {
            Err(ConfigError::Invalid {
                setting: spec::EMBEDDING_DIM.env,
                origin,
                value,
                reason: format!("the local model {model} gives {dimension} dimensions"),
            })
        }
        _ => Ok(dimension),
    }
}
