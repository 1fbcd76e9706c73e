//! The contract of `/openapi.json`, checked by a fuzzer: schemathesis 4 (`--checks all`,
//! 15 examples per operation) against the real binary in API-key mode. Every request
//! the document calls valid must be accepted, every invalid one refused in LightRAG's
//! shapes, every status code and body documented, every guarded route refuse a call
//! without the key. `tests/contract/schemathesis.toml` lists the few rules a schema
//! cannot state (cross-field, or on the server's state).
//!
//! Needs `schemathesis` on PATH (`.ci/run` installs it); without it the test says so and
//! passes, except under CI (`CI` set), where it fails. `LRM_CONTRACT_SEED` replays
//! another seed (a fixed one keeps CI reproducible).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Server;
use common::fake_provider::FakeProvider;
use serde_json::json;

const KEY: &str = "contract-key";
const SEED: &str = "20261201";
/// The run takes about a minute on a debug build; past this it is stopped and fails.
const BUDGET: Duration = Duration::from_secs(420);

fn schemathesis_installed() -> bool {
    Command::new("schemathesis")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn openapi_contract_holds_under_fuzzing() {
    if !schemathesis_installed() {
        assert!(
            std::env::var_os("CI").is_none(),
            "schemathesis is not installed (pip install schemathesis, see .ci/run)"
        );
        eprintln!("skipped: schemathesis is not installed");
        return;
    }
    let fake = FakeProvider::start("contract-provider", json!({"dim": 16, "words": 2}));
    let server = Server::builder("contract")
        .env("LIGHTRAG_API_KEY", KEY)
        .env("LLM_BINDING", "openai")
        .env("LLM_BINDING_HOST", &fake.url("/v1"))
        .env("LLM_BINDING_API_KEY", "sk")
        .env("EMBEDDING_BINDING", "openai")
        .env("EMBEDDING_BINDING_HOST", &fake.url("/v1"))
        .env("EMBEDDING_BINDING_API_KEY", "sk")
        .env("EMBEDDING_DIM", "16")
        .env("MAX_GLEANING", "0")
        .start();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/contract/schemathesis.toml");
    let seed = std::env::var("LRM_CONTRACT_SEED").unwrap_or_else(|_| SEED.to_owned());
    let report = server.dir.join("schemathesis.txt");
    let mut run = Command::new("schemathesis")
        .current_dir(&server.dir)
        .arg("--no-color")
        .arg("--config-file")
        .arg(&config)
        .args([
            "run",
            &format!("http://127.0.0.1:{}/openapi.json", server.port),
        ])
        .args(["--checks", "all", "--max-examples", "15", "--seed", &seed])
        .args(["--generation-database", "none", "--request-timeout", "30"])
        // Hypothesis's "data generation is too slow" check times the fuzzer on the
        // machine, not the server: on a loaded 2-core CI it failed POST /api/generate.
        .arg("--suppress-health-check=too_slow")
        .args(["-H", &format!("X-API-Key: {KEY}")])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&report).unwrap())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + BUDGET;
    let status = loop {
        if let Some(status) = run.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = run.kill();
            let _ = run.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let output = std::fs::read_to_string(&report).unwrap_or_default();
    let status = status.unwrap_or_else(|| panic!("schemathesis ran over {BUDGET:?}:\n{output}"));
    assert!(
        status.success(),
        "schemathesis found failures (seed {seed}):\n{output}\nserver output:\n{}",
        server.output()
    );
    let field = |name: &str| {
        output
            .lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .map(str::trim)
            .unwrap_or_default()
    };
    let selected = field("Selected:");
    assert!(
        !selected.is_empty() && selected.split('/').all(|n| n == field("Tested:")),
        "every operation tested:\n{output}"
    );
    let summary = output
        .lines()
        .rev()
        .find(|l| l.contains(" in "))
        .unwrap_or_default();
    eprintln!("schemathesis, seed {seed}: {summary}");
}

/// Query strings and path parameters are refused with FastAPI's 422 JSON, never axum's
/// plain text; a parameter given twice keeps its last value, as Starlette reads it.
#[test]
fn malformed_parameters_answer_fastapi_422_json() {
    let server = Server::builder("contract-parameters").start();
    let detail = |path: &str| {
        let r = server.get(path);
        assert_eq!(r.status, 422, "{path}: {}", r.body);
        assert!(
            r.header("content-type")
                .is_some_and(|t| t.starts_with("application/json")),
            "{path}: {r:?}"
        );
        r.json()["detail"][0].clone()
    };
    let twice = server.get("/graph/label/popular?limit=1&limit=2");
    assert_eq!(twice.status, 200, "{}", twice.body);
    let error = detail("/graph/label/popular?limit=5&limit=0");
    assert_eq!(error["type"], "greater_than_equal");
    assert_eq!(error["loc"], json!(["query", "limit"]));
    assert_eq!(error["input"], "0");
    let error = detail("/graphs?label=x&max_nodes=many");
    assert_eq!(error["type"], "int_parsing");
    assert_eq!(error["loc"], json!(["query", "max_nodes"]));
    assert_eq!(detail("/graph/label/search?limit=3")["type"], "missing");
    assert_eq!(
        detail("/documents/source_conflicts?limit=201")["type"],
        "less_than_equal"
    );
    let error = detail("/documents/track_status/%FF%FE");
    assert_eq!(error["type"], "string_unicode");
    assert_eq!(error["loc"], json!(["path"]));
    assert_eq!(
        detail("/documents/scan/status/%C3")["type"],
        "string_unicode"
    );
    assert_eq!(detail("/webui/assets/%FF.js")["type"], "string_unicode");
    let lenient = server.get("/graph/entity/exists?name=%ZZ");
    assert_eq!(lenient.status, 200, "{}", lenient.body);
}
