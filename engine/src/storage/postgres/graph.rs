//! `PGTableGraphStorage`: the knowledge graph in LightRAG 1.5.7's plain tables
//! `lightrag_graph_nodes` / `lightrag_graph_edges` (no extension). A node is its entity
//! name and a JSONB of its properties; an edge is stored once per pair, canonically
//! (`src_id` the smaller name in code-point order, as LightRAG and Rust's `str` order
//! them), so it reads back with that direction whichever way it was written. The
//! primary key finds a node's edges by `src_id`, the `tgt_id` index by the other end,
//! which is what degrees and neighbourhoods need.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use postgres::types::ToSql;

use serde_json::Value;

use super::last_of_each;
use super::pool::Pool;
use super::statistics::Statistics;
use crate::ids;
use crate::storage::Result;
use crate::storage::graph::{Entity, GraphStorage, Relation};

/// LightRAG's graph namespace, the `namespace` column of every row.
const NAMESPACE: &str = "chunk_entity_relation";

pub(crate) struct PgGraph {
    pool: Arc<Pool>,
    workspace: String,
}

/// The graph tables' statistics, refreshed as this process fills them.
static STATISTICS: Statistics = Statistics::of("lightrag_graph_nodes, lightrag_graph_edges");

/// Entities, then the endpoints of relations that are not among them, then the
/// relations, in one statement: `$3`/`$4` the entities' names and properties, `$5` the
/// other endpoints (made as `{"entity_id": name}` when missing, as LightRAG does; the
/// foreign keys need them), `$6`/`$7`/`$8` the relations' canonical ends and
/// properties. A node's properties are merged into the stored ones (`old || new`, as
/// LightRAG's `upsert_node`), an edge's replaced (as its `upsert_edge`). The three key sets are distinct (PostgreSQL cannot touch a row twice in
/// one statement), and the foreign keys are checked at its end, when every node is in.
const ELEMENTS_UPSERT: &str = "WITH nodes AS (\
     INSERT INTO lightrag_graph_nodes (workspace, namespace, id, properties, updated_at) \
     SELECT $1, $2, u.id, u.properties, now() FROM unnest($3::text[], $4::jsonb[]) AS u(id, properties) \
     ON CONFLICT (workspace, namespace, id) \
     DO UPDATE SET properties = lightrag_graph_nodes.properties || EXCLUDED.properties, \
     updated_at = now()), \
   ends AS (\
     INSERT INTO lightrag_graph_nodes (workspace, namespace, id, properties) \
     SELECT $1, $2, u.id, jsonb_build_object('entity_id', u.id) FROM unnest($5::text[]) AS u(id) \
     ON CONFLICT DO NOTHING) \
   INSERT INTO lightrag_graph_edges (workspace, namespace, src_id, tgt_id, properties, updated_at) \
   SELECT $1, $2, u.src, u.tgt, u.properties, now() \
   FROM unnest($6::text[], $7::text[], $8::jsonb[]) AS u(src, tgt, properties) \
   ON CONFLICT (workspace, namespace, src_id, tgt_id) \
   DO UPDATE SET properties = EXCLUDED.properties, updated_at = now()";

/// Ends a `LATERAL` subquery so that it runs once per item of a batch, on the index:
/// flattened into a join, a batch read was planned (for a cached statement, with no
/// idea of the batch's size or of a fresh table's) as a scan of every edge of the
/// workspace against every item, 40 ms for 64 pairs among 5 734 edges, where one index
/// lookup per item takes a fraction of a millisecond.
const PER_ITEM: &str = "OFFSET 0";

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
        self.query(&sql, &[&node])
    }

    /// `sql` with `$1` workspace and `$2` namespace before `more`, on a statement the
    /// connection keeps.
    fn query(&self, sql: &str, more: &[&(dyn ToSql + Sync)]) -> Result<Vec<postgres::Row>> {
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&self.workspace, &NAMESPACE];
        params.extend_from_slice(more);
        self.pool.run(|c| {
            let statement = c.prepared(sql)?;
            c.query(&statement, &params)
        })
    }
}

