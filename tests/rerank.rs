//! The rerank step of queries against a scripted reranker on loopback
//! (`tests/fixtures/fake_provider.py`, which scores a document by the substrings it
//! contains): each binding's request as sent (URL, key, body), the reordering, cut and
//! MIN_RERANK_SCORE drop seen in `/query/data`, RERANK_BY_DEFAULT and `enable_rerank`,
//! cohere's chunked scoring, a failing or slow reranker keeping the order, the
//! `reranking` progress step, the `/health` fields and the cross-worker limit.

mod common;

use std::time::Duration;

use common::Server;
use common::fake_provider::FakeProvider;
use serde_json::{Value, json};

const CORPUS: [(&str, &str); 4] = [
    ("iron.txt", "Iron rusts in damp air and holds up bridges."),
    ("gold.txt", "Gold never tarnishes and jewellers prize it."),
    (
        "copper.txt",
        "Copper carries electricity through house wires.",
    ),
    (
        "silver.txt",
        "Silver reflects light and makes fine mirrors.",
    ),
];
const QUESTION: &str = "Which metal is the most precious one?";
/// How the scripted reranker scores a chunk: by the word it contains (0.0 for iron).
const SCORES: [(&str, f64); 3] = [("Gold", 0.9), ("Silver", 0.6), ("Copper", 0.05)];

fn scores() -> Value {
    let table: serde_json::Map<String, Value> = SCORES
        .iter()
        .map(|(w, s)| ((*w).to_owned(), json!(s)))
        .collect();
    json!({ "rerank_scores": table })
}

/// What reranking makes of `candidates`: the best scores first, those below `min`
/// dropped, `top_n` kept. Asserts it is not their retrieval order, so that the test
/// sees the rerank.
fn by_score(candidates: &[String], min: f64, top_n: usize) -> Vec<String> {
    let score = |c: &String| {
        SCORES
            .iter()
            .filter(|(w, _)| c.contains(w))
            .map(|(_, s)| *s)
            .fold(0.0, f64::max)
    };
    let mut out = candidates.to_vec();
    out.sort_by(|a, b| score(b).total_cmp(&score(a)));
    out.truncate(top_n);
    out.retain(|c| score(c) >= min);
    assert_ne!(
        out, candidates,
        "the retrieval order is already the score order"
    );
    out
}

/// A server with the corpus indexed; every chunk passes the cosine threshold, so
/// naive retrieval finds the `chunk_top_k` nearest (all four when it is 4 or more).
fn indexed(name: &str, env: &[(&str, &str)]) -> Server {
    let mut builder = Server::builder(name).env("COSINE_THRESHOLD", "-1");
    for (k, v) in env {
        builder = builder.env(k, v);
    }
    let server = builder.start();
    common::index_texts(&server, &CORPUS);
    server
}

