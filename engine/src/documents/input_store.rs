//! Where an accepted file waits for the pipeline, which may run on another node.
//!
//! An upload or a scanned file lands in the accepting node's own input directory. With
//! the embedded store that is the only node, and [`LocalInputs`] reads it there. When
//! document status is shared, another node's pipeline may parse it, so the file is
//! published (PostgreSQL: a table of ours) before its pending record exists, and read
//! from there. Both archive what is still on local disk once parsed, as LightRAG does.

use std::path::{Path, PathBuf};

use super::input_files;
use crate::storage::Result;

/// The files of one workspace's input directory, as the pipeline reaches them.
pub trait InputFiles: Send + Sync {
    /// `name` is complete and synced in the input directory and about to be recorded
    /// as pending: from now on every node can read it.
    fn publish(&self, name: &str) -> Result<()>;
    /// The bytes of `name`, or why the document cannot have them; an error when the
    /// store that has them cannot answer now (the document then waits).
    fn read(&self, name: &str) -> Result<std::result::Result<Vec<u8>, String>>;
    /// `name` was parsed and its text stored: archived where it is on local disk
    /// (`Some` with the new path), forgotten wherever else it was published.
    fn archive(&self, name: &str) -> std::io::Result<Option<PathBuf>>;
    /// Its document was deleted with its file: every copy of `name` goes, archived or
    /// not.
    fn remove(&self, name: &str);
    /// Its document was deleted, its file kept: only what was published for other
    /// nodes goes (the local file stays, as LightRAG leaves it).
    fn forget(&self, name: &str);
}

/// The input directory of one node.
pub struct LocalInputs {
    pub dir: PathBuf,
}

impl LocalInputs {
    pub fn new(dir: &Path) -> LocalInputs {
        LocalInputs {
            dir: dir.to_owned(),
        }
    }

    /// Whether `name` is on this node's disk.
    pub fn has(&self, name: &str) -> bool {
        self.dir.join(name).is_file()
    }
}

impl InputFiles for LocalInputs {
    fn publish(&self, _name: &str) -> Result<()> {
        Ok(())
    }

    fn read(&self, name: &str) -> Result<std::result::Result<Vec<u8>, String>> {
        Ok(std::fs::read(self.dir.join(name)).map_err(|e| format!("Cannot read {name}: {e}")))
    }

    fn archive(&self, name: &str) -> std::io::Result<Option<PathBuf>> {
        input_files::archive(&self.dir, name).map(Some)
    }

    fn remove(&self, name: &str) {
        for path in [
            self.dir.join(name),
            self.dir.join(input_files::PARSED_DIR).join(name),
        ] {
            match std::fs::remove_file(&path) {
                Ok(()) => tracing::info!(file = %path.display(), "source file deleted"),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => {
                    tracing::warn!(file = %path.display(), %error, "source file not deleted")
                }
            }
        }
    }

    fn forget(&self, _name: &str) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_file_is_read_archived_and_removed() {
        let dir = std::env::temp_dir().join(format!("lrm-inputs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let inputs = LocalInputs::new(&dir);
        std::fs::write(dir.join("a.txt"), b"hello").unwrap();
        inputs.publish("a.txt").unwrap();
        assert_eq!(inputs.read("a.txt").unwrap().unwrap(), b"hello");
        let missing = inputs.read("b.txt").unwrap().unwrap_err();
        assert!(missing.starts_with("Cannot read b.txt"), "{missing}");
        let to = inputs.archive("a.txt").unwrap().unwrap();
        assert_eq!(to, dir.join(input_files::PARSED_DIR).join("a.txt"));
        assert!(!inputs.has("a.txt"));
        inputs.remove("a.txt");
        assert!(!to.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
