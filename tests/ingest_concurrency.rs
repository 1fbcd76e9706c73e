//! How ingestion uses the model, observed at the scripted provider (each request logs
//! the chat and embedding calls in flight when it arrived): a document's chunks are
//! extracted while their vectors are computed, MAX_ASYNC bounds the chat calls of all
//! documents together, and MAX_PARALLEL_INSERT documents are indexed at once.

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