fn data(server: &Server, extra: Value) -> Value {
    let mut body = json!({"query": QUESTION, "mode": "naive"});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let r = common::call(server, "POST", "/query/data", &body);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

fn contents(data: &Value) -> Vec<String> {
    data["data"]["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["content"].as_str().unwrap().to_owned())
        .collect()
}

fn files(data: &Value) -> Vec<String> {
    data["data"]["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["file_path"].as_str().unwrap().to_owned())
        .collect()
}

/// The chunks in retrieval's own order (no rerank), all of them.
fn unreranked(server: &Server) -> Vec<String> {
    let chunks = contents(&data(
        server,
        json!({"enable_rerank": false, "chunk_top_k": 10}),
    ));
    assert_eq!(chunks.len(), 4, "{chunks:?}");
    chunks
}

fn reranks(fake: &FakeProvider) -> Vec<Value> {
    fake.requests()
        .into_iter()
        .filter(|r| r["path"].as_str().is_some_and(|p| p.ends_with("rerank")))
        .collect()
}

#[test]
fn cohere_reorders_cuts_to_top_n_and_drops_low_scores() {
    let fake = FakeProvider::start("rerank-cohere", scores());
    let server = indexed(
        "rerank-cohere-server",
        &[
            ("RERANK_BINDING", "cohere"),
            ("RERANK_BINDING_HOST", &fake.url("/v2/rerank")),
            ("RERANK_BINDING_API_KEY", "sk-rerank"),
            ("COHERE_API_KEY", "sk-not-this-one"),
            ("MIN_RERANK_SCORE", "0.1"),
        ],
    );
    let original = unreranked(&server);
    assert!(
        reranks(&fake).is_empty(),
        "enable_rerank=false asks nothing"
    );

    // RERANK_BY_DEFAULT is true: no enable_rerank in the request reranks, here the
    // three nearest chunks, copper (0.05) and iron (0.0) fall below MIN_RERANK_SCORE.
    let reranked = data(&server, json!({"chunk_top_k": 3}));
    let expected = by_score(&original[..3], 0.1, 3);
    assert_eq!(contents(&reranked), expected);
    assert_eq!(
        reranked["metadata"]["processing_info"]["final_chunks_count"],
        expected.len()
    );
    assert_eq!(reranked["data"]["references"][0]["file_path"], "gold.txt");
    let sent = reranks(&fake);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["path"], "/v2/rerank");
    assert_eq!(sent[0]["authorization"], "Bearer sk-rerank");
    assert_eq!(
        sent[0]["body"],
        json!({"model": "rerank-v3.5", "query": QUESTION, "documents": original[..3], "top_n": 3})
    );
    let all = data(&server, json!({"chunk_top_k": 4}));
    assert_eq!(
        files(&all),
        ["gold.txt", "silver.txt"],
        "copper and iron dropped"
    );

    let health = server.get("/health").json();
    let c = &health["configuration"];
    assert_eq!(c["enable_rerank"], true);
    assert_eq!(c["rerank_binding"], "cohere");
    assert_eq!(c["rerank_model"], "rerank-v3.5");
    assert_eq!(c["rerank_binding_host"], fake.url("/v2/rerank"));
    assert_eq!(c["rerank_max_async"], 4);
    assert_eq!(c["rerank_timeout"], 30);
    assert_eq!(c["min_rerank_score"], 0.1);

    let bad = common::call(
        &server,
        "POST",
        "/query",
        &json!({"query": QUESTION, "enable_rerank": "perhaps"}),
    );
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert_eq!(
        bad.json()["detail"][0]["loc"],
        json!(["body", "enable_rerank"])
    );
}

#[test]
fn jina_takes_its_own_key_and_follows_rerank_by_default() {
    let fake = FakeProvider::start("rerank-jina", scores());
    let server = indexed(
        "rerank-jina-server",
        &[
            ("RERANK_BINDING", "jina"),
            ("RERANK_BINDING_HOST", &fake.url("/v1/rerank")),
            ("JINA_API_KEY", "sk-jina"),
            ("RERANK_BY_DEFAULT", "false"),
        ],
    );
    let original = unreranked(&server);
    let plain = data(&server, json!({"chunk_top_k": 4}));
    assert_eq!(contents(&plain), original, "RERANK_BY_DEFAULT=false");
    assert!(reranks(&fake).is_empty());

    let reranked = data(&server, json!({"chunk_top_k": 4, "enable_rerank": true}));
    assert_eq!(
        files(&reranked),
        ["gold.txt", "silver.txt", "copper.txt", "iron.txt"],
        "MIN_RERANK_SCORE 0.0 keeps every chunk"
    );
    let sent = reranks(&fake);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["authorization"], "Bearer sk-jina");
    assert_eq!(
        sent[0]["body"],
        json!({"model": "jina-reranker-v2-base-multilingual", "query": QUESTION,
               "documents": original, "top_n": 4, "return_documents": false})
    );
}

#[test]
fn aliyun_nests_its_request_and_answer_and_streams_a_reranking_step() {
    let fake = FakeProvider::start("rerank-aliyun", scores());
    let server = indexed(
        "rerank-aliyun-server",
        &[
            ("RERANK_BINDING", "aliyun"),
            ("RERANK_BINDING_HOST", &fake.url("/api/v1/services/rerank")),
            ("RERANK_MODEL", "gte-rerank-test"),
            ("DASHSCOPE_API_KEY", "sk-dash"),
        ],
    );
    let original = unreranked(&server);
    let reranked = data(&server, json!({"chunk_top_k": 4}));
    assert_eq!(
        files(&reranked),
        ["gold.txt", "silver.txt", "copper.txt", "iron.txt"]
    );
    let sent = reranks(&fake);
    assert_eq!(sent[0]["authorization"], "Bearer sk-dash");
    assert_eq!(
        sent[0]["body"],
        json!({"model": "gte-rerank-test",
               "input": {"query": QUESTION, "documents": original},
               "parameters": {"top_n": 4, "return_documents": false}})
    );

    let r = common::call(
        &server,
        "POST",
        "/query/stream",
        &json!({"query": QUESTION, "mode": "naive", "include_progress": true}),
    );
    let steps: Vec<Value> = common::ndjson(&r)
        .into_iter()
        .filter_map(|l| l.get("progress").cloned())
        .collect();
    assert_eq!(
        steps,
        ["retrieving_chunks", "reranking", "generating_response"],
        "{}",
        r.body
    );
}

#[test]
fn cohere_chunking_scores_each_document_by_its_best_piece() {
    let fake = FakeProvider::start("rerank-chunks", scores());
    let server = indexed(
        "rerank-chunks-server",
        &[
            ("RERANK_BINDING", "cohere"),
            ("RERANK_BINDING_HOST", &fake.url("/v2/rerank")),
            ("RERANK_ENABLE_CHUNKING", "true"),
            ("RERANK_MAX_TOKENS_PER_DOC", "4"),
        ],
    );
    let original = unreranked(&server);
    let reranked = data(&server, json!({"chunk_top_k": 4}));
    assert_eq!(
        files(&reranked),
        ["gold.txt", "silver.txt", "copper.txt", "iron.txt"]
    );
    let three = data(&server, json!({"chunk_top_k": 3}));
    assert_eq!(
        contents(&three),
        by_score(&original[..3], 0.0, 3),
        "top_n applies to documents, after their pieces are scored"
    );
    let sent = reranks(&fake);
    assert_eq!(sent[0]["authorization"], Value::Null, "no key, no header");
    let body = &sent[0]["body"];
    assert_eq!(body.get("top_n"), None, "every piece is scored");
    let pieces: Vec<&str> = body["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(pieces.len() > 2 * original.len(), "{pieces:?}");
    for piece in &pieces {
        assert!(
            original.iter().any(|c| c.contains(piece)),
            "{piece:?} is not a piece of a chunk"
        );
    }
    // Each chunk is covered by its pieces from its first word to its last.
    for chunk in &original {
        let own: Vec<&&str> = pieces.iter().filter(|p| chunk.contains(**p)).collect();
        assert!(own.iter().any(|p| chunk.starts_with(**p)), "{chunk}");
        assert!(own.iter().any(|p| chunk.ends_with(**p)), "{chunk}");
    }
}

#[test]
fn a_failing_or_slow_reranker_keeps_the_original_order() {
    let failing = FakeProvider::start("rerank-500", json!({"fail": [500, 502, 503]}));
    let server = indexed(
        "rerank-500-server",
        &[
            ("RERANK_BINDING", "cohere"),
            ("RERANK_BINDING_HOST", &failing.url("/v2/rerank")),
            ("MIN_RERANK_SCORE", "0.5"),
        ],
    );
    let original = unreranked(&server);
    let kept = data(&server, json!({"chunk_top_k": 3}));
    assert_eq!(
        contents(&kept),
        original[..3],
        "unscored chunks pass MIN_RERANK_SCORE"
    );
    assert_eq!(reranks(&failing).len(), 3, "three attempts");
    assert!(
        server.wait_output(
            "rerank failed; keeping the original order",
            Duration::from_secs(5)
        ),
        "{}",
        server.output()
    );
    drop(server);

    let slow = FakeProvider::start(
        "rerank-slow",
        json!({"rerank_delay": 5, "rerank_scores": {"Iron": 1.0}}),
    );
    let server = indexed(
        "rerank-slow-server",
        &[
            ("RERANK_BINDING", "jina"),
            ("RERANK_BINDING_HOST", &slow.url("/v1/rerank")),
            ("RERANK_TIMEOUT", "1"),
        ],
    );
    let original = unreranked(&server);
    let kept = data(&server, json!({"chunk_top_k": 4}));
    assert_eq!(contents(&kept), original);
    assert_eq!(
        reranks(&slow).len(),
        1,
        "the timeout spends the call's budget"
    );
    assert!(
        server.wait_output("did not answer within 1 s", Duration::from_secs(5)),
        "{}",
        server.output()
    );
}

#[test]
fn without_a_binding_enable_rerank_only_warns() {
    let server = indexed("rerank-null", &[]);
    let original = unreranked(&server);
    let plain = data(&server, json!({"chunk_top_k": 4}));
    assert_eq!(contents(&plain), original);
    assert!(
        server.wait_output(
            "Rerank is enabled but no rerank model is configured",
            Duration::from_secs(5)
        ),
        "{}",
        server.output()
    );
    let c = &server.get("/health").json()["configuration"];
    assert_eq!(c["enable_rerank"], false);
    assert_eq!(c["rerank_binding"], "null");
    assert_eq!(c["rerank_model"], Value::Null);
    assert_eq!(c["rerank_binding_host"], Value::Null);
    assert_eq!(c["min_rerank_score"], 0.0);
}

#[test]
fn max_async_rerank_holds_across_workers() {
    let fake = FakeProvider::start(
        "rerank-limit",
        json!({"rerank_delay": 0.5, "rerank_scores": {"Gold": 1.0}}),
    );
    let server = indexed(
        "rerank-limit-server",
        &[
            ("WORKERS", "2"),
            ("RERANK_BINDING", "cohere"),
            ("RERANK_BINDING_HOST", &fake.url("/v2/rerank")),
            ("MAX_ASYNC_RERANK", "1"),
        ],
    );
    assert_eq!(
        server.get("/health").json()["configuration"]["rerank_max_async"],
        1
    );
    let port = server.port;
    let clients: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                common::send(
                    port,
                    "POST",
                    "/query/data",
                    &[("Content-Type", "application/json")],
                    json!({"query": QUESTION, "mode": "naive"})
                        .to_string()
                        .as_bytes(),
                )
            })
        })
        .collect();
    for client in clients {
        let r = client.join().unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["data"]["chunks"][0]["file_path"], "gold.txt");
    }
    let sent = reranks(&fake);
    assert_eq!(sent.len(), 4);
    let peak = sent.iter().filter_map(|r| r["in_flight"].as_u64()).max();
    assert_eq!(peak, Some(1), "never two reranks at once");
}

