//! The knowledge graph as LightRAG stores it: entities (nodes) and undirected relations
//! (edges), each a JSON object of properties. The records here are those properties,
//! typed; they serialise to exactly the JSON the indexing steps write (same keys, same
//! order), so stored graphs read back unchanged. Properties a user added when creating
//! an element by hand are kept in `extra`; such a record reads back with the same
//! properties, in this order rather than the request's.
//!
//! Lists inside a property (chunk ids, files, description fragments) are joined by
//! [`GRAPH_FIELD_SEP`], LightRAG's storage format.

use std::collections::HashMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::Result;

/// LightRAG's separator between the fragments of a list property.
pub const GRAPH_FIELD_SEP: &str = "<SEP>";

/// The non-empty fragments of a `<SEP>`-joined property.
pub fn fragments(joined: &str) -> impl Iterator<Item = &str> {
    joined.split(GRAPH_FIELD_SEP).filter(|f| !f.is_empty())
}

/// A text property; a value of another type (possible in elements created by hand) is
/// read as its JSON text rather than refused, a missing one as empty.
fn text<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    })
}

fn default_weight() -> f64 {
    1.0
}

/// An entity: a node's properties.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    /// The node's name, stored as LightRAG's `entity_id` (the store's key wins).
    #[serde(rename = "entity_id", default)]
    pub name: String,
    #[serde(default, deserialize_with = "text")]
    pub entity_type: String,
    /// Description fragments, `<SEP>`-joined.
    #[serde(default, deserialize_with = "text")]
    pub description: String,
    /// Ids of the chunks that name the entity, `<SEP>`-joined.
    #[serde(default, deserialize_with = "text")]
    pub source_id: String,
    /// Files of those chunks, `<SEP>`-joined.
    #[serde(default, deserialize_with = "text")]
    pub file_path: String,
    /// Seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<i64>,
    /// Further properties, as given.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A relation: an undirected edge's endpoints and properties.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Relation {
    /// The endpoints as first inserted (kept by the store, not in the properties).
    #[serde(skip)]
    pub source: String,
    #[serde(skip)]
    pub target: String,
    /// How many distinct chunks state the relation (at least; users may raise it).
    #[serde(default = "default_weight")]
    pub weight: f64,
    /// Comma-separated.
    #[serde(default, deserialize_with = "text")]
    pub keywords: String,
    #[serde(default, deserialize_with = "text")]
    pub description: String,
    #[serde(default, deserialize_with = "text")]
    pub source_id: String,
    #[serde(default, deserialize_with = "text")]
    pub file_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<i64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Entity {
    /// An entity with no properties yet.
    pub fn new(name: impl Into<String>) -> Entity {
        Entity {
            name: name.into(),
            entity_type: String::new(),
            description: String::new(),
            source_id: String::new(),
            file_path: String::new(),
            created_at: None,
            extra: Map::new(),
        }
    }
}

impl Relation {
    /// A relation of weight 1 with no other properties yet.
    pub fn new(source: impl Into<String>, target: impl Into<String>) -> Relation {
        Relation {
            source: source.into(),
            target: target.into(),
            weight: default_weight(),
            keywords: String::new(),
            description: String::new(),
            source_id: String::new(),
            file_path: String::new(),
            created_at: None,
            extra: Map::new(),
        }
    }
}

