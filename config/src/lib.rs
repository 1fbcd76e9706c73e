//! Every lightrag-master setting, resolved from four layers in one fixed order:
//! command line > process environment > `.env` in the working directory > default.
//!
//! The table in [`spec`] is the single source of truth: it builds the `--help` text,
//! names the environment variable and carries the default. [`Settings::load`] resolves
//! and validates everything at once, so an invalid value stops the master before it
//! binds a socket or forks a worker, with one line naming the setting, where the value
//! came from and the value itself.

pub mod api;
mod bindings;
mod chunker;
mod connections;
mod dotenv;
mod error;
mod hook;
mod layers;
pub mod local_model;
mod models;
pub mod postgres;
pub mod prompt_dir;
mod rerank;
mod resolver;
mod settings;
pub mod spec;
mod storage;
pub mod ui_bundle;

pub use bindings::Binding;
pub use chunker::{ChunkerSettings, THRESHOLD_TYPES};
pub use connections::{ConnectionSettings, TlsFiles};
pub use error::ConfigError;
pub use hook::Hook;
pub use layers::{Environment, Source};
pub use models::{AwsSettings, EmbeddingInput, LlmRole, ModelSettings, ProviderSettings};
pub use postgres::PostgresSettings;
pub use rerank::{RerankBinding, RerankSettings};
pub use settings::{IndexingSettings, LogLevel, MAX_PERMITS, QuerySettings, Settings};
pub use storage::{RedisSettings, StorageSelection};
