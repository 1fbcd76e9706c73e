//! What a worker has read of the graph to rank a local query's relations (node
//! degrees, each node's relations with their weights), so that the next query about
//! the same hub does not read its hundreds of relations again.
//!
//! Both stay valid while the relationship generation stays the same: every change of
//! an edge rewrites or removes its relation vector, which moves that generation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{Generations, GraphStorage, StorageError, VectorNamespace};

/// Degrees, valid for one relationship generation.
#[derive(Default)]
pub struct DegreeCache {
    cached: Mutex<(Option<u64>, HashMap<String, usize>)>,
}

impl DegreeCache {
    /// The degrees of `names`, counting only those not cached for this generation.
    pub fn get(
        &self,
        graph: &dyn GraphStorage,
        generations: &dyn Generations,
        names: &[String],
    ) -> Result<HashMap<String, usize>, StorageError> {
        let generation = generations.current(VectorNamespace::Relationships);
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if cached.0 != Some(generation) {
            *cached = (Some(generation), HashMap::new());
        }
        let missing: Vec<String> = names
            .iter()
            .filter(|n| !cached.1.contains_key(*n))
            .cloned()
            .collect();
        if !missing.is_empty() {
            let counted = graph.node_degrees(&missing)?;
            cached.1.extend(counted);
        }
        Ok(names
            .iter()
            .map(|n| (n.clone(), cached.1.get(n).copied().unwrap_or(0)))
            .collect())
    }
}

/// A node's relations as the graph lists them for ranking: (source, target, weight).
pub type Weights = Arc<[(String, String, f64)]>;

/// Relations listed at most in a cache (about 100 bytes each): a worker's cache of a
/// very large graph is dropped and refilled rather than grown without bound.
const MAX_CACHED_RELATIONS: usize = 1 << 18;

/// Each node's relations with their weights, valid for one relationship generation.
#[derive(Default)]
pub struct WeightCache {
    cached: Mutex<CachedWeights>,
}

#[derive(Default)]
struct CachedWeights {
    generation: Option<u64>,
    relations: usize,
    by_node: HashMap<String, Weights>,
}

impl WeightCache {
    /// [`GraphStorage::edge_weights_of_many`] of `names`, in their order, reading only
    /// those not cached for this generation (in one call).
    pub fn get(
        &self,
        graph: &dyn GraphStorage,
        generations: &dyn Generations,
        names: &[String],
    ) -> Result<Vec<Weights>, StorageError> {
        let generation = generations.current(VectorNamespace::Relationships);
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if cached.generation != Some(generation) {
            *cached = CachedWeights {
                generation: Some(generation),
                ..CachedWeights::default()
            };
        }
        let missing: Vec<String> = names
            .iter()
            .filter(|n| !cached.by_node.contains_key(*n))
            .cloned()
            .collect();
        if !missing.is_empty() {
            let read = graph.edge_weights_of_many(&missing)?;
            let adding: usize = read.iter().map(Vec::len).sum();
            if cached.relations + adding > MAX_CACHED_RELATIONS {
                cached.by_node.clear();
                cached.relations = 0;
            }
            cached.relations += adding;
            for (name, weights) in missing.into_iter().zip(read) {
                cached.by_node.insert(name, weights.into());
            }
        }
        Ok(names
            .iter()
            .map(|n| {
                cached
                    .by_node
                    .get(n)
                    .cloned()
                    .unwrap_or_else(|| Arc::from([]))
            })
            .collect())
    }
}
