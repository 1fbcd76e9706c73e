//! `POST /login`, `GET /auth-status`, `GET /auth/verify`.

use std::sync::Arc;

use axum::extract::{FromRequest, Request, State};
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::{API_VERSION, App, CORE_VERSION, ClientAddr};
use crate::auth::{GUEST_MESSAGE, Mode};
use crate::error::{ApiError, FieldError};

/// Fields every auth answer carries for the web UI.
#[derive(Serialize, ToSchema)]
pub struct UiInfo {
    core_version: &'static str,
    api_version: &'static str,
    webui_title: Option<String>,
    webui_description: Option<String>,
    ai_content_notice_enabled: bool,
}

impl UiInfo {
    pub fn of(app: &App) -> UiInfo {
        UiInfo {
            core_version: CORE_VERSION,
            api_version: API_VERSION,
            webui_title: app.settings.api.webui_title.clone(),
            webui_description: app.settings.api.webui_description.clone(),
            ai_content_notice_enabled: app.settings.api.ai_content_notice,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    access_token: String,
    token_type: &'static str,
    auth_mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'static str>,
    #[serde(flatten)]
    ui: UiInfo,
}

#[derive(Serialize, ToSchema)]
pub struct AuthStatus {
    auth_configured: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_type: Option<&'static str>,
    auth_mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'static str>,
    #[serde(flatten)]
    ui: UiInfo,
}

/// OAuth2's password form: `username`, `password`, optional `grant_type=password`.
#[derive(ToSchema)]
pub struct LoginForm {
    username: String,
    password: String,
}

impl<S: Send + Sync> FromRequest<S> for LoginForm {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        let body = crate::extract::body_bytes(req).await?;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
        let field = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let mut errors = Vec::new();
        if let Some(grant) = field("grant_type")
            && grant != "password"
        {
            errors.push(FieldError {
                kind: "string_pattern_mismatch",
                loc: vec!["body".into(), "grant_type".into()],
                msg: "String should match pattern '^password$'".to_owned(),
                input: grant.into(),
                ctx: Some(serde_json::json!({ "pattern": "^password$" })),
            });
        }
        let username = field("username");
        let password = field("password");
        if username.is_none() {
            errors.push(FieldError::missing("body", "username"));
        }
        if password.is_none() {
            errors.push(FieldError::missing("body", "password"));
        }
        match (username, password) {
            (Some(username), Some(password)) if errors.is_empty() => {
                Ok(LoginForm { username, password })
            }
            _ => Err(ApiError::validation(errors)),
        }
    }
}

/// Log in with an account (or get a guest token when no accounts exist).
#[utoipa::path(post, path = "/login", tag = "authentication",
    responses(
        (status = 200, body = LoginResponse),
        (status = 401, description = "Incorrect credentials"),
        (status = 422, description = "Missing form fields"),
        (status = 429, description = "Too many failed login attempts"),
    ))]
pub async fn login(
    State(app): State<Arc<App>>,
    Extension(ClientAddr(peer)): Extension<ClientAddr>,
    form: LoginForm,
) -> Result<Json<LoginResponse>, ApiError> {
    if app.auth.mode() != Mode::Accounts {
        return Ok(Json(LoginResponse {
            access_token: app.auth.guest_token(),
            token_type: "bearer",
            auth_mode: "disabled",
            message: Some(GUEST_MESSAGE),
            ui: UiInfo::of(&app),
        }));
    }
    let client = peer.ip();
    // Counted before bcrypt runs, so parallel attempts cannot all pass the check; off
    // the async threads, since the throttle may be in Redis.
    let reserving = (app.clone(), form.username.clone());
    let reserved = tokio::task::spawn_blocking(move || {
        let (app, username) = reserving;
        app.auth.throttle.reserve(client, &username)
    })
    .await
    .map_err(|e| ApiError::internal(&e))?;
    if let Err(locked) = reserved {
        tracing::warn!(user = %form.username, %client, "login throttled");
        return Err(ApiError::too_many_requests(
            "Too many failed login attempts. Please try again later.",
            locked.retry_after_secs,
        ));
    }
    let checker = app.clone();
    let LoginForm { username, password } = form;
    let user = username.clone();
    // bcrypt is deliberately slow: keep it off the async threads.
    let ok = tokio::task::spawn_blocking(move || {
        let ok = checker.auth.accounts().verify(&user, &password);
        if ok {
            checker.auth.throttle.record_success(client, &user);
        }
        ok
    })
    .await
    .map_err(|e| ApiError::internal(&e))?;
    if !ok {
        tracing::info!(user = %username, %client, "login failed");
        return Err(ApiError::unauthorized("Incorrect credentials"));
    }
    tracing::info!(user = %username, %client, "login succeeded");
    Ok(Json(LoginResponse {
        access_token: app.auth.login_token(&username),
        token_type: "bearer",
        auth_mode: "enabled",
        message: None,
        ui: UiInfo::of(&app),
    }))
}

/// Whether accounts are configured; a guest token when they are not.
#[utoipa::path(get, path = "/auth-status", tag = "authentication", responses((status = 200, body = AuthStatus)))]
pub async fn auth_status(State(app): State<Arc<App>>) -> Json<AuthStatus> {
    let configured = app.auth.mode() == Mode::Accounts;
    Json(AuthStatus {
        auth_configured: configured,
        access_token: (!configured).then(|| app.auth.guest_token()),
        token_type: (!configured).then_some("bearer"),
        auth_mode: app.auth.auth_mode(),
        message: (!configured).then_some(GUEST_MESSAGE),
        ui: UiInfo::of(&app),
    })
}

#[derive(Serialize, ToSchema)]
pub struct VerifyResponse {
    status: &'static str,
}

/// 200 when the credentials sent would be accepted on a protected route; the whitelist
/// does not apply here.
#[utoipa::path(get, path = "/auth/verify", tag = "authentication",
    responses((status = 200, body = VerifyResponse), (status = 401), (status = 403)))]
pub async fn auth_verify() -> Json<VerifyResponse> {
    Json(VerifyResponse { status: "ok" })
}
