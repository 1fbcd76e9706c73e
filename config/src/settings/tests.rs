use std::collections::HashMap;

use super::*;

fn env(process: &[(&str, &str)], dotenv: &[(&str, &str)]) -> Environment {
    let map = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    Environment::from_maps(map(process), map(dotenv))
}

fn load(args: &[&str], env: &Environment) -> Result<Settings, ConfigError> {
    Settings::load(
        std::iter::once("lightrag-master").chain(args.iter().copied()),
        env,
    )
}

#[test]
fn defaults_match_lightrag_and_gunicorn() {
    let s = load(&[], &env(&[], &[])).unwrap();
    assert_eq!(s.bind_address(), "0.0.0.0:9621");
    assert_eq!(s.workers, 2);
    assert_eq!(s.models.llm.call_timeout, Duration::from_secs(300));
    assert_eq!(s.worker_timeout, Some(Duration::from_secs(330)));
    assert_eq!(s.keepalive, Duration::from_secs(5));
    assert_eq!(s.graceful_timeout, Duration::from_secs(30));
    assert_eq!((s.max_requests, s.max_requests_jitter), (0, 0));
    assert_eq!(s.backlog, 2048);
    assert_eq!((s.log_max_bytes, s.log_backup_count), (10_485_760, 5));
    assert_eq!(s.log_level, LogLevel::Info);
    assert_eq!(s.pidfile, None);
}

#[test]
fn precedence_is_cli_then_env_then_dotenv() {
    let e = env(&[("PORT", "2")], &[("PORT", "3"), ("WORKERS", "4")]);
    let s = load(&["--port", "1"], &e).unwrap();
    assert_eq!((s.port, s.workers), (1, 4));
    assert_eq!(load(&[], &e).unwrap().port, 2);
}

#[test]
fn worker_timeout_follows_timeout_and_zero_disables() {
    let s = load(&["--timeout", "10"], &env(&[], &[])).unwrap();
    assert_eq!(s.worker_timeout, Some(Duration::from_secs(40)));
    let s = load(&[], &env(&[("WORKER_TIMEOUT", "0")], &[])).unwrap();
    assert_eq!(s.worker_timeout, None);
}

#[test]
fn timeout_bounds_every_attempt_of_both_roles() {
    let s = load(&[], &env(&[], &[])).unwrap();
    let attempts = |s: &Settings| {
        (
            s.models.llm.attempt_timeout().as_secs(),
            s.models.embedding.attempt_timeout().as_secs(),
        )
    };
    assert_eq!(attempts(&s), (240, 30));
    let s = load(&["--timeout", "60"], &env(&[], &[])).unwrap();
    assert_eq!(attempts(&s), (60, 30));
    assert_eq!(s.models.embedding.call_timeout, Duration::from_secs(60));
    assert_eq!(s.models.llm.timeout, Duration::from_secs(240), "as given");
}

#[test]
fn invalid_value_names_setting_source_and_value() {
    let err = load(&[], &env(&[], &[("WORKERS", "zero")])).unwrap_err();
    let line = err.to_string();
    assert!(line.contains("WORKERS") && line.contains(".env") && line.contains("\"zero\""));
    let err = load(&["--port", "70000"], &env(&[], &[])).unwrap_err();
    assert!(err.to_string().contains("command line --port"), "{err}");
    let err = load(&[], &env(&[("WORKERS", "0")], &[])).unwrap_err();
    assert!(err.to_string().contains("process environment"), "{err}");
}

#[test]
fn accounts_require_a_private_token_secret() {
    let e = env(&[("AUTH_ACCOUNTS", "admin:pw")], &[]);
    let err = load(&[], &e).unwrap_err().to_string();
    assert!(err.contains("TOKEN_SECRET"), "{err}");
    let e = env(
        &[
            ("AUTH_ACCOUNTS", "admin:pw"),
            ("TOKEN_SECRET", DEFAULT_TOKEN_SECRET),
        ],
        &[],
    );
    assert!(
        load(&[], &e)
            .unwrap_err()
            .to_string()
            .contains("private secret")
    );
    let e = env(
        &[("AUTH_ACCOUNTS", "admin:pw"), ("TOKEN_SECRET", "s3cret")],
        &[],
    );
    assert_eq!(load(&[], &e).unwrap().auth.token_secret, "s3cret");
    assert_eq!(
        load(&[], &env(&[], &[])).unwrap().auth.token_secret,
        DEFAULT_TOKEN_SECRET
    );
    let e = env(&[("JWT_ALGORITHM", "none")], &[]);
    assert!(load(&[], &e).unwrap_err().to_string().contains("refused"));
}

#[test]
fn empty_cors_origins_means_none_but_empty_port_means_unset() {
    let e = env(&[("CORS_ORIGINS", ""), ("PORT", "")], &[]);
    let s = load(&[], &e).unwrap();
    assert!(s.api.cors_origins.is_empty());
    assert_eq!(s.port, 9621);
    let s = load(&[], &env(&[], &[])).unwrap();
    assert_eq!(s.api.cors_origins, ["*"]);
    assert_eq!(s.auth.whitelist_paths, ["/health", "/api/*"]);
    assert!(!s.api.max_request_body_explicit);
    let s = load(&["--max-request-body-bytes", "10"], &env(&[], &[])).unwrap();
    assert!(s.api.max_request_body_explicit);
}

#[test]
fn warns_about_open_public_servers_and_public_ollama_routes() {
    let s = load(&[], &env(&[], &[])).unwrap();
    assert!(s.warnings()[0].contains("no authentication"));
    let s = load(&["--host", "127.0.0.1"], &env(&[], &[])).unwrap();
    assert!(s.warnings().is_empty());
    let s = load(&[], &env(&[("LIGHTRAG_API_KEY", "k")], &[])).unwrap();
    assert!(s.warnings()[0].contains("/api/*"));
    let s = load(
        &["--whitelist-paths", "/health"],
        &env(&[("LIGHTRAG_API_KEY", "k")], &[]),
    )
    .unwrap();
    assert!(s.warnings().is_empty());
}

#[test]
fn indexing_settings_validate_the_overlap_and_read_entity_types() {
    let s = load(&[], &env(&[], &[])).unwrap();
    assert_eq!(
        (s.indexing.chunk_size, s.indexing.chunk_overlap),
        (1200, 100)
    );
    assert_eq!(s.indexing.entity_types[0], "person");
    let e = env(&[("ENTITY_TYPES", r#"["Person", "Tool"]"#)], &[]);
    assert_eq!(
        load(&[], &e).unwrap().indexing.entity_types,
        ["person", "tool"]
    );
    let err = load(
        &["--chunk-size", "100", "--chunk-overlap-size", "100"],
        &env(&[], &[]),
    )
    .unwrap_err();
    assert!(err.to_string().contains("CHUNK_OVERLAP_SIZE"), "{err}");
}

#[test]
fn storage_selectors_accept_only_what_exists() {
    let s = load(&[], &env(&[], &[])).unwrap();
    assert_eq!(s.storage.kv, "JsonKVStorage");
    let e = env(&[("LIGHTRAG_GRAPH_STORAGE", "Neo4JStorage")], &[]);
    let err = load(&[], &e).unwrap_err().to_string();
    assert!(
        err.contains("LIGHTRAG_GRAPH_STORAGE") && err.contains("NetworkXStorage"),
        "{err}"
    );
}

#[test]
fn help_names_every_env_var() {
    let help = Settings::command().render_help().to_string();
    for spec in spec::ALL {
        assert!(
            help.contains(&format!("[env: {}]", spec.env)),
            "{}",
            spec.env
        );
    }
}
