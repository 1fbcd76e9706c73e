//! The model settings: the base LLM, its per-role overrides as LightRAG 1.5.7 reads
//! them (`EXTRACT_`, `KEYWORD_`, `QUERY_` prefixes, each falling back to the base
//! LLM), and the embedding model with how its input is prepared (prefixes, token
//! limit, whether the dimension is sent).

use std::time::Duration;

use crate::bindings::Binding;
use crate::error::ConfigError;
use crate::layers::Source;
use crate::local_model::{self, LocalModelSettings};
use crate::resolver::{MAX_PERMITS, Resolver, non_empty, number, seconds, url};
use crate::spec::{self, Spec};

/// AWS credentials and region of a Bedrock binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

/// One provider role (an LLM role or the embedding model).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderSettings {
    pub binding: Binding,
    /// Base URL, without a trailing slash.
    pub host: String,
    pub api_key: Option<String>,
    pub model: String,
    /// One attempt of a call, as given (LLM_TIMEOUT, EMBEDDING_TIMEOUT).
    pub timeout: Duration,
    /// LightRAG's TIMEOUT: the budget of one whole call, its retries included.
    pub call_timeout: Duration,
    /// Calls in flight at once across all workers.
    pub max_async: usize,
    /// Bedrock's signing credentials; `None` for every other binding.
    pub aws: Option<AwsSettings>,
}

impl ProviderSettings {
    /// How long one attempt may take: the role's timeout, but never longer than the
    /// whole call may. A streamed answer may also pause no longer than this.
    pub fn attempt_timeout(&self) -> Duration {
        self.timeout.min(self.call_timeout)
    }
}

/// How texts are prepared for the embedding model.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EmbeddingInput {
    /// EMBEDDING_DOCUMENT_PREFIX, put before every chunk, entity and relation text.
    pub document_prefix: String,
    /// EMBEDDING_QUERY_PREFIX, put before every query text.
    pub query_prefix: String,
    /// Whether EMBEDDING_DIM is sent to the provider (EMBEDDING_SEND_DIM, forced on
    /// for jina and gemini).
    pub send_dim: bool,
    /// EMBEDDING_TOKEN_LIMIT: longer texts are cut to this many tokens.
    pub token_limit: Option<usize>,
}

/// The LLM roles LightRAG routes separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LlmRole {
    /// Entity and relation extraction, and description summaries.
    Extract,
    /// Query keyword extraction.
    Keyword,
    /// Answers (and the Ollama emulation's chat and generate).
    Query,
}

impl LlmRole {
    pub const ALL: [LlmRole; 3] = [LlmRole::Extract, LlmRole::Keyword, LlmRole::Query];

    /// The role's key in `/health`'s `role_llm_config`.
    pub fn name(self) -> &'static str {
        match self {
            LlmRole::Extract => "extract",
            LlmRole::Keyword => "keyword",
            LlmRole::Query => "query",
        }
    }
}

/// The LLM and the embedding model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSettings {
    /// The base LLM (LLM_BINDING ...), which every role falls back to.
    pub llm: ProviderSettings,
    pub extract: ProviderSettings,
    pub keyword: ProviderSettings,
    pub query: ProviderSettings,
    pub embedding: ProviderSettings,
    pub embedding_batch: usize,
    pub embedding_input: EmbeddingInput,
    pub azure_api_version: String,
    /// Whether EMBEDDING_BINDING was given (else it follows MODELS_DIR's contents).
    pub embedding_binding_explicit: bool,
    /// Where in-process models live and the threads they get.
    pub local: LocalModelSettings,
}

impl ModelSettings {
    pub fn role(&self, role: LlmRole) -> &ProviderSettings {
        match role {
            LlmRole::Extract => &self.extract,
            LlmRole::Keyword => &self.keyword,
            LlmRole::Query => &self.query,
        }
    }
}

/// The settings one LLM role reads; the base LLM reads the unprefixed ones.
struct RoleSpecs {
    binding: Spec,
    model: Spec,
    host: Spec,
    key: Spec,
    max_async: Spec,
    timeout: Spec,
    aws: AwsSpecs,
}

struct AwsSpecs {
    region: Spec,
    access_key_id: Spec,
    secret_access_key: Spec,
    session_token: Spec,
}

const BASE_AWS: AwsSpecs = AwsSpecs {
    region: spec::AWS_REGION,
    access_key_id: spec::AWS_ACCESS_KEY_ID,
    secret_access_key: spec::AWS_SECRET_ACCESS_KEY,
    session_token: spec::AWS_SESSION_TOKEN,
};

