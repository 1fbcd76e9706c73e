use std::collections::HashMap;

use crate::{Binding, ConfigError, Environment, Settings};

fn load(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let process: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::load(
        ["lightrag-master"],
        &Environment::from_maps(process, HashMap::new()),
    )
}

fn error(pairs: &[(&str, &str)]) -> String {
    load(pairs).unwrap_err().to_string()
}

#[test]
fn openai_ollama_is_an_openai_llm_with_ollama_embeddings() {
    let s = load(&[
        ("LLM_BINDING", "openai-ollama"),
        ("EMBEDDING_BINDING", "jina"),
    ])
    .unwrap();
    let m = &s.models;
    assert_eq!(
        (m.llm.binding, m.embedding.binding),
        (Binding::OpenAi, Binding::Ollama)
    );
    assert_eq!(m.llm.host, "https://api.openai.com/v1");
    assert_eq!(m.embedding.host, "http://localhost:11434");
    assert_eq!(m.embedding.model, "bge-m3:latest");
}

#[test]
fn binding_defaults_and_key_fallbacks() {
    let s = load(&[
        ("LLM_BINDING", "gemini"),
        ("GEMINI_API_KEY", "g"),
        ("EMBEDDING_BINDING", "voyageai"),
        ("VOYAGEAI_API_KEY", "old"),
    ])
    .unwrap();
    let m = &s.models;
    assert_eq!(m.llm.host, "https://generativelanguage.googleapis.com");
    assert_eq!(m.llm.api_key.as_deref(), Some("g"));
    assert_eq!(m.embedding.model, "voyage-3");
    assert_eq!(m.embedding.api_key.as_deref(), Some("old"));
    assert!(!m.embedding_input.send_dim);
    let lollms = load(&[("LLM_BINDING", "lollms")]).unwrap();
    assert_eq!(lollms.models.llm.host, "http://localhost:9600");
    let jina = load(&[("EMBEDDING_BINDING", "jina"), ("JINA_API_KEY", "j")]).unwrap();
    assert!(
        jina.models.embedding_input.send_dim,
        "jina always sends dimensions"
    );
    assert_eq!(
        jina.models.embedding.host,
        "https://api.jina.ai/v1/embeddings"
    );
    let sentinel = load(&[
        ("LLM_BINDING", "gemini"),
        ("LLM_BINDING_API_KEY", "k"),
        ("LLM_BINDING_HOST", "DEFAULT_GEMINI_ENDPOINT"),
    ])
    .unwrap();
    assert_eq!(
        sentinel.models.llm.host,
        "https://generativelanguage.googleapis.com"
    );
    assert!(error(&[("EMBEDDING_BINDING", "jina")]).contains("JINA_API_KEY"));
    assert!(error(&[("LLM_BINDING", "voyageai")]).contains("LLM_BINDING"));
    assert!(error(&[("EMBEDDING_BINDING", "openai-ollama")]).contains("EMBEDDING_BINDING"));
}

