//! `/query`, `/query/stream` and `/query/data` over a small corpus indexed with the
//! builtin model, and with a scripted provider for the prompt and streaming contract.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::fake_provider::FakeProvider;
use common::{Response, Server};
use serde_json::{Value, json};

const CORPUS: [(&str, &str); 3] = [
    (
        "curie.txt",
        "Marie Curie discovered Polonium and Radium in Paris. Marie Curie won the Nobel Prize in Physics with Pierre Curie. Radioactivity was the theme of her research at the Sorbonne.",
    ),
    (
        "turing.txt",
        "Alan Turing broke the Enigma cipher at Bletchley Park. Alan Turing proposed the Turing Test for machine intelligence. Computability theory owes him the Turing Machine.",
    ),
    (
        "hopper.txt",
        "Grace Hopper wrote the first compiler for the UNIVAC. Grace Hopper served in the United States Navy. COBOL grew out of her work on programming languages.",
    ),
];

fn post(server: &Server, path: &str, body: &Value) -> Response {
    common::call(server, "POST", path, body)
}

fn stream(server: &Server, body: &Value) -> (Response, Vec<Value>) {
    let r = post(server, "/query/stream", body);
    let parsed = common::ndjson(&r);
    (r, parsed)
}

fn reference_set(refs: &Value) -> Vec<(String, String)> {
    let mut set: Vec<(String, String)> = refs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["reference_id"].as_str().unwrap().to_owned(),
                r["file_path"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    set.sort();
    set
}

#[test]
fn every_mode_retrieves_from_the_right_document() {
    let server = Server::builder("query-modes")
        .args(&["--workers", "2"])
        .start();
    common::index_texts(&server, &CORPUS);
    let questions = [
        ("What did Marie Curie discover in Paris?", "curie.txt"),
        (
            "Where did Alan Turing break the Enigma cipher?",
            "turing.txt",
        ),
        ("Which compiler did Grace Hopper write?", "hopper.txt"),
    ];
    for mode in ["local", "global", "hybrid", "mix", "naive"] {
        for (question, file) in questions {
            let r = post(
                &server,
                "/query/data",
                &json!({"query": question, "mode": mode}),
            );
            assert_eq!(r.status, 200, "{}", r.body);
            let data = r.json();
            assert_eq!(data["status"], "success");
            assert_eq!(data["metadata"]["query_mode"], mode);
            let first = &data["data"]["references"][0];
            assert_eq!(first["reference_id"], "1", "{mode} {question}: {data}");
            assert_eq!(first["file_path"], file, "{mode} {question}: {data}");
            let chunks = data["data"]["chunks"].as_array().unwrap();
            assert!(
                chunks
                    .iter()
                    .any(|c| c["file_path"] == file && c["reference_id"] == "1")
            );
            if mode != "naive" {
                let entities = data["data"]["entities"].as_array().unwrap();
                assert!(
                    !entities.is_empty()
                        || !data["data"]["relationships"].as_array().unwrap().is_empty(),
                    "{mode}: {data}"
                );
                let keywords = &data["metadata"]["keywords"];
                assert!(
                    !keywords["low_level"].as_array().unwrap().is_empty(),
                    "{keywords}"
                );
            }
            let info = &data["metadata"]["processing_info"];
            assert_eq!(
                info["final_chunks_count"].as_u64().unwrap() as usize,
                chunks.len()
            );
        }
    }
    // Local retrieval finds the entity itself.
    let local = post(
        &server,
        "/query/data",
        &json!({"query": "Tell me about Grace Hopper", "mode": "local"}),
    )
    .json();
    let names: Vec<&str> = local["data"]["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["entity_name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"Grace Hopper"), "{names:?}");
    assert!(local["data"]["entities"][0]["reference_id"].is_string());
    // Caller-supplied keywords skip the keyword step.
    let given = post(
        &server,
        "/query/data",
        &json!({"query": "anything at all", "mode": "local", "ll_keywords": ["Alan Turing"]}),
    )
    .json();
    assert_eq!(
        given["metadata"]["keywords"]["low_level"],
        json!(["Alan Turing"])
    );
    assert_eq!(given["data"]["references"][0]["file_path"], "turing.txt");
    // Bypass retrieves nothing.
    let bypass = post(
        &server,
        "/query/data",
        &json!({"query": "Marie Curie", "mode": "bypass"}),
    )
    .json();
    assert_eq!(bypass["data"]["chunks"], json!([]));
}

