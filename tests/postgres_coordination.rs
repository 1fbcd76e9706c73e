//! Two nodes (each its own port, WORKING_DIR, INPUT_DIR and processes) sharing one
//! throwaway PostgreSQL with PGKVStorage and PGDocStatusStorage (skipped when the
//! PostgreSQL wheel is not available): one pipeline per workspace across both, an
//! upload accepted by one node parsed by the other, the same pipeline_status from
//! either, a SIGKILLed holder's documents finished by the survivor, a cancellation
//! asked of one node stopping the other's run, and the login throttle and the
//! token-renewal limit counted across nodes. The seams under them (claim, board,
//! change counters, throttle, renewals, shared input files) are driven directly too,
//! as two nodes in this process.

mod common;

use std::time::Duration;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use common::fake_provider::FakeProvider;
use common::postgres::Postgres;
use common::two_nodes::{holder, insert, job, status, wait_until};
use common::{Response, Server, call, send};
use lightrag_engine::coordination::{
    Claim, Coordination, Generations, LocalGenerations, LoginThrottle, Renewals, StatusBoard,
};
use lightrag_engine::documents::input_store::InputFiles;
use lightrag_engine::storage::VectorNamespace;
use lightrag_engine::storage::postgres::{
    PgCoordination, PgInputs, PgRenewals, PgThrottle, PostgresConfig,
};
use serde_json::json;

/// What the claim log says when a node takes the workspace's pipeline.
const TAKEN: &str = "pipeline claim taken";
const SECRET: &str = "a-test-secret-of-thirty-two-bytes!!";

fn shared(name: &str, pg: &Postgres) -> common::Builder {
    pg.configure(Server::builder(name))
        .env("LIGHTRAG_KV_STORAGE", "PGKVStorage")
        .env("LIGHTRAG_DOC_STATUS_STORAGE", "PGDocStatusStorage")
}

fn node(name: &str, pg: &Postgres, fake: &FakeProvider) -> Server {
    shared(name, pg)
        .env("LLM_BINDING", "openai")
        .env("LLM_BINDING_HOST", &fake.url("/v1"))
        .env("MAX_GLEANING", "0")
        .env("MAX_PARALLEL_INSERT", "1")
        .args(&["--workers", "2"])
        .start()
}

fn chat_calls(fake: &FakeProvider) -> usize {
    fake.requests()
        .iter()
        .filter(|q| {
            q["path"]
                .as_str()
                .unwrap_or("")
                .ends_with("/chat/completions")
        })
        .count()
}

/// How many times either node recorded `doc_id` as processed.
fn processed_count(nodes: &[&Server], doc_id: &str) -> usize {
    nodes
        .iter()
        .map(|n| {
            n.output()
                .lines()
                .filter(|l| l.contains("document processed") && l.contains(doc_id))
                .count()
        })
        .sum()
}

/// The engine's view of `pg`, as a node's worker would have it.
fn config(pg: &Postgres) -> PostgresConfig {
    PostgresConfig {
        max_connections: 8,
        ..pg.engine_config()
    }
}

#[test]
fn an_upload_accepted_by_one_node_is_parsed_by_the_other_once() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let fake = FakeProvider::start("pg-upload-model", json!({"delay": 1}));
    let a = node("pg-upload-a", &pg, &fake);
    let b = node("pg-upload-b", &pg, &fake);
    insert(&a, 2);
    let (holder, other) = holder(&a, &b, TAKEN);
    // The holder's run is under way: the file the other node accepts is parsed by the
    // holder, which has no copy of it in its own INPUT_DIR.
    let r = common::upload_file(
        other,
        "shared.txt",
        b"Grace Hopper wrote the first compiler.",
    );
    let track = r.json()["track_id"].as_str().unwrap().to_owned();
    let done = common::processed(holder, &track, 1, Duration::from_secs(90));
    let doc_id = done["documents"][0]["id"].as_str().unwrap().to_owned();
    assert!(
        !other.output().contains(TAKEN),
        "only the holder ran the pipeline"
    );
    assert_eq!(
        processed_count(&[&a, &b], &doc_id),
        1,
        "processed exactly once"
    );
    let seen = other
        .get(&format!("/documents/track_status/{track}"))
        .json();
    assert_eq!(seen["status_summary"], json!({"processed": 1}), "{seen}");
    assert!(
        holder
            .dir
            .join("inputs")
            .join("shared.txt")
            .symlink_metadata()
            .is_err(),
        "the holder never had the file on disk"
    );
}

