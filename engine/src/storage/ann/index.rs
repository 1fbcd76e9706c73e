//! One namespace as a worker searches it: the mapped segment, the exact delta of the
//! writes after it, and the tombstones of the segment's nodes deleted or rewritten
//! since. Brought up to date only when the namespace's generation counter has moved
//! (any worker's write, or a new segment, moves it), reading just the changes.

use std::collections::HashSet;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use super::flat::{self, Flat};
use super::hnsw::{self, Builder, Layers};
use super::segment::{self, Contents, Segment};
use super::{AnnError, AnnSettings};
use crate::storage::vectors::Hit;
use crate::storage::{Generations, Result, StorageError, VectorNamespace, VectorStorage};

/// The delta is folded into a new segment when it holds this many vectors, or an
/// eighth of the segment if that is more (so rewrites stay rare as the store grows).
const DELTA_MIN: usize = 1024;
/// A segment with more dead nodes than this share is rebuilt rather than extended.
const DEAD_SHARE: f64 = 0.25;

#[derive(Default)]
struct State {
    generation: Option<u64>,
    /// The store epoch the delta (and a usable segment) belongs to.
    epoch: Option<u64>,
    /// The last store change read into the delta; `None`: read it all again.
    seen: Option<u64>,
    /// The mapped file's (device, inode): a new one was renamed over when it differs.
    file: Option<(u64, u64)>,
    segment: Option<Arc<Segment>>,
    delta: Flat,
    /// Ids whose segment copy is stale (deleted or rewritten since the segment).
    shadowed: HashSet<String>,
}

impl State {
    fn dim(&self) -> Option<usize> {
        match &self.segment {
            Some(s) => Some(s.dim()),
            None => (!self.delta.is_empty()).then(|| self.delta.row(0).len()),
        }
    }

    /// Whether the delta is large enough to fold into a (first or new) segment.
    fn wants_segment(&self, settings: &AnnSettings) -> bool {
        if settings.min_vectors == 0 {
            return false;
        }
        match &self.segment {
            None => self.delta.len() >= settings.min_vectors,
            Some(s) => self.delta.len() + self.shadowed.len() >= DELTA_MIN.max(s.len() / 8),
        }
    }
}

pub struct NamespaceIndex {
    namespace: VectorNamespace,
    state: RwLock<State>,
}

