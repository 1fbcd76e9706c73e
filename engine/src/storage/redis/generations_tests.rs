//! Cache generations across two nodes (two [`RedisCoordination`]s, each with its own
//! local counters, as two nodes have) on one real `redis-server`: a write on one reaches
//! the other by its announcement, by the fallback read when the announcement is lost,
//! and again after Redis restarts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::RedisCoordination;
use super::server_tests::TestRedis;
use super::tests::config;
use crate::coordination::{Claim, Coordination, Generations, LocalGenerations, StatusBoard};
use crate::storage::VectorNamespace;

/// A node's own counters per workspace; RedisCoordination answers everything else from
/// Redis.
#[derive(Default)]
struct Node(Mutex<HashMap<String, Arc<LocalGenerations>>>);

impl Coordination for Node {
    fn claim(&self, _: &str) -> Option<Claim> {
        unreachable!("RedisCoordination claims in Redis")
    }
    fn pipeline_busy(&self, _: &str) -> bool {
        unreachable!("RedisCoordination asks Redis")
    }
    fn board(&self, _: &str) -> Arc<dyn StatusBoard> {
        unreachable!("RedisCoordination's board is in Redis")
    }
    fn generations(&self, workspace: &str) -> Arc<dyn Generations> {
        let mut all = self.0.lock().unwrap();
        all.entry(workspace.to_owned()).or_default().clone()
    }
}

fn node(uri: &str) -> RedisCoordination {
    RedisCoordination::new(Arc::new(Node::default()), &config(uri)).unwrap()
}

/// Waits (at most 20 s) until `generations` moves off `from`.
fn moves(generations: &dyn Generations, from: u64, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while generations.current(VectorNamespace::Chunks) == from {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_write_on_one_node_reloads_the_others_caches() {
    let Some(mut server) = TestRedis::start(&[]) else {
        return;
    };
    let (a, b) = (node(&server.uri()), node(&server.uri()));
    let (ga, gb) = (a.generations("ws"), b.generations("ws"));
    let other = b.generations("other");
    let (seen_b, seen_other) = (
        gb.current(VectorNamespace::Chunks),
        other.current(VectorNamespace::Chunks),
    );
    let before = ga.current(VectorNamespace::Chunks);
    ga.bump(VectorNamespace::Chunks);
    assert_ne!(
        ga.current(VectorNamespace::Chunks),
        before,
        "the writer's own node at once"
    );
    moves(
        &*gb,
        seen_b,
        "the announcement never reached the other node",
    );
    assert_eq!(other.current(VectorNamespace::Chunks), seen_other);
    assert_eq!(
        server.get("ws_cache_generation:chunks").as_deref(),
        Some("1")
    );

    // A lost announcement (the counter moved, nothing published): the fallback read.
    let seen_b = gb.current(VectorNamespace::Chunks);
    redis::cmd("INCR")
        .arg("ws_cache_generation:chunks")
        .query::<()>(&mut server.conn())
        .unwrap();
    moves(&*gb, seen_b, "the fallback read never noticed the counter");

    // Redis restarts: the subscriber comes back and writes reach the other node again.
    server.restart();
    let seen_b = gb.current(VectorNamespace::Chunks);
    ga.bump(VectorNamespace::Chunks);
    moves(
        &*gb,
        seen_b,
        "no write reached the other node after a Redis restart",
    );

    // Redis away during a write: the announcement is made once it is back.
    server.stop();
    let seen_b = gb.current(VectorNamespace::Chunks);
    ga.bump(VectorNamespace::Chunks);
    server.restart();
    moves(
        &*gb,
        seen_b,
        "a write made while Redis was away never reached the other node",
    );
}
