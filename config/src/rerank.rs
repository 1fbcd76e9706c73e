//! The reranker of query chunks, with LightRAG 1.5.7's settings and defaults: which
//! provider (`RERANK_BINDING`, `null` for none), its model, URL and key (each provider's
//! own default when unset, and its own key variable as a fallback), the score below
//! which chunks are dropped, how many calls run at once across workers, how long a call
//! may take, whether queries rerank unless they say otherwise, and cohere's chunked
//! scoring of long documents.

use std::time::Duration;

use crate::api;
use crate::error::ConfigError;
use crate::resolver::{MAX_PERMITS, Resolver, non_empty, number, seconds, url};
use crate::spec;

/// A rerank provider, by LightRAG's binding names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RerankBinding {
    /// No reranker (LightRAG's `null`).
    Null,
    Cohere,
    Jina,
    Aliyun,
    /// A cross-encoder run in process (not a LightRAG binding); RERANK_MODEL is its
    /// directory.
    #[cfg(feature = "local-models")]
    Local,
}

impl RerankBinding {
    fn parse(s: &str) -> Result<RerankBinding, String> {
        Ok(match s {
            "null" => RerankBinding::Null,
            "cohere" => RerankBinding::Cohere,
            "jina" => RerankBinding::Jina,
            "aliyun" => RerankBinding::Aliyun,
            #[cfg(feature = "local-models")]
            "local" => RerankBinding::Local,
            #[cfg(not(feature = "local-models"))]
            "local" => {
                return Err(
                    "local needs a build with the local-models feature (cargo build --release --features local-models)"
                        .to_owned(),
                );
            }
            _ => return Err("expected null, cohere, jina, aliyun or local".to_owned()),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            RerankBinding::Null => "null",
            RerankBinding::Cohere => "cohere",
            RerankBinding::Jina => "jina",
            RerankBinding::Aliyun => "aliyun",
            #[cfg(feature = "local-models")]
            RerankBinding::Local => "local",
        }
    }

    /// The provider's model and endpoint when the settings name none (the defaults of
    /// LightRAG's `cohere_rerank`, `jina_rerank` and `ali_rerank`).
    fn defaults(self) -> Option<(&'static str, &'static str)> {
        match self {
            RerankBinding::Null => None,
            #[cfg(feature = "local-models")]
            RerankBinding::Local => None,
            RerankBinding::Cohere => Some(("rerank-v3.5", "https://api.cohere.com/v2/rerank")),
            RerankBinding::Jina => Some((
                "jina-reranker-v2-base-multilingual",
                "https://api.jina.ai/v1/rerank",
            )),
            RerankBinding::Aliyun => Some((
                "gte-rerank-v2",
                "https://dashscope.aliyuncs.com/api/v1/services/rerank/text-rerank/text-rerank",
            )),
        }
    }

    /// The provider's own key variable, read when RERANK_BINDING_API_KEY is unset.
    fn key_variable(self) -> Option<&'static str> {
        match self {
            RerankBinding::Null => None,
            #[cfg(feature = "local-models")]
            RerankBinding::Local => None,
            RerankBinding::Cohere => Some("COHERE_API_KEY"),
            RerankBinding::Jina => Some("JINA_API_KEY"),
            RerankBinding::Aliyun => Some("DASHSCOPE_API_KEY"),
        }
    }
}

/// How query chunks are reranked.
#[derive(Debug, Clone, PartialEq)]
pub struct RerankSettings {
    pub binding: RerankBinding,
    /// The model: as given, else the binding's default (`None` without a binding); for
    /// `local`, the cross-encoder's directory.
    pub model: Option<String>,
    /// The full URL posted to (not a base URL): as given, else the binding's default.
    pub host: Option<String>,
    pub api_key: Option<String>,
    /// MIN_RERANK_SCORE: reranked chunks scoring below it are dropped (0: none are).
    pub min_score: f64,
    /// Rerank calls in flight at once across all workers.
    pub max_async: usize,
    /// The budget of one rerank call, its retries included.
    pub timeout: Duration,
    /// RERANK_BY_DEFAULT: a query without `enable_rerank` reranks.
    pub by_default: bool,
    /// Cohere only: documents longer than this many tokens are scored piece by piece
    /// (`None`: RERANK_ENABLE_CHUNKING is off, or the binding is not cohere).
    pub max_tokens_per_doc: Option<usize>,
}

pub(crate) fn rerank(r: &Resolver<'_>, max_async: usize) -> Result<RerankSettings, ConfigError> {
    let binding = r.get(&spec::RERANK_BINDING, RerankBinding::parse)?;
    let defaults = binding.defaults();
    let api_key = match r.optional(&spec::RERANK_BINDING_API_KEY, non_empty)? {
        Some(key) => Some(key),
        None => binding
            .key_variable()
            .and_then(|name| r.env.get(name))
            .map(|(key, _)| key.to_owned()),
    };
    let model = r
        .optional(&spec::RERANK_MODEL, non_empty)?
        .or_else(|| defaults.map(|(model, _)| model.to_owned()));
    #[cfg(feature = "local-models")]
    if binding == RerankBinding::Local {
        local_directory(r, model.as_deref())?;
    }
    let chunking = r.get(&spec::RERANK_ENABLE_CHUNKING, api::boolean)?;
    let max_tokens_per_doc = r.get(
        &spec::RERANK_MAX_TOKENS_PER_DOC,
        number::<usize>(1, 1_000_000),
    )?;
    Ok(RerankSettings {
        binding,
        model,
        host: r
            .optional(&spec::RERANK_BINDING_HOST, url)?
            .or_else(|| defaults.map(|(_, host)| host.to_owned())),
        api_key,
        min_score: r.get(&spec::MIN_RERANK_SCORE, |s| {
            s.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| "expected a number".to_owned())
        })?,
        max_async: r
            .optional(&spec::MAX_ASYNC_RERANK, number::<usize>(1, MAX_PERMITS))?
            .unwrap_or(max_async),
        timeout: Duration::from_secs(r.get(&spec::RERANK_TIMEOUT, seconds(1))?),
        by_default: r.get(&spec::RERANK_BY_DEFAULT, api::boolean)?,
        max_tokens_per_doc: (chunking && binding == RerankBinding::Cohere)
            .then_some(max_tokens_per_doc),
    })
}

