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
    KV_STORAGE = "LIGHTRAG_KV_STORAGE", "kv-storage", "CLASS", Value("JsonKVStorage"), "Key-value storage (LightRAG's class name): JsonKVStorage (embedded SQLite), RedisKVStorage or PGKVStorage";
    DOC_STATUS_STORAGE = "LIGHTRAG_DOC_STATUS_STORAGE", "doc-status-storage", "CLASS", Value("JsonDocStatusStorage"), "Document status storage: JsonDocStatusStorage (embedded SQLite), RedisDocStatusStorage or PGDocStatusStorage";
    GRAPH_STORAGE = "LIGHTRAG_GRAPH_STORAGE", "graph-storage", "CLASS", Value("NetworkXStorage"), "Graph storage (NetworkXStorage: embedded SQLite; PGTableGraphStorage: LightRAG's PostgreSQL tables)";
    VECTOR_STORAGE = "LIGHTRAG_VECTOR_STORAGE", "vector-storage", "CLASS", Value("NanoVectorDBStorage"), "Vector storage (NanoVectorDBStorage: embedded SQLite, HNSW index under WORKING_DIR; PGVectorStorage: pgvector, searched in PostgreSQL)";
    VECTOR_INDEX_MIN_VECTORS = "VECTOR_INDEX_MIN_VECTORS", "vector-index-min-vectors", "N", Value("5000"), "Embedded store: vectors a namespace holds before it gets an HNSW index (searched exactly below; 0: always exact)";
    VECTOR_INDEX_EF_SEARCH = "VECTOR_INDEX_EF_SEARCH", "vector-index-ef-search", "N", Value("256"), "Embedded store: candidates an HNSW search keeps in the largest segment, smaller ones their share (at least top_k; more finds more of the exact answer, slower)";
    REDIS_URI = "REDIS_URI", "redis-uri", "URL", Value("redis://localhost:6379"), "Redis of RedisKVStorage and RedisDocStatusStorage (rediss:// for TLS; the path picks the database); must be given when one is chosen";
    REDIS_WORKSPACE = "REDIS_WORKSPACE", "redis-workspace", "NAME", Unset, "Workspace of every Redis key instead of WORKSPACE";
    REDIS_MAX_CONNECTIONS = "REDIS_MAX_CONNECTIONS", "redis-max-connections", "N", Value("200"), "Redis connections one worker process holds at most";
    REDIS_SOCKET_TIMEOUT = "REDIS_SOCKET_TIMEOUT", "redis-socket-timeout", "SECONDS", Value("30.0"), "Longest one Redis command may wait for its reply";
    REDIS_CONNECT_TIMEOUT = "REDIS_CONNECT_TIMEOUT", "redis-connect-timeout", "SECONDS", Value("10.0"), "Longest a connection to Redis may take to open";
    REDIS_RETRY_ATTEMPTS = "REDIS_RETRY_ATTEMPTS", "redis-retry-attempts", "N", Value("3"), "Attempts in all while Redis is unreachable at start (backing off 1 s to 8 s); once serving, a lost Redis answers 503 at once";
    REDIS_ALLOW_EVICTION_POLICY = "REDIS_ALLOW_EVICTION_POLICY", "redis-allow-eviction-policy", "BOOL", Value("false"), "Start even when Redis may evict keys (an allkeys-* maxmemory-policy)";
    POSTGRES_HOST = "POSTGRES_HOST", "postgres-host", "HOST", Value("localhost"), "PostgreSQL host of the PG storages (a path starting with / is a Unix socket directory)";
    POSTGRES_PORT = "POSTGRES_PORT", "postgres-port", "PORT", Value("5432"), "PostgreSQL port";
    POSTGRES_USER = "POSTGRES_USER", "postgres-user", "USER", Value("postgres"), "PostgreSQL user; as in LightRAG it must be given when a PG storage is chosen";
    POSTGRES_PASSWORD = "POSTGRES_PASSWORD", "postgres-password", "PASSWORD", Unset, "PostgreSQL password; must be given (empty allowed) when a PG storage is chosen";
    POSTGRES_DATABASE = "POSTGRES_DATABASE", "postgres-database", "NAME", Value("postgres"), "PostgreSQL database; must be given when a PG storage is chosen";
    POSTGRES_WORKSPACE = "POSTGRES_WORKSPACE", "postgres-workspace", "NAME", Unset, "Workspace of every PG row instead of WORKSPACE (which itself falls back to default)";
    POSTGRES_MAX_CONNECTIONS = "POSTGRES_MAX_CONNECTIONS", "postgres-max-connections", "N", Value("50"), "PostgreSQL connections of the whole node, divided among its workers (each holds at least 1)";
    POSTGRES_SSL_MODE = "POSTGRES_SSL_MODE", "postgres-ssl-mode", "MODE", Unset, "disable, allow, prefer, require, verify-ca or verify-full (TLS by rustls); unset: prefer";
    POSTGRES_SSL_CERT = "POSTGRES_SSL_CERT", "postgres-ssl-cert", "PATH", Unset, "PEM client certificate for verify-ca/verify-full";
    POSTGRES_SSL_KEY = "POSTGRES_SSL_KEY", "postgres-ssl-key", "PATH", Unset, "PEM private key of POSTGRES_SSL_CERT";
    POSTGRES_SSL_ROOT_CERT = "POSTGRES_SSL_ROOT_CERT", "postgres-ssl-root-cert", "PATH", Unset, "PEM CA certificates the server is checked against (verify-ca/verify-full; unset: the system's)";
    POSTGRES_SSL_CRL = "POSTGRES_SSL_CRL", "postgres-ssl-crl", "PATH", Unset, "PEM certificate revocation list for verify-ca/verify-full";
    POSTGRES_SERVER_SETTINGS = "POSTGRES_SERVER_SETTINGS", "postgres-server-settings", "K=V&...", Unset, "Server settings sent at connect, k1=v1&k2=v2";
    POSTGRES_STATEMENT_CACHE_SIZE = "POSTGRES_STATEMENT_CACHE_SIZE", "postgres-statement-cache-size", "N", Value("100"), "Prepared statements each pooled connection keeps for reuse (0: none, for PgBouncer in transaction mode; at most 10000)";
    POSTGRES_CONNECTION_RETRIES = "POSTGRES_CONNECTION_RETRIES", "postgres-connection-retries", "N", Value("10"), "Attempts while PostgreSQL is unreachable at start; once serving, an operation tries one fresh connection and answers 503 (at most 100)";
    POSTGRES_CONNECTION_RETRY_BACKOFF = "POSTGRES_CONNECTION_RETRY_BACKOFF", "postgres-connection-retry-backoff", "SECONDS", Value("3.0"), "First pause between those attempts, doubled each time (at most 300)";
    POSTGRES_CONNECTION_RETRY_BACKOFF_MAX = "POSTGRES_CONNECTION_RETRY_BACKOFF_MAX", "postgres-connection-retry-backoff-max", "SECONDS", Value("30.0"), "Longest pause between those attempts (at least the backoff, at most 600)";
    POSTGRES_VECTOR_INDEX_TYPE = "POSTGRES_VECTOR_INDEX_TYPE", "postgres-vector-index-type", "TYPE", ValueOrEmpty("HNSW"), "Vector index of PGVectorStorage: HNSW, HNSW_HALFVEC, IVFFLAT or VCHORDRQ (empty: none)";
    POSTGRES_HNSW_M = "POSTGRES_HNSW_M", "postgres-hnsw-m", "N", Value("16"), "HNSW m";
    POSTGRES_HNSW_EF = "POSTGRES_HNSW_EF", "postgres-hnsw-ef", "N", Value("64"), "HNSW ef_construction";
    POSTGRES_IVFFLAT_LISTS = "POSTGRES_IVFFLAT_LISTS", "postgres-ivfflat-lists", "N", Value("100"), "IVFFlat lists";
    POSTGRES_VCHORDRQ_BUILD_OPTIONS = "POSTGRES_VCHORDRQ_BUILD_OPTIONS", "postgres-vchordrq-build-options", "TOML", Unset, "vchordrq index options";
    POSTGRES_VCHORDRQ_PROBES = "POSTGRES_VCHORDRQ_PROBES", "postgres-vchordrq-probes", "LIST", Unset, "vchordrq.probes set on each connection";
    POSTGRES_VCHORDRQ_EPSILON = "POSTGRES_VCHORDRQ_EPSILON", "postgres-vchordrq-epsilon", "X", Value("1.9"), "vchordrq.epsilon set on each connection";
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
    PARSE_MAX_OPERATIONS = "PARSE_MAX_OPERATIONS", "parse-max-operations", "N", Value("20000000"), "Most PDF content operators, markup tags, xlsx cells or RTF tokens parsing one file may walk through; beyond it the document fails";
    PARSE_TIMEOUT = "PARSE_TIMEOUT", "parse-timeout", "SECONDS", Value("120"), "Longest parsing one file may take; beyond it the document fails";
    MAX_UPLOAD_SIZE = "MAX_UPLOAD_SIZE", "max-upload-size", "BYTES", Value("104857600"), "Largest uploaded file (0: unlimited)";
    WEBUI_DIR = "WEBUI_DIR", "webui-dir", "DIR", Unset, "A built LightRAG web UI (index.html, workspace.html, assets/) served at /webui/ and /workspace/";
    WEBUI_TITLE = "WEBUI_TITLE", "webui-title", "TEXT", Unset, "Title shown by the web UI";
    UI_TEMPLATES_DIR = "UI_TEMPLATES_DIR", "ui-templates-dir", "DIR", ValueOrEmpty(""), "LightRAG web UI customisation bundle (manifest.json, Markdown, logos), checked at start (empty: none)";
    WEBUI_DESCRIPTION = "WEBUI_DESCRIPTION", "webui-description", "TEXT", Unset, "Description shown by the web UI";
    CHUNK_SIZE = "CHUNK_SIZE", "chunk-size", "TOKENS", Value("1200"), "Tokens per chunk";
    CHUNK_OVERLAP_SIZE = "CHUNK_OVERLAP_SIZE", "chunk-overlap-size", "TOKENS", Value("100"), "Tokens shared by consecutive chunks";
    CHUNK_F_SIZE = "CHUNK_F_SIZE", "chunk-f-size", "TOKENS", Derived("CHUNK_SIZE"), "fixed_token's chunk size when a document does not give one";
    CHUNK_F_OVERLAP_SIZE = "CHUNK_F_OVERLAP_SIZE", "chunk-f-overlap-size", "TOKENS", Derived("CHUNK_OVERLAP_SIZE"), "fixed_token's overlap when a document does not give one";
    CHUNK_F_SPLIT_BY_CHARACTER = "CHUNK_F_SPLIT_BY_CHARACTER", "chunk-f-split-by-character", "TEXT", Unset, "fixed_token's split_by_character when a document does not give one";
    CHUNK_F_SPLIT_BY_CHARACTER_ONLY = "CHUNK_F_SPLIT_BY_CHARACTER_ONLY", "chunk-f-split-by-character-only", "BOOL", Value("false"), "fixed_token refuses a piece above the size instead of windowing it";
    CHUNK_R_SIZE = "CHUNK_R_SIZE", "chunk-r-size", "TOKENS", Derived("CHUNK_SIZE"), "recursive_character's chunk size when a document does not give one";
    CHUNK_R_OVERLAP_SIZE = "CHUNK_R_OVERLAP_SIZE", "chunk-r-overlap-size", "TOKENS", Derived("CHUNK_OVERLAP_SIZE"), "recursive_character's overlap when a document does not give one";
    CHUNK_R_SEPARATORS = "CHUNK_R_SEPARATORS", "chunk-r-separators", "JSON", Value(r#"["\n\n","\n","。","！","？","；","，"," ",""]"#), "recursive_character's separator cascade, a JSON array (at most 64 of at most 256 characters)";
    CHUNK_V_SIZE = "CHUNK_V_SIZE", "chunk-v-size", "TOKENS", Derived("CHUNK_SIZE"), "semantic_vector's chunk size cap when a document does not give one";
    CHUNK_V_BREAKPOINT_THRESHOLD_TYPE = "CHUNK_V_BREAKPOINT_THRESHOLD_TYPE", "chunk-v-breakpoint-threshold-type", "TYPE", Value("percentile"), "semantic_vector's threshold: percentile, standard_deviation, interquartile or gradient";
    CHUNK_V_BREAKPOINT_THRESHOLD_AMOUNT = "CHUNK_V_BREAKPOINT_THRESHOLD_AMOUNT", "chunk-v-breakpoint-threshold-amount", "NUMBER", Derived("95, 3, 1.5 or 95 by threshold type"), "semantic_vector's threshold amount";
    CHUNK_V_BUFFER_SIZE = "CHUNK_V_BUFFER_SIZE", "chunk-v-buffer-size", "N", Value("1"), "semantic_vector's neighbouring sentences embedded with each sentence (at most 20)";
    CHUNK_P_SIZE = "CHUNK_P_SIZE", "chunk-p-size", "TOKENS", Value("2000"), "paragraph_semantic's chunk size when a document does not give one (not CHUNK_SIZE)";
    CHUNK_P_OVERLAP_SIZE = "CHUNK_P_OVERLAP_SIZE", "chunk-p-overlap-size", "TOKENS", Derived("CHUNK_OVERLAP_SIZE"), "paragraph_semantic's overlap when a document does not give one";
    ENTITY_TYPES = "ENTITY_TYPES", "entity-types", "TYPES", Value("person,creature,organization,location,event,concept,method,content,data,artifact,naturalobject"), "Entity types to extract, comma-separated (a JSON list is accepted too)";
    EMBEDDING_DIM = "EMBEDDING_DIM", "embedding-dim", "N", Value("1024"), "Embedding dimensions; must match the embedding model and the stored vectors";
    LLM_BINDING = "LLM_BINDING", "llm-binding", "BINDING", Value("builtin"), "LLM provider: builtin (no network), openai, openai-ollama (openai LLM, ollama embeddings), azure_openai, ollama, lollms, gemini or bedrock (aws_bedrock)";
    LLM_BINDING_HOST = "LLM_BINDING_HOST", "llm-binding-host", "URL", Derived("the binding's: https://api.openai.com/v1 (openai; azure_openai: AZURE_OPENAI_ENDPOINT, else that URL), http://localhost:11434 (ollama), http://localhost:9600 (lollms), https://generativelanguage.googleapis.com (gemini), https://bedrock-runtime.<AWS_REGION>.amazonaws.com (bedrock)"), "Base URL of the LLM provider (DEFAULT_GEMINI_ENDPOINT and DEFAULT_BEDROCK_ENDPOINT mean the default)";
    LLM_BINDING_API_KEY = "LLM_BINDING_API_KEY", "llm-binding-api-key", "KEY", Unset, "API key of the LLM provider";
    LLM_MODEL = "LLM_MODEL", "llm-model", "MODEL", Value("mistral-nemo:latest"), "LLM model (for azure_openai: the deployment)";
    LLM_TIMEOUT = "LLM_TIMEOUT", "llm-timeout", "SECONDS", Value("240"), "Longest one attempt of an LLM call may take, and the longest pause of a streamed answer (at most TIMEOUT)";
    MAX_ASYNC = "MAX_ASYNC", "max-async", "N", Value("4"), "LLM calls in flight at once, across all workers";
    EMBEDDING_BINDING = "EMBEDDING_BINDING", "embedding-binding", "BINDING", Derived("local when MODELS_DIR holds EMBEDDING_MODEL (all-MiniLM-L6-v2 unless given), else builtin"), "Embedding provider: builtin (hashed n-grams, no network), local (a BERT model run in process), openai, azure_openai, ollama, lollms, gemini, bedrock (aws_bedrock), jina or voyageai";
    EMBEDDING_BINDING_HOST = "EMBEDDING_BINDING_HOST", "embedding-binding-host", "URL", Derived("the binding's, as for LLM_BINDING_HOST; https://api.jina.ai/v1/embeddings (jina), https://api.voyageai.com/v1 (voyageai)"), "Base URL of the embedding provider (for jina the whole embeddings URL)";
    EMBEDDING_BINDING_API_KEY = "EMBEDDING_BINDING_API_KEY", "embedding-binding-api-key", "KEY", Unset, "API key of the embedding provider";
    EMBEDDING_MODEL = "EMBEDDING_MODEL", "embedding-model", "MODEL", Derived("the binding's: text-embedding-3-small (openai, azure_openai), bge-m3:latest (ollama, lollms), gemini-embedding-001, amazon.titan-embed-text-v2:0 (bedrock), jina-embeddings-v4, voyage-3, all-MiniLM-L6-v2 (local)"), "Embedding model (for azure_openai: the deployment; for local: a model directory, in MODELS_DIR unless absolute)";
    EMBEDDING_TIMEOUT = "EMBEDDING_TIMEOUT", "embedding-timeout", "SECONDS", Value("30"), "Longest one attempt of an embedding call may take (at most TIMEOUT)";
    EMBEDDING_FUNC_MAX_ASYNC = "EMBEDDING_FUNC_MAX_ASYNC", "embedding-func-max-async", "N", Value("8"), "Embedding calls in flight at once, across all workers";
    EMBEDDING_BATCH_NUM = "EMBEDDING_BATCH_NUM", "embedding-batch-num", "N", Value("10"), "Texts sent in one embedding call";
    MODELS_DIR = "MODELS_DIR", "models-dir", "DIR", Value("./models"), "Directory of in-process models (lightrag-master fetch-model installs all-MiniLM-L6-v2 there)";
    LOCAL_MODEL_THREADS = "LOCAL_MODEL_THREADS", "local-model-threads", "N", Value("0"), "CPU threads each worker gives an in-process model (0: CPU cores divided among the workers, at least 1)";
    AZURE_OPENAI_API_VERSION = "AZURE_OPENAI_API_VERSION", "azure-openai-api-version", "VERSION", Value("2024-08-01-preview"), "api-version sent to Azure OpenAI";
    OPENAI_API_KEY = "OPENAI_API_KEY", "openai-api-key", "KEY", Unset, "API key of the openai bindings when LLM_BINDING_API_KEY / EMBEDDING_BINDING_API_KEY is unset";
    AZURE_OPENAI_API_KEY = "AZURE_OPENAI_API_KEY", "azure-openai-api-key", "KEY", Unset, "API key of the azure_openai bindings when LLM_BINDING_API_KEY / EMBEDDING_BINDING_API_KEY is unset";
    AZURE_OPENAI_ENDPOINT = "AZURE_OPENAI_ENDPOINT", "azure-openai-endpoint", "URL", Unset, "Host of the azure_openai bindings when LLM_BINDING_HOST / EMBEDDING_BINDING_HOST is unset";
    GEMINI_API_KEY = "GEMINI_API_KEY", "gemini-api-key", "KEY", Unset, "API key of the gemini bindings when LLM_BINDING_API_KEY / EMBEDDING_BINDING_API_KEY is unset";
    JINA_API_KEY = "JINA_API_KEY", "jina-api-key", "KEY", Unset, "API key of the jina embedding binding when EMBEDDING_BINDING_API_KEY is unset";
    VOYAGE_API_KEY = "VOYAGE_API_KEY", "voyage-api-key", "KEY", Unset, "API key of the voyageai embedding binding when EMBEDDING_BINDING_API_KEY is unset";
    VOYAGEAI_API_KEY = "VOYAGEAI_API_KEY", "voyageai-api-key", "KEY", Unset, "Older name of VOYAGE_API_KEY, read after it";
    AWS_REGION = "AWS_REGION", "aws-region", "REGION", Unset, "AWS region of the bedrock bindings (required with bedrock)";
    AWS_ACCESS_KEY_ID = "AWS_ACCESS_KEY_ID", "aws-access-key-id", "KEY", Unset, "AWS access key the bedrock requests are signed with (SigV4; required with bedrock)";
    AWS_SECRET_ACCESS_KEY = "AWS_SECRET_ACCESS_KEY", "aws-secret-access-key", "SECRET", Unset, "AWS secret key of AWS_ACCESS_KEY_ID (required with bedrock)";
    AWS_SESSION_TOKEN = "AWS_SESSION_TOKEN", "aws-session-token", "TOKEN", Unset, "AWS session token of temporary credentials";
    EMBEDDING_DOCUMENT_PREFIX = "EMBEDDING_DOCUMENT_PREFIX", "embedding-document-prefix", "TEXT", Unset, "Put before every chunk, entity and relation text sent to the embedding model (NO_PREFIX: none; empty is refused)";
    EMBEDDING_QUERY_PREFIX = "EMBEDDING_QUERY_PREFIX", "embedding-query-prefix", "TEXT", Unset, "Put before every query text sent to the embedding model (NO_PREFIX: none; empty is refused)";
    EMBEDDING_SEND_DIM = "EMBEDDING_SEND_DIM", "embedding-send-dim", "BOOL", Value("false"), "Send EMBEDDING_DIM to the provider (dimensions, output_dimension); jina and gemini always send it";
    EMBEDDING_TOKEN_LIMIT = "EMBEDDING_TOKEN_LIMIT", "embedding-token-limit", "TOKENS", Unset, "Texts longer than this many tokens are cut to it before they are embedded";
    EXTRACT_LLM_BINDING = "EXTRACT_LLM_BINDING", "extract-llm-binding", "BINDING", Derived("LLM_BINDING"), "LLM binding of extraction and summaries; another than LLM_BINDING needs EXTRACT_LLM_MODEL and EXTRACT_LLM_BINDING_API_KEY (not for bedrock)";
    EXTRACT_LLM_MODEL = "EXTRACT_LLM_MODEL", "extract-llm-model", "MODEL", Derived("LLM_MODEL"), "LLM model of extraction and summaries";
    EXTRACT_LLM_BINDING_HOST = "EXTRACT_LLM_BINDING_HOST", "extract-llm-binding-host", "URL", Derived("LLM_BINDING_HOST for the same binding, else the binding's default"), "Base URL of the extraction and summaries LLM";
    EXTRACT_LLM_BINDING_API_KEY = "EXTRACT_LLM_BINDING_API_KEY", "extract-llm-binding-api-key", "KEY", Derived("LLM_BINDING_API_KEY for the same binding"), "API key of the extraction and summaries LLM";
    EXTRACT_MAX_ASYNC_LLM = "EXTRACT_MAX_ASYNC_LLM", "extract-max-async-llm", "N", Derived("MAX_ASYNC"), "LLM calls for extraction and summaries in flight at once, across all workers";
    EXTRACT_LLM_TIMEOUT = "EXTRACT_LLM_TIMEOUT", "extract-llm-timeout", "SECONDS", Derived("LLM_TIMEOUT"), "Longest one attempt of an LLM call for extraction and summaries may take (at most TIMEOUT)";
    EXTRACT_AWS_REGION = "EXTRACT_AWS_REGION", "extract-aws-region", "REGION", Derived("AWS_REGION"), "AWS region of a bedrock extraction and summaries LLM";
    EXTRACT_AWS_ACCESS_KEY_ID = "EXTRACT_AWS_ACCESS_KEY_ID", "extract-aws-access-key-id", "KEY", Derived("AWS_ACCESS_KEY_ID"), "AWS access key of a bedrock extraction and summaries LLM";
    EXTRACT_AWS_SECRET_ACCESS_KEY = "EXTRACT_AWS_SECRET_ACCESS_KEY", "extract-aws-secret-access-key", "SECRET", Derived("AWS_SECRET_ACCESS_KEY"), "AWS secret key of a bedrock extraction and summaries LLM";
    EXTRACT_AWS_SESSION_TOKEN = "EXTRACT_AWS_SESSION_TOKEN", "extract-aws-session-token", "TOKEN", Derived("AWS_SESSION_TOKEN"), "AWS session token of a bedrock extraction and summaries LLM";
    KEYWORD_LLM_BINDING = "KEYWORD_LLM_BINDING", "keyword-llm-binding", "BINDING", Derived("LLM_BINDING"), "LLM binding of query keywords; another than LLM_BINDING needs KEYWORD_LLM_MODEL and KEYWORD_LLM_BINDING_API_KEY (not for bedrock)";
    KEYWORD_LLM_MODEL = "KEYWORD_LLM_MODEL", "keyword-llm-model", "MODEL", Derived("LLM_MODEL"), "LLM model of query keywords";
    KEYWORD_LLM_BINDING_HOST = "KEYWORD_LLM_BINDING_HOST", "keyword-llm-binding-host", "URL", Derived("LLM_BINDING_HOST for the same binding, else the binding's default"), "Base URL of the query keywords LLM";
    KEYWORD_LLM_BINDING_API_KEY = "KEYWORD_LLM_BINDING_API_KEY", "keyword-llm-binding-api-key", "KEY", Derived("LLM_BINDING_API_KEY for the same binding"), "API key of the query keywords LLM";
    KEYWORD_MAX_ASYNC_LLM = "KEYWORD_MAX_ASYNC_LLM", "keyword-max-async-llm", "N", Derived("MAX_ASYNC"), "LLM calls for query keywords in flight at once, across all workers";
    KEYWORD_LLM_TIMEOUT = "KEYWORD_LLM_TIMEOUT", "keyword-llm-timeout", "SECONDS", Derived("LLM_TIMEOUT"), "Longest one attempt of an LLM call for query keywords may take (at most TIMEOUT)";
    KEYWORD_AWS_REGION = "KEYWORD_AWS_REGION", "keyword-aws-region", "REGION", Derived("AWS_REGION"), "AWS region of a bedrock query keywords LLM";
    KEYWORD_AWS_ACCESS_KEY_ID = "KEYWORD_AWS_ACCESS_KEY_ID", "keyword-aws-access-key-id", "KEY", Derived("AWS_ACCESS_KEY_ID"), "AWS access key of a bedrock query keywords LLM";
    KEYWORD_AWS_SECRET_ACCESS_KEY = "KEYWORD_AWS_SECRET_ACCESS_KEY", "keyword-aws-secret-access-key", "SECRET", Derived("AWS_SECRET_ACCESS_KEY"), "AWS secret key of a bedrock query keywords LLM";
    KEYWORD_AWS_SESSION_TOKEN = "KEYWORD_AWS_SESSION_TOKEN", "keyword-aws-session-token", "TOKEN", Derived("AWS_SESSION_TOKEN"), "AWS session token of a bedrock query keywords LLM";
    QUERY_LLM_BINDING = "QUERY_LLM_BINDING", "query-llm-binding", "BINDING", Derived("LLM_BINDING"), "LLM binding of answers; another than LLM_BINDING needs QUERY_LLM_MODEL and QUERY_LLM_BINDING_API_KEY (not for bedrock)";
    QUERY_LLM_MODEL = "QUERY_LLM_MODEL", "query-llm-model", "MODEL", Derived("LLM_MODEL"), "LLM model of answers";
    QUERY_LLM_BINDING_HOST = "QUERY_LLM_BINDING_HOST", "query-llm-binding-host", "URL", Derived("LLM_BINDING_HOST for the same binding, else the binding's default"), "Base URL of the answers LLM";
    QUERY_LLM_BINDING_API_KEY = "QUERY_LLM_BINDING_API_KEY", "query-llm-binding-api-key", "KEY", Derived("LLM_BINDING_API_KEY for the same binding"), "API key of the answers LLM";
    QUERY_MAX_ASYNC_LLM = "QUERY_MAX_ASYNC_LLM", "query-max-async-llm", "N", Derived("MAX_ASYNC"), "LLM calls for answers in flight at once, across all workers";
    QUERY_LLM_TIMEOUT = "QUERY_LLM_TIMEOUT", "query-llm-timeout", "SECONDS", Derived("LLM_TIMEOUT"), "Longest one attempt of an LLM call for answers may take (at most TIMEOUT)";
    QUERY_AWS_REGION = "QUERY_AWS_REGION", "query-aws-region", "REGION", Derived("AWS_REGION"), "AWS region of a bedrock answers LLM";
    QUERY_AWS_ACCESS_KEY_ID = "QUERY_AWS_ACCESS_KEY_ID", "query-aws-access-key-id", "KEY", Derived("AWS_ACCESS_KEY_ID"), "AWS access key of a bedrock answers LLM";
    QUERY_AWS_SECRET_ACCESS_KEY = "QUERY_AWS_SECRET_ACCESS_KEY", "query-aws-secret-access-key", "SECRET", Derived("AWS_SECRET_ACCESS_KEY"), "AWS secret key of a bedrock answers LLM";
    QUERY_AWS_SESSION_TOKEN = "QUERY_AWS_SESSION_TOKEN", "query-aws-session-token", "TOKEN", Derived("AWS_SESSION_TOKEN"), "AWS session token of a bedrock answers LLM";
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
    ENABLE_CONTENT_HEADINGS = "ENABLE_CONTENT_HEADINGS", "enable-content-headings", "BOOL", Value("true"), "Give each chunk of the query context its parent headings (content_headings)";
    USER_PROMPT_PREFIX = "USER_PROMPT_PREFIX", "user-prompt-prefix", "TEXT", Unset, "Prepended verbatim to every query's user_prompt (unless the request sets disable_user_prompt_prefix)";
    USER_PROMPT_PREFIX_FILE = "USER_PROMPT_PREFIX_FILE", "user-prompt-prefix-file", "NAME", Unset, "A .md or .txt file under PROMPT_DIR/user_prompt whose text is the prefix (wins over USER_PROMPT_PREFIX)";
    PROMPT_DIR = "PROMPT_DIR", "prompt-dir", "DIR", Value("./prompts"), "Directory of prompt templates (<LightRAG prompt name>.md) that replace the built-in ones, checked at start";
    RERANK_BINDING = "RERANK_BINDING", "rerank-binding", "BINDING", Value("null"), "Reranker of query chunks: null (none), cohere, jina, aliyun, or local (a cross-encoder in process; builds with the local-models feature)";
    RERANK_MODEL = "RERANK_MODEL", "rerank-model", "MODEL", Derived("rerank-v3.5 for cohere, jina-reranker-v2-base-multilingual for jina, gte-rerank-v2 for aliyun"), "Rerank model (for local: the cross-encoder's directory)";
    RERANK_BINDING_HOST = "RERANK_BINDING_HOST", "rerank-binding-host", "URL", Derived("the binding's rerank endpoint"), "Full URL rerank requests are posted to";
    RERANK_BINDING_API_KEY = "RERANK_BINDING_API_KEY", "rerank-binding-api-key", "KEY", Derived("COHERE_API_KEY, JINA_API_KEY or DASHSCOPE_API_KEY, by binding"), "API key of the reranker, sent as a bearer token";
    MIN_RERANK_SCORE = "MIN_RERANK_SCORE", "min-rerank-score", "SCORE", Value("0.0"), "Reranked chunks scoring below this are dropped (0.0 keeps all)";
    MAX_ASYNC_RERANK = "MAX_ASYNC_RERANK", "max-async-rerank", "N", Derived("MAX_ASYNC"), "Rerank calls in flight at once, across all workers";
    RERANK_TIMEOUT = "RERANK_TIMEOUT", "rerank-timeout", "SECONDS", Value("30"), "Longest one rerank call may take, its retries included";
    RERANK_BY_DEFAULT = "RERANK_BY_DEFAULT", "rerank-by-default", "BOOL", Value("true"), "Rerank queries that do not set enable_rerank";
    RERANK_ENABLE_CHUNKING = "RERANK_ENABLE_CHUNKING", "rerank-enable-chunking", "BOOL", Value("false"), "Cohere only: score long chunks piece by piece, each by its best piece";
    RERANK_MAX_TOKENS_PER_DOC = "RERANK_MAX_TOKENS_PER_DOC", "rerank-max-tokens-per-doc", "TOKENS", Value("4096"), "Cohere only: tokens per piece when chunking";
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
