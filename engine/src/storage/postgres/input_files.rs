//! Accepted files shared by every node when document status is in PostgreSQL: a row
//! of ours per workspace and canonical file name holding the file's bytes, written
//! before the file's pending record (so before the upload's 200) and forgotten once the
//! file is parsed or its document deleted. The node that accepted a file also keeps it
//! in its own input directory, archived there as with the embedded store when that
//! node is the one that parses it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::PostgresConfig;
use super::pool::Pool;
use crate::documents::input_files;
use crate::documents::input_store::{InputFiles, LocalInputs};
use crate::storage::Result;

const PUT: &str = "INSERT INTO lightrag_master_input_files (workspace, name, content) \
     VALUES ($1, $2, $3) ON CONFLICT (workspace, name) DO UPDATE SET content = EXCLUDED.content";
const GET: &str =
    "SELECT content FROM lightrag_master_input_files WHERE workspace = $1 AND name = $2";
const FORGET: &str = "DELETE FROM lightrag_master_input_files WHERE workspace = $1 AND name = $2";

pub struct PgInputs {
    pool: Arc<Pool>,
    workspace: String,
    local: LocalInputs,
}

/// A file's row key: its canonical name, its document's identity (deletion knows
/// only that one).
fn key(name: &str) -> String {
    input_files::canonical_name(name).unwrap_or_else(|_| name.to_owned())
}

impl PgInputs {
    /// The files of LightRAG workspace `workspace`, whose input directory is `dir`.
    pub fn open(config: &PostgresConfig, workspace: &str, dir: &Path) -> Result<PgInputs> {
        Ok(PgInputs {
            pool: Pool::shared(config)?,
            workspace: super::coordination::scope(config, workspace),
            local: LocalInputs::new(dir),
        })
    }

    fn forget_row(&self, name: &str) -> Result<()> {
        let key = key(name);
        self.pool
            .run(|c| c.execute(FORGET, &[&self.workspace, &key]).map(drop))
    }
}

impl InputFiles for PgInputs {
    fn publish(&self, name: &str) -> Result<()> {
        let content = std::fs::read(self.local.dir.join(name))?;
        let key = key(name);
        self.pool
            .run(|c| c.execute(PUT, &[&self.workspace, &key, &content]).map(drop))?;
        tracing::info!(workspace = %self.workspace, file = name, bytes = content.len(), "input file shared");
        Ok(())
    }

    /// The shared copy, else this node's own (a file accepted before document status
    /// moved here).
    fn read(&self, name: &str) -> Result<std::result::Result<Vec<u8>, String>> {
        let key = key(name);
        let row = self
            .pool
            .run(|c| c.query_opt(GET, &[&self.workspace, &key]))?;
        match row {
            Some(row) => Ok(Ok(row.get(0))),
            None => self.local.read(name),
        }
    }

    fn archive(&self, name: &str) -> std::io::Result<Option<PathBuf>> {
        self.forget_row(name).map_err(std::io::Error::other)?;
        if self.local.has(name) {
            self.local.archive(name)
        } else {
            Ok(None)
        }
    }

    fn remove(&self, name: &str) {
        self.forget(name);
        self.local.remove(name);
    }

    fn forget(&self, name: &str) {
        if let Err(error) = self.forget_row(name) {
            tracing::warn!(workspace = %self.workspace, file = name, %error, "shared input file not deleted");
        }
    }
}
