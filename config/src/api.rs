//! Settings of the HTTP API surface: authentication and what LightRAG's server reads for
//! its routes (CORS, body ceilings, docs, UI strings, prefix, workspace).

use std::time::Duration;

/// LightRAG's public default secret: fine for forgeable guest tokens in open mode, never
/// for accounts.
pub const DEFAULT_TOKEN_SECRET: &str = "lightrag-jwt-default-secret-key!";

/// Longest accepted username, as in LightRAG.
pub const MAX_USERNAME_LEN: usize = 256;

/// HMAC algorithms for the shared-secret JWTs LightRAG issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtAlgorithm {
    Hs256,
    Hs384,
    Hs512,
}

impl JwtAlgorithm {
    pub(crate) fn parse(s: &str) -> Result<JwtAlgorithm, String> {
        match s.to_ascii_uppercase().as_str() {
            "HS256" => Ok(JwtAlgorithm::Hs256),
            "HS384" => Ok(JwtAlgorithm::Hs384),
            "HS512" => Ok(JwtAlgorithm::Hs512),
            "NONE" => Err("unsigned tokens (\"none\") are refused".to_owned()),
            _ => Err("expected HS256, HS384 or HS512".to_owned()),
        }
    }
}

/// A configured password: plain text or a bcrypt hash (`{bcrypt}$2b$...`).
#[derive(Clone, PartialEq, Eq)]
pub enum Password {
    Plain(String),
    Bcrypt(String),
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Password::Plain(_) => "Plain(..)",
            Password::Bcrypt(_) => "Bcrypt(..)",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub username: String,
    pub password: Password,
}

/// `user1:pass1,user2:{bcrypt}$2b$...`, split on the first colon of each entry.
pub(crate) fn parse_accounts(s: &str) -> Result<Vec<Account>, String> {
    let mut accounts: Vec<Account> = Vec::new();
    for entry in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((user, pass)) = entry.split_once(':') else {
            return Err(format!("entry {entry:?} is not user:password"));
        };
        let user = user.trim();
        if user.is_empty() || pass.is_empty() {
            return Err(format!(
                "entry for {user:?} has an empty user name or password"
            ));
        }
        if user.chars().count() > MAX_USERNAME_LEN {
            return Err(format!(
                "user name longer than {MAX_USERNAME_LEN} characters"
            ));
        }
        if accounts.iter().any(|a| a.username == user) {
            return Err(format!("user {user:?} is listed twice"));
        }
        let password = match pass.strip_prefix("{bcrypt}") {
            Some(hash) if hash.starts_with("$2") => Password::Bcrypt(hash.to_owned()),
            Some(_) => {
                return Err(format!(
                    "the {{bcrypt}} password of {user:?} is not a bcrypt hash"
                ));
            }
            None => Password::Plain(pass.to_owned()),
        };
        accounts.push(Account {
            username: user.to_owned(),
            password,
        });
    }
    Ok(accounts)
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuthSettings {
    pub accounts: Vec<Account>,
    pub api_key: Option<String>,
    /// The effective secret: TOKEN_SECRET, or the public default in open mode.
    pub token_secret: String,
    pub jwt_algorithm: JwtAlgorithm,
    pub token_expire: Duration,
    pub guest_token_expire: Duration,
    pub token_auto_renew: bool,
    pub token_renew_threshold: f64,
    /// 0 disables login throttling.
    pub login_max_failed_attempts: u32,
    pub login_lockout_window: Duration,
    pub whitelist_paths: Vec<String>,
}

/// Which UI `/` redirects to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultUi {
    Webui,
    Workspace,
}

