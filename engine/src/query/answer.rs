//! The answer step, one path for every front end that answers from the index (`/query`,
//! `/query/stream`, the Ollama chat): retrieval, LightRAG's answer cache, the answer
//! prompt and the model call. The caller gets what was retrieved (for its references)
//! and the answer: a fixed text, a cached one, or the model's stream. That stream keeps
//! itself in the cache once it has run to its end; an answer cut short by an error, or
//! by its reader going away, is not kept, so the question is asked again.
//!
//! The stores are synchronous, so their work (retrieval, cache reads and writes) runs on
//! blocking threads. That is why the stores are reached through an owned
//! [`StoreSource`]: it moves to those threads, and it lets a streamed answer be cached
//! after the request that started it has returned.

use std::sync::Arc;

use futures_util::StreamExt;
use serde_json::json;

use super::context::{messages, prompt_text, render_context, system_prompt};
use super::{
    Mode, PROGRESS_GENERATING, QueryEngine, QueryError, QueryParams, Retrieval, RetrievalSettings,
};
use crate::chunking::Tokenizer;
use crate::embedding::Embedder;
use crate::error::{ErrorKind, Kind};
use crate::ids;
use crate::llm::templates::{self, Template};
use crate::llm::{LanguageModel, Message, ModelError, TextStream, once, wait};
use crate::rerank::Reranker;
use crate::storage::bundle::Stores;
use crate::storage::{KvNamespace, StorageError};

/// A workspace's stores, reached through what owns them (the worker's open workspace):
/// the answer path takes it to blocking threads and keeps it while an answer streams.
pub trait StoreSource: Send + Sync + 'static {
    fn stores(&self) -> Stores<'_>;
}

/// One question to answer.
#[derive(Debug, Clone)]
pub struct AnswerRequest {
    pub params: QueryParams,
    /// The earlier turns of the conversation, sent to the model before the question.
    pub history: Vec<Message>,
    /// Answer with the context the model would get, without asking it.
    pub only_need_context: bool,
    /// Answer with the whole prompt the model would get, without asking it.
    pub only_need_prompt: bool,
}

/// The model whose answers are cached: part of the cache key, so that answers of
/// another model are not served for it.
#[derive(Debug, Clone)]
pub struct CachedModel {
    pub binding: String,
    pub model: String,
}

/// Server-wide answer settings.
#[derive(Debug, Clone)]
pub struct AnswerSettings {
    pub retrieval: RetrievalSettings,
    /// ENABLE_LLM_CACHE: complete answers are kept for this model; `None`: never.
    pub cache: Option<CachedModel>,
}

/// The answer path of one workspace, owned (see the module docs for why).
#[derive(Clone)]
pub struct Answerer {
    pub stores: Arc<dyn StoreSource>,
    pub model: Arc<dyn LanguageModel>,
    pub embedder: Arc<dyn Embedder>,
    pub reranker: Option<Arc<dyn Reranker>>,
    pub settings: Arc<AnswerSettings>,
}

/// Where an answer comes from.
pub enum Answer {
    /// Not from the model: nothing was retrieved, or only the context or the prompt was
    /// asked for.
    Fixed(String),
    /// A complete answer from the cache.
    Cached(String),
    /// The model's answer as it is generated; cached once complete.
    Generated(TextStream),
}

impl Answer {
    /// The answer as pieces of text (a fixed or cached one is a single piece).
    pub fn into_stream(self) -> TextStream {
        match self {
            Answer::Fixed(text) | Answer::Cached(text) => once(text),
            Answer::Generated(stream) => stream,
        }
    }
}

/// What retrieval found, and the answer made from it.
pub struct Answered {
    pub retrieval: Retrieval,
    pub answer: Answer,
}

/// Why no answer could be started, by step: front ends report a failed retrieval
/// differently from a failed answer (`/query/stream` may answer 500 for the former).
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    /// Finding the context failed.
    #[error(transparent)]
    Retrieval(#[from] QueryError),
    /// The answer cache could not be read.
    #[error(transparent)]
    Cache(StorageError),
    /// The model did not start answering.
    #[error(transparent)]
    Model(ModelError),
}

impl Kind for AnswerError {
    fn kind(&self) -> ErrorKind {
        match self {
            AnswerError::Retrieval(e) => e.kind(),
            AnswerError::Cache(e) => e.kind(),
            AnswerError::Model(e) => e.kind(),
        }
    }
}

