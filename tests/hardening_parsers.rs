//! Hostile documents and requests against the parsers and the pipeline (issue 14, items
//! 1-4): each is answered with a 4xx or ends as a `failed` document with its reason,
//! and the server goes on indexing.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Response, Server, call, index_texts, settled, sqlite, upload_file};
use serde_json::json;

/// The one document of an upload, once it is processed or failed.
fn outcome(server: &Server, upload: &Response) -> serde_json::Value {
    let track = upload.json()["track_id"].as_str().unwrap().to_owned();
    settled(server, &track, 1, Duration::from_secs(60)).remove(0)
}

/// A one-page PDF whose content stream is `operator` repeated `times` times,
/// zlib-compressed (python3's zlib): a few kilobytes for megabytes of operators.
fn pdf_of_operators(operator: &str, times: usize) -> Vec<u8> {
    let script = format!(
        r#"
import sys, zlib
content = zlib.compress(b"{operator}\n" * {times}, 9)
objects = [
    b"<< /Type /Catalog /Pages 2 0 R >>",
    b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << >> >>",
    b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content + b"\nendstream",
]
out = bytearray(b"%PDF-1.5\n")
offsets = []
for number, body in enumerate(objects, 1):
    offsets.append(len(out))
    out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
xref = len(out)
out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
for offset in offsets:
    out += b"%010d 00000 n \n" % offset
out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
sys.stdout.buffer.write(out)
"#
    );
    let output = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(output.status.success());
    output.stdout
}

