//! Jina AI's `/v1/rerank`: Cohere's shape, asking for scores only
//! (`return_documents: false`).

use serde_json::{Value, json};

use super::Wire;

pub(super) const WIRE: Wire = Wire {
    name: "jina",
    body,
    results: "/results",
};

fn body(model: &str, query: &str, documents: &[String], top_n: Option<usize>) -> Value {
    let mut body = json!({
        "model": model,
        "query": query,
        "documents": documents,
        "return_documents": false,
    });
    if let Some(n) = top_n {
        body["top_n"] = n.into();
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jina_asks_for_scores_only() {
        let docs = ["a".to_owned(), "b".to_owned()];
        assert_eq!(
            body("jina-reranker-v2-base-multilingual", "q", &docs, Some(1)),
            json!({"model": "jina-reranker-v2-base-multilingual", "query": "q",
                   "documents": ["a", "b"], "return_documents": false, "top_n": 1})
        );
    }
}
