//! The HTTP model bindings against a scripted provider on loopback
//! (`tests/fixtures/fake_provider.py`): request shapes, keys, retries, timeouts,
//! gleaning, summaries, dimension checks and the cross-worker concurrency limit.

mod common;

use std::process::Command;
use std::time::Duration;

use common::fake_provider::FakeProvider;
use common::{Server, send};

fn insert(server: &Server, text: &str, source: &str) -> String {
    let r = send(
        server.port,
        "POST",
        "/documents/text",
        &[("Content-Type", "application/json")],
        serde_json::json!({"text": text, "file_source": source})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["track_id"].as_str().unwrap().to_owned()
}

fn settled(server: &Server, track_id: &str, within: Duration) -> serde_json::Value {
    common::settled(server, track_id, 1, within).remove(0)
}

fn node_description(server: &Server, name: &str) -> String {
    let db = server.dir.join("rag_storage/lightrag.sqlite3");
    let out = Command::new("python3")
        .args([
            "-c",
            &format!(
                "import sqlite3,json; r = sqlite3.connect('{}').execute(\"SELECT data FROM graph_nodes WHERE name = ?\", ('{name}',)).fetchone(); print(json.loads(r[0])['description'])",
                db.display()
            ),
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn openai_binding_sends_lightrag_prompts_retries_and_gleans() {
    let fake = FakeProvider::start(
        "provider-openai",
        serde_json::json!({"fail": [429, 500], "dim": 16}),
    );
    let server = Server::builder("provider-openai-server")
        .env("LLM_BINDING", "openai")
        .env("LLM_BINDING_HOST", &fake.url("/v1/"))
        .env("LLM_BINDING_API_KEY", "sk-llm")
        .env("LLM_MODEL", "gpt-test")
        .env("EMBEDDING_BINDING", "openai")
        .env("EMBEDDING_BINDING_HOST", &fake.url("/v1"))
        .env("EMBEDDING_BINDING_API_KEY", "sk-embed")
        .env("EMBEDDING_MODEL", "embed-test")
        .env("EMBEDDING_DIM", "16")
        .env("EMBEDDING_BATCH_NUM", "2")
        .env("FORCE_LLM_SUMMARY_ON_MERGE", "2")
        .start();
    let health = server.get("/health").json();
    assert_eq!(health["configuration"]["llm_binding"], "openai");
    assert_eq!(health["configuration"]["llm_model"], "gpt-test");
    assert_eq!(
        health["configuration"]["embedding_binding_host"],
        fake.url("/v1")
    );

    let track = insert(
        &server,
        "Marie Curie discovered Polonium in Warsaw.",
        "curie.txt",
    );
    let doc = settled(&server, &track, Duration::from_secs(30));
    assert_eq!(doc["status"], "processed", "{doc}");
    for name in ["Marie Curie", "Polonium", "Warsaw", "Gleaned Thing"] {
        assert!(common::entity_exists(&server, name), "{name}");
    }

    let requests = fake.requests();
    // The two scripted failures were retried.
    assert!(requests.len() >= 4, "{requests:?}");
    let chats: Vec<&serde_json::Value> = requests
        .iter()
        .filter(|r| r["path"] == "/v1/chat/completions")
        .collect();
    let extraction = chats
        .iter()
        .find(|r| r["body"]["messages"].as_array().unwrap().len() == 2)
        .unwrap();
    assert_eq!(extraction["authorization"], "Bearer sk-llm");
    assert_eq!(extraction["body"]["model"], "gpt-test");
    assert_eq!(extraction["body"]["stream"], false);
    let system = extraction["body"]["messages"][0]["content"]
        .as_str()
        .unwrap();
    assert_eq!(extraction["body"]["messages"][0]["role"], "system");
    assert!(
        system.contains("You are a Knowledge Graph Specialist"),
        "{system}"
    );
    assert!(system.contains("Marie Curie discovered Polonium in Warsaw."));
    assert!(system.contains("Entity_types: [person,creature,organization"));
    // Gleaning: the first answer goes back as the assistant turn, then the continue prompt.
    let gleaning = chats
        .iter()
        .find(|r| r["body"]["messages"].as_array().unwrap().len() == 4)
        .unwrap();
    assert_eq!(gleaning["body"]["messages"][2]["role"], "assistant");
    assert!(
        gleaning["body"]["messages"][3]["content"]
            .as_str()
            .unwrap()
            .contains("missed or incorrectly formatted")
    );

    let embeddings: Vec<&serde_json::Value> = requests
        .iter()
        .filter(|r| r["path"] == "/v1/embeddings" && r["body"]["input"].is_array())
        .collect();
    assert!(!embeddings.is_empty());
    for e in &embeddings {
        assert_eq!(e["authorization"], "Bearer sk-embed");
        assert_eq!(e["body"]["model"], "embed-test");
        assert!(
            e["body"]["input"].as_array().unwrap().len() <= 2,
            "EMBEDDING_BATCH_NUM"
        );
    }

    // A second document naming the same entity: two fragments reach
    // FORCE_LLM_SUMMARY_ON_MERGE=2, so the model summarises them.
    let track = insert(&server, "Marie Curie taught in Paris.", "paris.txt");
    assert_eq!(
        settled(&server, &track, Duration::from_secs(30))["status"],
        "processed"
    );
    assert_eq!(
        node_description(&server, "Marie Curie"),
        "Summary of Marie Curie."
    );
    assert!(fake.requests().iter().any(|r| {
        r["body"]["messages"][0]["content"]
            .as_str()
            .is_some_and(|c| c.contains("Description List:"))
    }));
}

#[test]
fn ollama_binding_and_dimension_mismatch() {
    let fake = FakeProvider::start("provider-ollama", serde_json::json!({"dim": 8}));
    let server = Server::builder("provider-ollama-server")
        .env("LLM_BINDING", "ollama")
        .env("LLM_BINDING_HOST", &fake.url(""))
        .env("LLM_MODEL", "qwen-test")
        .env("EMBEDDING_BINDING", "ollama")
        .env("EMBEDDING_BINDING_HOST", &fake.url(""))
        .env("EMBEDDING_DIM", "8")
        .env("MAX_GLEANING", "0")
        .start();
    let track = insert(
        &server,
        "Alan Turing worked at Bletchley Park.",
        "turing.txt",
    );
    assert_eq!(
        settled(&server, &track, Duration::from_secs(30))["status"],
        "processed"
    );
    assert!(common::entity_exists(&server, "Alan Turing"));
    let requests = fake.requests();
    let chat = requests.iter().find(|r| r["path"] == "/api/chat").unwrap();
    assert_eq!(chat["body"]["model"], "qwen-test");
    assert_eq!(chat["body"]["stream"], false);
    let embed = requests.iter().find(|r| r["path"] == "/api/embed").unwrap();
    assert_eq!(embed["body"]["model"], "bge-m3:latest");
    assert!(
        !requests.iter().any(|r| r["body"]["messages"]
            .as_array()
            .is_some_and(|m| m.len() > 2)),
        "MAX_GLEANING=0 sends no follow-up"
    );
    drop(server);

    // The same provider against a server expecting other dimensions: the document fails
    // with the reason, nothing half-written is searchable.
    let mismatch = Server::builder("provider-dim-server")
        .env("LLM_BINDING", "ollama")
        .env("LLM_BINDING_HOST", &fake.url(""))
        .env("EMBEDDING_BINDING", "ollama")
        .env("EMBEDDING_BINDING_HOST", &fake.url(""))
        .env("EMBEDDING_DIM", "16")
        .start();
    let track = insert(&mismatch, "Grace Hopper wrote COBOL.", "hopper.txt");
    let doc = settled(&mismatch, &track, Duration::from_secs(30));
    assert_eq!(doc["status"], "failed");
    assert_eq!(
        doc["error_msg"],
        "embedding dimension mismatch: the model returned 8 dimensions, EMBEDDING_DIM is 16"
    );
}

#[test]
fn azure_paths_keys_and_timeouts() {
    let fake = FakeProvider::start("provider-azure", serde_json::json!({"dim": 8, "delay": 3}));
    let server = Server::builder("provider-azure-server")
        .env("LLM_BINDING", "azure_openai")
        .env("LLM_BINDING_HOST", &fake.url(""))
        .env("LLM_BINDING_API_KEY", "azure-key")
        .env("LLM_MODEL", "my-deployment")
        .env("LLM_TIMEOUT", "1")
        .env("AZURE_OPENAI_API_VERSION", "2024-10-21")
        .env("EMBEDDING_BINDING", "azure_openai")
        .env("EMBEDDING_BINDING_HOST", &fake.url(""))
        .env("EMBEDDING_BINDING_API_KEY", "azure-key")
        .env("EMBEDDING_MODEL", "embed-deployment")
        .env("EMBEDDING_DIM", "8")
        .start();
    let track = insert(&server, "Ada Lovelace met Charles Babbage.", "ada.txt");
    let doc = settled(&server, &track, Duration::from_secs(30));
    assert_eq!(doc["status"], "failed", "{doc}");
    assert_eq!(doc["error_msg"], "openai did not answer within 1 s");
    // Three attempts, each given up after LLM_TIMEOUT: the provider saw all three.
    let requests = fake.requests();
    let chats: Vec<_> = requests
        .iter()
        .filter(|r| r["path"] == "/openai/deployments/my-deployment/chat/completions")
        .collect();
    assert_eq!(chats.len(), 3, "{requests:?}");
    assert_eq!(chats[0]["query"], "api-version=2024-10-21");
    assert_eq!(chats[0]["api_key"], "azure-key");
    assert_eq!(chats[0]["authorization"], serde_json::Value::Null);
    assert!(
        requests
            .iter()
            .any(|r| r["path"] == "/openai/deployments/embed-deployment/embeddings")
    );
    assert_eq!(server.get("/health").status, 200);
}

#[test]
fn max_async_bounds_concurrent_model_calls() {
    let fake = FakeProvider::start(
        "provider-limit",
        serde_json::json!({"dim": 8, "delay": 0.2}),
    );
    let start = |name: &str, max_async: &str| {
        Server::builder(name)
            .args(&["--workers", "2"])
            .env("LLM_BINDING", "openai")
            .env("LLM_BINDING_HOST", &fake.url("/v1"))
            .env("EMBEDDING_DIM", "1024")
            .env("MAX_GLEANING", "0")
            .env("MAX_ASYNC", max_async)
            .env("MAX_PARALLEL_INSERT", "3")
            .env("CHUNK_SIZE", "20")
            .env("CHUNK_OVERLAP_SIZE", "2")
            .start()
    };
    let text = "Alpha Centauri is near. Beta Pictoris is young. Gamma Draconis is bright. Delta Cephei pulses. Epsilon Eridani has a disk. Zeta Puppis is hot.";
    let run = |server: &Server| {
        let tracks: Vec<String> = (0..3)
            .map(|i| {
                insert(
                    server,
                    &format!("{text} Omega{i} closes document {i}."),
                    &format!("stars{i}.txt"),
                )
            })
            .collect();
        for track in tracks {
            assert_eq!(
                settled(server, &track, Duration::from_secs(60))["status"],
                "processed"
            );
        }
    };
    let one = start("provider-limit-1", "1");
    run(&one);
    let peak = |from: usize| {
        fake.requests()[from..]
            .iter()
            .filter_map(|r| r["in_flight"].as_u64())
            .max()
            .unwrap()
    };
    assert_eq!(peak(0), 1, "MAX_ASYNC=1: never two LLM calls at once");
    drop(one);
    let seen = fake.requests().len();
    let three = start("provider-limit-3", "3");
    run(&three);
    let peak3 = peak(seen);
    assert!(
        (2..=3).contains(&peak3),
        "MAX_ASYNC=3 allows up to three: {peak3}"
    );
}

/// TIMEOUT is the budget of a whole model call. The provider here holds every answer far
/// longer than TIMEOUT=1 while LLM_TIMEOUT (240 s) and EMBEDDING_TIMEOUT (30 s) keep
/// their defaults: the call fails on TIMEOUT, with the reason, instead of waiting.
#[test]
fn timeout_bounds_a_stalled_llm_call() {
    let fake = FakeProvider::start("provider-stall-llm", serde_json::json!({"delay": 120}));
    let server = Server::builder("provider-stall-llm-server")
        .env("LLM_BINDING", "openai")
        .env("LLM_BINDING_HOST", &fake.url("/v1"))
        .env("TIMEOUT", "1")
        .start();
    let track = insert(&server, "Ada Lovelace met Charles Babbage.", "ada.txt");
    let doc = settled(&server, &track, Duration::from_secs(20));
    assert_eq!(doc["status"], "failed", "{doc}");
    assert_eq!(doc["error_msg"], "openai did not answer within 1 s");
    let chats = fake
        .requests()
        .iter()
        .filter(|r| r["path"] == "/v1/chat/completions")
        .count();
    assert_eq!(chats, 1, "the budget is spent by the first attempt");
}

#[test]
fn timeout_bounds_a_stalled_embedding_call() {
    let fake = FakeProvider::start(
        "provider-stall-embed",
        serde_json::json!({"dim": 8, "embed_delay": 120}),
    );
    let server = Server::builder("provider-stall-embed-server")
        .env("EMBEDDING_BINDING", "openai")
        .env("EMBEDDING_BINDING_HOST", &fake.url("/v1"))
        .env("EMBEDDING_DIM", "8")
        .env("TIMEOUT", "1")
        .start();
    let track = insert(&server, "Ada Lovelace met Charles Babbage.", "ada.txt");
    let doc = settled(&server, &track, Duration::from_secs(20));
    assert_eq!(doc["status"], "failed", "{doc}");
    assert_eq!(doc["error_msg"], "openai did not answer within 1 s");
}

/// A streamed answer that stops producing fails once it has been silent for the budget;
/// the client sees the pieces so far, then the reason, and the response ends.
#[test]
fn timeout_ends_a_stream_that_stops_producing() {
    let fake = FakeProvider::start(
        "provider-stall-stream",
        serde_json::json!({"words": 20, "piece_delay": 0.0, "stall_after": 2}),
    );
    let server = Server::builder("provider-stall-stream-server")
        .env("LLM_BINDING", "openai")
        .env("LLM_BINDING_HOST", &fake.url("/v1"))
        .env("MAX_GLEANING", "0")
        .env("TIMEOUT", "1")
        .start();
    common::index_texts(&server, &[("ada.txt", "Ada Lovelace met Charles Babbage.")]);
    let r = common::call(
        &server,
        "POST",
        "/query/stream",
        &serde_json::json!({"query": "Who met Charles Babbage?", "ll_keywords": ["Ada Lovelace"], "hl_keywords": ["meeting"]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let lines = common::ndjson(&r);
    let pieces = lines.iter().filter(|l| l["response"].is_string()).count();
    assert_eq!(pieces, 2, "{lines:?}");
    assert_eq!(
        lines.last().unwrap()["error"],
        "openai sent nothing for 1 s in the middle of its answer",
        "{lines:?}"
    );
    assert!(fake.requests().iter().any(|r| r["stream"] == "stalled"));
}
