//! Document status routes over the embedded store, and the storage start-up rules.

#![cfg(feature = "testing")]

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Server, send, sqlite};

/// Writes document status records straight into the server's SQLite file.
fn insert_docs(dir: &std::path::Path, rows: &[(&str, &str, &str)]) {
    let values = rows
        .iter()
        .map(|(id, status, track)| {
            format!(
                "('', '{id}', '{status}', '{id}.txt', '{track}', 'summary of {id}', 42, NULL, NULL, '{{}}', '2026-11-26T00:00:00+00:00', '2026-11-26T00:00:00+00:00')"
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    sqlite(dir, &format!("INSERT INTO doc_status VALUES {values};"));
}

/// SQL queueing `texts` as pending documents `doc-<i>` (content in full_docs, record in
/// doc_status) under `track_id`, the way the text routes store them.
fn pending_docs_sql(track_id: &str, texts: &[String]) -> String {
    let mut statements = String::new();
    for (i, text) in texts.iter().enumerate() {
        statements.push_str(&format!(
            "INSERT INTO kv VALUES ('', 'full_docs', 'doc-{i}', '{{\"content\": \"{text}\", \"file_path\": \"f{i}.txt\"}}');\n\
             INSERT INTO doc_status VALUES ('', 'doc-{i}', 'pending', 'f{i}.txt', '{track_id}', '{text}', {len}, NULL, NULL, '{{}}', '2026-11-26T00:{:02}:{:02}+00:00', '2026-11-26T00:00:00+00:00');\n",
            i / 60,
            i % 60,
            len = text.len()
        ));
    }
    statements
}

#[test]
fn status_counts_and_track_status_read_the_store() {
    let server = Server::builder("docs-status")
        .args(&["--workers", "2"])
        .start();
    assert_eq!(
        server.get("/documents/status_counts").body,
        r#"{"status_counts":{"all":0}}"#
    );
    let empty = server
        .get("/documents/track_status/insert_20261126_000000_deadbeef")
        .json();
    assert_eq!(empty["total_count"], 0);
    assert_eq!(empty["documents"], serde_json::json!([]));
    let blank = server.get("/documents/track_status/%20");
    assert_eq!(blank.status, 400);
    assert_eq!(blank.json()["detail"], "Track ID cannot be empty");

    insert_docs(
        &server.dir,
        &[
            ("doc-a", "processed", "upload_x"),
            ("doc-b", "failed", "upload_x"),
            ("doc-c", "parsing", "insert_y"),
        ],
    );
    // Every worker reads the same store.
    for _ in 0..6 {
        let counts = server.get("/documents/status_counts").json();
        assert_eq!(
            counts["status_counts"],
            serde_json::json!({"all": 3, "failed": 1, "parsing": 1, "processed": 1})
        );
    }
    let track = server.get("/documents/track_status/upload_x").json();
    assert_eq!(track["total_count"], 2);
    assert_eq!(
        track["status_summary"],
        serde_json::json!({"failed": 1, "processed": 1})
    );
    let doc = &track["documents"][0];
    assert_eq!(doc["id"], "doc-a");
    assert_eq!(doc["file_path"], "doc-a.txt");
    assert_eq!(doc["content_length"], 42);
    assert_eq!(doc["chunks_count"], serde_json::Value::Null);
}

#[test]
fn document_routes_require_credentials() {
    let server = Server::builder("docs-auth")
        .env("LIGHTRAG_API_KEY", "k3y")
        .start();
    assert_eq!(server.get("/documents/status_counts").status, 403);
    let r = send(
        server.port,
        "GET",
        "/documents/status_counts",
        &[("X-API-Key", "k3y")],
        b"",
    );
    assert_eq!(r.status, 200);
}

#[test]
fn an_unusable_working_dir_is_an_app_load_failure_and_unknown_backends_stop_start() {
    let builder = Server::builder("docs-badwd")
        .args(&["--working-dir", "occupied/rag"])
        .no_wait();
    builder.file("occupied", "a file, not a directory");
    let mut server = builder.start();
    let status = server
        .wait_exit(Duration::from_secs(5))
        .expect("master exits");
    assert_eq!(status.code(), Some(4), "{}", server.output());
    assert!(server.output().contains("App failed to load."));

    let out = Command::new(common::BIN)
        .current_dir(common::temp_dir("docs-backend"))
        .env("LIGHTRAG_VECTOR_STORAGE", "MilvusVectorDBStorage")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("LIGHTRAG_VECTOR_STORAGE") && stderr.contains("NanoVectorDBStorage"),
        "{stderr}"
    );
}

#[test]
fn pending_documents_are_processed_once_by_one_of_the_workers() {
    let server = Server::builder("docs-pipeline")
        .args(&["--workers", "2"])
        .start();
    let texts = [
        "Elon Musk founded SpaceX in Hawthorne. NASA awarded SpaceX a launch contract.",
        "Ada Lovelace worked with Charles Babbage in London on the Analytical Engine.",
        "Marie Curie studied radioactivity at the University of Paris with Pierre Curie.",
    ];
    let texts: Vec<String> = texts.iter().map(|t| t.to_string()).collect();
    // One left "processing" by a run that died, in the same write: resumed too.
    let sql = pending_docs_sql("insert_t", &texts)
        + "UPDATE doc_status SET status = 'processing' WHERE id = 'doc-2';";
    sqlite(&server.dir, &sql);
    let track = common::processed(&server, "insert_t", 3, Duration::from_secs(10));
    for doc in track["documents"].as_array().unwrap() {
        assert!(doc["chunks_count"].as_u64().unwrap() >= 1, "{doc}");
        assert_eq!(doc["error_msg"], serde_json::Value::Null);
    }
    let output = server.output();
    assert_eq!(
        output.matches("document processed").count(),
        3,
        "each once:\n{output}"
    );
    assert!(output.contains("resumed=1"), "{output}");
}

fn post_json(server: &Server, path: &str, body: &serde_json::Value) -> common::Response {
    send(
        server.port,
        "POST",
        path,
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
}

fn wait_processed(server: &Server, track_id: &str, count: usize) -> serde_json::Value {
    // A bound, not a timing claim: the restart test indexes 300 documents, which takes
    // well past 30 s when the test runner shares the cores with many other servers.
    common::processed(server, track_id, count, Duration::from_secs(120))
}

#[test]
fn inserted_texts_are_durable_then_indexed() {
    let server = Server::builder("docs-insert")
        .args(&["--workers", "2"])
        .start();
    let r = post_json(
        &server,
        "/documents/text",
        &serde_json::json!({"text": "  Grace Hopper built the first compiler at Harvard University.  ", "file_source": "notes/hopper.txt"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let body = r.json();
    assert_eq!(body["status"], "success");
    assert_eq!(
        body["message"],
        "Text successfully received. Processing will continue in background."
    );
    let track_id = body["track_id"].as_str().unwrap().to_owned();
    assert!(track_id.starts_with("insert_"), "{track_id}");
    let track = wait_processed(&server, &track_id, 1);
    let doc = &track["documents"][0];
    assert_eq!(doc["file_path"], "hopper.txt");
    assert_eq!(
        doc["content_summary"],
        "Grace Hopper built the first compiler at Harvard University."
    );
    assert!(doc["id"].as_str().unwrap().starts_with("doc-"));

    // The same source again: 409 with LightRAG's message.
    let again = post_json(
        &server,
        "/documents/text",
        &serde_json::json!({"text": "other", "file_source": "hopper.txt"}),
    );
    assert_eq!(again.status, 409);
    assert_eq!(
        again.json()["detail"],
        "Document storage already contains 'hopper.txt' (Status: processed). Delete the existing record before re-uploading."
    );

    let many = post_json(
        &server,
        "/documents/texts",
        &serde_json::json!({"texts": ["Alan Turing worked at Bletchley Park.", "Claude Shannon founded information theory at Bell Labs."], "file_sources": ["turing.md", "shannon.md"]}),
    );
    assert_eq!(many.status, 200, "{}", many.body);
    assert_eq!(
        many.json()["message"],
        "Texts successfully received. Processing will continue in background."
    );
    wait_processed(&server, many.json()["track_id"].as_str().unwrap(), 2);
    let counts = server.get("/documents/status_counts").json();
    assert_eq!(
        counts["status_counts"],
        serde_json::json!({"all": 3, "processed": 3})
    );

    // The pipeline status is the same whichever worker answers.
    let mut seen = std::collections::HashSet::new();
    for _ in 0..8 {
        let status = server.get("/documents/pipeline_status").json();
        assert_eq!(status["busy"], false);
        assert_eq!(status["job_name"], "Default Job");
        assert!(status["job_start"].as_str().unwrap().ends_with("+00:00"));
        assert_eq!(
            status["latest_message"],
            "Document processing pipeline completed"
        );
        let history = status["history_messages"].as_array().unwrap();
        assert!(
            history
                .iter()
                .any(|m| m.as_str().unwrap().starts_with("Completed processing file"))
        );
        assert_eq!(status["recovery_required"], false);
        seen.insert(status.to_string());
    }
    assert_eq!(seen.len(), 1, "identical answers from every worker");
    assert_eq!(server.get("/health").json()["pipeline_busy"], false);
}

#[test]
fn insert_validation_follows_lightrag() {
    let server = Server::builder("docs-insert-bad")
        .args(&["--workers", "1"])
        .start();
    let detail = |r: &common::Response| r.json()["detail"].clone();
    let r = post_json(
        &server,
        "/documents/text",
        &serde_json::json!({"text": "x"}),
    );
    assert_eq!(
        (r.status, detail(&r)),
        (
            400,
            "A valid file_source is required for text insertion".into()
        )
    );
    let r = post_json(
        &server,
        "/documents/text",
        &serde_json::json!({"text": "x", "file_source": "unknown_source"}),
    );
    assert_eq!(r.status, 400);
    let r = post_json(
        &server,
        "/documents/text",
        &serde_json::json!({"text": "   ", "file_source": "a.txt"}),
    );
    assert_eq!(r.status, 422);
    assert_eq!(
        r.json()["detail"][0]["loc"],
        serde_json::json!(["body", "text"])
    );
    let r = post_json(
        &server,
        "/documents/text",
        &serde_json::json!({"file_source": "a.txt"}),
    );
    assert_eq!(
        (r.status, r.json()["detail"][0]["type"].clone()),
        (422, "missing".into())
    );
    let r = send(
        server.port,
        "POST",
        "/documents/text",
        &[("Content-Type", "application/json")],
        b"{not json",
    );
    assert_eq!(
        (r.status, r.json()["detail"][0]["type"].clone()),
        (422, "json_invalid".into())
    );
    let r = post_json(
        &server,
        "/documents/text",
        &serde_json::json!({"text": "x", "file_source": "a\u{7}.txt"}),
    );
    assert_eq!(r.status, 422);
    let r = post_json(
        &server,
        "/documents/texts",
        &serde_json::json!({"texts": ["a", "b"], "file_sources": ["x/same.txt", "same.txt"]}),
    );
    assert_eq!(
        (r.status, detail(&r)),
        (400, "file_sources must be unique by filename".into())
    );
    let r = post_json(
        &server,
        "/documents/texts",
        &serde_json::json!({"texts": ["a"]}),
    );
    assert_eq!(
        (r.status, detail(&r)),
        (400, "A valid file_source is required for each text".into())
    );
    // Nothing was stored by the refused requests.
    assert_eq!(
        server.get("/documents/status_counts").json()["status_counts"]["all"],
        0
    );
}

#[test]
fn paginated_lists_filters_and_sorts() {
    let server = Server::builder("docs-page")
        .args(&["--workers", "1"])
        .start();
    insert_docs(
        &server.dir,
        &[
            ("doc-a", "processed", "t"),
            ("doc-b", "failed", "t"),
            ("doc-c", "processed", "t"),
            ("doc-d", "parsing", "t"),
        ],
    );
    let page = |body: serde_json::Value| post_json(&server, "/documents/paginated", &body);
    let r = page(serde_json::json!({"page_size": 10, "sort_field": "id", "sort_direction": "asc"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let body = r.json();
    let ids: Vec<&str> = body["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["doc-a", "doc-b", "doc-c", "doc-d"]);
    assert_eq!(
        body["pagination"],
        serde_json::json!({"page": 1, "page_size": 10, "total_count": 4, "total_pages": 1, "has_next": false, "has_prev": false})
    );
    assert_eq!(body["status_counts"]["all"], 4);
    let r = page(serde_json::json!({"status_filter": "processed", "sort_field": "id", "sort_direction": "desc"})).json();
    let ids: Vec<&str> = r["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["doc-c", "doc-a"]);
    // status_filters wins over status_filter.
    let r = page(
        serde_json::json!({"status_filter": "processed", "status_filters": ["failed", "parsing"]}),
    )
    .json();
    assert_eq!(r["pagination"]["total_count"], 2);
    // Page 2 of size 10 is empty but valid.
    let r = page(serde_json::json!({"page": 2, "page_size": 10})).json();
    assert_eq!(r["documents"], serde_json::json!([]));
    assert_eq!(r["pagination"]["has_prev"], true);
    for bad in [
        serde_json::json!({"page": 0}),
        serde_json::json!({"page_size": 5}),
        serde_json::json!({"page_size": 500}),
        serde_json::json!({"sort_field": "size"}),
        serde_json::json!({"sort_direction": "up"}),
        serde_json::json!({"status_filter": "PROCESSED"}),
    ] {
        let r = page(bad.clone());
        assert_eq!(r.status, 422, "{bad}: {}", r.body);
        assert!(r.json()["detail"][0]["loc"][0] == "body", "{}", r.body);
    }
}

#[test]
fn clearing_the_cache_and_every_document() {
    let server = Server::builder("docs-clear")
        .args(&["--workers", "2"])
        .start();
    let r = post_json(
        &server,
        "/documents/text",
        &serde_json::json!({"text": "Linus Torvalds wrote Linux in Helsinki.", "file_source": "linux.txt"}),
    );
    wait_processed(&server, r.json()["track_id"].as_str().unwrap(), 1);
    std::fs::create_dir_all(server.dir.join("inputs")).unwrap();
    std::fs::write(server.dir.join("inputs/leftover.txt"), "x").unwrap();

    let r = post_json(&server, "/documents/clear_cache", &serde_json::json!({}));
    assert_eq!(
        r.body,
        r#"{"status":"success","message":"Successfully cleared all cache"}"#
    );
    let r = send(
        server.port,
        "POST",
        "/documents/clear_cache",
        &[("Content-Type", "application/json")],
        b"[1]",
    );
    assert_eq!(r.status, 422);

    let r = send(server.port, "DELETE", "/documents", &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        serde_json::json!({"status": "success", "message": "All documents cleared successfully. Deleted 1 files."})
    );
    assert!(!server.dir.join("inputs/leftover.txt").exists());
    assert_eq!(
        server.get("/documents/status_counts").json()["status_counts"],
        serde_json::json!({"all": 0})
    );
    // The same source can come back.
    let r = post_json(
        &server,
        "/documents/text",
        &serde_json::json!({"text": "Linux is a kernel.", "file_source": "linux.txt"}),
    );
    assert_eq!(r.status, 200);
    wait_processed(&server, r.json()["track_id"].as_str().unwrap(), 1);
}

#[test]
fn cancelling_a_run_fails_the_rest_and_reprocess_failed_retries_them() {
    let server = Server::builder("docs-cancel")
        .args(&["--workers", "2"])
        .start();
    let r = send(server.port, "POST", "/documents/cancel_pipeline", &[], b"");
    assert_eq!(r.json()["status"], "not_busy");

    // Enough documents that the run is still going when the cancellation arrives.
    let texts: Vec<String> = (0..120)
        .map(|i| format!("Document {i} mentions Alice Smith and Bob Jones in Paris."))
        .collect();
    sqlite(&server.dir, &pending_docs_sql("bulk", &texts));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.get("/documents/pipeline_status").json()["busy"] != true {
        assert!(
            std::time::Instant::now() < deadline,
            "pipeline never started"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let r = send(server.port, "POST", "/documents/cancel_pipeline", &[], b"");
    assert_eq!(r.json()["status"], "cancellation_requested");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while server.get("/documents/pipeline_status").json()["busy"] == true {
        assert!(
            std::time::Instant::now() < deadline,
            "cancellation not honoured"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let counts = server.get("/documents/status_counts").json()["status_counts"].clone();
    let failed = counts["failed"].as_u64().unwrap_or(0);
    assert!(failed > 0, "{counts}");
    assert_eq!(counts["all"], 120);
    assert_eq!(counts.get("pending"), None, "{counts}");
    let failed_docs = post_json(
        &server,
        "/documents/paginated",
        &serde_json::json!({"status_filter": "failed", "page_size": 10}),
    )
    .json();
    assert_eq!(failed_docs["documents"][0]["error_msg"], "User cancelled");

    let r = send(server.port, "POST", "/documents/reprocess_failed", &[], b"");
    assert_eq!(r.json()["status"], "reprocessing_started");
    assert_eq!(r.json()["track_id"], "");
    wait_processed(&server, "bulk", 120);
}

#[test]
fn sigkill_of_the_pipeline_worker_loses_no_document() {
    let server = Server::builder("docs-sigkill")
        .args(&["--workers", "2"])
        .start();
    let texts: Vec<String> = (0..120)
        .map(|i| format!("Document {i} says Alan Turing met Grace Hopper at MIT."))
        .collect();
    sqlite(&server.dir, &pending_docs_sql("kill", &texts));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let runner: i32 = loop {
        let output = server.output();
        if let Some(line) = output
            .lines()
            .find(|l| l.contains("pipeline: processing documents"))
        {
            // "<date> <time> [pid] [INFO] ..."
            let pid = line
                .split('[')
                .nth(1)
                .and_then(|p| p.split(']').next())
                .unwrap();
            break pid.parse().unwrap();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "pipeline never started"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    std::thread::sleep(Duration::from_millis(300));
    unsafe { libc::kill(runner, libc::SIGKILL) };
    let track = wait_processed(&server, "kill", 120);
    assert_eq!(track["total_count"], 120);
    assert!(
        server
            .output()
            .contains("taking over the pipeline of a dead worker"),
        "{}",
        server.output()
    );
}

#[test]
fn graph_labels_come_from_indexed_documents() {
    let server = Server::builder("graph-labels")
        .args(&["--workers", "2"])
        .start();
    let r = post_json(
        &server,
        "/documents/text",
        &serde_json::json!({"text": "Ada Lovelace worked with Charles Babbage in London. Charles Babbage designed the Analytical Engine. Charles Babbage lived in London.", "file_source": "babbage.txt"}),
    );
    wait_processed(&server, r.json()["track_id"].as_str().unwrap(), 1);
    let labels: Vec<String> =
        serde_json::from_value(server.get("/graph/label/list").json()).unwrap();
    for name in [
        "Ada Lovelace",
        "Charles Babbage",
        "London",
        "Analytical Engine",
    ] {
        assert!(labels.contains(&name.to_string()), "{name} in {labels:?}");
    }
    let mut sorted = labels.clone();
    sorted.sort();
    assert_eq!(labels, sorted);
    let popular = server.get("/graph/label/popular?limit=1").json();
    assert_eq!(popular, serde_json::json!(["Charles Babbage"]));
    assert_eq!(
        server.get("/graph/entity/exists?name=London").json(),
        serde_json::json!({"exists": true})
    );
    assert_eq!(
        server.get("/graph/entity/exists?name=Paris").json(),
        serde_json::json!({"exists": false})
    );
    let r = server.get("/graph/entity/exists");
    assert_eq!(
        (r.status, r.json()["detail"][0]["type"].clone()),
        (422, "missing".into())
    );
    for bad in ["0", "1001", "many"] {
        assert_eq!(
            server
                .get(&format!("/graph/label/popular?limit={bad}"))
                .status,
            422,
            "{bad}"
        );
    }
}

fn delete_json(server: &Server, body: &serde_json::Value) -> common::Response {
    send(
        server.port,
        "DELETE",
        "/documents/delete_document",
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
}

#[test]
fn deleting_a_document_keeps_shared_entities_and_drops_its_own() {
    let server = Server::builder("docs-delete")
        .args(&["--workers", "2"])
        .start();
    let r = post_json(
        &server,
        "/documents/texts",
        &serde_json::json!({
            "texts": [
                "Marie Curie worked with Pierre Curie in Paris. Marie Curie received the Nobel Prize.",
                "Pierre Curie studied magnetism in Paris."
            ],
            "file_sources": ["marie.txt", "pierre.txt"]
        }),
    );
    let track = wait_processed(&server, r.json()["track_id"].as_str().unwrap(), 2);
    let marie = track["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["file_path"] == "marie.txt")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        common::entity_exists(&server, "Nobel Prize")
            && common::entity_exists(&server, "Marie Curie")
    );

    for (body, kind) in [
        (serde_json::json!({}), "missing"),
        (serde_json::json!({"doc_ids": []}), "value_error"),
        (serde_json::json!({"doc_ids": ["a", " a "]}), "value_error"),
        (serde_json::json!({"doc_ids": ["  "]}), "value_error"),
        (serde_json::json!({"doc_ids": "a"}), "list_type"),
        (
            serde_json::json!({"doc_ids": ["a"], "delete_file": "yes"}),
            "bool_type",
        ),
    ] {
        let r = delete_json(&server, &body);
        assert_eq!(r.status, 422, "{body}");
        assert_eq!(r.json()["detail"][0]["type"], kind, "{body}");
    }

    let r = delete_json(
        &server,
        &serde_json::json!({"doc_ids": [format!(" {marie} ")]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let answer = r.json();
    assert_eq!(answer["status"], "deletion_started");
    assert_eq!(answer["doc_id"], marie);

    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while server.get("/documents/status_counts").json()["status_counts"]["all"] != 1 {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(100));
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while server.get("/documents/pipeline_status").json()["busy"] == true {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(100));
    }
    // Every worker sees the repaired graph.
    for conn in &mut common::connections_to_each_worker(&server, 2) {
        for (name, present) in [
            ("Marie%20Curie", false),
            ("Nobel%20Prize", false),
            ("Pierre%20Curie", true),
            ("Paris", true),
        ] {
            let path = format!("/graph/entity/exists?name={name}");
            assert_eq!(
                common::get_on(conn, &path).json()["exists"],
                present,
                "{name}"
            );
        }
    }
    let status = server.get("/documents/pipeline_status").json();
    assert!(
        status["history_messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m
                .as_str()
                .unwrap()
                .starts_with(&format!("Deleted document {marie}"))),
        "{status}"
    );
    // The name is free again.
    let again = post_json(
        &server,
        "/documents/text",
        &serde_json::json!({"text": "Marie Curie taught at the Sorbonne.", "file_source": "marie.txt"}),
    );
    assert_eq!(again.status, 200, "{}", again.body);
    wait_processed(&server, again.json()["track_id"].as_str().unwrap(), 1);
    assert!(
        common::entity_exists(&server, "Marie Curie") && common::entity_exists(&server, "Sorbonne")
    );
}

#[test]
fn a_restart_mid_run_resumes_every_document() {
    let mut first = Server::builder("docs-restart").start();
    let texts: Vec<String> = (0..300)
        .map(|i| format!("Document {i}: Alan Turing met Grace Hopper at MIT. ").repeat(30))
        .collect();
    sqlite(&first.dir, &pending_docs_sql("restart", &texts));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while first.get("/documents/status_counts").json()["status_counts"]["processed"]
        .as_u64()
        .unwrap_or(0)
        < 3
    {
        assert!(
            std::time::Instant::now() < deadline,
            "pipeline never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    first.signal(libc::SIGTERM);
    assert!(first.wait_exit(Duration::from_secs(40)).is_some());
    let count = Command::new("python3")
        .args([
            "-c",
            &format!(
                "import sqlite3; print(sqlite3.connect('{}').execute(\"SELECT count(*) FROM doc_status WHERE status = 'processed'\").fetchone()[0])",
                first.dir.join("rag_storage/lightrag.sqlite3").display()
            ),
        ])
        .output()
        .unwrap();
    let before: usize = String::from_utf8_lossy(&count.stdout)
        .trim()
        .parse()
        .unwrap();
    assert!(before < 300, "the run was interrupted ({before} processed)");

    let storage = first.dir.join("rag_storage");
    let second = Server::builder("docs-restart-again")
        .args(&["--working-dir", storage.to_str().unwrap()])
        .start();
    let track = wait_processed(&second, "restart", 300);
    assert_eq!(track["total_count"], 300);
    let resumed = second
        .output()
        .lines()
        .find(|l| l.contains("pipeline: processing documents"))
        .map(str::to_owned)
        .unwrap();
    assert!(
        resumed.contains(&format!("documents={}", 300 - before)),
        "{resumed}"
    );
}

#[test]
fn documents_posted_to_every_worker_at_once_are_indexed_once() {
    let server = Server::builder("docs-concurrent")
        .args(&["--workers", "2"])
        .start();
    let port = server.port;
    let posters: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                (0..10)
                    .map(|i| {
                        let body = serde_json::json!({
                            "text": format!("Poster {t} note {i}: Katherine Johnson computed orbits at NASA Langley."),
                            "file_source": format!("p{t}-{i}.txt"),
                        });
                        let r = send(port, "POST", "/documents/text", &[("Content-Type", "application/json")], body.to_string().as_bytes());
                        assert_eq!(r.status, 200, "{}", r.body);
                        r.json()["track_id"].as_str().unwrap().to_owned()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let tracks: Vec<String> = posters
        .into_iter()
        .flat_map(|p| p.join().unwrap())
        .collect();
    for track in &tracks {
        let docs = wait_processed(&server, track, 1);
        assert_eq!(docs["documents"][0]["chunks_count"], 1);
    }
    let counts = server.get("/documents/status_counts").json();
    assert_eq!(
        counts["status_counts"],
        serde_json::json!({"all": 40, "processed": 40})
    );
    // Each of the 40 chunks states the relation once: nothing was merged twice.
    let edge = Command::new("python3")
        .args([
            "-c",
            &format!(
                "import sqlite3, json; r = sqlite3.connect('{}').execute(\"SELECT data FROM graph_edges WHERE a = 'Katherine Johnson' AND b = 'NASA Langley'\").fetchone(); print(json.loads(r[0])['weight'])",
                server.dir.join("rag_storage/lightrag.sqlite3").display()
            ),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&edge.stdout).trim(), "40.0");
    assert_eq!(
        server
            .get("/graph/entity/exists?name=Katherine%20Johnson")
            .json()["exists"],
        true
    );
}

#[test]
fn a_request_may_choose_its_chunking() {
    let server = Server::builder("docs-chunking").start();
    let text = (0..6)
        .map(|i| {
            format!("Paragraph {i}: Claude Shannon described information entropy at Bell Labs.")
        })
        .collect::<Vec<_>>()
        .join("\n\n");
    let post = |source: &str, chunking: serde_json::Value| {
        post_json(
            &server,
            "/documents/text",
            &serde_json::json!({"text": format!("{text}\n\nFiled as {source}."), "file_source": source, "chunking": chunking}),
        )
    };
    let default = post("default.txt", serde_json::Value::Null);
    let small = post(
        "small.txt",
        serde_json::json!({"strategy": "fixed_token", "params": {"chunk_token_size": 20, "chunk_overlap_token_size": 2}}),
    );
    let paragraphs = post(
        "paragraphs.txt",
        serde_json::json!({"params": {"split_by_character": "\n\n", "split_by_character_only": true}}),
    );
    let mut counts = Vec::new();
    for r in [default, small, paragraphs] {
        assert_eq!(r.status, 200, "{}", r.body);
        let track = wait_processed(&server, r.json()["track_id"].as_str().unwrap(), 1);
        counts.push(track["documents"][0]["chunks_count"].as_u64().unwrap());
    }
    assert_eq!(counts[0], 1, "the server's 1200 tokens hold it all");
    assert!(counts[1] > 3, "20-token chunks: {counts:?}");
    assert_eq!(counts[2], 7, "one chunk per paragraph");

    for (chunking, kind) in [
        (
            serde_json::json!({"params": {"chunk_token_size": "20"}}),
            "int_type",
        ),
        (
            serde_json::json!({"params": {"size": 20}}),
            "extra_forbidden",
        ),
        (serde_json::json!({"strategy": "custom"}), "value_error"),
        (
            serde_json::json!({"params": {"chunk_token_size": 5, "chunk_overlap_token_size": 5}}),
            "value_error",
        ),
    ] {
        let r = post("refused.txt", chunking.clone());
        assert_eq!(r.status, 422, "{chunking}");
        assert_eq!(r.json()["detail"][0]["type"], kind, "{chunking}");
    }
}

#[test]
fn the_same_text_under_a_second_name_is_a_duplicate() {
    let server = Server::builder("docs-duplicate").start();
    let text = "Hedy Lamarr co-invented frequency hopping with George Antheil.";
    let first = post_json(
        &server,
        "/documents/text",
        &serde_json::json!({"text": text, "file_source": "first.txt"}),
    );
    let first_track = first.json()["track_id"].as_str().unwrap().to_owned();
    let original = wait_processed(&server, &first_track, 1)["documents"][0]["id"].clone();
    let second = post_json(
        &server,
        "/documents/text",
        &serde_json::json!({"text": text, "file_source": "second.txt"}),
    );
    let track = second.json()["track_id"].as_str().unwrap().to_owned();
    let doc = common::settled(&server, &track, 1, Duration::from_secs(30)).remove(0);
    assert_eq!(doc["status"], "failed");
    assert_eq!(
        doc["error_msg"],
        format!(
            "Content already exists. Original doc_id: {}",
            original.as_str().unwrap()
        )
    );
    assert_eq!(doc["metadata"]["is_duplicate"], true);
    assert_eq!(doc["metadata"]["original_doc_id"], original);
    assert_eq!(doc["metadata"]["original_track_id"], first_track);

    // Once the original is deleted, the text may come in again.
    common::pipeline_idle(&server, None, Duration::from_secs(10));
    let r = send(
        server.port,
        "DELETE",
        "/documents/delete_document",
        &[("Content-Type", "application/json")],
        serde_json::json!({"doc_ids": [original]})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(r.json()["status"], "deletion_started");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while server.get("/documents/status_counts").json()["status_counts"]["all"] != 1 {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(100));
    }
    let third = post_json(
        &server,
        "/documents/text",
        &serde_json::json!({"text": text, "file_source": "third.txt"}),
    );
    wait_processed(&server, third.json()["track_id"].as_str().unwrap(), 1);
}

#[test]
fn admission_and_batch_limits() {
    let server = Server::builder("docs-admission")
        .env("MAX_PENDING_DOCUMENTS", "2")
        .env("MAX_TEXTS_PER_REQUEST", "3")
        .start();
    let texts = |n: usize, tag: &str| -> serde_json::Value {
        serde_json::json!({
            "texts": (0..n).map(|i| format!("{tag} {i}: Barbara McClintock studied maize genetics.")).collect::<Vec<_>>(),
            "file_sources": (0..n).map(|i| format!("{tag}{i}.txt")).collect::<Vec<_>>(),
        })
    };
    let r = post_json(&server, "/documents/texts", &texts(4, "many"));
    assert_eq!(r.status, 413);
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .starts_with("Too many texts in one request: 4 (maximum 3)")
    );
    let r = post_json(&server, "/documents/texts", &texts(3, "over"));
    assert_eq!(r.status, 429, "3 waiting would exceed 2: {}", r.body);
    assert_eq!(r.header("retry-after"), Some("30"));
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .starts_with("Pipeline is at capacity: ")
    );
    let r = post_json(&server, "/documents/texts", &texts(2, "fits"));
    assert_eq!(r.status, 200, "{}", r.body);
    wait_processed(&server, r.json()["track_id"].as_str().unwrap(), 2);
    // Processed documents no longer count.
    let r = post_json(&server, "/documents/texts", &texts(2, "later"));
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn repair_endpoints_keep_their_contracts() {
    let server = Server::builder("docs-repair").start();
    let r = post_json(
        &server,
        "/documents/text",
        &serde_json::json!({"text": "Rosalind Franklin imaged DNA.", "file_source": "dna.txt"}),
    );
    let track = wait_processed(&server, r.json()["track_id"].as_str().unwrap(), 1);
    let doc_id = track["documents"][0]["id"].as_str().unwrap().to_owned();

    assert_eq!(
        server.get("/documents/source_conflicts").json(),
        serde_json::json!({"conflicts": [], "next_cursor": null})
    );
    assert_eq!(
        server.get("/documents/source_conflicts?limit=0").status,
        422
    );
    assert_eq!(
        server.get("/documents/source_conflicts?limit=201").status,
        422
    );
    assert_eq!(
        server.get("/documents/source_conflicts?cursor=abc").status,
        400
    );

    let dry = post_json(
        &server,
        "/documents/source_conflicts/repair",
        &serde_json::json!({"canonical_source_key": "dna.txt", "primary_doc_id": doc_id}),
    );
    assert_eq!(dry.status, 200, "{}", dry.body);
    let dry = dry.json();
    assert_eq!(
        (dry["candidate_count"].clone(), dry["committed"].clone()),
        (1.into(), false.into())
    );
    let commit = post_json(
        &server,
        "/documents/source_conflicts/repair",
        &serde_json::json!({"canonical_source_key": "dna.txt", "primary_doc_id": doc_id, "dry_run": false, "expected_candidate_count": 1, "expected_candidate_fingerprint": dry["fingerprint"]}),
    );
    assert_eq!(commit.json()["committed"], true);
    let stale = post_json(
        &server,
        "/documents/source_conflicts/repair",
        &serde_json::json!({"canonical_source_key": "dna.txt", "primary_doc_id": doc_id, "dry_run": false, "expected_candidate_count": 2, "expected_candidate_fingerprint": "x"}),
    );
    assert_eq!(stale.status, 409);
    let unchecked = post_json(
        &server,
        "/documents/source_conflicts/repair",
        &serde_json::json!({"canonical_source_key": "dna.txt", "primary_doc_id": doc_id, "dry_run": false}),
    );
    assert_eq!(unchecked.status, 422);
    let stranger = post_json(
        &server,
        "/documents/source_conflicts/repair",
        &serde_json::json!({"canonical_source_key": "dna.txt", "primary_doc_id": "doc-other"}),
    );
    assert_eq!(stranger.status, 409);

    assert_eq!(
        post_json(
            &server,
            "/documents/recovery/force_reset",
            &serde_json::json!({})
        )
        .status,
        400
    );
    let reset = post_json(
        &server,
        "/documents/recovery/force_reset",
        &serde_json::json!({"confirm": true}),
    )
    .json();
    assert_eq!(reset["status"], "no_recovery_required");
    assert_eq!(reset["cancelled_manual_retries"], 0);
}
