//! Publishing a namespace's index, tiered so that a publish costs about what it adds:
//! the delta becomes a new small segment and the segments already written stay as
//! they are, with the nodes that died since listed in the manifest. Segments are
//! merged only when the newest one has grown to a quarter of the one before it (so
//! sizes fall by at least four from the oldest to the newest and a vector is rewritten
//! a few times over the store's life, not at every publish), or when there are too
//! many to search; a segment with many dead nodes is rewritten with its live ones
//! only, which is where deletions stop costing space and search time.
//!
//! A build works on a [`Snapshot`] (its own copy of the delta, the segments by `Arc`),
//! so it runs on any thread, holding no lock a writer or a reader waits for: only the
//! namespace's builder lock file, which keeps one build at a time across processes.

use std::collections::HashSet;
use std::fs::File;
use std::path::PathBuf;

use super::Result;
use super::flat::Flat;
use super::hnsw::{Builder, Layers as _};
use super::manifest::{self, Entry, Manifest};
use super::part::Part;
use super::segment::{self, Contents};

/// A delta of this many vectors (or tombstones) is published as a new segment.
pub const DELTA_MIN: usize = 1024;
/// A segment with more dead nodes than this share is rewritten with its live ones.
const DEAD_SHARE: f64 = 0.25;
/// The newest segment is merged into the one before once it is a quarter of its size.
const RATIO: usize = 4;
/// More segments than this are merged, newest first, whatever their sizes.
const MAX_SEGMENTS: usize = 6;

/// A worker's view of one namespace, copied to be built from.
pub struct Snapshot {
    pub namespace: &'static str,
    pub dir: PathBuf,
    pub epoch: u64,
    /// The last store change the delta includes.
    pub seq: u64,
    /// The number the next new segment gets.
    pub next: u64,
    pub parts: Vec<Part>,
    pub delta: Flat,
    /// Ids whose copy in a part is stale (deleted or rewritten after the manifest).
    pub shadowed: HashSet<String>,
    /// Held until the new manifest is published.
    pub lock: File,
}

/// Where a node of a group comes from.
#[derive(Clone, Copy)]
enum Source {
    Part(usize),
    Delta,
}

/// The sources one segment of the new manifest is made of, oldest first.
struct Group {
    sources: Vec<Source>,
    live: usize,
}

/// The new manifest's segments from the parts' and the delta's live counts: the
/// existing parts, the delta after them, and the newest merged into the one before
/// while it is at least a quarter of its size (or while there are too many).
fn plan(lives: &[usize], delta: usize) -> Vec<Group> {
    let mut stack: Vec<Group> = lives
        .iter()
        .enumerate()
        .filter(|&(_, &live)| live > 0)
        .map(|(i, &live)| Group {
            sources: vec![Source::Part(i)],
            live,
        })
        .collect();
    if delta > 0 {
        stack.push(Group {
            sources: vec![Source::Delta],
            live: delta,
        });
    }
    while let [.., older, newer] = stack.as_slice() {
        if stack.len() <= MAX_SEGMENTS && newer.live * RATIO < older.live {
            break;
        }
        let Some(newer) = stack.pop() else { break };
        if let Some(older) = stack.last_mut() {
            older.sources.extend(newer.sources);
            older.live += newer.live;
        }
    }
    stack
}

fn dead_share(part: &Part, live: usize) -> f64 {
    let len = part.segment.len().max(1);
    1.0 - live as f64 / len as f64
}

/// `part` with the nodes of `shadowed` ids dead too.
fn with_dead(part: &Part, shadowed: &HashSet<String>) -> Part {
    let mut dead = part.dead.to_vec();
    dead.extend(shadowed.iter().filter_map(|id| part.find(id)));
    dead.sort_unstable();
    dead.dedup();
    Part {
        dead: std::sync::Arc::new(dead),
        ..part.clone()
    }
}

impl Snapshot {
    fn dim(&self) -> usize {
        match self.parts.first() {
            Some(p) => p.segment.dim(),
            None if !self.delta.is_empty() => self.delta.row(0).len(),
            None => 0,
        }
    }

