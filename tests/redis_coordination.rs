//! Two nodes (each its own port, WORKING_DIR and processes) sharing one redis-server
//! with RedisKVStorage and RedisDocStatusStorage (skipped when redis-server is not
//! installed): one pipeline per workspace across both, the same pipeline_status from
//! either, a SIGKILLed holder's documents finished by the survivor, a cancellation
//! asked of one node stopping the other's run, failed logins and token renewals counted
//! across nodes, and vector writes announced to every node's processes.

mod common;

use std::time::Duration;

use common::fake_provider::FakeProvider;
use common::redis::Redis;
use common::two_nodes::{holder, insert, job, status, wait_until};
use common::{Server, call};
use serde_json::json;

/// What the lease log says when a node takes the workspace's pipeline.
const TAKEN: &str = "pipeline lease taken";

fn node(name: &str, redis: &Redis, fake: &FakeProvider) -> Server {
    Server::builder(name)
        .env("LIGHTRAG_KV_STORAGE", "RedisKVStorage")
        .env("LIGHTRAG_DOC_STATUS_STORAGE", "RedisDocStatusStorage")
        .env("REDIS_URI", &redis.uri())
        .env("LLM_BINDING", "openai")
        .env("LLM_BINDING_HOST", &fake.url("/v1"))
        .env("MAX_GLEANING", "0")
        .env("MAX_PARALLEL_INSERT", "1")
        .args(&["--workers", "2"])
        .start()
}

