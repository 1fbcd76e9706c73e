//! LIGHTRAG_KV_STORAGE=RedisKVStorage and LIGHTRAG_DOC_STATUS_STORAGE=RedisDocStatusStorage
//! against a real redis-server (skipped when it is not installed): what the API writes
//! is in LightRAG 1.5.7's key layout, what LightRAG wrote is served, Redis's start-up
//! checks, and a Redis lost and back while serving.

mod common;

use std::time::{Duration, Instant};

use common::redis::Redis;
use common::{Server, call, send};
use serde_json::json;

fn with_redis(name: &str, redis: &Redis) -> common::Builder {
    Server::builder(name)
        .env("LIGHTRAG_KV_STORAGE", "RedisKVStorage")
        .env("LIGHTRAG_DOC_STATUS_STORAGE", "RedisDocStatusStorage")
        .env("REDIS_URI", &redis.uri())
        .env("REDIS_RETRY_ATTEMPTS", "1")
}

fn page(server: &Server) -> common::Response {
    call(
        server,
        "POST",
        "/documents/paginated",
        &json!({"page_size": 10, "sort_field": "created_at", "sort_direction": "asc"}),
    )
}

fn page_ids(server: &Server) -> Vec<String> {
    let r = page(server);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect()
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn documents_written_through_the_api_are_lightrag_keys() {
    let Some(redis) = Redis::start(&[]) else {
        return;
    };
    let server = with_redis("redis-api", &redis)
        .args(&["--workers", "2"])
        .start();
    common::index_texts(
        &server,
        &[
            (
                "marie.txt",
                "Marie Curie worked with Pierre Curie in Paris.",
            ),
            ("ada.txt", "Ada Lovelace wrote about the Analytical Engine."),
        ],
    );
    let records = redis.keys("doc_status:*");
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(
        redis.cli(&["ZCARD", "doc_status__sched:status:processed"]),
        "2"
    );
    let ids: Vec<&str> = records
        .iter()
        .map(|k| k.strip_prefix("doc_status:").unwrap())
        .collect();
    for id in &ids {
        let status = redis.json(&format!("doc_status:{id}"));
        assert_eq!(status["status"], "processed");
        let member = format!("{}|{id}", status["created_at"].as_str().unwrap());
        assert_eq!(
            redis.cli(&["ZSCORE", "doc_status__sched:status:processed", &member]),
            "0"
        );
        let full = redis.json(&format!("full_docs:{id}"));
        assert_eq!(full["_id"], *id);
        assert!(full["create_time"].as_i64().unwrap() > 0);
    }
    let marie = ids
        .iter()
        .find(|id| redis.json(&format!("doc_status:{id}"))["file_path"] == "marie.txt")
        .unwrap()
        .to_string();
    assert_eq!(
        redis.cli(&["SMEMBERS", "doc_status__sched:basename:marie.txt"]),
        marie
    );
    let chunk = &redis.keys("text_chunks:*")[0];
    let chunk = redis.json(chunk);
    assert!(chunk["llm_cache_list"].is_array(), "{chunk}");
    assert_eq!(page_ids(&server).len(), 2);

    let r = send(
        server.port,
        "DELETE",
        "/documents/delete_document",
        &[("Content-Type", "application/json")],
        json!({"doc_ids": [marie]}).to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    wait_until("the deleted document's keys are gone", || {
        redis.keys(&format!("*{marie}*")).is_empty()
    });
    assert_eq!(
        redis.cli(&["ZCARD", "doc_status__sched:status:processed"]),
        "1"
    );
    assert_eq!(
        redis.cli(&["EXISTS", "doc_status__sched:basename:marie.txt"]),
        "0"
    );
    assert_eq!(page_ids(&server).len(), 1);
}

#[test]
fn documents_lightrag_wrote_are_served() {
    let Some(redis) = Redis::start(&[]) else {
        return;
    };
    // As LightRAG 1.5.7 writes a processed document (workspace ws1).
    let created = "2026-11-01T08:07:09.208062+00:00";
    let status = json!({"status": "processed", "content_summary": "Ada Lovelace wrote notes",
        "content_length": 24, "file_path": "ada.txt", "track_id": "insert_20261101_080709_abcd1234",
        "created_at": created, "updated_at": created, "chunks_count": 1,
        "chunks_list": ["chunk-lr1"], "metadata": {"chunk_method": "fixed_token"}});
    redis.cli(&["SET", "ws1_doc_status:doc-lr1", &status.to_string()]);
    redis.cli(&[
        "ZADD",
        "ws1_doc_status__sched:status:processed",
        "0",
        &format!("{created}|doc-lr1"),
    ]);
    redis.cli(&["SADD", "ws1_doc_status__sched:basename:ada.txt", "doc-lr1"]);
    let full = json!({"content": "Ada Lovelace wrote notes", "file_path": "ada.txt",
        "_id": "doc-lr1", "create_time": 1764576429, "update_time": 1764576429});
    redis.cli(&["SET", "ws1_full_docs:doc-lr1", &full.to_string()]);
    let server = with_redis("redis-lightrag", &redis)
        .env("WORKSPACE", "ws1")
        .args(&["--workers", "1"])
        .start();
    assert_eq!(page_ids(&server), ["doc-lr1"]);
    let doc = &page(&server).json()["documents"][0];
    assert_eq!(doc["status"], "processed");
    assert_eq!(doc["chunks_count"], 1);
    assert_eq!(
        server.get("/documents/status_counts").json()["status_counts"]["processed"],
        1
    );
    let track = server
        .get("/documents/track_status/insert_20261101_080709_abcd1234")
        .json();
    assert_eq!(track["total_count"], 1, "{track}");
    // Our next document lands beside it in the same layout.
    common::index_texts(&server, &[("b.txt", "Charles Babbage designed engines.")]);
    assert_eq!(
        redis.cli(&["ZCARD", "ws1_doc_status__sched:status:processed"]),
        "2"
    );
    assert_eq!(page_ids(&server)[0], "doc-lr1", "oldest first");
}

#[test]
fn redis_is_checked_at_start() {
    let Some(redis) = Redis::start(&["--appendonly", "no"]) else {
        return;
    };
    let server = with_redis("redis-volatile", &redis)
        .args(&["--workers", "1"])
        .start();
    assert!(
        server.wait_output("Redis persistence is off", Duration::from_secs(5)),
        "{}",
        server.output()
    );
    drop(server);

    let evicting =
        Redis::start(&["--maxmemory", "10mb", "--maxmemory-policy", "allkeys-lru"]).unwrap();
    let mut server = with_redis("redis-evicting", &evicting).no_wait().start();
    assert_eq!(
        server.wait_exit(Duration::from_secs(20)).unwrap().code(),
        Some(4)
    );
    assert!(
        server.output().contains("allkeys-lru"),
        "{}",
        server.output()
    );

    let port = common::free_port();
    let mut server = Server::builder("redis-unreachable")
        .env("LIGHTRAG_KV_STORAGE", "RedisKVStorage")
        .env("REDIS_URI", &format!("redis://127.0.0.1:{port}"))
        .env("REDIS_RETRY_ATTEMPTS", "2")
        .no_wait()
        .start();
    assert_eq!(
        server.wait_exit(Duration::from_secs(20)).unwrap().code(),
        Some(4)
    );
    let output = server.output();
    assert!(
        output.contains(&format!(
            "Redis at redis://127.0.0.1:{port} cannot be reached"
        )),
        "{output}"
    );
    assert!(output.contains("trying again"), "{output}");
}

#[test]
fn a_lost_redis_answers_503_and_is_used_again_when_back() {
    let Some(mut redis) = Redis::start(&[]) else {
        return;
    };
    // Start-up's patience: while serving, a lost Redis is not waited for.
    let server = with_redis("redis-lost", &redis)
        .env("REDIS_RETRY_ATTEMPTS", "5")
        .args(&["--workers", "1"])
        .start();
    common::index_texts(&server, &[("a.txt", "Alan Turing studied computation.")]);
    redis.stop();
    let r = page(&server);
    assert_eq!(r.status, 503, "{}", r.body);
    let output = server.output();
    assert!(
        !output.contains("trying again"),
        "no retries while serving: {output}"
    );
    let detail = r.json()["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains(&redis.uri()), "{detail}");
    assert_eq!(r.header("retry-after"), Some("5"));
    let r = call(
        &server,
        "POST",
        "/documents/text",
        &json!({"text": "Grace Hopper wrote compilers.", "file_source": "g.txt"}),
    );
    assert_eq!(r.status, 503, "{}", r.body);

    // The idle pipeline meets the outage twice a second; it is logged once.
    std::thread::sleep(Duration::from_millis(1500));
    redis.restart();
    assert_eq!(page_ids(&server).len(), 1, "nothing lost");
    common::index_texts(&server, &[("g.txt", "Grace Hopper wrote compilers.")]);
    assert_eq!(page_ids(&server).len(), 2);
    let output = server.output();
    assert_eq!(output.matches("Redis lost").count(), 1, "{output}");
    assert_eq!(output.matches("Redis back").count(), 1, "{output}");
    assert!(!output.contains("pipeline run failed"), "{output}");
}

#[test]
fn a_rediss_uri_speaks_tls() {
    let Some(redis) = Redis::start_tls() else {
        return;
    };
    // The certificate is trusted the way an operator adds a private CA.
    let server = with_redis("redis-tls", &redis)
        .env(
            "SSL_CERT_FILE",
            redis.cert.as_ref().unwrap().to_str().unwrap(),
        )
        .args(&["--workers", "1"])
        .start();
    common::index_texts(
        &server,
        &[("t.txt", "Claude Shannon founded information theory.")],
    );
    assert_eq!(redis.keys("doc_status:*").len(), 1);
    assert_eq!(page_ids(&server).len(), 1);
}

#[test]
fn a_redis_restart_under_traffic_costs_at_most_503s() {
    let Some(mut redis) = Redis::start(&[]) else {
        return;
    };
    let server = with_redis("redis-restart", &redis)
        .env("REDIS_RETRY_ATTEMPTS", "3")
        .args(&["--workers", "2"])
        .start();
    common::index_texts(&server, &[("k.txt", "Katherine Johnson computed orbits.")]);
    let load = common::Load::start(server.port, 4, "/documents/status_counts");
    let counted = || server.get("/documents/status_counts").status == 200;
    wait_until("answers under load before the restart", counted);
    redis.restart();
    wait_until("answers under load after the restart", counted);
    let (ok, failures) = load.finish();
    assert!(ok > 0);
    assert!(
        failures.iter().all(|f| f == "status 503"),
        "only 503s while Redis is away: {failures:?}"
    );
    assert_eq!(
        server.get("/documents/status_counts").json()["status_counts"]["processed"],
        1,
        "nothing lost"
    );
    common::index_texts(&server, &[("d.txt", "Dorothy Vaughan led computing.")]);
}

#[test]
fn a_document_redis_drops_under_is_resumed_not_failed() {
    let Some(mut redis) = Redis::start(&[]) else {
        return;
    };
    // A mixed setup: KV in Redis, document status embedded (readable while Redis is away).
    let fake = common::fake_provider::FakeProvider::start("redis-slow-model", json!({"delay": 2}));
    let server = Server::builder("redis-mid-run")
        .env("LIGHTRAG_KV_STORAGE", "RedisKVStorage")
        .env("REDIS_URI", &redis.uri())
        .env("REDIS_RETRY_ATTEMPTS", "1")
        .env("LLM_BINDING", "openai")
        .env("LLM_BINDING_HOST", &fake.url("/v1"))
        .env("MAX_GLEANING", "0")
        .args(&["--workers", "1"])
        .start();
    let r = call(
        &server,
        "POST",
        "/documents/text",
        &json!({"text": "Rosalind Franklin imaged DNA.", "file_source": "r.txt"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let track = r.json()["track_id"].as_str().unwrap().to_owned();
    wait_until("the extraction call is under way", || {
        fake.requests().iter().any(|q| {
            q["path"]
                .as_str()
                .unwrap_or("")
                .ends_with("/chat/completions")
        })
    });
    redis.stop();
    wait_until("the run stops on the unreachable store", || {
        server.output().contains("Redis lost")
    });
    let status = server
        .get(&format!("/documents/track_status/{track}"))
        .json();
    assert_eq!(status["documents"][0]["status"], "processing", "{status}");
    redis.restart();
    common::processed(&server, &track, 1, Duration::from_secs(30));
    assert_eq!(redis.keys("full_docs:*").len(), 1);
}

/// `cmdstat_{command}` calls so far.
fn calls(redis: &Redis, command: &str) -> u64 {
    redis
        .cli(&["INFO", "commandstats"])
        .lines()
        .find_map(|l| l.strip_prefix(&format!("cmdstat_{command}:calls=")))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |n| n.parse().unwrap())
}

#[test]
fn every_order_pages_lightrags_documents_from_sorted_sets_and_idle_polls_do_not_scan() {
    let Some(redis) = Redis::start(&[]) else {
        return;
    };
    // Twelve documents as LightRAG 1.5.7 writes them, and a legacy nested LLM cache key.
    for i in 0..12 {
        let created = format!("2026-11-01T08:00:{i:02}+00:00");
        let updated = format!("2026-11-02T08:00:{:02}+00:00", (i * 5) % 12);
        let status = if i % 3 == 0 { "failed" } else { "processed" };
        let record = json!({"status": status, "content_summary": "s", "content_length": 1,
            "file_path": format!("f{:02}.txt", (i * 7) % 12), "created_at": created,
            "updated_at": updated, "chunks_list": [], "metadata": {}});
        redis.cli(&[
            "SET",
            &format!("doc_status:doc-{i:02}"),
            &record.to_string(),
        ]);
        redis.cli(&[
            "ZADD",
            &format!("doc_status__sched:status:{status}"),
            "0",
            &format!("{created}|doc-{i:02}"),
        ]);
    }
    let nested = json!({"h1": {"return": "cached answer", "cache_type": "query"}});
    redis.cli(&["SET", "llm_response_cache:mix", &nested.to_string()]);
    let server = with_redis("redis-sorts", &redis)
        .args(&["--workers", "2"])
        .start();
    let ids = |body: serde_json::Value| -> Vec<String> {
        let r = call(&server, "POST", "/documents/paginated", &body);
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["documents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let by_update = json!({"page_size": 10, "sort_field": "updated_at", "sort_direction": "desc"});
    // updated_at desc: i*5 % 12 = 11, 10, ... for i = 7, 2, 9, 4, 11, 6, 1, 8, 3, 10.
    let expected: Vec<String> = [7, 2, 9, 4, 11, 6, 1, 8, 3, 10]
        .iter()
        .map(|i| format!("doc-{i:02}"))
        .collect();
    assert_eq!(ids(by_update.clone()), expected);
    // file_path asc with a status filter: f00 f03 f06 f09 are doc-00, 09, 06, 03 (failed).
    assert_eq!(
        ids(
            json!({"page_size": 10, "sort_field": "file_path", "sort_direction": "asc",
            "status_filter": "failed"})
        ),
        ["doc-00", "doc-09", "doc-06", "doc-03"]
    );
    assert_eq!(
        ids(
            json!({"page_size": 10, "sort_field": "id", "sort_direction": "desc",
            "status_filter": "processed"})
        ),
        [
            "doc-11", "doc-10", "doc-08", "doc-07", "doc-05", "doc-04", "doc-02", "doc-01"
        ]
    );
    // The page is read from the sets: a record off it that cannot be decoded is not read.
    redis.cli(&["SET", "doc_status:doc-05", "{not json"]);
    assert_eq!(ids(by_update), expected);
    assert_eq!(
        redis.cli(&["ZCARD", "doc_status__lrm_sort:updated_at:all"]),
        "12"
    );
    // The legacy cache value was flattened as LightRAG does.
    assert_eq!(redis.cli(&["EXISTS", "llm_response_cache:mix"]), "0");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(
            &redis.cli(&["GET", "llm_response_cache:mix:query:h1"])
        )
        .unwrap(),
        nested["h1"]
    );
    // Idle polls read the workspace registry and count its status sets, never SCAN.
    let (scans, lists) = (calls(&redis, "scan"), calls(&redis, "smembers"));
    wait_until("the idle workers poll a few times", || {
        calls(&redis, "smembers") >= lists + 6
    });
    assert_eq!(
        calls(&redis, "scan"),
        scans,
        "an idle poll scanned the keyspace"
    );
}
