//! Black-box harness: start the real binary on a free loopback port in its own temporary
//! directory, talk raw HTTP/1.1 to it and send it signals.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub mod fake_provider;
pub mod help;
pub mod postgres;
pub mod redis;
pub mod two_nodes;

pub const BIN: &str = env!("CARGO_BIN_EXE_lightrag-master");

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "lrm-test-{name}-{}-{}",
        std::process::id(),
        fastrand_suffix()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn fastrand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        % 1_000_000_007
}

pub struct Server {
    pub child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

pub struct Builder {
    args: Vec<String>,
    env: Vec<(String, String)>,
    dir: PathBuf,
    port: u16,
    wait_ready: bool,
    address_in_dotenv: bool,
    binary: PathBuf,
}

impl Builder {
    /// Puts HOST and PORT in `.env` instead of on the command line, so a reload can
    /// change them.
    pub fn address_in_dotenv(mut self) -> Self {
        write_file(
            &self.dir,
            ".env",
            &format!("HOST=127.0.0.1\nPORT={}\n", self.port),
        );
        self.address_in_dotenv = true;
        self
    }
    pub fn arg(mut self, a: &str) -> Self {
        self.args.push(a.to_owned());
        self
    }
    pub fn args(mut self, a: &[&str]) -> Self {
        self.args.extend(a.iter().map(|s| s.to_string()));
        self
    }
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.to_owned(), v.to_owned()));
        self
    }
    /// Runs another copy of the binary (upgrade tests replace it on disk).
    pub fn binary(mut self, path: &Path) -> Self {
        self.binary = path.to_owned();
        self
    }
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// Writes a file into the server's working directory before it starts.
    pub fn file(&self, name: &str, text: &str) {
        write_file(&self.dir, name, text);
    }
    pub fn no_wait(mut self) -> Self {
        self.wait_ready = false;
        self
    }
    pub fn start(self) -> Server {
        let out = std::fs::File::create(self.dir.join("output.log")).unwrap();
        let mut cmd = Command::new(&self.binary);
        cmd.current_dir(&self.dir);
        if !self.address_in_dotenv {
            cmd.args(["--host", "127.0.0.1", "--port", &self.port.to_string()]);
        }
        cmd.args(&self.args)
            .env_remove("WORKERS")
            .env_remove("PORT")
            .env_remove("HOST")
            .env("WORKER_THREADS", "1")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap();
        let server = Server {
            child,
            port: self.port,
            dir: self.dir,
        };
        if self.wait_ready {
            server.wait_healthy(Duration::from_secs(10));
            // Every worker, not just the first one that answered.
            assert!(
                server.wait_output("all workers ready", Duration::from_secs(10)),
                "workers not ready:\n{}",
                server.output()
            );
        }
        server
    }
}

