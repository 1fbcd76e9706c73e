//! Every lightrag-master setting, resolved from four layers in one fixed order:
//! command line > process environment > `.env` in the working directory > default.
//!
//! The table in [`spec`] is the single source of truth: it builds the `--help` text,
//! names the environment variable and carries the default. [`Settings::load`] resolves
//! and validates everything at once, so an invalid value stops the master before it
//! binds a socket or forks a worker, with one line naming the setting, where the value
//! came from and the value itself.

pub mod api;
mod connections;
mod dotenv;
mod error;
mod hook;
mod layers;
pub mod local_model;
mod resolver;
mod settings;
pub mod spec;
mod storage;

pub use connections::{ConnectionSettings, TlsFiles};
pub use error::ConfigError;
pub use hook::Hook;
pub use layers::{Environment, Source};
pub use settings::{
    Binding, IndexingSettings, LogLevel, MAX_PERMITS, ModelSettings, ProviderSettings,
    QuerySettings, Settings,
};
pub use storage::{RedisSettings, StorageSelection};