#[test]
fn one_pipeline_across_nodes_and_a_killed_holders_documents_are_finished() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let fake = FakeProvider::start("pg-two-nodes-model", json!({"delay": 2}));
    let a = node("pg-node-a", &pg, &fake);
    let b = node("pg-node-b", &pg, &fake);
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
    assert_eq!(
        status(survivor)["history_messages"],
        status(holder)["history_messages"]
    );
    // The holder's whole node dies mid-run, its master first.
    wait_until(
        "the extraction call is under way",
        Duration::from_secs(30),
        || chat_calls(&fake) > 0,
    );
    let workers = holder.workers();
    unsafe { libc::kill(holder.pid(), libc::SIGKILL) };
    for pid in workers {
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    // The server drops the dead sessions' lock and the survivor resumes what was left.
    wait_until(
        "the survivor takes the pipeline",
        Duration::from_secs(30),
        || survivor.output().contains(TAKEN),
    );
    let track = common::processed(survivor, &track, 4, Duration::from_secs(90));
    assert_eq!(track["status_summary"], json!({"processed": 4}), "{track}");
    assert_eq!(status(survivor)["busy"], false);
}

#[test]
fn a_cancellation_asked_of_either_node_stops_the_run() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let fake = FakeProvider::start("pg-cancel-model", json!({"delay": 2}));
    let a = node("pg-cancel-a", &pg, &fake);
    let b = node("pg-cancel-b", &pg, &fake);
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

fn accounts(name: &str, pg: &Postgres, extra: &[&str]) -> Server {
    shared(name, pg)
        .env("AUTH_ACCOUNTS", "admin:admin-pw")
        .env("TOKEN_SECRET", SECRET)
        .args(extra)
        .start()
}

#[test]
fn failed_logins_on_one_node_lock_the_user_out_of_the_other() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let nodes: [Server; 2] = ["pg-login-a", "pg-login-b"]
        .map(|name| accounts(name, &pg, &["--login-max-failed-attempts", "3"]));
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

/// A request on a path that renews tokens (polled ones, like pipeline_status, do not).
fn with_token(node: &Server, token: &str) -> Response {
    send(
        node.port,
        "GET",
        "/metrics",
        &[("Authorization", &format!("Bearer {token}"))],
        b"",
    )
}

#[test]
fn a_token_is_renewed_once_across_nodes() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let nodes: [Server; 2] = ["pg-renew-a", "pg-renew-b"]
        .map(|name| accounts(name, &pg, &["--token-renew-threshold", "1.0"]));
    let r = common::login(nodes[0].port, "username=admin&password=admin-pw");
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.json()["access_token"].as_str().unwrap().to_owned();
    // Expiry is in whole seconds: a second later the token is below the threshold.
    std::thread::sleep(Duration::from_millis(1100));
    let mut renewed = Vec::new();
    for i in 0..20 {
        let r = with_token(&nodes[i % 2], &token);
        assert_eq!(r.status, 200, "{}", r.body);
        renewed.extend(r.header("x-new-token").map(str::to_owned));
    }
    assert_eq!(renewed.len(), 1, "exactly one renewal across both nodes");
    assert_eq!(with_token(&nodes[1], &renewed[0]).status, 200);
}

/// A node's own coordination, of which PgCoordination uses the change counters only.
struct OwnCounters(std::sync::Mutex<std::collections::HashMap<String, Arc<LocalGenerations>>>);

