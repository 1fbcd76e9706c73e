//! Authentication, LightRAG's way. The mode is fixed at start: open (no accounts, no API
//! key), API key only, or accounts (JWT logins, optionally plus an API key). Every
//! protected request goes through [`Auth::check`], which follows LightRAG's decision
//! order exactly, error strings included: the web UI keys on them.

pub mod accounts;
pub mod jwt;
pub mod whitelist;

use std::time::Duration;

use http::HeaderMap;
use lightrag_config::api::AuthSettings;

use crate::error::ApiError;
use accounts::Accounts;
use jwt::{Claims, GUEST_USER, ROLE_GUEST, ROLE_USER, TokenCodec};
use lightrag_engine::coordination::{LoginThrottle, Renewals};
use whitelist::Whitelist;

pub const INVALID_TOKEN: &str = "Invalid token";
pub const LOGIN_AGAIN: &str = "Invalid token. Please login again.";
pub const NO_CREDENTIALS: &str = "No credentials provided. Please login.";
pub const INVALID_API_KEY: &str = "Invalid API Key";
pub const API_KEY_REQUIRED: &str = "API Key required";
pub const KEY_OR_LOGIN_REQUIRED: &str = "API Key required or login authentication required.";
pub const GUEST_MESSAGE: &str = "Authentication is disabled. Using guest access.";

/// Paths whose successful requests never renew a token (polled endpoints).
const NO_RENEW: [&str; 3] = [
    "/health",
    "/documents/paginated",
    "/documents/pipeline_status",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Open,
    ApiKeyOnly,
    Accounts,
}

/// Why a request was let through.
#[derive(Debug)]
pub enum Access {
    Whitelisted,
    Open,
    ApiKey,
    Token(Claims),
}

/// A request's pass, plus the token to consider for renewal.
#[derive(Debug)]
pub struct Granted {
    pub access: Access,
    renewable: Option<Claims>,
}

pub struct Auth {
    settings: AuthSettings,
    mode: Mode,
    codec: TokenCodec,
    whitelist: Whitelist,
    accounts: Accounts,
    renewals: Box<dyn Renewals>,
    pub throttle: Box<dyn LoginThrottle>,
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        diff |= usize::from(a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl Auth {
    pub fn new(
        settings: AuthSettings,
        renewals: Box<dyn Renewals>,
        throttle: Box<dyn LoginThrottle>,
    ) -> Auth {
        let accounts = Accounts::new(settings.accounts.clone());
        let mode = match (accounts.is_empty(), settings.api_key.is_some()) {
            (false, _) => Mode::Accounts,
            (true, true) => Mode::ApiKeyOnly,
            (true, false) => Mode::Open,
        };
        Auth {
            codec: TokenCodec::new(&settings.token_secret, settings.jwt_algorithm),
            whitelist: Whitelist::new(&settings.whitelist_paths),
            accounts,
            settings,
            mode,
            renewals,
            throttle,
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// `"enabled"` with accounts, `"disabled"` otherwise (LightRAG's `auth_mode`).
    pub fn auth_mode(&self) -> &'static str {
        if self.mode == Mode::Accounts {
            "enabled"
        } else {
            "disabled"
        }
    }

    pub fn guest_token(&self) -> String {
        self.codec.issue(
            GUEST_USER,
            ROLE_GUEST,
            "disabled",
            self.settings.guest_token_expire,
        )
    }

    pub fn login_token(&self, username: &str) -> String {
        self.codec
            .issue(username, ROLE_USER, "enabled", self.settings.token_expire)
    }

    /// LightRAG's combined auth dependency. `path` is the route path (API prefix removed).
    pub fn check(
        &self,
        path: &str,
        headers: &HeaderMap,
        respect_whitelist: bool,
    ) -> Result<Granted, ApiError> {
        if respect_whitelist && self.whitelist.matches(path) {
            return Ok(Granted {
                access: Access::Whitelisted,
                renewable: None,
            });
        }
        let mut co_sent_guest = None;
        if let Some(token) = bearer(headers) {
            let claims = self.codec.verify(token).map_err(|e| {
                tracing::debug!(error = %e, "token refused");
                ApiError::unauthorized(INVALID_TOKEN)
            })?;
            match (self.mode, claims.is_guest()) {
                (Mode::Open, true) | (Mode::Accounts, false) => {
                    return Ok(Granted {
                        renewable: Some(claims.clone()),
                        access: Access::Token(claims),
                    });
                }
                (Mode::ApiKeyOnly, true) => co_sent_guest = Some(claims),
                _ => return Err(ApiError::unauthorized(LOGIN_AGAIN)),
            }
        }
        if self.mode == Mode::Open {
            return Ok(Granted {
                access: Access::Open,
                renewable: None,
            });
        }
        let sent_key = headers.get("x-api-key").map(|v| v.as_bytes());
        if let (Some(expected), Some(sent)) = (&self.settings.api_key, sent_key)
            && constant_time_eq(expected.as_bytes(), sent)
        {
            return Ok(Granted {
                access: Access::ApiKey,
                renewable: co_sent_guest,
            });
        }
        Err(match (self.mode, sent_key, &self.settings.api_key) {
            (Mode::Accounts, _, _) if bearer(headers).is_none() => {
                ApiError::unauthorized(NO_CREDENTIALS)
            }
            (_, Some(_), Some(_)) => ApiError::forbidden(INVALID_API_KEY),
            (_, None, Some(_)) => ApiError::forbidden(API_KEY_REQUIRED),
            _ => ApiError::forbidden(KEY_OR_LOGIN_REQUIRED),
        })
    }

    /// Whether a caller sees `/health`'s configuration tier: a valid API key, a valid
    /// non-guest token with accounts, or anyone when the server is fully open.
    pub fn sees_configuration(&self, granted: &Granted) -> bool {
        match &granted.access {
            Access::ApiKey | Access::Open => true,
            Access::Token(claims) => self.mode == Mode::Open || !claims.is_guest(),
            Access::Whitelisted => false,
        }
    }

    /// A fresh token for `X-New-Token`, when the one used is running low, the path is
    /// not a polled one, and this user was not renewed in the last minute on any worker.
    pub fn renewal(&self, granted: &Granted, path: &str) -> Option<String> {
        let claims = granted.renewable.as_ref()?;
        if !self.settings.token_auto_renew
            || NO_RENEW.iter().any(|p| {
                path.strip_prefix(p)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
        {
            return None;
        }
        let lifetime = if claims.is_guest() {
            self.settings.guest_token_expire
        } else {
            self.settings.token_expire
        };
        let remaining = Duration::from_secs(claims.exp.saturating_sub(jwt::now_secs()));
        if remaining.as_secs_f64() >= self.settings.token_renew_threshold * lifetime.as_secs_f64() {
            return None;
        }
        if !self.renewals.try_claim(&claims.sub) {
            return None;
        }
        tracing::info!(user = %claims.sub, "token renewed");
        Some(self.codec.renew(claims, lifetime))
    }
}