#[test]
fn bedrock_needs_credentials_and_its_region_picks_the_host() {
    assert!(error(&[("LLM_BINDING", "aws_bedrock")]).contains("AWS_REGION"));
    let s = load(&[
        ("LLM_BINDING", "aws_bedrock"),
        ("AWS_REGION", "eu-west-3"),
        ("AWS_ACCESS_KEY_ID", "AKID"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
    ])
    .unwrap();
    assert_eq!(s.models.llm.binding, Binding::Bedrock);
    assert_eq!(
        s.models.llm.host,
        "https://bedrock-runtime.eu-west-3.amazonaws.com"
    );
    let aws = s.models.llm.aws.as_ref().unwrap();
    assert_eq!(
        (aws.access_key_id.as_str(), aws.session_token.as_deref()),
        ("AKID", None)
    );
}

#[test]
fn roles_fall_back_to_the_base_llm_and_are_validated() {
    let s = load(&[
        ("LLM_BINDING", "openai"),
        ("LLM_BINDING_HOST", "http://base:1"),
        ("LLM_BINDING_API_KEY", "base-key"),
        ("LLM_MODEL", "base-model"),
        ("KEYWORD_LLM_MODEL", "small"),
        ("KEYWORD_MAX_ASYNC_LLM", "2"),
        ("QUERY_LLM_BINDING", "ollama"),
        ("QUERY_LLM_MODEL", "qwen"),
        ("QUERY_LLM_BINDING_API_KEY", "q"),
        ("QUERY_LLM_TIMEOUT", "9"),
    ])
    .unwrap();
    let m = &s.models;
    assert_eq!(m.extract, m.llm);
    assert_eq!(
        (m.keyword.model.as_str(), m.keyword.max_async),
        ("small", 2)
    );
    assert_eq!(m.keyword.host, "http://base:1");
    assert_eq!(m.keyword.api_key.as_deref(), Some("base-key"));
    assert_eq!(m.query.binding, Binding::Ollama);
    assert_eq!(
        m.query.host, "http://localhost:11434",
        "another binding's default host"
    );
    assert_eq!(m.query.timeout.as_secs(), 9);
    assert_eq!(m.query.max_async, m.llm.max_async);

    let e = error(&[("EXTRACT_LLM_BINDING", "openai")]);
    assert!(e.contains("EXTRACT_LLM_MODEL"), "{e}");
    let e = error(&[
        ("EXTRACT_LLM_BINDING", "openai"),
        ("EXTRACT_LLM_MODEL", "m"),
    ]);
    assert!(e.contains("EXTRACT_LLM_BINDING_API_KEY"), "{e}");
    assert!(error(&[("KEYWORD_MAX_ASYNC_LLM", "0")]).contains("KEYWORD_MAX_ASYNC_LLM"));
    assert!(error(&[("QUERY_LLM_BINDING", "jina")]).contains("QUERY_LLM_BINDING"));
}

#[test]
fn embedding_prefixes_send_dim_and_token_limit() {
    let s = load(&[
        ("EMBEDDING_DOCUMENT_PREFIX", "passage: "),
        ("EMBEDDING_QUERY_PREFIX", "NO_PREFIX"),
        ("EMBEDDING_SEND_DIM", "true"),
        ("EMBEDDING_TOKEN_LIMIT", "512"),
    ])
    .unwrap();
    let input = &s.models.embedding_input;
    assert_eq!(
        (input.document_prefix.as_str(), input.query_prefix.as_str()),
        ("passage: ", "")
    );
    assert!(input.send_dim);
    assert_eq!(input.token_limit, Some(512));
    assert!(error(&[("EMBEDDING_QUERY_PREFIX", "")]).contains("NO_PREFIX"));
    assert!(error(&[("EMBEDDING_TOKEN_LIMIT", "0")]).contains("EMBEDDING_TOKEN_LIMIT"));
}

#[test]
fn openai_and_azure_read_their_sdk_variables() {
    let s = load(&[("LLM_BINDING", "openai"), ("OPENAI_API_KEY", "sk-env")]).unwrap();
    assert_eq!(s.models.llm.api_key.as_deref(), Some("sk-env"));
    let s = load(&[
        ("LLM_BINDING", "openai"),
        ("LLM_BINDING_API_KEY", "sk-set"),
        ("OPENAI_API_KEY", "sk-env"),
    ])
    .unwrap();
    assert_eq!(
        s.models.llm.api_key.as_deref(),
        Some("sk-set"),
        "the setting wins"
    );
    let s = load(&[
        ("LLM_BINDING", "azure_openai"),
        ("AZURE_OPENAI_ENDPOINT", "https://me.openai.azure.com/"),
        ("AZURE_OPENAI_API_KEY", "az"),
    ])
    .unwrap();
    assert_eq!(s.models.llm.host, "https://me.openai.azure.com");
    assert_eq!(s.models.llm.api_key.as_deref(), Some("az"));
}
