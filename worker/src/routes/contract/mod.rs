//! What the handlers validate, stated in `/openapi.json`, so that a client (or a
//! contract fuzzer) reads the rules the server enforces: each JSON body's required
//! fields, types, ranges, lengths, patterns and enums, and the status codes every route
//! can answer, with FastAPI's error schemas. The handlers read bodies by hand (to answer
//! pydantic's exact 422s), so their schemas are written here as JSON Schema and laid
//! over the document utoipa generates; query and path parameters carry theirs in the
//! handlers' annotations.

mod bodies;

use serde_json::{Value, json};

use crate::app::App;
use crate::auth::Mode;
use crate::auth::whitelist::Whitelist;

/// Routes under admission control (429 with `Retry-After` when the queue is full).
const ADMITTED: [&str; 3] = ["/documents/text", "/documents/texts", "/documents/upload"];

/// Paths outside LightRAG's auth dependency (the public router of `routes::router`).
const PUBLIC: [&str; 5] = [
    "/",
    "/login",
    "/auth-status",
    "/ui/customization",
    "/ui/customization/assets/{asset_hash}/{asset_id}",
];

/// The credentials a guarded operation takes, by auth mode; `None` when the server is
/// open.
fn requirement(app: &App) -> Option<Value> {
    let key = app.settings.auth.api_key.is_some();
    match app.auth.mode() {
        Mode::Open => None,
        Mode::ApiKeyOnly => Some(json!([{"api_key": []}])),
        Mode::Accounts if key => Some(json!([{"api_key": []}, {"bearer": []}])),
        Mode::Accounts => Some(json!([{"bearer": []}])),
    }
}

/// Whether the auth dependency guards `path`: not public, and not whitelisted
/// (`/auth/verify` ignores the whitelist).
fn guarded(whitelist: &Whitelist, path: &str) -> bool {
    !PUBLIC.contains(&path) && (path == "/auth/verify" || !whitelist.matches(path))
}

/// Status codes every operation can answer, beyond its own.
fn common_responses(
    path: &str,
    guarded: bool,
    has_input: bool,
    has_body: bool,
) -> Vec<(&'static str, &'static str)> {
    let mut codes = vec![
        (
            "400",
            "Invalid request header (Host, workspace name) or refused input",
        ),
        ("500", "Internal error; the body carries only an error id"),
    ];
    if guarded {
        codes.push(("401", "Missing or invalid credentials"));
        codes.push(("403", "Credentials refused"));
    }
    if has_input {
        codes.push(("422", "Validation error"));
    }
    if has_body {
        codes.push(("413", "Request body over the route's ceiling"));
    }
    if ADMITTED.contains(&path) {
        codes.push(("429", "Too many documents pending (MAX_PENDING_DOCUMENTS)"));
    }
    codes
}

/// FastAPI's error bodies.
fn error_schemas() -> Value {
    json!({
        "HTTPError": {
            "type": "object", "required": ["detail"],
            "properties": {"detail": {"type": "string"}},
        },
        "ValidationError": {
            "type": "object", "required": ["type", "loc", "msg", "input"],
            "properties": {
                "type": {"type": "string"},
                "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                "msg": {"type": "string"},
                "input": {},
                "ctx": {"type": "object"},
            },
        },
        "HTTPValidationError": {
            "type": "object", "required": ["detail"],
            "properties": {"detail": {"type": "array", "items": {"$ref": "#/components/schemas/ValidationError"}}},
        },
    })
}

fn error_content(code: &str) -> Value {
    let schema = if code == "422" {
        "HTTPValidationError"
    } else {
        "HTTPError"
    };
    json!({"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}})
}

/// Replaces the schema of one of an operation's parameters.
fn set_parameter(operation: &mut Value, name: &str, schema: Value) {
    if let Some(parameters) = operation["parameters"].as_array_mut() {
        for parameter in parameters.iter_mut().filter(|p| p["name"] == name) {
            parameter["schema"] = schema.clone();
        }
    }
}

/// Lays the request bodies and the common answers over the generated document.
pub fn apply(doc: &mut Value, app: &App) {
    let contract = Contract {
        bodies: bodies::bodies(bodies::Ceilings {
            texts: app.settings.api.max_texts_per_request,
            delete_ids: app.settings.api.max_delete_ids_per_request,
        }),
        requirement: requirement(app),
        whitelist: Whitelist::new(&app.settings.auth.whitelist_paths),
    };
    if let Some(paths) = doc["paths"].as_object_mut() {
        for (path, operations) in paths {
            for (method, operation) in operations.as_object_mut().into_iter().flatten() {
                contract.operation(path, method, operation);
            }
        }
    }
    let schemas = &mut doc["components"]["schemas"];
    if let (Some(schemas), Value::Object(errors)) = (schemas.as_object_mut(), error_schemas()) {
        schemas.extend(errors);
    }
}

/// What the running server enforces, for every operation of the document.
struct Contract {
    bodies: Vec<(&'static str, &'static str, Value)>,
    requirement: Option<Value>,
    whitelist: Whitelist,
}

impl Contract {
    fn operation(&self, path: &str, method: &str, operation: &mut Value) {
        if let Some((_, _, schema)) = self
            .bodies
            .iter()
            .find(|(m, p, _)| *m == method && *p == path)
        {
            operation["requestBody"] = request_body(schema.clone());
        }
        if path == "/documents/track_status/{track_id}" {
            set_parameter(operation, "track_id", bodies::non_blank());
        }
        let guard = self
            .requirement
            .as_ref()
            .filter(|_| guarded(&self.whitelist, path));
        if let Some(requirement) = guard {
            operation["security"] = requirement.clone();
        }
        let has_body = operation.get("requestBody").is_some();
        let has_input = has_body || operation.get("parameters").is_some();
        let responses = &mut operation["responses"];
        for (code, description) in common_responses(path, guard.is_some(), has_input, has_body) {
            let response = &mut responses[code];
            if response.is_null() {
                *response = json!({"description": description});
            }
            if response.get("content").is_none() && code != "400" {
                response["content"] = error_content(code);
            }
        }
    }
}

/// A required body of the schema's media type (`x-content-type`, JSON by default).
fn request_body(mut schema: Value) -> Value {
    let content_type = match schema
        .as_object_mut()
        .and_then(|s| s.remove("x-content-type"))
    {
        Some(Value::String(content_type)) => content_type,
        _ => "application/json".to_owned(),
    };
    json!({"required": true, "content": {content_type: {"schema": schema}}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guarded_paths_follow_the_auth_dependency() {
        let whitelist = Whitelist::new(&["/health".to_owned(), "/api/*".to_owned()]);
        for open in ["/", "/login", "/auth-status", "/health", "/api/chat"] {
            assert!(!guarded(&whitelist, open), "{open}");
        }
        for closed in ["/query", "/auth/verify", "/documents/text"] {
            assert!(guarded(&whitelist, closed), "{closed}");
        }
        assert!(guarded(&Whitelist::new(&["/*".to_owned()]), "/auth/verify"));
    }
}
