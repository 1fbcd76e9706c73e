//! The table of settings. Each entry names its environment variable (LightRAG's name
//! where LightRAG has one, gunicorn's otherwise), its command-line flag, its default and
//! a one-line description. `--help` and the README are generated from the same facts.

/// What a setting falls back to when no layer sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// A literal default value.
    Value(&'static str),
    /// A literal default; an explicitly empty value is kept (it means "none"), not
    /// treated as unset.
    ValueOrEmpty(&'static str),
    /// Unset unless given (an optional setting).
    Unset,
    /// Computed from other settings; the text says how.
    Derived(&'static str),
}

/// One setting's identity.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// Environment variable, also the name used in error messages.
    pub env: &'static str,
    /// Long command-line flag, without the leading dashes.
    pub flag: &'static str,
    pub value_name: &'static str,
    pub fallback: Fallback,
    pub help: &'static str,
}

impl Spec {
    /// The `--help` line: description, environment variable and default.
    pub fn help_line(&self) -> String {
        let fallback = match self.fallback {
            Fallback::Value(v) | Fallback::ValueOrEmpty(v) => format!("default: {v}"),
            Fallback::Unset => "default: unset".to_owned(),
            Fallback::Derived(how) => format!("default: {how}"),
        };
        format!("{} [env: {}] [{fallback}]", self.help, self.env)
    }
}

macro_rules! settings_table {
    ($( $ident:ident = $env:literal, $flag:literal, $value_name:literal, $fallback:expr, $help:literal; )*) => {
        $( pub const $ident: Spec = Spec {
            env: $env, flag: $flag, value_name: $value_name, fallback: $fallback, help: $help,
        }; )*
        /// Every setting, in `--help` order.
        pub const ALL: &[Spec] = &[$($ident),*];
    };
}

use Fallback::{Derived, Unset, Value, ValueOrEmpty};

settings_table! {
    HOST = "HOST", "host", "ADDR", Value("0.0.0.0"), "Address to listen on";
    PORT = "PORT", "port", "PORT", Value("9621"), "TCP port to listen on";
    WORKERS = "WORKERS", "workers", "N", Value("2"), "Number of worker processes";
    WORKER_THREADS = "WORKER_THREADS", "threads", "N", Value("0"), "Tokio threads per worker (0: CPU cores divided among the workers, at least 1)";
    TIMEOUT = "TIMEOUT", "timeout", "SECONDS", Value("300"), "Longest one LLM or embedding call may take, its retries included";
    WORKER_TIMEOUT = "WORKER_TIMEOUT", "worker-timeout", "SECONDS", Derived("TIMEOUT + 30"), "A worker silent for this long is aborted and replaced (0 disables the watchdog)";
    KEEPALIVE = "KEEPALIVE", "keepalive", "SECONDS", Value("5"), "Idle keep-alive connections are closed after this long; also the header read timeout";
    GRACEFUL_TIMEOUT = "GRACEFUL_TIMEOUT", "graceful-timeout", "SECONDS", Value("30"), "Time workers get to finish in-flight requests on stop or reload before SIGKILL";
    MAX_REQUESTS = "MAX_REQUESTS", "max-requests", "N", Value("0"), "Recycle a worker after this many requests (0 disables)";
    MAX_REQUESTS_JITTER = "MAX_REQUESTS_JITTER", "max-requests-jitter", "N", Value("0"), "Random extra requests (0..=N) added to each worker's max-requests";
    BACKLOG = "BACKLOG", "backlog", "N", Value("2048"), "Listen backlog of the server socket";
    WORKER_CONNECTIONS = "WORKER_CONNECTIONS", "worker-connections", "N", Value("1000"), "Connections one worker serves at once; beyond that it stops accepting and new ones wait in the listen backlog";
    SEND_TIMEOUT = "SEND_TIMEOUT", "send-timeout", "SECONDS", Value("30"), "A connection whose client accepts no response bytes for this long is closed (its answer and model call stop)";
    BODY_TIMEOUT = "BODY_TIMEOUT", "body-timeout", "SECONDS", Value("30"), "A request body that pauses this long, or arrives slower than 1 KiB/s after the first this-long, is answered 408";
    SSL = "SSL", "ssl", "BOOL", Value("false"), "Serve HTTPS with SSL_CERTFILE and SSL_KEYFILE (checked at start and on HUP)";
    SSL_CERTFILE = "SSL_CERTFILE", "ssl-certfile", "PATH", Unset, "PEM certificate chain, the server's certificate first";
    SSL_KEYFILE = "SSL_KEYFILE", "ssl-keyfile", "PATH", Unset, "PEM private key of that certificate (PKCS#8, PKCS#1 or SEC1)";
    PIDFILE = "PIDFILE", "pidfile", "PATH", Unset, "Write the master's pid to this file";
    WORKER_USER = "WORKER_USER", "user", "USER", Unset, "Run workers as this user (name or uid); the master keeps its own";
    WORKER_GROUP = "WORKER_GROUP", "group", "GROUP", Unset, "Run workers with this group (name or gid)";
    LOG_LEVEL = "LOG_LEVEL", "log-level", "LEVEL", Value("INFO"), "DEBUG, INFO, WARNING, ERROR or CRITICAL";
    LOG_DIR = "LOG_DIR", "log-dir", "DIR", Value("."), "Directory of lightrag.log";
    LOG_MAX_BYTES = "LOG_MAX_BYTES", "log-max-bytes", "BYTES", Value("10485760"), "Rotate lightrag.log past this size (0 disables rotation)";
    LOG_BACKUP_COUNT = "LOG_BACKUP_COUNT", "log-backup-count", "N", Value("5"), "Rotated files kept (lightrag.log.1 is the newest)";
    WORKING_DIR = "WORKING_DIR", "working-dir", "DIR", Value("./rag_storage"), "Directory of the RAG storage";
    INPUT_DIR = "INPUT_DIR", "input-dir", "DIR", Value("./inputs"), "Directory scanned for input documents";
    KV_STORAGE = "LIGHTRAG_KV_STORAGE", "kv-storage", "CLASS", Value("JsonKVStorage"), "Key-value storage (LightRAG's class name): JsonKVStorage (embedded SQLite) or RedisKVStorage";
    DOC_STATUS_STORAGE = "LIGHTRAG_DOC_STATUS_STORAGE", "doc-status-storage", "CLASS", Value("JsonDocStatusStorage"), "Document status storage: JsonDocStatusStorage (embedded SQLite) or RedisDocStatusStorage";
    GRAPH_STORAGE = "LIGHTRAG_GRAPH_STORAGE", "graph-storage", "CLASS", Value("NetworkXStorage"), "Graph storage (NetworkXStorage: embedded SQLite)";
    VECTOR_STORAGE = "LIGHTRAG_VECTOR_STORAGE", "vector-storage", "CLASS", Value("NanoVectorDBStorage"), "Vector storage (NanoVectorDBStorage: embedded SQLite, exact cosine)";
    REDIS_URI = "REDIS_URI", "redis-uri", "URL", Value("redis://localhost:6379"), "Redis of RedisKVStorage and RedisDocStatusStorage (rediss:// for TLS; the path picks the database); must be given when one is chosen";
    REDIS_WORKSPACE = "REDIS_WORKSPACE", "redis-workspace", "NAME", Unset, "Workspace of every Redis key instead of WORKSPACE";
    REDIS_MAX_CONNECTIONS = "REDIS_MAX_CONNECTIONS", "redis-max-connections", "N", Value("200"), "Redis connections one worker process holds at most";
    REDIS_SOCKET_TIMEOUT = "REDIS_SOCKET_TIMEOUT", "redis-socket-timeout", "SECONDS", Value("30.0"), "Longest one Redis command may wait for its reply";
    REDIS_CONNECT_TIMEOUT = "REDIS_CONNECT_TIMEOUT", "redis-connect-timeout", "SECONDS", Value("10.0"), "Longest a connection to Redis may take to open";
    REDIS_RETRY_ATTEMPTS = "REDIS_RETRY_ATTEMPTS", "redis-retry-attempts", "N", Value("3"), "Attempts in all while Redis is unreachable (backing off 1 s to 8 s), at start and per request";
    REDIS_ALLOW_EVICTION_POLICY = "REDIS_ALLOW_EVICTION_POLICY", "redis-allow-eviction-policy", "BOOL", Value("false"), "Start even when Redis may evict keys (an allkeys-* maxmemory-policy)";
    WORKSPACE = "WORKSPACE", "workspace", "NAME", Value(""), "Data isolation workspace (characters outside [A-Za-z0-9_] become _; ASCII, at most 128 bytes, not __parsed__)";
    API_PREFIX = "LIGHTRAG_API_PREFIX", "api-prefix", "PATH", Value(""), "Path prefix a reverse proxy serves the API under (routes stay unprefixed)";
    DEFAULT_UI = "LIGHTRAG_DEFAULT_UI", "default-ui", "UI", Value("webui"), "Where / redirects: webui or workspace";
    AUTH_ACCOUNTS = "AUTH_ACCOUNTS", "auth-accounts", "USER:PASS,...", Unset, "Accounts for password login; a password may be {bcrypt}<hash> (see hash-password)";
    API_KEY = "LIGHTRAG_API_KEY", "key", "KEY", Unset, "API key expected in the X-API-Key header";
    TOKEN_SECRET = "TOKEN_SECRET", "token-secret", "SECRET", Unset, "JWT signing secret (required with AUTH_ACCOUNTS)";
    JWT_ALGORITHM = "JWT_ALGORITHM", "jwt-algorithm", "ALG", Value("HS256"), "JWT algorithm: HS256, HS384 or HS512";
    TOKEN_EXPIRE_HOURS = "TOKEN_EXPIRE_HOURS", "token-expire-hours", "HOURS", Value("48"), "Lifetime of a login token";
    GUEST_TOKEN_EXPIRE_HOURS = "GUEST_TOKEN_EXPIRE_HOURS", "guest-token-expire-hours", "HOURS", Value("24"), "Lifetime of a guest token";
    TOKEN_AUTO_RENEW = "TOKEN_AUTO_RENEW", "token-auto-renew", "BOOL", Value("true"), "Send a fresh token in X-New-Token when one runs low";
    TOKEN_RENEW_THRESHOLD = "TOKEN_RENEW_THRESHOLD", "token-renew-threshold", "FRACTION", Value("0.5"), "Renew when less than this fraction of the lifetime remains";
    LOGIN_MAX_FAILED_ATTEMPTS = "LOGIN_MAX_FAILED_ATTEMPTS", "login-max-failed-attempts", "N", Value("5"), "Failed logins per client and user before 429 (0 disables)";
    LOGIN_LOCKOUT_WINDOW_SECONDS = "LOGIN_LOCKOUT_WINDOW_SECONDS", "login-lockout-window-seconds", "SECONDS", Value("300"), "Window in which failed logins are counted";
    WHITELIST_PATHS = "WHITELIST_PATHS", "whitelist-paths", "PATHS", ValueOrEmpty("/health,/api/*"), "Paths reachable without credentials (prefix/* covers whole segments)";
    CORS_ORIGINS = "CORS_ORIGINS", "cors-origins", "ORIGINS", ValueOrEmpty("*"), "Allowed CORS origins, comma-separated (empty: none)";
    ENABLE_API_DOCS = "ENABLE_API_DOCS", "enable-api-docs", "BOOL", Value("true"), "Serve /docs and /openapi.json";
    MAX_REQUEST_BODY_BYTES = "MAX_REQUEST_BODY_BYTES", "max-request-body-bytes", "BYTES", Value("1048576"), "Body ceiling of ordinary routes (0 disables all ceilings)";
    MAX_PENDING_DOCUMENTS = "MAX_PENDING_DOCUMENTS", "max-pending-documents", "N", Value("0"), "Refuse new documents (429) while this many wait to be indexed (0 disables)";
    MAX_TEXTS_PER_REQUEST = "MAX_TEXTS_PER_REQUEST", "max-texts-per-request", "N", Value("10000"), "Most texts one /documents/texts request may carry, else 413 (0: no limit)";
    MAX_DELETE_IDS_PER_REQUEST = "MAX_DELETE_IDS_PER_REQUEST", "max-delete-ids-per-request", "N", Value("10000"), "Most document ids one /documents/delete_document request may name, else 413 (0: no limit)";
    PARSE_MAX_DECODED_BYTES = "PARSE_MAX_DECODED_BYTES", "parse-max-decoded-bytes", "BYTES", Value("268435456"), "Most bytes parsing one file may inflate or decode (PDF streams, zip parts); beyond it the document fails";
    PARSE_MAX_OPERATIONS = "PARSE_MAX_OPERATIONS", "parse-max-operations", "N", Value("20000000"), "Most PDF content operators or markup tags parsing one file may walk through; beyond it the document fails";
    PARSE_TIMEOUT = "PARSE_TIMEOUT", "parse-timeout", "SECONDS", Value("120"), "Longest parsing one file may take; beyond it the document fails";
    MAX_UPLOAD_SIZE = "MAX_UPLOAD_SIZE", "max-upload-size", "BYTES", Value("104857600"), "Largest uploaded file (0: unlimited)";
    WEBUI_DIR = "WEBUI_DIR", "webui-dir", "DIR", Unset, "A built LightRAG web UI (index.html, workspace.html, assets/) served at /webui/ and /workspace/";
    WEBUI_TITLE = "WEBUI_TITLE", "webui-title", "TEXT", Unset, "Title shown by the web UI";
    WEBUI_DESCRIPTION = "WEBUI_DESCRIPTION", "webui-description", "TEXT", Unset, "Description shown by the web UI";
    CHUNK_SIZE = "CHUNK_SIZE", "chunk-size", "TOKENS", Value("1200"), "Tokens per chunk";
    CHUNK_OVERLAP_SIZE = "CHUNK_OVERLAP_SIZE", "chunk-overlap-size", "TOKENS", Value("100"), "Tokens shared by consecutive chunks";
    ENTITY_TYPES = "ENTITY_TYPES", "entity-types", "TYPES", Value("person,creature,organization,location,event,concept,method,content,data,artifact,naturalobject"), "Entity types to extract, comma-separated (a JSON list is accepted too)";
    EMBEDDING_DIM = "EMBEDDING_DIM", "embedding-dim", "N", Value("1024"), "Embedding dimensions; must match the embedding model and the stored vectors";
    LLM_BINDING = "LLM_BINDING", "llm-binding", "BINDING", Value("builtin"), "LLM provider: builtin (no network), openai, azure_openai or ollama";
    LLM_BINDING_HOST = "LLM_BINDING_HOST", "llm-binding-host", "URL", Derived("https://api.openai.com/v1 for openai and azure_openai, http://localhost:11434 for ollama"), "Base URL of the LLM provider";
    LLM_BINDING_API_KEY = "LLM_BINDING_API_KEY", "llm-binding-api-key", "KEY", Unset, "API key of the LLM provider";
    LLM_MODEL = "LLM_MODEL", "llm-model", "MODEL", Value("mistral-nemo:latest"), "LLM model (for azure_openai: the deployment)";
    LLM_TIMEOUT = "LLM_TIMEOUT", "llm-timeout", "SECONDS", Value("240"), "Longest one attempt of an LLM call may take, and the longest pause of a streamed answer (at most TIMEOUT)";
    MAX_ASYNC = "MAX_ASYNC", "max-async", "N", Value("4"), "LLM calls in flight at once, across all workers";
    EMBEDDING_BINDING = "EMBEDDING_BINDING", "embedding-binding", "BINDING", Derived("local when MODELS_DIR holds EMBEDDING_MODEL (all-MiniLM-L6-v2 unless given), else builtin"), "Embedding provider: builtin (hashed n-grams, no network), local (a BERT model run in process), openai, azure_openai or ollama";
    EMBEDDING_BINDING_HOST = "EMBEDDING_BINDING_HOST", "embedding-binding-host", "URL", Derived("the binding's, as for LLM_BINDING_HOST"), "Base URL of the embedding provider";
    EMBEDDING_BINDING_API_KEY = "EMBEDDING_BINDING_API_KEY", "embedding-binding-api-key", "KEY", Unset, "API key of the embedding provider";
    EMBEDDING_MODEL = "EMBEDDING_MODEL", "embedding-model", "MODEL", Derived("text-embedding-3-small for openai and azure_openai, bge-m3:latest for ollama, all-MiniLM-L6-v2 for local"), "Embedding model (for azure_openai: the deployment; for local: a model directory, in MODELS_DIR unless absolute)";
    EMBEDDING_TIMEOUT = "EMBEDDING_TIMEOUT", "embedding-timeout", "SECONDS", Value("30"), "Longest one attempt of an embedding call may take (at most TIMEOUT)";
    EMBEDDING_FUNC_MAX_ASYNC = "EMBEDDING_FUNC_MAX_ASYNC", "embedding-func-max-async", "N", Value("8"), "Embedding calls in flight at once, across all workers";
    EMBEDDING_BATCH_NUM = "EMBEDDING_BATCH_NUM", "embedding-batch-num", "N", Value("10"), "Texts sent in one embedding call";
    MODELS_DIR = "MODELS_DIR", "models-dir", "DIR", Value("./models"), "Directory of in-process models (lightrag-master fetch-model installs all-MiniLM-L6-v2 there)";
    LOCAL_MODEL_THREADS = "LOCAL_MODEL_THREADS", "local-model-threads", "N", Value("0"), "CPU threads each worker gives an in-process model (0: CPU cores divided among the workers, at least 1)";
    AZURE_OPENAI_API_VERSION = "AZURE_OPENAI_API_VERSION", "azure-openai-api-version", "VERSION", Value("2024-08-01-preview"), "api-version sent to Azure OpenAI";
    MAX_GLEANING = "MAX_GLEANING", "max-gleaning", "N", Value("1"), "Follow-up extraction rounds per chunk asking for what was missed";
    SUMMARY_LANGUAGE = "SUMMARY_LANGUAGE", "summary-language", "LANGUAGE", Value("English"), "Language of extracted descriptions and summaries";
    FORCE_LLM_SUMMARY_ON_MERGE = "FORCE_LLM_SUMMARY_ON_MERGE", "force-llm-summary-on-merge", "N", Value("8"), "Summarise a merged description with the LLM from this many fragments";
    SUMMARY_MAX_TOKENS = "SUMMARY_MAX_TOKENS", "summary-max-tokens", "TOKENS", Value("1200"), "Summarise a merged description longer than this";
    SUMMARY_LENGTH_RECOMMENDED = "SUMMARY_LENGTH_RECOMMENDED", "summary-length-recommended", "TOKENS", Value("600"), "Length asked of description summaries";
    MAX_GRAPH_NODES = "MAX_GRAPH_NODES", "max-graph-nodes", "N", Value("1000"), "Most nodes /graphs returns";
    TOP_K = "TOP_K", "top-k", "N", Value("40"), "Entities or relations retrieved per query (the request's top_k wins)";
    CHUNK_TOP_K = "CHUNK_TOP_K", "chunk-top-k", "N", Value("20"), "Chunks kept per query (the request's chunk_top_k wins)";
    MAX_ENTITY_TOKENS = "MAX_ENTITY_TOKENS", "max-entity-tokens", "TOKENS", Value("6000"), "Token budget of the entities in a query context";
    MAX_RELATION_TOKENS = "MAX_RELATION_TOKENS", "max-relation-tokens", "TOKENS", Value("8000"), "Token budget of the relations in a query context";
    MAX_TOTAL_TOKENS = "MAX_TOTAL_TOKENS", "max-total-tokens", "TOKENS", Value("30000"), "Token budget of the whole answer prompt";
    COSINE_THRESHOLD = "COSINE_THRESHOLD", "cosine-threshold", "SIMILARITY", Value("0.2"), "Vector matches below this cosine similarity are ignored";
    RELATED_CHUNK_NUMBER = "RELATED_CHUNK_NUMBER", "related-chunk-number", "N", Value("5"), "Source chunks taken per retrieved entity or relation";
    KG_CHUNK_PICK_METHOD = "KG_CHUNK_PICK_METHOD", "kg-chunk-pick-method", "METHOD", Value("VECTOR"), "How those chunks are picked: VECTOR (most similar to the query) or WEIGHT (shared by most)";
    ENABLE_LLM_CACHE = "ENABLE_LLM_CACHE", "enable-llm-cache", "BOOL", Value("true"), "Cache query answers";
    USER_PROMPT_PREFIX = "USER_PROMPT_PREFIX", "user-prompt-prefix", "TEXT", Unset, "Prepended to every query's user_prompt (unless the request disables it)";
    MAX_SOURCE_IDS_PER_ENTITY = "MAX_SOURCE_IDS_PER_ENTITY", "max-source-ids-per-entity", "N", Value("300"), "Source chunks an entity remembers (the newest)";
    MAX_SOURCE_IDS_PER_RELATION = "MAX_SOURCE_IDS_PER_RELATION", "max-source-ids-per-relation", "N", Value("300"), "Source chunks a relation remembers (the newest)";
    MAX_FILE_PATHS = "MAX_FILE_PATHS", "max-file-paths", "N", Value("75"), "Files an entity or relation remembers (the newest)";
    MAX_PARALLEL_INSERT = "MAX_PARALLEL_INSERT", "max-parallel-insert", "N", Value("3"), "Documents the pipeline indexes at once";
    ENABLE_LLM_CACHE_FOR_EXTRACT = "ENABLE_LLM_CACHE_FOR_EXTRACT", "enable-llm-cache-for-extract", "BOOL", Value("true"), "Reuse cached extraction answers";
    OLLAMA_EMULATING_MODEL_NAME = "OLLAMA_EMULATING_MODEL_NAME", "simulated-model-name", "NAME", Value("lightrag"), "Model name the Ollama emulation reports";
    OLLAMA_EMULATING_MODEL_TAG = "OLLAMA_EMULATING_MODEL_TAG", "simulated-model-tag", "TAG", Value("latest"), "Model tag the Ollama emulation reports";
    ENABLE_AI_CONTENT_NOTICE = "ENABLE_AI_CONTENT_NOTICE", "enable-ai-content-notice", "BOOL", Value("false"), "Ask the web UI to show an AI-content notice";
    HOOK_ON_STARTING = "LIGHTRAG_HOOK_ON_STARTING", "hook-on-starting", "CMD", Unset, "Shell command run at the on_starting hook";
    HOOK_WHEN_READY = "LIGHTRAG_HOOK_WHEN_READY", "hook-when-ready", "CMD", Unset, "Shell command run at the when_ready hook";
    HOOK_PRE_FORK = "LIGHTRAG_HOOK_PRE_FORK", "hook-pre-fork", "CMD", Unset, "Shell command run at the pre_fork hook";
    HOOK_POST_FORK = "LIGHTRAG_HOOK_POST_FORK", "hook-post-fork", "CMD", Unset, "Shell command run at the post_fork hook";
    HOOK_POST_WORKER_INIT = "LIGHTRAG_HOOK_POST_WORKER_INIT", "hook-post-worker-init", "CMD", Unset, "Shell command run at the post_worker_init hook";
    HOOK_WORKER_INT = "LIGHTRAG_HOOK_WORKER_INT", "hook-worker-int", "CMD", Unset, "Shell command run at the worker_int hook";
    HOOK_WORKER_ABORT = "LIGHTRAG_HOOK_WORKER_ABORT", "hook-worker-abort", "CMD", Unset, "Shell command run at the worker_abort hook";
    HOOK_WORKER_EXIT = "LIGHTRAG_HOOK_WORKER_EXIT", "hook-worker-exit", "CMD", Unset, "Shell command run at the worker_exit hook";
    HOOK_CHILD_EXIT = "LIGHTRAG_HOOK_CHILD_EXIT", "hook-child-exit", "CMD", Unset, "Shell command run at the child_exit hook";
    HOOK_NWORKERS_CHANGED = "LIGHTRAG_HOOK_NWORKERS_CHANGED", "hook-nworkers-changed", "CMD", Unset, "Shell command run at the nworkers_changed hook";
    HOOK_ON_RELOAD = "LIGHTRAG_HOOK_ON_RELOAD", "hook-on-reload", "CMD", Unset, "Shell command run at the on_reload hook";
    HOOK_PRE_EXEC = "LIGHTRAG_HOOK_PRE_EXEC", "hook-pre-exec", "CMD", Unset, "Shell command run at the pre_exec hook";
    HOOK_ON_EXIT = "LIGHTRAG_HOOK_ON_EXIT", "hook-on-exit", "CMD", Unset, "Shell command run at the on_exit hook";
    HOOK_TIMEOUT = "HOOK_TIMEOUT", "hook-timeout", "SECONDS", Value("30"), "Longest a hook command may run before it is killed";
}