#[test]
fn answers_references_and_streams_agree() {
    let server = Server::builder("query-answers")
        .args(&["--workers", "2"])
        .start();
    common::index_texts(&server, &CORPUS);
    let question = "What did Marie Curie win with Pierre Curie?";
    let r = post(&server, "/query", &json!({"query": question}));
    assert_eq!(r.status, 200, "{}", r.body);
    let answer = r.json();
    assert_eq!(answer["llm_generated"], true);
    let text = answer["response"].as_str().unwrap();
    assert!(text.contains("Nobel Prize"), "{text}");
    assert!(
        text.contains("### References") && text.contains("curie.txt"),
        "{text}"
    );
    assert!(answer["response_time"].as_f64().unwrap() >= 0.0);
    let from_query = reference_set(&answer["references"]);

    let (head, parsed) = stream(
        &server,
        &json!({"query": question, "mode": "mix", "stream": true, "include_references": true}),
    );
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-type"), Some("application/x-ndjson"));
    assert_eq!(head.header("cache-control"), Some("no-cache"));
    assert_eq!(head.header("x-accel-buffering"), Some("no"));
    // The answer was cached by /query: the single-line form.
    assert_eq!(parsed.len(), 1, "{parsed:?}");
    assert_eq!(parsed[0]["llm_generated"], true);
    assert_eq!(parsed[0]["response"], answer["response"]);
    let from_stream = reference_set(&parsed[0]["references"]);

    let data = post(&server, "/query/data", &json!({"query": question})).json();
    let from_data = reference_set(&data["data"]["references"]);
    assert_eq!(from_query, from_stream);
    assert_eq!(from_query, from_data);

    // A new question streams: references first, then the response pieces.
    let (_, parsed) = stream(
        &server,
        &json!({"query": "Who served in the United States Navy?", "include_progress": true}),
    );
    let kinds: Vec<&str> = parsed
        .iter()
        .map(|l| l.as_object().unwrap().keys().next().unwrap().as_str())
        .collect();
    let first_reference = kinds.iter().position(|k| *k == "references").unwrap();
    let first_response = kinds.iter().position(|k| *k == "response").unwrap();
    assert!(
        kinds[..first_reference].iter().all(|k| *k == "progress"),
        "{kinds:?}"
    );
    assert!(first_reference < first_response);
    assert_eq!(*kinds.last().unwrap(), "response_time");
    assert!(
        parsed
            .iter()
            .any(|l| l["progress"] == "generating_response")
    );

    // Options.
    let none = post(
        &server,
        "/query",
        &json!({"query": question, "include_references": false}),
    )
    .json();
    assert_eq!(none["references"], Value::Null);
    let with_content = post(&server, "/query", &json!({"query": question, "include_chunk_content": true, "response_type": "Bullet Points"})).json();
    assert!(
        with_content["references"][0]["content"][0]
            .as_str()
            .unwrap()
            .contains("Curie")
    );
    let context = post(
        &server,
        "/query",
        &json!({"query": question, "only_need_context": true}),
    )
    .json();
    assert_eq!(context["llm_generated"], false);
    let context = context["response"].as_str().unwrap();
    for section in [
        "Knowledge Graph Data (Entity)",
        "Knowledge Graph Data (Relationship)",
        "Document Chunks",
        "Reference Document List",
    ] {
        assert!(context.contains(section), "{section}");
    }
    let prompt = post(
        &server,
        "/query",
        &json!({"query": question, "only_need_prompt": true, "user_prompt": "Answer in one line."}),
    )
    .json();
    let prompt = prompt["response"].as_str().unwrap();
    assert!(
        prompt.contains("---Role---")
            && prompt.contains("Additional Instructions: Answer in one line.")
    );
    assert!(prompt.ends_with(&format!("---User Query---\n{question}")));
    let naive_prompt = post(
        &server,
        "/query",
        &json!({"query": question, "mode": "naive", "only_need_prompt": true}),
    )
    .json();
    assert!(
        !naive_prompt["response"]
            .as_str()
            .unwrap()
            .contains("Knowledge Graph Data")
    );

    // Bypass ignores the knowledge base.
    let bypass = post(
        &server,
        "/query",
        &json!({"query": "What did Marie Curie discover?", "mode": "bypass"}),
    )
    .json();
    assert!(
        !bypass["response"].as_str().unwrap().contains("Polonium"),
        "{bypass}"
    );
    assert_eq!(bypass["references"], json!([]));
}

