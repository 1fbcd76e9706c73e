//! How ingestion uses the model, observed at the scripted provider (each request logs
//! the chat and embedding calls in flight when it arrived): a document's chunks are
//! extracted while their vectors are computed, MAX_ASYNC bounds the chat calls of all
//! documents together, MAX_PARALLEL_INSERT documents are indexed at once, and the
//! documents that finish extracting while a merge runs are merged together next, even
//! when the worker merging them dies.

mod common;

use std::time::Duration;

use common::fake_provider::FakeProvider;
use common::{Server, settled};

fn server(name: &str, fake: &FakeProvider, settings: &[(&str, &str)]) -> Server {
    let mut builder = Server::builder(name)
        .env("LLM_BINDING", "openai")
        .env("LLM_BINDING_HOST", &fake.url("/v1"))
        .env("EMBEDDING_BINDING", "openai")
        .env("EMBEDDING_BINDING_HOST", &fake.url("/v1"))
        .env("EMBEDDING_DIM", "8")
        .env("MAX_GLEANING", "0");
    for (key, value) in settings {
        builder = builder.env(key, value);
    }
    builder.start()
}

/// Indexes `texts` in one request and waits until all are processed.
fn index(server: &Server, texts: &[String]) {
    let sources: Vec<String> = (0..texts.len()).map(|i| format!("doc{i}.txt")).collect();
    let r = common::call(
        server,
        "POST",
        "/documents/texts",
        &serde_json::json!({"texts": texts, "file_sources": sources}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let track = r.json()["track_id"].as_str().unwrap().to_owned();
    for doc in settled(server, &track, texts.len(), Duration::from_secs(120)) {
        assert_eq!(doc["status"], "processed", "{doc}");
    }
}

fn chats(fake: &FakeProvider) -> Vec<serde_json::Value> {
    fake.requests()
        .into_iter()
        .filter(|r| r["path"] == "/v1/chat/completions")
        .collect()
}

fn peak_chats(fake: &FakeProvider) -> u64 {
    chats(fake)
        .iter()
        .map(|r| r["busy"]["chat"].as_u64().unwrap())
        .max()
        .unwrap()
}

#[test]
fn chunks_are_extracted_while_their_vectors_are_computed() {
    // Both kinds of call last a second: whichever reaches the model second finds the
    // other in flight, unless extraction waits for the chunk's embedding to finish.
    let fake = FakeProvider::start(
        "ingest-overlap",
        serde_json::json!({"dim": 8, "delay": 1.0, "embed_delay": 1.0}),
    );
    let server = server("ingest-overlap-server", &fake, &[]);
    index(
        &server,
        &["Ada Lovelace wrote the first program for the Analytical Engine.".to_owned()],
    );
    let first_chat = &chats(&fake)[0];
    let first_embedding = fake
        .requests()
        .into_iter()
        .find(|r| {
            r["path"] == "/v1/embeddings"
                && r["body"]["input"].to_string().contains("the first program")
        })
        .expect("the chunk was embedded");
    assert!(
        first_chat["busy"]["embed"] == 1 || first_embedding["busy"]["chat"] == 1,
        "the extraction ran while the chunk's embedding was in flight: {first_chat} {first_embedding}"
    );
}

#[test]
fn max_async_bounds_the_chat_calls_of_every_document_together() {
    let fake = FakeProvider::start(
        "ingest-max-async",
        serde_json::json!({"dim": 8, "delay": 0.3}),
    );
    let server = server(
        "ingest-max-async-server",
        &fake,
        &[
            ("MAX_ASYNC", "3"),
            ("MAX_PARALLEL_INSERT", "3"),
            ("CHUNK_SIZE", "12"),
            ("CHUNK_OVERLAP_SIZE", "2"),
        ],
    );
    let texts: Vec<String> = (0..3)
        .map(|i| {
            format!(
                "Star{i} Alpha is near. Star{i} Beta is young. Star{i} Gamma is bright. \
                 Star{i} Delta pulses. Star{i} Epsilon has a disk. Star{i} Zeta is hot."
            )
        })
        .collect();
    index(&server, &texts);
    assert!(chats(&fake).len() >= 6, "several chunks per document");
    assert_eq!(
        peak_chats(&fake),
        3,
        "three documents of several chunks keep MAX_ASYNC=3 calls in flight, never more"
    );
}

#[test]
fn max_parallel_insert_documents_are_indexed_at_once() {
    let fake = FakeProvider::start(
        "ingest-parallel",
        serde_json::json!({"dim": 8, "delay": 0.5}),
    );
    let server = server(
        "ingest-parallel-server",
        &fake,
        &[("MAX_ASYNC", "8"), ("MAX_PARALLEL_INSERT", "2")],
    );
    // One chunk each: every chat call in flight is a different document's.
    let texts: Vec<String> = (0..4)
        .map(|i| format!("Document{i} Alpha met Document{i} Beta in Paris."))
        .collect();
    index(&server, &texts);
    assert_eq!(chats(&fake).len(), 4, "one extraction per document");
    assert_eq!(
        peak_chats(&fake),
        2,
        "two documents extract at once with MAX_PARALLEL_INSERT=2, never three"
    );
}

/// Documents that each name Ada Lovelace and Charles Babbage in a sentence of their own.
fn shared_entity_texts(count: usize) -> Vec<String> {
    (0..count)
        .map(|i| format!("Ada Lovelace met Charles Babbage in London on day {i}."))
        .collect()
}

/// The entity's properties, read through the graph explorer.
fn node(server: &Server, name: &str) -> serde_json::Value {
    let graph = server
        .get(&format!(
            "/graphs?label={}&max_depth=1",
            name.replace(' ', "%20")
        ))
        .json();
    graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == name)
        .unwrap_or_else(|| panic!("{name} is in the graph: {graph}"))["properties"]
        .clone()
}

#[test]
fn documents_extracted_while_a_merge_runs_share_the_next_one() {
    // Every embedding takes half a second, the merge's too: documents finish extracting
    // while the merge before them embeds, and wait for the next merge together.
    let fake = FakeProvider::start(
        "ingest-batches",
        serde_json::json!({"dim": 8, "delay": 0.0, "embed_delay": 0.5}),
    );
    let server = server(
        "ingest-batches-server",
        &fake,
        &[("MAX_ASYNC", "8"), ("MAX_PARALLEL_INSERT", "2")],
    );
    let texts = shared_entity_texts(6);
    index(&server, &texts);
    let merges = fake
        .requests()
        .into_iter()
        .filter(|r| {
            r["path"] == "/v1/embeddings"
                && r["body"]["input"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| t.as_str().unwrap().starts_with("Ada Lovelace\n"))
        })
        .count();
    assert!(
        (1..texts.len()).contains(&merges),
        "six documents naming Ada Lovelace merged in fewer than six merges: {merges}"
    );
    // Merged as one by one: every document is a source, every sentence a fragment.
    let ada = node(&server, "Ada Lovelace");
    for i in 0..texts.len() {
        let file = format!("doc{i}.txt");
        assert!(
            ada["file_path"]
                .as_str()
                .unwrap()
                .split("<SEP>")
                .any(|f| f == file),
            "{ada}"
        );
    }
    assert_eq!(
        ada["source_id"].as_str().unwrap().split("<SEP>").count(),
        texts.len()
    );
}

#[test]
fn a_worker_killed_during_a_merge_leaves_its_documents_to_be_indexed_again() {
    let fake = FakeProvider::start(
        "ingest-merge-crash",
        serde_json::json!({"dim": 8, "delay": 0.0, "embed_delay": 0.3}),
    );
    let server = Server::builder("ingest-merge-crash-server")
        .args(&["--workers", "2"])
        .env("LLM_BINDING", "openai")
        .env("LLM_BINDING_HOST", &fake.url("/v1"))
        .env("EMBEDDING_BINDING", "openai")
        .env("EMBEDDING_BINDING_HOST", &fake.url("/v1"))
        .env("EMBEDDING_DIM", "8")
        .env("MAX_GLEANING", "0")
        .env("MAX_PARALLEL_INSERT", "3")
        .start();
    let texts = shared_entity_texts(9);
    let sources: Vec<String> = (0..texts.len()).map(|i| format!("doc{i}.txt")).collect();
    let r = common::call(
        &server,
        "POST",
        "/documents/texts",
        &serde_json::json!({"texts": texts, "file_sources": sources}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let track = r.json()["track_id"].as_str().unwrap().to_owned();
    // The first merge is embedding the entities: kill the worker running it.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !fake.requests().iter().any(|r| {
        r["path"] == "/v1/embeddings" && r["body"]["input"].to_string().contains("Ada Lovelace\\n")
    }) {
        assert!(std::time::Instant::now() < deadline, "no merge started");
        std::thread::sleep(Duration::from_millis(10));
    }
    let runner = server
        .output()
        .lines()
        .find(|l| l.contains("pipeline: processing documents"))
        .and_then(|l| l.split('[').nth(1)?.split(']').next()?.parse::<i32>().ok())
        .expect("the pipeline's worker logged its start");
    unsafe { libc::kill(runner, libc::SIGKILL) };
    for doc in settled(&server, &track, texts.len(), Duration::from_secs(60)) {
        assert_eq!(doc["status"], "processed", "{doc}");
    }
    // The batch the worker died in was merged again, whole, and counted once.
    let ada = node(&server, "Ada Lovelace");
    assert_eq!(
        ada["source_id"].as_str().unwrap().split("<SEP>").count(),
        texts.len(),
        "{ada}"
    );
    let graph = server
        .get("/graphs?label=Ada%20Lovelace&max_depth=1")
        .json();
    let edge = graph["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            let ends = [e["source"].as_str().unwrap(), e["target"].as_str().unwrap()];
            ends.contains(&"Ada Lovelace") && ends.contains(&"Charles Babbage")
        })
        .unwrap_or_else(|| panic!("{graph}"));
    assert_eq!(edge["properties"]["weight"].as_f64(), Some(9.0), "{edge}");
}
