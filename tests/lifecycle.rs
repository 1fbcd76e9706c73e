//! The document lifecycle's guarantees: one document per source name even under
//! concurrent requests, deletions that are all-or-nothing when the model fails and
//! finished after a crash, and a status board that never reports a dead worker's job.

mod common;

use std::time::{Duration, Instant};

use common::fake_provider::FakeProvider;
use common::{Server, call, index_texts, pipeline_idle};
use serde_json::json;

/// A server whose LLM and embeddings are the scripted provider, extraction answers not
/// cached (so rebuilding a shared entity asks the model again) and no gleaning.
fn server_on(name: &str, fake: &FakeProvider, workers: &str) -> Server {
    Server::builder(name)
        .args(&["--workers", workers])
        .env("LLM_BINDING", "openai")
        .env("LLM_BINDING_HOST", &fake.url("/v1"))
        .env("LLM_BINDING_API_KEY", "sk")
        .env("EMBEDDING_BINDING", "openai")
        .env("EMBEDDING_BINDING_HOST", &fake.url("/v1"))
        .env("EMBEDDING_BINDING_API_KEY", "sk")
        .env("EMBEDDING_DIM", "16")
        .env("ENABLE_LLM_CACHE_FOR_EXTRACT", "false")
        .env("MAX_GLEANING", "0")
        .start()
}

fn doc_id(server: &Server, source: &str) -> String {
    let page = call(server, "POST", "/documents/paginated", &json!({})).json();
    page["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["file_path"] == source)
        .unwrap_or_else(|| panic!("{source} not listed: {page}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Indexes a.txt and b.txt, which share the entity Alice; returns a.txt's id.
fn index_shared(server: &Server) -> String {
    index_texts(
        server,
        &[
            ("a.txt", "Alice met Bob in Paris."),
            ("b.txt", "Alice wrote to Carol."),
        ],
    );
    doc_id(server, "a.txt")
}

fn start_deletion(server: &Server, doc_id: &str) {
    let r = call(
        server,
        "DELETE",
        "/documents/delete_document",
        &json!({"doc_ids": [doc_id]}),
    );
    assert_eq!(r.json()["status"], "deletion_started", "{}", r.body);
}

fn rows(server: &Server, namespace: &str) -> usize {
    let db = server.dir.join("rag_storage/lightrag.sqlite3");
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            &format!(
                "import sqlite3; print(sqlite3.connect('{}').execute(\"SELECT COUNT(*) FROM kv WHERE namespace = ?\", ('{namespace}',)).fetchone()[0])",
                db.display()
            ),
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn chat_requests(fake: &FakeProvider) -> usize {
    fake.requests()
        .iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("/chat/completions"))
        })
        .count()
}

fn history_has(server: &Server, needle: &str, within: Duration) -> serde_json::Value {
    let deadline = Instant::now() + within;
    loop {
        let status = server.get("/documents/pipeline_status").json();
        let seen = status["history_messages"].as_array().is_some_and(|h| {
            h.iter()
                .any(|m| m.as_str().is_some_and(|m| m.contains(needle)))
        });
        if seen && status["busy"] == false {
            return status;
        }
        assert!(Instant::now() < deadline, "no {needle:?} in {status}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn concurrent_texts_with_one_source_are_accepted_once() {
    let server = Server::builder("lifecycle-concurrent").start();
    let port = server.port;
    let answers: Vec<u16> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..8)
            .map(|i| {
                scope.spawn(move || {
                    common::send(
                        port,
                        "POST",
                        "/documents/text",
                        &[("Content-Type", "application/json")],
                        json!({"text": format!("Version {i} of the same note."), "file_source": "note.txt"})
                            .to_string()
                            .as_bytes(),
                    )
                    .status
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert_eq!(
        answers.iter().filter(|s| **s == 200).count(),
        1,
        "{answers:?}"
    );
    assert!(
        answers.iter().all(|s| *s == 200 || *s == 409),
        "{answers:?}"
    );
    let page = call(&server, "POST", "/documents/paginated", &json!({})).json();
    assert_eq!(page["pagination"]["total_count"], 1, "{page}");
}

#[test]
fn a_deletion_whose_model_call_fails_leaves_the_document_whole() {
    let fake = FakeProvider::start("lifecycle-failing-model", json!({"dim": 16}));
    let server = server_on("lifecycle-failing-delete", &fake, "1");
    let a = index_shared(&server);
    let chunks = rows(&server, "text_chunks");
    // Alice is shared: deleting a.txt rebuilds her from b.txt, which asks the model.
    drop(fake);
    start_deletion(&server, &a);
    let status = history_has(&server, "Deletion failed", Duration::from_secs(60));
    assert_eq!(status["recovery_required"], false, "{status}");
    assert_eq!(rows(&server, "text_chunks"), chunks, "no chunk was deleted");
    let page = call(&server, "POST", "/documents/paginated", &json!({})).json();
    assert_eq!(page["status_counts"]["processed"], 2, "{page}");
    assert!(
        common::entity_exists(&server, "Bob"),
        "a.txt's own entity stays"
    );
}

#[test]
fn a_deletion_interrupted_by_the_death_of_every_worker_is_finished() {
    let fake = FakeProvider::start("lifecycle-crash-model", json!({"dim": 16, "delay": 2}));
    let server = server_on("lifecycle-crash-delete", &fake, "2");
    let a = index_shared(&server);
    let before = chat_requests(&fake);
    start_deletion(&server, &a);
    // The rebuild's model call is in flight: kill every worker under it.
    let deadline = Instant::now() + Duration::from_secs(30);
    while chat_requests(&fake) == before {
        assert!(
            Instant::now() < deadline,
            "the deletion never asked the model"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let old = server.workers();
    for pid in &old {
        unsafe { libc::kill(*pid, libc::SIGKILL) };
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let page = call(&server, "POST", "/documents/paginated", &json!({})).json();
        let status = server.get("/documents/pipeline_status").json();
        if page["pagination"]["total_count"] == 1 && status["busy"] == false {
            assert_eq!(page["documents"][0]["file_path"], "b.txt", "{page}");
            assert_eq!(status["recovery_required"], false, "{status}");
            break;
        }
        assert!(Instant::now() < deadline, "{page}\n{status}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !common::entity_exists(&server, "Bob"),
        "a.txt's own entity is gone"
    );
    assert!(
        common::entity_exists(&server, "Alice"),
        "the shared entity stays"
    );
    assert_eq!(rows(&server, "deletions"), 0, "the marker is gone");
    pipeline_idle(&server, None, Duration::from_secs(10));
}
