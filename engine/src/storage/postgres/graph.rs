//! `PGTableGraphStorage`: the knowledge graph in LightRAG 1.5.7's plain tables
//! `lightrag_graph_nodes` / `lightrag_graph_edges` (no extension). A node is its entity
//! name and a JSONB of its properties; an edge is stored once per pair, canonically
//! (`src_id` the smaller name in code-point order, as LightRAG and Rust's `str` order
//! them), so it reads back with that direction whichever way it was written. The
//! primary key finds a node's edges by `src_id`, the `tgt_id` index by the other end,
//! which is what degrees and neighbourhoods need.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::pool::Pool;
use crate::ids;
use crate::storage::Result;
use crate::storage::graph::{Entity, GraphStorage, Relation};

/// LightRAG's graph namespace, the `namespace` column of every row.
const NAMESPACE: &str = "chunk_entity_relation";

pub(crate) struct PgGraph {
    pool: Arc<Pool>,
    workspace: String,
}

/// A weight as the ranking reads it: the stored number, else LightRAG's default 1.
const WEIGHT: &str = "CASE WHEN jsonb_typeof(properties->'weight') = 'number' \
                      THEN (properties->>'weight')::float8 ELSE 1.0 END";

fn entity(name: String, properties: Value) -> Result<Entity> {
    let mut entity: Entity = serde_json::from_value(properties)?;
    entity.name = name;
    Ok(entity)
}

fn relation(source: String, target: String, properties: Value) -> Result<Relation> {
    let mut relation: Relation = serde_json::from_value(properties)?;
    relation.source = source;
    relation.target = target;
    Ok(relation)
}

impl PgGraph {
    pub(crate) fn open(pool: Arc<Pool>, workspace: &str) -> PgGraph {
        let workspace = pool.config().effective_workspace(workspace);
        PgGraph { pool, workspace }
    }

    /// The edges with `node` at either end, as `(src_id, tgt_id, <select>)`.
    fn edges_touching(&self, node: &str, select: &str) -> Result<Vec<postgres::Row>> {
        let sql = format!(
            "SELECT src_id, tgt_id, {select} FROM lightrag_graph_edges \
             WHERE workspace = $1 AND namespace = $2 AND src_id = $3 \
             UNION ALL \
             SELECT src_id, tgt_id, {select} FROM lightrag_graph_edges \
             WHERE workspace = $1 AND namespace = $2 AND tgt_id = $3 AND src_id <> $3"
        );
        self.pool
            .run(|c| c.query(&sql, &[&self.workspace, &NAMESPACE, &node]))
    }
}

impl GraphStorage for PgGraph {
    /// The properties are merged into the stored ones (`old || new`), as LightRAG's
    /// `upsert_node` does: a key the new record leaves out (a `created_at`, a property
    /// another writer added) survives.
    fn nodes_upsert(&self, entities: &[Entity]) -> Result<()> {
        let rows = entities
            .iter()
            .map(|e| Ok((e.name.as_str(), serde_json::to_value(e)?)))
            .collect::<Result<Vec<_>>>()?;
        self.pool.run(|c| {
            let mut tx = c.transaction()?;
            let statement = tx.prepare(
                "INSERT INTO lightrag_graph_nodes (workspace, namespace, id, properties, updated_at) \
                 VALUES ($1, $2, $3, $4, now()) ON CONFLICT (workspace, namespace, id) \
                 DO UPDATE SET properties = lightrag_graph_nodes.properties || EXCLUDED.properties, \
                 updated_at = now()",
            )?;
            for (name, properties) in &rows {
                tx.execute(&statement, &[&self.workspace, &NAMESPACE, name, properties])?;
            }
            tx.commit()
        })
    }

    fn node_get(&self, name: &str) -> Result<Option<Entity>> {
        let row = self.pool.run(|c| {
            c.query_opt(
                "SELECT properties FROM lightrag_graph_nodes \
                 WHERE workspace = $1 AND namespace = $2 AND id = $3",
                &[&self.workspace, &NAMESPACE, &name],
            )
        })?;
        row.map(|r| entity(name.to_owned(), r.get(0))).transpose()
    }

    /// Its edges go with it (the foreign keys cascade).
    fn node_delete(&self, name: &str) -> Result<()> {
        self.pool.run(|c| {
            c.execute(
                "DELETE FROM lightrag_graph_nodes WHERE workspace = $1 AND namespace = $2 AND id = $3",
                &[&self.workspace, &NAMESPACE, &name],
            )
            .map(drop)
        })
    }

