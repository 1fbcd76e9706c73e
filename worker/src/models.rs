//! The worker's LLM and embedding model, built from the settings: the builtin ones or a
//! provider binding, each limited by its role's permits in the arena (MAX_ASYNC,
//! EMBEDDING_FUNC_MAX_ASYNC), which hold the limit across every worker.

use std::sync::Arc;

use lightrag_config::{Binding, ModelSettings, ProviderSettings};
use lightrag_engine::embedding::Embedder;
use lightrag_engine::embedding::builtin::HashedNgrams;
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
