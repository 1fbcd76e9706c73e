//! The worker's LLM and embedding model, built from the settings: the builtin ones or a
//! provider binding, each wrapped so that its calls take a permit from the arena's
//! table for that role (MAX_ASYNC, EMBEDDING_FUNC_MAX_ASYNC), which holds the limit
//! across every worker. A streamed answer keeps its permit until the stream ends.

use std::sync::Arc;

use futures_util::StreamExt;
use lightrag_config::{Binding, ModelSettings, ProviderSettings};
use lightrag_engine::embedding::Embedder;
use lightrag_engine::embedding::builtin::HashedNgrams;
use lightrag_engine::llm::builtin::BuiltinModel;
use lightrag_engine::llm::prompted::PromptedModel;
use lightrag_engine::llm::{
    BoxFuture, ExtractionSettings, Keywords, LanguageModel, Message, ModelError, SummaryRequest,
    TextStream,
};
use lightrag_engine::providers::{self, Endpoint};

use crate::permits::PermitTable;

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
    Arc::new(Limited {
        inner,
        permits,
        limit: settings.llm.max_async,
    })
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
    Arc::new(Limited {
        inner,
        permits,
        limit: settings.embedding.max_async,
    })
}

struct Limited<T: ?Sized> {
    inner: Arc<T>,
    permits: &'static PermitTable,
    limit: usize,
}

impl LanguageModel for Limited<dyn LanguageModel> {
    fn extract<'a>(
        &'a self,
        chunk: &'a str,
        settings: &'a ExtractionSettings,
    ) -> BoxFuture<'a, Result<String, ModelError>> {
        Box::pin(async move {
            let _permit = self.permits.acquire(self.limit).await;
            self.inner.extract(chunk, settings).await
        })
    }

    fn summarize<'a>(
        &'a self,
        request: SummaryRequest<'a>,
    ) -> BoxFuture<'a, Result<String, ModelError>> {
        Box::pin(async move {
            let _permit = self.permits.acquire(self.limit).await;
            self.inner.summarize(request).await
        })
    }

    fn keywords<'a>(
        &'a self,
        query: &'a str,
        language: &'a str,
    ) -> BoxFuture<'a, Result<Keywords, ModelError>> {
        Box::pin(async move {
            let _permit = self.permits.acquire(self.limit).await;
            self.inner.keywords(query, language).await
        })
    }

    fn chat(&self, messages: Vec<Message>) -> BoxFuture<'_, Result<TextStream, ModelError>> {
        Box::pin(async move {
            let permit = self.permits.acquire(self.limit).await;
            let stream = self.inner.chat(messages).await?;
            // The permit lives as long as the stream.
            let held: TextStream = Box::pin(stream.map(move |piece| {
                let _ = &permit;
                piece
            }));
            Ok(held)
        })
    }
}

impl Embedder for Limited<dyn Embedder> {
    fn dim(&self) -> usize {
        self.inner.dim()
    }

    fn embed<'a>(
        &'a self,
        texts: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, ModelError>> {
        Box::pin(async move {
            let _permit = self.permits.acquire(self.limit).await;
            self.inner.embed(texts).await
        })
    }
}
