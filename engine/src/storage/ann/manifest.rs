//! Which segments make up one namespace's index: `<namespace>.manifest`, a small JSON
//! file that a builder replaces (temporary file, fsync, rename, fsync of the directory)
//! each time it publishes. Segments are immutable and never renamed; a publish writes
//! only the new ones (each under a name used once: epoch and a counter) and lists, per
//! kept segment, the nodes that died since it was written, so an append costs the new
//! vectors, not a copy of the old ones.
//!
//! The manifest is the one file a reader watches: a new inode means a new index. Files
//! no manifest lists any more are deleted by the next publish (a reader that mapped one
//! keeps its pages; one that had not opened it yet reads the manifest again).

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{AnnError, Result};

pub const VERSION: u32 = 1;

/// The published index of one namespace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    /// The store epoch the segments describe (see `VectorChanges::epoch`).
    pub epoch: u64,
    /// The last store change the segments include; later ones are the delta.
    pub seq: u64,
    /// The number the next new segment is named with.
    pub next: u64,
    /// Oldest first: an id is live in at most one of them.
    pub segments: Vec<Entry>,
}

/// One segment and the nodes that died after it was written (sorted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub file: String,
    pub dead: Vec<u32>,
}

/// A file's device, inode and modification time: another one was renamed over the
/// name when it differs (the time too, as a freed inode number is soon used again).
pub type Identity = (u64, u64, i64, i64);

fn identity_of(m: &std::fs::Metadata) -> Identity {
    (m.dev(), m.ino(), m.mtime(), m.mtime_nsec())
}

pub fn path(dir: &Path, namespace: &str) -> PathBuf {
    dir.join(format!("{namespace}.manifest"))
}

/// The name of segment `number` of `namespace` in `epoch`.
pub fn segment_name(namespace: &str, epoch: u64, number: u64) -> String {
    format!("{namespace}.{epoch}.{number}.hnsw")
}

pub fn identity(path: &Path) -> Option<Identity> {
    std::fs::metadata(path).ok().map(|m| identity_of(&m))
}

/// The namespace's manifest and its file's identity; `None` when there is none.
pub fn read(dir: &Path, namespace: &str) -> Result<Option<(Manifest, Identity)>> {
    let path = path(dir, namespace);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let meta = file.metadata()?;
    let manifest: Manifest = serde_json::from_reader(std::io::BufReader::new(file))
        .map_err(|e| AnnError::Invalid(format!("{}: {e}", path.display())))?;
    if manifest.version != VERSION {
        return Err(AnnError::Invalid(format!(
            "{}: version {}",
            path.display(),
            manifest.version
        )));
    }
    Ok(Some((manifest, identity_of(&meta))))
}

/// Replaces the namespace's manifest with `manifest` (its segments already synced),
/// then deletes the namespace's files it does not list.
pub fn publish(dir: &Path, namespace: &str, manifest: &Manifest) -> Result<()> {
    let path = path(dir, namespace);
    let temporary = path.with_extension("manifest.tmp");
    let mut out = File::create(&temporary)?;
    let text = serde_json::to_vec(manifest)
        .map_err(|e| AnnError::Invalid(format!("manifest not written: {e}")))?;
    out.write_all(&text)?;
    out.sync_all()?;
    // The segments' directory entries must be durable before a manifest names them.
    File::open(dir)?.sync_all()?;
    std::fs::rename(&temporary, &path)?;
    File::open(dir)?.sync_all()?;
    remove_unlisted(dir, namespace, manifest)
}

/// Deletes the namespace's segments (and temporary files) `manifest` does not list.
fn remove_unlisted(dir: &Path, namespace: &str, manifest: &Manifest) -> Result<()> {
    let keep = |name: &str| {
        name == format!("{namespace}.manifest")
            || name == format!("{namespace}.lock")
            || manifest.segments.iter().any(|s| s.file == name)
    };
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with(&format!("{namespace}.")) && !keep(name) {
            match std::fs::remove_file(dir.join(name)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        }
    }
    Ok(())
}

/// Deletes the namespace's whole index (it was emptied): manifest first, so a reader
/// never finds a manifest whose segments are gone for good.
pub fn remove_all(dir: &Path, namespace: &str) -> Result<()> {
    match std::fs::remove_file(path(dir, namespace)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }
    match remove_unlisted(dir, namespace, &Manifest::default()) {
        Err(AnnError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_publish_replaces_the_manifest_and_deletes_what_it_no_longer_lists() {
        let dir = crate::storage::tests::temp("manifest");
        std::fs::create_dir_all(&dir).unwrap();
        assert!(read(&dir, "chunks").unwrap().is_none());
        for name in [
            "chunks.0.0.hnsw",
            "chunks.0.1.hnsw",
            "chunks.hnsw",
            "entities.0.0.hnsw",
        ] {
            std::fs::write(dir.join(name), b"x").unwrap();
        }
        let manifest = Manifest {
            version: VERSION,
            epoch: 0,
            seq: 42,
            next: 2,
            segments: vec![Entry {
                file: "chunks.0.1.hnsw".into(),
                dead: vec![3, 9],
            }],
        };
        publish(&dir, "chunks", &manifest).unwrap();
        let (read_back, first) = read(&dir, "chunks").unwrap().unwrap();
        assert_eq!(read_back, manifest);
        assert!(!dir.join("chunks.0.0.hnsw").exists());
        assert!(
            !dir.join("chunks.hnsw").exists(),
            "the single-file layout goes"
        );
        assert!(dir.join("chunks.0.1.hnsw").exists());
        assert!(
            dir.join("entities.0.0.hnsw").exists(),
            "other namespaces stay"
        );
        publish(&dir, "chunks", &manifest).unwrap();
        assert_ne!(read(&dir, "chunks").unwrap().unwrap().1, first);
        remove_all(&dir, "chunks").unwrap();
        assert!(read(&dir, "chunks").unwrap().is_none());
        assert!(!dir.join("chunks.0.1.hnsw").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