impl Coordination for OwnCounters {
    fn claim(&self, _: &str) -> Option<Claim> {
        unreachable!("the claim is PostgreSQL's")
    }
    fn pipeline_busy(&self, _: &str) -> bool {
        unreachable!("the claim is PostgreSQL's")
    }
    fn board(&self, _: &str) -> Arc<dyn StatusBoard> {
        unreachable!("the board is PostgreSQL's")
    }
    fn generations(&self, workspace: &str) -> Arc<dyn Generations> {
        let mut all = self.0.lock().unwrap();
        all.entry(workspace.to_owned()).or_default().clone()
    }
}

fn own_counters() -> Arc<dyn Coordination> {
    Arc::new(OwnCounters(Default::default()))
}

fn eventually(what: &str, done: impl FnMut() -> bool) {
    wait_until(what, Duration::from_secs(20), done)
}

#[test]
fn a_claim_is_exclusive_fenced_and_lost_with_its_session() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let config = config(&pg);
    let coordination = PgCoordination::new(own_counters(), &config).unwrap();
    let first = coordination.claim("ws").unwrap();
    assert!(
        coordination.claim("ws").is_none(),
        "this process holds it already"
    );
    assert!(first.still_held() && coordination.pipeline_busy("ws"));
    assert!(coordination.claim("ws").is_none(), "one holder at a time");
    assert!(
        coordination.claim("other").is_some(),
        "workspaces are apart"
    );
    // The holder's session dies (as with a crash or a cut network).
    let killed = pg.psql(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_locks \
         WHERE locktype = 'advisory' AND granted",
    );
    assert_ne!(killed, "0");
    assert!(!first.still_held(), "the old holder sees it lost the claim");
    let second = coordination.claim("ws").unwrap();
    assert!(second.token() > first.token());
    drop(first);
    assert!(
        second.still_held(),
        "the old holder's drop left the new claim"
    );
    drop(second);
    assert!(!coordination.pipeline_busy("ws"));
    let third = coordination.claim("ws").unwrap();
    assert!(third.token() > 2, "the fence never goes back");
}

#[test]
fn the_board_is_shared_capped_and_busy_only_under_a_live_claim() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let config = config(&pg);
    let coordination = PgCoordination::new(own_counters(), &config).unwrap();
    let other_node = PgCoordination::new(own_counters(), &config).unwrap();
    let (writer, reader) = (coordination.board("ws"), other_node.board("ws"));
    assert!(!reader.request_cancel(), "nothing runs");
    let claim = coordination.claim("ws").unwrap();
    writer.start("Default Job", 3, 1_700_000_000);
    writer.progress(2);
    for i in 0..(64 + 5) {
        writer.message(&format!("message {i}"));
    }
    let seen = reader.snapshot();
    assert!(seen.busy && reader.busy());
    assert_eq!(
        (
            seen.job_name.as_str(),
            seen.job_start,
            seen.docs,
            seen.batchs,
            seen.cur_batch
        ),
        ("Default Job", Some(1_700_000_000), 3, 3, 2)
    );
    assert_eq!(seen.history_messages.len(), 64);
    assert_eq!(seen.history_messages[0], "message 5");
    assert_eq!(seen.latest_message, format!("message {}", 64 + 4));
    assert!(reader.request_cancel());
    assert!(writer.cancellation_requested());
    // Its holder gone, the job is not shown as running.
    drop(claim);
    assert!(!reader.busy() && !reader.snapshot().busy);
    writer.finish();
    assert!(!writer.cancellation_requested());
}

