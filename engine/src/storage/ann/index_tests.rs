//! The namespace index over a real SQLite store: recall against exact search through
//! segment and delta together, deletes, a restart that maps the persisted segment, and
//! readers searching while a writer publishes new segments.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;

use super::flat::Flat;
use super::hnsw::tests::{random_vectors, recall};
use super::index::NamespaceIndex;
use super::{AnnSettings, segment};
use crate::storage::sqlite::SqliteStorage;
use crate::storage::{Generations, LocalGenerations, VectorNamespace, VectorRecord, VectorStorage};

const NS: VectorNamespace = VectorNamespace::Chunks;
const SETTINGS: AnnSettings = AnnSettings {
    min_vectors: 1000,
    ef_search: 128,
};

fn temp(name: &str) -> std::path::PathBuf {
    crate::storage::tests::temp(name)
}

fn records(vectors: &[Vec<f32>], from: usize) -> Vec<VectorRecord> {
    vectors
        .iter()
        .enumerate()
        .map(|(i, v)| VectorRecord {
            id: format!("v{}", from + i),
            vector: v.clone(),
            meta: json!({"n": from + i}),
        })
        .collect()
}

/// What `Stores` does after a write: move the counter, let the index fold the delta.
fn write(
    store: &SqliteStorage,
    generations: &dyn Generations,
    index: &NamespaceIndex,
    items: &[VectorRecord],
) {
    store.vectors_upsert(NS, items).unwrap();
    generations.bump(NS);
    index.maintain(store, generations, &SETTINGS).unwrap();
}

fn ids(
    index: &NamespaceIndex,
    store: &SqliteStorage,
    g: &dyn Generations,
    q: &[f32],
    k: usize,
) -> Vec<String> {
    index
        .query(store, g, &SETTINGS, q, k, -1.0)
        .unwrap()
        .into_iter()
        .map(|h| h.id)
        .collect()
}

fn exact(vectors: &[Vec<f32>]) -> Flat {
    let mut flat = Flat::new(vectors[0].len());
    for (i, v) in vectors.iter().enumerate() {
        flat.upsert(format!("v{i}"), v, json!(null));
    }
    flat
}

fn segment_exists(dir: &Path) -> bool {
    segment::path(&dir.join(crate::storage::sqlite::INDEX_DIR), NS.as_str()).exists()
}

#[test]
fn searches_find_the_exact_answer_deletes_hold_and_a_restart_maps_the_segment() {
    let dir = temp("ann");
    let store = SqliteStorage::open(&dir, "").unwrap();
    let generations = LocalGenerations::default();
    let index = NamespaceIndex::new(NS);
    let (count, dim) = (5000, 48);
    let vectors = random_vectors(count, dim, 1);
    for (at, batch) in vectors.chunks(400).enumerate() {
        write(&store, &generations, &index, &records(batch, at * 400));
    }
    assert!(
        segment_exists(&dir),
        "a segment is published past min_vectors"
    );
    let queries = random_vectors(30, dim, 2);
    let truth = exact(&vectors);
    let search = |index: &NamespaceIndex, q: &[f32]| ids(index, &store, &generations, q, 40);
    let r = recall(&truth, |q| search(&index, q), &queries, 40);
    assert!(r >= 0.95, "recall {r}");

    // Deleting the best hits of a query: they are gone from its answer and from
    // similarities; the answer is still full.
    let best: Vec<String> = search(&index, &queries[0]).into_iter().take(5).collect();
    store.vectors_delete(NS, &best).unwrap();
    generations.bump(NS);
    let after = search(&index, &queries[0]);
    assert_eq!(after.len(), 40);
    assert!(
        best.iter().all(|id| !after.contains(id)),
        "{best:?} in {after:?}"
    );
    let sims = index
        .similarities(&store, &generations, &SETTINGS, &queries[0], &best)
        .unwrap();
    assert!(sims.iter().all(Option::is_none));
    // A rewritten vector is found at its new place, not its old one.
    let moved = VectorRecord {
        id: "v7".into(),
        vector: queries[1].clone(),
        meta: json!({"moved": true}),
    };
    store.vectors_upsert(NS, &[moved]).unwrap();
    generations.bump(NS);
    let hits = index
        .query(&store, &generations, &SETTINGS, &queries[1], 1, 0.0)
        .unwrap();
    assert_eq!(hits[0].id, "v7");
    assert_eq!(hits[0].meta, json!({"moved": true}));
    assert!(hits[0].score > 0.999);
    // The threshold holds: nothing below it comes back.
    let above = index
        .query(&store, &generations, &SETTINGS, &queries[2], 40, 0.3)
        .unwrap();
    assert!(above.iter().all(|h| h.score >= 0.3));

    // A restart: a new connection and a new index map the persisted segment and agree.
    let before = search(&index, &queries[3]);
    let reopened = SqliteStorage::open(&dir, "").unwrap();
    let fresh_generations = LocalGenerations::default();
    let fresh = NamespaceIndex::new(NS);
    let again = ids(&fresh, &reopened, &fresh_generations, &queries[3], 40);
    assert_eq!(before, again);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_small_namespace_stays_exact_and_dropping_removes_the_segment() {
    let dir = temp("ann-small");
    let store = SqliteStorage::open(&dir, "").unwrap();
    let generations = LocalGenerations::default();
    let index = NamespaceIndex::new(NS);
    let vectors = random_vectors(1200, 16, 3);
    write(&store, &generations, &index, &records(&vectors[..900], 0));
    assert!(!segment_exists(&dir));
    let truth = exact(&vectors[..900]);
    let q = &random_vectors(1, 16, 4)[0];
    let exact_ids: Vec<String> = truth
        .search(q, 10, -1.0)
        .iter()
        .map(|&(_, i)| truth.id(i).to_owned())
        .collect();
    assert_eq!(ids(&index, &store, &generations, q, 10), exact_ids);
    write(&store, &generations, &index, &records(&vectors[900..], 900));
    assert!(segment_exists(&dir));
    store.vectors_drop(NS).unwrap();
    generations.bump(NS);
    assert!(!segment_exists(&dir));
    assert!(ids(&index, &store, &generations, q, 10).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn readers_never_see_a_torn_or_short_index_while_a_writer_publishes() {
    let dir = temp("ann-race");
    let writer_store = SqliteStorage::open(&dir, "").unwrap();
    let generations = LocalGenerations::default();
    let writer_index = NamespaceIndex::new(NS);
    let dim = 24;
    let vectors = random_vectors(4000, dim, 5);
    write(
        &writer_store,
        &generations,
        &writer_index,
        &records(&vectors[..1000], 0),
    );
    let probe = vectors[10].clone();
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let generations = &generations;
        let reader = s.spawn(|| {
            let store = SqliteStorage::open(&dir, "").unwrap();
            let index = NamespaceIndex::new(NS);
            let mut rounds = 0;
            while !done.load(Ordering::Acquire) || rounds == 0 {
                let found = ids(&index, &store, generations, &probe, 20);
                assert_eq!(found.len(), 20);
                assert_eq!(found[0], "v10");
                rounds += 1;
            }
            rounds
        });
        for (at, batch) in vectors[1000..].chunks(250).enumerate() {
            write(
                &writer_store,
                generations,
                &writer_index,
                &records(batch, 1000 + at * 250),
            );
        }
        done.store(true, Ordering::Release);
        assert!(reader.join().unwrap() > 0);
    });
    let _ = std::fs::remove_dir_all(&dir);
}
