//! The graph in SQLite: one row per node, one per undirected edge (stored once, the
//! endpoints in sorted order as the key, the first-inserted direction kept beside them).
//! The properties are JSON; an edge's weight also has its own column for ranking.
//!
//! A query reads many nodes, edges and degrees at once; each such read is one statement
//! over a list passed as a single JSON array parameter, which SQLite
//! answers with one index search per item (the tests check the plans), rather than one
//! statement, and one reader hand-off, per item.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::SqliteStorage;
use crate::fast_hash::FastMap;
use crate::ids;
use crate::storage::Result;
use crate::storage::graph::{Entity, GraphStorage, Relation};

/// Stores made before relation weights had their own column get it, filled from the
/// relations' data (ranking reads the column instead of parsing every relation).
pub(super) fn add_edge_weights(conn: &Connection) -> rusqlite::Result<()> {
    let has_column = conn
        .prepare("SELECT 1 FROM pragma_table_info('graph_edges') WHERE name = 'weight'")?
        .exists([])?;
    if !has_column {
        conn.execute_batch(
            "ALTER TABLE graph_edges ADD COLUMN weight REAL;
             UPDATE graph_edges SET weight = COALESCE(json_extract(data, '$.weight'), 1.0);",
        )?;
    }
    Ok(())
}

/// The indexes ranking reads a node's edges from, one per end, with the direction and
/// the weight in them (stores made before get them here). `graph_edges_by_b` stays for
/// `edges_of`, and for a binary of before that may still serve during an upgrade.
pub(super) fn ranking_indexes(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE INDEX IF NOT EXISTS graph_edges_ends_a
             ON graph_edges (workspace, a, b, source, weight);
         CREATE INDEX IF NOT EXISTS graph_edges_ends_b
             ON graph_edges (workspace, b, a, source, weight);",
    )
}

/// Many nodes by name. Lists go as one JSON array parameter, `IN (SELECT value FROM
/// json_each(?))`: any number of items in one statement (no parameter limit), each looked
/// up through the index on the column it is compared to (the tests check the plans).
const NODES_GET: &str = "SELECT name, data FROM graph_nodes
     WHERE workspace = ?1 AND name IN (SELECT value FROM json_each(?2))";
/// Many edges by their sorted endpoints, `[[a, b], ...]`.
const EDGES_GET: &str = "SELECT source, target, data FROM graph_edges WHERE workspace = ?1
     AND (a, b) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?2))";
/// Many nodes' edge weights: two searches, one per end, each in an index that holds
/// all it returns (a hub's hundreds of edges are read without their data); a self-loop
/// only in the first. The first column says which search; the fourth whether the edge
/// was stored from `a` (its `source`) or from `b`.
const EDGE_WEIGHTS: &str = "SELECT 0, a, b, source = a, COALESCE(weight, 1.0)
     FROM graph_edges INDEXED BY graph_edges_ends_a
     WHERE workspace = ?1 AND a IN (SELECT value FROM json_each(?2))
     UNION ALL
     SELECT 1, a, b, source = a, COALESCE(weight, 1.0)
     FROM graph_edges INDEXED BY graph_edges_ends_b
     WHERE workspace = ?1 AND b IN (SELECT value FROM json_each(?2)) AND a <> b";
/// Many nodes' degrees (a self-loop counts twice, as it ends twice at the node).
const DEGREES: &str = "SELECT j.value,
        (SELECT COUNT(*) FROM graph_edges WHERE workspace = ?1 AND a = j.value)
      + (SELECT COUNT(*) FROM graph_edges WHERE workspace = ?1 AND b = j.value)
     FROM json_each(?2) j";

/// A list as the JSON array parameter the batched statements read.
pub(super) fn json_list<T: serde::Serialize>(items: &[T]) -> Result<String> {
    Ok(serde_json::to_string(items)?)
}

/// A node's edges as (source, target, weight), `edge_weights_of`'s order: those where it
/// is `a` by `b`, then those where it is only `b` by `a` (the order of the two indexes).
type Weights = Vec<(String, String, f64)>;

/// An edge row: endpoints and properties.
fn relation_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
}

fn relations(rows: Vec<(String, String, String)>) -> Result<Vec<Relation>> {
    rows.into_iter()
        .map(|(source, target, data)| {
            Ok(Relation {
                source,
                target,
                ..serde_json::from_str(&data)?
            })
        })
        .collect()
}

fn write_nodes(tx: &rusqlite::Transaction<'_>, ws: &str, entities: &[Entity]) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT OR REPLACE INTO graph_nodes (workspace, name, data) VALUES (?1, ?2, ?3)",
    )?;
    for entity in entities {
        stmt.execute(params![ws, entity.name, serde_json::to_string(entity)?])?;
    }
    Ok(())
}

