//! A bounded pool of blocking Redis connections, one per URL per process (LightRAG
//! shares one pool per URL too), and the retry policy every command goes through.
//!
//! Connections are made lazily up to REDIS_MAX_CONNECTIONS; a caller beyond that waits
//! for one to come back. A connection that saw an I/O error is dropped rather than
//! returned, so a restarted Redis is reached again by fresh connections: recovery needs
//! no restart of ours. Every outcome updates the process's [`outages`] (`/health`
//! reports a Redis found unreachable until a command succeeds again).
//!
//! REDIS_RETRY_ATTEMPTS, backing off from 1 s to 8 s, apply to the first contact as the
//! worker starts ([`Patience::Start`]). Once serving ([`Patience::Serve`]) a command
//! never waits a back-off out, as with PostgreSQL: a dead pooled connection is replaced
//! at once (Redis may have restarted and be back), and a fresh connection that fails
//! ends the command with [`StorageError::Unavailable`], a 503 for a request.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use redis::{Client, Connection, ConnectionLike, ErrorKind, RedisError, ServerErrorKind};

use super::RedisConfig;
use crate::storage::outages::{self, Miss, Patience};
use crate::storage::{Result, StorageError};

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
    /// Made for this command rather than taken from the idle ones.
    fresh: bool,
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
/// the retries run out) rather than a refused command. A Redis still loading its data
/// after a restart (`LOADING`), or a replica without its primary, is not there yet
/// either.
pub(crate) fn is_unreachable(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_unrecoverable_error()
        || matches!(
            e.kind(),
            ErrorKind::Server(ServerErrorKind::BusyLoading | ServerErrorKind::MasterDown)
        )
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
                return Ok(self.lent(c, false));
            }
            if idle.open < self.config.max_connections {
                idle.open += 1;
                drop(idle);
                return match self.connect() {
                    Ok(c) => Ok(self.lent(c, true)),
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

    fn lent(&self, connection: Connection, fresh: bool) -> Lent<'_> {
        Lent {
            pool: self,
            connection: Some(connection),
            broken: false,
            fresh,
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

    /// Runs `op` on a pooled connection with [`Patience::Serve`]. A command that may
    /// have been applied before its reply was lost (not `idempotent`) is not repeated.
    pub(crate) fn run<T>(
        &self,
        idempotent: bool,
        op: impl FnMut(&mut Connection) -> std::result::Result<T, RedisError>,
    ) -> Result<T> {
        self.run_with(Patience::Serve, idempotent, op)
    }

    /// Runs `op` on a pooled connection, trying again while Redis is unreachable for as
    /// long as `patience` says (an `idempotent` command only).
    pub(crate) fn run_with<T>(
        &self,
        patience: Patience,
        idempotent: bool,
        op: impl FnMut(&mut Connection) -> std::result::Result<T, RedisError>,
    ) -> Result<T> {
        let outcome = self.attempts(patience, idempotent, op);
        outages::record(KIND, &self.address, &outcome);
        outcome
    }

    fn attempts<T>(
        &self,
        patience: Patience,
        idempotent: bool,
        mut op: impl FnMut(&mut Connection) -> std::result::Result<T, RedisError>,
    ) -> Result<T> {
        self.retrying(patience, || {
            let mut c = self.lend().map_err(Failure::connecting)?;
            let result = op(&mut c);
            c.broken = matches!(&result, Err(e) if is_unreachable(e));
            match result {
                Ok(value) => Ok(value),
                Err(e) if !c.broken => Err(Failure::Refused(e)),
                Err(e) if !idempotent => Err(Failure::Final(e)),
                Err(e) => Err(Failure::Unreachable {
                    error: e,
                    fresh: c.fresh,
                }),
            }
        })
    }

    /// Attempts until one succeeds, Redis refuses, or `patience` runs out; a dead
    /// pooled connection is replaced at once, once.
    fn retrying<T>(
        &self,
        patience: Patience,
        mut attempt: impl FnMut() -> std::result::Result<T, Failure>,
    ) -> Result<T> {
        let schedule = outages::Schedule {
            attempts: self.config.retry_attempts,
            first_pause: Duration::from_secs(1),
            longest_pause: MAX_BACKOFF,
        };
        outages::retry(
            KIND,
            &self.address,
            patience,
            schedule,
            || {
                attempt().map_err(|failure| match failure {
                    Failure::Refused(e) => Miss::Final(StorageError::Redis(e)),
                    Failure::Final(e) => Miss::Final(self.unavailable(&e)),
                    Failure::Unreachable { error, fresh } => Miss::Unreachable {
                        error,
                        stale: !fresh,
                    },
                })
            },
            |e| self.unavailable(e),
        )
    }

    fn unavailable(&self, e: &RedisError) -> StorageError {
        StorageError::Unavailable {
            store: format!("{KIND} at {}", self.address),
            reason: e.to_string(),
        }
    }
}

/// How one attempt failed.
enum Failure {
    /// A command Redis refused: no retry.
    Refused(RedisError),
    /// Redis could not be reached or dropped the connection; `fresh` when the
    /// connection was made for this attempt.
    Unreachable { error: RedisError, fresh: bool },
    /// The connection broke under a command that may have been applied: no retry.
    Final(RedisError),
}

impl Failure {
    /// A fresh connection that could not be made: unreachable when it is, else refused.
    fn connecting(e: RedisError) -> Failure {
        if is_unreachable(&e) {
            Failure::Unreachable {
                error: e,
                fresh: true,
            }
        } else {
            Failure::Refused(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed_port_pool(retry_attempts: u32) -> Pool {
        // Port 1 on loopback: nothing listens there.
        let mut config = super::super::tests::config("redis://127.0.0.1:1");
        config.retry_attempts = retry_attempts;
        Pool::new(config).unwrap()
    }

    #[test]
    fn serving_tries_one_fresh_connection_where_start_up_retries() {
        let pool = closed_port_pool(2);
        let tries = |patience, fresh| {
            let mut tried = 0;
            let outcome: Result<()> = pool.retrying(patience, || {
                tried += 1;
                let refused = pool.connect().err().expect("nothing listens on port 1");
                Err(Failure::Unreachable {
                    error: refused,
                    fresh,
                })
            });
            assert!(matches!(outcome, Err(StorageError::Unavailable { .. })));
            tried
        };
        assert_eq!(tries(Patience::Serve, true), 1);
        // A dead pooled connection is replaced once, at once.
        assert_eq!(tries(Patience::Serve, false), 2);
        assert_eq!(tries(Patience::Start, true), 2);
    }

    #[test]
    fn a_command_that_may_have_been_applied_is_not_repeated() {
        let pool = closed_port_pool(3);
        let mut tried = 0;
        let outcome: Result<()> = pool.retrying(Patience::Start, || {
            tried += 1;
            let refused = pool.connect().err().expect("nothing listens on port 1");
            Err(Failure::Final(refused))
        });
        assert!(matches!(outcome, Err(StorageError::Unavailable { .. })));
        assert_eq!(tried, 1);
    }
}
