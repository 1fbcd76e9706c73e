//! Hierarchical navigable small-world graphs (Malkov and Yashunin, 2016): the search,
//! over any [`Layers`] (the mmap'd segment readers use, or the [`Builder`] a writer
//! fills), and the insertion that builds one. Similarity is the dot product of unit
//! vectors (cosine), larger is nearer.
//!
//! A node's level is drawn from a geometric distribution (`1 / ln M`), so each level
//! holds about `1/M` of the one below; level 0 keeps up to `2M` neighbours, the others
//! `M`. Neighbours are chosen with the paper's heuristic (a candidate is kept only when
//! it is nearer to the new node than to every neighbour already kept), which keeps the
//! graph navigable across clusters and is what makes recall high at a small `ef`.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use super::dot::{dot, dots};

/// Neighbours per node on levels above 0 (twice as many on level 0).
pub const M: usize = 16;
/// Candidates kept while inserting.
const EF_CONSTRUCTION: usize = 100;

/// A graph to search: unit vectors, each node's neighbours per level, an entry point.
pub trait Layers {
    fn vector(&self, node: u32) -> &[f32];
    fn neighbors(&self, node: u32, level: usize) -> &[u32];
    /// The entry node and its (the top) level; `None` when the graph is empty.
    fn entry(&self) -> Option<(u32, usize)>;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A similarity and its node, ordered by similarity.
#[derive(Clone, Copy, PartialEq)]
struct Near(f32, u32);

impl Eq for Near {}
impl PartialOrd for Near {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Near {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

/// Which nodes a search has seen (one bit per node).
struct Visited(Vec<u64>);

impl Visited {
    fn new(len: usize) -> Visited {
        Visited(vec![0; len.div_ceil(64)])
    }
    /// Marks `node`; whether it was new.
    fn insert(&mut self, node: u32) -> bool {
        let (word, bit) = (node as usize / 64, 1u64 << (node % 64));
        let new = self.0[word] & bit == 0;
        self.0[word] |= bit;
        new
    }
}

/// The `ef` nodes nearest `query` found from `entries` on `level`, nearest first.
fn search_level(
    graph: &impl Layers,
    query: &[f32],
    entries: &[Near],
    ef: usize,
    level: usize,
    visited: &mut Visited,
) -> Vec<Near> {
    let mut candidates: BinaryHeap<Near> = BinaryHeap::new();
    let mut found: BinaryHeap<Reverse<Near>> = BinaryHeap::new();
    for &e in entries {
        if visited.insert(e.1) {
            candidates.push(e);
            found.push(Reverse(e));
        }
    }
    while found.len() > ef {
        found.pop();
    }
    let (mut fresh, mut scores) = (Vec::new(), Vec::new());
    while let Some(current) = candidates.pop() {
        let worst = found.peek().map_or(f32::NEG_INFINITY, |w| w.0.0);
        if current.0 < worst && found.len() >= ef {
            break;
        }
        // The unvisited neighbours' scores together (`dots`), then each in turn.
        fresh.clear();
        fresh.extend(
            graph
                .neighbors(current.1, level)
                .iter()
                .copied()
                .filter(|&next| visited.insert(next)),
        );
        scores.clear();
        dots(fresh.iter().map(|&n| graph.vector(n)), query, &mut scores);
        for (&next, &score) in fresh.iter().zip(&scores) {
            let near = Near(score, next);
            let worst = found.peek().map_or(f32::NEG_INFINITY, |w| w.0.0);
            if found.len() < ef || near.0 > worst {
                candidates.push(near);
                found.push(Reverse(near));
                if found.len() > ef {
                    found.pop();
                }
            }
        }
    }
    let mut out: Vec<Near> = found.into_iter().map(|r| r.0).collect();
    out.sort_by(|a, b| b.cmp(a));
    out
}

/// Greedy descent from the entry to level `down_to`, then the `ef` nearest there.
fn descend(graph: &impl Layers, query: &[f32], ef: usize, down_to: usize) -> Vec<Near> {
    let Some((entry, top)) = graph.entry() else {
        return Vec::new();
    };
    let mut nearest = vec![Near(dot(graph.vector(entry), query), entry)];
    for level in (down_to + 1..=top).rev() {
        let mut visited = Visited::new(graph.len());
        nearest = search_level(graph, query, &nearest[..1], 1, level, &mut visited);
    }
    let mut visited = Visited::new(graph.len());
    search_level(
        graph,
        query,
        &nearest[..1],
        ef,
        down_to.min(top),
        &mut visited,
    )
}

/// The (up to) `ef` nodes nearest the unit-length `query`, nearest first, as
/// (similarity, node).
pub fn search(graph: &impl Layers, query: &[f32], ef: usize) -> Vec<(f32, u32)> {
    descend(graph, query, ef.max(1), 0)
        .into_iter()
        .map(|n| (n.0, n.1))
        .collect()
}

/// A graph being built in memory: the nodes of an earlier segment (their vectors
/// borrowed from its map, their links copied) followed by new ones.
pub struct Builder<'a> {
    dim: usize,
    /// Vectors of the first `borrowed.len() / dim` nodes.
    borrowed: &'a [f32],
    owned: Vec<f32>,
    /// Per node, per level, the neighbours.
    links: Vec<Vec<Vec<u32>>>,
    entry: Option<(u32, usize)>,
    rng: fastrand::Rng,
}

impl<'a> Layers for Builder<'a> {
    fn vector(&self, node: u32) -> &[f32] {
        let start = node as usize * self.dim;
        if start < self.borrowed.len() {
            &self.borrowed[start..start + self.dim]
        } else {
            let start = start - self.borrowed.len();
            &self.owned[start..start + self.dim]
        }
    }
    fn neighbors(&self, node: u32, level: usize) -> &[u32] {
        self.links[node as usize]
            .get(level)
            .map_or(&[], Vec::as_slice)
    }
    fn entry(&self) -> Option<(u32, usize)> {
        self.entry
    }
    fn len(&self) -> usize {
        self.links.len()
    }
}

impl<'a> Builder<'a> {
    /// An empty graph of `dim`-dimensional vectors.
    pub fn new(dim: usize) -> Builder<'a> {
        Builder::extending(dim, &[], Vec::new(), None)
    }