fn write_edges(tx: &rusqlite::Transaction<'_>, ws: &str, relations: &[Relation]) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO graph_edges (workspace, a, b, source, target, data, weight)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (workspace, a, b)
         DO UPDATE SET data = excluded.data, weight = excluded.weight",
    )?;
    for relation in relations {
        let (source, target) = (&relation.source, &relation.target);
        let (a, b) = ids::endpoints(source, target);
        let data = serde_json::to_string(relation)?;
        stmt.execute(params![ws, a, b, source, target, data, relation.weight])?;
    }
    Ok(())
}

impl GraphStorage for SqliteStorage {
    fn graph_drop(&self) -> Result<()> {
        self.with(|conn, ws| {
            let tx = conn.transaction()?;
            tx.execute("DELETE FROM graph_nodes WHERE workspace = ?1", params![ws])?;
            tx.execute("DELETE FROM graph_edges WHERE workspace = ?1", params![ws])?;
            Ok(tx.commit()?)
        })
    }

    fn nodes_upsert(&self, entities: &[Entity]) -> Result<()> {
        self.elements_upsert(entities, &[])
    }

    fn elements_upsert(&self, entities: &[Entity], relations: &[Relation]) -> Result<()> {
        self.with(|conn, ws| {
            let tx = conn.transaction()?;
            write_nodes(&tx, ws, entities)?;
            write_edges(&tx, ws, relations)?;
            Ok(tx.commit()?)
        })
    }

