//! The one-off flattening of legacy `llm_response_cache` values, as LightRAG 1.5.7 does
//! when its Redis KV storage of a `*_cache` namespace initialises.
//!
//! Old LightRAG versions kept one key per mode, `{fn}:{mode}`, holding
//! `{hash: entry, ...}`; 1.5.7 reads and writes one key per entry,
//! `{fn}:{mode}:{cache_type}:{hash}` (`cache_type` from the entry, `extract` without one).
//! As in LightRAG, nothing is done once any key is in that three-part form, and a key
//! is migrated only when every value of its object is an object with a `return`.
//! Unlike LightRAG (a `KEYS` and one plain pipeline), the keys are found with `SCAN`
//! and each legacy key is replaced in one MULTI/EXEC, so a crash or a second process
//! migrating at the same time can neither lose an entry nor duplicate one.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

use super::pool::Pool;
use super::{glob_escape, pyjson, scan};
use crate::storage::Result;

/// Flattens the legacy values under `prefix` (`{fn}:`) once per process.
pub(super) fn flatten_once(pool: &Pool, prefix: &str) -> Result<()> {
    static DONE: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let done = DONE.get_or_init(Mutex::default);
    let key = format!("{}|{prefix}", pool.config().uri);
    if done
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .contains(&key)
    {
        return Ok(());
    }
    let migrated = flatten(pool, prefix)?;
    if migrated > 0 {
        tracing::info!(
            prefix,
            entries = migrated,
            "migrated legacy nested LLM cache entries to the flattened layout"
        );
    }
    done.lock().unwrap_or_else(|e| e.into_inner()).insert(key);
    Ok(())
}

/// The flattened records of one legacy value, or None when it is not one.
fn flattened<'v>(mode: &str, value: &'v Value) -> Option<Vec<(String, &'v Value)>> {
    let Value::Object(entries) = value else {
        return None;
    };
    let nested = entries
        .values()
        .all(|v| v.as_object().is_some_and(|e| e.contains_key("return")));
    nested.then(|| {
        entries
            .iter()
            .map(|(hash, entry)| {
                let cache_type = entry
                    .get("cache_type")
                    .and_then(Value::as_str)
                    .unwrap_or("extract");
                (format!("{mode}:{cache_type}:{hash}"), entry)
            })
            .collect()
    })
}

/// The number of entries written.
fn flatten(pool: &Pool, prefix: &str) -> Result<usize> {
    let pattern = format!("{}*", glob_escape(prefix));
    let keys = pool.run(true, |c| scan(c, &pattern))?;
    let ids: Vec<&str> = keys.iter().filter_map(|k| k.strip_prefix(prefix)).collect();
    if ids.iter().any(|id| id.split(':').count() == 3) {
        return Ok(0);
    }
    let mut migrated = 0;
    for id in ids {
        let key = format!("{prefix}{id}");
        migrated += pool.run(true, |c| {
            redis::cmd("WATCH").arg(&key).query::<()>(c)?;
            let text: Option<String> = redis::cmd("GET").arg(&key).query(c)?;
            let value = text.and_then(|t| serde_json::from_str::<Value>(&t).ok());
            let Some(records) = value.as_ref().and_then(|v| flattened(id, v)) else {
                redis::cmd("UNWATCH").query::<()>(c)?;
                return Ok(0);
            };
            let mut tx = redis::pipe();
            tx.atomic().del(&key).ignore();
            for (flat, entry) in &records {
                let text = pyjson::dumps(entry).map_err(|e| {
                    redis::RedisError::from((
                        redis::ErrorKind::Client,
                        "cache entry not serialisable",
                        e.to_string(),
                    ))
                })?;
                tx.set(format!("{prefix}{flat}"), text).ignore();
            }
            // Another process changed (or migrated) the key meanwhile: leave it be.
            let applied = tx.query::<Option<redis::Value>>(c)?.is_some();
            Ok(if applied { records.len() } else { 0 })
        })?;
    }
    Ok(migrated)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::flattened;

    #[test]
    fn only_objects_of_entries_with_a_return_are_legacy() {
        let legacy = json!({
            "h1": {"return": "a", "cache_type": "query"},
            "h2": {"return": "b"},
        });
        let records = flattened("mix", &legacy).unwrap();
        let keys: Vec<&str> = records.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["mix:query:h1", "mix:extract:h2"]);
        assert_eq!(records[1].1, &json!({"return": "b"}));
        assert!(flattened("mix", &json!({"h1": {"content": "a"}})).is_none());
        assert!(flattened("mix", &json!({"h1": "a"})).is_none());
        assert!(flattened("mix", &json!("text")).is_none());
    }
}