pub trait GraphStorage {
    /// Many entities in one transaction (one disk sync, not one per node).
    fn nodes_upsert(&self, entities: &[Entity]) -> Result<()>;
    fn node_get(&self, name: &str) -> Result<Option<Entity>>;
    /// Removes the node and its edges.
    fn node_delete(&self, name: &str) -> Result<()>;
    fn node_names(&self) -> Result<Vec<String>>;
    /// The `limit` names with the most edges, most connected first (ties by name).
    fn most_connected(&self, limit: usize) -> Result<Vec<String>>;
    /// How many relations each of `names` has (absent: none).
    fn node_degrees(&self, names: &[String]) -> Result<HashMap<String, usize>>;
    /// Many relations in one transaction; an existing edge between the same pair (in
    /// either direction) gets the new properties and keeps its direction.
    fn edges_upsert(&self, relations: &[Relation]) -> Result<()>;
    /// The edge between `a` and `b`, in either direction.
    fn edge_get(&self, a: &str, b: &str) -> Result<Option<Relation>>;
    fn edge_delete(&self, a: &str, b: &str) -> Result<()>;
    fn edges_of(&self, node: &str) -> Result<Vec<Relation>>;
    /// A node's relations as `(source, target, weight)`, without the rest of their data
    /// (ranking many relations must not parse them all).
    fn edge_weights_of(&self, node: &str) -> Result<Vec<(String, String, f64)>>;
    /// The nodes of `names` that exist, by name. A backend that can reads them in one
    /// statement (a query reads dozens at once).
    fn nodes_get(&self, names: &[String]) -> Result<HashMap<String, Entity>> {
        let mut found = HashMap::with_capacity(names.len());
        for name in names {
            if let Some(entity) = self.node_get(name)? {
                found.insert(name.clone(), entity);
            }
        }
        Ok(found)
    }
    /// The edges between the pairs of `pairs` that exist (in either direction), by their
    /// endpoints in [`crate::ids::endpoints`] order; one statement where the backend can.
    fn edges_get(&self, pairs: &[(String, String)]) -> Result<HashMap<(String, String), Relation>> {
        let mut found = HashMap::with_capacity(pairs.len());
        for (a, b) in pairs {
            if let Some(relation) = self.edge_get(a, b)? {
                found.insert(crate::ids::endpoints(a.clone(), b.clone()), relation);
            }
        }
        Ok(found)
    }
    /// [`GraphStorage::edge_weights_of`] for each of `nodes`, in their order; one
    /// statement where the backend can.
    fn edge_weights_of_many(&self, nodes: &[String]) -> Result<Vec<Vec<(String, String, f64)>>> {
        nodes.iter().map(|n| self.edge_weights_of(n)).collect()
    }
    /// Every node and edge of the workspace.
    fn graph_drop(&self) -> Result<()>;
    /// Nodes then edges; a backend that can makes it one transaction.
    fn elements_upsert(&self, entities: &[Entity], relations: &[Relation]) -> Result<()> {
        self.nodes_upsert(entities)?;
        self.edges_upsert(relations)
    }
    /// [`GraphStorage::node_delete`] of each of `names`; one statement where the backend
    /// can.
    fn nodes_delete(&self, names: &[String]) -> Result<()> {
        names.iter().try_for_each(|n| self.node_delete(n))
    }
    /// [`GraphStorage::edge_delete`] of each of `pairs` (either direction); one
    /// statement where the backend can.
    fn edges_delete(&self, pairs: &[(String, String)]) -> Result<()> {
        pairs.iter().try_for_each(|(a, b)| self.edge_delete(a, b))
    }
}

#[cfg(test)]
mod tests {
    use super::super::sqlite::{self, SqliteStorage};
    use super::super::tests::temp;
    use super::*;
    use serde_json::json;

    fn entity(name: &str, entity_type: &str) -> Entity {
        Entity {
            entity_type: entity_type.into(),
            ..Entity::new(name)
        }
    }

    fn relation(source: &str, target: &str, weight: f64) -> Relation {
        Relation {
            weight,
            ..Relation::new(source, target)
        }
    }

