//! Prompt customisation as a LightRAG user sets it: ENTITY_TYPES, SUMMARY_LANGUAGE and
//! MAX_GLEANING in the prompts the provider receives, USER_PROMPT_PREFIX(_FILE),
//! PROMPT_DIR templates (and a broken one refusing start-up), KG_CHUNK_PICK_METHOD.

mod common;

use std::time::Duration;

use common::fake_provider::FakeProvider;
use common::{Builder, Server, call, index_texts};
use serde_json::{Value, json};

/// A server whose LLM and embeddings are the scripted provider.
fn with_provider(name: &str, fake: &FakeProvider) -> Builder {
    Server::builder(name)
        .env("LLM_BINDING", "openai")
        .env("LLM_BINDING_HOST", &fake.url("/v1"))
        .env("LLM_BINDING_API_KEY", "sk-test")
        .env("EMBEDDING_BINDING", "openai")
        .env("EMBEDDING_BINDING_HOST", &fake.url("/v1"))
        .env("EMBEDDING_BINDING_API_KEY", "sk-test")
        .env("EMBEDDING_DIM", "16")
}

/// The chat requests the provider received, as their message lists.
fn chats(fake: &FakeProvider) -> Vec<Vec<Value>> {
    fake.requests()
        .into_iter()
        .filter(|r| r["path"] == "/v1/chat/completions")
        .map(|r| {
            r["body"]["messages"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

fn content<'a>(messages: &'a [Value], role: &str) -> &'a str {
    messages
        .iter()
        .find(|m| m["role"] == role)
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
}

#[test]
fn extraction_prompts_carry_entity_types_language_and_gleaning_rounds() {
    let fake = FakeProvider::start("custom-extract", json!({"dim": 16}));
    let server = with_provider("custom-extract-server", &fake)
        .env("ENTITY_TYPES", r#"["person", "tool"]"#)
        .env("SUMMARY_LANGUAGE", "French")
        .env("MAX_GLEANING", "2")
        .start();
    index_texts(&server, &[("ada.txt", "Ada Lovelace wrote a program.")]);
    let requests = chats(&fake);
    let extraction: Vec<&Vec<Value>> = requests
        .iter()
        .filter(|m| content(m, "system").contains("---Real Data to be Processed---"))
        .collect();
    assert!(!extraction.is_empty(), "{requests:?}");
    let system = content(extraction[0], "system");
    assert!(system.contains("Entity_types: [person,tool]"), "{system}");
    assert!(system.contains("must be written in `French`"), "{system}");
    assert!(content(extraction[0], "user").contains("output language is French"));
    // One chunk: the first round, then MAX_GLEANING follow-ups asking for what was missed.
    let gleaning = |m: &&&Vec<Value>| {
        m.last()
            .and_then(|l| l["content"].as_str())
            .is_some_and(|c| c.contains("missed or incorrectly formatted") && c.contains("French"))
    };
    assert_eq!(extraction.len(), 3, "{extraction:?}");
    assert_eq!(extraction.iter().filter(gleaning).count(), 2);

    // Keywords are asked for in SUMMARY_LANGUAGE too.
    let r = call(
        &server,
        "POST",
        "/query/data",
        &json!({"query": "Who wrote a program?", "mode": "local"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let asked = chats(&fake);
    let keywords = asked
        .iter()
        .map(|m| content(m, "user"))
        .find(|c| c.contains("high_level_keywords"))
        .expect("a keyword prompt");
    assert!(keywords.contains("MUST be in French"), "{keywords}");
}

#[test]
fn user_prompt_prefix_file_and_prompt_dir_template_reach_the_answer_prompt() {
    let fake = FakeProvider::start("custom-prefix", json!({"dim": 16}));
    let builder = with_provider("custom-prefix-server", &fake)
        .env("USER_PROMPT_PREFIX", "inline, ignored")
        .env("USER_PROMPT_PREFIX_FILE", "house.md")
        // The scripted embeddings are hashes: keep every chunk a naive query finds.
        .env("COSINE_THRESHOLD", "-1");
    std::fs::create_dir_all(builder.dir().join("prompts/user_prompt")).unwrap();
    builder.file("prompts/user_prompt/house.md", "House rule: cite.\n\n");
    builder.file(
        "prompts/naive_rag_response.md",
        "CUSTOM ANSWER TEMPLATE ({response_type})\nRules: {user_prompt}\n{{braces}}\n{content_data}",
    );
    let server = builder.start();
    index_texts(&server, &[("ada.txt", "Ada Lovelace wrote a program.")]);
    let ask = |body: Value| {
        let r = call(&server, "POST", "/query", &body);
        assert_eq!(r.status, 200, "{}", r.body);
        let asked = chats(&fake);
        let answer = asked
            .iter()
            .rfind(|m| content(m, "user") == body["query"])
            .unwrap_or_else(|| panic!("no answer prompt for {body}: {}", r.body));
        content(answer, "system").to_owned()
    };
    let system = ask(json!({"query": "Ada?", "mode": "naive", "user_prompt": "Be brief."}));
    assert!(
        system.starts_with("CUSTOM ANSWER TEMPLATE (Multiple Paragraphs)\n"),
        "{system}"
    );
    // The file wins over the inline value, joined verbatim (its newlines separate).
    assert!(
        system.contains("Rules: House rule: cite.\n\nBe brief.\n{braces}\n"),
        "{system}"
    );
    assert!(system.contains("Ada Lovelace wrote a program."), "{system}");
    assert!(!system.contains("inline, ignored"));
    let system = ask(json!({
        "query": "Ada again?", "mode": "naive", "user_prompt": "Be brief.",
        "disable_user_prompt_prefix": true,
    }));
    assert!(system.contains("Rules: Be brief.\n"), "{system}");
    assert!(!system.contains("House rule"), "{system}");
    assert!(server.output().contains("USER_PROMPT_PREFIX is ignored"));
}

#[test]
fn a_template_missing_its_placeholder_refuses_start_up_with_one_line() {
    for (file, text, complaint) in [
        (
            "rag_response.md",
            "No context slot {user_prompt}",
            "rag_response.md lacks the placeholder {context_data}",
        ),
        (
            "keywords_extraction.md",
            "{query} {langauge}",
            "keywords_extraction.md has an unknown placeholder {langauge}",
        ),
    ] {
        let builder = Server::builder("custom-broken")
            .env("PROMPT_DIR", "my-prompts")
            .no_wait();
        std::fs::create_dir_all(builder.dir().join("my-prompts")).unwrap();
        builder.file(&format!("my-prompts/{file}"), text);
        let mut server = builder.start();
        let status = server
            .wait_exit(Duration::from_secs(5))
            .expect("start-up refused");
        assert_eq!(status.code(), Some(1), "{}", server.output());
        let output = server.output();
        let errors: Vec<&str> = output.lines().filter(|l| l.contains("Error")).collect();
        assert_eq!(
            errors,
            [format!(
                "Error: invalid value \"my-prompts\" for PROMPT_DIR (from process environment): {complaint}"
            )],
            "{output}"
        );
        assert!(!output.contains("Booting worker"), "{output}");
    }
}

/// The chunks `/query/data` returns for a question about one entity named in two
/// chunks, with RELATED_CHUNK_NUMBER 2 and KG_CHUNK_PICK_METHOD `method`.
fn picked_chunks(method: &str) -> Vec<String> {
    let server = Server::builder(&format!("custom-pick-{method}"))
        .env("KG_CHUNK_PICK_METHOD", method)
        .env("RELATED_CHUNK_NUMBER", "2")
        .env("TOP_K", "1")
        .start();
    index_texts(
        &server,
        &[
            ("bright.txt", "Vega shines bright over the harbour town."),
            (
                "cold.txt",
                "Vega sits far away in the cold dark northern sky.",
            ),
        ],
    );
    let r = call(
        &server,
        "POST",
        "/query/data",
        &json!({"query": "Vega far away cold dark northern sky", "mode": "local",
                "ll_keywords": ["Vega"], "hl_keywords": ["cold"]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let data = r.json();
    assert_eq!(data["data"]["entities"][0]["entity_name"], "Vega", "{data}");
    data["data"]["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["file_path"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn kg_chunk_pick_method_weight_and_vector_pick_differently() {
    // WEIGHT: the one entity gets RELATED_CHUNK_NUMBER chunks (both of its own; their
    // order is the order the two documents were indexed in, which is not fixed).
    let mut weight = picked_chunks("WEIGHT");
    weight.sort();
    assert_eq!(weight, ["bright.txt", "cold.txt"]);
    // VECTOR: RELATED_CHUNK_NUMBER × 1 entity / 2 = 1 chunk, the one nearest the query.
    assert_eq!(picked_chunks("VECTOR"), ["cold.txt"]);
}

#[test]
fn ui_customization_brands_with_webui_title_and_serves_the_bundle_logo() {
    let plain = Server::builder("custom-ui-default")
        .env("WEBUI_TITLE", "Acme Knowledge")
        .env("WEBUI_DESCRIPTION", "Ask the archive")
        .start();
    let r = plain.get("/ui/customization?locale=en");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(
        r.json(),
        json!({"customized": false,
               "brand": {"title": "Acme Knowledge", "description": "Ask the archive"}})
    );
    let none = plain.get("/ui/customization/assets/0123abcd/brand-logo");
    assert_eq!(none.status, 404);
    assert_eq!(none.json(), json!({"detail": "Unknown asset"}));

    let svg = "<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>\n";
    let builder = Server::builder("custom-ui-bundle")
        .env("WEBUI_TITLE", "Acme Knowledge")
        .env("UI_TEMPLATES_DIR", "bundle");
    std::fs::create_dir_all(builder.dir().join("bundle")).unwrap();
    builder.file(
        "bundle/manifest.json",
        r#"{"schema_version": 1, "default_locale": "en", "fallbacks": {"de-AT": ["de"]},
            "brand": {"logo": "logo.svg"},
            "locales": {"en": {"welcome": "welcome.md", "query_empty": "empty.md", "logo_alt": "Acme"},
                        "de": {"welcome": "welcome.md", "query_empty": "empty.md", "logo_alt": "Acme",
                               "login": "login.md", "agreements": "terms.md"}}}"#,
    );
    builder.file("bundle/logo.svg", svg);
    builder.file("bundle/welcome.md", "# Welcome to Acme");
    builder.file("bundle/empty.md", "Ask anything.");
    builder.file("bundle/login.md", "Staff only.");
    builder.file("bundle/terms.md", "The terms.");
    let server = builder.start();
    let custom = server.get("/ui/customization?locale=de-at").json();
    assert_eq!(custom["customized"], true, "{custom}");
    assert_eq!(custom["requested_locale"], "de-AT");
    assert_eq!(custom["locale"], "de");
    assert_eq!(custom["fallback_used"], true);
    assert_eq!(custom["direction"], "ltr");
    assert_eq!(custom["brand"]["title"], "Acme Knowledge");
    assert_eq!(custom["brand"]["description"], "Simple and Fast RAG");
    assert_eq!(custom["brand"]["logo_alt"], "Acme");
    assert_eq!(
        custom["welcome"],
        json!({"format": "markdown", "content": "# Welcome to Acme"})
    );
    assert_eq!(custom["consent_required"], true);
    assert_eq!(server.get("/ui/customization").json()["login"], Value::Null);
    let bad = server.get("/ui/customization?locale=zh_TW");
    assert_eq!(bad.status, 400);
    assert!(
        bad.json()["detail"]
            .as_str()
            .unwrap()
            .contains("underscore")
    );

    let url = custom["brand"]["logo_url"].as_str().unwrap();
    assert!(
        url.starts_with("/ui/customization/assets/") && url.ends_with("/brand-logo"),
        "{url}"
    );
    let logo = server.get(url);
    assert_eq!(logo.status, 200);
    assert_eq!(logo.body, svg);
    assert_eq!(logo.header("content-type"), Some("image/svg+xml"));
    assert_eq!(
        logo.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(logo.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        logo.header("content-security-policy"),
        Some("default-src 'none'; style-src 'unsafe-inline'; sandbox")
    );
    let wrong_hash = url.replace("/assets/", "/assets/0").replace("0", "1");
    for unknown in [
        wrong_hash.as_str(),
        "/ui/customization/assets/abc/brand-logo",
    ] {
        let r = server.get(unknown);
        assert_eq!(
            (r.status, r.json()),
            (404, json!({"detail": "Unknown asset"})),
            "{unknown}"
        );
    }

    // A bundle that does not validate stops start-up with one line.
    let broken = Server::builder("custom-ui-broken")
        .env("UI_TEMPLATES_DIR", "bundle")
        .no_wait();
    std::fs::create_dir_all(broken.dir().join("bundle")).unwrap();
    broken.file(
        "bundle/manifest.json",
        r#"{"schema_version": 1, "default_locale": "en", "brand": {"logo": "../logo.png"}, "locales": {}}"#,
    );
    let mut broken = broken.start();
    let status = broken
        .wait_exit(Duration::from_secs(5))
        .expect("start-up refused");
    assert_eq!(status.code(), Some(1));
    assert!(
        broken.output().contains(
            "for UI_TEMPLATES_DIR (from process environment): bundle invalid: brand.logo: \
             \"../logo.png\" must be a relative path inside the bundle"
        ),
        "{}",
        broken.output()
    );
}
