//! `PGKVStorage`: each LightRAG namespace in its own table with LightRAG's columns
//! ([`super::layout`]), ours as JSON values in `lightrag_master_kv`; every statement
//! keyed by the effective workspace.

use std::collections::HashMap;
use std::sync::Arc;

use postgres::types::ToSql;
use serde_json::Value;

use super::PostgresConfig;
use super::layout::{self, Layout, Values};
use super::pool::Pool;
use super::{first_refused, last_of_each};
use crate::storage::{KvNamespace, KvStorage, Result};

const OURS: &str = "lightrag_master_kv";

pub struct PgKv {
    pool: Arc<Pool>,
    /// The `workspace` column's value.
    workspace: String,
}

impl PgKv {
    /// Reaches PostgreSQL (once per process and configuration) and makes the schema.
    pub fn open(config: &PostgresConfig, workspace: &str) -> Result<PgKv> {
        Ok(PgKv {
            pool: Pool::shared(config)?,
            workspace: config.effective_workspace(workspace),
        })
    }

    /// `WHERE` of one namespace's rows: `$1` workspace (and `$2` namespace in ours).
    fn scope(ns: KvNamespace) -> (&'static str, &'static str) {
        match layout::of(ns) {
            Some(l) => (l.table, "workspace = $1"),
            None => (OURS, "workspace = $1 AND namespace = $2"),
        }
    }

    /// The scope's parameters (`name` is `ns.as_str()`) followed by `more`.
    fn scoped<'a>(
        &'a self,
        ns: KvNamespace,
        name: &'a &'static str,
        more: &[&'a (dyn ToSql + Sync)],
    ) -> Vec<&'a (dyn ToSql + Sync)> {
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&self.workspace];
        if layout::of(ns).is_none() {
            params.push(name);
        }
        params.extend_from_slice(more);
        params
    }

    /// Prepares `items` as one statement, keyed by `$1` workspace.
    fn batch(&self, ns: KvNamespace, items: &[&(String, Value)], only_new: bool) -> Batch {
        let ids: Vec<String> = items.iter().map(|(id, _)| id.clone()).collect();
        match layout::of(ns) {
            Some(l) => Batch {
                sql: l.insert_sql(only_new),
                namespace: None,
                ids,
                arrays: l.values(items.iter().map(|(_, v)| v)),
            },
            None => Batch {
                sql: ours_sql(only_new),
                namespace: Some(ns.as_str()),
                ids,
                arrays: vec![Values::Json(
                    items.iter().map(|(_, v)| Some(v.clone())).collect(),
                )],
            },
        }
    }

    /// Upserts into each namespace of `batches` (the last item of a key repeated in one
    /// namespace wins), each namespace one statement, all in one transaction.
    fn upsert(&self, batches: &[(KvNamespace, &[(String, Value)])]) -> Result<()> {
        let prepared: Vec<Batch> = batches
            .iter()
            .filter(|(_, items)| !items.is_empty())
            .map(|(ns, items)| self.batch(*ns, &last_of_each(items, |(id, _)| id.as_str()), false))
            .collect();
        if prepared.is_empty() {
            return Ok(());
        }
        self.pool.run(|c| {
            let writes: Vec<(&str, Vec<&(dyn ToSql + Sync)>)> = prepared
                .iter()
                .map(|b| (b.sql.as_str(), b.params(&self.workspace)))
                .collect();
            c.write_all(&writes)
        })
    }
}

/// One namespace's items as one statement: its SQL and its array parameters.
struct Batch {
    sql: String,
    /// `$2` in our table.
    namespace: Option<&'static str>,
    ids: Vec<String>,
    arrays: Vec<Values>,
}

impl Batch {
    fn params<'a>(&'a self, workspace: &'a String) -> Vec<&'a (dyn ToSql + Sync)> {
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![workspace];
        if let Some(ns) = &self.namespace {
            params.push(ns);
        }
        params.push(&self.ids);
        params.extend(self.arrays.iter().map(Values::param));
        params
    }
}

fn ours_sql(only_new: bool) -> String {
    let conflict = if only_new {
        "DO NOTHING RETURNING id"
    } else {
        "DO UPDATE SET value = EXCLUDED.value, update_time = CURRENT_TIMESTAMP"
    };
    format!(
        "{} ON CONFLICT (workspace, namespace, id) {conflict}",
        layout::unnest_insert(
            OURS,
            &["workspace", "namespace", "id", "value"],
            &["$1".into(), "$2".into(), "u.id".into(), "u.value".into()],
            &[("id", "text[]"), ("value", "jsonb[]")],
            3,
        )
    )
}

