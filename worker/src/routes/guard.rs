//! LightRAG's auth dependency as a route layer: a protected route's request passes
//! [`Auth::check`](crate::auth::Auth::check) or is answered with its refusal, and an
//! answer to a token running low carries `X-New-Token`.
//!
//! A tower layer of its own rather than `axum::middleware::from_fn`: that one clones
//! the route's boxed service again and boxes two more values on every request, where
//! this one decides before calling the route and wraps its future without boxing.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::HeaderValue;
use tower::{Layer, Service};

use crate::app::App;

/// The layer over the routes it protects.
#[derive(Clone)]
pub struct RequireAuth {
    app: Arc<App>,
    respect_whitelist: bool,
}

impl RequireAuth {
    /// A protected route: WHITELIST_PATHS opens it to everyone.
    pub fn protected(app: Arc<App>) -> RequireAuth {
        RequireAuth {
            app,
            respect_whitelist: true,
        }
    }

    /// `/auth/verify`, which ignores WHITELIST_PATHS.
    pub fn ignoring_whitelist(app: Arc<App>) -> RequireAuth {
        RequireAuth {
            app,
            respect_whitelist: false,
        }
    }
}

impl<S> Layer<S> for RequireAuth {
    type Service = Guarded<S>;

    fn layer(&self, inner: S) -> Guarded<S> {
        Guarded {
            inner,
            rule: self.clone(),
        }
    }
}

/// A route behind [`RequireAuth`].
#[derive(Clone)]
pub struct Guarded<S> {
    inner: S,
    rule: RequireAuth,
}

impl<S> Service<Request> for Guarded<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Unpin,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Checked<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Checked<S::Future> {
        let auth = &self.rule.app.auth;
        let path = req.uri().path();
        let granted = match auth.check(path, req.headers(), self.rule.respect_whitelist) {
            Ok(granted) => granted,
            Err(refused) => return Checked::Refused(Some(refused.into_response())),
        };
        let renewed = auth
            .renewal(&granted, path)
            .and_then(|token| HeaderValue::from_str(&token).ok());
        Checked::Granted {
            route: self.inner.call(req),
            renewed,
        }
    }
}

/// The route's answer, or the refusal made before it was asked.
pub enum Checked<F> {
    Refused(Option<Response>),
    Granted {
        route: F,
        renewed: Option<HeaderValue>,
    },
}

impl<F> Future for Checked<F>
where
    F: Future<Output = Result<Response, Infallible>> + Unpin,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Checked::Refused(refusal) => {
                Poll::Ready(Ok(refusal.take().expect("a refusal is answered once")))
            }
            Checked::Granted { route, renewed } => {
                let Ok(mut response) = ready!(Pin::new(route).poll(cx));
                if let Some(token) = renewed.take() {
                    response.headers_mut().insert("x-new-token", token);
                }
                Poll::Ready(Ok(response))
            }
        }
    }
}