    fn node_names(&self) -> Result<Vec<String>> {
        let rows = self.pool.run(|c| {
            c.query(
                "SELECT id FROM lightrag_graph_nodes WHERE workspace = $1 AND namespace = $2 \
                 ORDER BY id COLLATE \"C\"",
                &[&self.workspace, &NAMESPACE],
            )
        })?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// By degree (a self-loop counts twice, as in LightRAG), isolated nodes included,
    /// ties by name.
    fn most_connected(&self, limit: usize) -> Result<Vec<String>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.pool.run(|c| {
            c.query(
                "WITH ends AS (SELECT src_id AS id FROM lightrag_graph_edges \
                   WHERE workspace = $1 AND namespace = $2 \
                   UNION ALL SELECT tgt_id FROM lightrag_graph_edges \
                   WHERE workspace = $1 AND namespace = $2), \
                 degrees AS (SELECT id, count(*) AS degree FROM ends GROUP BY id) \
                 SELECT n.id FROM lightrag_graph_nodes n LEFT JOIN degrees d ON d.id = n.id \
                 WHERE n.workspace = $1 AND n.namespace = $2 \
                 ORDER BY COALESCE(d.degree, 0) DESC, n.id COLLATE \"C\" LIMIT $3",
                &[&self.workspace, &NAMESPACE, &limit],
            )
        })?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn node_degrees(&self, names: &[String]) -> Result<HashMap<String, usize>> {
        let mut degrees: HashMap<String, usize> = names.iter().map(|n| (n.clone(), 0)).collect();
        if names.is_empty() {
            return Ok(degrees);
        }
        let rows = self.pool.run(|c| {
            c.query(
                "SELECT id, count(*) FROM ( \
                   SELECT src_id AS id FROM lightrag_graph_edges \
                   WHERE workspace = $1 AND namespace = $2 AND src_id = ANY($3) \
                   UNION ALL SELECT tgt_id FROM lightrag_graph_edges \
                   WHERE workspace = $1 AND namespace = $2 AND tgt_id = ANY($3)) e GROUP BY id",
                &[&self.workspace, &NAMESPACE, &names],
            )
        })?;
        for row in rows {
            let count: i64 = row.get(1);
            degrees.insert(row.get(0), usize::try_from(count).unwrap_or(0));
        }
        Ok(degrees)
    }

    /// Endpoints missing as nodes are made as `{"entity_id": name}` first (the foreign
    /// keys need them), as LightRAG does; an edge's properties are replaced, as
    /// LightRAG's `upsert_edge` replaces them.
    fn edges_upsert(&self, relations: &[Relation]) -> Result<()> {
        let rows = relations
            .iter()
            .map(|r| {
                let (a, b) = ids::endpoints(r.source.as_str(), r.target.as_str());
                Ok((a, b, serde_json::to_value(r)?))
            })
            .collect::<Result<Vec<_>>>()?;
        self.pool.run(|c| {
            let mut tx = c.transaction()?;
            let node = tx.prepare(
                "INSERT INTO lightrag_graph_nodes (workspace, namespace, id, properties) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )?;
            let edge = tx.prepare(
                "INSERT INTO lightrag_graph_edges (workspace, namespace, src_id, tgt_id, properties, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, now()) ON CONFLICT (workspace, namespace, src_id, tgt_id) \
                 DO UPDATE SET properties = EXCLUDED.properties, updated_at = now()",
            )?;
            for (a, b, properties) in &rows {
                for end in [a, b] {
                    tx.execute(&node, &[&self.workspace, &NAMESPACE, end, &json!({"entity_id": end})])?;
                }
                tx.execute(&edge, &[&self.workspace, &NAMESPACE, a, b, properties])?;
            }
            tx.commit()
        })
    }

    fn edge_get(&self, a: &str, b: &str) -> Result<Option<Relation>> {
        let (a, b) = ids::endpoints(a, b);
        let row = self.pool.run(|c| {
            c.query_opt(
                "SELECT properties FROM lightrag_graph_edges \
                 WHERE workspace = $1 AND namespace = $2 AND src_id = $3 AND tgt_id = $4",
                &[&self.workspace, &NAMESPACE, &a, &b],
            )
        })?;
        row.map(|r| relation(a.to_owned(), b.to_owned(), r.get(0)))
            .transpose()
    }

    fn edge_delete(&self, a: &str, b: &str) -> Result<()> {
        let (a, b) = ids::endpoints(a, b);
        self.pool.run(|c| {
            c.execute(
                "DELETE FROM lightrag_graph_edges \
                 WHERE workspace = $1 AND namespace = $2 AND src_id = $3 AND tgt_id = $4",
                &[&self.workspace, &NAMESPACE, &a, &b],
            )
            .map(drop)
        })
    }

    fn edges_of(&self, node: &str) -> Result<Vec<Relation>> {
        self.edges_touching(node, "properties")?
            .into_iter()
            .map(|r| relation(r.get(0), r.get(1), r.get(2)))
            .collect()
    }

    fn edge_weights_of(&self, node: &str) -> Result<Vec<(String, String, f64)>> {
        Ok(self
            .edges_touching(node, WEIGHT)?
            .into_iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }

    fn graph_drop(&self) -> Result<()> {
        self.pool.run(|c| {
            c.execute(
                "WITH edges AS (DELETE FROM lightrag_graph_edges WHERE workspace = $1 AND namespace = $2) \
                 DELETE FROM lightrag_graph_nodes WHERE workspace = $1 AND namespace = $2",
                &[&self.workspace, &NAMESPACE],
            )
            .map(drop)
        })
    }
}