/// A tiny cross-encoder directory (a one-layer BERT, its pooler, a one-label
/// classifier) written from scratch: pseudo-random encoder weights, and a classifier
/// of zero weights and bias `bias`, so that every pair scores exactly sigmoid(bias),
/// whatever the encoder makes of it.
#[cfg(feature = "local-models")]
fn write_cross_encoder(dir: &std::path::Path, bias: f32) {
    const H: usize = 4;
    const WORDS: [&str; 6] = ["iron", "gold", "copper", "silver", "metal", "precious"];
    std::fs::create_dir_all(dir).unwrap();
    let vocab = 4 + WORDS.len();
    let config = json!({"model_type": "bert", "vocab_size": vocab, "hidden_size": H,
        "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 8,
        "hidden_act": "gelu", "max_position_embeddings": 128, "type_vocab_size": 2,
        "layer_norm_eps": 1e-12, "pad_token_id": 0});
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let mut ids = json!({"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3});
    for (i, w) in WORDS.iter().enumerate() {
        ids[*w] = json!(4 + i);
    }
    let special = |id: u32, content: &str| {
        json!({"id": id, "content": content, "single_word": false, "lstrip": false,
               "rstrip": false, "normalized": false, "special": true})
    };
    let token = |name: &str, t: u32| json!({"SpecialToken": {"id": name, "type_id": t}});
    let sequence = |name: &str, t: u32| json!({"Sequence": {"id": name, "type_id": t}});
    let tokenizer = json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": [special(0, "[PAD]"), special(1, "[UNK]"), special(2, "[CLS]"), special(3, "[SEP]")],
        "normalizer": {"type": "BertNormalizer", "clean_text": true,
            "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "TemplateProcessing",
            "single": [token("[CLS]", 0), sequence("A", 0), token("[SEP]", 0)],
            "pair": [token("[CLS]", 0), sequence("A", 0), token("[SEP]", 0),
                     sequence("B", 1), token("[SEP]", 1)],
            "special_tokens": {
                "[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
        "decoder": null,
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100, "vocab": ids}
    });
    std::fs::write(dir.join("tokenizer.json"), tokenizer.to_string()).unwrap();
    let mut seed = 12345u64;
    let mut random = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((seed >> 40) as f32 / (1u64 << 24) as f32) - 0.5
            })
            .collect()
    };
    let mut tensors: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
    let mut put = |name: &str, shape: &[usize], values: Vec<f32>| {
        tensors.push((name.to_owned(), shape.to_vec(), values));
    };
    put(
        "bert.embeddings.word_embeddings.weight",
        &[vocab, H],
        random(vocab * H),
    );
    put(
        "bert.embeddings.position_embeddings.weight",
        &[128, H],
        random(128 * H),
    );
    put(
        "bert.embeddings.token_type_embeddings.weight",
        &[2, H],
        random(2 * H),
    );
    let l = "bert.encoder.layer.0";
    for norm in [
        "bert.embeddings.LayerNorm".to_owned(),
        format!("{l}.attention.output.LayerNorm"),
        format!("{l}.output.LayerNorm"),
    ] {
        put(&format!("{norm}.weight"), &[H], vec![1.0; H]);
        put(&format!("{norm}.bias"), &[H], vec![0.0; H]);
    }
    for (name, out, inp) in [
        ("attention.self.query", H, H),
        ("attention.self.key", H, H),
        ("attention.self.value", H, H),
        ("attention.output.dense", H, H),
        ("intermediate.dense", 8, H),
        ("output.dense", H, 8),
    ] {
        put(
            &format!("{l}.{name}.weight"),
            &[out, inp],
            random(out * inp),
        );
        put(&format!("{l}.{name}.bias"), &[out], random(out));
    }
    put("bert.pooler.dense.weight", &[H, H], random(H * H));
    put("bert.pooler.dense.bias", &[H], random(H));
    put("classifier.weight", &[1, H], vec![0.0; H]);
    put("classifier.bias", &[1], vec![bias]);
    // safetensors: a little-endian u64 header length, the JSON header, the raw data.
    let mut header = serde_json::Map::new();
    let mut data: Vec<u8> = Vec::new();
    for (name, shape, values) in &tensors {
        let start = data.len();
        data.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        header.insert(
            name.clone(),
            json!({"dtype": "F32", "shape": shape, "data_offsets": [start, data.len()]}),
        );
    }
    let mut header = Value::Object(header).to_string().into_bytes();
    header.resize(header.len().div_ceil(8) * 8, b' ');
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend(header);
    file.extend(data);
    std::fs::write(dir.join("model.safetensors"), file).unwrap();
}

