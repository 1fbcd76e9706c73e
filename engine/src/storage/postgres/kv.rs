//! `PGKVStorage`: each LightRAG namespace in its own table with LightRAG's columns
//! ([`super::layout`]), ours as JSON values in `lightrag_master_kv`; every statement
//! keyed by the effective workspace.

use std::sync::Arc;

use postgres::types::ToSql;
use serde_json::Value;

use super::PostgresConfig;
use super::layout::{self, Layout, Param};
use super::pool::Pool;
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

    /// Writes `items`; with `only_new` nothing at all when one key exists, which then
    /// comes back.
    fn write(
        &self,
        ns: KvNamespace,
        items: &[(String, Value)],
        only_new: bool,
    ) -> Result<Option<String>> {
        if items.is_empty() {
            return Ok(None);
        }
        let rows: Vec<Vec<Param>> = items
            .iter()
            .map(|(id, value)| {
                let mut row: Vec<Param> =
                    vec![Box::new(self.workspace.clone()), Box::new(id.clone())];
                match layout::of(ns) {
                    Some(l) => row.extend(l.params(value)),
                    None => {
                        row.insert(1, Box::new(ns.as_str()));
                        row.push(Box::new(value.clone()));
                    }
                }
                row
            })
            .collect();
        let sql = match layout::of(ns) {
            Some(l) => l.insert_sql(only_new),
            None => ours_sql(only_new),
        };
        self.pool.run(|client| {
            let mut tx = client.transaction()?;
            let statement = tx.prepare(&sql)?;
            for ((id, _), row) in items.iter().zip(&rows) {
                let params: Vec<&(dyn ToSql + Sync)> = row
                    .iter()
                    .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                    .collect();
                if tx.execute(&statement, &params)? == 0 && only_new {
                    // Dropping the transaction rolls the earlier inserts back.
                    return Ok(Some(id.clone()));
                }
            }
            tx.commit()?;
            Ok(None)
        })
    }
}

fn ours_sql(only_new: bool) -> String {
    let conflict = if only_new {
        "DO NOTHING"
    } else {
        "DO UPDATE SET value = EXCLUDED.value, update_time = CURRENT_TIMESTAMP"
    };
    format!(
        "INSERT INTO {OURS} (workspace, namespace, id, value) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (workspace, namespace, id) {conflict}"
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
            let Some(row) = client.query_opt(&sql, &params)? else {
                return Ok(None);
            };
            match layout {
                Some(l) => l.record(&row).map(Some),
                None => row.try_get::<_, Value>(0).map(Some),
            }
        })
    }

    fn kv_upsert(&self, ns: KvNamespace, items: &[(String, Value)]) -> Result<()> {
        self.write(ns, items, false).map(drop)
    }

    fn kv_insert_new(&self, ns: KvNamespace, items: &[(String, Value)]) -> Result<Option<String>> {
        self.write(ns, items, true)
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
