//! The namespace index over a real SQLite store: recall against exact search through
//! segments and delta together, deletes, a restart that maps the persisted segments,
//! readers searching while a writer publishes, publishes that append rather than
//! rewrite, and deletions pruned from the segments and from the store's change log.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;

use super::flat::Flat;
use super::hnsw::tests::{random_vectors, recall};
use super::index::NamespaceIndex;
use super::{AnnSettings, manifest};
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

fn index_dir(dir: &Path) -> std::path::PathBuf {
    dir.join(crate::storage::sqlite::INDEX_DIR)
}

fn segment_exists(dir: &Path) -> bool {
    manifest::path(&index_dir(dir), NS.as_str()).exists()
}

/// The published manifest's segment files and their live node counts.
fn published(dir: &Path) -> manifest::Manifest {
    manifest::read(&index_dir(dir), NS.as_str())
        .unwrap()
        .unwrap()
        .0
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

#[test]
fn a_publish_appends_a_segment_and_merges_only_as_the_tiers_grow() {
    let dir = temp("ann-tiers");
    let store = SqliteStorage::open(&dir, "").unwrap();
    let generations = LocalGenerations::default();
    let index = NamespaceIndex::new(NS);
    let dim = 8;
    let vectors = random_vectors(12_075, dim, 11);
    write(&store, &generations, &index, &records(&vectors[..9000], 0));
    let first = published(&dir);
    assert_eq!(first.segments.len(), 1);
    let base = index_dir(&dir).join(&first.segments[0].file);
    let inode = manifest::identity(&base).unwrap();
    // Deltas under a quarter of the segment before them are appended beside it: the
    // old file stays as it was, and the small ones merge among themselves.
    write(
        &store,
        &generations,
        &index,
        &records(&vectors[9000..10_025], 9000),
    );
    let appended = published(&dir);
    assert_eq!(appended.segments.len(), 2, "{appended:?}");
    write(
        &store,
        &generations,
        &index,
        &records(&vectors[10_025..11_050], 10_025),
    );
    let again = published(&dir);
    assert_eq!(again.segments.len(), 2, "{again:?}");
    assert_ne!(again.segments[1].file, appended.segments[1].file);
    assert!(!index_dir(&dir).join(&appended.segments[1].file).exists());
    for m in [&appended, &again] {
        assert_eq!(m.segments[0].file, first.segments[0].file);
    }
    assert_eq!(
        manifest::identity(&base),
        Some(inode),
        "the base was not rewritten"
    );
    let shape = index.shape(&store, &generations, &SETTINGS).unwrap();
    assert_eq!((shape.indexed, shape.delta), (11_050, 0));
    // Once the newer ones are a quarter of it, they are merged into it.
    write(
        &store,
        &generations,
        &index,
        &records(&vectors[11_050..], 11_050),
    );
    let merged = published(&dir);
    assert_eq!(merged.segments.len(), 1, "{merged:?}");
    assert!(!base.exists());
    let queries = random_vectors(20, dim, 12);
    let r = recall(
        &exact(&vectors),
        |q| ids(&index, &store, &generations, q, 40),
        &queries,
        40,
    );
    assert!(r >= 0.95, "recall {r}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn deletions_die_in_the_manifest_then_are_pruned_from_segments_and_the_change_log() {
    let dir = temp("ann-prune");
    let store = SqliteStorage::open(&dir, "").unwrap();
    let generations = LocalGenerations::default();
    let index = NamespaceIndex::new(NS);
    let dim = 16;
    let vectors = random_vectors(6000, dim, 13);
    write(&store, &generations, &index, &records(&vectors, 0));
    let first = published(&dir);
    let deleted: Vec<String> = (0..1100).map(|i| format!("v{i}")).collect();
    store.vectors_delete(NS, &deleted).unwrap();
    generations.bump(NS);
    index.maintain(&store, &generations, &SETTINGS).unwrap();
    // 1100 of 6000 dead: listed in the manifest, the segment kept.
    let listed = published(&dir);
    assert_eq!(listed.segments.len(), 1);
    assert_eq!(listed.segments[0].file, first.segments[0].file);
    assert_eq!(listed.segments[0].dead.len(), 1100);
    let q = &vectors[5];
    assert!(!ids(&index, &store, &generations, q, 10).contains(&"v5".to_owned()));
    let deleted: Vec<String> = (1100..2200).map(|i| format!("v{i}")).collect();
    store.vectors_delete(NS, &deleted).unwrap();
    generations.bump(NS);
    index.maintain(&store, &generations, &SETTINGS).unwrap();
    // Past a quarter dead: rewritten with the live nodes only.
    let pruned = published(&dir);
    assert_eq!(pruned.segments.len(), 1);
    assert_ne!(pruned.segments[0].file, first.segments[0].file);
    assert!(pruned.segments[0].dead.is_empty());
    let shape = index.shape(&store, &generations, &SETTINGS).unwrap();
    assert_eq!((shape.indexed, shape.delta), (3800, 0));
    // The first publish's deletions are covered by its manifest: the store forgot them.
    let remembered = store.vectors_changes(NS, Some(0)).unwrap().unwrap().deleted;
    assert_eq!(
        remembered.len(),
        1100,
        "the second batch stays until the next publish"
    );
    // A fresh reader agrees with the one that followed along.
    let fresh = NamespaceIndex::new(NS);
    let fresh_generations = LocalGenerations::default();
    assert_eq!(
        ids(&fresh, &store, &fresh_generations, q, 20),
        ids(&index, &store, &generations, q, 20)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