impl Answerer {
    /// What retrieval finds for `params`, with no answer (`/query/data`). `progress`
    /// hears each step as it starts.
    pub async fn retrieve(
        &self,
        params: QueryParams,
        progress: impl Fn(&'static str) + Send + Sync + 'static,
    ) -> Result<Retrieval, QueryError> {
        self.blocking(move |answerer| wait(answerer.find(&params, &progress)))
            .await
    }

    /// Retrieval, then the answer made from it. `progress` hears each retrieval step
    /// and [`PROGRESS_GENERATING`] before the answer.
    pub async fn answer(
        &self,
        request: AnswerRequest,
        progress: impl Fn(&'static str) + Send + Sync + 'static,
    ) -> Result<Answered, AnswerError> {
        self.blocking(move |answerer| {
            wait(async {
                let retrieval = answerer.find(&request.params, &progress).await?;
                progress(PROGRESS_GENERATING);
                let answer = answerer.respond(&request, &retrieval).await?;
                tracing::debug!(
                    mode = request.params.mode.as_str(),
                    chunks = retrieval.chunks.len(),
                    source = match answer {
                        Answer::Fixed(_) => "fixed",
                        Answer::Cached(_) => "cache",
                        Answer::Generated(_) => "model",
                    },
                    "answer started"
                );
                Ok(Answered { retrieval, answer })
            })
        })
        .await
    }

    /// Runs `work` on a blocking thread (the stores are synchronous) with a clone of
    /// this answerer; a panic there is the caller's.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(Answerer) -> T + Send + 'static,
    ) -> T {
        let answerer = self.clone();
        tokio::task::spawn_blocking(move || work(answerer))
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    }

    /// Retrieval, on the current (blocking) thread.
    async fn find(
        &self,
        params: &QueryParams,
        progress: &(dyn Fn(&'static str) + Sync),
    ) -> Result<Retrieval, QueryError> {
        let tokenizer = Tokenizer::o200k();
        let engine = QueryEngine {
            stores: self.stores.stores(),
            tokenizer: &tokenizer,
            embedder: &*self.embedder,
            model: &*self.model,
            reranker: self.reranker.as_deref(),
            settings: &self.settings.retrieval,
            cache_keywords: self.settings.cache.is_some(),
        };
        engine.retrieve(params, progress).await
    }

    /// The answer to `request` from `retrieval`, on the current (blocking) thread:
    /// LightRAG's fixed answers first, then the cache, then the model.
    async fn respond(
        &self,
        request: &AnswerRequest,
        retrieval: &Retrieval,
    ) -> Result<Answer, AnswerError> {
        let params = &request.params;
        let bypass = params.mode == Mode::Bypass;
        if !bypass && retrieval.is_empty() {
            return Ok(Answer::Fixed(
                templates::get(Template::FailResponse).to_owned(),
            ));
        }
        let context = (!bypass).then(|| render_context(params.mode, retrieval));
        if request.only_need_context {
            return Ok(Answer::Fixed(context.unwrap_or_default()));
        }
        let system = context.map(|context| system_prompt(params, &context));
        if request.only_need_prompt {
            return Ok(Answer::Fixed(prompt_text(
                system.as_deref().unwrap_or_default(),
                &params.query,
            )));
        }
        let slot = self.settings.cache.as_ref().map(|model| CacheSlot {
            stores: self.stores.clone(),
            key: cache_key(model, request),
            mode: params.mode,
        });
        if let Some(slot) = &slot
            && let Some(text) = slot.lookup().map_err(AnswerError::Cache)?
        {
            return Ok(Answer::Cached(text));
        }
        let stream = self
            .model
            .chat(messages(system, &request.history, &params.query))
            .await
            .map_err(AnswerError::Model)?;
        Ok(Answer::Generated(match slot {
            Some(slot) => slot.keep_when_complete(stream),
            None => stream,
        }))
    }
}

/// LightRAG's cache key of an answer: the mode and a hash of everything that shapes it.
fn cache_key(model: &CachedModel, request: &AnswerRequest) -> String {
    let params = &request.params;
    let history: Vec<(&str, &str)> = request
        .history
        .iter()
        .map(|m| (m.role.as_str(), m.content.as_str()))
        .collect();
    let identity = json!([
        params.mode.as_str(),
        params.query,
        params.response_type,
        params.top_k,
        params.chunk_top_k,
        params.max_entity_tokens,
        params.max_relation_tokens,
        params.max_total_tokens,
        params.hl_keywords,
        params.ll_keywords,
        params.user_prompt,
        params.enable_rerank,
        history,
        model.binding,
        model.model,
    ]);
    format!(
        "query:{}:{}",
        params.mode.as_str(),
        ids::md5_hex(identity.to_string().as_bytes())
    )
}

/// Where one answer is cached.
struct CacheSlot {
    stores: Arc<dyn StoreSource>,
    key: String,
    mode: Mode,
}

impl CacheSlot {
    /// The cached answer, read on the current (blocking) thread.
    fn lookup(&self) -> Result<Option<String>, StorageError> {
        let cached = self
            .stores
            .stores()
            .kv
            .kv_get(KvNamespace::LlmResponseCache, &self.key)?;
        Ok(cached.and_then(|c| c.get("return")?.as_str().map(str::to_owned)))
    }

    /// `stream`, stored in this slot when it ends without an error; the end is
    /// reported only once the answer is stored, so the next request finds it.
    fn keep_when_complete(self, stream: TextStream) -> TextStream {
        Box::pin(futures_util::stream::unfold(
            (stream, String::new(), Some(self)),
            |(mut stream, mut text, slot)| async move {
                match stream.next().await {
                    Some(Ok(piece)) => {
                        text.push_str(&piece);
                        Some((Ok(piece), (stream, text, slot)))
                    }
                    // Cut short: whatever follows is not the whole answer.
                    Some(Err(error)) => Some((Err(error), (stream, text, None))),
                    None => {
                        if let Some(slot) = slot {
                            slot.store(text).await;
                        }
                        None
                    }
                }
            },
        ))
    }

    /// Stores a complete answer (an empty one is not worth keeping); a failure only
    /// costs a later model call, so it is logged, not returned.
    async fn store(self, text: String) {
        if text.trim().is_empty() {
            return;
        }
        let CacheSlot { stores, key, mode } = self;
        let value = json!({"return": text, "cache_type": "query", "mode": mode.as_str()});
        let written = tokio::task::spawn_blocking(move || {
            stores
                .stores()
                .kv
                .kv_upsert(KvNamespace::LlmResponseCache, &[(key, value)])
        })
        .await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "query answer not cached"),
            Err(error) => tracing::warn!(%error, "query answer not cached"),
        }
    }
}

#[cfg(test)]
mod tests;