#[test]
fn an_empty_knowledge_base_gives_the_fixed_answer_and_validation_follows_lightrag() {
    let server = Server::builder("query-empty").start();
    let r = post(
        &server,
        "/query",
        &json!({"query": "What is the meaning of life?"}),
    );
    assert_eq!(r.status, 200);
    let answer = r.json();
    assert_eq!(
        answer["response"],
        "Sorry, I'm not able to provide an answer to that question.[no-context]"
    );
    assert_eq!(answer["llm_generated"], false);
    let (_, parsed) = stream(&server, &json!({"query": "What is the meaning of life?"}));
    assert_eq!(parsed.len(), 1);
    assert_eq!(parsed[0]["llm_generated"], false);

    for body in [
        json!({}),
        json!({"query": "ab"}),
        json!({"query": "hello", "mode": "deep"}),
        json!({"query": "hello", "top_k": 0}),
    ] {
        for path in ["/query", "/query/stream"] {
            let r = post(&server, path, &body);
            assert_eq!(r.status, 422, "{path} {body}");
            assert!(r.json()["detail"][0]["loc"].is_array());
        }
        let r = post(&server, "/query/data", &body);
        assert_eq!(r.status, 400, "{body}");
        let failure = r.json();
        assert_eq!(failure["status"], "failure");
        assert!(
            failure["message"]
                .as_str()
                .unwrap()
                .starts_with("Validation error: "),
            "{failure}"
        );
        assert_eq!(failure["data"], json!({}));
    }
    let detail = post(
        &server,
        "/query/data",
        &json!({"query": "hello", "top_k": 5000}),
    )
    .json();
    assert_eq!(
        detail["message"],
        "Validation error: top_k: Input should be less than or equal to 1000"
    );
}

#[test]
fn a_provider_gets_the_context_history_and_user_prompt_and_streams_piece_by_piece() {
    let fake = FakeProvider::start(
        "query-provider",
        json!({"dim": 1024, "words": 5, "piece_delay": 0.01}),
    );
    let server = Server::builder("query-provider-server")
        .env("LLM_BINDING", "openai")
        .env("LLM_BINDING_HOST", &fake.url("/v1"))
        .env("MAX_GLEANING", "0")
        // Joined verbatim, as LightRAG does: the prefix brings its own separator.
        .env("USER_PROMPT_PREFIX", "Be concise.\n")
        .start();
    common::index_texts(&server, &CORPUS);
    let body = json!({
        "query": "What did Marie Curie discover?",
        "conversation_history": [
            {"role": "user", "content": "Hello there"},
            {"role": "assistant", "content": "Hi, ask me about scientists."}
        ],
        "user_prompt": "Cite sources.",
        "include_references": true,
        "ll_keywords": ["Marie Curie"],
        "hl_keywords": ["discovery"],
    });
    let (_, parsed) = stream(&server, &body);
    assert!(parsed[0]["references"].is_array(), "{parsed:?}");
    let pieces: Vec<&str> = parsed[1..]
        .iter()
        .filter_map(|l| l["response"].as_str())
        .collect();
    assert!(pieces.len() > 10, "streamed as separate lines: {parsed:?}");
    assert!(
        pieces
            .concat()
            .starts_with("Fake answer to: What did Marie Curie discover?")
    );

    let requests = fake.requests();
    let chat = requests
        .iter()
        .rev()
        .find(|r| r["body"]["stream"] == true)
        .expect("a streamed chat request");
    let messages = chat["body"]["messages"].as_array().unwrap();
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);
    let system = messages[0]["content"].as_str().unwrap();
    assert!(
        system.contains("Knowledge Graph Data (Entity)")
            && system.contains("Marie Curie discovered Polonium"),
        "{system}"
    );
    assert!(
        system.contains("Additional Instructions: Be concise.\nCite sources."),
        "{system}"
    );
    assert!(system.contains("[1] curie.txt"));
    assert_eq!(messages[3]["content"], "What did Marie Curie discover?");
    // The keywords were given: no keyword request was made.
    assert!(!requests.iter().any(|r| {
        r["body"]["messages"][0]["content"]
            .as_str()
            .is_some_and(|c| c.contains("expert keyword extractor"))
    }));
    // Without them, the keyword prompt goes to the model.
    post(
        &server,
        "/query/data",
        &json!({"query": "Who is Alan Turing?"}),
    );
    assert!(fake.requests().iter().any(|r| {
        r["body"]["messages"][0]["content"]
            .as_str()
            .is_some_and(|c| {
                c.contains("expert keyword extractor")
                    && c.contains("User Query: Who is Alan Turing?")
            })
    }));
}