fn file_identity(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
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
        }
    }

    fn segment_path(&self, dir: &Path) -> PathBuf {
        segment::path(dir, self.namespace.as_str())
    }

    /// Where this namespace's segment lives, when the store has one and indexing is on.
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
            let path = self.segment_path(&dir);
            let file = file_identity(&path);
            if file != state.file {
                // A segment that cannot be read is left to the next build to replace:
                // the namespace is then searched exactly, never wrongly.
                state.segment = match Segment::open(&path) {
                    Ok(segment) => segment.map(Arc::new),
                    Err(e) => {
                        tracing::warn!(namespace = self.namespace.as_str(), "{e}");
                        None
                    }
                };
                state.file = file;
                state.seen = None;
            }
        }
        self.read_changes(&mut state, storage)?;
        state.generation = Some(current);
        Ok(())
    }

    /// Brings the delta up to the store's latest change.
    fn read_changes(&self, state: &mut State, storage: &dyn VectorStorage) -> Result<()> {
        let after = state.seen.or(state.segment.as_ref().map(|s| s.seq()));
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
        let segment_epoch = state.segment.as_ref().map(|s| s.epoch());
        if segment_epoch.is_some() && segment_epoch != Some(changes.epoch) {
            // The namespace was dropped or replaced after this segment: unusable.
            state.segment = None;
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
                .segment
                .as_ref()
                .map(|s| s.dim())
                .or(changes.upserted.first().map(|r| r.vector.len()))
                .unwrap_or(0);
            state.delta = Flat::new(dim);
            state.shadowed.clear();
        }
        if let Some(first) = changes.upserted.first()
            && state.delta.is_empty()
            && state.segment.is_none()
        {
            state.delta = Flat::new(first.vector.len());
        }
        let in_segment =
            |state: &State, id: &str| state.segment.as_ref().is_some_and(|s| s.find(id).is_some());
        for record in changes.upserted {
            if in_segment(state, &record.id) {
                state.shadowed.insert(record.id.clone());
            }
            state.delta.upsert(record.id, &record.vector, record.meta);
        }
        for id in changes.deleted {
            state.delta.remove(&id);
            if in_segment(state, &id) {
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
        // (score, node in the segment or row in the delta)
        let from_delta = state.delta.search(&query, top_k, threshold);
        let from_segment = match &state.segment {
            Some(segment) => {
                segment_search(segment, &state.shadowed, &query, top_k, threshold, settings)
            }
            None => Vec::new(),
        };
        let mut merged: Vec<(f32, usize)> = from_delta
            .into_iter()
            .map(|(score, row)| (score, row << 1))
            .chain(
                from_segment
                    .into_iter()
                    .map(|(score, node)| (score, (node as usize) << 1 | 1)),
            )
            .collect();
        merged = flat::best(merged, top_k);
        merged
            .into_iter()
            .map(|(score, tagged)| {
                let at = tagged >> 1;
                Ok(match (&state.segment, tagged & 1) {
                    (Some(segment), 1) => Hit {
                        id: segment.id(at as u32).to_owned(),
                        score,
                        meta: serde_json::from_str(segment.meta(at as u32))?,
                    },
                    _ => Hit {
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
        Ok(ids
            .iter()
            .map(|id| {
                state.delta.similarity(&query, id).or_else(|| {
                    let segment = state.segment.as_ref()?;
                    if state.shadowed.contains(id) {
                        return None;
                    }
                    let node = segment.find(id).filter(|&n| !segment.is_dead(n))?;
                    Some(flat::dot(segment.vector(node), &query))
                })
            })
            .collect())
    }

    /// After a write: folds the delta into a new segment when it has grown enough.
    /// Another process already building one is not waited for (it will publish).
    pub fn maintain(
        &self,
        storage: &dyn VectorStorage,
        generations: &dyn Generations,
        settings: &AnnSettings,
    ) -> Result<()> {
        let Some(dir) = self.dir(storage, settings) else {
            return Ok(());
        };
        self.refresh(storage, generations, settings)?;
        if !self
            .state
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .wants_segment(settings)
        {
            return Ok(());
        }
        std::fs::create_dir_all(&dir)?;
        let lock = File::create(dir.join(format!("{}.lock", self.namespace.as_str())))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Ok(()),
            Err(std::fs::TryLockError::Error(e)) => return Err(e.into()),
        }
        // Another builder may have published while this one waited for the lock.
        self.refresh(storage, generations, settings)?;
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        if !state.wants_segment(settings) {
            return Ok(());
        }
        let path = self.segment_path(&dir);
        let temporary = path.with_extension("hnsw.tmp");
        build(&state, &temporary)?;
        drop(state);
        std::fs::rename(&temporary, &path)?;
        File::open(&dir)?.sync_all()?;
        tracing::debug!(
            namespace = self.namespace.as_str(),
            "published a vector index segment"
        );
        generations.bump(self.namespace);
        Ok(())
    }
}

/// The segment's `top_k` live nodes at or above `threshold`. Dead and shadowed nodes
/// are skipped, so the search widens until enough live ones are found or the graph has
/// no more at that similarity.
fn segment_search(
    segment: &Segment,
    shadowed: &HashSet<String>,
    query: &[f32],
    top_k: usize,
    threshold: f32,
    settings: &AnnSettings,
) -> Vec<(f32, u32)> {
    let mut ef = settings.ef_search.max(top_k);
    loop {
        let found = hnsw::search(segment, query, ef);
        let exhausted = found.len() < ef
            || found.last().is_none_or(|&(score, _)| score < threshold)
            || ef >= segment.len();
        let live: Vec<(f32, u32)> = found
            .into_iter()
            .filter(|&(score, node)| {
                score >= threshold
                    && !segment.is_dead(node)
                    && (shadowed.is_empty() || !shadowed.contains(segment.id(node)))
            })
            .take(top_k)
            .collect();
        if live.len() >= top_k || exhausted {
            return live;
        }
        ef *= 2;
    }
}

/// Writes the segment that `state` searches today (segment and delta as one) to `path`.
fn build(state: &State, path: &Path) -> std::result::Result<(), AnnError> {
    let dim = state.dim().unwrap_or(0);
    let delta_metas: Vec<String> = (0..state.delta.len())
        .map(|i| state.delta.meta(i).to_string())
        .collect();
    let dead = |segment: &Segment, node: u32| {
        segment.is_dead(node) || state.shadowed.contains(segment.id(node))
    };
    let old = state.segment.as_deref();
    let dead_share = old.map_or(0.0, |s| {
        (0..s.len() as u32).filter(|&n| dead(s, n)).count() as f64 / s.len().max(1) as f64
    });
    let mut contents = Contents {
        epoch: state.epoch.unwrap_or(0),
        seq: state.seen.unwrap_or(0),
        ids: Vec::new(),
        metas: Vec::new(),
        dead: Vec::new(),
    };
    let mut graph = match old {
        Some(s) if dead_share <= DEAD_SHARE => {
            for node in 0..s.len() as u32 {
                contents.ids.push(s.id(node));
                contents.metas.push(s.meta(node));
                contents.dead.push(dead(s, node));
            }
            Builder::extending(dim, s.vectors(), s.links(), s.entry())
        }
        _ => {
            let mut graph = Builder::new(dim);
            for node in old
                .into_iter()
                .flat_map(|s| (0..s.len() as u32).map(move |n| (s, n)))
            {
                let (s, n) = node;
                if !dead(s, n) {
                    graph.insert(s.vector(n));
                    contents.ids.push(s.id(n));
                    contents.metas.push(s.meta(n));
                    contents.dead.push(false);
                }
            }
            graph
        }
    };
    for (row, meta) in delta_metas.iter().enumerate() {
        graph.insert(state.delta.row(row));
        contents.ids.push(state.delta.id(row));
        contents.metas.push(meta);
        contents.dead.push(false);
    }
    segment::write(path, &graph, &contents)
}
