//! Merging entities by hand (`/graph/entities/merge`, and renames): the sources'
//! descriptions, chunks and files join the target's, their relations move to it
//! (parallel ones combined, weights added; relations among them dropped), and the
//! sources are removed everywhere.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use super::{EditError, GraphEditor, Result};
use crate::storage::graph::{Entity, GRAPH_FIELD_SEP, Relation};

/// `<SEP>`-joined fragments of both, in order, without repeats or blanks.
fn union(a: &str, b: &str) -> String {
    let mut seen = HashSet::new();
    a.split(GRAPH_FIELD_SEP)
        .chain(b.split(GRAPH_FIELD_SEP))
        .filter(|f| !f.is_empty() && seen.insert(*f))
        .collect::<Vec<_>>()
        .join(GRAPH_FIELD_SEP)
}

fn keywords_union(a: &str, b: &str) -> String {
    let mut seen = HashSet::new();
    a.split(',')
        .chain(b.split(','))
        .map(str::trim)
        .filter(|k| !k.is_empty() && seen.insert(k.to_owned()))
        .collect::<Vec<_>>()
        .join(", ")
}

impl GraphEditor<'_> {
    /// Merges `sources` into `target` (created if missing) and returns it.
    pub fn merge_entities(&self, sources: &[String], target: &str) -> Result<Entity> {
        let graph = self.stores.graph;
        let sources: Vec<&String> = sources.iter().filter(|s| s.as_str() != target).collect();
        let mut merged = graph.node_get(target)?;
        let mut nodes = Vec::new();
        for source in &sources {
            let node = graph
                .node_get(source)?
                .ok_or_else(|| EditError::Invalid(format!("Entity '{source}' does not exist")))?;
            nodes.push(node);
        }
        for node in nodes {
            merged = Some(match merged {
                None => node,
                Some(mut m) => {
                    m.description = union(&m.description, &node.description);
                    m.source_id = union(&m.source_id, &node.source_id);
                    m.file_path = union(&m.file_path, &node.file_path);
                    if m.entity_type.is_empty() {
                        m.entity_type = node.entity_type;
                    }
                    m
                }
            });
        }
        let mut merged = merged.unwrap_or_else(|| Entity {
            entity_type: "UNKNOWN".to_owned(),
            ..Entity::new(target)
        });
        merged.name = target.to_owned();
        let moving: HashSet<&str> = sources.iter().map(|s| s.as_str()).chain([target]).collect();
        // The relations the target ends up with, by the other endpoint.
        let mut relations: HashMap<String, Relation> = HashMap::new();
        for name in sources.iter().map(|s| s.as_str()).chain([target]) {
            for edge in graph.edges_of(name)? {
                let outward = edge.source == name;
                let other = if outward {
                    edge.target.clone()
                } else {
                    edge.source.clone()
                };
                if moving.contains(other.as_str()) {
                    continue;
                }
                let (s, t) = if outward {
                    (target.to_owned(), other.clone())
                } else {
                    (other.clone(), target.to_owned())
                };
                match relations.entry(other) {
                    Entry::Occupied(mut kept) => {
                        let r = kept.get_mut();
                        r.description = union(&r.description, &edge.description);
                        r.source_id = union(&r.source_id, &edge.source_id);
                        r.file_path = union(&r.file_path, &edge.file_path);
                        r.keywords = keywords_union(&r.keywords, &edge.keywords);
                        r.weight += edge.weight;
                    }
                    Entry::Vacant(slot) => {
                        slot.insert(Relation {
                            source: s,
                            target: t,
                            ..edge
                        });
                    }
                }
            }
        }
        for source in &sources {
            self.drop_entity(source)?;
        }
        let old: Vec<(String, String)> = graph
            .edges_of(target)?
            .into_iter()
            .map(|e| (e.source, e.target))
            .collect();
        self.stores.drop_relations(&old)?;
        self.put_entity(&merged)?;
        let relations: Vec<Relation> = relations.into_values().collect();
        self.stores
            .put_relations::<EditError>(self.embedder, self.batching, &relations)?;
        let renamed: HashMap<String, Option<String>> = sources
            .iter()
            .map(|s| ((*s).clone(), Some(target.to_owned())))
            .collect();
        self.rewrite_document_lists(&renamed)?;
        Ok(merged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unions_keep_order_and_drop_repeats() {
        assert_eq!(union("a<SEP>b", "b<SEP>c"), "a<SEP>b<SEP>c");
        assert_eq!(union("", "x"), "x");
        assert_eq!(keywords_union("a, b", "b,c"), "a, b, c");
    }
}
