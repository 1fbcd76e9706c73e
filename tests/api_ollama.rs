//! The Ollama API emulation under `/api`, as Ollama clients and Open WebUI use it.

mod common;

use std::time::{Duration, Instant};

use common::fake_provider::FakeProvider;
use common::{Response, Server, send};
use serde_json::{Value, json};

fn post(server: &Server, path: &str, body: &Value) -> Response {
    common::call(server, "POST", path, body)
}

const CORPUS: [(&str, &str); 2] = [
    (
        "wukong.txt",
        "Sun Wukong learned seventy-two transformations from Subhuti on Mount Lingtai. Sun Wukong wields the Ruyi Jingu Bang.",
    ),
    (
        "journey.txt",
        "Tang Sanzang travelled to the Western Heaven with Sun Wukong, Zhu Bajie and Sha Wujing.",
    ),
];

fn assert_final(line: &Value) {
    assert_eq!(line["done"], true, "{line}");
    assert_eq!(line["done_reason"], "stop");
    for key in [
        "total_duration",
        "load_duration",
        "prompt_eval_count",
        "prompt_eval_duration",
        "eval_count",
        "eval_duration",
    ] {
        assert!(line[key].is_u64(), "{key} in {line}");
    }
}

#[test]
fn model_listing_follows_ollama_and_is_whitelisted() {
    let server = Server::builder("ollama-listing")
        .env("LIGHTRAG_API_KEY", "secret")
        .env("OLLAMA_EMULATING_MODEL_NAME", "kb")
        .env("OLLAMA_EMULATING_MODEL_TAG", "v2")
        .start();
    assert_eq!(
        server.get("/api/version").json(),
        json!({"version": "0.9.3"})
    );
    let tags = server.get("/api/tags");
    assert_eq!(tags.status, 200, "whitelisted without the API key");
    let model = &tags.json()["models"][0];
    assert_eq!(model["name"], "kb:v2");
    assert_eq!(model["model"], "kb:v2");
    assert_eq!(model["digest"], "sha256:lightrag");
    assert_eq!(model["details"]["family"], "kb");
    assert_eq!(model["details"]["quantization_level"], "Q4_0");
    let ps = server.get("/api/ps").json();
    assert_eq!(ps["models"][0]["name"], "kb:v2");
    assert_eq!(
        ps["models"][0]["expires_at"],
        "2050-12-31T14:38:31.83753-07:00"
    );
    // Other routes still need the key.
    assert_eq!(server.get("/documents/status_counts").status, 403);
}