impl Server {
    pub fn builder(name: &str) -> Builder {
        Builder {
            args: Vec::new(),
            env: Vec::new(),
            dir: temp_dir(name),
            port: free_port(),
            wait_ready: true,
            address_in_dotenv: false,
            binary: PathBuf::from(BIN),
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn wait_healthy(&self, within: Duration) {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if get(self.port, "/health").is_ok_and(|r| r.status == 200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "server not healthy in {within:?}; output:\n{}",
            self.output()
        );
    }

    pub fn get(&self, path: &str) -> Response {
        get(self.port, path).unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", self.output()))
    }

    pub fn output(&self) -> String {
        std::fs::read_to_string(self.dir.join("output.log")).unwrap_or_default()
    }

    pub fn log_file(&self) -> String {
        std::fs::read_to_string(self.dir.join("lightrag.log")).unwrap_or_default()
    }

    pub fn signal(&self, sig: i32) {
        assert_eq!(unsafe { libc::kill(self.pid(), sig) }, 0, "kill failed");
    }

    /// Direct children of the master.
    pub fn workers(&self) -> Vec<i32> {
        children(self.pid())
    }

    /// Waits until the master has exactly `n` children; returns them.
    pub fn wait_workers(&self, n: usize, within: Duration) -> Vec<i32> {
        let deadline = Instant::now() + within;
        loop {
            let w = self.workers();
            if w.len() == n {
                return w;
            }
            if Instant::now() > deadline {
                panic!("expected {n} workers, have {w:?}\n{}", self.output());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn wait_output(&self, needle: &str, within: Duration) -> bool {
        wait_for_text(|| self.output(), needle, within)
    }

    /// Waits until `lightrag.log` holds `needle`: workers write their access lines in
    /// batches, so a line can reach the file after its response.
    pub fn wait_log_file(&self, needle: &str, within: Duration) -> bool {
        wait_for_text(|| self.log_file(), needle, within)
    }

    /// Pid of the worker that answers `/debug/pid`.
    pub fn answering_pid(&self) -> i32 {
        self.get("/debug/pid").json()["pid"].as_i64().unwrap() as i32
    }

    /// Waits until at least `n` requests besides this probe are being answered, across
    /// all workers (`lightrag_http_requests_in_flight` in `/metrics`): the proof that
    /// requests sent from other threads have arrived.
    pub fn wait_in_flight(&self, n: u64, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let metrics = self.get("/metrics").body;
            let in_flight = metrics
                .lines()
                .find_map(|l| {
                    l.strip_prefix("lightrag_http_requests_in_flight ")?
                        .parse::<u64>()
                        .ok()
                })
                .unwrap_or_else(|| panic!("no in-flight gauge in\n{metrics}"));
            // The probe itself is in flight too.
            if in_flight > n {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{in_flight} requests in flight, expected {n} more"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let workers = self.workers();
        let _ = self.child.kill();
        let _ = self.child.wait();
        for w in workers {
            unsafe { libc::kill(w, libc::SIGKILL) };
        }
    }
}

/// Polls `GET /health` on `port` until it answers 200 or `within` passes.
pub fn healthy_within(port: u16, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if get(port, "/health").is_ok_and(|r| r.status == 200) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

pub fn children(pid: i32) -> Vec<i32> {
    let path = format!("/proc/{pid}/task/{pid}/children");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

pub fn is_alive(pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // A zombie (state Z) is dead for our purposes.
    !stat.is_empty() && !stat.split(") ").nth(1).unwrap_or("").starts_with('Z')
}

pub fn get(port: u16, path: &str) -> std::io::Result<Response> {
    request(
        port,
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// Sends raw bytes on a new connection and reads the response until the server closes.
pub fn request(port: u16, raw: &[u8]) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    stream.write_all(raw)?;
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf)?;
    let mut response = parse(&buf).ok_or_else(|| {
        std::io::Error::other(format!("bad response {:?}", String::from_utf8_lossy(&buf)))
    })?;
    if response.header("transfer-encoding") == Some("chunked") {
        response.body = dechunk(&response.body);
    }
    Ok(response)
}

/// The payload of a chunked body.
pub fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || after.len() < n + 2 {
            break;
        }
        out.push_str(&after[..n]);
        rest = &after[n + 2..];
    }
    out
}

/// A JSON request (any method) on a new connection.
pub fn call(server: &Server, method: &str, path: &str, body: &serde_json::Value) -> Response {
    send(
        server.port,
        method,
        path,
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
}

/// The lines of an NDJSON body.
pub fn ndjson(r: &Response) -> Vec<serde_json::Value> {
    r.body
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Whether the graph has an entity of that name.
pub fn entity_exists(server: &Server, name: &str) -> bool {
    server
        .get(&format!(
            "/graph/entity/exists?name={}",
            name.replace(' ', "%20")
        ))
        .json()["exists"]
        == true
}

/// Waits until all `count` documents of `track_id` are processed; returns the track
/// status.
pub fn processed(
    server: &Server,
    track_id: &str,
    count: usize,
    within: Duration,
) -> serde_json::Value {
    let deadline = Instant::now() + within;
    loop {
        let track = server
            .get(&format!("/documents/track_status/{track_id}"))
            .json();
        if track["status_summary"] == serde_json::json!({ "processed": count }) {
            pipeline_idle(server, None, Duration::from_secs(10));
            return track;
        }
        assert!(Instant::now() < deadline, "{}", track["status_summary"]);
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until the workspace's pipeline run has ended. A run still holds the pipeline
/// for a moment after its last document is recorded, and deletions, edits and clears
/// answer `busy` meanwhile, as LightRAG's do.
pub fn pipeline_idle(server: &Server, workspace: Option<&str>, within: Duration) {
    let deadline = Instant::now() + within;
    let headers: Vec<(&str, &str)> = workspace
        .map(|w| ("LIGHTRAG-WORKSPACE", w))
        .into_iter()
        .collect();
    loop {
        let status = send(
            server.port,
            "GET",
            "/documents/pipeline_status",
            &headers,
            b"",
        )
        .json();
        if status["busy"] == false {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the pipeline is still busy: {status}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Posts `(source, text)` documents to `/documents/texts` and waits until they are
/// all processed.
pub fn index_texts(server: &Server, documents: &[(&str, &str)]) {
    let (sources, texts): (Vec<&str>, Vec<&str>) = documents.iter().copied().unzip();
    let r = call(
        server,
        "POST",
        "/documents/texts",
        &serde_json::json!({"texts": texts, "file_sources": sources}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let track_id = r.json()["track_id"].as_str().unwrap().to_owned();
    processed(server, &track_id, documents.len(), Duration::from_secs(30));
}

/// Waits until `count` documents of `track_id` are processed or failed; returns them.
pub fn settled(
    server: &Server,
    track_id: &str,
    count: usize,
    within: Duration,
) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + within;
    loop {
        let track = server
            .get(&format!("/documents/track_status/{track_id}"))
            .json();
        let docs = track["documents"].as_array().cloned().unwrap_or_default();
        if docs.len() == count
            && docs
                .iter()
                .all(|d| d["status"] == "processed" || d["status"] == "failed")
        {
            return docs;
        }
        assert!(Instant::now() < deadline, "{track}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn parse(buf: &[u8]) -> Option<Response> {
    let text = String::from_utf8_lossy(buf);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Some(Response {
        status,
        headers,
        body: body.to_owned(),
    })
}

/// Reads exactly one response from a kept-alive connection (content-length bodies).
pub fn read_one(stream: &mut TcpStream) -> std::io::Result<Response> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "closed",
            ));
        }
        buf.push(byte[0]);
    }
    let mut response = parse(&buf).unwrap();
    let len: usize = response
        .header("content-length")
        .unwrap_or("0")
        .parse()
        .unwrap();
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body)?;
    response.body = String::from_utf8_lossy(&body).into_owned();
    Ok(response)
}

pub fn write_file(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// Sends one request with headers and a body on a new connection.
pub fn send(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut raw = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        raw.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        raw.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    raw.push_str("\r\n");
    let mut bytes = raw.into_bytes();
    bytes.extend_from_slice(body);
    request(port, &bytes).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// One JSON request (none when `body` is null) in `workspace` (the server's own
/// when `None`), through the `LIGHTRAG-WORKSPACE` header.
pub fn call_in_workspace(
    server: &Server,
    method: &str,
    path: &str,
    workspace: Option<&str>,
    body: &serde_json::Value,
) -> Response {
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(ws) = workspace {
        headers.push(("LIGHTRAG-WORKSPACE", ws));
    }
    let body = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    send(server.port, method, path, &headers, &body)
}

/// Runs a python3 sqlite3 script against the server's store as one transaction (an
/// independent writer that lands many documents at once, faster than the routes would).
pub fn sqlite(dir: &std::path::Path, statements: &str) {
    let script = format!(
        "import sqlite3, sys; c = sqlite3.connect('{}', timeout=10); c.executescript('BEGIN;' + sys.stdin.read() + 'COMMIT;')",
        dir.join("rag_storage/lightrag.sqlite3").display()
    );
    let mut child = Command::new("python3")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(statements.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

/// `POST /login` with a form.
pub fn login(port: u16, form: &str) -> Response {
    send(
        port,
        "POST",
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    )
}

/// Runs GET requests in a loop on fresh connections until finished; counts successes
/// and records every failure.
pub struct Load {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ok: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    failures: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    pub fn start(port: u16, clients: usize, path: &'static str) -> Load {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let ok = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let failures = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let threads = (0..clients)
            .map(|_| {
                let (stop, ok, failures) = (stop.clone(), ok.clone(), failures.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        match get(port, path) {
                            Ok(r) if r.status == 200 => {
                                ok.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(r) => failures
                                .lock()
                                .unwrap()
                                .push(format!("status {}", r.status)),
                            Err(e) => failures.lock().unwrap().push(e.to_string()),
                        }
                        std::thread::sleep(Duration::from_millis(2));
                    }
                })
            })
            .collect();
        Load {
            stop,
            ok,
            failures,
            threads,
        }
    }

    /// Stops the clients; returns the successes and the failures.
    pub fn finish(self) -> (usize, Vec<String>) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in self.threads {
            t.join().unwrap();
        }
        let failures = self.failures.lock().unwrap().clone();
        (self.ok.load(std::sync::atomic::Ordering::Relaxed), failures)
    }
}

/// One kept-alive connection to each of `n` different workers (found through the
/// `testing` feature's `/debug/pid`), to ask every worker the same question.
pub fn connections_to_each_worker(server: &Server, n: usize) -> Vec<TcpStream> {
    let mut found: Vec<(i64, TcpStream)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while found.len() < n {
        assert!(
            Instant::now() < deadline,
            "only {} workers answered",
            found.len()
        );
        let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        stream
            .write_all(b"GET /debug/pid HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let pid = read_one(&mut stream).unwrap().json()["pid"]
            .as_i64()
            .unwrap();
        if found.iter().all(|(p, _)| *p != pid) {
            found.push((pid, stream));
        }
    }
    found.into_iter().map(|(_, s)| s).collect()
}

/// A GET on a kept-alive connection.
pub fn get_on(stream: &mut TcpStream, path: &str) -> Response {
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .unwrap();
    read_one(stream).unwrap()
}

/// Uploads `content` as `filename` through `/documents/upload` (multipart field `file`),
/// expecting the 200 that queues it.
pub fn upload_file(server: &Server, filename: &str, content: &[u8]) -> Response {
    const BOUNDARY: &str = "----lightragtestboundary";
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let r = send(
        server.port,
        "POST",
        "/documents/upload",
        &[("Content-Type", &content_type)],
        &body,
    );
    assert_eq!(r.status, 200, "{filename}: {}", r.body);
    r
}

/// Polls `read` until its text contains `needle` or `within` has passed.
fn wait_for_text(read: impl Fn() -> String, needle: &str, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if read().contains(needle) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}