    /// A graph that starts as an earlier one: `vectors` and `links` of its nodes.
    pub fn extending(
        dim: usize,
        vectors: &'a [f32],
        links: Vec<Vec<Vec<u32>>>,
        entry: Option<(u32, usize)>,
    ) -> Builder<'a> {
        Builder {
            dim,
            borrowed: vectors,
            owned: Vec::new(),
            // Seeded by the size, so the same writes build the same graph.
            rng: fastrand::Rng::with_seed(links.len() as u64 ^ 0x9e37_79b9_7f4a_7c15),
            links,
            entry,
        }
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The links of every node, per level.
    pub fn links(&self) -> &[Vec<Vec<u32>>] {
        &self.links
    }

    fn random_level(&mut self) -> usize {
        let ml = 1.0 / (M as f64).ln();
        let u = 1.0 - self.rng.f64(); // (0, 1]
        ((-u.ln() * ml) as usize).min(16)
    }

    fn capacity(level: usize) -> usize {
        if level == 0 { 2 * M } else { M }
    }

    /// The paper's neighbour heuristic: from `candidates` (nearest first), keep one only
    /// when it is nearer to the node than to every one already kept.
    fn select(&self, candidates: &[Near], keep: usize) -> Vec<u32> {
        let mut kept: Vec<u32> = Vec::with_capacity(keep);
        for c in candidates {
            if kept.len() == keep {
                break;
            }
            let v = self.vector(c.1);
            if kept.iter().all(|&k| dot(v, self.vector(k)) < c.0) {
                kept.push(c.1);
            }
        }
        // Fill up with the nearest skipped ones: a short list only loses reach.
        for c in candidates {
            if kept.len() == keep {
                break;
            }
            if !kept.contains(&c.1) {
                kept.push(c.1);
            }
        }
        kept
    }

