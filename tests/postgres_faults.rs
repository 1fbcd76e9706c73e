//! Faults with every storage role in a real PostgreSQL (tests/common/postgres.rs;
//! skipped when the PostgreSQL wheel is not available): the server stopped under
//! light traffic and started again on the same data and port, with the default
//! POSTGRES_CONNECTION_RETRIES (the serving path must not wait them out), and three
//! masters booting at the same moment against one empty database.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::fake_provider::FakeProvider;
use common::postgres::{self, Postgres};
use common::two_nodes::wait_until;
use common::{Server, call};
use serde_json::{Value, json};

/// `builder` with every role in `pg`, the connection settings otherwise at their
/// defaults (POSTGRES_CONNECTION_RETRIES 10, back-off 3 to 30 s), the builtin embedding
/// and, when given, `fake` as the model.
fn all_roles(
    pg: &Postgres,
    mut builder: common::Builder,
    fake: Option<&FakeProvider>,
) -> common::Builder {
    for (k, v) in pg.env_pairs() {
        builder = builder.env(k, &v);
    }
    if let Some(fake) = fake {
        builder = builder
            .env("LLM_BINDING", "openai")
            .env("LLM_BINDING_HOST", &fake.url("/v1"))
            .env("MAX_GLEANING", "0");
    }
    postgres::every_role(builder.env("POSTGRES_SSL_MODE", "disable"))
}

/// One request of the traffic: when it started, how long it took, what came back.
struct Sent {
    at: Instant,
    elapsed: Duration,
    path: &'static str,
    status: u16,
    body: String,
    retry_after: Option<String>,
}

/// Light traffic until `stop`: a document inserted and a query asked in turn, one
/// request at a time, a pause between them.
fn traffic(port: u16, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<Sent>> {
    std::thread::spawn(move || {
        let mut sent = Vec::new();
        let mut n = 0;
        while !stop.load(Ordering::Acquire) {
            n += 1;
            let (path, body) = if n % 2 == 1 {
                let text =
                    format!("Grace Hopper wrote report {n} about the Harvard Mark Computer.");
                (
                    "/documents/texts",
                    json!({"texts": [text], "file_sources": [format!("r{n}.txt")]}),
                )
            } else {
                (
                    "/query/data",
                    json!({"query": "Who is Grace Hopper?", "mode": "naive"}),
                )
            };
            let at = Instant::now();
            let r = common::send(
                port,
                "POST",
                path,
                &[("Content-Type", "application/json")],
                body.to_string().as_bytes(),
            );
            sent.push(Sent {
                at,
                elapsed: at.elapsed(),
                path,
                status: r.status,
                retry_after: r.header("Retry-After").map(str::to_owned),
                body: r.body,
            });
            std::thread::sleep(Duration::from_millis(100));
        }
        sent
    })
}

fn health(server: &Server) -> Value {
    let r = server.get("/health");
    assert_eq!(r.status, 200, "/health stays 200 (liveness): {}", r.body);
    r.json()
}

/// Statuses of the documents accepted under `track_ids`, from the database.
fn statuses(pg: &Postgres, track_ids: &[String]) -> Vec<String> {
    let list = track_ids
        .iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(",");
    let out = pg.psql(&format!(
        "SELECT status FROM lightrag_doc_status WHERE track_id IN ({list}) ORDER BY id"
    ));
    out.lines().map(str::to_owned).collect()
}

#[test]
fn postgres_lost_while_serving_gives_prompt_503s_and_everything_recovers() {
    let Some(mut pg) = Postgres::start() else {
        return;
    };
    // A slow model keeps the pipeline busy when the database goes.
    let fake = FakeProvider::start("pg-fault-llm", json!({"delay": 0.2}));
    let server = all_roles(&pg, Server::builder("pg-fault"), Some(&fake))
        .args(&["--workers", "2"])
        .start();
    common::index_texts(
        &server,
        &[("first.txt", "Ada Lovelace described the Analytical Engine.")],
    );
    let healthy = server.get("/health").body;
    assert_eq!(health(&server)["status"], "healthy");
    assert!(!healthy.contains("\"storage\""), "{healthy}");

    let stop = Arc::new(AtomicBool::new(false));
    let load = traffic(server.port, stop.clone());
    std::thread::sleep(Duration::from_secs(2));
    let stopped_at = Instant::now();
    pg.stop();
    let down = Instant::now();
    let address = format!("127.0.0.1:{}", pg.port);
    // Each worker reports what its own connections saw: keep the answer that said so
    // rather than asking again (the next request may reach the other worker).
    let mut state = Value::Null;
    wait_until(
        "/health says PostgreSQL is unavailable",
        Duration::from_secs(10),
        || {
            state = health(&server);
            state["status"] == "degraded"
        },
    );
    let degraded_after = down.elapsed();
    let outage = &state["storage"]["unavailable"][0];
    assert_eq!(outage["store"], "PostgreSQL", "{state}");
    assert!(
        !outage["reason"].as_str().unwrap_or("").is_empty(),
        "{state}"
    );
    assert!(
        outage["since"]
            .as_str()
            .is_some_and(|s| s.ends_with("+00:00")),
        "{state}"
    );
    // The rest of the answer is LightRAG's.
    assert_eq!(
        state["core_version"],
        serde_json::from_str::<Value>(&healthy).unwrap()["core_version"]
    );
    std::thread::sleep(Duration::from_secs(3));

    let restarted_at = Instant::now();
    pg.start_server();
    let up = Instant::now();
    wait_until("/health is healthy again", Duration::from_secs(30), || {
        // Every worker: several answers in a row.
        (0..6).all(|_| health(&server)["status"] == "healthy")
    });
    let healthy_after = up.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Release);
    let sent = load.join().unwrap();

    // Before the stop: every request answered. During the outage: nothing but 503s
    // naming the store, each one prompt. After: answers again.
    let mut accepted = Vec::new();
    let mut unavailable = Vec::new();
    for s in &sent {
        match s.status {
            200 => {
                if s.path == "/documents/texts" {
                    let track: Value = serde_json::from_str(&s.body).unwrap();
                    accepted.push(track["track_id"].as_str().unwrap().to_owned());
                }
            }
            503 => {
                assert!(
                    s.at + s.elapsed > stopped_at,
                    "a 503 before the stop: {}",
                    s.body
                );
                let detail = serde_json::from_str::<Value>(&s.body).unwrap()["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                assert!(
                    detail.contains(&format!("PostgreSQL at {address} cannot be reached")),
                    "{}",
                    s.body
                );
                assert_eq!(s.retry_after.as_deref(), Some("5"));
                unavailable.push(s);
            }
            other => panic!("{} answered {other}: {}", s.path, s.body),
        }
    }
    let during: Vec<&&Sent> = unavailable
        .iter()
        .filter(|s| s.at >= down && s.at < restarted_at)
        .collect();
    assert!(
        during.len() >= 4,
        "the outage was answered: {} 503s",
        during.len()
    );
    let slowest = unavailable.iter().map(|s| s.elapsed).max().unwrap();
    // The start-up schedule (10 attempts, 3 to 30 s apart) would take minutes.
    assert!(slowest < Duration::from_secs(15), "a 503 took {slowest:?}");
    let first_503 = unavailable
        .iter()
        .find(|s| s.at >= down)
        .map(|s| s.elapsed)
        .unwrap();
    let recovered_after = sent
        .iter()
        .find(|s| s.at >= up && s.status == 200 && s.path == "/documents/texts")
        .map(|s| s.at + s.elapsed - up)
        .expect("an insert accepted after the restart");
    assert!(
        sent.iter()
            .any(|s| s.at + s.elapsed < stopped_at && s.status == 200),
        "traffic before the stop"
    );
    eprintln!(
        "MEASURED: first 503 after the stop took {first_503:?}; slowest 503 {slowest:?} \
         ({} 503s); /health degraded {degraded_after:?} after the stop; first insert \
         accepted {recovered_after:?} and /health healthy {healthy_after:?} after the restart",
        unavailable.len()
    );

    // Every document accepted reaches processed; none is left behind.
    assert!(accepted.len() >= 4, "{} accepted", accepted.len());
    wait_until(
        "every accepted document is processed",
        Duration::from_secs(90),
        || {
            let s = statuses(&pg, &accepted);
            s.len() == accepted.len() && s.iter().all(|s| s == "processed")
        },
    );
    assert_eq!(
        pg.psql("SELECT count(*) FROM lightrag_doc_status WHERE status IN ('pending', 'parsing', 'processing')"),
        "0"
    );
    common::pipeline_idle(&server, None, Duration::from_secs(30));
    assert_eq!(
        server.get("/health").body,
        healthy,
        "LightRAG's healthy answer, byte for byte"
    );
    let output = server.output();
    assert!(!output.contains("worker exited"), "{output}");
}