macro_rules! role_specs {
    ($b:ident, $m:ident, $h:ident, $k:ident, $a:ident, $t:ident, $r:ident, $i:ident, $s:ident, $o:ident) => {
        RoleSpecs {
            binding: spec::$b,
            model: spec::$m,
            host: spec::$h,
            key: spec::$k,
            max_async: spec::$a,
            timeout: spec::$t,
            aws: AwsSpecs {
                region: spec::$r,
                access_key_id: spec::$i,
                secret_access_key: spec::$s,
                session_token: spec::$o,
            },
        }
    };
}

fn role_specs(role: LlmRole) -> RoleSpecs {
    match role {
        LlmRole::Extract => role_specs!(
            EXTRACT_LLM_BINDING,
            EXTRACT_LLM_MODEL,
            EXTRACT_LLM_BINDING_HOST,
            EXTRACT_LLM_BINDING_API_KEY,
            EXTRACT_MAX_ASYNC_LLM,
            EXTRACT_LLM_TIMEOUT,
            EXTRACT_AWS_REGION,
            EXTRACT_AWS_ACCESS_KEY_ID,
            EXTRACT_AWS_SECRET_ACCESS_KEY,
            EXTRACT_AWS_SESSION_TOKEN
        ),
        LlmRole::Keyword => role_specs!(
            KEYWORD_LLM_BINDING,
            KEYWORD_LLM_MODEL,
            KEYWORD_LLM_BINDING_HOST,
            KEYWORD_LLM_BINDING_API_KEY,
            KEYWORD_MAX_ASYNC_LLM,
            KEYWORD_LLM_TIMEOUT,
            KEYWORD_AWS_REGION,
            KEYWORD_AWS_ACCESS_KEY_ID,
            KEYWORD_AWS_SECRET_ACCESS_KEY,
            KEYWORD_AWS_SESSION_TOKEN
        ),
        LlmRole::Query => role_specs!(
            QUERY_LLM_BINDING,
            QUERY_LLM_MODEL,
            QUERY_LLM_BINDING_HOST,
            QUERY_LLM_BINDING_API_KEY,
            QUERY_MAX_ASYNC_LLM,
            QUERY_LLM_TIMEOUT,
            QUERY_AWS_REGION,
            QUERY_AWS_ACCESS_KEY_ID,
            QUERY_AWS_SECRET_ACCESS_KEY,
            QUERY_AWS_SESSION_TOKEN
        ),
    }
}

fn missing(setting: &Spec, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting: setting.env,
        origin: Source::Default,
        value: String::new(),
        reason: reason.into(),
    }
}

/// A base URL, or one of LightRAG's "default endpoint" placeholders (`None`).
fn host(r: &Resolver<'_>, spec: &Spec) -> Result<Option<String>, ConfigError> {
    r.optional(spec, |s| {
        if Binding::is_default_host_sentinel(s) {
            Ok(None)
        } else {
            url(s).map(Some)
        }
    })
    .map(Option::flatten)
}

/// An API key: the setting, else the provider's own variables; refused at start when
/// the binding cannot work without one.
fn api_key(
    r: &Resolver<'_>,
    binding: Binding,
    key: &Spec,
    inherited: Option<String>,
) -> Result<Option<String>, ConfigError> {
    let mut found = r.optional(key, non_empty)?.or(inherited);
    for fallback in binding.key_fallbacks() {
        if found.is_some() {
            break;
        }
        found = r.optional(fallback, non_empty)?;
    }
    if found.is_none() && binding.needs_key() {
        let others: Vec<&str> = binding.key_fallbacks().iter().map(|s| s.env).collect();
        return Err(missing(
            key,
            format!(
                "the {} binding needs an API key (set {} or {})",
                binding.name(),
                key.env,
                others.join(" or ")
            ),
        ));
    }
    Ok(found)
}