    /// Writes the new segments, then the manifest that lists them; the manifest.
    pub fn publish(self) -> Result<Manifest> {
        let parts: Vec<Part> = self
            .parts
            .iter()
            .map(|p| with_dead(p, &self.shadowed))
            .collect();
        let lives: Vec<usize> = parts.iter().map(Part::live).collect();
        let groups = plan(&lives, self.delta.len());
        let mut manifest = Manifest {
            version: manifest::VERSION,
            epoch: self.epoch,
            seq: self.seq,
            next: self.next,
            segments: Vec::with_capacity(groups.len()),
        };
        for group in &groups {
            match group.sources.as_slice() {
                &[Source::Part(i)] if dead_share(&parts[i], lives[i]) <= DEAD_SHARE => {
                    manifest.segments.push(Entry {
                        file: parts[i].file.clone(),
                        dead: parts[i].dead.to_vec(),
                    });
                }
                sources => {
                    let file = manifest::segment_name(self.namespace, self.epoch, manifest.next);
                    manifest.next += 1;
                    self.write(&file, sources, &parts, &lives)?;
                    manifest.segments.push(Entry {
                        file,
                        dead: Vec::new(),
                    });
                }
            }
        }
        manifest::publish(&self.dir, self.namespace, &manifest)?;
        tracing::debug!(
            namespace = self.namespace,
            segments = manifest.segments.len(),
            written = groups.iter().filter(|g| g.sources.len() > 1).count(),
            seq = manifest.seq,
            "published the vector index"
        );
        drop(self.lock);
        Ok(manifest)
    }

    /// Writes the segment `file` of `sources`: the first one's graph extended when it
    /// is a part with few dead nodes, else a new graph of every live node.
    fn write(&self, file: &str, sources: &[Source], parts: &[Part], lives: &[usize]) -> Result<()> {
        let dim = self.dim();
        let delta_metas: Vec<String> = if sources.iter().any(|s| matches!(s, Source::Delta)) {
            (0..self.delta.len())
                .map(|i| self.delta.meta(i).to_string())
                .collect()
        } else {
            Vec::new()
        };
        let mut contents = Contents {
            epoch: self.epoch,
            seq: self.seq,
            ids: Vec::new(),
            metas: Vec::new(),
            dead: Vec::new(),
        };
        let (mut graph, rest) = match sources.first() {
            Some(&Source::Part(i)) if dead_share(&parts[i], lives[i]) <= DEAD_SHARE => {
                let part = &parts[i];
                let s = &*part.segment;
                for node in 0..s.len() as u32 {
                    contents.ids.push(s.id(node));
                    contents.metas.push(s.meta(node));
                    contents.dead.push(part.is_dead(node));
                }
                let graph = Builder::extending(dim, s.vectors(), s.links(), s.entry());
                (graph, &sources[1..])
            }
            _ => (Builder::new(dim), sources),
        };
        for source in rest {
            match *source {
                Source::Part(i) => {
                    let part = &parts[i];
                    for node in (0..part.segment.len() as u32).filter(|&n| !part.is_dead(n)) {
                        graph.insert(part.segment.vector(node));
                        contents.ids.push(part.segment.id(node));
                        contents.metas.push(part.segment.meta(node));
                        contents.dead.push(false);
                    }
                }
                Source::Delta => {
                    for (row, meta) in delta_metas.iter().enumerate() {
                        graph.insert(self.delta.row(row));
                        contents.ids.push(self.delta.id(row));
                        contents.metas.push(meta);
                        contents.dead.push(false);
                    }
                }
            }
        }
        segment::write(&self.dir.join(file), &graph, &contents)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shapes(groups: &[Group]) -> Vec<usize> {
        groups.iter().map(|g| g.live).collect()
    }

    #[test]
    fn a_small_delta_is_appended_and_merged_only_once_it_is_a_quarter_of_the_one_before() {
        assert_eq!(shapes(&plan(&[], 5000)), [5000]);
        assert_eq!(shapes(&plan(&[100_000], 1024)), [100_000, 1024]);
        assert_eq!(shapes(&plan(&[100_000, 1024], 1024)), [100_000, 2048]);
        assert_eq!(
            shapes(&plan(&[100_000, 20_000], 1024)),
            [100_000, 20_000, 1024]
        );
        // The merge carries on down the tiers.
        assert_eq!(shapes(&plan(&[100_000, 24_000, 5000], 2000)), [131_000]);
        // Parts with no live node are dropped; nothing new: the parts stay.
        assert_eq!(shapes(&plan(&[0, 9000], 0)), [9000]);
        let many: Vec<usize> = (0..8).map(|i| 1 << (30 - 3 * i)).collect();
        assert!(plan(&many, 1).len() <= MAX_SEGMENTS);
        let sources: Vec<usize> = plan(&[100_000, 2048], 1024)[1]
            .sources
            .iter()
            .map(|s| match s {
                Source::Part(i) => *i,
                Source::Delta => usize::MAX,
            })
            .collect();
        assert_eq!(sources, [1, usize::MAX], "oldest first within a merge");
    }
}