    #[test]
    fn graph_edges_are_undirected() {
        let s = SqliteStorage::open(&temp("graph"), "").unwrap();
        s.nodes_upsert(&[entity("Alice", "person"), entity("Bob", "person")])
            .unwrap();
        s.edges_upsert(&[relation("Bob", "Alice", 1.0)]).unwrap();
        let e = s.edge_get("Alice", "Bob").unwrap().unwrap();
        assert_eq!((e.source.as_str(), e.target.as_str()), ("Bob", "Alice"));
        s.edges_upsert(&[relation("Alice", "Bob", 2.0)]).unwrap();
        assert_eq!(s.edges_of("Bob").unwrap().len(), 1);
        assert_eq!(
            s.edge_get("Bob", "Alice").unwrap().unwrap(),
            relation("Bob", "Alice", 2.0),
            "the first direction is kept"
        );
        assert_eq!(s.node_names().unwrap(), ["Alice", "Bob"]);
        assert_eq!(s.node_get("Bob").unwrap(), Some(entity("Bob", "person")));
        s.node_delete("Alice").unwrap();
        assert!(s.edges_of("Bob").unwrap().is_empty());
        assert_eq!(s.node_get("Alice").unwrap(), None);
        s.edges_upsert(&[Relation::new("Bob", "Carol")]).unwrap();
        s.graph_drop().unwrap();
        assert!(s.node_names().unwrap().is_empty());
        assert!(s.edges_of("Bob").unwrap().is_empty());
        s.nodes_upsert(&["X", "Y", "Z"].map(Entity::new)).unwrap();
        s.edges_upsert(&[Relation::new("X", "Y"), relation("Z", "Y", 3.5)])
            .unwrap();
        assert_eq!(s.most_connected(2).unwrap(), ["Y", "X"]);
        let mut weights = s.edge_weights_of("Y").unwrap();
        weights.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            weights,
            [("X".into(), "Y".into(), 1.0), ("Z".into(), "Y".into(), 3.5)]
        );
        let degrees = s
            .node_degrees(&["Y".into(), "X".into(), "W".into()])
            .unwrap();
        assert_eq!((degrees["Y"], degrees["X"], degrees["W"]), (2, 1, 0));
    }

    #[test]
    fn a_store_without_the_weight_column_gets_it_filled() {
        let dir = temp("migrate");
        std::fs::create_dir_all(&dir).unwrap();
        let old = rusqlite::Connection::open(dir.join(sqlite::FILE_NAME)).unwrap();
        old.execute_batch(
            "CREATE TABLE graph_edges (workspace TEXT NOT NULL, a TEXT NOT NULL, b TEXT NOT NULL,
                 source TEXT NOT NULL, target TEXT NOT NULL, data TEXT NOT NULL,
                 PRIMARY KEY (workspace, a, b)) WITHOUT ROWID;
             INSERT INTO graph_edges VALUES ('', 'A', 'B', 'A', 'B', '{\"weight\": 7.0}');",
        )
        .unwrap();
        drop(old);
        let s = SqliteStorage::open(&dir, "").unwrap();
        assert_eq!(
            s.edge_weights_of("B").unwrap(),
            [("A".to_owned(), "B".to_owned(), 7.0)]
        );
    }

    /// Rows as the untyped code wrote them: by indexing, and by hand (`/graph/entity/create`
    /// keeps the request's order and extra properties, and any value type).
    const INDEXED_NODE: &str = r#"{"entity_id":"SpaceX","entity_type":"organization","description":"Rocket maker.<SEP>Launch provider.","source_id":"chunk-1<SEP>chunk-2","file_path":"a.txt<SEP>b.txt","created_at":1795674000}"#;
    const INDEXED_EDGE: &str = r#"{"weight":2.0,"keywords":"founder, leads","description":"Musk founded SpaceX.","source_id":"chunk-1<SEP>chunk-2","file_path":"a.txt","created_at":1795674000}"#;
    const CREATED_NODE: &str = r#"{"description":"Launch site.","entity_type":"location","color":"red","source_id":"","file_path":"","created_at":1795674001,"entity_id":"Starbase","rank":5}"#;
    const CREATED_EDGE: &str = r#"{"description":"Built there.","keywords":"site","weight":3,"note":{"by":"hand"},"source_id":"","file_path":"","created_at":1795674002}"#;

    fn store_with_rows() -> SqliteStorage {
        let dir = temp("old-rows");
        let s = SqliteStorage::open(&dir, "").unwrap();
        let raw = rusqlite::Connection::open(dir.join(sqlite::FILE_NAME)).unwrap();
        for (name, data) in [("SpaceX", INDEXED_NODE), ("Starbase", CREATED_NODE)] {
            raw.execute(
                "INSERT INTO graph_nodes VALUES ('', ?1, ?2)",
                rusqlite::params![name, data],
            )
            .unwrap();
        }
        for ((a, b), (source, target), data) in [
            (
                ("Elon Musk", "SpaceX"),
                ("SpaceX", "Elon Musk"),
                INDEXED_EDGE,
            ),
            (("SpaceX", "Starbase"), ("SpaceX", "Starbase"), CREATED_EDGE),
        ] {
            raw.execute(
                "INSERT INTO graph_edges VALUES ('', ?1, ?2, ?3, ?4, ?5, NULL)",
                rusqlite::params![a, b, source, target, data],
            )
            .unwrap();
        }
        s
    }

    #[test]
    fn records_written_by_indexing_read_back_field_for_field_and_byte_for_byte() {
        let s = store_with_rows();
        let node = s.node_get("SpaceX").unwrap().unwrap();
        assert_eq!(
            node,
            Entity {
                entity_type: "organization".into(),
                description: "Rocket maker.<SEP>Launch provider.".into(),
                source_id: "chunk-1<SEP>chunk-2".into(),
                file_path: "a.txt<SEP>b.txt".into(),
                created_at: Some(1_795_674_000),
                ..Entity::new("SpaceX")
            }
        );
        assert_eq!(serde_json::to_string(&node).unwrap(), INDEXED_NODE);
        let edge = s.edge_get("Elon Musk", "SpaceX").unwrap().unwrap();
        assert_eq!(
            edge,
            Relation {
                weight: 2.0,
                keywords: "founder, leads".into(),
                description: "Musk founded SpaceX.".into(),
                source_id: "chunk-1<SEP>chunk-2".into(),
                file_path: "a.txt".into(),
                created_at: Some(1_795_674_000),
                ..Relation::new("SpaceX", "Elon Musk")
            }
        );
        assert_eq!(serde_json::to_string(&edge).unwrap(), INDEXED_EDGE);
        // Written back, the rows are what they were.
        s.nodes_upsert(std::slice::from_ref(&node)).unwrap();
        s.edges_upsert(std::slice::from_ref(&edge)).unwrap();
        assert_eq!(s.node_get("SpaceX").unwrap(), Some(node));
        assert_eq!(s.edge_get("SpaceX", "Elon Musk").unwrap(), Some(edge));
    }

    #[test]
    fn records_created_by_hand_keep_every_property() {
        let s = store_with_rows();
        let node = s.node_get("Starbase").unwrap().unwrap();
        assert_eq!(
            (node.entity_type.as_str(), node.created_at),
            ("location", Some(1_795_674_001))
        );
        let as_stored: Value = serde_json::from_str(CREATED_NODE).unwrap();
        assert_eq!(serde_json::to_value(&node).unwrap(), as_stored);
        let edge = s.edge_get("Starbase", "SpaceX").unwrap().unwrap();
        assert_eq!((edge.weight, edge.keywords.as_str()), (3.0, "site"));
        assert_eq!(Value::Object(edge.extra), json!({"note": {"by": "hand"}}));
        // A property of another type than the indexing writes is read as its text.
        let odd: Entity =
            serde_json::from_value(json!({"description": 5, "source_id": null})).unwrap();
        assert_eq!(
            (odd.description.as_str(), odd.source_id.as_str()),
            ("5", "")
        );
    }
}
