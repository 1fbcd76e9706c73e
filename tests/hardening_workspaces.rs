//! Workspaces and the shared tables against hostile input: names sent without
//! credentials create nothing, many names cannot lock legitimate workspaces out, names
//! that cannot be represented are refused (never the default workspace instead), and
//! over-long upload names and page requests get a clear 4xx or an empty page.

mod common;

use std::time::{Duration, Instant};

use common::{Response, Server, call_in_workspace as call, send};
use serde_json::{Value, json};

/// Indexes one text into `workspace` and waits until it is processed.
fn indexed(server: &Server, workspace: &str, text: &str, source: &str) {
    let r = call(
        server,
        "POST",
        "/documents/text",
        Some(workspace),
        &json!({"text": text, "file_source": source}),
    );
    assert_eq!(r.status, 200, "{workspace}: {}", r.body);
    let track = r.json()["track_id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let summary = call(
            server,
            "GET",
            &format!("/documents/track_status/{track}"),
            Some(workspace),
            &Value::Null,
        )
        .json()["status_summary"]
            .clone();
        if summary == json!({"processed": 1}) {
            break;
        }
        assert!(Instant::now() < deadline, "{workspace}: {summary}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn status_counts(server: &Server, workspace: Option<&str>) -> Response {
    call(
        server,
        "GET",
        "/documents/status_counts",
        workspace,
        &Value::Null,
    )
}

#[test]
fn many_workspace_names_never_lock_legitimate_workspaces_out() {
    // One worker: one table of open workspaces to fill.
    let server = Server::builder("many-workspaces")
        .args(&["--workers", "1"])
        .start();
    // Before: the 257th name opened a workspace for good and every later one was 400.
    for i in 0..700 {
        let r = call(
            &server,
            "GET",
            "/health",
            Some(&format!("probe{i}")),
            &Value::Null,
        );
        assert_eq!(r.status, 200, "probe{i}: {}", r.body);
        assert_eq!(r.json()["pipeline_busy"], false);
    }
    indexed(
        &server,
        "legit",
        "Grace Hopper built the first compiler.",
        "hopper.txt",
    );
    // Requests that do open workspaces: idle ones are closed to make room.
    for i in 0..300 {
        let r = status_counts(&server, Some(&format!("tenant{i}")));
        assert_eq!(r.status, 200, "tenant{i}: {}", r.body);
    }
    // More workspaces than there are shared status slots run their pipelines.
    for i in 0..20 {
        indexed(
            &server,
            &format!("team{i}"),
            &format!("Team {i} met Ada Lovelace."),
            "ada.txt",
        );
    }
    let r = call(
        &server,
        "GET",
        "/documents/pipeline_status",
        Some("team19"),
        &Value::Null,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let status = r.json();
    assert_eq!(status["busy"], false, "{status}");
    assert!(
        status["history_messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| !m.as_str().unwrap().contains("team18")),
        "team19's status is its own: {status}"
    );
    assert_eq!(
        status_counts(&server, Some("legit")).json()["status_counts"]["all"],
        1
    );
}

#[test]
fn workspace_names_that_cannot_be_represented_are_refused() {
    let server = Server::builder("bad-workspace-names").start();
    let long = "w".repeat(300);
    for (name, detail) in [
        ("équipe", "ASCII"),
        ("__parsed__", "reserved"),
        ("__parsed..", "reserved"),
        (long.as_str(), "too long"),
    ] {
        for path in ["/documents/status_counts", "/health"] {
            let r = call(&server, "GET", path, Some(name), &Value::Null);
            assert_eq!(r.status, 400, "{name} {path}: {}", r.body);
            let text = r.json()["detail"].as_str().unwrap().to_owned();
            assert!(
                text.contains("LIGHTRAG-WORKSPACE") && text.contains(detail),
                "{text}"
            );
        }
        let r = call(
            &server,
            "POST",
            "/documents/text",
            Some(name),
            &json!({"text": "A tenant's text.", "file_source": "tenant.txt"}),
        );
        assert_eq!(r.status, 400, "{name}: {}", r.body);
    }
    assert_eq!(
        status_counts(&server, None).json()["status_counts"]["all"],
        0,
        "nothing landed in the default workspace"
    );
    assert!(!server.dir.join("inputs/__parsed__").exists());
    // Sanitised as LightRAG does: still accepted.
    assert_eq!(status_counts(&server, Some("team-a")).status, 200);
}

#[test]
fn an_over_long_upload_name_is_a_clear_400() {
    let server = Server::builder("long-upload-name").start();
    let boundary = "----lightragmasterboundary";
    let name = format!("{}.txt", "a".repeat(296));
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--{boundary}--\r\n"
    )
    .into_bytes();
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let r = send(
        server.port,
        "POST",
        "/documents/upload",
        &[("Content-Type", &content_type)],
        &body,
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.json()["detail"],
        "Filename too long: 300 bytes (at most 240)"
    );
}

#[test]
fn paginated_filters_and_pages_are_bounded() {
    let server = Server::builder("paginated-bounds").start();
    common::index_texts(&server, &[("Ada Lovelace wrote notes.", "ada.txt")]);
    let page = |body: Value| call(&server, "POST", "/documents/paginated", None, &body);
    let r = page(json!({"status_filters": vec!["processed"; 40_000]}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["pagination"]["total_count"], 1);
    let r = page(json!({"page": u64::MAX, "page_size": 10}));
    assert_eq!(r.status, 200, "{}", r.body);
    let answer = r.json();
    assert_eq!(answer["documents"], json!([]), "page 2^64-1 is not page 1");
    assert_eq!(answer["pagination"]["page"], u64::MAX);
    assert_eq!(answer["pagination"]["has_next"], false);
    assert_eq!(answer["pagination"]["total_count"], 1);
}

#[test]
fn anonymous_requests_on_whitelisted_routes_open_no_workspace() {
    let server = Server::builder("anonymous-workspaces")
        .env("LIGHTRAG_API_KEY", "k3y")
        .start();
    let chat = |workspace: &str, key: Option<&str>| {
        let mut headers = vec![
            ("Content-Type", "application/json"),
            ("LIGHTRAG-WORKSPACE", workspace),
        ];
        if let Some(key) = key {
            headers.push(("X-API-Key", key));
        }
        let body =
            json!({"stream": false, "messages": [{"role": "user", "content": "/bypass hello"}]});
        send(
            server.port,
            "POST",
            "/api/chat",
            &headers,
            body.to_string().as_bytes(),
        )
    };
    // `/api/*` is whitelisted: reachable without credentials, for the server's
    // workspace only (as in LightRAG).
    let r = chat("anonymous", None);
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(
        r.json()["detail"],
        "Credentials are required to use a workspace other than the server's"
    );
    assert_eq!(chat("", None).status, 200, "the default workspace");
    assert_eq!(chat("tenant", Some("k3y")).status, 200);
    assert_eq!(chat("tenant", None).status, 401, "open or not");
    let r = send(
        server.port,
        "GET",
        "/health",
        &[("LIGHTRAG-WORKSPACE", "anonymous")],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.body);
}
