//! Exact cosine search over an in-memory copy of a vector namespace. Each worker keeps
//! its own copy and reloads it only when the namespace's generation counter has moved
//! since it loaded, so a write on any worker is seen everywhere at the next query.

use std::collections::HashMap;
use std::sync::RwLock;

use serde_json::Value;

use super::{Generations, Result, StorageError, VectorNamespace, VectorRecord, VectorStorage};

/// A search result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: String,
    pub score: f32,
    pub meta: Value,
}

#[derive(Default)]
struct Snapshot {
    generation: Option<u64>,
    dim: usize,
    ids: Vec<String>,
    metas: Vec<Value>,
    /// Unit-length rows, `dim` floats each.
    rows: Vec<f32>,
    /// Row of each id.
    positions: HashMap<String, usize>,
}

pub struct VectorIndex {
    namespace: VectorNamespace,
    snapshot: RwLock<Snapshot>,
}

/// The dot product, in eight independent lanes so the compiler can use SIMD (a single
/// running sum is a dependency chain it may not reorder).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a8
        .remainder()
        .iter()
        .zip(b8.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a8.zip(b8) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

fn normalized(vector: &[f32]) -> Vec<f32> {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm == 0.0 {
        return vector.to_vec();
    }
    vector.iter().map(|x| x / norm).collect()
}

impl VectorIndex {
    pub fn new(namespace: VectorNamespace) -> VectorIndex {
        VectorIndex {
            namespace,
            snapshot: RwLock::new(Snapshot::default()),
        }
    }

    /// Writes through to storage, then tells every process to reload.
    pub fn upsert(
        &self,
        storage: &dyn VectorStorage,
        generations: &dyn Generations,
        items: &[VectorRecord],
    ) -> Result<()> {
        storage.vectors_upsert(self.namespace, items)?;
        generations.bump(self.namespace);
        Ok(())
    }

    /// Writes the vectors of several indexes in one storage call, then tells every
    /// process to reload each.
    pub fn upsert_many(
        storage: &dyn VectorStorage,
        generations: &dyn Generations,
        batches: &[(&VectorIndex, &[VectorRecord])],
    ) -> Result<()> {
        let items: Vec<(VectorNamespace, &[VectorRecord])> = batches
            .iter()
            .filter(|(_, records)| !records.is_empty())
            .map(|(index, records)| (index.namespace, *records))
            .collect();
        if items.is_empty() {
            return Ok(());
        }
        storage.vectors_upsert_many(&items)?;
        for (namespace, _) in items {
            generations.bump(namespace);
        }
        Ok(())
    }

    pub fn delete(
        &self,
        storage: &dyn VectorStorage,
        generations: &dyn Generations,
        ids: &[String],
    ) -> Result<()> {
        storage.vectors_delete(self.namespace, ids)?;
        generations.bump(self.namespace);
        Ok(())
    }

    fn refresh(&self, storage: &dyn VectorStorage, generations: &dyn Generations) -> Result<()> {
        let current = generations.current(self.namespace);
        if self
            .snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .generation
            == Some(current)
        {
            return Ok(());
        }
        let records = storage.vectors_all(self.namespace)?;
        let dim = records.first().map_or(0, |r| r.vector.len());
        let mut snapshot = Snapshot {
            generation: Some(current),
            dim,
            ids: Vec::with_capacity(records.len()),
            metas: Vec::with_capacity(records.len()),
            rows: Vec::with_capacity(records.len() * dim),
            positions: HashMap::with_capacity(records.len()),
        };
        for record in records.into_iter().filter(|r| r.vector.len() == dim) {
            snapshot.rows.extend(normalized(&record.vector));
            snapshot
                .positions
                .insert(record.id.clone(), snapshot.ids.len());
            snapshot.ids.push(record.id);
            snapshot.metas.push(record.meta);
        }
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = snapshot;
        Ok(())
    }

    /// The cosine similarity of `query` to each of `ids` (`None` for an id not stored).
    pub fn similarities(
        &self,
        storage: &dyn VectorStorage,
        generations: &dyn Generations,
        query: &[f32],
        ids: &[String],
    ) -> Result<Vec<Option<f32>>> {
        self.refresh(storage, generations)?;
        let snapshot = self.snapshot.read().unwrap_or_else(|e| e.into_inner());
        if query.len() != snapshot.dim {
            return Ok(vec![None; ids.len()]);
        }
        let query = normalized(query);
        Ok(ids
            .iter()
            .map(|id| {
                let row = *snapshot.positions.get(id)?;
                let vector = &snapshot.rows[row * snapshot.dim..(row + 1) * snapshot.dim];
                Some(dot(vector, &query))
            })
            .collect())
    }

    /// The `top_k` most similar vectors with cosine similarity at least `threshold`,
    /// best first.
    pub fn query(
        &self,
        storage: &dyn VectorStorage,
        generations: &dyn Generations,
        query: &[f32],
        top_k: usize,
        threshold: f32,
    ) -> Result<Vec<Hit>> {
        self.refresh(storage, generations)?;
        let snapshot = self.snapshot.read().unwrap_or_else(|e| e.into_inner());
        if snapshot.ids.is_empty() || top_k == 0 {
            return Ok(Vec::new());
        }
        if query.len() != snapshot.dim {
            return Err(StorageError::DimensionMismatch {
                namespace: self.namespace.as_str(),
                stored: snapshot.dim,
                given: query.len(),
            });
        }
        let query = normalized(query);
        let mut scored: Vec<(usize, f32)> = snapshot
            .rows
            .chunks_exact(snapshot.dim)
            .map(|row| dot(row, &query))
            .enumerate()
            .filter(|(_, score)| *score >= threshold)
            .collect();
        // Only the best `top_k` need ordering.
        if scored.len() > top_k {
            scored.select_nth_unstable_by(top_k - 1, |a, b| b.1.total_cmp(&a.1));
            scored.truncate(top_k);
        }
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        Ok(scored
            .into_iter()
            .map(|(i, score)| Hit {
                id: snapshot.ids[i].clone(),
                score,
                meta: snapshot.metas[i].clone(),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lane_dot_product_matches_the_plain_sum() {
        for len in [0, 1, 7, 8, 13, 1024] {
            let a: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..len).map(|i| (i as f32 * 0.11).cos()).collect();
            let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - plain).abs() < 1e-3, "{len}");
        }
    }
}
