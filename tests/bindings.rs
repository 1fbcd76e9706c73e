//! LightRAG 1.5.7's other bindings against a scripted server speaking each provider's
//! wire format (`tests/fixtures/binding_provider.py`): gemini, bedrock (SigV4 verified
//! independently by the server), lollms, jina, voyageai, `openai-ollama`; the
//! `EXTRACT_` / `KEYWORD_` / `QUERY_` role overrides; embedding prefixes, send-dim and
//! the token limit. Each checks the exact requests, the answer reaching `/query` and
//! `/query/stream`, and the vectors reaching the store.

mod common;

use std::process::Command;

use common::fake_provider::FakeProvider;
use common::{BIN, Server, call, free_port, index_texts, temp_dir};
use serde_json::{Value, json};

fn provider(name: &str, label: &str) -> FakeProvider {
    FakeProvider::start_fixture(
        "binding_provider.py",
        name,
        json!({"label": label, "dim": 8, "aws_secret": "wJalrSECRET"}),
    )
}

/// Every `(namespace, dim, bytes)` row of the vector store.
fn stored_vectors(server: &Server) -> Vec<(String, i64, i64)> {
    let db = server.dir.join("rag_storage/lightrag.sqlite3");
    let out = Command::new("python3")
        .args([
            "-c",
            &format!(
                "import sqlite3,json; print(json.dumps(sqlite3.connect('{}').execute('SELECT namespace, dim, length(vector) FROM vectors').fetchall()))",
                db.display()
            ),
        ])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

fn assert_vectors_have_dim(server: &Server, dim: i64) {
    let rows = stored_vectors(server);
    assert!(
        rows.iter().any(|(ns, _, _)| ns.contains("chunks")),
        "{rows:?}"
    );
    for (ns, d, bytes) in rows {
        assert_eq!((d, bytes), (dim, dim * 4), "{ns}");
    }
}

/// The `/query` and `/query/stream` answers (two questions, so no cache answers).
fn answers(server: &Server, mode: &str) -> (String, String) {
    let question = json!({"query": "What does the Atlas project do?", "mode": mode});
    let r = call(server, "POST", "/query", &question);
    assert_eq!(r.status, 200, "{}", r.body);
    let whole = r.json()["response"].as_str().unwrap().to_owned();
    let question = json!({"query": "Which rivers does Atlas map?", "mode": mode});
    let r = call(server, "POST", "/query/stream", &question);
    assert_eq!(r.status, 200, "{}", r.body);
    let streamed: String = common::ndjson(&r)
        .iter()
        .filter_map(|l| l["response"].as_str().map(str::to_owned))
        .collect();
    (whole, streamed)
}

fn paths(fake: &FakeProvider) -> Vec<String> {
    fake.requests()
        .iter()
        .filter_map(|r| r["path"].as_str().map(str::to_owned))
        .collect()
}

fn requests_to(fake: &FakeProvider, suffix: &str) -> Vec<Value> {
    fake.requests()
        .into_iter()
        .filter(|r| r["path"].as_str().is_some_and(|p| p.ends_with(suffix)))
        .collect()
}

const DOC: &[(&str, &str)] = &[("atlas.txt", "The Atlas project maps rivers.")];

#[test]
fn gemini_chat_streams_embeds_by_task_type_with_prefixes() {
    let fake = provider("bind-gemini", "gemini");
    let server = Server::builder("bind-gemini-server")
        .env("LLM_BINDING", "gemini")
        .env("LLM_BINDING_HOST", &fake.url(""))
        .env("GEMINI_API_KEY", "g-key")
        .env("LLM_MODEL", "gemini-test")
        .env("EMBEDDING_BINDING", "gemini")
        .env("EMBEDDING_BINDING_HOST", &fake.url(""))
        .env("EMBEDDING_DIM", "8")
        .env("EMBEDDING_DOCUMENT_PREFIX", "passage: ")
        .env("EMBEDDING_QUERY_PREFIX", "query: ")
        .env("MAX_GLEANING", "0")
        // The scripted vectors are random: let every stored text match.
        .env("COSINE_THRESHOLD", "-1")
        .start();
    index_texts(&server, DOC);
    assert_vectors_have_dim(&server, 8);
    assert!(common::entity_exists(&server, "Gemini Entity"));

    let (whole, streamed) = answers(&server, "naive");
    assert_eq!(whole, "Answer from gemini");
    assert_eq!(streamed, "Answer from gemini");

    let chat = requests_to(&fake, "/v1beta/models/gemini-test:generateContent");
    assert!(!chat.is_empty(), "{:?}", paths(&fake));
    let first = &chat[0];
    assert_eq!(
        first["headers"]["x-goog-api-key"], "g-key",
        "GEMINI_API_KEY fallback"
    );
    assert!(first["headers"].get("authorization").is_none());
    let system = first["body"]["systemInstruction"]["parts"][0]["text"]
        .as_str()
        .unwrap();
    assert!(system.contains("---Real Data to be Processed---"));
    let user = first["body"]["contents"][0]["parts"][0]["text"]
        .as_str()
        .unwrap();
    assert!(user.starts_with("[user] "), "{user}");
    let streams = requests_to(&fake, "/v1beta/models/gemini-test:streamGenerateContent");
    assert_eq!(streams.len(), 2, "answers are streamed from the provider");
    assert_eq!(streams[0]["query"], "alt=sse");

    let embeds = requests_to(
        &fake,
        "/v1beta/models/gemini-embedding-001:batchEmbedContents",
    );
    let requests: Vec<&Value> = embeds
        .iter()
        .flat_map(|r| r["body"]["requests"].as_array().unwrap())
        .collect();
    let documents: Vec<&&Value> = requests
        .iter()
        .filter(|r| r["taskType"] == "RETRIEVAL_DOCUMENT")
        .collect();
    let queries: Vec<&&Value> = requests
        .iter()
        .filter(|r| r["taskType"] == "RETRIEVAL_QUERY")
        .collect();
    assert!(!documents.is_empty() && !queries.is_empty(), "{requests:?}");
    for r in &requests {
        assert_eq!(r["model"], "models/gemini-embedding-001");
        assert_eq!(
            r["outputDimensionality"], 8,
            "gemini always sends the dimension"
        );
    }
    let text = |r: &Value| {
        r["content"]["parts"][0]["text"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(documents.iter().all(|r| text(r).starts_with("passage: ")));
    assert!(
        documents
            .iter()
            .any(|r| text(r) == "passage: The Atlas project maps rivers.")
    );
    assert!(queries.iter().all(|r| text(r).starts_with("query: ")));
    assert!(
        queries
            .iter()
            .any(|r| text(r) == "query: What does the Atlas project do?")
    );
}

#[test]
fn bedrock_converse_is_sigv4_signed_and_streams_event_frames() {
    let fake = provider("bind-bedrock", "bedrock");
    let server = Server::builder("bind-bedrock-server")
        .env("LLM_BINDING", "aws_bedrock")
        .env("LLM_BINDING_HOST", &fake.url(""))
        .env("LLM_MODEL", "anthropic.claude-test:0")
        .env("AWS_REGION", "eu-west-3")
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "wJalrSECRET")
        .env("AWS_SESSION_TOKEN", "session-tok")
        .env("EMBEDDING_BINDING", "bedrock")
        .env("EMBEDDING_BINDING_HOST", &fake.url(""))
        .env("EMBEDDING_DIM", "8")
        .env("MAX_GLEANING", "0")
        // The scripted vectors are random: let every stored text match.
        .env("COSINE_THRESHOLD", "-1")
        .start();
    let health = server.get("/health").json();
    assert_eq!(health["configuration"]["llm_binding"], "bedrock");
    assert_eq!(
        health["configuration"]["embedding_model"],
        "amazon.titan-embed-text-v2:0"
    );
    index_texts(&server, DOC);
    assert_vectors_have_dim(&server, 8);
    let (whole, streamed) = answers(&server, "naive");
    assert_eq!(whole, "Answer from bedrock");
    assert_eq!(streamed, "Answer from bedrock");

    let requests = fake.requests();
    assert!(!requests.is_empty());
    for r in &requests {
        assert_eq!(r["sigv4"], "valid", "{r}");
        let auth = r["headers"]["authorization"].as_str().unwrap();
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDTEST/")
                && auth.contains("/eu-west-3/bedrock/aws4_request, SignedHeaders=")
                && auth.contains("x-amz-security-token"),
            "{auth}"
        );
        assert_eq!(r["headers"]["x-amz-security-token"], "session-tok");
    }
    let converse = requests_to(&fake, "/model/anthropic.claude-test%3A0/converse");
    assert!(!converse.is_empty(), "{:?}", paths(&fake));
    let body = &converse[0]["body"];
    assert!(
        body["system"][0]["text"]
            .as_str()
            .unwrap()
            .contains("---Real Data to be Processed---")
    );
    assert_eq!(body["messages"][0]["role"], "user");
    assert!(body["messages"][0]["content"][0]["text"].is_string());
    assert_eq!(
        requests_to(&fake, "/model/anthropic.claude-test%3A0/converse-stream").len(),
        2,
        "answers are streamed from the provider"
    );
    let embeds = requests_to(&fake, "/model/amazon.titan-embed-text-v2%3A0/invoke");
    assert!(
        embeds.iter().any(|r| r["body"]
            == json!({"inputText": "The Atlas project maps rivers.", "embeddingTypes": ["float"]})),
        "{embeds:?}"
    );
}

#[test]
fn lollms_generates_from_one_prompt_and_embeds_one_text_per_call() {
    let fake = provider("bind-lollms", "lollms");
    let server = Server::builder("bind-lollms-server")
        .env("LLM_BINDING", "lollms")
        .env("LLM_BINDING_HOST", &fake.url(""))
        .env("LLM_BINDING_API_KEY", "l-key")
        .env("LLM_MODEL", "lollms-model")
        .env("EMBEDDING_BINDING", "lollms")
        .env("EMBEDDING_BINDING_HOST", &fake.url(""))
        .env("EMBEDDING_BINDING_API_KEY", "e-key")
        .env("EMBEDDING_DIM", "8")
        .env("MAX_GLEANING", "0")
        // The scripted vectors are random: let every stored text match.
        .env("COSINE_THRESHOLD", "-1")
        .start();
    index_texts(&server, DOC);
    assert_vectors_have_dim(&server, 8);
    let (whole, streamed) = answers(&server, "naive");
    // Answers are streamed from the provider, and LightRAG strips every line of
    // lollms' plain-text stream.
    assert_eq!(whole, "Answerfromlollms");
    assert_eq!(streamed, "Answerfromlollms");

    let generate = requests_to(&fake, "/lollms_generate");
    let first = &generate[0];
    assert_eq!(first["headers"]["authorization"], "Bearer l-key");
    let body = &first["body"];
    assert_eq!(body["model_name"], "lollms-model");
    assert_eq!(
        (body["personality"].clone(), body["top_k"].clone()),
        (json!(-1), json!(50))
    );
    assert!(
        body["prompt"]
            .as_str()
            .unwrap()
            .contains("---Real Data to be Processed---")
    );
    assert!(generate.iter().any(|r| r["body"]["stream"] == true));
    let embeds = requests_to(&fake, "/lollms_embed");
    assert!(
        embeds
            .iter()
            .all(|r| r["headers"]["authorization"] == "e-key")
    );
    assert!(
        embeds
            .iter()
            .any(|r| r["body"] == json!({"text": "The Atlas project maps rivers."}))
    );
}

#[test]
fn jina_and_voyageai_embeddings_on_their_wire_formats() {
    let fake = provider("bind-embed", "embed");
    let jina = Server::builder("bind-jina-server")
        .env("EMBEDDING_BINDING", "jina")
        .env("EMBEDDING_BINDING_HOST", &fake.url("/v1/embeddings"))
        .env("JINA_API_KEY", "j-key")
        .env("EMBEDDING_DIM", "8")
        .start();
    index_texts(&jina, DOC);
    assert_vectors_have_dim(&jina, 8);
    let r = call(
        &jina,
        "POST",
        "/query",
        &json!({"query": "rivers", "mode": "naive"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let sent = fake.requests();
    assert!(!sent.is_empty());
    for r in &sent {
        assert_eq!(r["headers"]["authorization"], "Bearer j-key");
        let b = &r["body"];
        assert_eq!(
            (
                &b["model"],
                &b["task"],
                &b["dimensions"],
                &b["embedding_type"]
            ),
            (
                &json!("jina-embeddings-v4"),
                &json!("text-matching"),
                &json!(8),
                &json!("base64")
            )
        );
    }
    drop(jina);

    let voyage = provider("bind-voyage", "voyage");
    let server = Server::builder("bind-voyage-server")
        .env("EMBEDDING_BINDING", "voyageai")
        .env("EMBEDDING_BINDING_HOST", &voyage.url("/v1"))
        .env("VOYAGE_API_KEY", "v-key")
        .env("EMBEDDING_DIM", "8")
        .env("EMBEDDING_SEND_DIM", "true")
        .env("EMBEDDING_TOKEN_LIMIT", "4")
        .start();
    index_texts(&server, DOC);
    assert_vectors_have_dim(&server, 8);
    let r = call(
        &server,
        "POST",
        "/query",
        &json!({"query": "rivers", "mode": "naive"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let sent = requests_to(&voyage, "/v1/embeddings");
    let kinds: Vec<&str> = sent
        .iter()
        .map(|r| r["body"]["input_type"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"document") && kinds.contains(&"query"),
        "{kinds:?}"
    );
    for r in &sent {
        assert_eq!(r["headers"]["authorization"], "Bearer v-key");
        assert_eq!(r["body"]["model"], "voyage-3");
        assert_eq!(r["body"]["output_dimension"], 8, "EMBEDDING_SEND_DIM=true");
        assert_eq!(r["body"]["truncation"], true);
    }
}

#[test]
fn openai_ollama_means_an_openai_llm_with_ollama_embeddings() {
    let fake = FakeProvider::start("bind-openai-ollama", json!({"dim": 16}));
    let server = Server::builder("bind-openai-ollama-server")
        .env("LLM_BINDING", "openai-ollama")
        .env("LLM_BINDING_HOST", &fake.url("/v1"))
        .env("EMBEDDING_BINDING_HOST", &fake.url(""))
        .env("EMBEDDING_DIM", "16")
        .env("MAX_GLEANING", "0")
        // The scripted vectors are random: let every stored text match.
        .env("COSINE_THRESHOLD", "-1")
        .start();
    let config = server.get("/health").json()["configuration"].clone();
    assert_eq!(config["llm_binding"], "openai");
    assert_eq!(config["embedding_binding"], "ollama");
    assert_eq!(config["embedding_model"], "bge-m3:latest");
    index_texts(&server, DOC);
    assert_vectors_have_dim(&server, 16);
    let sent: Vec<String> = fake
        .requests()
        .iter()
        .filter_map(|r| r["path"].as_str().map(str::to_owned))
        .collect();
    assert!(sent.iter().any(|p| p == "/v1/chat/completions"), "{sent:?}");
    assert!(sent.iter().any(|p| p == "/api/embed"), "{sent:?}");
    assert!(!sent.iter().any(|p| p.ends_with("/embeddings")), "{sent:?}");
}

#[test]
fn role_overrides_send_extraction_keywords_and_answers_to_their_own_models() {
    let base = provider("bind-role-base", "base");
    let extract = provider("bind-role-extract", "extract");
    let keyword = provider("bind-role-keyword", "keyword");
    let query = provider("bind-role-query", "query");
    let server = Server::builder("bind-roles-server")
        .env("LLM_BINDING", "gemini")
        .env("LLM_BINDING_HOST", &base.url(""))
        .env("LLM_BINDING_API_KEY", "base-key")
        .env("LLM_MODEL", "gemini-base")
        .env("EXTRACT_LLM_BINDING", "lollms")
        .env("EXTRACT_LLM_BINDING_HOST", &extract.url(""))
        .env("EXTRACT_LLM_MODEL", "extractor")
        .env("EXTRACT_LLM_BINDING_API_KEY", "x-key")
        .env("EXTRACT_MAX_ASYNC_LLM", "1")
        .env("KEYWORD_LLM_BINDING_HOST", &keyword.url(""))
        .env("KEYWORD_LLM_MODEL", "gemini-small")
        .env("QUERY_LLM_BINDING", "bedrock")
        .env("QUERY_LLM_BINDING_HOST", &query.url(""))
        .env("QUERY_LLM_MODEL", "amazon.nova-test")
        .env("QUERY_AWS_REGION", "us-west-2")
        .env("QUERY_AWS_ACCESS_KEY_ID", "AKIDQUERY")
        .env("QUERY_AWS_SECRET_ACCESS_KEY", "wJalrSECRET")
        .env("QUERY_LLM_TIMEOUT", "77")
        .env("MAX_GLEANING", "0")
        // The scripted vectors are random: let every stored text match.
        .env("COSINE_THRESHOLD", "-1")
        .start();
    let roles = server.get("/health").json()["configuration"]["role_llm_config"].clone();
    assert_eq!(
        roles["extract"],
        json!({"binding": "lollms", "model": "extractor", "host": extract.url(""), "max_async": 1, "timeout": 240})
    );
    assert_eq!(roles["keyword"]["binding"], "gemini");
    assert_eq!(roles["keyword"]["model"], "gemini-small");
    assert_eq!(roles["query"]["binding"], "bedrock");
    assert_eq!(roles["query"]["timeout"], 77);

    index_texts(&server, DOC);
    assert!(common::entity_exists(&server, "Extract Entity"));
    let (whole, streamed) = answers(&server, "hybrid");
    assert_eq!(whole, "Answer from query");
    assert_eq!(streamed, "Answer from query");

    assert!(base.requests().is_empty(), "{:?}", paths(&base));
    let extraction = requests_to(&extract, "/lollms_generate");
    assert!(!extraction.is_empty());
    assert!(
        extraction
            .iter()
            .all(|r| r["body"]["model_name"] == "extractor")
    );
    let keywords = requests_to(&keyword, "/v1beta/models/gemini-small:generateContent");
    assert_eq!(keywords.len(), 2, "one per answer: {:?}", paths(&keyword));
    assert_eq!(
        keywords[0]["headers"]["x-goog-api-key"], "base-key",
        "same binding: inherited"
    );
    let answered = query.requests();
    assert_eq!(
        answered
            .iter()
            .map(|r| r["path"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["/model/amazon.nova-test/converse-stream"; 2]
    );
    assert!(answered.iter().all(|r| r["sigv4"] == "valid"));
}

#[test]
fn invalid_binding_settings_stop_the_master() {
    let refused = |env: &[(&str, &str)], needle: &str| {
        let dir = temp_dir("bind-refused");
        let mut cmd = Command::new(BIN);
        cmd.current_dir(&dir)
            .args(["--port", &free_port().to_string()]);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{env:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{env:?}: {stderr}");
    };
    refused(&[("EXTRACT_LLM_BINDING", "openai")], "EXTRACT_LLM_MODEL");
    refused(
        &[("QUERY_LLM_BINDING", "ollama"), ("QUERY_LLM_MODEL", "m")],
        "QUERY_LLM_BINDING_API_KEY",
    );
    refused(&[("EMBEDDING_BINDING", "jina")], "JINA_API_KEY");
    refused(&[("LLM_BINDING", "bedrock")], "AWS_REGION");
    refused(&[("EMBEDDING_DOCUMENT_PREFIX", "")], "NO_PREFIX");
    refused(&[("LLM_BINDING", "jina")], "LLM_BINDING");
}