#[test]
fn a_bump_on_one_node_moves_the_counters_of_another() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let config = config(&pg);
    let (here, there) = (
        PgCoordination::new(own_counters(), &config).unwrap(),
        PgCoordination::new(own_counters(), &config).unwrap(),
    );
    let (writer, reader) = (here.generations("ws"), there.generations("ws"));
    let other = there.generations("other");
    let before = reader.current(VectorNamespace::Entities);
    writer.bump(VectorNamespace::Entities);
    assert!(writer.current(VectorNamespace::Entities) > before);
    eventually("the notification arrives", || {
        reader.current(VectorNamespace::Entities) > before
    });
    assert_eq!(reader.current(VectorNamespace::Chunks), 0);
    assert_eq!(other.current(VectorNamespace::Entities), 0);
    // A workspace opened later starts from the rows.
    let late = PgCoordination::new(own_counters(), &config)
        .unwrap()
        .generations("ws");
    assert_eq!(
        late.current(VectorNamespace::Entities),
        reader.current(VectorNamespace::Entities)
    );
}

#[test]
fn failed_logins_are_counted_before_verification_and_cleared_by_a_success() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let config = config(&pg);
    let (a, b) = (
        PgThrottle::new(&config, 3, Duration::from_secs(60)).unwrap(),
        PgThrottle::new(&config, 3, Duration::from_secs(60)).unwrap(),
    );
    let client = IpAddr::V4(Ipv4Addr::LOCALHOST);
    for throttle in [&a, &b, &a] {
        assert!(throttle.reserve(client, "admin").is_ok());
    }
    let locked = b.reserve(client, "admin").unwrap_err();
    assert!((1..=60).contains(&locked.retry_after_secs), "{locked:?}");
    assert!(a.reserve(client, "bob").is_ok(), "per user");
    a.record_success(client, "admin");
    assert!(
        b.reserve(client, "admin").is_ok(),
        "a success clears the record"
    );
    let window = PgThrottle::new(&config, 1, Duration::from_millis(200)).unwrap();
    assert!(window.reserve(client, "carol").is_ok());
    assert!(window.reserve(client, "carol").is_err());
    eventually("the window ends", || {
        window.reserve(client, "carol").is_ok()
    });
}

#[test]
fn one_renewal_per_user_per_interval_across_nodes() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let config = config(&pg);
    let (a, b) = (
        PgRenewals::new(&config, Duration::from_secs(60)).unwrap(),
        PgRenewals::new(&config, Duration::from_secs(60)).unwrap(),
    );
    assert!(a.try_claim("alice"));
    assert!(!b.try_claim("alice") && !a.try_claim("alice"));
    assert!(b.try_claim("bob"));
    let short = PgRenewals::new(&config, Duration::from_millis(100)).unwrap();
    assert!(short.try_claim("carol"));
    eventually("the interval ends", || short.try_claim("carol"));
}

#[test]
fn a_published_file_is_read_by_another_node_and_forgotten_once_parsed() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let config = config(&pg);
    let root = std::env::temp_dir().join(format!("lrm-pg-inputs-{}", std::process::id()));
    let (here, there) = (root.join("a"), root.join("b"));
    for dir in [&here, &there] {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(here.join("doc.[native].txt"), b"shared bytes").unwrap();
    let accepting = PgInputs::open(&config, "ws", &here).unwrap();
    let parsing = PgInputs::open(&config, "ws", &there).unwrap();
    accepting.publish("doc.[native].txt").unwrap();
    assert_eq!(
        parsing.read("doc.[native].txt").unwrap().unwrap(),
        b"shared bytes"
    );
    assert_eq!(
        parsing.archive("doc.[native].txt").unwrap(),
        None,
        "nothing on its disk"
    );
    assert!(
        accepting.read("doc.[native].txt").unwrap().is_ok(),
        "the local copy stays"
    );
    std::fs::remove_file(here.join("doc.[native].txt")).unwrap();
    assert!(
        parsing.read("doc.[native].txt").unwrap().is_err(),
        "forgotten once parsed"
    );
    std::fs::write(here.join("gone.txt"), b"x").unwrap();
    accepting.publish("gone.txt").unwrap();
    accepting.forget("gone.txt");
    assert!(
        parsing.read("gone.txt").unwrap().is_err(),
        "a deleted document's file goes"
    );
    std::fs::remove_dir_all(&root).unwrap();
}
