//! The worker's LLM, embedding model and reranker, built from the settings: the builtin
//! ones or a provider binding (no reranker without RERANK_BINDING), each limited by its
//! role's permits in the arena (MAX_ASYNC and the roles' `<ROLE>_MAX_ASYNC_LLM`,
//! EMBEDDING_FUNC_MAX_ASYNC, MAX_ASYNC_RERANK), which hold the limit across every worker.
//!
//! The LLM is one model per LightRAG role: extraction (and description summaries),
//! query keywords, and answers each go to the model their `EXTRACT_`, `KEYWORD_` or
//! `QUERY_` settings name, the base LLM where they name none.

use std::sync::Arc;

use lightrag_config::local_model::LocalModelSettings;
use lightrag_config::{
    Binding, LlmRole, ModelSettings, ProviderSettings, RerankBinding, RerankSettings,
};
use lightrag_engine::embedding::Embedder;
use lightrag_engine::embedding::builtin::HashedNgrams;
use lightrag_engine::embedding::identity::EmbeddingIdentity;
use lightrag_engine::embedding::prepared::{Preparation, Prepared};
use lightrag_engine::llm::builtin::BuiltinModel;
use lightrag_engine::llm::limited::Limited;
use lightrag_engine::llm::prompted::PromptedModel;
use lightrag_engine::llm::{
    BoxFuture, ExtractionSettings, Keywords, LanguageModel, Message, ModelError, SummaryRequest,
    TextStream,
};
use lightrag_engine::providers::{self, AwsAccess, Endpoint};
use lightrag_engine::rerank::chunked::Chunked;
use lightrag_engine::rerank::{Provider, Remote, RerankEndpoint, Reranker};

use crate::arena::coordination::ArenaPermits;
use crate::arena::permits::PermitTable;

fn binding(b: Binding) -> providers::Binding {
    match b {
        Binding::Builtin => providers::Binding::Builtin,
        Binding::OpenAi => providers::Binding::OpenAi,
        Binding::AzureOpenAi => providers::Binding::AzureOpenAi,
        Binding::Ollama => providers::Binding::Ollama,
        Binding::Lollms => providers::Binding::Lollms,
        Binding::Gemini => providers::Binding::Gemini,
        Binding::Bedrock => providers::Binding::Bedrock,
        Binding::Jina => providers::Binding::Jina,
        Binding::VoyageAi => providers::Binding::VoyageAi,
        // `local` is no HTTP provider: [`unlimited_embedder`] builds it.
        Binding::Local => providers::Binding::Builtin,
    }
}

fn endpoint(p: &ProviderSettings, settings: &ModelSettings) -> Endpoint {
    Endpoint {
        binding: binding(p.binding),
        host: p.host.clone(),
        api_key: p.api_key.clone(),
        model: p.model.clone(),
        timeouts: providers::Timeouts {
            attempt: p.attempt_timeout(),
            call: p.call_timeout,
        },
        api_version: settings.azure_api_version.clone(),
        aws: p.aws.as_ref().map(|a| AwsAccess {
            region: a.region.clone(),
            access_key_id: a.access_key_id.clone(),
            secret_access_key: a.secret_access_key.clone(),
            session_token: a.session_token.clone(),
        }),
        send_dim: settings.embedding_input.send_dim,
    }
}

/// One role's model, limited across workers by the role's MAX_ASYNC.
fn role_model(
    settings: &ModelSettings,
    role: &ProviderSettings,
    permits: &'static PermitTable,
) -> Arc<dyn LanguageModel> {
    let inner: Arc<dyn LanguageModel> = match providers::chat_provider(endpoint(role, settings)) {
        Some(provider) => Arc::new(PromptedModel::new(provider)),
        None => Arc::new(BuiltinModel),
    };
    Arc::new(Limited::new(
        inner,
        Arc::new(ArenaPermits {
            table: permits,
            limit: role.max_async,
        }),
    ))
}

/// The LLM roles, each call sent to its role's model.
struct RoleModels {
    extract: Arc<dyn LanguageModel>,
    keyword: Arc<dyn LanguageModel>,
    query: Arc<dyn LanguageModel>,
}

impl LanguageModel for RoleModels {
    fn extract<'a>(
        &'a self,
        chunk: &'a str,
        section: Option<&'a str>,
        settings: &'a ExtractionSettings,
    ) -> BoxFuture<'a, Result<String, ModelError>> {
        self.extract.extract(chunk, section, settings)
    }

    fn summarize<'a>(
        &'a self,
        request: SummaryRequest<'a>,
    ) -> BoxFuture<'a, Result<String, ModelError>> {
        self.extract.summarize(request)
    }

    fn keywords<'a>(
        &'a self,
        query: &'a str,
        language: &'a str,
    ) -> BoxFuture<'a, Result<Keywords, ModelError>> {
        self.keyword.keywords(query, language)
    }

    fn chat(&self, messages: Vec<Message>) -> BoxFuture<'_, Result<TextStream, ModelError>> {
        self.query.chat(messages)
    }
}

/// The configured LLM: one model per role, each limited across workers.
pub fn language_model(
    settings: &ModelSettings,
    permits: &'static PermitTable,
) -> Arc<dyn LanguageModel> {
    let model = |role| role_model(settings, settings.role(role), permits);
    Arc::new(RoleModels {
        extract: model(LlmRole::Extract),
        keyword: model(LlmRole::Keyword),
        query: model(LlmRole::Query),
    })
}

