//! Exact cosine search over vectors held in memory: the whole namespace while it is
//! small, and the recent writes not yet in the namespace's HNSW segment (the delta)
//! once it is large. Rows are unit length, so cosine is a dot product.

use serde_json::Value;

use super::dot::dots;
use crate::fast_hash::FastMap;

/// `vector` scaled to unit length (a zero vector stays zero).
pub fn normalized(vector: &[f32]) -> Vec<f32> {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm == 0.0 {
        return vector.to_vec();
    }
    vector.iter().map(|x| x / norm).collect()
}

/// Keeps the `top_k` best of `scored` (by score, best first).
pub fn best(mut scored: Vec<(f32, usize)>, top_k: usize) -> Vec<(f32, usize)> {
    if scored.len() > top_k && top_k > 0 {
        scored.select_nth_unstable_by(top_k - 1, |a, b| b.0.total_cmp(&a.0));
    }
    scored.truncate(top_k);
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored
}

/// Unit-length rows with their ids and metadata; upserts replace, removals swap the last
/// row into the hole.
#[derive(Default, Clone)]
pub struct Flat {
    dim: usize,
    ids: Vec<String>,
    metas: Vec<Value>,
    rows: Vec<f32>,
    positions: FastMap<String, usize>,
}

impl Flat {
    pub fn new(dim: usize) -> Flat {
        Flat {
            dim,
            ..Flat::default()
        }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Stores `vector` (any length; normalised here) under `id`. A vector of another
    /// dimension than the rows is skipped (the store refuses such writes).
    pub fn upsert(&mut self, id: String, vector: &[f32], meta: Value) {
        if vector.len() != self.dim {
            return;
        }
        let vector = normalized(vector);
        match self.positions.get(&id) {
            Some(&row) => {
                self.rows[row * self.dim..(row + 1) * self.dim].copy_from_slice(&vector);
                self.metas[row] = meta;
            }
            None => {
                self.positions.insert(id.clone(), self.ids.len());
                self.ids.push(id);
                self.metas.push(meta);
                self.rows.extend(vector);
            }
        }
    }

    pub fn remove(&mut self, id: &str) {
        let Some(row) = self.positions.remove(id) else {
            return;
        };
        let last = self.ids.len() - 1;
        self.ids.swap_remove(row);
        self.metas.swap_remove(row);
        if row != last {
            let (head, tail) = self.rows.split_at_mut(last * self.dim);
            head[row * self.dim..(row + 1) * self.dim].copy_from_slice(&tail[..self.dim]);
            self.positions.insert(self.ids[row].clone(), row);
        }
        self.rows.truncate(last * self.dim);
    }

    pub fn contains(&self, id: &str) -> bool {
        self.positions.contains_key(id)
    }

    pub fn row(&self, index: usize) -> &[f32] {
        &self.rows[index * self.dim..(index + 1) * self.dim]
    }

    pub fn id(&self, index: usize) -> &str {
        &self.ids[index]
    }

    pub fn meta(&self, index: usize) -> &Value {
        &self.metas[index]
    }

    /// The row of `id`.
    pub fn vector(&self, id: &str) -> Option<&[f32]> {
        Some(self.row(*self.positions.get(id)?))
    }

    /// The `top_k` rows most similar to the unit-length `query` at or above
    /// `threshold`, best first, as (score, row).
    pub fn search(&self, query: &[f32], top_k: usize, threshold: f32) -> Vec<(f32, usize)> {
        if self.dim == 0 {
            return Vec::new();
        }
        let mut scores = Vec::with_capacity(self.len());
        dots(self.rows.chunks_exact(self.dim), query, &mut scores);
        let scored = scores
            .into_iter()
            .enumerate()
            .filter(|(_, score)| *score >= threshold)
            .map(|(i, score)| (score, i))
            .collect();
        best(scored, top_k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn upserts_replace_and_removals_keep_the_others() {
        let mut flat = Flat::new(2);
        flat.upsert("a".into(), &[1.0, 0.0], json!(1));
        flat.upsert("b".into(), &[0.0, 2.0], json!(2));
        flat.upsert("c".into(), &[1.0, 1.0], json!(3));
        flat.upsert("a".into(), &[0.0, 1.0], json!(4));
        flat.remove("b");
        flat.remove("missing");
        assert_eq!(flat.len(), 2);
        let hits = flat.search(&[0.0, 1.0], 5, 0.0);
        assert_eq!(flat.id(hits[0].1), "a");
        assert_eq!(flat.meta(hits[0].1), &json!(4));
        assert_eq!(flat.id(hits[1].1), "c");
        assert!(flat.vector("b").is_none());
    }
}
