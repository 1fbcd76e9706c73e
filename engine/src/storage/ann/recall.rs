//! The approximate index's recall against exact search on a store as it is: the share
//! of the exact `top_k` (every stored vector scored) that the index's `top_k` finds,
//! over a set of query vectors. `lightrag-master vector-recall` prints it; it reads
//! the store and the published index only, so it may run beside a serving server.

use std::time::Instant;

use super::AnnSettings;
use super::flat::Flat;
use super::index::{NamespaceIndex, Shape};
use crate::storage::{LocalGenerations, Result, VectorNamespace, VectorStorage};

/// What [`measure`] found for one namespace.
#[derive(Debug, Clone, PartialEq)]
pub struct Recall {
    pub namespace: VectorNamespace,
    pub vectors: usize,
    pub shape: Shape,
    pub queries: usize,
    pub top_k: usize,
    /// Found / wanted over all queries (1.0 when nothing is stored).
    pub recall: f64,
    /// Mean time per query of the exact scan and of the index, in milliseconds.
    pub exact_ms: f64,
    pub index_ms: f64,
}

/// Recall at `top_k` of `ns` for `queries`; without queries, `sample` stored vectors
/// (chosen with a fixed seed) are the queries.
pub fn measure(
    storage: &dyn VectorStorage,
    settings: &AnnSettings,
    ns: VectorNamespace,
    queries: &[Vec<f32>],
    sample: usize,
    top_k: usize,
) -> Result<Recall> {
    let records = storage.vectors_all(ns)?;
    let mut exact = Flat::new(records.first().map_or(0, |r| r.vector.len()));
    for r in &records {
        exact.upsert(r.id.clone(), &r.vector, serde_json::Value::Null);
    }
    let sampled: Vec<Vec<f32>>;
    let queries = if queries.is_empty() && !records.is_empty() {
        let mut rng = fastrand::Rng::with_seed(17);
        sampled = (0..sample)
            .map(|_| records[rng.usize(..records.len())].vector.clone())
            .collect();
        &sampled
    } else {
        queries
    };
    let index = NamespaceIndex::new(ns);
    let generations = LocalGenerations::default();
    let shape = index.shape(storage, &generations, settings)?;
    let (mut found, mut wanted) = (0usize, 0usize);
    let (mut exact_time, mut index_time) = (0.0f64, 0.0f64);
    for q in queries {
        let started = Instant::now();
        let unit = super::flat::normalized(q);
        let truth: Vec<&str> = exact
            .search(&unit, top_k, -1.0)
            .iter()
            .map(|&(_, i)| exact.id(i))
            .collect();
        exact_time += started.elapsed().as_secs_f64();
        let started = Instant::now();
        let got = index.query(storage, &generations, settings, q, top_k, -1.0)?;
        index_time += started.elapsed().as_secs_f64();
        wanted += truth.len();
        found += truth
            .iter()
            .filter(|t| got.iter().any(|h| h.id == **t))
            .count();
    }
    let per_query = |seconds: f64| seconds * 1000.0 / queries.len().max(1) as f64;
    Ok(Recall {
        namespace: ns,
        vectors: records.len(),
        shape,
        queries: queries.len(),
        top_k,
        recall: if wanted == 0 {
            1.0
        } else {
            found as f64 / wanted as f64
        },
        exact_ms: per_query(exact_time),
        index_ms: per_query(index_time),
    })
}