#[test]
fn one_pipeline_across_nodes_and_a_killed_holders_documents_are_finished() {
    let Some(redis) = Redis::start(&[]) else {
        return;
    };
    let fake = FakeProvider::start("redis-two-nodes-model", json!({"delay": 2}));
    let a = node("redis-node-a", &redis, &fake);
    let b = node("redis-node-b", &redis, &fake);
    let track = insert(&a, 4);
    let (holder, survivor) = holder(&a, &b, TAKEN);
    assert!(
        !survivor.output().contains(TAKEN),
        "only one node runs the pipeline"
    );
    let shown = status(holder);
    assert_eq!(shown["busy"], true, "{shown}");
    assert_eq!(
        job(&status(survivor)),
        job(&shown),
        "both nodes show the same job"
    );
    // The holder's whole node dies mid-run, its master first.
    wait_until(
        "the extraction call is under way",
        Duration::from_secs(30),
        || {
            fake.requests().iter().any(|q| {
                q["path"]
                    .as_str()
                    .unwrap_or("")
                    .ends_with("/chat/completions")
            })
        },
    );
    let workers = holder.workers();
    unsafe { libc::kill(holder.pid(), libc::SIGKILL) };
    for pid in workers {
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    // Its lease lapses and the survivor resumes what was left.
    wait_until(
        "the survivor takes the pipeline",
        Duration::from_secs(30),
        || survivor.output().contains(TAKEN),
    );
    let track = common::processed(survivor, &track, 4, Duration::from_secs(90));
    assert_eq!(track["status_summary"], json!({"processed": 4}), "{track}");
    assert_eq!(redis.keys("full_docs:*").len(), 4);
}

#[test]
fn a_cancellation_asked_of_either_node_stops_the_run() {
    let Some(redis) = Redis::start(&[]) else {
        return;
    };
    let fake = FakeProvider::start("redis-cancel-model", json!({"delay": 2}));
    let a = node("redis-cancel-a", &redis, &fake);
    let b = node("redis-cancel-b", &redis, &fake);
    insert(&a, 4);
    let (holder, other) = holder(&a, &b, TAKEN);
    let r = call(other, "POST", "/documents/cancel_pipeline", &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(status(holder)["cancellation_requested"], true);
    wait_until("the holder's run stops", Duration::from_secs(60), || {
        status(holder)["busy"] == false
    });
    let (seen_a, seen_b) = (status(&a), status(&b));
    assert_eq!(seen_a["history_messages"], seen_b["history_messages"]);
    assert_eq!(seen_a["latest_message"], seen_b["latest_message"]);
    let history = seen_a["history_messages"].to_string();
    assert!(history.contains("Cancellation requested"), "{history}");
    let page = call(&a, "POST", "/documents/paginated", &json!({})).json();
    assert!(
        page["status_counts"]["failed"].as_u64().unwrap_or(0) >= 1,
        "the documents left are failed as cancelled: {page}"
    );
}

#[test]
fn failed_logins_on_one_node_lock_the_user_out_of_the_other() {
    let Some(redis) = Redis::start(&[]) else {
        return;
    };
    let nodes: Vec<Server> = ["redis-login-a", "redis-login-b"]
        .map(|name| {
            Server::builder(name)
                .env("LIGHTRAG_KV_STORAGE", "RedisKVStorage")
                .env("LIGHTRAG_DOC_STATUS_STORAGE", "RedisDocStatusStorage")
                .env("REDIS_URI", &redis.uri())
                .env("AUTH_ACCOUNTS", "admin:admin-pw")
                .env("TOKEN_SECRET", "a-test-secret-of-thirty-two-bytes!!")
                .args(&["--login-max-failed-attempts", "3"])
                .start()
        })
        .into();
    for node in [&nodes[0], &nodes[1], &nodes[0]] {
        assert_eq!(
            common::login(node.port, "username=admin&password=wrong").status,
            401
        );
    }
    let r = common::login(nodes[1].port, "username=admin&password=admin-pw");
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.header("retry-after").is_some());
}

#[test]
fn a_token_is_renewed_once_per_minute_across_nodes() {
    let Some(redis) = Redis::start(&[]) else {
        return;
    };
    let nodes: Vec<Server> = ["redis-renew-a", "redis-renew-b"]
        .map(|name| {
            Server::builder(name)
                .env("LIGHTRAG_KV_STORAGE", "RedisKVStorage")
                .env("LIGHTRAG_DOC_STATUS_STORAGE", "RedisDocStatusStorage")
                .env("REDIS_URI", &redis.uri())
                .env("AUTH_ACCOUNTS", "admin:admin-pw")
                .env("TOKEN_SECRET", "a-test-secret-of-thirty-two-bytes!!")
                .args(&["--token-renew-threshold", "1.0"])
                .start()
        })
        .into();
    let r = common::login(nodes[0].port, "username=admin&password=admin-pw");
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.json()["access_token"].as_str().unwrap().to_owned();
    // A token is renewed once its issue second is past.
    std::thread::sleep(Duration::from_millis(1100));
    let auth = format!("Bearer {token}");
    let mut renewed = Vec::new();
    for node in [&nodes[0], &nodes[1], &nodes[0], &nodes[1], &nodes[1]] {
        let r = common::send(
            node.port,
            "GET",
            "/metrics",
            &[("Authorization", &auth)],
            b"",
        );
        assert_eq!(r.status, 200, "{}", r.body);
        renewed.extend(r.header("x-new-token").map(str::to_owned));
    }
    assert_eq!(renewed.len(), 1, "exactly one renewal across both nodes");
    let pttl: i64 = redis.cli(&["PTTL", "token_renewal:admin"]).parse().unwrap();
    assert!(pttl > 0 && pttl <= 60_000, "{pttl}");
}

#[test]
fn every_vector_write_is_announced_to_the_other_nodes() {
    let Some(redis) = Redis::start(&[]) else {
        return;
    };
    let fake = FakeProvider::start("redis-generations-model", json!({}));
    let a = node("redis-generations-a", &redis, &fake);
    let _b = node("redis-generations-b", &redis, &fake);
    // Each worker process of both nodes subscribes to the announcements.
    wait_until("both nodes subscribe", Duration::from_secs(30), || {
        let subscribers = redis.cli(&["PUBSUB", "NUMSUB", "lightrag_master:cache_generations:0"]);
        subscribers.lines().nth(1) == Some("4")
    });
    common::index_texts(
        &a,
        &[(
            "ada.txt",
            "Ada Lovelace wrote notes on the Analytical Engine.",
        )],
    );
    let chunks: u64 = redis
        .cli(&["GET", "cache_generation:chunks"])
        .parse()
        .unwrap();
    assert!(
        chunks >= 1,
        "the chunk vectors' write moved the shared counter"
    );
}