impl DefaultUi {
    pub(crate) fn parse(s: &str) -> Result<DefaultUi, String> {
        match s.to_ascii_lowercase().as_str() {
            "webui" => Ok(DefaultUi::Webui),
            "workspace" => Ok(DefaultUi::Workspace),
            _ => Err("expected webui or workspace".to_owned()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiSettings {
    /// Sanitised: characters outside `[A-Za-z0-9_]` replaced by `_`.
    pub workspace: String,
    /// Normalised: empty, or `/segment...` without a trailing slash.
    pub api_prefix: String,
    pub default_ui: DefaultUi,
    /// `["*"]` allows any origin; empty allows none.
    pub cors_origins: Vec<String>,
    pub enable_api_docs: bool,
    /// 0 disables every body ceiling.
    pub max_request_body_bytes: u64,
    /// Whether MAX_REQUEST_BODY_BYTES was set (it then also caps `/documents/text(s)`).
    pub max_request_body_explicit: bool,
    /// `None`: unlimited.
    pub max_upload_size: Option<u64>,
    /// 0: admission control off.
    pub max_pending_documents: usize,
    /// 0: no limit.
    pub max_texts_per_request: usize,
    /// 0: no limit.
    pub max_delete_ids_per_request: usize,
    /// A built web UI to serve; checked to be a directory at start-up.
    pub webui_dir: Option<std::path::PathBuf>,
    pub webui_title: Option<String>,
    pub webui_description: Option<String>,
    pub ai_content_notice: bool,
    /// `<name>:<tag>` the Ollama emulation answers as.
    pub ollama_model: String,
}

/// The longest workspace name, in bytes: it names a directory under INPUT_DIR.
pub const MAX_WORKSPACE_BYTES: usize = 128;

/// Names no workspace may take: `INPUT_DIR/<name>` would be a directory of the default
/// workspace (its archive of parsed files).
pub const RESERVED_WORKSPACES: &[&str] = &["__parsed__"];

/// Why a workspace name cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkspaceNameError {
    #[error("workspace names are ASCII (letters, digits and _)")]
    NotAscii,
    #[error("workspace name too long: {0} bytes (at most {MAX_WORKSPACE_BYTES})")]
    TooLong(usize),
    #[error("workspace name '{0}' is reserved")]
    Reserved(String),
}

/// LightRAG's workspace sanitising (ASCII outside `[A-Za-z0-9_]` becomes `_`), refusing
/// what it cannot represent faithfully: non-ASCII (LightRAG would turn every such byte
/// into `_`, merging distinct tenants), over-long and reserved names.
pub fn workspace_name(s: &str) -> Result<String, WorkspaceNameError> {
    if !s.is_ascii() {
        return Err(WorkspaceNameError::NotAscii);
    }
    if s.len() > MAX_WORKSPACE_BYTES {
        return Err(WorkspaceNameError::TooLong(s.len()));
    }
    let name: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if RESERVED_WORKSPACES.contains(&name.as_str()) {
        return Err(WorkspaceNameError::Reserved(name));
    }
    Ok(name)
}

/// Leading `/` added, trailing `/` dropped, `/` alone means no prefix.
pub(crate) fn normalize_prefix(s: &str) -> String {
    let trimmed = s.trim().trim_end_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else if trimmed.starts_with('/') {
        trimmed.to_owned()
    } else {
        format!("/{trimmed}")
    }
}

/// A comma-separated list with blanks removed.
pub(crate) fn list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_owned)
        .collect()
}

/// LightRAG's booleans: true/1/yes/t/on and false/0/no/f/off, any case.
pub(crate) fn boolean(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "t" | "on" => Ok(true),
        "false" | "0" | "no" | "f" | "off" => Ok(false),
        _ => Err("expected true or false".to_owned()),
    }
}

/// Positive, finite hours.
pub(crate) fn hours(s: &str) -> Result<Duration, String> {
    let h: f64 = s
        .parse()
        .map_err(|_| "expected a number of hours".to_owned())?;
    if !h.is_finite() || h <= 0.0 || h > 24.0 * 365.0 * 100.0 {
        return Err("must be a positive number of hours".to_owned());
    }
    Ok(Duration::from_secs_f64(h * 3600.0))
}

pub(crate) fn fraction(s: &str) -> Result<f64, String> {
    let f: f64 = s.parse().map_err(|_| "expected a number".to_owned())?;
    if !(0.0..=1.0).contains(&f) {
        return Err("must be from 0 to 1".to_owned());
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_parse_plain_and_bcrypt() {
        let a = parse_accounts("alice:pw:with:colons, bob:{bcrypt}$2b$12$abc").unwrap();
        assert_eq!(a[0].username, "alice");
        assert_eq!(a[0].password, Password::Plain("pw:with:colons".into()));
        assert_eq!(a[1].password, Password::Bcrypt("$2b$12$abc".into()));
        assert!(parse_accounts("nocolon").is_err());
        assert!(parse_accounts(&format!("{}:x", "u".repeat(257))).is_err());
        assert!(parse_accounts("a:{bcrypt}plain").is_err());
    }

    #[test]
    fn prefix_and_workspace_normalise() {
        assert_eq!(normalize_prefix("/"), "");
        assert_eq!(normalize_prefix("api/v1/"), "/api/v1");
        assert_eq!(workspace_name("a-b.c_d").unwrap(), "a_b_c_d");
        assert_eq!(workspace_name("").unwrap(), "");
    }

    #[test]
    fn workspace_names_that_cannot_be_represented_are_refused() {
        assert_eq!(workspace_name("é"), Err(WorkspaceNameError::NotAscii));
        assert_eq!(
            workspace_name("__parsed__"),
            Err(WorkspaceNameError::Reserved("__parsed__".into()))
        );
        assert_eq!(
            workspace_name("__parsed.."),
            Err(WorkspaceNameError::Reserved("__parsed__".into())),
            "reserved after sanitising"
        );
        let longest = "w".repeat(MAX_WORKSPACE_BYTES);
        assert_eq!(workspace_name(&longest).unwrap(), longest);
        assert_eq!(
            workspace_name(&format!("{longest}w")),
            Err(WorkspaceNameError::TooLong(MAX_WORKSPACE_BYTES + 1))
        );
    }
}
