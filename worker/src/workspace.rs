//! Workspaces as requests address them: the server's `WORKSPACE` is the default; a
//! request's `LIGHTRAG-WORKSPACE` header selects another, sanitised as LightRAG does and
//! refused (400) when it cannot be represented: never the default instead. A named
//! workspace is opened on first use and kept in this worker's table
//! ([`crate::open_workspaces`]). Any workspace but the server's takes credentials, even
//! on a route WHITELIST_PATHS opens to everyone (LightRAG serves those from the
//! server's workspace only), so that no anonymous request creates state. What a workspace is (its store handle, caches,
//! coordination handles) is the engine's [`lightrag_engine::workspace::Workspace`].

use std::sync::Arc;

use axum::extract::FromRequestParts;
use http::HeaderMap;
use http::request::Parts;
use lightrag_config::api::{WorkspaceNameError, workspace_name};
use lightrag_engine::workspace::Workspace;

use crate::app::App;
use crate::error::ApiError;
use crate::open_workspaces::OpenError;

/// The request header naming the workspace.
pub const HEADER: &str = "LIGHTRAG-WORKSPACE";

/// The workspace a request addresses: its `LIGHTRAG-WORKSPACE` header, or the server's.
pub struct Ws(pub Arc<Workspace>);

/// The sanitised workspace named by the header; `None` without one (or a blank one).
pub fn requested(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(HEADER) else {
        return Ok(None);
    };
    let refused = |e: WorkspaceNameError| ApiError::bad_request(format!("Invalid {HEADER}: {e}"));
    // Only ASCII blanks are trimmed: `str::trim` would also drop a UTF-8 no-break space,
    // selecting the default workspace for a value that is not blank.
    let text = std::str::from_utf8(value.as_bytes())
        .map_err(|_| refused(WorkspaceNameError::NotAscii))?
        .trim_ascii();
    if text.is_empty() {
        return Ok(None);
    }
    workspace_name(text).map(Some).map_err(refused)
}

impl FromRequestParts<Arc<App>> for Ws {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Ws, ApiError> {
        match requested(&parts.headers)? {
            None => Ok(Ws(app.default_workspace.clone())),
            Some(name) => {
                if name == app.default_workspace.name {
                    return Ok(Ws(app.default_workspace.clone()));
                }
                if app
                    .auth
                    .check(parts.uri.path(), &parts.headers, false)
                    .is_err()
                {
                    return Err(ApiError::unauthorized(
                        "Credentials are required to use a workspace other than the server's",
                    ));
                }
                let app = app.clone();
                tokio::task::spawn_blocking(move || app.workspace(&name))
                    .await
                    .map_err(|e| ApiError::internal(&e))?
                    .map(Ws)
                    .map_err(|e| match e {
                        OpenError::TooMany => ApiError::bad_request(e.to_string()),
                        OpenError::Storage(e) => ApiError::engine(&e),
                    })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(value: &[u8]) -> Result<Option<String>, u16> {
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, http::HeaderValue::from_bytes(value).unwrap());
        requested(&headers).map_err(|e| e.status.as_u16())
    }

    #[test]
    fn header_names_are_sanitised_or_refused() {
        assert_eq!(header(b" team-a ").unwrap().as_deref(), Some("team_a"));
        assert_eq!(header(b"  ").unwrap(), None);
        assert_eq!(header("équipe".as_bytes()), Err(400));
        assert_eq!(header(b"caf\xe9"), Err(400));
        assert_eq!(header("\u{a0}".as_bytes()), Err(400), "not blank");
        assert_eq!(header("\u{a0}team".as_bytes()), Err(400));
        assert_eq!(header(b"__parsed__"), Err(400));
        assert_eq!(header(&[b'w'; 300]), Err(400));
        assert_eq!(requested(&HeaderMap::new()).unwrap(), None);
    }

    /// LightRAG's own reading of the header: Starlette decodes it as Latin-1, the server
    /// strips it (Python's whitespace) and rewrites what is outside `[A-Za-z0-9_]`.
    fn lightrag_sanitised(raw: &[u8]) -> String {
        let latin1: String = raw.iter().map(|&b| char::from(b)).collect();
        let python_space = |c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c);
        latin1
            .trim_matches(python_space)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }

    /// Header values as a client can send them (visible ASCII, tab, any byte ≥ 0x80),
    /// with names that sanitise to the reserved one and whitespace beyond ASCII.
    fn header_value() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            prop::sample::select(
                (0x20..=0xffu8)
                    .filter(|&b| b != 0x7f)
                    .chain([b'\t'])
                    .collect::<Vec<_>>()
            )
            .prop_map(|b| vec![b]),
            "[A-Za-z0-9_.-]{1,8}".prop_map(String::into_bytes),
            prop::sample::select(vec![
                "__parsed__",
                "__parsed..",
                " ",
                "\t",
                "\u{a0}",
                "\u{85}",
                "\u{3000}",
                "\u{2003}",
                "é",
            ])
            .prop_map(|s| s.as_bytes().to_vec()),
            (Just(b'w'), 120..140usize).prop_map(|(b, n)| vec![b; n]),
        ];
        prop::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 1024, failure_persistence: None, ..Default::default() })]

        /// Refused with a 400, blank (the server's workspace), or a name of 1 to 128 of
        /// `[A-Za-z0-9_]`, never the reserved one, and exactly LightRAG's sanitising of the
        /// same bytes: two accepted values therefore share a workspace only when LightRAG
        /// would merge them too. Only a value of spaces and tabs selects the default.
        #[test]
        fn any_header_is_refused_or_lightrags_name(raw in header_value()) {
            let blank = raw.iter().all(|&b| b == b' ' || b == b'\t');
            match header(&raw) {
                Ok(None) => proptest::prop_assert!(blank, "{raw:?} selected the default"),
                Ok(Some(name)) => {
                    proptest::prop_assert!((1..=128).contains(&name.len()));
                    proptest::prop_assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
                    proptest::prop_assert_ne!(name.as_str(), "__parsed__");
                    proptest::prop_assert_eq!(name, lightrag_sanitised(&raw), "{:?}", raw);
                }
                Err(status) => {
                    proptest::prop_assert_eq!(status, 400);
                    proptest::prop_assert!(!blank);
                }
            }
        }
    }
}
