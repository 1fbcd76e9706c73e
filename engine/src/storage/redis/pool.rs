//! A bounded pool of blocking Redis connections, one per URL per process (LightRAG
//! shares one pool per URL too), and the retry policy every command goes through.
//!
//! Connections are made lazily up to REDIS_MAX_CONNECTIONS; a caller beyond that waits
//! for one to come back. A connection that saw an I/O error is dropped rather than
//! returned, so a restarted Redis is reached again by fresh connections: recovery needs
//! no restart of ours. Every outcome updates the process's [`outages`] (`/health`
//! reports a Redis found unreachable until a command succeeds again).

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use redis::{Client, Connection, ConnectionLike, RedisError};

use super::RedisConfig;
use crate::storage::{Result, StorageError, outages};

/// What [`outages`] calls Redis.
const KIND: &str = "Redis";

/// Longest pause between two attempts (LightRAG backs off from 1 s to 8 s).
const MAX_BACKOFF: Duration = Duration::from_secs(8);

pub(crate) struct Pool {
    client: Client,
    config: RedisConfig,
    /// `config.display_uri()`, made once: every command reports it to [`outages`].
    address: String,
    idle: Mutex<Idle>,
    returned: Condvar,
}

struct Idle {
    connections: Vec<Connection>,
    /// Connections made and not dropped (idle or lent out).
    open: usize,
}

/// A connection lent by the pool; it goes back on drop unless it failed.
pub(crate) struct Lent<'a> {
    pool: &'a Pool,
    connection: Option<Connection>,
    broken: bool,
}

impl std::ops::Deref for Lent<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.connection.as_ref().expect("present until drop")
    }
}

impl std::ops::DerefMut for Lent<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.connection.as_mut().expect("present until drop")
    }
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        let mut idle = self.pool.lock();
        match self.connection.take() {
            Some(c) if !self.broken && c.is_open() => idle.connections.push(c),
            _ => idle.open -= 1,
        }
        self.pool.returned.notify_one();
    }
}

/// Whether an error means Redis could not be reached (worth a retry, and a 503 when
/// the retries run out) rather than a refused command.
pub(crate) fn is_unreachable(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_unrecoverable_error()
}

impl Pool {
    pub(crate) fn new(config: RedisConfig) -> Result<Pool> {
        let client = Client::open(config.uri.as_str()).map_err(|e| StorageError::Refused {
            what: format!("REDIS_URI {}", config.display_uri()),
            reason: e.to_string(),
        })?;
        Ok(Pool {
            client,
            address: config.display_uri(),
            config,
            idle: Mutex::new(Idle {
                connections: Vec::new(),
                open: 0,
            }),
            returned: Condvar::new(),
        })
    }

    pub(crate) fn config(&self) -> &RedisConfig {
        &self.config
    }

    /// The client, for a connection of its own outside the pool (a subscription).
    pub(crate) fn client(&self) -> Client {
        self.client.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Idle> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An idle connection, a new one while under the bound, or the next one returned.
    fn lend(&self) -> std::result::Result<Lent<'_>, RedisError> {
        let mut idle = self.lock();
        loop {
            if let Some(c) = idle.connections.pop() {
                return Ok(self.lent(c));
            }
            if idle.open < self.config.max_connections {
                idle.open += 1;
                drop(idle);
                return match self.connect() {
                    Ok(c) => Ok(self.lent(c)),
                    Err(e) => {
                        self.lock().open -= 1;
                        self.returned.notify_one();
                        Err(e)
                    }
                };
            }
            let (next, _) = self
                .returned
                .wait_timeout(idle, self.config.socket_timeout)
                .unwrap_or_else(|e| e.into_inner());
            idle = next;
        }
    }

    fn lent(&self, connection: Connection) -> Lent<'_> {
        Lent {
            pool: self,
            connection: Some(connection),
            broken: false,
        }
    }

    fn connect(&self) -> std::result::Result<Connection, RedisError> {
        let c = self
            .client
            .get_connection_with_timeout(self.config.connect_timeout)?;
        c.set_read_timeout(Some(self.config.socket_timeout))?;
        c.set_write_timeout(Some(self.config.socket_timeout))?;
        Ok(c)
    }

    /// Runs `op` on a pooled connection. While Redis is unreachable it is tried again
    /// (REDIS_RETRY_ATTEMPTS in all, backing off) when `idempotent`; a command that may
    /// have been applied before its reply was lost is not repeated.
    pub(crate) fn run<T>(
        &self,
        idempotent: bool,
        op: impl FnMut(&mut Connection) -> std::result::Result<T, RedisError>,
    ) -> Result<T> {
        let outcome = self.attempts(idempotent, op);
        outages::record(KIND, &self.address, &outcome);
        outcome
    }

    fn attempts<T>(
        &self,
        idempotent: bool,
        mut op: impl FnMut(&mut Connection) -> std::result::Result<T, RedisError>,
    ) -> Result<T> {
        let attempts = self.config.retry_attempts.max(1);
        let mut backoff = Duration::from_secs(1);
        for attempt in 1..=attempts {
            let outcome = self.lend().map(|mut c| {
                let result = op(&mut c);
                c.broken = matches!(&result, Err(e) if is_unreachable(e));
                (result, c.broken)
            });
            let error = match outcome {
                Ok((Ok(value), _)) => return Ok(value),
                Ok((Err(e), false)) => return Err(StorageError::Redis(e)),
                Ok((Err(e), true)) if !idempotent => return Err(self.unavailable(&e)),
                Ok((Err(e), true)) | Err(e) => e,
            };
            if !is_unreachable(&error) {
                return Err(StorageError::Redis(error));
            }
            if attempt == attempts {
                return Err(self.unavailable(&error));
            }
            tracing::warn!(redis = %self.config.display_uri(), attempt, attempts,
                error = %error, "Redis unreachable; trying again");
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        unreachable!("the last attempt returns")
    }

    fn unavailable(&self, e: &RedisError) -> StorageError {
        StorageError::Unavailable {
            store: format!("{KIND} at {}", self.address),
            reason: e.to_string(),
        }
    }
}