#[test]
fn chat_and_generate_with_the_builtin_model() {
    let server = Server::builder("ollama-builtin").start();
    common::index_texts(&server, &CORPUS);
    let question = "What did Sun Wukong learn from Subhuti?";

    // Chat streams by default.
    let r = post(
        &server,
        "/api/chat",
        &json!({"model": "lightrag:latest", "messages": [{"role": "user", "content": question}]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/x-ndjson"));
    let parsed = common::ndjson(&r);
    let (last, pieces) = parsed.split_last().unwrap();
    assert_final(last);
    assert_eq!(last["model"], "lightrag:latest");
    assert_eq!(last["message"]["content"], "");
    let text: String = pieces
        .iter()
        .map(|l| l["message"]["content"].as_str().unwrap())
        .collect();
    assert!(
        text.contains("seventy-two transformations") && text.contains("wukong.txt"),
        "{text}"
    );
    assert!(
        pieces
            .iter()
            .all(|l| l["done"] == false && l["message"]["role"] == "assistant")
    );

    let r = post(
        &server,
        "/api/chat",
        &json!({"model": "x", "stream": false, "messages": [
            {"role": "user", "content": "Who travelled west?"},
            {"role": "assistant", "content": "Tang Sanzang."},
            {"role": "user", "content": "/local Who went with Tang Sanzang?"}
        ]}),
    );
    let whole = r.json();
    assert_final(&whole);
    assert!(
        whole["message"]["content"]
            .as_str()
            .unwrap()
            .contains("Zhu Bajie"),
        "{whole}"
    );

    // Each prefix reaches its mode.
    for (prefix, mode, context) in [
        ("/local ", "local", false),
        ("/global ", "global", false),
        ("/naive ", "naive", false),
        ("/hybrid ", "hybrid", false),
        ("/mix ", "mix", false),
        ("", "mix", false),
        ("/context ", "mix", true),
        ("/naivecontext ", "naive", true),
        ("/localcontext ", "local", true),
    ] {
        let r = post(
            &server,
            "/api/chat",
            &json!({"stream": false, "messages": [{"role": "user", "content": format!("{prefix}{question}")}]}),
        );
        assert_eq!(r.status, 200, "{prefix}: {}", r.body);
        let content = r.json()["message"]["content"].as_str().unwrap().to_owned();
        if context {
            assert!(content.contains("Document Chunks"), "{prefix}: {content}");
            assert_eq!(
                content.contains("Knowledge Graph Data"),
                mode != "naive",
                "{prefix}"
            );
        }
        let needle = format!("rag query mode={mode} only_need_context={context}");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !server.output().contains(&needle) {
            assert!(Instant::now() < deadline, "{needle}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    // Bypass and generate never retrieve: the builtin model has nothing to quote.
    let bypass = post(&server, "/api/chat", &json!({"stream": false, "messages": [{"role": "user", "content": format!("/bypass {question}")}]})).json();
    assert!(
        !bypass["message"]["content"]
            .as_str()
            .unwrap()
            .contains("transformations")
    );

    let generated = post(&server, "/api/generate", &json!({"model": "lightrag:latest", "prompt": "Where is Mount Lingtai?", "system": "Mount Lingtai is in the west."})).json();
    assert_final(&generated);
    assert_eq!(generated["response"], "Mount Lingtai is in the west.");
    assert_eq!(generated["context"], json!([]));
    let streamed = post(
        &server,
        "/api/generate",
        &json!({"prompt": "Where is Mount Lingtai?", "system": "Mount Lingtai is in the west.", "stream": true}),
    );
    let parsed = common::ndjson(&streamed);
    assert_eq!(parsed[0]["response"], "Mount Lingtai is in the west.");
    assert_eq!(parsed[0]["done"], false);
    assert_final(parsed.last().unwrap());
}

#[test]
fn errors_follow_lightrag() {
    let server = Server::builder("ollama-errors").start();
    let detail = |r: Response| (r.status, r.json()["detail"].clone());
    let raw = send(
        server.port,
        "POST",
        "/api/chat",
        &[("Content-Type", "application/json")],
        b"{not json",
    );
    assert_eq!(detail(raw), (400, "Invalid JSON in request body".into()));
    assert_eq!(
        detail(post(&server, "/api/chat", &json!({"messages": []}))),
        (400, "No messages provided".into())
    );
    assert_eq!(
        detail(post(&server, "/api/chat", &json!({}))),
        (400, "No messages provided".into())
    );
    assert_eq!(
        detail(post(
            &server,
            "/api/chat",
            &json!({"messages": [{"role": "user", "content": "hi there"}, {"role": "assistant", "content": "hello"}]})
        )),
        (400, "Last message must be from user role".into())
    );
    assert_eq!(
        post(
            &server,
            "/api/chat",
            &json!({"messages": [{"content": "no role"}]})
        )
        .status,
        400
    );
    assert_eq!(
        post(
            &server,
            "/api/chat",
            &json!({"messages": [{"role": "user", "content": "ab"}]})
        )
        .status,
        400
    );
    assert_eq!(
        detail(post(&server, "/api/generate", &json!({"prompt": "  "}))),
        (400, "Prompt cannot be empty".into())
    );
    let (status, message) = detail(post(
        &server,
        "/api/generate",
        &json!({"prompt": "x".repeat(65_537)}),
    ));
    assert_eq!(status, 413);
    assert_eq!(
        message,
        "Request payload exceeds the allowed size (prompt)."
    );
    let (status, message) = detail(post(
        &server,
        "/api/chat",
        &json!({"messages": [{"role": "user", "content": "y".repeat(32_769)}]}),
    ));
    assert_eq!(
        (status, message.as_str().unwrap()),
        (
            413,
            "Request payload exceeds the allowed size (messages[0].content)."
        )
    );
    assert_eq!(server.get("/health").status, 200);
}

/// The messages of the last chat request the provider received.
fn last_chat_messages(fake: &FakeProvider) -> Value {
    fake.requests()
        .iter()
        .rev()
        .find(|r| r["path"] == "/api/chat")
        .expect("a chat request")["body"]["messages"]
        .clone()
}

#[test]
fn a_provider_gets_generate_and_open_webui_tasks_directly_and_streams_chat() {
    let fake = FakeProvider::start(
        "ollama-provider",
        json!({"dim": 1024, "words": 3, "piece_delay": 0.0}),
    );
    let server = Server::builder("ollama-provider-server")
        .env("LLM_BINDING", "ollama")
        .env("LLM_BINDING_HOST", &fake.url(""))
        .env("MAX_GLEANING", "0")
        .start();
    common::index_texts(&server, &CORPUS);
    let generated = post(
        &server,
        "/api/generate",
        &json!({"prompt": "Say hello", "system": "Be kind."}),
    )
    .json();
    assert!(
        generated["response"]
            .as_str()
            .unwrap()
            .starts_with("Fake answer to: Say hello")
    );
    assert_eq!(
        last_chat_messages(&fake),
        json!([{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Say hello"}])
    );

    let task = "Generate a title.\n<chat_history>\nUSER: who is Sun Wukong?\n</chat_history>";
    post(
        &server,
        "/api/chat",
        &json!({"stream": false, "messages": [{"role": "user", "content": task}]}),
    );
    assert_eq!(
        last_chat_messages(&fake),
        json!([{"role": "user", "content": task}]),
        "no RAG prompt for Open WebUI tasks"
    );

    let r = post(
        &server,
        "/api/chat",
        &json!({"messages": [
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Hi"},
            {"role": "user", "content": "/mix[Answer briefly] Who taught Sun Wukong?"}
        ]}),
    );
    let parsed = common::ndjson(&r);
    assert!(parsed.len() > 5, "{parsed:?}");
    assert_final(parsed.last().unwrap());
    let sent = fake.requests();
    let rag = &sent
        .iter()
        .rev()
        .find(|r| r["path"] == "/api/chat" && r["body"]["stream"] == true)
        .unwrap()["body"]["messages"];
    let system = rag[0]["content"].as_str().unwrap();
    assert!(
        system.contains("Additional Instructions: Answer briefly") && system.contains("Subhuti"),
        "{system}"
    );
    assert_eq!(rag[1], json!({"role": "user", "content": "Hello"}));
    assert_eq!(
        rag[3],
        json!({"role": "user", "content": "Who taught Sun Wukong?"})
    );
}

#[test]
fn a_chat_answer_cut_short_by_the_provider_is_not_cached() {
    let fake = FakeProvider::start(
        "ollama-cut",
        json!({"dim": 1024, "words": 6, "piece_delay": 0.0, "stream_error_after": 2}),
    );
    let server = Server::builder("ollama-cut-server")
        .env("LLM_BINDING", "ollama")
        .env("LLM_BINDING_HOST", &fake.url(""))
        .env("MAX_GLEANING", "0")
        .start();
    common::index_texts(&server, &CORPUS);
    let question = json!({"messages": [{"role": "user", "content": "Who taught Sun Wukong?"}]});
    for _ in 0..2 {
        let parsed = common::ndjson(&post(&server, "/api/chat", &question));
        assert!(
            parsed.iter().any(|l| l["error"]
                .as_str()
                .is_some_and(|e| e.contains("scripted stream failure"))),
            "{parsed:?}"
        );
        assert_final(parsed.last().unwrap());
    }
    let streamed = fake
        .requests()
        .iter()
        .filter(|r| r["path"] == "/api/chat" && r["body"]["stream"] == true)
        .count();
    assert_eq!(
        streamed, 2,
        "the cut answer is asked again, not served from the cache"
    );
}
