//! The graph as the web UI's explorer reads it: label search and the neighbourhood of
//! a node (or the most connected part of the graph), bounded in size.
//!
//! Reads go by the batch: one statement per hop of the walk (the ends of every edge of
//! that hop's nodes, no properties), then one for the kept nodes and one for the kept
//! edges, whatever their number; on PostgreSQL each read is a round trip.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::{GraphEditor, Result};
use crate::ids;
use crate::storage::graph::{Entity, GraphStorage, Relation};

/// The ends of each node's edges (a self-loop once), in one read for all of them, each
/// node's in the order of their canonical pair.
fn incident(graph: &dyn GraphStorage, nodes: &[String]) -> Result<Vec<Vec<(String, String)>>> {
    Ok(graph
        .edge_weights_of_many(nodes)?
        .into_iter()
        .map(|weights| {
            let mut ends: Vec<(String, String)> =
                weights.into_iter().map(|(s, t, _)| (s, t)).collect();
            ends.sort_by(|x, y| ids::endpoints(&x.0, &x.1).cmp(&ids::endpoints(&y.0, &y.1)));
            ends
        })
        .collect())
}

/// A node as the graph explorer shows it.
#[derive(Debug, Clone, Serialize)]
pub struct GraphNode {
    pub id: String,
    pub labels: Vec<String>,
    pub properties: Entity,
}

#[derive(Debug, Clone, Serialize)]
pub struct GraphEdge {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub source: String,
    pub target: String,
    pub properties: Relation,
}

#[derive(Debug, Clone, Serialize)]
pub struct Subgraph {
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
    pub is_truncated: bool,
}

fn node_view(entity: Entity) -> GraphNode {
    GraphNode {
        id: entity.name.clone(),
        labels: vec![entity.name.clone()],
        properties: entity,
    }
}

fn edge_view(relation: Relation) -> GraphEdge {
    GraphEdge {
        id: format!("{}-{}", relation.source, relation.target),
        kind: "DIRECTED",
        source: relation.source.clone(),
        target: relation.target.clone(),
        properties: relation,
    }
}

/// Relevance of a label to a search, 0 for no match: exact, prefix, word prefix,
/// substring, then the query's characters in order.
pub fn label_score(label: &str, query: &str) -> u32 {
    let (l, q) = (label.to_lowercase(), query.trim().to_lowercase());
    if q.is_empty() {
        return 0;
    }
    let closeness = 20u32.saturating_sub((l.len().abs_diff(q.len()) as u32).min(20));
    if l == q {
        return 1000;
    }
    if l.starts_with(&q) {
        return 800 + closeness;
    }
    if l.split(|c: char| !c.is_alphanumeric())
        .any(|w| w.starts_with(&q))
    {
        return 600 + closeness;
    }
    if l.contains(&q) {
        return 400 + closeness;
    }
    let mut rest = l.chars();
    if q.chars().all(|c| rest.any(|x| x == c)) {
        return 100 + closeness;
    }
    0
}

impl GraphEditor<'_> {
    /// Names matching `query`, best first.
    pub fn search_labels(&self, query: &str, limit: usize) -> Result<Vec<String>> {
        let mut scored: Vec<(u32, String)> = self
            .stores
            .graph
            .node_names()?
            .into_iter()
            .map(|name| (label_score(&name, query), name))
            .filter(|(score, _)| *score > 0)
            .collect();
        scored.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then(a.1.len().cmp(&b.1.len()))
                .then(a.1.cmp(&b.1))
        });
        Ok(scored
            .into_iter()
            .take(limit)
            .map(|(_, name)| name)
            .collect())
    }

    /// The neighbourhood of `label` up to `max_depth` hops, or with `*` the most
    /// connected nodes; at most `max_nodes` nodes, fewer hops then higher degree kept.
    pub fn subgraph(&self, label: &str, max_depth: usize, max_nodes: usize) -> Result<Subgraph> {
        let graph = self.stores.graph;
        let (names, is_truncated) = if label == "*" {
            let all = graph.node_names()?.len();
            (graph.most_connected(max_nodes)?, all > max_nodes)
        } else {
            if graph.node_get(label)?.is_none() {
                return Ok(Subgraph {
                    nodes: Vec::new(),
                    edges: Vec::new(),
                    is_truncated: false,
                });
            }
            // Breadth first, one hop at a time, remembering each node's hop count.
            // Once more nodes are found than are kept, deeper ones could only be cut.
            let mut depth: HashMap<String, usize> = HashMap::from([(label.to_owned(), 0)]);
            let mut order = vec![label.to_owned()];
            let mut frontier = vec![label.to_owned()];
            for d in 0..max_depth {
                if frontier.is_empty() || order.len() > max_nodes {
                    break;
                }
                let mut next = Vec::new();
                for (node, ends) in frontier.iter().zip(incident(graph, &frontier)?) {
                    for (source, target) in ends {
                        let other = if source == *node { target } else { source };
                        if !depth.contains_key(&other) {
                            depth.insert(other.clone(), d + 1);
                            order.push(other.clone());
                            next.push(other);
                        }
                    }
                }
                frontier = next;
            }
            let truncated = order.len() > max_nodes;
            if truncated {
                let degrees = graph.node_degrees(&order)?;
                order.sort_by(|a, b| {
                    depth[a]
                        .cmp(&depth[b])
                        .then(degrees.get(b).cmp(&degrees.get(a)))
                        .then(a.cmp(b))
                });
                order.truncate(max_nodes);
            }
            (order, truncated)
        };
        let kept: HashSet<&str> = names.iter().map(String::as_str).collect();
        let mut found = graph.nodes_get(&names)?;
        let nodes: Vec<GraphNode> = names
            .iter()
            .filter_map(|name| found.remove(name).map(node_view))
            .collect();
        let mut seen = HashSet::new();
        let pairs: Vec<(String, String)> = incident(graph, &names)?
            .into_iter()
            .flatten()
            .filter(|(s, t)| {
                kept.contains(s.as_str())
                    && kept.contains(t.as_str())
                    && seen.insert(ids::endpoints(s.clone(), t.clone()))
            })
            .collect();
        let mut relations = graph.edges_get(&pairs)?;
        let edges: Vec<GraphEdge> = pairs
            .into_iter()
            .filter_map(|(s, t)| relations.remove(&ids::endpoints(s, t)).map(edge_view))
            .collect();
        Ok(Subgraph {
            nodes,
            edges,
            is_truncated,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_scores_rank_exact_prefix_word_substring_subsequence() {
        let q = "curie";
        let mut labels = [
            "Pierre Curie",
            "Curie",
            "Curiosity",
            "Marie Curie Institute",
            "Ecurie",
            "Cure Index",
        ];
        labels.sort_by_key(|l| std::cmp::Reverse(label_score(l, q)));
        assert_eq!(labels[0], "Curie");
        assert_eq!(label_score("Polonium", q), 0);
        assert!(label_score("Curiosity", "curi") > label_score("Pierre Curie", "curi"));
        assert!(label_score("Pierre Curie", q) > label_score("Ecurie", q));
        assert!(label_score("Elon Musk", "elnmsk") > 0);
    }
}