fn select(layout: Option<&Layout>) -> String {
    match layout {
        Some(l) => l.select_list(),
        None => "value".to_owned(),
    }
}

impl KvStorage for PgKv {
    fn kv_get(&self, ns: KvNamespace, key: &str) -> Result<Option<Value>> {
        let (table, scope) = Self::scope(ns);
        let layout = layout::of(ns);
        let key = key.to_owned();
        let name = ns.as_str();
        let params = self.scoped(ns, &name, &[&key]);
        let n = params.len();
        let sql = format!(
            "SELECT {} FROM {table} WHERE {scope} AND id = ${n}",
            select(layout)
        );
        self.pool.run(|client| {
            let statement = client.prepared(&sql)?;
            let Some(row) = client.query_opt(&statement, &params)? else {
                return Ok(None);
            };
            match layout {
                Some(l) => l.record(&row).map(Some),
                None => row.try_get::<_, Value>(0).map(Some),
            }
        })
    }

    fn kv_upsert(&self, ns: KvNamespace, items: &[(String, Value)]) -> Result<()> {
        self.upsert(&[(ns, items)])
    }

    fn kv_upsert_many(&self, batches: &[(KvNamespace, &[(String, Value)])]) -> Result<()> {
        self.upsert(batches)
    }

    /// One `INSERT ... ON CONFLICT DO NOTHING RETURNING id`; when fewer rows come back
    /// than were sent, the transaction is dropped (nothing written) and the first id
    /// not written is the answer.
    fn kv_insert_new(&self, ns: KvNamespace, items: &[(String, Value)]) -> Result<Option<String>> {
        if items.is_empty() {
            return Ok(None);
        }
        let all: Vec<&(String, Value)> = items.iter().collect();
        let batch = self.batch(ns, &all, true);
        self.pool.run(|c| {
            let statement = c.prepared(&batch.sql)?;
            let mut tx = c.transaction()?;
            let written: std::collections::HashSet<String> = tx
                .query(&statement, &batch.params(&self.workspace))?
                .iter()
                .map(|row| row.try_get(0))
                .collect::<std::result::Result<_, _>>()?;
            if let Some(refused) = first_refused(&batch.ids, &written) {
                // Dropping the transaction rolls the other inserts back.
                return Ok(Some(refused.clone()));
            }
            tx.commit()?;
            Ok(None)
        })
    }

    fn kv_get_many(&self, ns: KvNamespace, keys: &[String]) -> Result<HashMap<String, Value>> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let (table, scope) = Self::scope(ns);
        let layout = layout::of(ns);
        let name = ns.as_str();
        let params = self.scoped(ns, &name, &[&keys]);
        let sql = format!(
            "SELECT id, {} FROM {table} WHERE {scope} AND id = ANY(${})",
            select(layout),
            params.len()
        );
        self.pool.run(|c| {
            let statement = c.prepared(&sql)?;
            c.query(&statement, &params)?
                .iter()
                .map(|row| {
                    let record = match layout {
                        Some(l) => l.record_at(row, 1)?,
                        None => row.try_get::<_, Value>(1)?,
                    };
                    Ok((row.try_get(0)?, record))
                })
                .collect()
        })
    }

    fn kv_delete(&self, ns: KvNamespace, keys: &[String]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let (table, scope) = Self::scope(ns);
        let keys = keys.to_vec();
        let name = ns.as_str();
        let params = self.scoped(ns, &name, &[&keys]);
        let sql = format!(
            "DELETE FROM {table} WHERE {scope} AND id = ANY(${})",
            params.len()
        );
        self.pool
            .run(|client| client.execute(&sql, &params).map(drop))
    }

    fn kv_keys(&self, ns: KvNamespace) -> Result<Vec<String>> {
        let (table, scope) = Self::scope(ns);
        let name = ns.as_str();
        let params = self.scoped(ns, &name, &[]);
        let sql = format!("SELECT id FROM {table} WHERE {scope} ORDER BY id");
        self.pool.run(|client| {
            client
                .query(&sql, &params)?
                .iter()
                .map(|row| row.try_get(0))
                .collect()
        })
    }

    fn kv_drop(&self, ns: KvNamespace) -> Result<()> {
        let (table, scope) = Self::scope(ns);
        let name = ns.as_str();
        let params = self.scoped(ns, &name, &[]);
        let sql = format!("DELETE FROM {table} WHERE {scope}");
        self.pool
            .run(|client| client.execute(&sql, &params).map(drop))
    }
}