/// Bedrock's credentials: a role's own AWS_* settings, else the base ones.
fn aws(
    r: &Resolver<'_>,
    own: &AwsSpecs,
    base: Option<&AwsSettings>,
) -> Result<AwsSettings, ConfigError> {
    let get = |own: &Spec, base_value: Option<&str>, base_spec: &Spec| {
        Ok::<_, ConfigError>(
            r.optional(own, non_empty)?
                .or_else(|| base_value.map(str::to_owned))
                .or(r.optional(base_spec, non_empty)?),
        )
    };
    let region = get(
        &own.region,
        base.map(|b| b.region.as_str()),
        &BASE_AWS.region,
    )?;
    let access = get(
        &own.access_key_id,
        base.map(|b| b.access_key_id.as_str()),
        &BASE_AWS.access_key_id,
    )?;
    let secret = get(
        &own.secret_access_key,
        base.map(|b| b.secret_access_key.as_str()),
        &BASE_AWS.secret_access_key,
    )?;
    let token = get(
        &own.session_token,
        base.and_then(|b| b.session_token.as_deref()),
        &BASE_AWS.session_token,
    )?;
    let need = |value: Option<String>, spec: &Spec| {
        value.ok_or_else(|| {
            missing(
                spec,
                "the bedrock binding needs AWS credentials and a region",
            )
        })
    };
    Ok(AwsSettings {
        region: need(region, &own.region)?,
        access_key_id: need(access, &own.access_key_id)?,
        secret_access_key: need(secret, &own.secret_access_key)?,
        session_token: token,
    })
}

/// Host, credentials and key of `binding` as `specs` give them, falling back to
/// `inherit` (the base LLM, when the role keeps its binding).
fn endpoint(
    r: &Resolver<'_>,
    binding: Binding,
    specs: &RoleSpecs,
    inherit: Option<&ProviderSettings>,
) -> Result<(String, Option<String>, Option<AwsSettings>), ConfigError> {
    let aws = match binding {
        Binding::Bedrock => Some(aws(r, &specs.aws, inherit.and_then(|b| b.aws.as_ref()))?),
        _ => None,
    };
    let host = match host(r, &specs.host)? {
        Some(host) => host,
        None => match inherit {
            Some(base) if !r.is_set(&specs.host) => base.host.clone(),
            // LightRAG's azure_openai default is the Azure SDK's endpoint variable.
            _ if binding == Binding::AzureOpenAi => r
                .optional(&spec::AZURE_OPENAI_ENDPOINT, url)?
                .unwrap_or_else(|| binding.default_host(None)),
            _ => binding.default_host(aws.as_ref().map(|a| a.region.as_str())),
        },
    };
    let key = api_key(
        r,
        binding,
        &specs.key,
        inherit.and_then(|b| b.api_key.clone()),
    )?;
    Ok((host, key, aws))
}

/// An LLM role: its own settings where given, the base LLM's otherwise. A role that
/// switches to another binding must name its model and key (LightRAG's rule; bedrock
/// signs with AWS credentials and builtin needs neither).
fn role(
    r: &Resolver<'_>,
    role: LlmRole,
    base: &ProviderSettings,
) -> Result<ProviderSettings, ConfigError> {
    let specs = role_specs(role);
    let binding = r
        .optional(&specs.binding, |s| Binding::parse_llm(s).map(|c| c.llm))?
        .unwrap_or(base.binding);
    let cross = binding != base.binding;
    let model = r.optional(&specs.model, non_empty)?;
    if cross && !matches!(binding, Binding::Builtin) {
        if model.is_none() {
            return Err(missing(
                &specs.model,
                format!(
                    "must be set when {} differs from LLM_BINDING",
                    specs.binding.env
                ),
            ));
        }
        let keyless = matches!(binding, Binding::Bedrock);
        if !keyless && r.optional(&specs.key, non_empty)?.is_none() {
            return Err(missing(
                &specs.key,
                format!(
                    "must be set when {} differs from LLM_BINDING",
                    specs.binding.env
                ),
            ));
        }
    }
    let (host, api_key, aws) = endpoint(r, binding, &specs, (!cross).then_some(base))?;
    Ok(ProviderSettings {
        binding,
        host,
        api_key,
        model: model.unwrap_or_else(|| base.model.clone()),
        timeout: r
            .optional(&specs.timeout, seconds(1))?
            .map_or(base.timeout, Duration::from_secs),
        call_timeout: base.call_timeout,
        max_async: r
            .optional(&specs.max_async, number::<usize>(1, MAX_PERMITS))?
            .unwrap_or(base.max_async),
        aws,
    })
}