#[test]
fn three_masters_booting_at_once_on_an_empty_database_share_one_schema() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    // Empty: even pgvector is left for the servers to create.
    pg.psql("DROP EXTENSION vector");
    let servers: Vec<Server> = (0..3)
        .map(|i| {
            all_roles(&pg, Server::builder(&format!("pg-boot-{i}")), None)
                .args(&["--workers", "2"])
                .no_wait()
                .start()
        })
        .collect();
    for server in &servers {
        server.wait_healthy(Duration::from_secs(60));
        assert!(
            server.wait_output("all workers ready", Duration::from_secs(60)),
            "{}",
            server.output()
        );
    }
    for server in &servers {
        let output = server.output();
        for bad in ["ERROR", "worker exited", "already exists", "duplicate key"] {
            assert!(!output.contains(bad), "{bad}:\n{output}");
        }
    }
    let tables = pg.psql(
        "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables \
         WHERE schemaname = 'public'",
    );
    for table in [
        "lightrag_doc_full",
        "lightrag_doc_chunks",
        "lightrag_doc_status",
        "lightrag_llm_cache",
        "lightrag_full_entities",
        "lightrag_full_relations",
        "lightrag_entity_chunks",
        "lightrag_relation_chunks",
        "lightrag_graph_nodes",
        "lightrag_graph_edges",
        "lightrag_master_kv",
        "lightrag_master_pipeline_fence",
        "lightrag_master_pipeline_status",
        "lightrag_vdb_chunks_baai_bge_m3_64d",
        "lightrag_vdb_entity_baai_bge_m3_64d",
        "lightrag_vdb_relation_baai_bge_m3_64d",
    ] {
        assert!(
            tables.split(',').any(|t| t == table),
            "{table} missing from {tables}"
        );
    }
    assert_eq!(
        pg.psql("SELECT count(*) FROM pg_extension WHERE extname = 'vector'"),
        "1"
    );
    let foreign_keys = pg
        .psql("SELECT count(*) FROM pg_constraint WHERE conname LIKE 'fk_lightrag_graph_edges_%'");
    assert_eq!(foreign_keys, "2");
    // The schema works from every node: a document written through one is found by
    // the others.
    common::index_texts(
        &servers[0],
        &[(
            "boot.txt",
            "Katherine Johnson computed the Apollo trajectories.",
        )],
    );
    for server in &servers[1..] {
        let r = call(
            server,
            "POST",
            "/query/data",
            &json!({"query": "Katherine Johnson", "mode": "naive"}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.contains("Apollo"), "{}", r.body);
    }
}