/// `local` runs the directory RERANK_MODEL names: it must be given and hold a model.
#[cfg(feature = "local-models")]
fn local_directory(r: &Resolver<'_>, model: Option<&str>) -> Result<(), ConfigError> {
    let (value, origin) = r
        .raw(&spec::RERANK_MODEL)
        .unwrap_or_else(|| (String::new(), crate::layers::Source::Default));
    let reason = match model {
        None => "must name the cross-encoder's directory when RERANK_BINDING is local",
        Some(dir) if !std::path::Path::new(dir).join("config.json").is_file() => {
            "is not a model directory (no config.json)"
        }
        Some(_) => return Ok(()),
    };
    Err(ConfigError::Invalid {
        setting: spec::RERANK_MODEL.env,
        origin,
        value,
        reason: reason.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::{Environment, Settings};

    fn load(process: &[(&str, &str)]) -> Result<RerankSettings, ConfigError> {
        let process: HashMap<String, String> = process
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let env = Environment::from_maps(process, HashMap::new());
        Settings::load(["lightrag-master"], &env).map(|s| s.rerank)
    }

    #[test]
    fn defaults_are_lightrags() {
        let s = load(&[]).unwrap();
        assert_eq!(s.binding, RerankBinding::Null);
        assert_eq!((s.model, s.host, s.api_key), (None, None, None));
        assert_eq!(s.min_score, 0.0);
        assert_eq!(s.max_async, 4, "MAX_ASYNC's default");
        assert_eq!(s.timeout, Duration::from_secs(30));
        assert!(s.by_default);
        assert_eq!(s.max_tokens_per_doc, None);
    }

    #[test]
    fn a_binding_brings_its_model_endpoint_and_key_variable() {
        let s = load(&[("RERANK_BINDING", "aliyun"), ("DASHSCOPE_API_KEY", "sk-d")]).unwrap();
        assert_eq!(s.model.as_deref(), Some("gte-rerank-v2"));
        assert_eq!(
            s.host.as_deref(),
            Some("https://dashscope.aliyuncs.com/api/v1/services/rerank/text-rerank/text-rerank")
        );
        assert_eq!(s.api_key.as_deref(), Some("sk-d"));
        let s = load(&[
            ("RERANK_BINDING", "jina"),
            ("JINA_API_KEY", "sk-j"),
            ("RERANK_BINDING_API_KEY", "sk-r"),
            ("MAX_ASYNC", "7"),
        ])
        .unwrap();
        assert_eq!(
            s.api_key.as_deref(),
            Some("sk-r"),
            "RERANK_BINDING_API_KEY first"
        );
        assert_eq!(s.max_async, 7);
        let s = load(&[("RERANK_BINDING", "jina"), ("COHERE_API_KEY", "sk-c")]).unwrap();
        assert_eq!(s.api_key, None, "another provider's key is not taken");
    }

    #[test]
    fn chunking_is_cohere_only() {
        let on = [
            ("RERANK_ENABLE_CHUNKING", "true"),
            ("RERANK_MAX_TOKENS_PER_DOC", "480"),
        ];
        let cohere = load(&[on[0], on[1], ("RERANK_BINDING", "cohere")]).unwrap();
        assert_eq!(cohere.max_tokens_per_doc, Some(480));
        let jina = load(&[on[0], on[1], ("RERANK_BINDING", "jina")]).unwrap();
        assert_eq!(jina.max_tokens_per_doc, None);
    }

    #[test]
    fn bad_values_name_the_setting() {
        for (name, value) in [
            ("RERANK_BINDING", "openai"),
            ("MIN_RERANK_SCORE", "high"),
            ("MIN_RERANK_SCORE", "NaN"),
            ("MAX_ASYNC_RERANK", "0"),
            ("RERANK_TIMEOUT", "0"),
            ("RERANK_BY_DEFAULT", "maybe"),
            ("RERANK_MAX_TOKENS_PER_DOC", "0"),
            ("RERANK_BINDING_HOST", "api.cohere.com"),
        ] {
            let error = load(&[(name, value)]).unwrap_err().to_string();
            assert!(error.contains(name), "{name}={value}: {error}");
        }
    }

    #[cfg(not(feature = "local-models"))]
    #[test]
    fn local_needs_the_feature() {
        let error = load(&[("RERANK_BINDING", "local")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("local-models feature"), "{error}");
    }

    #[cfg(feature = "local-models")]
    #[test]
    fn local_needs_a_model_directory() {
        let error = load(&[("RERANK_BINDING", "local")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("RERANK_MODEL"), "{error}");
        let dir = std::env::temp_dir().join(format!("lrm-rerank-dir-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.display().to_string();
        let error = load(&[("RERANK_BINDING", "local"), ("RERANK_MODEL", &path)])
            .unwrap_err()
            .to_string();
        assert!(error.contains("no config.json"), "{error}");
        std::fs::write(dir.join("config.json"), "{}").unwrap();
        let s = load(&[("RERANK_BINDING", "local"), ("RERANK_MODEL", &path)]).unwrap();
        assert_eq!((s.model.as_deref(), s.host), (Some(path.as_str()), None));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