/// A one-page PDF showing `text` whose catalog, page tree and page sit in a compressed
/// object stream with `extra` further members, all of them the object `member` (a
/// python3 bytes expression) at one offset.
fn pdf_with_object_stream(text: &str, extra: usize, member: &str) -> Vec<u8> {
    let script = format!(
        r#"
import sys, zlib
members = [
    b"<< /Type /Catalog /Pages 5 0 R >>",
    b"<< /Type /Pages /Kids [6 0 R] /Count 1 >>",
    b"<< /Type /Page /Parent 5 0 R /Contents 2 0 R /Resources << /Font << /F1 1 0 R >> >> >>",
    {member},
]
body, offsets = b"", []
for m in members:
    offsets.append(len(body))
    body += m + b"\n"
index = b"".join(b"%d %d " % pair for pair in zip([4, 5, 6], offsets))
index += b"".join(b"%d %d " % (1000 + i, offsets[3]) for i in range({extra}))
packed = zlib.compress(index + body, 9)
content = zlib.compress(b"BT /F1 12 Tf ({text}) Tj ET", 9)
def stream(entries, data):
    return b"<< %s /Length %d /Filter /FlateDecode >>\nstream\n" % (entries, len(data)) + data + b"\nendstream"
objects = [
    b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    stream(b"", content),
    stream(b"/Type /ObjStm /N %d /First %d" % (3 + {extra}, len(index)), packed),
]
out = bytearray(b"%PDF-1.5\n")
xref = []
for number, body in enumerate(objects, 1):
    xref.append(len(out))
    out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
start = len(out)
out += b"xref\n0 4\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in xref)
out += b"trailer\n<< /Size 4 /Root 4 0 R >>\nstartxref\n%d\n%%%%EOF\n" % start
sys.stdout.buffer.write(out)
"#
    );
    let output = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// lopdf expands object streams while it loads a file, before any page is read: one
/// array of 100 000 numbers named by 200 members is built 200 times (some 2.4 GB from
/// a file of a few kilobytes) unless the load is charged to the budget.
#[test]
fn an_object_stream_bomb_fails_at_load_with_the_default_budget() {
    let server = Server::builder("hardening-objstm").start();
    let valid =
        pdf_with_object_stream("Lise Meitner explained nuclear fission.", 10, r#"b"<< >>""#);
    let doc = outcome(&server, &upload_file(&server, "valid.pdf", &valid));
    assert_eq!(doc["status"], "processed", "{doc}");

    let bomb = pdf_with_object_stream("never read", 200, r#"b"[" + b"0 " * 100000 + b"]""#);
    assert!(bomb.len() < 16 * 1024, "{} bytes", bomb.len());
    let doc = outcome(&server, &upload_file(&server, "objstm.pdf", &bomb));
    assert_eq!(doc["status"], "failed", "{doc}");
    assert_eq!(
        doc["error_msg"],
        "Document exceeds the parser's budget: more than 256 MiB of decoded content (PARSE_MAX_DECODED_BYTES)"
    );
    assert_eq!(server.get("/health").status, 200);
    index_texts(
        &server,
        &[(
            "after.txt",
            "Chien-Shiung Wu disproved parity conservation.",
        )],
    );
}

#[test]
fn pdf_bombs_fail_with_their_reason_while_the_server_indexes_on() {
    let server = Server::builder("hardening-pdf")
        .env("PARSE_MAX_DECODED_BYTES", "4194304")
        .env("PARSE_MAX_OPERATIONS", "100000")
        .start();
    // 16 MiB of trivial operators, the reported bomb.
    let bomb = pdf_of_operators("0 g", 4 * 1024 * 1024);
    assert!(bomb.len() < 64 * 1024, "{} bytes", bomb.len());
    let doc = outcome(&server, &upload_file(&server, "bomb.pdf", &bomb));
    assert_eq!(doc["status"], "failed", "{doc}");
    assert_eq!(
        doc["error_msg"],
        "Document exceeds the parser's budget: more than 4 MiB of decoded content (PARSE_MAX_DECODED_BYTES)"
    );
    // Within the decoded budget, but too many operations.
    let busy = pdf_of_operators("q Q", 300_000);
    let doc = outcome(&server, &upload_file(&server, "busy.pdf", &busy));
    assert_eq!(doc["status"], "failed", "{doc}");
    assert_eq!(
        doc["error_msg"],
        "Document exceeds the parser's budget: more than 100000 content operations (PARSE_MAX_OPERATIONS)"
    );
    assert_eq!(server.get("/health").status, 200);
    index_texts(
        &server,
        &[(
            "after.txt",
            "Barbara McClintock discovered jumping genes in maize.",
        )],
    );
}

#[test]
fn html_with_many_script_and_style_blocks_is_indexed() {
    let server = Server::builder("hardening-html").start();
    // 5.5 MB, 240 000 blocks: hours of parsing when each block rescanned the rest.
    let mut html = String::from("<html><body><p>Rosalind Franklin photographed DNA.</p>");
    for _ in 0..120_000 {
        html.push_str("<script>var x = 1;</script><STYLE>p { }</STYLE>");
    }
    html.push_str("<p>Maurice Wilkins shared the work.</p></body></html>");
    assert!(html.len() > 5_000_000);
    let doc = outcome(&server, &upload_file(&server, "many.html", html.as_bytes()));
    assert_eq!(doc["status"], "processed", "{doc}");
}

#[test]
fn huge_chunking_parameters_are_refused_and_the_pipeline_stays_usable() {
    let server = Server::builder("hardening-chunking").start();
    let text = |chunking: serde_json::Value| json!({"text": "Lise Meitner explained nuclear fission.", "file_source": "meitner.txt", "chunking": chunking});
    for params in [
        json!({"chunk_token_size": u64::MAX}),
        json!({"chunk_token_size": u64::MAX, "chunk_overlap_token_size": u64::MAX - 1}),
        json!({"chunk_overlap_token_size": u64::MAX}),
        json!({"chunk_token_size": 1_000_001}),
    ] {
        let r = call(
            &server,
            "POST",
            "/documents/text",
            &text(json!({"strategy": "fixed_token", "params": params})),
        );
        assert_eq!(r.status, 422, "{params}: {}", r.body);
        let detail = &r.json()["detail"][0];
        assert_eq!(detail["type"], "less_than_equal", "{detail}");
        assert_eq!(
            detail["msg"],
            "Input should be less than or equal to 1000000"
        );
        assert_eq!(
            detail["loc"].as_array().unwrap()[..3],
            ["body", "chunking", "params"]
        );
    }
    let r = call(
        &server,
        "POST",
        "/documents/text",
        &text(
            json!({"params": {"chunk_token_size": 1_000_000, "chunk_overlap_token_size": 999_999}}),
        ),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    common::processed(
        &server,
        r.json()["track_id"].as_str().unwrap(),
        1,
        Duration::from_secs(30),
    );
}

#[test]
fn lists_over_their_ceiling_are_refused() {
    let server = Server::builder("hardening-lists").start();
    let n = 10_001;
    let texts: Vec<String> = (0..n).map(|i| format!("text {i}")).collect();
    let sources: Vec<String> = (0..n).map(|i| format!("s{i}.txt")).collect();
    let r = call(
        &server,
        "POST",
        "/documents/texts",
        &json!({"texts": texts, "file_sources": sources}),
    );
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(
        r.json()["detail"],
        "Too many texts in one request: 10001 (maximum 10000). Split them over several requests (MAX_TEXTS_PER_REQUEST)."
    );
    let ids: Vec<String> = (0..n).map(|i| format!("doc-{i}")).collect();
    let r = call(
        &server,
        "DELETE",
        "/documents/delete_document",
        &json!({"doc_ids": ids}),
    );
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(
        r.json()["detail"],
        "Too many document ids in one request: 10001 (maximum 10000). Split them over several requests (MAX_DELETE_IDS_PER_REQUEST)."
    );
    // Duplicates among many are still found (in one pass).
    let mut sources: Vec<String> = (0..10_000).map(|i| format!("d{i}.txt")).collect();
    sources[9_999] = "d0.txt".to_owned();
    let texts: Vec<String> = (0..10_000).map(|i| format!("text {i}")).collect();
    let r = call(
        &server,
        "POST",
        "/documents/texts",
        &json!({"texts": texts, "file_sources": sources}),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.json()["detail"],
        "file_sources must be unique by filename"
    );
}

/// A worker that died while parsing a file leaves its document `parsing` with no text:
/// the successor fails it with the reason instead of parsing it (and dying) again.
#[test]
fn a_file_whose_parse_never_answered_is_failed_not_parsed_again() {
    let server = Server::builder("hardening-crash").start();
    let inputs = server.dir.join("inputs");
    std::fs::create_dir_all(&inputs).unwrap();
    std::fs::write(inputs.join("crash.txt"), "Perfectly readable, this time.").unwrap();
    let statements = "INSERT INTO kv VALUES ('', 'full_docs', 'doc-crash', '{\"file_path\": \"crash.txt\", \"source_file\": \"crash.txt\"}');\n\
        INSERT INTO doc_status VALUES ('', 'doc-crash', 'parsing', 'crash.txt', 'crash', '', 0, NULL, NULL, '{}', '2026-11-26T00:00:00+00:00', '2026-11-26T00:00:00+00:00');\n";
    sqlite(&server.dir, statements);
    let doc = settled(&server, "crash", 1, Duration::from_secs(30)).remove(0);
    assert_eq!(doc["status"], "failed", "{doc}");
    assert!(
        doc["error_msg"]
            .as_str()
            .unwrap()
            .starts_with("Parsing was interrupted: the process parsing this file stopped"),
        "{doc}"
    );
    assert!(inputs.join("crash.txt").exists(), "the file was not parsed");
    index_texts(
        &server,
        &[("later.txt", "Chien-Shiung Wu disproved parity.")],
    );
}

/// The crash loop itself: the worker parsing a file is killed mid-parse; the worker
/// that takes the pipeline over fails the document instead of parsing it again.
#[test]
fn a_worker_killed_while_parsing_does_not_pass_the_file_on() {
    let server = Server::builder("hardening-kill")
        .args(&["--workers", "2"])
        .env("PARSE_TIMEOUT", "3600")
        .start();
    // Seconds of parsing within the default budgets: 4 million operators.
    let slow = pdf_of_operators("0 g", 4 * 1024 * 1024);
    let track = upload_file(&server, "slow.pdf", &slow).json()["track_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let parser: i32 = loop {
        let docs = server
            .get(&format!("/documents/track_status/{track}"))
            .json();
        let output = server.output();
        let runner = output
            .lines()
            .find(|l| l.contains("pipeline: processing documents"))
            // "<date> <time> [pid] [INFO] ..."
            .and_then(|l| l.split('[').nth(1)?.split(']').next()?.parse().ok());
        if docs["documents"][0]["status"] == "parsing"
            && let Some(pid) = runner
        {
            break pid;
        }
        assert!(std::time::Instant::now() < deadline, "{docs}");
        std::thread::sleep(Duration::from_millis(20));
    };
    unsafe { libc::kill(parser, libc::SIGKILL) };
    let doc = settled(&server, &track, 1, Duration::from_secs(60)).remove(0);
    assert_eq!(doc["status"], "failed", "{doc}");
    assert!(
        doc["error_msg"]
            .as_str()
            .unwrap()
            .starts_with("Parsing was interrupted"),
        "{doc}"
    );
    index_texts(
        &server,
        &[(
            "after.txt",
            "Emmy Noether linked symmetry and conservation.",
        )],
    );
}
