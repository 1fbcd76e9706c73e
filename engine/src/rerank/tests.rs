use std::sync::Mutex;

use serde_json::json;

use super::*;
use crate::llm::wait;

/// Answers what it is scripted to, and records the `top_n` it was asked for.
struct Scripted {
    answer: Result<Vec<Scored>, ModelError>,
    asked: Mutex<Vec<Option<usize>>>,
}

fn scripted(answer: Result<Vec<(usize, f64)>, ModelError>) -> Scripted {
    Scripted {
        answer: answer.map(|v| {
            v.into_iter()
                .map(|(index, relevance_score)| Scored {
                    index,
                    relevance_score,
                })
                .collect()
        }),
        asked: Mutex::new(Vec::new()),
    }
}

impl Reranker for Scripted {
    fn rerank<'a>(
        &'a self,
        _query: &'a str,
        _documents: &'a [String],
        top_n: Option<usize>,
    ) -> BoxFuture<'a, Result<Vec<Scored>, ModelError>> {
        self.asked.lock().unwrap().push(top_n);
        let answer = self.answer.clone();
        Box::pin(async move { answer })
    }
}

fn items() -> Vec<String> {
    ["a", "b", "c", "d"].map(str::to_owned).to_vec()
}

fn run(reranker: Option<&dyn Reranker>, top_n: usize, min_score: f64) -> Vec<String> {
    wait(rerank(
        reranker,
        "q",
        items(),
        |s| s.as_str(),
        top_n,
        min_score,
    ))
}

#[test]
fn chunks_follow_the_scores_and_the_cut() {
    let r = scripted(Ok(vec![(2, 0.9), (0, 0.5), (3, 0.1)]));
    assert_eq!(run(Some(&r), 3, 0.0), ["c", "a", "d"]);
    assert_eq!(*r.asked.lock().unwrap(), [Some(3)]);
}

#[test]
fn stray_and_repeated_indices_are_ignored() {
    let r = scripted(Ok(vec![(7, 0.9), (1, 0.8), (1, 0.7), (0, 0.2)]));
    assert_eq!(run(Some(&r), 4, 0.0), ["b", "a"]);
}

#[test]
fn a_failure_or_no_results_keeps_the_order() {
    let failed = scripted(Err(ModelError::Status {
        provider: "cohere",
        status: 500,
        body: String::new(),
    }));
    assert_eq!(run(Some(&failed), 2, 0.5), items());
    let empty = scripted(Ok(Vec::new()));
    assert_eq!(run(Some(&empty), 2, 0.0), items());
}

#[test]
fn min_score_drops_low_scores_and_unscored_count_as_one() {
    let r = scripted(Ok(vec![(2, 0.9), (0, 0.5), (3, 0.1)]));
    assert_eq!(run(Some(&r), 4, 0.5), ["c", "a"]);
    assert_eq!(run(None, 4, 1.0), items(), "no reranker: nothing scored");
    assert!(run(None, 4, 1.5).is_empty());
}

#[test]
fn nothing_to_rerank_asks_nothing() {
    let r = scripted(Ok(vec![(0, 1.0)]));
    let out = wait(rerank(
        Some(&r),
        "q",
        Vec::<String>::new(),
        |s| s.as_str(),
        3,
        0.0,
    ));
    assert!(out.is_empty());
    assert!(r.asked.lock().unwrap().is_empty());
}

#[test]
fn answers_are_read_as_lightrag_reads_them() {
    let list = json!([{"index": 1, "relevance_score": 0.25, "document": {"text": "x"}}]);
    assert_eq!(
        results("jina", Some(&list)).unwrap(),
        [Scored {
            index: 1,
            relevance_score: 0.25
        }]
    );
    assert_eq!(results("cohere", None).unwrap(), []);
    assert_eq!(results("cohere", Some(&json!({"a": 1}))).unwrap(), []);
    let bad = json!([{"index": 0, "score": 0.3}]);
    assert!(matches!(
        results("aliyun", Some(&bad)),
        Err(ModelError::Malformed { .. })
    ));
}
