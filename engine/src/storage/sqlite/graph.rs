//! The graph in SQLite: one row per node, one per undirected edge (stored once, the
//! endpoints in sorted order as the key, the first-inserted direction kept beside them).
//! The properties are JSON; an edge's weight also has its own column for ranking.

use rusqlite::{Connection, OptionalExtension, params};

use super::SqliteStorage;
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

    fn node_degrees(&self, names: &[String]) -> Result<std::collections::HashMap<String, usize>> {
        let mut degrees = std::collections::HashMap::with_capacity(names.len());
        self.read(|conn, ws| {
            let mut stmt = conn.prepare_cached(
                "SELECT COUNT(*) FROM graph_edges WHERE workspace = ?1 AND a = ?2
                 UNION ALL
                 SELECT COUNT(*) FROM graph_edges WHERE workspace = ?1 AND b = ?2",
            )?;
            for name in names {
                let counts = stmt
                    .query_map(params![ws, name], |r| r.get::<_, i64>(0))?
                    .collect::<rusqlite::Result<Vec<i64>>>()?;
                degrees.insert(name.clone(), counts.iter().sum::<i64>() as usize);
            }
            Ok(degrees)
        })
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

    fn edge_weights_of(&self, node: &str) -> Result<Vec<(String, String, f64)>> {
        self.read(|conn, ws| {
            let mut stmt = conn.prepare_cached(
                "SELECT source, target, COALESCE(weight, 1.0)
                 FROM graph_edges WHERE workspace = ?1 AND a = ?2
                 UNION ALL
                 SELECT source, target, COALESCE(weight, 1.0)
                 FROM graph_edges INDEXED BY graph_edges_by_b
                 WHERE workspace = ?1 AND b = ?2 AND a <> ?2",
            )?;
            let rows = stmt
                .query_map(params![ws, node], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
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