/// The configured embedding model, `dim` dimensions (a local model has its own), its
/// inputs prepared as the settings say, for one of `workers` worker processes, without a
/// limit on calls in flight (`lightrag-master reembed` runs it alone).
pub fn unlimited_embedder(
    settings: &ModelSettings,
    dim: usize,
    #[cfg_attr(not(feature = "local-models"), allow(unused_variables))] workers: usize,
) -> Result<Arc<dyn Embedder>, ModelLoadError> {
    let inner: Arc<dyn Embedder> = match settings.embedding.binding {
        #[cfg(feature = "local-models")]
        Binding::Local => Arc::new(
            crate::local_models::embedder(settings, workers).map_err(ModelLoadError::Embedder)?,
        ),
        _ => providers::embedder(endpoint(&settings.embedding, settings), dim)
            .unwrap_or_else(|| Arc::new(HashedNgrams::new(dim))),
    };
    let input = &settings.embedding_input;
    Ok(Prepared::wrap(
        inner,
        Preparation {
            document_prefix: input.document_prefix.clone(),
            query_prefix: input.query_prefix.clone(),
            token_limit: input.token_limit,
        },
    ))
}

/// The configured embedding model, limited across workers.
pub fn embedder(
    settings: &ModelSettings,
    dim: usize,
    workers: usize,
    permits: &'static PermitTable,
) -> Result<Arc<dyn Embedder>, ModelLoadError> {
    Ok(Arc::new(Limited::new(
        unlimited_embedder(settings, dim, workers)?,
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

/// Why a model run in process could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ModelLoadError {
    #[cfg(feature = "local-models")]
    #[error("cannot load the local embedding model: {0}")]
    Embedder(lightrag_engine::models::LoadError),
    #[cfg(feature = "local-models")]
    #[error("cannot load the reranker: {0}")]
    Reranker(lightrag_engine::models::LoadError),
}

/// The configured reranker, limited across workers (an in-process one gets the threads
/// LOCAL_MODEL_THREADS gives each of `workers`); `None` for RERANK_BINDING=null.
pub fn reranker(
    settings: &RerankSettings,
    #[cfg_attr(not(feature = "local-models"), allow(unused_variables))] local: &LocalModelSettings,
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
            let inner = local_reranker(settings, local, workers)?;
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
    local: &LocalModelSettings,
    workers: usize,
) -> Result<Arc<dyn Reranker>, ModelLoadError> {
    use lightrag_engine::models::{ModelDirectory, threads};
    use lightrag_engine::rerank::local::CrossEncoder;
    let dir = std::path::PathBuf::from(settings.model.clone().unwrap_or_default());
    let model = ModelDirectory::open(&dir).map_err(ModelLoadError::Reranker)?;
    let pool = threads::pool(threads::thread_count(local.threads, workers))
        .map_err(ModelLoadError::Reranker)?;
    tracing::info!(model = %dir.display(), "cross-encoder reranker loaded");
    Ok(Arc::new(
        CrossEncoder::new(Arc::new(model), pool).map_err(ModelLoadError::Reranker)?,
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use lightrag_engine::llm::{self, Role};

    use super::*;

    /// A model that records which calls reached it.
    struct Recorder {
        name: &'static str,
        calls: Arc<Mutex<Vec<String>>>,
    }

    impl Recorder {
        fn note(&self, call: &str) {
            self.calls
                .lock()
                .unwrap()
                .push(format!("{}:{call}", self.name));
        }
    }

    impl LanguageModel for Recorder {
        fn extract<'a>(
            &'a self,
            _: &'a str,
            _: Option<&'a str>,
            _: &'a ExtractionSettings,
        ) -> BoxFuture<'a, Result<String, ModelError>> {
            self.note("extract");
            Box::pin(async { Ok(String::new()) })
        }

        fn summarize<'a>(
            &'a self,
            _: SummaryRequest<'a>,
        ) -> BoxFuture<'a, Result<String, ModelError>> {
            self.note("summarize");
            Box::pin(async { Ok(String::new()) })
        }

        fn keywords<'a>(
            &'a self,
            _: &'a str,
            _: &'a str,
        ) -> BoxFuture<'a, Result<Keywords, ModelError>> {
            self.note("keywords");
            Box::pin(async { Ok(Keywords::default()) })
        }

        fn chat(&self, _: Vec<Message>) -> BoxFuture<'_, Result<TextStream, ModelError>> {
            self.note("chat");
            Box::pin(async { Ok(llm::once(String::new())) })
        }
    }

    #[test]
    fn each_call_goes_to_its_roles_model() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let model = |name| -> Arc<dyn LanguageModel> {
            Arc::new(Recorder {
                name,
                calls: calls.clone(),
            })
        };
        let roles = RoleModels {
            extract: model("extract"),
            keyword: model("keyword"),
            query: model("query"),
        };
        let settings = ExtractionSettings {
            entity_types: vec![],
            language: "English".to_owned(),
            max_gleaning: 0,
        };
        llm::wait(async {
            roles.extract("chunk", None, &settings).await.unwrap();
            let request = SummaryRequest {
                kind: "Entity",
                name: "n",
                descriptions: &[],
                language: "English",
                length: 10,
            };
            roles.summarize(request).await.unwrap();
            roles.keywords("q", "English").await.unwrap();
            let answer = roles.chat(vec![Message::new(Role::User, "q")]).await;
            llm::collect(answer.unwrap()).await.unwrap();
        });
        assert_eq!(
            *calls.lock().unwrap(),
            [
                "extract:extract",
                "extract:summarize",
                "keyword:keywords",
                "query:chat"
            ]
        );
    }
}