    fn node_get(&self, name: &str) -> Result<Option<Entity>> {
        self.read(|conn, ws| {
            let text: Option<String> = conn
                .query_row(
                    "SELECT data FROM graph_nodes WHERE workspace = ?1 AND name = ?2",
                    params![ws, name],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(text) = text else {
                return Ok(None);
            };
            Ok(Some(Entity {
                name: name.to_owned(),
                ..serde_json::from_str(&text)?
            }))
        })
    }

    fn node_delete(&self, name: &str) -> Result<()> {
        self.with(|conn, ws| {
            let tx = conn.transaction()?;
            tx.execute(
                "DELETE FROM graph_nodes WHERE workspace = ?1 AND name = ?2",
                params![ws, name],
            )?;
            tx.execute(
                "DELETE FROM graph_edges WHERE workspace = ?1 AND (a = ?2 OR b = ?2)",
                params![ws, name],
            )?;
            Ok(tx.commit()?)
        })
    }

    fn node_names(&self) -> Result<Vec<String>> {
        self.read(|conn, ws| {
            let mut stmt = conn.prepare_cached(
                "SELECT name FROM graph_nodes WHERE workspace = ?1 ORDER BY name",
            )?;
            let names = stmt
                .query_map(params![ws], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(names)
        })
    }

    fn node_degrees(&self, names: &[String]) -> Result<HashMap<String, usize>> {
        if names.is_empty() {
            return Ok(HashMap::new());
        }
        self.read(|conn, ws| {
            let mut stmt = conn.prepare_cached(DEGREES)?;
            let degrees = stmt
                .query_map(params![ws, json_list(names)?], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as usize))
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(degrees)
        })
    }

    fn nodes_get(&self, names: &[String]) -> Result<HashMap<String, Entity>> {
        if names.is_empty() {
            return Ok(HashMap::new());
        }
        self.read(|conn, ws| {
            let mut stmt = conn.prepare_cached(NODES_GET)?;
            let rows = stmt
                .query_map(params![ws, json_list(names)?], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter()
                .map(|(name, text)| {
                    let entity = Entity {
                        name: name.clone(),
                        ..serde_json::from_str(&text)?
                    };
                    Ok((name, entity))
                })
                .collect()
        })
    }

    fn edges_get(&self, pairs: &[(String, String)]) -> Result<HashMap<(String, String), Relation>> {
        if pairs.is_empty() {
            return Ok(HashMap::new());
        }
        let keys: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(x, y)| ids::endpoints(x.as_str(), y.as_str()))
            .collect();
        self.read(|conn, ws| {
            let mut stmt = conn.prepare_cached(EDGES_GET)?;
            let rows = stmt
                .query_map(params![ws, json_list(&keys)?], relation_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(relations(rows)?
                .into_iter()
                .map(|r| (ids::endpoints(r.source.clone(), r.target.clone()), r))
                .collect())
        })
    }

    fn edge_weights_of_many(&self, nodes: &[String]) -> Result<Vec<Weights>> {
        if nodes.is_empty() {
            return Ok(Vec::new());
        }
        // (which search, a, b, stored from a, weight)
        type Row = (bool, String, String, bool, f64);
        let rows: Vec<Row> = self.read(|conn, ws| {
            let mut stmt = conn.prepare_cached(EDGE_WEIGHTS)?;
            let rows = stmt
                .query_map(params![ws, json_list(nodes)?], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })?;
        // Per node: where it is `a`, by `b`; then where it is only `b`, by `a`.
        let mut by_node: FastMap<&str, (Vec<&Row>, Vec<&Row>)> = FastMap::default();
        for row in &rows {
            let (side, a, b) = (row.0, &row.1, &row.2);
            let (as_a, as_b) = by_node
                .entry(if side { b.as_str() } else { a.as_str() })
                .or_default();
            if side { as_b.push(row) } else { as_a.push(row) }
        }
        let stored = |(_, a, b, from_a, weight): &Row| {
            let (source, target) = if *from_a { (a, b) } else { (b, a) };
            (source.clone(), target.clone(), *weight)
        };
        Ok(nodes
            .iter()
            .map(|node| {
                let Some((mut as_a, mut as_b)) = by_node.get(node.as_str()).cloned() else {
                    return Vec::new();
                };
                as_a.sort_by(|x, y| x.2.cmp(&y.2));
                as_b.sort_by(|x, y| x.1.cmp(&y.1));
                as_a.into_iter().chain(as_b).map(stored).collect()
            })
            .collect())
    }

    fn most_connected(&self, limit: usize) -> Result<Vec<String>> {
        self.read(|conn, ws| {
            let mut stmt = conn.prepare_cached(
                "SELECT n.name FROM graph_nodes n WHERE n.workspace = ?1
                 ORDER BY (SELECT COUNT(*) FROM graph_edges e
                           WHERE e.workspace = n.workspace AND (e.a = n.name OR e.b = n.name)) DESC,
                          n.name
                 LIMIT ?2",
            )?;
            let names = stmt
                .query_map(params![ws, limit as i64], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(names)
        })
    }

    fn edges_upsert(&self, relations: &[Relation]) -> Result<()> {
        self.elements_upsert(&[], relations)
    }

    fn edge_get(&self, x: &str, y: &str) -> Result<Option<Relation>> {
        let (a, b) = ids::endpoints(x, y);
        self.read(|conn, ws| {
            let row = conn
                .query_row(
                    "SELECT source, target, data FROM graph_edges WHERE workspace = ?1 AND a = ?2 AND b = ?3",
                    params![ws, a, b],
                    relation_from_row,
                )
                .optional()?;
            Ok(relations(row.into_iter().collect())?.pop())
        })
    }

    fn edge_delete(&self, x: &str, y: &str) -> Result<()> {
        let (a, b) = ids::endpoints(x, y);
        self.with(|conn, ws| {
            conn.execute(
                "DELETE FROM graph_edges WHERE workspace = ?1 AND a = ?2 AND b = ?3",
                params![ws, a, b],
            )?;
            Ok(())
        })
    }

    fn edge_weights_of(&self, node: &str) -> Result<Weights> {
        Ok(self
            .edge_weights_of_many(&[node.to_owned()])?
            .pop()
            .unwrap_or_default())
    }

    fn edges_of(&self, node: &str) -> Result<Vec<Relation>> {
        self.read(|conn, ws| {
            let mut stmt = conn.prepare_cached(
                // Two indexed lookups: an OR over both columns, or an ORDER BY over the
                // union, makes SQLite scan the workspace's edges instead.
                "SELECT source, target, data FROM graph_edges WHERE workspace = ?1 AND a = ?2
                 UNION ALL
                 SELECT source, target, data FROM graph_edges INDEXED BY graph_edges_by_b
                 WHERE workspace = ?1 AND b = ?2 AND a <> ?2",
            )?;
            let mut rows = stmt
                .query_map(params![ws, node], relation_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.sort_by(|x, y| ids::endpoints(&x.0, &x.1).cmp(&ids::endpoints(&y.0, &y.1)));
            relations(rows)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The query plan of `sql`, one line per step.
    fn plan(conn: &Connection, sql: &str, params: &[&dyn rusqlite::ToSql]) -> Vec<String> {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        stmt.query_map(params, |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn batched_reads_search_the_indexes_and_never_scan_a_table() {
        let s = SqliteStorage::open(&crate::storage::tests::temp("graph-plans"), "").unwrap();
        s.read(|conn, _| {
            for sql in [NODES_GET, EDGES_GET, EDGE_WEIGHTS, DEGREES] {
                let steps = plan(conn, sql, &[&"", &"[]"]);
                assert!(
                    steps.iter().any(|s| s.starts_with("SEARCH")),
                    "{sql}: {steps:?}"
                );
                assert!(
                    !steps
                        .iter()
                        .any(|s| s.starts_with("SCAN graph") || s.starts_with("SCAN kv")),
                    "{sql}: {steps:?}"
                );
            }
            let weights = plan(conn, EDGE_WEIGHTS, &[&"", &"[]"]);
            for index in ["graph_edges_ends_a", "graph_edges_ends_b"] {
                assert!(
                    weights.iter().any(|s| s
                        .starts_with(&format!("SEARCH graph_edges USING COVERING INDEX {index}"))),
                    "a node's edges are ranked from {index} alone: {weights:?}"
                );
            }
            let kv = plan(
                conn,
                super::super::KV_GET_MANY,
                &[&"", &"text_chunks", &"[]"],
            );
            assert!(
                kv.iter()
                    .any(|s| s.starts_with("SEARCH kv USING PRIMARY KEY")),
                "{kv:?}"
            );
            Ok(())
        })
        .unwrap();
    }
}
