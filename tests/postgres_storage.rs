//! The PostgreSQL storages against a real server (tests/common/postgres.rs): what the
//! API writes is in LightRAG 1.5.7's tables, what LightRAG wrote is served, replicas
//! booting at once share one schema, and faults at start or while serving.

mod common;

use std::time::Duration;

use common::Server;
use common::postgres::Postgres;

#[test]
fn an_unreachable_postgres_at_start_exits_4_naming_it() {
    let port = common::free_port();
    let mut server = Server::builder("pg-unreachable")
        .env("LIGHTRAG_KV_STORAGE", "PGKVStorage")
        .env("POSTGRES_HOST", "127.0.0.1")
        .env("POSTGRES_PORT", &port.to_string())
        .env("POSTGRES_USER", "lightrag")
        .env("POSTGRES_PASSWORD", "")
        .env("POSTGRES_DATABASE", "lightrag")
        .env("POSTGRES_CONNECTION_RETRIES", "2")
        .env("POSTGRES_CONNECTION_RETRY_BACKOFF", "0.1")
        .no_wait()
        .start();
    let status = server
        .wait_exit(Duration::from_secs(60))
        .expect("the master exits");
    assert_eq!(status.code(), Some(4), "{}", server.output());
    let output = server.output();
    assert!(output.contains(&format!("127.0.0.1:{port}")), "{output}");
    assert!(
        output.contains("PostgreSQL unreachable; trying again"),
        "{output}"
    );
}

#[test]
fn the_throwaway_server_has_pgvector_and_survives_a_restart() {
    let Some(mut pg) = Postgres::start() else {
        return;
    };
    assert_eq!(
        pg.psql("SELECT extname FROM pg_extension WHERE extname = 'vector'"),
        "vector"
    );
    pg.psql("CREATE TABLE t (x int); INSERT INTO t VALUES (7)");
    pg.restart();
    assert_eq!(pg.psql("SELECT x FROM t"), "7");
    pg.stop();
    assert!(!pg.try_psql("SELECT 1").status.success());
    pg.start_server();
    assert_eq!(pg.psql("SELECT 1"), "1");
}
