//! One mapped segment as the manifest lists it: the immutable file and the nodes that
//! died after it was written (the manifest's list for it), searched with those skipped.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use super::Result;
use super::hnsw::{self, Layers as _};
use super::manifest::Identity;
use super::segment::Segment;

#[derive(Clone)]
pub struct Part {
    pub segment: Arc<Segment>,
    /// The file's name in the index directory and its identity.
    pub file: String,
    pub identity: Identity,
    /// Nodes dead since the segment was written, sorted.
    pub dead: Arc<Vec<u32>>,
}

impl Part {
    /// Maps `file` in `dir` (or reuses `known`'s map of the same file) with `dead`.
    pub fn open(dir: &Path, file: &str, dead: Vec<u32>, known: &[Part]) -> Result<Part> {
        let path = dir.join(file);
        let identity = super::manifest::identity(&path);
        let reused = known
            .iter()
            .find(|p| p.file == file && Some(p.identity) == identity);
        let (segment, identity) = match (reused, identity) {
            (Some(p), _) => (p.segment.clone(), p.identity),
            (None, Some(identity)) => match Segment::open(&path)? {
                Some(segment) => (Arc::new(segment), identity),
                None => return Err(not_found(file)),
            },
            (None, None) => return Err(not_found(file)),
        };
        let mut dead = dead;
        dead.sort_unstable();
        dead.dedup();
        Ok(Part {
            segment,
            file: file.to_owned(),
            identity,
            dead: Arc::new(dead),
        })
    }

    pub fn is_dead(&self, node: u32) -> bool {
        self.segment.is_dead(node) || self.dead.binary_search(&node).is_ok()
    }

    /// The live node stored under `id`.
    pub fn find(&self, id: &str) -> Option<u32> {
        self.segment.find_all(id).find(|&n| !self.is_dead(n))
    }

    pub fn live(&self) -> usize {
        (0..self.segment.len() as u32)
            .filter(|&n| !self.is_dead(n))
            .count()
    }

    /// The `top_k` live nodes at or above `threshold` that are not `shadowed`, keeping
    /// `ef` candidates (at least `top_k`). The search widens until enough are found or
    /// the graph has no more at that similarity.
    pub fn search(
        &self,
        shadowed: &HashSet<String>,
        query: &[f32],
        top_k: usize,
        threshold: f32,
        ef: usize,
    ) -> Vec<(f32, u32)> {
        let segment = &*self.segment;
        let mut ef = ef.max(top_k);
        loop {
            let found = hnsw::search(segment, query, ef);
            let exhausted = found.len() < ef
                || found.last().is_none_or(|&(score, _)| score < threshold)
                || ef >= segment.len();
            let live: Vec<(f32, u32)> = found
                .into_iter()
                .filter(|&(score, node)| {
                    score >= threshold
                        && !self.is_dead(node)
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
}

fn not_found(file: &str) -> super::AnnError {
    super::AnnError::Io(std::io::Error::new(
        std::io::ErrorKind::NotFound,
        format!("segment {file} is gone"),
    ))
}
