//! Model-call limits across processes (MAX_ASYNC, EMBEDDING_FUNC_MAX_ASYNC,
//! MAX_ASYNC_RERANK): a model, embedder or reranker wrapped so that each call holds one
//! of its role's permits from the coordination seam. A streamed answer keeps its permit until the stream ends or is
//! dropped; whoever relays it must drop it when its reader goes away (the server cuts a
//! reader that stops reading after SEND_TIMEOUT, so a stalled client frees it too).

use std::sync::Arc;

use futures_util::StreamExt;

use super::{
    BoxFuture, ExtractionSettings, Keywords, LanguageModel, Message, ModelError, SummaryRequest,
    TextStream,
};
use crate::coordination::Permits;
use crate::embedding::Embedder;
use crate::rerank::{Reranker, Scored};

/// A model whose every call first takes one of its role's permits.
pub struct Limited<T: ?Sized> {
    inner: Arc<T>,
    permits: Arc<dyn Permits>,
}

impl<T: ?Sized> Limited<T> {
    pub fn new(inner: Arc<T>, permits: Arc<dyn Permits>) -> Self {
        Limited { inner, permits }
    }
}

impl LanguageModel for Limited<dyn LanguageModel> {
    fn extract<'a>(
        &'a self,
        chunk: &'a str,
        section: Option<&'a str>,
        settings: &'a ExtractionSettings,
    ) -> BoxFuture<'a, Result<String, ModelError>> {
        Box::pin(async move {
            let _permit = self.permits.acquire().await;
            self.inner.extract(chunk, section, settings).await
        })
    }

    fn summarize<'a>(
        &'a self,
        request: SummaryRequest<'a>,
    ) -> BoxFuture<'a, Result<String, ModelError>> {
        Box::pin(async move {
            let _permit = self.permits.acquire().await;
            self.inner.summarize(request).await
        })
    }

    fn keywords<'a>(
        &'a self,
        query: &'a str,
        language: &'a str,
    ) -> BoxFuture<'a, Result<Keywords, ModelError>> {
        Box::pin(async move {
            let _permit = self.permits.acquire().await;
            self.inner.keywords(query, language).await
        })
    }

    fn chat(&self, messages: Vec<Message>) -> BoxFuture<'_, Result<TextStream, ModelError>> {
        Box::pin(async move {
            let permit = self.permits.acquire().await;
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
            let _permit = self.permits.acquire().await;
            self.inner.embed(texts).await
        })
    }

    fn embed_for<'a>(
        &'a self,
        texts: &'a [String],
        purpose: crate::embedding::Purpose,
    ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, ModelError>> {
        Box::pin(async move {
            let _permit = self.permits.acquire().await;
            self.inner.embed_for(texts, purpose).await
        })
    }
}

impl Reranker for Limited<dyn Reranker> {
    fn rerank<'a>(
        &'a self,
        query: &'a str,
        documents: &'a [String],
        top_n: Option<usize>,
    ) -> BoxFuture<'a, Result<Vec<Scored>, ModelError>> {
        Box::pin(async move {
            let _permit = self.permits.acquire().await;
            self.inner.rerank(query, documents, top_n).await
        })
    }
}
