//! Which embedding made a workspace's vectors, remembered beside them. Vectors of two
//! models cannot be compared, and LightRAG users lose data to a silently changed
//! EMBEDDING_MODEL or EMBEDDING_DIM; so opening a workspace with another embedding than
//! the one that made its vectors is refused, naming both, until the workspace is
//! re-embedded on purpose ([`reembed`], run by `lightrag-master reembed`).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Batching, Embedder, embed_records};
use crate::llm::ModelError;
use crate::storage::{KvNamespace, Storage, StorageError, VectorNamespace};

/// An embedding, as the settings name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbeddingIdentity {
    pub binding: String,
    pub model: String,
    pub dim: usize,
}

impl fmt::Display for EmbeddingIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} ({} dimensions)",
            self.binding, self.model, self.dim
        )
    }
}

const KEY: &str = "vectors";

fn stored(storage: &dyn Storage) -> Result<Option<EmbeddingIdentity>, StorageError> {
    match storage.kv_get(KvNamespace::EmbeddingIdentity, KEY)? {
        Some(value) => Ok(Some(serde_json::from_value(value)?)),
        None => Ok(None),
    }
}

fn record(storage: &dyn Storage, identity: &EmbeddingIdentity) -> Result<(), StorageError> {
    storage.kv_upsert(
        KvNamespace::EmbeddingIdentity,
        &[(KEY.to_owned(), serde_json::to_value(identity)?)],
    )
}

fn refused(workspace: &str, made_by: &str, configured: &EmbeddingIdentity) -> StorageError {
    StorageError::EmbeddingChanged(format!(
        "workspace {workspace:?} holds vectors made by {made_by}, but the configured \
         embedding is {configured}: restore the previous EMBEDDING_BINDING, \
         EMBEDDING_MODEL and EMBEDDING_DIM, or re-embed the workspace with \
         `lightrag-master reembed` (the server stopped)"
    ))
}

/// Checks that `configured` made the workspace's vectors. A workspace without vectors
/// takes the configured embedding; one from before identities were recorded is taken
/// as made by it when its vectors have its dimension.
pub fn ensure(
    storage: &dyn Storage,
    workspace: &str,
    configured: &EmbeddingIdentity,
) -> Result<(), StorageError> {
    let mut dims = Vec::new();
    for ns in VectorNamespace::ALL {
        dims.extend(storage.vectors_dim(ns)?);
    }
    match stored(storage)? {
        Some(identity) if identity == *configured => return Ok(()),
        Some(identity) if !dims.is_empty() => {
            return Err(refused(workspace, &identity.to_string(), configured));
        }
        None => {
            if let Some(dim) = dims.iter().find(|d| **d != configured.dim) {
                let made_by = format!("an earlier embedding ({dim} dimensions)");
                return Err(refused(workspace, &made_by, configured));
            }
        }
        Some(_) => {}
    }
    record(storage, configured)
}

/// What [`reembed`] rewrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reembedded {
    pub chunks: usize,
    pub entities: usize,
    pub relationships: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ReembedError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Model(#[from] ModelError),
}

impl crate::error::Kind for ReembedError {
    fn kind(&self) -> crate::error::ErrorKind {
        match self {
            ReembedError::Storage(e) => e.kind(),
            ReembedError::Model(e) => e.kind(),
        }
    }
}

/// Embeds every chunk, entity and relation of the workspace again (from the text each
/// vector was made from) with `embedder`, replaces each namespace's vectors in one
/// step, then records `configured`. Interrupted, it can simply be run again: until the
/// end the old identity stays recorded.
pub async fn reembed(
    storage: &dyn Storage,
    embedder: &dyn Embedder,
    batching: Batching,
    configured: &EmbeddingIdentity,
) -> Result<Reembedded, ReembedError> {
    let mut counts = Reembedded::default();
    for ns in VectorNamespace::ALL {
        let mut records = storage.vectors_all(ns)?;
        embed_records(embedder, &mut records, batching).await?;
        storage.vectors_replace(ns, &records)?;
        let count = match ns {
            VectorNamespace::Chunks => &mut counts.chunks,
            VectorNamespace::Entities => &mut counts.entities,
            VectorNamespace::Relationships => &mut counts.relationships,
        };
        *count = records.len();
    }
    record(storage, configured)?;
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedding::builtin::HashedNgrams;
    use crate::storage::sqlite::SqliteStorage;
    use crate::storage::{VectorRecord, VectorStorage};

    fn identity(binding: &str, dim: usize) -> EmbeddingIdentity {
        EmbeddingIdentity {
            binding: binding.into(),
            model: "m".into(),
            dim,
        }
    }

    #[test]
    fn a_changed_embedding_is_refused_until_the_workspace_is_reembedded() {
        let dir = std::env::temp_dir().join(format!("lrm-identity-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let storage = SqliteStorage::open(&dir, "w").unwrap();
        let old = identity("builtin", 8);
        // Empty: any embedding is taken, and the latest is what counts.
        ensure(&storage, "w", &identity("other", 4)).unwrap();
        ensure(&storage, "w", &old).unwrap();
        let record = |id: &str, text: &str| VectorRecord {
            id: id.into(),
            vector: HashedNgrams::new(8).embed(text),
            meta: serde_json::json!({"content": text}),
        };
        storage
            .vectors_upsert(VectorNamespace::Chunks, &[record("c1", "alpha beta")])
            .unwrap();
        storage
            .vectors_upsert(VectorNamespace::Entities, &[record("e1", "Alpha\nfirst")])
            .unwrap();
        ensure(&storage, "w", &old).unwrap();
        let new = identity("local", 16);
        let error = ensure(&storage, "w", &new).unwrap_err().to_string();
        assert!(error.contains("builtin m (8 dimensions)"), "{error}");
        assert!(error.contains("local m (16 dimensions)"), "{error}");
        let embedder = HashedNgrams::new(16);
        let batching = Batching {
            batch_size: 1,
            concurrency: 1,
        };
        let counts = crate::llm::wait(reembed(&storage, &embedder, batching, &new)).unwrap();
        assert_eq!(
            counts,
            Reembedded {
                chunks: 1,
                entities: 1,
                relationships: 0
            }
        );
        ensure(&storage, "w", &new).unwrap();
        assert!(ensure(&storage, "w", &old).is_err());
        let chunks = storage.vectors_all(VectorNamespace::Chunks).unwrap();
        assert_eq!(chunks[0].vector, embedder.embed("alpha beta"));
        assert_eq!(chunks[0].meta["content"], "alpha beta");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn vectors_from_before_identities_are_checked_by_dimension() {
        let dir = std::env::temp_dir().join(format!("lrm-identity-old-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let storage = SqliteStorage::open(&dir, "").unwrap();
        storage
            .vectors_upsert(
                VectorNamespace::Relationships,
                &[VectorRecord {
                    id: "r".into(),
                    vector: vec![1.0; 8],
                    meta: serde_json::json!({"content": "x"}),
                }],
            )
            .unwrap();
        let error = ensure(&storage, "", &identity("local", 4)).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("an earlier embedding (8 dimensions)")
        );
        ensure(&storage, "", &identity("builtin", 8)).unwrap();
        assert_eq!(stored(&storage).unwrap(), Some(identity("builtin", 8)));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
