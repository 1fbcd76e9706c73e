//! Two nodes (each its own port, WORKING_DIR and processes) sharing every role through
//! real servers, as the several-machines deployment runs them: all four roles in one
//! throwaway PostgreSQL, and LightRAG's seed-style mix of Redis KV and document status
//! with PostgreSQL vectors and graph. What one node indexes the other retrieves, and
//! what one deletes is gone from the other's next query and graph reads, on every
//! worker. Skipped when the PostgreSQL wheel (or redis-server) is not available.

mod common;

use std::time::Duration;

use common::postgres::Postgres;
use common::redis::Redis;
use common::two_nodes::wait_until;
use common::{Server, call, send};
use serde_json::{Value, json};

const MARIE: &str =
    "Marie Curie worked with Pierre Curie in Paris. Marie Curie received the Nobel Prize.";
const PIERRE: &str = "Pierre Curie studied magnetism in Paris.";

/// Vectors and graph in `pg`, with the builtin models naming the vector tables.
fn vectors_and_graph_in(pg: &Postgres, name: &str) -> common::Builder {
    pg.configure(Server::builder(name))
        .env("LIGHTRAG_VECTOR_STORAGE", "PGVectorStorage")
        .env("LIGHTRAG_GRAPH_STORAGE", "PGTableGraphStorage")
        .env("EMBEDDING_BINDING", "builtin")
        .env("EMBEDDING_MODEL", "BAAI/bge-m3")
        .env("EMBEDDING_DIM", "64")
        .args(&["--workers", "2"])
}

fn all_in_postgres(pg: &Postgres, name: &str) -> Server {
    vectors_and_graph_in(pg, name)
        .env("LIGHTRAG_KV_STORAGE", "PGKVStorage")
        .env("LIGHTRAG_DOC_STATUS_STORAGE", "PGDocStatusStorage")
        .start()
}

fn redis_status_postgres_vectors(pg: &Postgres, redis: &Redis, name: &str) -> Server {
    vectors_and_graph_in(pg, name)
        .env("LIGHTRAG_KV_STORAGE", "RedisKVStorage")
        .env("LIGHTRAG_DOC_STATUS_STORAGE", "RedisDocStatusStorage")
        .env("REDIS_URI", &redis.uri())
        .env("REDIS_RETRY_ATTEMPTS", "1")
        .start()
}

/// The file paths of the chunks `node` retrieves for `query`.
fn chunk_files(node: &Server, query: &str) -> Vec<String> {
    let r = call(
        node,
        "POST",
        "/query/data",
        &json!({"query": query, "mode": "naive"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let data: Value = r.json();
    data["data"]["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["file_path"].as_str().unwrap().to_owned())
        .collect()
}

/// The graph's labels as each worker of `node` lists them (each keeps its answer until
/// a write moves the entity generation, on any node).
fn labels_on_every_worker(node: &Server) -> Vec<Vec<String>> {
    common::connections_to_each_worker(node, 2)
        .iter_mut()
        .map(|conn| {
            serde_json::from_value(common::get_on(conn, "/graph/label/list").json()).unwrap()
        })
        .collect()
}

/// Whether every worker of `node` lists `name`, or (`listed` false) none does.
fn every_worker_lists(node: &Server, name: &str, listed: bool) -> bool {
    labels_on_every_worker(node)
        .iter()
        .all(|labels| labels.iter().any(|l| l == name) == listed)
}

/// Indexes on `a`, retrieves on `b`, deletes on `b`, and checks `a` no longer serves
/// what was deleted on any of its workers.
fn what_one_node_writes_the_other_serves(a: &Server, b: &Server) {
    // Every worker of both nodes keeps an answer from before the writes.
    assert!(every_worker_lists(a, "Nobel Prize", false));
    assert!(every_worker_lists(b, "Nobel Prize", false));
    let r = call(
        a,
        "POST",
        "/documents/texts",
        &json!({"texts": [MARIE, PIERRE], "file_sources": ["marie.txt", "pierre.txt"]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let track_id = r.json()["track_id"].as_str().unwrap().to_owned();
    let track = common::processed(a, &track_id, 2, Duration::from_secs(60));
    let marie = track["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["file_path"] == "marie.txt")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // B never indexed anything: what it retrieves is A's.
    assert!(chunk_files(b, MARIE).contains(&"marie.txt".to_owned()));
    assert!(common::entity_exists(b, "Nobel Prize"));
    // Its workers' label lists follow once A's write is announced.
    wait_until(
        "B's workers list A's entities",
        Duration::from_secs(5),
        || every_worker_lists(b, "Nobel Prize", true),
    );

    let r = send(
        b.port,
        "DELETE",
        "/documents/delete_document",
        &[("Content-Type", "application/json")],
        json!({"doc_ids": [marie]}).to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    wait_until("the deletion finishes", Duration::from_secs(60), || {
        a.get("/documents/status_counts").json()["status_counts"]["all"] == 1
            && a.get("/documents/pipeline_status").json()["busy"] == false
    });

    for conn in &mut common::connections_to_each_worker(a, 2) {
        for (name, present) in [("Nobel%20Prize", false), ("Pierre%20Curie", true)] {
            let path = format!("/graph/entity/exists?name={name}");
            assert_eq!(
                common::get_on(conn, &path).json()["exists"],
                present,
                "{name}"
            );
        }
    }
    wait_until(
        "A's workers drop what B deleted",
        Duration::from_secs(5),
        || {
            every_worker_lists(a, "Nobel Prize", false)
                && every_worker_lists(a, "Pierre Curie", true)
        },
    );
    let files = chunk_files(a, MARIE);
    assert!(!files.contains(&"marie.txt".to_owned()), "{files:?}");
    assert!(files.contains(&"pierre.txt".to_owned()), "{files:?}");
}

#[test]
fn two_nodes_on_one_postgresql_share_indexing_and_deletion() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let a = all_in_postgres(&pg, "nodes-pg-a");
    let b = all_in_postgres(&pg, "nodes-pg-b");
    what_one_node_writes_the_other_serves(&a, &b);
}

#[test]
fn two_nodes_on_redis_status_and_postgresql_vectors_share_indexing_and_deletion() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let Some(redis) = Redis::start(&[]) else {
        return;
    };
    let a = redis_status_postgres_vectors(&pg, &redis, "nodes-mixed-a");
    let b = redis_status_postgres_vectors(&pg, &redis, "nodes-mixed-b");
    what_one_node_writes_the_other_serves(&a, &b);
}
