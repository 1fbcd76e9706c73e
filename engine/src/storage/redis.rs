//! LightRAG's Redis storages (`RedisKVStorage`, `RedisDocStatusStorage`) with its key
//! layout and JSON values, so that a Redis LightRAG 1.5.7 wrote is served as it is and
//! the other way round: `{fn}:{id}` strings for records, where `{fn}` is
//! `{workspace}_{namespace}` (just the namespace without a workspace), and the
//! `{fn}__sched:*` index keys document status is paginated and counted from.
//!
//! The client is the blocking one: the storage traits are sync and run on blocking
//! threads. One pool per URL per process; its start-up checks are LightRAG's (an
//! evicting `maxmemory-policy` is refused) plus a warning when Redis keeps nothing on
//! disk, since a document accepted with a 200 would then vanish on a Redis restart.
//!
//! With document status here, several nodes share the workspace: [`RedisCoordination`]
//! puts its pipeline claim (a fenced lease), pipeline status and cache invalidation in
//! Redis too, [`RedisThrottle`] the login throttle and [`RedisRenewals`] the token
//! renewals.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

mod checks;
mod coordination;
mod doc_status;
mod generations;
mod kv;
mod lease;
mod legacy_cache;
mod pool;
mod pyjson;
mod renewals;
mod sort_index;
mod status_board;
mod throttle;

pub use coordination::RedisCoordination;
pub use doc_status::RedisDocStatus;
pub use generations::{FALLBACK as GENERATIONS_FALLBACK, RedisGenerations};
pub use kv::RedisKv;
pub use lease::{LEASE_TTL, RENEW_EVERY};
pub use renewals::RedisRenewals;
pub use throttle::RedisThrottle;

use pool::Pool;

use super::Result;

/// How to reach Redis (LightRAG's `REDIS_*` settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// REDIS_URI; `rediss://` is TLS, the database number comes from the path.
    pub uri: String,
    /// REDIS_WORKSPACE: when set, the workspace of every Redis key, whatever the
    /// LightRAG workspace.
    pub workspace: Option<String>,
    pub max_connections: usize,
    pub socket_timeout: Duration,
    pub connect_timeout: Duration,
    /// Attempts in all (not retries) while Redis is unreachable.
    pub retry_attempts: u32,
    /// REDIS_ALLOW_EVICTION_POLICY: accept an `allkeys-*` policy with a warning.
    pub allow_eviction_policy: bool,
}

impl RedisConfig {
    /// The URI without its password, for logs and error messages.
    pub fn display_uri(&self) -> String {
        match (self.uri.find("://"), self.uri.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                format!("{}://***@{}", &self.uri[..scheme], &self.uri[at + 1..])
            }
            _ => self.uri.clone(),
        }
    }

    /// `{fn}`: the key prefix of `namespace` for the LightRAG `workspace`.
    pub fn final_namespace(&self, workspace: &str, namespace: &str) -> String {
        match self.workspace.as_deref().map(str::trim) {
            Some(ws) if !ws.is_empty() => format!("{ws}_{namespace}"),
            _ if workspace.is_empty() => namespace.to_owned(),
            _ => format!("{workspace}_{namespace}"),
        }
    }
}

/// The process's pool for `config`, made (and checked) on first use. A failed check
/// is not remembered: the next open tries again.
pub(crate) fn pool(config: &RedisConfig) -> Result<Arc<Pool>> {
    static POOLS: OnceLock<Mutex<HashMap<String, Arc<Pool>>>> = OnceLock::new();
    let pools = POOLS.get_or_init(Mutex::default);
    let mut pools = pools.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(pool) = pools.get(&config.uri) {
        return Ok(pool.clone());
    }
    let pool = Arc::new(Pool::new(config.clone())?);
    checks::at_start(&pool)?;
    pools.insert(config.uri.clone(), pool.clone());
    Ok(pool)
}

/// `pattern` with glob characters escaped, for `SCAN MATCH`.
fn glob_escape(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    for c in pattern.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One SCAN step: the next cursor (0 at the end) and the keys it gave.
fn scan_step(
    conn: &mut redis::Connection,
    cursor: u64,
    pattern: &str,
) -> redis::RedisResult<(u64, Vec<String>)> {
    redis::cmd("SCAN")
        .arg(cursor)
        .arg("MATCH")
        .arg(pattern)
        .arg("COUNT")
        .arg(1000)
        .query(conn)
}

/// Every key matching `pattern` (`SCAN ... COUNT 1000`, as LightRAG iterates).
fn scan(conn: &mut redis::Connection, pattern: &str) -> redis::RedisResult<Vec<String>> {
    let mut keys = Vec::new();
    let mut cursor = 0;
    loop {
        let (next, batch) = scan_step(conn, cursor, pattern)?;
        keys.extend(batch);
        if next == 0 {
            return Ok(keys);
        }
        cursor = next;
    }
}

/// Whether any key matches `pattern` (the SCAN stops at the first).
fn any(conn: &mut redis::Connection, pattern: &str) -> redis::RedisResult<bool> {
    let mut cursor = 0;
    loop {
        let (next, batch) = scan_step(conn, cursor, pattern)?;
        if !batch.is_empty() {
            return Ok(true);
        }
        if next == 0 {
            return Ok(false);
        }
        cursor = next;
    }
}

/// Deletes every key matching `pattern`.
fn delete_matching(conn: &mut redis::Connection, pattern: &str) -> redis::RedisResult<()> {
    for batch in scan(conn, pattern)?.chunks(1000) {
        redis::cmd("DEL").arg(batch).query::<()>(conn)?;
    }
    Ok(())
}

#[cfg(test)]
mod coordination_tests;
#[cfg(test)]
mod generations_tests;
#[cfg(test)]
mod index_tests;
#[cfg(test)]
mod server_tests;

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn config(uri: &str) -> RedisConfig {
        RedisConfig {
            uri: uri.to_owned(),
            workspace: None,
            max_connections: 4,
            socket_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            retry_attempts: 1,
            allow_eviction_policy: false,
        }
    }

    #[test]
    fn prefixes_follow_lightrag() {
        let mut c = config("redis://u:secret@host:6379/2");
        assert_eq!(c.final_namespace("", "full_docs"), "full_docs");
        assert_eq!(c.final_namespace("ws1", "doc_status"), "ws1_doc_status");
        c.workspace = Some(" shared ".into());
        assert_eq!(c.final_namespace("ws1", "doc_status"), "shared_doc_status");
        c.workspace = Some("  ".into());
        assert_eq!(c.final_namespace("", "text_chunks"), "text_chunks");
        assert_eq!(c.display_uri(), "redis://***@host:6379/2");
        assert_eq!(glob_escape("a*b[c]"), "a\\*b\\[c\\]");
    }
}
