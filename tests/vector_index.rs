//! The embedded store's HNSW index seen from outside: with a threshold low enough that
//! the chunks get a segment (published by a background build), a naive query finds the
//! chunks of the document it names, the same after a restart (the segments are mapped
//! again from WORKING_DIR) and never the chunks of a deleted document; and
//! `lightrag-master vector-recall` measures the index against exact search.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{BIN, Server, call, send};
use serde_json::json;

const WORDS: [&str; 16] = [
    "aurora", "basalt", "cobalt", "dolmen", "ember", "fjord", "glacier", "harbor", "iris",
    "juniper", "kelp", "lagoon", "meadow", "nebula", "obsidian", "prairie",
];

fn documents() -> Vec<(String, String)> {
    WORDS
        .iter()
        .map(|w| {
            let text = format!("The {w} survey counted every {w} sample near the {w} station. ")
                .repeat(12);
            (format!("{w}.txt"), text)
        })
        .collect()
}

/// The file of each chunk a naive query returns.
fn chunk_files(server: &Server, word: &str) -> Vec<String> {
    let r = call(
        server,
        "POST",
        "/query/data",
        &json!({"query": format!("{word} survey samples"), "mode": "naive", "chunk_top_k": 5}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["data"]["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["file_path"].as_str().unwrap().to_owned())
        .collect()
}

fn start(name: &str, working_dir: Option<&str>) -> Server {
    let mut builder = Server::builder(name)
        .args(&["--workers", "2"])
        .env("VECTOR_INDEX_MIN_VECTORS", "8")
        .env("CHUNK_SIZE", "40")
        .env("CHUNK_OVERLAP_SIZE", "4");
    if let Some(dir) = working_dir {
        builder = builder.args(&["--working-dir", dir]);
    }
    builder.start()
}

#[test]
fn queries_stay_right_through_the_index_after_a_restart_and_after_deletes() {
    let mut first = start("vector-index", None);
    let docs = documents();
    let (sources, texts): (Vec<&str>, Vec<&str>) =
        docs.iter().map(|(s, t)| (s.as_str(), t.as_str())).unzip();
    let r = call(
        &first,
        "POST",
        "/documents/texts",
        &json!({"texts": texts, "file_sources": sources}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let track_id = r.json()["track_id"].as_str().unwrap().to_owned();
    let track = common::processed(&first, &track_id, docs.len(), Duration::from_secs(60));
    let doc_id = track["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["file_path"] == "meadow.txt")
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .unwrap();
    let storage = first.dir.join("rag_storage");
    let manifest = storage.join("vector_index/chunks.manifest");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !manifest.exists() {
        assert!(Instant::now() < deadline, "no index:\n{}", first.output());
        std::thread::sleep(Duration::from_millis(50));
    }
    for word in ["cobalt", "juniper", "prairie"] {
        let files = chunk_files(&first, word);
        assert_eq!(
            files.first().map(String::as_str),
            Some(&*format!("{word}.txt")),
            "{files:?}"
        );
    }
    let before = chunk_files(&first, "meadow");
    first.signal(libc::SIGTERM);
    assert!(first.wait_exit(Duration::from_secs(30)).is_some());
    // The documents repeat their sentences, so some chunks tie: at least 0.95.
    let recall = vector_recall(&first.dir, &storage);
    let chunks = recall
        .lines()
        .find_map(|l| l.strip_prefix("chunks: recall@40 "))
        .unwrap_or_else(|| panic!("{recall}"));
    let value: f64 = chunks.split(' ').next().unwrap().parse().unwrap();
    assert!(value >= 0.95, "{recall}");
    assert!(
        chunks.contains("over 20 queries") && chunks.contains("in 1 segments"),
        "{recall}"
    );

    let second = start("vector-index-again", Some(storage.to_str().unwrap()));
    assert_eq!(chunk_files(&second, "meadow"), before);
    let r = send(
        second.port,
        "DELETE",
        "/documents/delete_document",
        &[("Content-Type", "application/json")],
        json!({"doc_ids": [doc_id]}).to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let files = chunk_files(&second, "meadow");
        if !files.iter().any(|f| f == "meadow.txt") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "deleted chunks still found: {files:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        chunk_files(&second, "cobalt").first().map(String::as_str),
        Some("cobalt.txt")
    );
}

/// `lightrag-master vector-recall` on `storage`, with the settings the servers had.
fn vector_recall(cwd: &Path, storage: &Path) -> String {
    let out = Command::new(BIN)
        .current_dir(cwd)
        .env("VECTOR_INDEX_MIN_VECTORS", "8")
        .args(["vector-recall", "--queries", "20", "--working-dir"])
        .arg(storage)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