    /// Adds `vector` (unit length, `dim` floats) as the next node; its number.
    pub fn insert(&mut self, vector: &[f32]) -> u32 {
        let node = self.links.len() as u32;
        self.owned.extend_from_slice(vector);
        let level = self.random_level();
        self.links.push(vec![Vec::new(); level + 1]);
        let Some((entry, top)) = self.entry else {
            self.entry = Some((node, level));
            return node;
        };
        let mut nearest = vec![Near(dot(self.vector(entry), vector), entry)];
        for l in (level + 1..=top).rev() {
            let mut visited = Visited::new(self.len());
            nearest = search_level(&*self, vector, &nearest[..1], 1, l, &mut visited);
        }
        for l in (0..=level.min(top)).rev() {
            let mut visited = Visited::new(self.len());
            visited.insert(node);
            let found = search_level(&*self, vector, &nearest, EF_CONSTRUCTION, l, &mut visited);
            let chosen = self.select(&found, M);
            for &other in &chosen {
                self.link(other, node, l);
            }
            self.links[node as usize][l] = chosen;
            nearest = found;
        }
        if level > top {
            self.entry = Some((node, level));
        }
        node
    }

    /// Adds `to` to `from`'s neighbours on `level`, pruning them with the heuristic
    /// when they overflow.
    fn link(&mut self, from: u32, to: u32, level: usize) {
        let cap = Self::capacity(level);
        let list = &mut self.links[from as usize][level];
        list.push(to);
        if list.len() <= cap {
            return;
        }
        let v = self.vector(from);
        let mut scored: Vec<Near> = self.links[from as usize][level]
            .iter()
            .map(|&n| Near(dot(v, self.vector(n)), n))
            .collect();
        scored.sort_by(|a, b| b.cmp(a));
        let kept = self.select(&scored, cap);
        self.links[from as usize][level] = kept;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::flat::{Flat, normalized};
    use super::*;

    /// `count` seeded random unit vectors of `dim` dimensions.
    pub(crate) fn random_vectors(count: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut rng = fastrand::Rng::with_seed(seed);
        (0..count)
            .map(|_| normalized(&(0..dim).map(|_| rng.f32() - 0.5).collect::<Vec<_>>()))
            .collect()
    }

    /// The share of the exact top `k` that the graph's top `k` finds, over `queries`.
    pub(crate) fn recall(
        exact: &Flat,
        approximate: impl Fn(&[f32]) -> Vec<String>,
        queries: &[Vec<f32>],
        k: usize,
    ) -> f64 {
        let mut found = 0;
        let mut wanted = 0;
        for q in queries {
            let truth: Vec<&str> = exact
                .search(q, k, -1.0)
                .iter()
                .map(|&(_, i)| exact.id(i))
                .collect();
            let got = approximate(q);
            wanted += truth.len();
            found += truth.iter().filter(|t| got.iter().any(|g| g == *t)).count();
        }
        found as f64 / wanted as f64
    }

    #[test]
    fn recall_at_40_against_exact_search_is_at_least_095() {
        let (count, dim) = (5000, 64);
        let vectors = random_vectors(count, dim, 7);
        let mut builder = Builder::new(dim);
        let mut exact = Flat::new(dim);
        for (i, v) in vectors.iter().enumerate() {
            builder.insert(v);
            exact.upsert(i.to_string(), v, serde_json::Value::Null);
        }
        let queries = random_vectors(50, dim, 8);
        let r = recall(
            &exact,
            |q| {
                search(&builder, q, 160)
                    .into_iter()
                    .take(40)
                    .map(|(_, n)| n.to_string())
                    .collect()
            },
            &queries,
            40,
        );
        assert!(r >= 0.95, "recall {r}");
    }

    #[test]
    fn an_empty_graph_finds_nothing_and_one_node_finds_itself() {
        let mut builder = Builder::new(3);
        assert!(search(&builder, &[1.0, 0.0, 0.0], 10).is_empty());
        builder.insert(&[1.0, 0.0, 0.0]);
        assert_eq!(search(&builder, &[1.0, 0.0, 0.0], 10)[0].1, 0);
    }
}
