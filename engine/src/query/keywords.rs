//! A query's keywords, as LightRAG gets them: the caller's, else the LLM cache's, else
//! the model's (then kept in the cache). A repeated question so costs no model call.
//!
//! The cache is LightRAG 1.5.7's: ENABLE_LLM_CACHE turns it on, the key is
//! `<mode>:keywords:<hash of mode and query>`, and only an answer with keywords is
//! kept, as the JSON object LightRAG stores, so a cache either server wrote serves the
//! other.

use serde_json::{Value, json};

use super::{QueryEngine, QueryError, QueryParams};
use crate::ids;
use crate::llm::Keywords;
use crate::storage::KvNamespace;

/// Where the keywords of `params`' question are cached.
pub(super) fn cache_key(params: &QueryParams) -> String {
    let mode = params.mode.as_str();
    format!("{mode}:keywords:{}", ids::args_hash(&[mode, &params.query]))
}

/// The cache entry LightRAG writes for `keywords`.
fn entry(params: &QueryParams, keywords: &Keywords) -> Value {
    let answer = json!({
        "high_level_keywords": keywords.high_level,
        "low_level_keywords": keywords.low_level,
    });
    json!({
        "return": answer.to_string(),
        "cache_type": "keywords",
        "original_prompt": params.query,
        "queryparam": {
            "mode": params.mode.as_str(),
            "response_type": params.response_type,
            "top_k": params.top_k,
            "chunk_top_k": params.chunk_top_k,
            "max_entity_tokens": params.max_entity_tokens,
            "max_relation_tokens": params.max_relation_tokens,
            "max_total_tokens": params.max_total_tokens,
            "user_prompt": params.user_prompt,
            "enable_rerank": params.enable_rerank,
        },
    })
}

impl QueryEngine<'_> {
    /// The model's keywords for the question, through the cache when it is on.
    pub(super) async fn extract_keywords(
        &self,
        params: &QueryParams,
    ) -> Result<Keywords, QueryError> {
        let key = self.cache_keywords.then(|| cache_key(params));
        if let Some(key) = &key
            && let Some(cached) = self.stores.kv.kv_get(KvNamespace::LlmResponseCache, key)?
            && let Some(answer) = cached.get("return").and_then(Value::as_str)
        {
            return Ok(Keywords::parse(answer));
        }
        let keywords = self
            .model
            .keywords(&params.query, &self.settings.language)
            .await?;
        if let Some(key) = key
            && !(keywords.high_level.is_empty() && keywords.low_level.is_empty())
        {
            self.stores.kv.kv_upsert(
                KvNamespace::LlmResponseCache,
                &[(key, entry(params, &keywords))],
            )?;
        }
        Ok(keywords)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::Mode;

    #[test]
    fn keys_and_entries_are_lightrags() {
        let params = QueryParams {
            query: "Who is Ada?".to_owned(),
            mode: Mode::Local,
            top_k: 40,
            chunk_top_k: 20,
            max_entity_tokens: 6000,
            max_relation_tokens: 8000,
            max_total_tokens: 30000,
            hl_keywords: Vec::new(),
            ll_keywords: Vec::new(),
            response_type: "Multiple Paragraphs".to_owned(),
            user_prompt: String::new(),
            enable_rerank: true,
        };
        assert_eq!(
            cache_key(&params),
            format!("local:keywords:{}", ids::md5_hex(b"5:local11:Who is Ada?"))
        );
        let keywords = Keywords {
            high_level: vec!["computing".into()],
            low_level: vec!["Ada".into()],
        };
        let stored = entry(&params, &keywords);
        assert_eq!(stored["cache_type"], "keywords");
        assert_eq!(stored["original_prompt"], "Who is Ada?");
        assert_eq!(
            Keywords::parse(stored["return"].as_str().unwrap()),
            keywords,
            "the stored answer reads back"
        );
    }
}
