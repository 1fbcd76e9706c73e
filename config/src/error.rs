use crate::layers::Source;

/// Why a configuration could not be loaded. Each variant renders as one line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A setting has a value that does not parse or is out of range.
    #[error("invalid value {value:?} for {setting} (from {origin}): {reason}")]
    Invalid {
        setting: &'static str,
        origin: Source,
        value: String,
        reason: String,
    },
    /// The command line itself is malformed (unknown flag, missing value ...), or asked
    /// for `--help`/`--version`: `clap::Error::exit` prints the right thing for both.
    #[error("{0}")]
    CommandLine(clap::Error),
    /// `.env` exists but cannot be read or parsed.
    #[error("cannot read {path}: {reason}")]
    DotEnv { path: String, reason: String },
}
