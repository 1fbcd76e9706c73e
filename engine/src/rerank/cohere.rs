//! Cohere's `/v2/rerank` (and the Cohere-compatible servers: vLLM, LiteLLM ...):
//! `{model, query, documents, top_n}` in, `{results: [{index, relevance_score}]}` out.

use serde_json::{Value, json};

use super::Wire;

pub(super) const WIRE: Wire = Wire {
    name: "cohere",
    body,
    results: "/results",
};

fn body(model: &str, query: &str, documents: &[String], top_n: Option<usize>) -> Value {
    let mut body = json!({"model": model, "query": query, "documents": documents});
    if let Some(n) = top_n {
        body["top_n"] = n.into();
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cohere_sends_no_return_documents() {
        let docs = ["a".to_owned()];
        assert_eq!(
            body("rerank-v3.5", "q", &docs, Some(2)),
            json!({"model": "rerank-v3.5", "query": "q", "documents": ["a"], "top_n": 2})
        );
        assert_eq!(body("m", "q", &docs, None).get("top_n"), None);
    }
}