impl GraphStorage for PgGraph {
    /// The properties are merged into the stored ones (`old || new`), as LightRAG's
    /// `upsert_node` does: a key the new record leaves out (a `created_at`, a property
    /// another writer added) survives.
    fn nodes_upsert(&self, entities: &[Entity]) -> Result<()> {
        self.elements_upsert(entities, &[])
    }

    /// One statement ([`ELEMENTS_UPSERT`]); of a name or pair given twice the last
    /// wins.
    fn elements_upsert(&self, entities: &[Entity], relations: &[Relation]) -> Result<()> {
        if entities.is_empty() && relations.is_empty() {
            return Ok(());
        }
        let entities = last_of_each(entities, |e| e.name.as_str());
        let relations: Vec<(&str, &str, &Relation)> = relations
            .iter()
            .map(|r| {
                let (a, b) = ids::endpoints(r.source.as_str(), r.target.as_str());
                (a, b, r)
            })
            .collect();
        let relations = last_of_each(&relations, |(a, b, _)| (*a, *b));
        let names: Vec<&str> = entities.iter().map(|e| e.name.as_str()).collect();
        let properties = entities
            .iter()
            .map(serde_json::to_value)
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let named: HashSet<&str> = names.iter().copied().collect();
        let mut ends: Vec<&str> = relations
            .iter()
            .flat_map(|(a, b, _)| [*a, *b])
            .filter(|end| !named.contains(end))
            .collect();
        ends.sort_unstable();
        ends.dedup();
        let sources: Vec<&str> = relations.iter().map(|(a, _, _)| *a).collect();
        let targets: Vec<&str> = relations.iter().map(|(_, b, _)| *b).collect();
        let edge_properties = relations
            .iter()
            .map(|(_, _, r)| serde_json::to_value(r))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        self.query(
            ELEMENTS_UPSERT,
            &[
                &names,
                &properties,
                &ends,
                &sources,
                &targets,
                &edge_properties,
            ],
        )?;
        STATISTICS.wrote(&self.pool, names.len() + ends.len() + sources.len());
        Ok(())
    }

    fn node_get(&self, name: &str) -> Result<Option<Entity>> {
        let rows = self.query(
            "SELECT properties FROM lightrag_graph_nodes \
             WHERE workspace = $1 AND namespace = $2 AND id = $3",
            &[&name],
        )?;
        rows.into_iter()
            .next()
            .map(|r| entity(name.to_owned(), r.get(0)))
            .transpose()
    }

    fn nodes_get(&self, names: &[String]) -> Result<HashMap<String, Entity>> {
        if names.is_empty() {
            return Ok(HashMap::new());
        }
        self.query(
            "SELECT id, properties FROM lightrag_graph_nodes \
             WHERE workspace = $1 AND namespace = $2 AND id = ANY($3)",
            &[&names],
        )?
        .into_iter()
        .map(|r| {
            let name: String = r.get(0);
            Ok((name.clone(), entity(name, r.get(1))?))
        })
        .collect()
    }

    /// Its edges go with it (the foreign keys cascade).
    fn node_delete(&self, name: &str) -> Result<()> {
        self.nodes_delete(&[name.to_owned()])
    }

    /// One statement for all the names; their edges go with them.
    fn nodes_delete(&self, names: &[String]) -> Result<()> {
        if names.is_empty() {
            return Ok(());
        }
        self.query(
            "DELETE FROM lightrag_graph_nodes WHERE workspace = $1 AND namespace = $2 AND id = ANY($3)",
            &[&names],
        )
        .map(drop)
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
        let rows = self.query(
            "SELECT id, count(*) FROM ( \
               SELECT src_id AS id FROM lightrag_graph_edges \
               WHERE workspace = $1 AND namespace = $2 AND src_id = ANY($3) \
               UNION ALL SELECT tgt_id FROM lightrag_graph_edges \
               WHERE workspace = $1 AND namespace = $2 AND tgt_id = ANY($3)) e GROUP BY id",
            &[&names],
        )?;
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
        self.elements_upsert(&[], relations)
    }

