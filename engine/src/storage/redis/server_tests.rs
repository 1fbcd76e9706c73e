//! The Redis storages against a real `redis-server` (skipped when it is not installed):
//! what we write is in LightRAG's layout, and what LightRAG writes is read.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::tests::config;
use super::{RedisDocStatus, RedisKv};
use crate::storage::{
    DocStatus, DocStatusRecord, DocStatusStorage, KvNamespace, KvStorage, StorageError,
    WorkspaceListing,
};

/// A throwaway redis-server on a free loopback port, stopped on drop.
pub(super) struct TestRedis {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl TestRedis {
    pub(super) fn start(extra: &[&str]) -> Option<TestRedis> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!("SKIPPED: redis-server is not installed (apt-get install -y redis-server)");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let dir = crate::storage::tests::temp("redis");
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "yes", "--daemonize", "no", "--dir"])
            .arg(&dir)
            .args(extra)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(TestRedis { child, port, dir })
    }

    pub(super) fn uri(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub(super) fn conn(&self) -> redis::Connection {
        redis::Client::open(self.uri())
            .unwrap()
            .get_connection()
            .unwrap()
    }

    fn get(&self, key: &str) -> Option<String> {
        redis::cmd("GET").arg(key).query(&mut self.conn()).unwrap()
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn doc(id: &str, status: DocStatus, created: &str) -> DocStatusRecord {
    DocStatusRecord {
        id: id.into(),
        status,
        file_path: format!("dir/{id}.txt"),
        track_id: Some("insert_1".into()),
        content_summary: "summary".into(),
        content_length: 7,
        chunks_count: None,
        error_msg: None,
        metadata: json!({}),
        created_at: created.into(),
        updated_at: created.into(),
    }
}

#[test]
fn kv_records_are_lightrag_keys_with_its_bookkeeping() {
    let Some(server) = TestRedis::start(&[]) else {
        return;
    };
    let kv = RedisKv::open(&config(&server.uri()), "ws1").unwrap();
    let chunk = json!({"content": "café", "tokens": 2});
    kv.kv_upsert(KvNamespace::TextChunks, &[("chunk-1".into(), chunk)])
        .unwrap();
    let stored: Value =
        serde_json::from_str(&server.get("ws1_text_chunks:chunk-1").unwrap()).unwrap();
    assert_eq!(stored["_id"], "chunk-1");
    assert_eq!(stored["llm_cache_list"], json!([]));
    assert!(stored["create_time"].as_i64().unwrap() > 0);
    assert!(
        server
            .get("ws1_text_chunks:chunk-1")
            .unwrap()
            .contains(r#""caf\u00e9""#)
    );
    assert_eq!(kv.kv_keys(KvNamespace::TextChunks).unwrap(), ["chunk-1"]);
    // Insert-if-absent: all or nothing.
    let items = [
        ("a".to_owned(), json!({"x": 1})),
        ("chunk-1".to_owned(), json!({})),
    ];
    assert_eq!(
        kv.kv_insert_new(KvNamespace::TextChunks, &items).unwrap(),
        Some("chunk-1".into())
    );
    assert_eq!(kv.kv_get(KvNamespace::TextChunks, "a").unwrap(), None);
    assert_eq!(
        kv.kv_insert_new(KvNamespace::TextChunks, &items[..1])
            .unwrap(),
        None
    );
    // A record LightRAG wrote is read.
    redis::cmd("SET")
        .arg("ws1_full_docs:doc-9")
        .arg(r#"{"content": "hi", "file_path": "x.txt", "_id": "doc-9"}"#)
        .query::<()>(&mut server.conn())
        .unwrap();
    assert_eq!(
        kv.kv_get(KvNamespace::FullDocs, "doc-9").unwrap().unwrap()["content"],
        "hi"
    );
    kv.kv_delete(KvNamespace::TextChunks, &["a".into()])
        .unwrap();
    kv.kv_drop(KvNamespace::TextChunks).unwrap();
    assert!(kv.kv_keys(KvNamespace::TextChunks).unwrap().is_empty());
    assert!(server.get("ws1_full_docs:doc-9").is_some());
}

#[test]
fn doc_status_keeps_lightrags_index_keys() {
    let Some(server) = TestRedis::start(&[]) else {
        return;
    };
    let s = RedisDocStatus::open(&config(&server.uri()), "").unwrap();
    let t = |n: u8| format!("2026-11-26T00:00:0{n}+00:00");
    s.doc_upsert(&[
        doc("doc-a", DocStatus::Pending, &t(1)),
        doc("doc-b", DocStatus::Processed, &t(2)),
        doc("doc-c", DocStatus::Pending, &t(3)),
    ])
    .unwrap();
    let mut c = server.conn();
    let pending: Vec<String> = redis::cmd("ZRANGE")
        .arg("doc_status__sched:status:pending")
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .unwrap();
    assert_eq!(
        pending,
        [format!("{}|doc-a", t(1)), format!("{}|doc-c", t(3))]
    );
    let named: Vec<String> = redis::cmd("SMEMBERS")
        .arg("doc_status__sched:basename:doc-a.txt")
        .query(&mut c)
        .unwrap();
    assert_eq!(named, ["doc-a"]);
    // A status change moves the member.
    let mut done = doc("doc-a", DocStatus::Processed, &t(1));
    done.chunks_count = Some(2);
    s.doc_upsert(&[done.clone()]).unwrap();
    assert_eq!(s.doc_get("doc-a").unwrap(), Some(done));
    assert_eq!(
        s.status_counts().unwrap(),
        [(DocStatus::Pending, 1), (DocStatus::Processed, 2)]
    );
    // Paging, sorts, counts and reservations: tests/doc_status_conformance.rs.
    assert_eq!(
        s.workspaces_with_status(&[DocStatus::Pending]).unwrap(),
        [""]
    );
    s.doc_delete(&["doc-c".into()]).unwrap();
    assert_eq!(s.docs_with_status(DocStatus::Pending).unwrap(), []);
    // A record LightRAG wrote without an index gets one when the store opens.
    redis::cmd("SET")
        .arg("ws2_doc_status:doc-x")
        .arg(r#"{"status": "failed", "content_summary": "s", "content_length": 1, "file_path": "x.txt", "created_at": "2026-01-01T00:00:00+00:00", "updated_at": "2026-01-01T00:00:00+00:00", "chunks_list": ["chunk-1"], "metadata": {}, "error_msg": "boom"}"#)
        .query::<()>(&mut c)
        .unwrap();
    let ws2 = RedisDocStatus::open(&config(&server.uri()), "ws2").unwrap();
    assert_eq!(ws2.status_counts().unwrap(), [(DocStatus::Failed, 1)]);
    let mut failed = ws2.doc_get("doc-x").unwrap().unwrap();
    assert_eq!(failed.error_msg.as_deref(), Some("boom"));
    failed.status = DocStatus::Pending;
    ws2.doc_upsert(&[failed]).unwrap();
    let kept: Value = serde_json::from_str(&server.get("ws2_doc_status:doc-x").unwrap()).unwrap();
    assert_eq!(
        kept["chunks_list"],
        json!(["chunk-1"]),
        "unknown fields survive our writes"
    );
    let mut workspaces = s.workspaces_with_status(&[DocStatus::Pending]).unwrap();
    workspaces.sort();
    assert_eq!(workspaces, ["ws2"]);
    s.docs_drop().unwrap();
    assert!(s.status_counts().unwrap().is_empty());
    assert_eq!(ws2.status_counts().unwrap(), [(DocStatus::Pending, 1)]);
}

#[test]
fn an_evicting_policy_is_refused_and_a_lost_redis_is_unavailable() {
    let Some(server) =
        TestRedis::start(&["--maxmemory", "10mb", "--maxmemory-policy", "allkeys-lru"])
    else {
        return;
    };
    let refused = RedisKv::open(&config(&server.uri()), "").err().unwrap();
    assert!(refused.to_string().contains("allkeys-lru"), "{refused}");
    let uri = format!("redis://127.0.0.1:{}", server.port);
    drop(server);
    let lost = RedisKv::open(&config(&uri), "").err().unwrap();
    assert!(matches!(lost, StorageError::Unavailable { .. }), "{lost}");
}

#[test]
fn the_pool_holds_at_most_max_connections() {
    let Some(server) = TestRedis::start(&[]) else {
        return;
    };
    let mut bounded = config(&server.uri());
    bounded.max_connections = 2;
    let kv = std::sync::Arc::new(RedisKv::open(&bounded, "").unwrap());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let kv = kv.clone();
            std::thread::spawn(move || {
                for i in 0..50 {
                    let item = (format!("k{t}-{i}"), json!({"i": i}));
                    kv.kv_upsert(KvNamespace::FullDocs, &[item]).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(kv.kv_keys(KvNamespace::FullDocs).unwrap().len(), 400);
    let clients: String = redis::cmd("INFO")
        .arg("clients")
        .query(&mut server.conn())
        .unwrap();
    let connected: usize = clients
        .lines()
        .find_map(|l| l.strip_prefix("connected_clients:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(connected <= 3, "two pooled and this one: {connected}");
}
