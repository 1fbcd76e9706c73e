//! Index builds on a thread of their own, so a write returns (and releases whatever its
//! caller holds, such as a document's merge) without waiting for a segment to be
//! built. One thread per namespace and process at a time: it publishes its snapshot,
//! then looks again and publishes whatever the writes made meanwhile call for (theirs
//! did not start a build while it ran), until nothing does. It searches and writes
//! through its own handle on the store, since it outlives the write that started it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::AnnSettings;
use super::build::Snapshot;
use super::index::NamespaceIndex;
use crate::storage::{Generations, VectorNamespace, VectorStorage};

/// Whether a namespace's builder thread runs in this process.
#[derive(Default)]
pub struct Building(AtomicBool);

impl Building {
    pub fn running(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

fn not_updated(ns: VectorNamespace, e: &dyn std::fmt::Display) {
    tracing::warn!(namespace = ns.as_str(), "vector index not updated: {e}");
}

/// After a write to `ns` through `storage`: starts the builder thread when the index
/// wants a new manifest and none runs here.
pub fn maintain(
    index: &Arc<NamespaceIndex>,
    storage: &dyn VectorStorage,
    generations: &Arc<dyn Generations>,
    settings: &AnnSettings,
    ns: VectorNamespace,
) {
    if index.building().running() {
        return;
    }
    let snapshot = match index.plan(storage, &**generations, settings) {
        Ok(Some(snapshot)) => snapshot,
        Ok(None) => return,
        Err(e) => return not_updated(ns, &e),
    };
    let own = match storage.vectors_reopen() {
        Ok(Some(own)) => own,
        Ok(None) => {
            // No second handle: build here.
            match snapshot.publish() {
                Ok(_) => generations.bump(ns),
                Err(e) => not_updated(ns, &e),
            }
            return;
        }
        Err(e) => return not_updated(ns, &e),
    };
    index.building().0.store(true, Ordering::Release);
    let (builder, generations, settings) = (index.clone(), generations.clone(), *settings);
    let spawned = std::thread::Builder::new()
        .name(format!("index-{}", ns.as_str()))
        .spawn(move || run(&builder, snapshot, &*own, &*generations, &settings, ns));
    if let Err(e) = spawned {
        index.building().0.store(false, Ordering::Release);
        not_updated(ns, &e);
    }
}

/// Publishes `snapshot`, then each next one the namespace calls for.
fn run(
    index: &NamespaceIndex,
    mut snapshot: Snapshot,
    storage: &dyn VectorStorage,
    generations: &dyn Generations,
    settings: &AnnSettings,
    ns: VectorNamespace,
) {
    let building = &index.building().0;
    loop {
        let published = snapshot.publish();
        // Cleared before looking again: a write that saw it set relied on this look,
        // and one after it starts its own thread.
        building.store(false, Ordering::Release);
        match published {
            Ok(_) => generations.bump(ns),
            Err(e) => return not_updated(ns, &e),
        }
        match index.plan(storage, generations, settings) {
            Ok(Some(next)) => {
                building.store(true, Ordering::Release);
                snapshot = next;
            }
            Ok(None) => return,
            Err(e) => return not_updated(ns, &e),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::{Duration, Instant};

    use serde_json::json;

    use super::super::build::DELTA_MIN;
    use super::super::hnsw::tests::random_vectors;
    use super::super::index::Shape;
    use super::*;
    use crate::storage::sqlite::SqliteStorage;
    use crate::storage::{LocalGenerations, VectorRecord};

    #[test]
    fn writes_made_while_a_build_runs_are_published_by_it_before_it_stops() {
        let dir = crate::storage::tests::temp("ann-background");
        let store = SqliteStorage::open(&dir, "").unwrap();
        let generations: Arc<dyn Generations> = Arc::new(LocalGenerations::default());
        let index = Arc::new(NamespaceIndex::new(VectorNamespace::Chunks));
        let settings = AnnSettings {
            min_vectors: 1000,
            ef_search: 64,
        };
        let ns = VectorNamespace::Chunks;
        let vectors = random_vectors(6000, 8, 31);
        let mut overlapped = false;
        for (at, batch) in vectors.chunks(500).enumerate() {
            let records: Vec<VectorRecord> = batch
                .iter()
                .enumerate()
                .map(|(i, v)| VectorRecord {
                    id: format!("v{}", at * 500 + i),
                    vector: v.clone(),
                    meta: json!(null),
                })
                .collect();
            store.vectors_upsert(ns, &records).unwrap();
            generations.bump(ns);
            overlapped |= index.building().running();
            maintain(&index, &store, &generations, &settings, ns);
        }
        // No write follows: only the builder thread can publish what is left.
        wait_until_published(&index, &store, &*generations, &settings, |shape| {
            assert_eq!(shape.indexed + shape.delta, 6000);
            format!("overlapped: {overlapped}")
        });
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Waits (60 s at most) until no builder of `index` runs here and what is left
    /// outside its segments is less than a build's worth. `check` looks at every shape
    /// seen and says what to add to the failure.
    pub(crate) fn wait_until_published(
        index: &NamespaceIndex,
        store: &dyn VectorStorage,
        generations: &dyn Generations,
        settings: &AnnSettings,
        check: impl Fn(&Shape) -> String,
    ) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let running = index.building().running();
            let shape = index.shape(store, generations, settings).unwrap();
            let context = check(&shape);
            if !running && shape.delta < DELTA_MIN {
                return;
            }
            assert!(Instant::now() < deadline, "{shape:?} ({context})");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
