//! CORS_ORIGINS, answered as tower-http's `CorsLayer` configured the LightRAG way
//! answered, header for header and in the same order: `*` allows any origin (without
//! credentials), a list allows those origins (with credentials); every method and
//! header is allowed; `X-New-Token` is readable by scripts.
//!
//! Every header but the allowed origin is the same for every request, so they are made
//! once here, where the layer built them per request: the preflight's, and the ones
//! every other answer gets (even without `Origin`, as the layer did). Every `OPTIONS`
//! request is a preflight and never reaches the router, as with the layer.

use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, Response, StatusCode};

/// A CORS_ORIGINS entry that is no header value.
#[derive(Debug, thiserror::Error)]
#[error("invalid CORS origin {0:?}")]
pub struct InvalidOrigin(String);

/// Which origins may read the answers.
enum Origins {
    Any,
    Listed(Vec<HeaderValue>),
}

pub struct Cors {
    origins: Origins,
    /// What every answer but a preflight gets besides the allowed origin, `Vary` first.
    vary: HeaderValue,
    credentials: Option<HeaderValue>,
    expose: HeaderValue,
}

fn any() -> HeaderValue {
    HeaderValue::from_static("*")
}

impl Cors {
    pub fn new(origins: &[String]) -> Result<Cors, InvalidOrigin> {
        let any = origins.iter().any(|o| o == "*");
        let origins = if any {
            Origins::Any
        } else {
            Origins::Listed(
                origins
                    .iter()
                    .map(|o| HeaderValue::from_str(o).map_err(|_| InvalidOrigin(o.clone())))
                    .collect::<Result<_, _>>()?,
            )
        };
        Ok(Cors {
            origins,
            vary: HeaderValue::from_static(
                "origin, access-control-request-method, access-control-request-headers",
            ),
            credentials: (!any).then(|| HeaderValue::from_static("true")),
            expose: HeaderValue::from_static("x-new-token"),
        })
    }

    /// The allowed origin for a request sent from `origin`.
    fn allowed(&self, origin: Option<&HeaderValue>) -> Option<HeaderValue> {
        match &self.origins {
            Origins::Any => Some(any()),
            Origins::Listed(list) => origin.filter(|o| list.contains(o)).cloned(),
        }
    }

    /// The answer to a preflight (any `OPTIONS` request), from its headers.
    pub fn preflight<B: Default>(&self, request: &HeaderMap) -> Response<B> {
        let mut response = Response::new(B::default());
        *response.status_mut() = StatusCode::OK;
        let headers = response.headers_mut();
        if let Some(credentials) = &self.credentials {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                credentials.clone(),
            );
        }
        headers.insert(header::VARY, self.vary.clone());
        let (methods, allowed_headers) = match self.origins {
            Origins::Any => (Some(any()), Some(any())),
            Origins::Listed(_) => (
                request.get(header::ACCESS_CONTROL_REQUEST_METHOD).cloned(),
                request.get(header::ACCESS_CONTROL_REQUEST_HEADERS).cloned(),
            ),
        };
        let allowed = self.allowed(request.get(header::ORIGIN));
        for (name, value) in [
            (header::ACCESS_CONTROL_ALLOW_METHODS, methods),
            (header::ACCESS_CONTROL_ALLOW_HEADERS, allowed_headers),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed),
        ] {
            if let Some(value) = value {
                headers.insert(name, value);
            }
        }
        response
    }

    /// Adds the CORS headers to the answer to a request sent from `origin`: `Vary` added
    /// to any the answer has, the others replacing any of the same name.
    pub fn apply(&self, origin: Option<&HeaderValue>, headers: &mut HeaderMap) {
        headers.append(header::VARY, self.vary.clone());
        if let Some(credentials) = &self.credentials {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                credentials.clone(),
            );
        }
        if let Some(allowed) = self.allowed(origin) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
        }
        headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, self.expose.clone());
    }

    /// Whether a request with this method is a preflight.
    pub fn is_preflight(method: &Method) -> bool {
        method == Method::OPTIONS
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use axum::body::Body;
    use http::Request;
    use tower::{Layer, Service};
    use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};

    use super::*;

    /// The layer this module replaces, as the worker configured it.
    fn layer(origins: &[String]) -> CorsLayer {
        let layer = CorsLayer::new().expose_headers([http::HeaderName::from_static("x-new-token")]);
        if origins.iter().any(|o| o == "*") {
            return layer
                .allow_origin(AllowOrigin::any())
                .allow_methods(tower_http::cors::Any)
                .allow_headers(tower_http::cors::Any);
        }
        let list: Vec<HeaderValue> = origins.iter().map(|o| o.parse().unwrap()).collect();
        layer
            .allow_origin(AllowOrigin::list(list))
            .allow_methods(AllowMethods::mirror_request())
            .allow_headers(AllowHeaders::mirror_request())
            .allow_credentials(true)
    }

    /// What a handler answers: a body and headers of its own, `Vary` among them.
    async fn handler(_: Request<Body>) -> Result<Response<Body>, Infallible> {
        let mut response = Response::new(Body::from("{}"));
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        headers.insert(header::VARY, "accept-encoding".parse().unwrap());
        Ok(response)
    }

    fn listed(headers: &HeaderMap) -> Vec<(String, String)> {
        headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
            .collect()
    }

    async fn both(origins: &[String], method: Method, sent: &[(&str, &str)]) {
        let mut request = Request::builder().method(method.clone()).uri("/x");
        for (name, value) in sent {
            request = request.header(*name, *value);
        }
        let request = request.body(Body::empty()).unwrap();
        let headers = request.headers().clone();
        let mut service = layer(origins).layer(tower::service_fn(handler));
        let theirs = service.call(request).await.unwrap();
        let cors = Cors::new(origins).unwrap();
        let ours = if Cors::is_preflight(&method) {
            cors.preflight::<Body>(&headers)
        } else {
            let mut response = handler(Request::new(Body::empty())).await.unwrap();
            cors.apply(headers.get(header::ORIGIN), response.headers_mut());
            response
        };
        assert_eq!(
            ours.status(),
            theirs.status(),
            "{origins:?} {method} {sent:?}"
        );
        assert_eq!(
            listed(ours.headers()),
            listed(theirs.headers()),
            "{origins:?} {method} {sent:?}"
        );
    }

    #[tokio::test]
    async fn answers_header_for_header_as_tower_https_layer() {
        let configurations = [
            vec!["*".to_owned()],
            vec!["http://a.example".to_owned(), "http://b.example".to_owned()],
            vec![],
        ];
        let requests: [&[(&str, &str)]; 5] = [
            &[],
            &[("origin", "http://b.example")],
            &[("origin", "http://evil.example")],
            &[
                ("origin", "http://a.example"),
                ("access-control-request-method", "DELETE"),
                ("access-control-request-headers", "x-api-key, content-type"),
            ],
            &[("access-control-request-method", "POST")],
        ];
        for origins in &configurations {
            for sent in requests {
                for method in [Method::GET, Method::POST, Method::OPTIONS] {
                    both(origins, method, sent).await;
                }
            }
        }
    }

    #[test]
    fn refuses_an_origin_that_is_no_header_value() {
        let error = Cors::new(&["http://a.example\n".to_owned()]).err().unwrap();
        assert_eq!(
            error.to_string(),
            "invalid CORS origin \"http://a.example\\n\""
        );
    }
}
