//! `RedisKVStorage`: one string key `{fn}:{id}` per record, holding the record's JSON
//! plus LightRAG's `_id`, `create_time` and `update_time` (Unix seconds), no TTL.

use std::sync::Arc;

use serde_json::{Value, json};

use super::pool::Pool;
use super::{RedisConfig, delete_matching, glob_escape, legacy_cache, pyjson, scan};
use crate::storage::{KvNamespace, KvStorage, Result};

/// Sets every key, or none when one exists: then its 1-based position comes back.
const INSERT_NEW: &str = "
for i, k in ipairs(KEYS) do
  if redis.call('EXISTS', k) == 1 then return i end
end
for i, k in ipairs(KEYS) do redis.call('SET', k, ARGV[i]) end
return 0";

pub struct RedisKv {
    pool: Arc<Pool>,
    workspace: String,
}

impl RedisKv {
    /// Connects (once per process and URL), checks Redis, and flattens legacy nested
    /// LLM cache values (as LightRAG does at initialisation; a failure is only logged,
    /// as there).
    pub fn open(config: &RedisConfig, workspace: &str) -> Result<RedisKv> {
        let kv = RedisKv {
            pool: super::pool(config)?,
            workspace: workspace.to_owned(),
        };
        let prefix = kv.prefix(KvNamespace::LlmResponseCache);
        if let Err(error) = legacy_cache::flatten_once(&kv.pool, &prefix) {
            tracing::error!(%prefix, %error, "legacy LLM cache entries not migrated");
        }
        Ok(kv)
    }

    /// `{fn}:` of a namespace.
    fn prefix(&self, ns: KvNamespace) -> String {
        let fn_ = self
            .pool
            .config()
            .final_namespace(&self.workspace, ns.as_str());
        format!("{fn_}:")
    }

    fn keys_of(&self, ns: KvNamespace, ids: impl Iterator<Item = impl AsRef<str>>) -> Vec<String> {
        let prefix = self.prefix(ns);
        ids.map(|id| format!("{prefix}{}", id.as_ref())).collect()
    }
}

/// The stored text of a record: LightRAG's bookkeeping fields added to an object.
fn stored(ns: KvNamespace, id: &str, value: &Value, is_new: bool, now: i64) -> Result<String> {
    let Value::Object(fields) = value else {
        return Ok(pyjson::dumps(value)?);
    };
    let mut record = fields.clone();
    if ns == KvNamespace::TextChunks {
        record.entry("llm_cache_list").or_insert_with(|| json!([]));
    }
    record.insert("_id".into(), json!(id));
    if is_new {
        record.insert("create_time".into(), json!(now));
    }
    record.insert("update_time".into(), json!(now));
    Ok(pyjson::dumps(&record)?)
}

impl KvStorage for RedisKv {
    fn kv_get(&self, ns: KvNamespace, key: &str) -> Result<Option<Value>> {
        let key = format!("{}{key}", self.prefix(ns));
        let text: Option<String> = self
            .pool
            .run(true, |c| redis::cmd("GET").arg(&key).query(c))?;
        Ok(text.map(|t| serde_json::from_str(&t)).transpose()?)
    }

    fn kv_upsert(&self, ns: KvNamespace, items: &[(String, Value)]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let keys = self.keys_of(ns, items.iter().map(|(id, _)| id));
        let now = chrono::Utc::now().timestamp();
        // Both forms up front: which one a key gets depends on whether it exists.
        let texts = items
            .iter()
            .map(|(id, value)| {
                Ok((
                    stored(ns, id, value, true, now)?,
                    stored(ns, id, value, false, now)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        self.pool.run(true, |c| {
            let mut exists = redis::pipe();
            for key in &keys {
                exists.exists(key);
            }
            let present: Vec<bool> = exists.query(c)?;
            let mut set = redis::pipe();
            for ((key, (new, existing)), present) in keys.iter().zip(&texts).zip(present) {
                set.set(key, if present { existing } else { new }).ignore();
            }
            set.query::<()>(c)
        })
    }

    fn kv_insert_new(&self, ns: KvNamespace, items: &[(String, Value)]) -> Result<Option<String>> {
        if items.is_empty() {
            return Ok(None);
        }
        let keys = self.keys_of(ns, items.iter().map(|(id, _)| id));
        let now = chrono::Utc::now().timestamp();
        let values = items
            .iter()
            .map(|(id, value)| stored(ns, id, value, true, now))
            .collect::<Result<Vec<_>>>()?;
        let held: usize = self.pool.run(false, |c| {
            redis::cmd("EVAL")
                .arg(INSERT_NEW)
                .arg(keys.len())
                .arg(&keys)
                .arg(&values)
                .query(c)
        })?;
        Ok(held.checked_sub(1).map(|i| items[i].0.clone()))
    }

    fn kv_delete(&self, ns: KvNamespace, keys: &[String]) -> Result<()> {
        let keys = self.keys_of(ns, keys.iter());
        self.pool.run(true, |c| {
            for batch in keys.chunks(1000) {
                redis::cmd("DEL").arg(batch).query::<()>(c)?;
            }
            Ok(())
        })
    }

    fn kv_keys(&self, ns: KvNamespace) -> Result<Vec<String>> {
        let prefix = self.prefix(ns);
        let pattern = format!("{}*", glob_escape(&prefix));
        let mut ids: Vec<String> = self
            .pool
            .run(true, |c| scan(c, &pattern))?
            .into_iter()
            .filter_map(|k| k.strip_prefix(&prefix).map(str::to_owned))
            .collect();
        ids.sort();
        Ok(ids)
    }

    fn kv_drop(&self, ns: KvNamespace) -> Result<()> {
        let pattern = format!("{}*", glob_escape(&self.prefix(ns)));
        self.pool.run(true, |c| delete_matching(c, &pattern))
    }
}
