//! Node degrees a worker has counted, so that ranking a query's relations does not
//! count the same hub's edges on every query.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{Generations, GraphStorage, StorageError, VectorNamespace};

/// Degrees valid while the relationship generation stays the same: every change of an
/// edge rewrites or removes its relation vector, which moves that generation.
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
