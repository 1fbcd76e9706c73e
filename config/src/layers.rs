//! Where a raw value comes from: the process environment and `.env`, captured once per
//! load so that a reload sees a consistent snapshot.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::dotenv;
use crate::error::ConfigError;

/// The layer a setting's value was taken from, for error messages and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    CommandLine(&'static str),
    Environment,
    DotEnv(PathBuf),
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::CommandLine(flag) => write!(f, "command line --{flag}"),
            Source::Environment => f.write_str("process environment"),
            Source::DotEnv(path) => write!(f, "{}", path.display()),
            Source::Default => f.write_str("default"),
        }
    }
}

/// A snapshot of the process environment and of `.env`.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    process: HashMap<String, String>,
    dotenv: HashMap<String, String>,
    dotenv_path: PathBuf,
}

impl Environment {
    /// Reads the current process environment and `dir/.env` (absent is fine).
    pub fn capture(dir: &Path) -> Result<Self, ConfigError> {
        let process = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let dotenv_path = dir.join(".env");
        let dotenv = match std::fs::read_to_string(&dotenv_path) {
            Ok(text) => dotenv::parse(&text).map_err(|reason| ConfigError::DotEnv {
                path: dotenv_path.display().to_string(),
                reason,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
            Err(e) => {
                return Err(ConfigError::DotEnv {
                    path: dotenv_path.display().to_string(),
                    reason: e.to_string(),
                });
            }
        };
        Ok(Environment {
            process,
            dotenv,
            dotenv_path,
        })
    }

    /// Builds a snapshot from explicit maps (tests, embedding).
    pub fn from_maps(process: HashMap<String, String>, dotenv: HashMap<String, String>) -> Self {
        Environment {
            process,
            dotenv,
            dotenv_path: PathBuf::from(".env"),
        }
    }

    /// The value of `name` from the process environment, else from `.env`. Empty values
    /// count as unset, as in LightRAG's `get_env_value`.
    pub fn get(&self, name: &str) -> Option<(&str, Source)> {
        self.lookup(name, false)
    }

    /// Like [`Environment::get`], but an explicitly empty value is returned as such.
    pub fn get_keeping_empty(&self, name: &str) -> Option<(&str, Source)> {
        self.lookup(name, true)
    }

    fn lookup(&self, name: &str, keep_empty: bool) -> Option<(&str, Source)> {
        let wanted = |v: &&String| keep_empty || !v.is_empty();
        if let Some(v) = self.process.get(name).filter(wanted) {
            return Some((v, Source::Environment));
        }
        self.dotenv
            .get(name)
            .filter(wanted)
            .map(|v| (v.as_str(), Source::DotEnv(self.dotenv_path.clone())))
    }
}
