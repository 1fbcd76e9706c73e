//! The worker's LLM, embedding model and reranker, built from the settings: the builtin
//! ones or a provider binding (no reranker without RERANK_BINDING), each limited by its
//! role's permits in the arena (MAX_ASYNC, EMBEDDING_FUNC_MAX_ASYNC, MAX_ASYNC_RERANK),
//! which hold the limit across every worker.

use std::sync::Arc;

use lightrag_config::{Binding, ModelSettings, ProviderSettings, RerankBinding, RerankSettings};
use lightrag_engine::embedding::Embedder;
use lightrag_engine::embedding::builtin::HashedNgrams;
use lightrag_engine::llm::LanguageModel;
use lightrag_engine::llm::builtin::BuiltinModel;
use lightrag_engine::llm::limited::Limited;
use lightrag_engine::llm::prompted::PromptedModel;
use lightrag_engine::providers::{self, Endpoint};
use lightrag_engine::rerank::chunked::Chunked;
use lightrag_engine::rerank::{Provider, Remote, RerankEndpoint, Reranker};

use crate::arena::coordination::ArenaPermits;
use crate::arena::permits::PermitTable;

fn endpoint(p: &ProviderSettings, azure_api_version: &str) -> Endpoint {
    Endpoint {
        binding: match p.binding {
            Binding::Builtin => providers::Binding::Builtin,
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

/// The configured embedding model, `dim` dimensions, limited across workers.
pub fn embedder(
    settings: &ModelSettings,
    dim: usize,
    permits: &'static PermitTable,
) -> Arc<dyn Embedder> {
    let inner = providers::embedder(
        endpoint(&settings.embedding, &settings.azure_api_version),
        dim,
    )
    .unwrap_or_else(|| Arc::new(HashedNgrams::new(dim)));
    Arc::new(Limited::new(
        inner,
        Arc::new(ArenaPermits {
            table: permits,
            limit: settings.embedding.max_async,
        }),
    ))
}

/// Why a model run in process could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ModelLoadError {
    #[cfg(feature = "local-models")]
    #[error("cannot load the reranker: {0}")]
    Reranker(#[from] lightrag_engine::models::LoadError),
    #[cfg(feature = "local-models")]
    #[error("cannot start the model threads: {0}")]
    Threads(std::io::Error),
}

/// The configured reranker, limited across workers (`workers` share the cores of an
/// in-process one); `None` for RERANK_BINDING=null.
pub fn reranker(
    settings: &RerankSettings,
    #[cfg_attr(not(feature = "local-models"), allow(unused_variables))] workers: usize,
    permits: &'static PermitTable,
) -> Result<Option<Arc<dyn Reranker>>, ModelLoadError> {
    let provider = match settings.binding {
        RerankBinding::Null => return Ok(None),
        RerankBinding::Cohere => Provider::Cohere,
        RerankBinding::Jina => Provider::Jina,
        RerankBinding::Aliyun => Provider::Aliyun,
        #[cfg(feature = "local-models")]
        RerankBinding::Local => {
            let inner = local_reranker(settings, workers)?;
            return Ok(Some(limited(inner, settings, permits)));
        }
    };
    let remote = Remote::new(RerankEndpoint {
        provider,
        url: settings.host.clone().unwrap_or_default(),
        api_key: settings.api_key.clone(),
        model: settings.model.clone().unwrap_or_default(),
        // RERANK_TIMEOUT bounds the whole call: a slow reranker only costs the order.
        timeouts: providers::Timeouts {
            attempt: settings.timeout,
            call: settings.timeout,
        },
    });
    let inner: Arc<dyn Reranker> = match settings.max_tokens_per_doc {
        Some(max_tokens) => Arc::new(Chunked::new(remote, max_tokens)),
        None => Arc::new(remote),
    };
    Ok(Some(limited(inner, settings, permits)))
}

fn limited(
    inner: Arc<dyn Reranker>,
    settings: &RerankSettings,
    permits: &'static PermitTable,
) -> Arc<dyn Reranker> {
    Arc::new(Limited::new(
        inner,
        Arc::new(ArenaPermits {
            table: permits,
            limit: settings.max_async,
        }),
    ))
}

/// The cross-encoder in RERANK_MODEL's directory, on its own bounded thread pool.
#[cfg(feature = "local-models")]
fn local_reranker(
    settings: &RerankSettings,
    workers: usize,
) -> Result<Arc<dyn Reranker>, ModelLoadError> {
    use lightrag_engine::models::{ModelDirectory, threads};
    use lightrag_engine::rerank::local::CrossEncoder;
    let dir = std::path::PathBuf::from(settings.model.clone().unwrap_or_default());
    let model = ModelDirectory::open(&dir)?;
    let pool = threads::pool(threads::thread_count(0, workers)).map_err(ModelLoadError::Threads)?;
    tracing::info!(model = %dir.display(), "cross-encoder reranker loaded");
    Ok(Arc::new(CrossEncoder::new(Arc::new(model), pool)?))
}
