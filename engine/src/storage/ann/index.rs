//! One namespace as a worker searches it: the segments the manifest lists (mapped),
//! the exact delta of the writes after them, and the tombstones of segment nodes
//! deleted or rewritten since. Brought up to date only when the namespace's generation
//! counter has moved (any worker's write, or a new manifest, moves it), reading just
//! the changes. Building a new manifest is [`super::build`]'s, from a snapshot taken
//! here.

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

use super::background::Building;
use super::build::{DELTA_MIN, Snapshot};
use super::flat::{self, Flat};
use super::hnsw::Layers as _;
use super::manifest::{self, Identity};
use super::part::Part;
use super::{AnnError, AnnSettings};
use crate::storage::vectors::Hit;
use crate::storage::{Generations, Result, StorageError, VectorNamespace, VectorStorage};

/// Times a reader reads the manifest again when a segment it lists was deleted by a
/// newer publish before it could be mapped.
const LOAD_ATTEMPTS: usize = 3;

/// What the mapped manifest said besides its segments.
#[derive(Clone, Copy)]
struct Published {
    epoch: u64,
    seq: u64,
    next: u64,
}

#[derive(Default)]
struct State {
    generation: Option<u64>,
    /// The store epoch the delta belongs to.
    epoch: Option<u64>,
    /// The last store change read into the delta; `None`: read it all again.
    seen: Option<u64>,
    /// The manifest file read last (a new one was renamed over when it differs).
    file: Option<Identity>,
    published: Option<Published>,
    /// Oldest first.
    parts: Vec<Part>,
    delta: Flat,
    /// Ids whose copy in a part is stale (deleted or rewritten since the manifest).
    shadowed: HashSet<String>,
}

impl State {
    fn dim(&self) -> Option<usize> {
        match self.parts.first() {
            Some(p) => Some(p.segment.dim()),
            None => (!self.delta.is_empty()).then(|| self.delta.row(0).len()),
        }
    }

    /// Whether the delta is large enough to publish as a (first or new) segment.
    fn wants_segment(&self, settings: &AnnSettings) -> bool {
        if settings.min_vectors == 0 {
            return false;
        }
        match self.published {
            None => self.delta.len() >= settings.min_vectors,
            Some(_) => self.delta.len() + self.shadowed.len() >= DELTA_MIN,
        }
    }

    fn in_parts(&self, id: &str) -> bool {
        self.parts.iter().any(|p| p.find(id).is_some())
    }
}

pub struct NamespaceIndex {
    namespace: VectorNamespace,
    state: RwLock<State>,
    building: Building,
    /// Whether this process has searched the namespace yet (see [`Self::first_search`]).
    searched: AtomicBool,
}

