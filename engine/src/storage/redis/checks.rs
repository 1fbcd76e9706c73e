//! What LightRAG checks when it first reaches a Redis, and one check more: an evicting
//! `maxmemory-policy` is refused (LightRAG keys have no TTL, so eviction silently drops
//! documents) unless REDIS_ALLOW_EVICTION_POLICY; Redis without AOF and without RDB
//! snapshots gets a warning, as everything it holds dies with its process.

use std::collections::HashMap;

use super::pool::Pool;
use crate::storage::outages::Patience;
use crate::storage::{Result, StorageError};

/// Reaches Redis (with the configured retries) and checks its configuration.
pub(super) fn at_start(pool: &Pool) -> Result<()> {
    pool.run_with(Patience::Start, true, |c| {
        redis::cmd("PING").query::<String>(c)
    })?;
    let uri = pool.config().display_uri();
    let settings = match pool.run(true, |c| {
        let mut all: HashMap<String, String> =
            redis::cmd("CONFIG").arg("GET").arg("maxmemory*").query(c)?;
        let more: HashMap<String, String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("appendonly")
            .arg("save")
            .query(c)?;
        all.extend(more);
        Ok(all)
    }) {
        Ok(settings) => settings,
        Err(StorageError::Redis(e)) => {
            tracing::warn!(redis = %uri, error = %e,
                "CONFIG GET is not allowed: the eviction policy and persistence cannot be checked");
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    check_eviction(&settings, pool.config().allow_eviction_policy, &uri)?;
    if persistence_off(&settings) {
        tracing::warn!(redis = %uri,
            "Redis persistence is off (appendonly no, save \"\"): documents accepted with a 200 \
             are lost when Redis restarts; enable appendonly");
    }
    Ok(())
}

fn check_eviction(settings: &HashMap<String, String>, allow: bool, uri: &str) -> Result<()> {
    let maxmemory: u64 = settings
        .get("maxmemory")
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    let policy = settings
        .get("maxmemory-policy")
        .map_or("noeviction", String::as_str);
    if maxmemory == 0 || !policy.starts_with("allkeys") {
        return Ok(());
    }
    if allow {
        tracing::warn!(redis = %uri, policy, maxmemory,
            "Redis may evict LightRAG keys (allowed by REDIS_ALLOW_EVICTION_POLICY)");
        return Ok(());
    }
    Err(StorageError::Refused {
        what: format!("Redis at {uri}"),
        reason: format!(
            "maxmemory-policy is {policy} with maxmemory {maxmemory}: Redis would evict \
             stored documents; use noeviction (or set REDIS_ALLOW_EVICTION_POLICY=true)"
        ),
    })
}

fn persistence_off(settings: &HashMap<String, String>) -> bool {
    let aof = settings.get("appendonly").is_some_and(|v| v == "yes");
    let rdb = settings.get("save").is_some_and(|v| !v.trim().is_empty());
    !aof && !rdb && settings.contains_key("appendonly")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn only_an_allkeys_policy_with_a_memory_limit_is_refused() {
        let evicting = map(&[
            ("maxmemory", "1048576"),
            ("maxmemory-policy", "allkeys-lru"),
        ]);
        let err = check_eviction(&evicting, false, "redis://h").unwrap_err();
        assert!(err.to_string().contains("allkeys-lru"), "{err}");
        assert!(check_eviction(&evicting, true, "redis://h").is_ok());
        let unlimited = map(&[("maxmemory", "0"), ("maxmemory-policy", "allkeys-lru")]);
        assert!(check_eviction(&unlimited, false, "redis://h").is_ok());
        let volatile = map(&[("maxmemory", "10"), ("maxmemory-policy", "volatile-lru")]);
        assert!(check_eviction(&volatile, false, "redis://h").is_ok());
    }

    #[test]
    fn persistence_is_off_without_aof_and_snapshots() {
        assert!(persistence_off(&map(&[("appendonly", "no"), ("save", "")])));
        assert!(!persistence_off(&map(&[
            ("appendonly", "yes"),
            ("save", "")
        ])));
        assert!(!persistence_off(&map(&[
            ("appendonly", "no"),
            ("save", "3600 1")
        ])));
    }
}
