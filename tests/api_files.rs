//! File ingestion: `POST /documents/upload`, `/documents/scan` and its status, and the
//! parsers behind them, with real and hostile files.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Response, Server, send};

const BOUNDARY: &str = "----lightragmasterboundary";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

/// `multipart/form-data` with one part named `field`.
fn multipart(field: &str, filename: &str, content: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn upload(server: &Server, filename: &str, content: &[u8]) -> Response {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    send(
        server.port,
        "POST",
        "/documents/upload",
        &[("Content-Type", &content_type)],
        &multipart("file", filename, content),
    )
}

fn settled(server: &Server, track_id: &str, count: usize) -> Vec<serde_json::Value> {
    common::settled(server, track_id, count, Duration::from_secs(30))
}

fn zip_with(entries: &[(&str, &str)], bomb: bool) -> Vec<u8> {
    let path = common::temp_dir("zipfile").join("out.zip");
    let mut script = format!(
        "import zipfile\nz = zipfile.ZipFile('{}', 'w', zipfile.ZIP_DEFLATED)\n",
        path.display()
    );
    for (name, body) in entries {
        script.push_str(&format!("z.writestr('{name}', '''{body}''')\n"));
    }
    if bomb {
        // 200 MiB of spaces compress to ~200 KiB.
        script.push_str("z.writestr('word/document.xml', b' ' * (200 * 1024 * 1024))\n");
    }
    script.push_str("z.close()\n");
    assert!(
        Command::new("python3")
            .args(["-c", &script])
            .status()
            .unwrap()
            .success()
    );
    std::fs::read(path).unwrap()
}

#[test]
fn every_supported_kind_of_file_is_parsed_indexed_and_archived() {
    let server = Server::builder("files-kinds").start();
    let files: Vec<(&str, Vec<u8>, &str)> = vec![
        ("notes.txt", b"Grace Hopper worked on the UNIVAC at Remington Rand.".to_vec(), "Grace Hopper"),
        ("guide.md", b"# Rust\n\nGraydon Hoare started Rust at Mozilla Research.".to_vec(), "Graydon Hoare"),
        (
            "page.html",
            b"<html><head><style>p{}</style><script>var x = 'Hidden Name';</script></head><body><p>Tim Berners-Lee invented the World Wide Web at CERN.</p></body></html>".to_vec(),
            "Tim Berners-Lee",
        ),
        ("data.json", br#"{"scientist": "Rosalind Franklin", "place": "King's College London"}"#.to_vec(), "Rosalind Franklin"),
        ("table.csv", b"id,bio\n1,\"In 1972 Alan Kay designed Smalltalk at Xerox PARC.\"\n".to_vec(), "Alan Kay"),
        ("feed.xml", b"<items><item>Linus Torvalds wrote Linux in Helsinki.</item></items>".to_vec(), "Linus Torvalds"),
        ("config.yaml", b"founder: Dennis Ritchie\nlab: Bell Labs\n".to_vec(), "Dennis Ritchie"),
        ("script.py", b"# Guido van Rossum created Python at CWI.\nprint('hello')\n".to_vec(), "Guido van Rossum"),
        ("curie.pdf", fixture("curie.pdf"), "Marie Curie"),
        ("lovelace.docx", fixture("lovelace.docx"), "Ada Lovelace"),
    ];
    let mut tracks = Vec::new();
    for (name, body, _) in &files {
        let r = upload(&server, name, body);
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        let answer = r.json();
        assert_eq!(answer["status"], "success");
        assert_eq!(
            answer["message"],
            format!("File '{name}' uploaded successfully. Processing will continue in background.")
        );
        let track_id = answer["track_id"].as_str().unwrap().to_owned();
        assert!(track_id.starts_with("upload_"), "{track_id}");
        tracks.push(track_id);
    }
    for ((name, _, entity), track_id) in files.iter().zip(&tracks) {
        let docs = settled(&server, track_id, 1);
        let doc = &docs[0];
        assert_eq!(doc["status"], "processed", "{name}: {doc}");
        assert_eq!(doc["file_path"], *name);
        assert!(doc["chunks_count"].as_u64().unwrap() >= 1);
        assert!(
            doc["content_summary"].as_str().unwrap().contains(entity),
            "{name}: {doc}"
        );
        let exists = server
            .get(&format!(
                "/graph/entity/exists?name={}",
                entity.replace(' ', "%20")
            ))
            .json();
        assert_eq!(exists["exists"], true, "{name}: {entity}");
        assert!(
            server.dir.join("inputs/__parsed__").join(name).is_file(),
            "{name} archived"
        );
        assert!(!server.dir.join("inputs").join(name).exists());
    }
    // Markup is not indexed as text.
    let hidden = server.get("/graph/entity/exists?name=Hidden%20Name").json();
    assert_eq!(hidden["exists"], false);

    let types = server.get("/documents/supported_file_types");
    assert_eq!(types.status, 200);
    assert_eq!(types.header("cache-control"), Some("no-store"));
    assert_eq!(types.header("vary"), Some("LIGHTRAG-WORKSPACE"));
    let types = types.json();
    let all = types["supported_extensions"].as_array().unwrap();
    for ext in [
        ".txt", ".pdf", ".docx", ".html", ".json", ".csv", ".xml", ".yaml", ".py",
    ] {
        assert!(all.contains(&serde_json::json!(ext)), "{ext}");
    }
    assert_eq!(types["engines"]["native"], types["supported_extensions"]);
}

#[test]
fn refused_uploads_follow_lightrag_and_write_nothing() {
    let server = Server::builder("files-refused")
        .args(&["--max-upload-size", "1000"])
        .start();
    let detail = |r: Response| (r.status, r.json()["detail"].clone());
    assert_eq!(
        detail(upload(&server, "", b"x")),
        (400, "Filename cannot be empty".into())
    );
    for name in [" lead.txt", "tab\there.txt", "trail.txt "] {
        assert_eq!(
            detail(upload(&server, name, b"x")),
            (400, "Invalid filename".into()),
            "{name:?}"
        );
    }
    for name in ["../escape.txt", "a\\b.txt", "c:d.txt", ".."] {
        assert_eq!(
            detail(upload(&server, name, b"x")),
            (400, "Unsafe filename detected".into()),
            "{name}"
        );
    }
    let (status, unsupported) = detail(upload(&server, "tool.exe", b"MZ"));
    assert_eq!(status, 400);
    let unsupported = unsupported.as_str().unwrap();
    assert!(
        unsupported.starts_with("Unsupported file type. Supported types: ('.bat', '.c', "),
        "{unsupported}"
    );

    let (status, too_big) = detail(upload(&server, "big.txt", &[b'a'; 1500]));
    assert_eq!(status, 413);
    assert_eq!(
        too_big,
        "File too large. Maximum size: 0.0MB, uploaded: 0.0MB"
    );
    assert!(
        !server.dir.join("inputs/big.txt").exists(),
        "partial file removed"
    );

    let no_file = send(
        server.port,
        "POST",
        "/documents/upload",
        &[(
            "Content-Type",
            &format!("multipart/form-data; boundary={BOUNDARY}"),
        )],
        &multipart("other", "a.txt", b"x"),
    );
    assert_eq!(no_file.status, 422);
    assert_eq!(
        no_file.json()["detail"][0]["loc"],
        serde_json::json!(["body", "file"])
    );

    let first = upload(&server, "twice.txt", b"Niklaus Wirth designed Pascal.");
    assert_eq!(first.status, 200);
    settled(&server, first.json()["track_id"].as_str().unwrap(), 1);
    let (status, conflict) = detail(upload(&server, "twice.txt", b"again"));
    assert_eq!(status, 409);
    assert_eq!(
        conflict,
        "Document storage already contains 'twice.txt' (Status: processed). Delete the existing record before re-uploading."
    );
    // A parser hint names the same document.
    assert_eq!(upload(&server, "twice.[native].txt", b"again").status, 409);

    // A file waiting in the input directory is a conflict too.
    std::fs::write(server.dir.join("inputs/waiting.txt"), "queued by hand").unwrap();
    assert_eq!(upload(&server, "waiting.txt", b"x").status, 409);

    let nothing = std::fs::read_dir(server.dir.join("inputs"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().unwrap().is_file())
        .count();
    assert_eq!(
        nothing, 1,
        "only the hand-placed file is in the input directory"
    );
    assert_eq!(server.get("/health").status, 200);
}

#[test]
fn hostile_files_fail_alone_and_the_server_stays_up() {
    let server = Server::builder("files-hostile").start();
    let pdf = fixture("curie.pdf");
    let hostile: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated.pdf", pdf[..pdf.len() / 3].to_vec(), ""),
        (
            "garbage.pdf",
            b"%PDF-1.7 nothing else".to_vec(),
            "Corrupt or unreadable pdf file",
        ),
        (
            "bomb.docx",
            zip_with(&[], true),
            "Extracted text exceeds 64 MiB",
        ),
        (
            "broken.docx",
            b"PK\x03\x04 not really a zip".to_vec(),
            "Corrupt or unreadable docx file",
        ),
        (
            "binary.txt",
            vec![0xff, 0xfe, 0xfd, 0x00, 0x80],
            "File is not valid UTF-8 text",
        ),
        ("empty.txt", Vec::new(), "File contains no text content"),
    ];
    let mut tracks = Vec::new();
    for (name, body, _) in &hostile {
        let r = upload(&server, name, body);
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        tracks.push(r.json()["track_id"].as_str().unwrap().to_owned());
    }
    let good = upload(&server, "fine.txt", b"Barbara Liskov taught at MIT.");
    for ((name, _, error), track_id) in hostile.iter().zip(&tracks) {
        let doc = &settled(&server, track_id, 1)[0];
        assert_eq!(doc["status"], "failed", "{name}: {doc}");
        let message = doc["error_msg"].as_str().unwrap();
        assert!(message.starts_with(error), "{name}: {message}");
        assert!(
            server.dir.join("inputs").join(name).exists(),
            "{name} kept for inspection"
        );
    }
    let fine = &settled(&server, good.json()["track_id"].as_str().unwrap(), 1)[0];
    assert_eq!(fine["status"], "processed");
    assert_eq!(server.get("/health").status, 200);
    assert!(!server.output().contains("panicked"), "{}", server.output());
}

#[test]
fn scan_queues_new_files_and_reports_its_progress() {
    let server = Server::builder("files-scan")
        .args(&["--workers", "2"])
        .start();
    let inputs = server.dir.join("inputs");
    std::fs::create_dir_all(&inputs).unwrap();
    std::fs::write(
        inputs.join("edison.txt"),
        "Thomas Edison opened a laboratory in Menlo Park.",
    )
    .unwrap();
    std::fs::write(
        inputs.join("tesla.md"),
        "Nikola Tesla worked for Westinghouse in Pittsburgh.",
    )
    .unwrap();
    std::fs::write(inputs.join("lovelace.docx"), fixture("lovelace.docx")).unwrap();
    std::fs::write(inputs.join("photo.bmp"), "BM").unwrap();

    let r = send(server.port, "POST", "/documents/scan", &[], b"");
    assert_eq!(r.status, 200, "{}", r.body);
    let answer = r.json();
    assert_eq!(answer["status"], "scanning_started");
    let track_id = answer["track_id"].as_str().unwrap().to_owned();
    assert!(track_id.starts_with("scan_"), "{track_id}");

    let deadline = Instant::now() + Duration::from_secs(10);
    let job = loop {
        let job = server.get(&format!("/documents/scan/status/{track_id}"));
        assert_eq!(job.status, 200, "{}", job.body);
        let job = job.json();
        if job["status"] != "running" {
            break job;
        }
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["counts"]["discovered"], 4);
    assert_eq!(job["counts"]["enqueued"], 3);
    assert_eq!(job["counts"]["skipped_unsupported"], 1);
    assert_eq!(
        job["samples"]["processed"]["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert!(job["created_at"].as_f64().unwrap() > 1.7e9);
    assert!(job["version"].as_u64().unwrap() >= 2);

    let docs = settled(&server, &track_id, 3);
    assert!(docs.iter().all(|d| d["status"] == "processed"), "{docs:?}");
    assert!(inputs.join("__parsed__/tesla.md").is_file());
    assert!(inputs.join("photo.bmp").is_file(), "unsupported files stay");

    // A second scan finds nothing new.
    let again = send(server.port, "POST", "/documents/scan", &[], b"").json();
    let again_id = again["track_id"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let job = server
            .get(&format!("/documents/scan/status/{again_id}"))
            .json();
        if job["status"] == "completed" {
            assert_eq!(job["counts"]["enqueued"], serde_json::Value::Null);
            break;
        }
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(50));
    }
    let unknown = server.get("/documents/scan/status/scan_20260101_000000_deadbeef");
    assert_eq!(unknown.status, 404);

    // Deleting with delete_file removes the archived source too.
    common::pipeline_idle(&server, None, Duration::from_secs(10));
    let edison = docs
        .iter()
        .find(|d| d["file_path"] == "edison.txt")
        .unwrap()["id"]
        .clone();
    let r = send(
        server.port,
        "DELETE",
        "/documents/delete_document",
        &[("Content-Type", "application/json")],
        serde_json::json!({"doc_ids": [edison], "delete_file": true})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(r.json()["status"], "deletion_started", "{}", r.body);
    let deadline = Instant::now() + Duration::from_secs(10);
    while inputs.join("__parsed__/edison.txt").exists() {
        assert!(Instant::now() < deadline, "archived file not deleted");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(inputs.join("__parsed__/tesla.md").is_file());
}

#[test]
fn a_filename_hint_selects_the_chunking() {
    let server = Server::builder("files-hint-chunking").start();
    let text = "Edsger Dijkstra described shortest paths.\n\nTony Hoare invented quicksort.\n\nBarbara Liskov defined substitution.";
    // The hint's strategy and parameters: paragraphs of under 10 tokens each.
    let hinted = "algorithms.[-R(chunk_ts=10,chunk_ol=0)].md";
    let r = upload(&server, hinted, text.as_bytes());
    assert_eq!(r.status, 200, "{}", r.body);
    let doc = settled(&server, r.json()["track_id"].as_str().unwrap(), 1).remove(0);
    assert_eq!(doc["status"], "processed", "{doc}");
    assert_eq!(
        doc["file_path"], "algorithms.md",
        "the hint is not part of the name"
    );
    assert_eq!(doc["metadata"]["process_options"], "R", "{doc}");
    assert_eq!(doc["chunks_count"], 3, "one chunk per paragraph: {doc}");
    // The same text unhinted is one chunk of the server's 1200 tokens.
    let r = upload(&server, "plain.md", format!("{text} (again)").as_bytes());
    let doc = settled(&server, r.json()["track_id"].as_str().unwrap(), 1).remove(0);
    assert_eq!(doc["chunks_count"], 1, "{doc}");
    assert_eq!(doc["metadata"].get("process_options"), None, "{doc}");

    let r = upload(&server, "custom.[native-C].md", b"x");
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .starts_with("Invalid chunking configuration: "),
        "{}",
        r.body
    );
    for bad in [
        "two.[-RV].md",
        "odd.[-R(chunk_ol=5,chunk_ts=5)].md",
        "size.[-V(chunk_ol=1)].md",
    ] {
        let r = upload(&server, bad, b"x");
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert!(
            r.json()["detail"]
                .as_str()
                .unwrap()
                .starts_with("Invalid processing options in parser hint"),
            "{}",
            r.body
        );
        assert!(
            !server.dir.join("inputs").join(bad).exists(),
            "{bad} not kept"
        );
    }
}
