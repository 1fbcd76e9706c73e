//! The worker's LLM and embedding model, built from the settings: the builtin ones or a
//! provider binding, each limited by its role's permits in the arena (MAX_ASYNC,
//! EMBEDDING_FUNC_MAX_ASYNC), which hold the limit across every worker.

use std::sync::Arc;

use lightrag_config::{Binding, ModelSettings, ProviderSettings};
use lightrag_engine::embedding::Embedder;
use lightrag_engine::embedding::builtin::HashedNgrams;
use lightrag_engine::embedding::identity::EmbeddingIdentity;
use lightrag_engine::llm::LanguageModel;
use lightrag_engine::llm::builtin::BuiltinModel;
use lightrag_engine::llm::limited::Limited;
use lightrag_engine::llm::prompted::PromptedModel;
use lightrag_engine::providers::{self, Endpoint};

use crate::arena::coordination::ArenaPermits;
use crate::arena::permits::PermitTable;

fn endpoint(p: &ProviderSettings, azure_api_version: &str) -> Endpoint {
    Endpoint {
        binding: match p.binding {
            // `local` is no HTTP provider: [`unlimited_embedder`] builds it.
            Binding::Builtin | Binding::Local => providers::Binding::Builtin,
            Binding::OpenAi => providers::Binding::OpenAi,
            Binding::AzureOpenAi => providers::Binding::AzureOpenAi,
            Binding::Ollama => providers::Binding::Ollama,
        },
        host: p.host.clone(),
        api_key: p.api_key.clone(),
        model: p.model.clone(),
        timeouts: providers::Timeouts {
            attempt: p.attempt_timeout(),
            call: p.call_timeout,
        },
        api_version: azure_api_version.to_owned(),
    }
}

/// The configured LLM, limited across workers.
pub fn language_model(
    settings: &ModelSettings,
    permits: &'static PermitTable,
) -> Arc<dyn LanguageModel> {
    let inner: Arc<dyn LanguageModel> =
        match providers::chat_provider(endpoint(&settings.llm, &settings.azure_api_version)) {
            Some(provider) => Arc::new(PromptedModel::new(provider)),
            None => Arc::new(BuiltinModel),
        };
    Arc::new(Limited::new(
        inner,
        Arc::new(ArenaPermits {
            table: permits,
            limit: settings.llm.max_async,
        }),
    ))
}

/// Why the configured embedding model cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum EmbedderError {
    #[cfg(feature = "local-models")]
    #[error("cannot load the local embedding model: {0}")]
    Local(#[from] lightrag_engine::models::LoadError),
}

/// The configured embedding model, `dim` dimensions (a local model has its own), for
/// one of `workers` worker processes, without a limit on calls in flight.
pub fn unlimited_embedder(
    settings: &ModelSettings,
    dim: usize,
    workers: usize,
) -> Result<Arc<dyn Embedder>, EmbedderError> {
    #[cfg(feature = "local-models")]
    if settings.embedding.binding == Binding::Local {
        return Ok(Arc::new(crate::local_models::embedder(settings, workers)?));
    }
    let _ = workers;
    Ok(providers::embedder(
        endpoint(&settings.embedding, &settings.azure_api_version),
        dim,
    )
    .unwrap_or_else(|| Arc::new(HashedNgrams::new(dim))))
}

/// The configured embedding model, limited across workers.
pub fn embedder(
    settings: &ModelSettings,
    dim: usize,
    workers: usize,
    permits: &'static PermitTable,
) -> Result<Arc<dyn Embedder>, EmbedderError> {
    let inner = unlimited_embedder(settings, dim, workers)?;
    Ok(Arc::new(Limited::new(
        inner,
        Arc::new(ArenaPermits {
            table: permits,
            limit: settings.embedding.max_async,
        }),
    )))
}

/// The embedding the settings name, as a workspace remembers it.
pub fn identity(settings: &ModelSettings, embedder: &dyn Embedder) -> EmbeddingIdentity {
    EmbeddingIdentity {
        binding: settings.embedding.binding.name().to_owned(),
        model: settings.embedding.model.clone(),
        dim: embedder.dim(),
    }
}

/// Says at start-up which embedding serves, and how to get a real model when the
/// builtin one serves only because none is installed.
pub fn log_embedding(settings: &ModelSettings, embedding: &EmbeddingIdentity) {
    tracing::info!(binding = %embedding.binding, model = %embedding.model, dim = embedding.dim, "embedding");
    if settings.embedding.binding == Binding::Builtin
        && !settings.embedding_binding_explicit
        && lightrag_config::local_model::AVAILABLE
    {
        tracing::info!(
            models_dir = %settings.local.models_dir.display(),
            "embedding is the builtin hashed n-grams (lexical matching only); for semantic \
             retrieval run `lightrag-master fetch-model` to install all-MiniLM-L6-v2 into \
             MODELS_DIR: the next start uses it"
        );
    }
}
