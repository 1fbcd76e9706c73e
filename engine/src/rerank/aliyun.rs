//! Aliyun DashScope's text-rerank service: the query and documents nested under
//! `input`, the options under `parameters`; the results under `output`.

use serde_json::{Value, json};

use super::Wire;

pub(super) const WIRE: Wire = Wire {
    name: "aliyun",
    body,
    results: "/output/results",
};

fn body(model: &str, query: &str, documents: &[String], top_n: Option<usize>) -> Value {
    let mut parameters = json!({"return_documents": false});
    if let Some(n) = top_n {
        parameters["top_n"] = n.into();
    }
    json!({
        "model": model,
        "input": {"query": query, "documents": documents},
        "parameters": parameters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliyun_nests_input_and_parameters() {
        let docs = ["a".to_owned()];
        assert_eq!(
            body("gte-rerank-v2", "q", &docs, Some(3)),
            json!({"model": "gte-rerank-v2", "input": {"query": "q", "documents": ["a"]},
                   "parameters": {"return_documents": false, "top_n": 3}})
        );
        assert_eq!(
            body("m", "q", &docs, None)["parameters"],
            json!({"return_documents": false})
        );
    }
}