#[test]
fn a_client_leaving_mid_stream_stops_the_model_call() {
    let fake = FakeProvider::start(
        "query-disconnect",
        json!({"dim": 1024, "words": 400, "piece_delay": 0.05}),
    );
    let server = Server::builder("query-disconnect-server")
        .env("LLM_BINDING", "openai")
        .env("LLM_BINDING_HOST", &fake.url("/v1"))
        .env("MAX_GLEANING", "0")
        .start();
    common::index_texts(&server, &CORPUS);
    let body = json!({"query": "What did Marie Curie discover?", "ll_keywords": ["Marie Curie"], "hl_keywords": ["discovery"]}).to_string();
    let mut conn = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    write!(
        conn,
        "POST /query/stream HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    let mut pieces = 0;
    while pieces < 3 {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if line.contains("\"response\"") {
            pieces += 1;
        }
    }
    // 1600 pieces at 50 ms would take 80 s; leave after three.
    drop(reader);
    drop(conn);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if fake.requests().iter().any(|r| r["stream"] == "aborted") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the provider kept streaming: {:?}",
            fake.requests().last()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        server
            .output()
            .contains("client disconnected; generation stopped")
    );
}

#[test]
fn answers_stream_through_ollama_and_azure_too() {
    let fake = FakeProvider::start(
        "query-bindings",
        json!({"dim": 1024, "words": 2, "piece_delay": 0.0}),
    );
    for (binding, host, path) in [
        ("ollama", fake.url(""), "/api/chat"),
        (
            "azure_openai",
            fake.url(""),
            "/openai/deployments/answerer/chat/completions",
        ),
    ] {
        let server = Server::builder(&format!("query-{binding}"))
            .env("LLM_BINDING", binding)
            .env("LLM_BINDING_HOST", &host)
            .env("LLM_MODEL", "answerer")
            .env("MAX_GLEANING", "0")
            .start();
        common::index_texts(&server, &CORPUS);
        let (_, parsed) = stream(
            &server,
            &json!({"query": "What did Grace Hopper write?", "ll_keywords": ["Grace Hopper"], "hl_keywords": ["compiler"]}),
        );
        let pieces: Vec<&str> = parsed
            .iter()
            .filter_map(|l| l["response"].as_str())
            .collect();
        assert!(pieces.len() > 5, "{binding}: {parsed:?}");
        assert!(
            pieces
                .concat()
                .starts_with("Fake answer to: What did Grace Hopper write?"),
            "{binding}"
        );
        assert!(
            fake.requests()
                .iter()
                .any(|r| r["path"] == path && r["body"]["stream"] == true),
            "{binding} streamed from {path}"
        );
    }
}
