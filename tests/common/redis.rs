//! A throwaway `redis-server` for the black-box tests: a random free loopback port, its
//! own temporary directory, stopped (and removed) on drop. Tests skip with a message
//! when Debian's `redis-server` is not installed. Keys are read back with `redis-cli`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Redis {
    child: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
    extra: Vec<String>,
    /// The self-signed certificate of a TLS-only Redis.
    pub cert: Option<PathBuf>,
}

impl Redis {
    /// Append-only persistence, no snapshots; `extra` are more `redis-server` options.
    /// None (after printing why) when redis-server is not installed.
    pub fn start(extra: &[&str]) -> Option<Redis> {
        let mut redis = Redis::new(extra)?;
        redis.restart();
        Some(redis)
    }

    fn new(extra: &[&str]) -> Option<Redis> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!("SKIPPED: redis-server is not installed (apt-get install -y redis-server)");
            return None;
        }
        Some(Redis {
            child: None,
            port: super::free_port(),
            dir: super::temp_dir("redis"),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            cert: None,
        })
    }

    /// A Redis that speaks only TLS, with a self-signed certificate for 127.0.0.1 made by
    /// `openssl` (None when either is missing).
    pub fn start_tls() -> Option<Redis> {
        let mut redis = Redis::new(&[])?;
        let (cert, key) = (redis.dir.join("cert.pem"), redis.dir.join("key.pem"));
        let made = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args([
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
                // A leaf certificate: webpki refuses a CA one as the server's own.
                "-addext",
                "basicConstraints=critical,CA:FALSE",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output();
        if !made.is_ok_and(|o| o.status.success()) {
            eprintln!("SKIPPED: openssl cannot make a test certificate");
            return None;
        }
        let (cert_arg, key_arg) = (cert.display().to_string(), key.display().to_string());
        redis.extra = [
            "--tls-cert-file",
            &cert_arg,
            "--tls-key-file",
            &key_arg,
            "--tls-ca-cert-file",
            &cert_arg,
            "--tls-auth-clients",
            "no",
        ]
        .map(str::to_owned)
        .to_vec();
        redis.cert = Some(cert);
        redis.restart();
        Some(redis)
    }

    pub fn uri(&self) -> String {
        let scheme = if self.cert.is_some() {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// `--port` (and `--tls-port` under TLS) for redis-server and redis-cli.
    fn port_args(&self) -> Vec<String> {
        match &self.cert {
            None => vec!["--port".into(), self.port.to_string()],
            Some(_) => vec![
                "--port".into(),
                "0".into(),
                "--tls-port".into(),
                self.port.to_string(),
            ],
        }
    }

    /// Stops Redis the way an operator does (SIGTERM: the append-only file is flushed).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and directory.
    pub fn restart(&mut self) {
        self.stop();
        let child = Command::new("redis-server")
            .args(self.port_args())
            .args(["--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--daemonize",
                "no",
                "--dir",
            ])
            .arg(&self.dir)
            .args(&self.extra)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.cli(&["PING"]) != "PONG" {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `redis-cli` output, trimmed.
    pub fn cli(&self, args: &[&str]) -> String {
        let mut cli = Command::new("redis-cli");
        cli.args(["-h", "127.0.0.1", "-p", &self.port.to_string()]);
        if let Some(cert) = &self.cert {
            cli.arg("--tls").arg("--cacert").arg(cert);
        }
        let out = cli.args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Keys matching `pattern`, sorted.
    pub fn keys(&self, pattern: &str) -> Vec<String> {
        let mut keys: Vec<String> = self
            .cli(&["--scan", "--pattern", pattern])
            .lines()
            .map(str::to_owned)
            .filter(|k| !k.is_empty())
            .collect();
        keys.sort();
        keys
    }

    pub fn json(&self, key: &str) -> serde_json::Value {
        let text = self.cli(&["GET", key]);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{key}: {e}: {text:?}"))
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