    fn edge_get(&self, a: &str, b: &str) -> Result<Option<Relation>> {
        let (a, b) = ids::endpoints(a, b);
        let rows = self.query(
            "SELECT properties FROM lightrag_graph_edges \
             WHERE workspace = $1 AND namespace = $2 AND src_id = $3 AND tgt_id = $4",
            &[&a, &b],
        )?;
        rows.into_iter()
            .next()
            .map(|r| relation(a.to_owned(), b.to_owned(), r.get(0)))
            .transpose()
    }

    fn edges_get(&self, pairs: &[(String, String)]) -> Result<HashMap<(String, String), Relation>> {
        if pairs.is_empty() {
            return Ok(HashMap::new());
        }
        let canonical: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(a, b)| ids::endpoints(a.as_str(), b.as_str()))
            .collect();
        let sources: Vec<&str> = canonical.iter().map(|(a, _)| *a).collect();
        let targets: Vec<&str> = canonical.iter().map(|(_, b)| *b).collect();
        let rows = self.query(
            &format!(
                "SELECT e.src_id, e.tgt_id, e.properties \
                 FROM (SELECT DISTINCT * FROM unnest($3::text[], $4::text[])) AS p(src, tgt) \
                 CROSS JOIN LATERAL (SELECT src_id, tgt_id, properties FROM lightrag_graph_edges \
                   WHERE workspace = $1 AND namespace = $2 AND src_id = p.src AND tgt_id = p.tgt \
                   {PER_ITEM}) AS e"
            ),
            &[&sources, &targets],
        )?;
        let mut found: HashMap<(String, String), Relation> = HashMap::with_capacity(rows.len());
        for r in rows {
            let (a, b): (String, String) = (r.get(0), r.get(1));
            found.insert((a.clone(), b.clone()), relation(a, b, r.get(2))?);
        }
        Ok(found)
    }

    fn edge_delete(&self, a: &str, b: &str) -> Result<()> {
        self.edges_delete(&[(a.to_owned(), b.to_owned())])
    }

    /// One statement for all the pairs.
    fn edges_delete(&self, pairs: &[(String, String)]) -> Result<()> {
        if pairs.is_empty() {
            return Ok(());
        }
        let (sources, targets): (Vec<&str>, Vec<&str>) = pairs
            .iter()
            .map(|(a, b)| ids::endpoints(a.as_str(), b.as_str()))
            .unzip();
        self.query(
            "DELETE FROM lightrag_graph_edges e USING unnest($3::text[], $4::text[]) AS p(src, tgt) \
             WHERE e.workspace = $1 AND e.namespace = $2 AND e.src_id = p.src AND e.tgt_id = p.tgt",
            &[&sources, &targets],
        )
        .map(drop)
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

    /// One statement over every node: the edges found by `src_id`, then by `tgt_id`
    /// (a self-loop once), each tagged with the node it was found for.
    fn edge_weights_of_many(&self, nodes: &[String]) -> Result<Vec<Vec<(String, String, f64)>>> {
        if nodes.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT n.id, e.src_id, e.tgt_id, e.weight FROM unnest($3::text[]) AS n(id) \
             CROSS JOIN LATERAL (SELECT src_id, tgt_id, {WEIGHT} AS weight FROM lightrag_graph_edges \
               WHERE workspace = $1 AND namespace = $2 AND src_id = n.id {PER_ITEM}) AS e \
             UNION ALL \
             SELECT n.id, e.src_id, e.tgt_id, e.weight FROM unnest($3::text[]) AS n(id) \
             CROSS JOIN LATERAL (SELECT src_id, tgt_id, {WEIGHT} AS weight FROM lightrag_graph_edges \
               WHERE workspace = $1 AND namespace = $2 AND tgt_id = n.id AND src_id <> n.id \
               {PER_ITEM}) AS e"
        );
        let mut distinct: Vec<&str> = nodes.iter().map(String::as_str).collect();
        distinct.sort_unstable();
        distinct.dedup();
        let mut by_node: HashMap<String, Vec<(String, String, f64)>> = HashMap::new();
        for r in self.query(&sql, &[&distinct])? {
            by_node
                .entry(r.get(0))
                .or_default()
                .push((r.get(1), r.get(2), r.get(3)));
        }
        Ok(nodes
            .iter()
            .map(|n| by_node.get(n).cloned().unwrap_or_default())
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
