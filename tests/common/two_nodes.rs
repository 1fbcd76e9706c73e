//! What the two-node coordination tests (`tests/redis_coordination.rs`,
//! `tests/postgres_coordination.rs`) share: a slow run started on one node, the node
//! that took the pipeline, and the job fields both must show alike.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Server, call};

pub fn wait_until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `n` documents through `node` (with the model slowed, the run lasts a while); the
/// track id.
pub fn insert(node: &Server, n: usize) -> String {
    let texts: Vec<String> = (0..n)
        .map(|i| format!("Ada Lovelace wrote note {i} about the Analytical Engine."))
        .collect();
    let sources: Vec<String> = (0..n).map(|i| format!("n{i}.txt")).collect();
    let r = call(
        node,
        "POST",
        "/documents/texts",
        &json!({"texts": texts, "file_sources": sources}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["track_id"].as_str().unwrap().to_owned()
}

pub fn status(node: &Server) -> Value {
    node.get("/documents/pipeline_status").json()
}

/// The node whose pipeline runs, once one has logged `taken` and started its job; the
/// other one second.
pub fn holder<'a>(a: &'a Server, b: &'a Server, taken: &str) -> (&'a Server, &'a Server) {
    wait_until("a node takes the pipeline", Duration::from_secs(30), || {
        (a.output().contains(taken) || b.output().contains(taken)) && status(a)["busy"] == true
    });
    if a.output().contains(taken) {
        (a, b)
    } else {
        (b, a)
    }
}

/// The job fields both nodes must show alike.
pub fn job(status: &Value) -> Value {
    json!([
        status["busy"],
        status["job_name"],
        status["job_start"],
        status["docs"]
    ])
}