/// The manifest in `dir` and its parts mapped (reusing `known` maps); `None` when
/// there is none.
fn load(
    dir: &Path,
    namespace: &str,
    known: &[Part],
) -> super::Result<Option<(Published, Identity, Vec<Part>)>> {
    let mut attempt = 0;
    loop {
        let Some((m, identity)) = manifest::read(dir, namespace)? else {
            return Ok(None);
        };
        let parts: super::Result<Vec<Part>> = m
            .segments
            .into_iter()
            .map(|e| Part::open(dir, &e.file, e.dead, known))
            .collect();
        match parts {
            Ok(parts) => {
                let published = Published {
                    epoch: m.epoch,
                    seq: m.seq,
                    next: m.next,
                };
                return Ok(Some((published, identity, parts)));
            }
            Err(AnnError::Io(e))
                if e.kind() == std::io::ErrorKind::NotFound && attempt + 1 < LOAD_ATTEMPTS =>
            {
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The candidates a segment's first search keeps: EF_SEARCH for the largest segment,
/// and for each smaller one the same share of it as its size is of the largest's (a
/// segment a sixth the size holds about a sixth as many of a query's nearest), never
/// under a quarter of it. Searching every segment with all of EF_SEARCH made the small
/// ones cost nearly what the largest does. A segment all of whose finds make the best
/// `top_k` (a query about what was written last) is searched again in full.
fn first_ef(settings: &AnnSettings, len: usize, largest: usize) -> usize {
    let share = (settings.ef_search * len).div_ceil(largest.max(1));
    share.max(settings.ef_search / 4).min(settings.ef_search)
}

impl From<AnnError> for StorageError {
    fn from(e: AnnError) -> Self {
        match e {
            AnnError::Io(e) => StorageError::Io(e),
            other => StorageError::Refused {
                what: "the vector index".into(),
                reason: other.to_string(),
            },
        }
    }
}

impl NamespaceIndex {
    pub fn new(namespace: VectorNamespace) -> NamespaceIndex {
        NamespaceIndex {
            namespace,
            state: RwLock::new(State::default()),
            building: Building::default(),
            searched: AtomicBool::new(false),
        }
    }

    /// True once per process: at its first search of the namespace.
    pub fn first_search(&self) -> bool {
        !self.searched.load(Ordering::Relaxed) && !self.searched.swap(true, Ordering::Relaxed)
    }

    /// Whether this process's builder thread of the namespace runs.
    pub fn building(&self) -> &Building {
        &self.building
    }

    /// Where this namespace's index lives, when the store has one and indexing is on.
    fn dir(&self, storage: &dyn VectorStorage, settings: &AnnSettings) -> Option<PathBuf> {
        (settings.min_vectors > 0)
            .then(|| storage.vector_index_dir())
            .flatten()
    }

    fn refresh(
        &self,
        storage: &dyn VectorStorage,
        generations: &dyn Generations,
        settings: &AnnSettings,
    ) -> Result<()> {
        let current = generations.current(self.namespace);
        let read = |s: &RwLock<State>| s.read().unwrap_or_else(|e| e.into_inner()).generation;
        if read(&self.state) == Some(current) {
            return Ok(());
        }
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        if state.generation == Some(current) {
            return Ok(());
        }
        if let Some(dir) = self.dir(storage, settings) {
            let ns = self.namespace.as_str();
            let file = manifest::identity(&manifest::path(&dir, ns));
            if file != state.file {
                // An index that cannot be read is left to the next build to replace:
                // the namespace is then searched exactly, never wrongly.
                let loaded = load(&dir, ns, &state.parts).unwrap_or_else(|e| {
                    tracing::warn!(namespace = ns, "{e}");
                    None
                });
                (state.published, state.parts, state.file) = match loaded {
                    Some((published, identity, parts)) => (Some(published), parts, Some(identity)),
                    None => (None, Vec::new(), file),
                };
                state.seen = None;
            }
        }
        self.read_changes(&mut state, storage)?;
        state.generation = Some(current);
        Ok(())
    }

    /// Brings the delta up to the store's latest change.
    fn read_changes(&self, state: &mut State, storage: &dyn VectorStorage) -> Result<()> {
        let after = state.seen.or(state.published.map(|p| p.seq));
        let Some(mut changes) = storage.vectors_changes(self.namespace, after)? else {
            // The backend cannot list changes: reload everything, searched exactly.
            let records = storage.vectors_all(self.namespace)?;
            *state = State {
                delta: Flat::new(records.first().map_or(0, |r| r.vector.len())),
                file: state.file,
                ..State::default()
            };
            for r in records {
                state.delta.upsert(r.id, &r.vector, r.meta);
            }
            return Ok(());
        };
        let published_epoch = state.published.map(|p| p.epoch);
        if published_epoch.is_some() && published_epoch != Some(changes.epoch) {
            // The namespace was dropped or replaced after this index: unusable.
            state.published = None;
            state.parts.clear();
            state.seen = None;
            if after.is_some() {
                changes = match storage.vectors_changes(self.namespace, None)? {
                    Some(all) => all,
                    None => return Ok(()),
                };
            }
        }
        if state.seen.is_none() || state.epoch != Some(changes.epoch) {
            let dim = state
                .parts
                .first()
                .map(|p| p.segment.dim())
                .or(changes.upserted.first().map(|r| r.vector.len()))
                .unwrap_or(0);
            state.delta = Flat::new(dim);
            state.shadowed.clear();
        }
        if let Some(first) = changes.upserted.first()
            && state.delta.is_empty()
            && state.parts.is_empty()
        {
            state.delta = Flat::new(first.vector.len());
        }
        for record in changes.upserted {
            if state.in_parts(&record.id) {
                state.shadowed.insert(record.id.clone());
            }
            state.delta.upsert(record.id, &record.vector, record.meta);
        }
        for id in changes.deleted {
            state.delta.remove(&id);
            if state.in_parts(&id) {
                state.shadowed.insert(id);
            }
        }
        state.epoch = Some(changes.epoch);
        state.seen = Some(changes.head);
        Ok(())
    }

    /// The `top_k` most similar vectors with cosine similarity at least `threshold`,
    /// best first.
    pub fn query(
        &self,
        storage: &dyn VectorStorage,
        generations: &dyn Generations,
        settings: &AnnSettings,
        query: &[f32],
        top_k: usize,
        threshold: f32,
    ) -> Result<Vec<Hit>> {
        self.refresh(storage, generations, settings)?;
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        let Some(dim) = state.dim() else {
            return Ok(Vec::new());
        };
        if top_k == 0 {
            return Ok(Vec::new());
        }
        if query.len() != dim {
            return Err(StorageError::DimensionMismatch {
                namespace: self.namespace.as_str(),
                stored: dim,
                given: query.len(),
            });
        }
        let query = flat::normalized(query);
        // (score, where): the source in the high half (0 the delta, i + 1 part i), the
        // row or node in the low half.
        let mut merged: Vec<(f32, usize)> = state
            .delta
            .search(&query, top_k, threshold)
            .into_iter()
            .collect();
        let search =
            |part: &Part, ef: usize| part.search(&state.shadowed, &query, top_k, threshold, ef);
        // Each segment first with its share of the candidates (see `first_ef`), then
        // again in full where all it found made the best `top_k`: it may hold more.
        let largest = state
            .parts
            .iter()
            .map(|p| p.segment.len())
            .max()
            .unwrap_or(0);
        let mut found: Vec<Vec<(f32, u32)>> = state
            .parts
            .iter()
            .map(|part| search(part, first_ef(settings, part.segment.len(), largest)))
            .collect();
        let mut scores: Vec<f32> = merged
            .iter()
            .map(|m| m.0)
            .chain(found.iter().flatten().map(|f| f.0))
            .collect();
        if scores.len() >= top_k {
            let (_, &mut kth, _) = scores.select_nth_unstable_by(top_k - 1, |a, b| b.total_cmp(a));
            for (part, found) in state.parts.iter().zip(&mut found) {
                let first = first_ef(settings, part.segment.len(), largest);
                let competitive = found.len() == top_k && found.last().is_some_and(|l| l.0 >= kth);
                if first < settings.ef_search && competitive {
                    *found = search(part, settings.ef_search);
                }
            }
        }
        for (i, found) in found.into_iter().enumerate() {
            merged.extend(
                found
                    .into_iter()
                    .map(|(score, node)| (score, ((i + 1) << 32) | node as usize)),
            );
        }
        flat::best(merged, top_k)
            .into_iter()
            .map(|(score, tagged)| {
                let at = tagged & 0xffff_ffff;
                Ok(match (tagged >> 32).checked_sub(1) {
                    Some(part) => {
                        let segment = &state.parts[part].segment;
                        Hit {
                            id: segment.id(at as u32).to_owned(),
                            score,
                            meta: serde_json::from_str(segment.meta(at as u32))?,
                        }
                    }
                    None => Hit {
                        id: state.delta.id(at).to_owned(),
                        score,
                        meta: state.delta.meta(at).clone(),
                    },
                })
            })
            .collect()
    }

    /// The cosine similarity of `query` to each of `ids` (`None` for an id not stored).
    pub fn similarities(
        &self,
        storage: &dyn VectorStorage,
        generations: &dyn Generations,
        settings: &AnnSettings,
        query: &[f32],
        ids: &[String],
    ) -> Result<Vec<Option<f32>>> {
        self.refresh(storage, generations, settings)?;
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        if state.dim() != Some(query.len()) {
            return Ok(vec![None; ids.len()]);
        }
        let query = flat::normalized(query);
        // Each id's vector first, then their scores together (`dot::dots`).
        let vectors: Vec<Option<&[f32]>> = ids
            .iter()
            .map(|id| {
                state.delta.vector(id).or_else(|| {
                    if state.shadowed.contains(id) {
                        return None;
                    }
                    state.parts.iter().rev().find_map(|part| {
                        let node = part.find(id)?;
                        Some(part.segment.vector(node))
                    })
                })
            })
            .collect();
        let mut scores = Vec::with_capacity(ids.len());
        super::dot::dots(vectors.iter().flatten().copied(), &query, &mut scores);
        let mut scores = scores.into_iter();
        Ok(vectors
            .iter()
            .map(|v| v.and_then(|_| scores.next()))
            .collect())
    }

    /// After a write: when the delta has grown enough and no other process is
    /// building, a snapshot to publish a new manifest from (see [`Snapshot::publish`];
    /// the caller moves the generation once it is published). Deletions the current
    /// manifest already covers are forgotten by the store here: a reader that mapped
    /// it reads only the changes after it.
    pub fn plan(
        &self,
        storage: &dyn VectorStorage,
        generations: &dyn Generations,
        settings: &AnnSettings,
    ) -> Result<Option<Snapshot>> {
        let Some(dir) = self.dir(storage, settings) else {
            return Ok(None);
        };
        self.refresh(storage, generations, settings)?;
        let wants = |s: &Self| {
            s.state
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .wants_segment(settings)
        };
        if !wants(self) {
            return Ok(None);
        }
        std::fs::create_dir_all(&dir)?;
        let ns = self.namespace.as_str();
        let lock = File::create(dir.join(format!("{ns}.lock")))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
            Err(std::fs::TryLockError::Error(e)) => return Err(e.into()),
        }
        // Another builder may have published just before this one took the lock, and
        // not yet moved the generation: a new manifest on disk is read regardless.
        let on_disk = manifest::identity(&manifest::path(&dir, ns));
        {
            let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
            if state.file != on_disk {
                state.generation = None;
            }
        }
        self.refresh(storage, generations, settings)?;
        if !wants(self) {
            return Ok(None);
        }
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        if let Some(published) = state.published {
            storage.vectors_forget_deletions(self.namespace, published.seq)?;
        }
        Ok(Some(Snapshot {
            namespace: ns,
            dir,
            epoch: state.epoch.unwrap_or(0),
            seq: state.seen.unwrap_or(0),
            next: state.published.map_or(0, |p| p.next),
            parts: state.parts.clone(),
            delta: state.delta.clone(),
            shadowed: state.shadowed.clone(),
            lock,
        }))
    }

    /// [`Self::plan`], then the publish on this thread, then the generation moved.
    pub fn maintain(
        &self,
        storage: &dyn VectorStorage,
        generations: &dyn Generations,
        settings: &AnnSettings,
    ) -> Result<()> {
        if let Some(snapshot) = self.plan(storage, generations, settings)? {
            snapshot.publish()?;
            generations.bump(self.namespace);
        }
        Ok(())
    }
}

/// How a namespace's index is made up at the moment (for diagnostics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub segments: usize,
    /// Live nodes over all segments.
    pub indexed: usize,
    /// Vectors searched exactly (written after the manifest).
    pub delta: usize,
}

impl NamespaceIndex {
    /// The index brought up to date, described.
    pub fn shape(
        &self,
        storage: &dyn VectorStorage,
        generations: &dyn Generations,
        settings: &AnnSettings,
    ) -> Result<Shape> {
        self.refresh(storage, generations, settings)?;
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        Ok(Shape {
            segments: state.parts.len(),
            indexed: state
                .parts
                .iter()
                .map(|p| {
                    (0..p.segment.len() as u32)
                        .filter(|&n| !p.is_dead(n) && !state.shadowed.contains(p.segment.id(n)))
                        .count()
                })
                .sum(),
            delta: state.delta.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smaller_segments_keep_their_share_of_the_candidates_never_under_a_quarter() {
        let settings = AnnSettings {
            min_vectors: 0,
            ef_search: 256,
        };
        assert_eq!(first_ef(&settings, 93_000, 93_000), 256);
        assert_eq!(first_ef(&settings, 46_500, 93_000), 128);
        assert_eq!(first_ef(&settings, 3_000, 93_000), 64);
        assert_eq!(first_ef(&settings, 0, 0), 64);
    }
}