#[cfg(feature = "local-models")]
#[test]
fn local_cross_encoder_scores_every_chunk_in_process() {
    let model = common::temp_dir("rerank-local-model");
    // sigmoid(0) = 0.5 exactly for every pair.
    write_cross_encoder(&model, 0.0);
    let dir = model.display().to_string();
    let local = [("RERANK_BINDING", "local"), ("RERANK_MODEL", dir.as_str())];
    let kept = indexed(
        "rerank-local-kept",
        &[local[0], local[1], ("MIN_RERANK_SCORE", "0.5")],
    );
    let c = &kept.get("/health").json()["configuration"];
    assert_eq!(c["enable_rerank"], true);
    assert_eq!(c["rerank_binding"], "local");
    assert_eq!(c["rerank_model"], dir.as_str());
    assert_eq!(c["rerank_binding_host"], Value::Null);
    let original = unreranked(&kept);
    let reranked = data(&kept, json!({"chunk_top_k": 4}));
    assert_eq!(
        contents(&reranked),
        original,
        "equal scores keep the retrieval order, and 0.5 passes MIN_RERANK_SCORE 0.5"
    );
    drop(kept);

    // Just above the score: every chunk was scored 0.5, so every chunk is dropped
    // (unscored chunks would count as 1.0 and stay).
    let dropped = indexed(
        "rerank-local-dropped",
        &[local[0], local[1], ("MIN_RERANK_SCORE", "0.5000001")],
    );
    assert_eq!(unreranked(&dropped).len(), 4);
    let none = data(&dropped, json!({"chunk_top_k": 4}));
    assert_eq!(none["data"]["chunks"], json!([]), "{none}");
    let _ = std::fs::remove_dir_all(&model);
}

#[cfg(feature = "local-models")]
#[test]
fn local_needs_a_model_directory() {
    let out = std::process::Command::new(common::BIN)
        .current_dir(common::temp_dir("rerank-local-missing"))
        .env("RERANK_BINDING", "local")
        .env("RERANK_MODEL", "/nonexistent/cross-encoder")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("RERANK_MODEL") && stderr.contains("no config.json"),
        "{stderr}"
    );
}

#[cfg(not(feature = "local-models"))]
#[test]
fn local_needs_a_build_with_local_models() {
    let out = std::process::Command::new(common::BIN)
        .current_dir(common::temp_dir("rerank-local-unbuilt"))
        .env("RERANK_BINDING", "local")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("RERANK_BINDING") && stderr.contains("local-models feature"),
        "{stderr}"
    );
}
