//! The worker's in-process models (feature `local-models`): the local embedder on the
//! model directory EMBEDDING_MODEL names in MODELS_DIR, on a pool of
//! LOCAL_MODEL_THREADS threads (by default the cores shared out among the workers).
//!
//! The master loads the model once before it forks ([`preload`]): candle copies the
//! weights out of their memory map into its own buffers, and loaded before the fork
//! those buffers are shared copy-on-write by every worker (the weights are only read)
//! instead of each worker holding a copy. A worker whose settings name another model
//! than the master loaded (after a reload) loads its own.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use lightrag_config::{Binding, Environment, ModelSettings, Settings};
use lightrag_engine::embedding::local::LocalEmbedder;
use lightrag_engine::models::{LoadError, ModelDirectory, threads};

static PRELOADED: OnceLock<Arc<ModelDirectory>> = OnceLock::new();

fn model_dir(models: &ModelSettings) -> PathBuf {
    let dir = models.local.model_dir(&models.embedding.model);
    std::fs::canonicalize(&dir).unwrap_or(dir)
}

/// In the master, before the first fork: loads the local embedding model the command
/// line and environment select, if any. Settings or model errors are left to the
/// master's own checks and to the workers, which report them.
pub fn preload(args: &[OsString]) {
    let Ok(cwd) = std::env::current_dir() else {
        return;
    };
    let Ok(env) = Environment::capture(&cwd) else {
        return;
    };
    let Ok(settings) = Settings::load(args.iter().cloned(), &env) else {
        return;
    };
    if settings.models.embedding.binding != Binding::Local {
        return;
    }
    if let Ok(model) = ModelDirectory::open(&model_dir(&settings.models)) {
        let _ = PRELOADED.set(Arc::new(model));
    }
}

fn open(dir: &Path) -> Result<(Arc<ModelDirectory>, bool), LoadError> {
    match PRELOADED.get() {
        Some(model) if std::fs::canonicalize(&model.path).ok().as_deref() == Some(dir) => {
            Ok((model.clone(), true))
        }
        _ => Ok((Arc::new(ModelDirectory::open(dir)?), false)),
    }
}

/// The local embedder of a worker among `workers`.
pub fn embedder(models: &ModelSettings, workers: usize) -> Result<LocalEmbedder, LoadError> {
    let dir = model_dir(models);
    let (model, shared) = open(&dir)?;
    let threads = threads::thread_count(models.local.threads, workers);
    tracing::info!(
        model = %dir.display(),
        dim = model.hidden_size(),
        max_seq_length = model.max_seq_length,
        threads,
        shared,
        "local embedding model ready"
    );
    Ok(LocalEmbedder::new(model, threads::pool(threads)?))
}
