//! The scripted model providers (`tests/fixtures/fake_provider.py`, and
//! `binding_provider.py` for the other bindings' wire formats) as a child process:
//! started on a free loopback port, killed on drop, its request log readable.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

pub struct FakeProvider {
    child: Child,
    pub port: u16,
    log: PathBuf,
}

impl FakeProvider {
    pub fn start(name: &str, script: serde_json::Value) -> FakeProvider {
        Self::start_fixture("fake_provider.py", name, script)
    }

    /// Starts the scripted provider `fixture` (a file of tests/fixtures).
    pub fn start_fixture(fixture: &str, name: &str, script: serde_json::Value) -> FakeProvider {
        let dir = super::temp_dir(name);
        let script_path = dir.join("script.json");
        std::fs::write(&script_path, script.to_string()).unwrap();
        let log = dir.join("requests.jsonl");
        let mut child = Command::new("python3")
            .arg(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/fixtures")
                    .join(fixture),
            )
            .arg(&script_path)
            .arg(&log)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        FakeProvider {
            child,
            port: line.trim().parse().unwrap(),
            log,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn requests(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