/// EMBEDDING_DOCUMENT_PREFIX / EMBEDDING_QUERY_PREFIX: unset is no prefix, `NO_PREFIX`
/// an intentionally empty one, and an empty value an error (as in LightRAG).
fn prefix(r: &Resolver<'_>, spec: &Spec) -> Result<String, ConfigError> {
    if let Some((value, origin)) = r.raw_keeping_empty(spec) {
        if value.is_empty() {
            return Err(ConfigError::Invalid {
                setting: spec.env,
                origin,
                value,
                reason: "must not be empty (use NO_PREFIX for none)".to_owned(),
            });
        }
        return Ok(if value == "NO_PREFIX" {
            String::new()
        } else {
            value
        });
    }
    Ok(String::new())
}

/// The model roles; `call_timeout` is TIMEOUT, which bounds every call.
pub(crate) fn models(
    r: &Resolver<'_>,
    call_timeout: Duration,
) -> Result<ModelSettings, ConfigError> {
    let choice = r.get(&spec::LLM_BINDING, Binding::parse_llm)?;
    let base_specs = RoleSpecs {
        binding: spec::LLM_BINDING,
        model: spec::LLM_MODEL,
        host: spec::LLM_BINDING_HOST,
        key: spec::LLM_BINDING_API_KEY,
        max_async: spec::MAX_ASYNC,
        timeout: spec::LLM_TIMEOUT,
        aws: BASE_AWS,
    };
    let (host, api_key, aws) = endpoint(r, choice.llm, &base_specs, None)?;
    let llm = ProviderSettings {
        binding: choice.llm,
        host,
        api_key,
        model: r.get(&spec::LLM_MODEL, non_empty)?,
        timeout: Duration::from_secs(r.get(&spec::LLM_TIMEOUT, seconds(1))?),
        call_timeout,
        max_async: r.get(&spec::MAX_ASYNC, number::<usize>(1, MAX_PERMITS))?,
        aws,
    };
    let local = local_model::settings(r)?;
    let embedding_model = r.optional(&spec::EMBEDDING_MODEL, non_empty)?;
    let explicit = match choice.forces_embedding {
        Some(binding) => Some(binding),
        None => r.optional(&spec::EMBEDDING_BINDING, Binding::parse_embedding)?,
    };
    let embedding_binding = explicit
        .unwrap_or_else(|| local_model::derived_binding(&local, embedding_model.as_deref()));
    let embedding_specs = RoleSpecs {
        binding: spec::EMBEDDING_BINDING,
        model: spec::EMBEDDING_MODEL,
        host: spec::EMBEDDING_BINDING_HOST,
        key: spec::EMBEDDING_BINDING_API_KEY,
        max_async: spec::EMBEDDING_FUNC_MAX_ASYNC,
        timeout: spec::EMBEDDING_TIMEOUT,
        aws: BASE_AWS,
    };
    let (host, api_key, aws) = endpoint(r, embedding_binding, &embedding_specs, None)?;
    let embedding = ProviderSettings {
        binding: embedding_binding,
        host,
        api_key,
        model: embedding_model
            .unwrap_or_else(|| embedding_binding.default_embedding_model().to_owned()),
        timeout: Duration::from_secs(r.get(&spec::EMBEDDING_TIMEOUT, seconds(1))?),
        call_timeout,
        max_async: r.get(
            &spec::EMBEDDING_FUNC_MAX_ASYNC,
            number::<usize>(1, MAX_PERMITS),
        )?,
        aws,
    };
    let embedding_input = EmbeddingInput {
        document_prefix: prefix(r, &spec::EMBEDDING_DOCUMENT_PREFIX)?,
        query_prefix: prefix(r, &spec::EMBEDDING_QUERY_PREFIX)?,
        send_dim: embedding_binding.always_sends_dim()
            || r.get(&spec::EMBEDDING_SEND_DIM, crate::api::boolean)?,
        token_limit: r.optional(&spec::EMBEDDING_TOKEN_LIMIT, number::<usize>(1, 10_000_000))?,
    };
    Ok(ModelSettings {
        extract: role(r, LlmRole::Extract, &llm)?,
        keyword: role(r, LlmRole::Keyword, &llm)?,
        query: role(r, LlmRole::Query, &llm)?,
        llm,
        embedding,
        embedding_batch: r.get(&spec::EMBEDDING_BATCH_NUM, number::<usize>(1, 10_000))?,
        embedding_input,
        azure_api_version: r.get(&spec::AZURE_OPENAI_API_VERSION, non_empty)?,
        embedding_binding_explicit: explicit.is_some(),
        local,
    })
}

#[cfg(test)]
mod tests;
