//! A bounded pool of blocking PostgreSQL connections, one per configuration per
//! process, and how long an operation keeps trying while PostgreSQL is unreachable.
//!
//! LightRAG's POSTGRES_CONNECTION_RETRIES, with an exponential back-off from
//! POSTGRES_CONNECTION_RETRY_BACKOFF up to POSTGRES_CONNECTION_RETRY_BACKOFF_MAX, are
//! about connecting: they apply to the pool's first contact, the schema check a worker
//! makes as it starts ([`Patience::Start`]; about three minutes with the defaults, then
//! the worker gives up and the master exits 4). Once serving, an operation never waits
//! that schedule out ([`Patience::Serve`]): a request would hold its client for minutes
//! before its 503. A pooled connection found dead is replaced at once (the server may
//! be back already); a fresh connection that fails ends the operation with
//! [`StorageError::Unavailable`], which the worker answers with a 503 naming the store
//! and the reason. The pipeline needs no more patience: a document whose store is away
//! stays `processing` and the next run, half a second later, indexes it again.
//!
//! Every outcome updates the process's [`outages`]: an operation that gave up marks
//! PostgreSQL down, one that succeeded marks it up again (`/health` reports it).
//!
//! Connections are made lazily up to this worker's share of POSTGRES_MAX_CONNECTIONS; a
//! caller beyond that waits for one to come back. After a connection-level error every
//! idle connection is dropped too (they went to the same server, which has most likely
//! restarted), so a restarted PostgreSQL is reached again with no restart of ours.
//!
//! Each pooled connection keeps the statements it prepared ([`Session::prepared`]), up
//! to POSTGRES_STATEMENT_CACHE_SIZE of them: a statement run again on that connection
//! is one round trip (bind and execute) instead of two (parse, then bind and execute),
//! which is most of the cost of a short read on loopback. With a size of 0 nothing is
//! kept (PgBouncer in transaction mode cannot keep a statement across transactions).
//!
//! The `postgres` client drives its own small runtime: it must not be used on a thread
//! that is inside a tokio runtime. [`blocking`] moves such calls out of it; the pool
//! does so for every operation it runs.

use std::collections::VecDeque;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use postgres::types::ToSql;
use postgres::{Client, Statement};

use super::{PostgresConfig, schema, tls};
use crate::storage::outages::{self, Miss, Patience};
use crate::storage::{Result, StorageError};

/// What [`outages`] calls PostgreSQL.
const KIND: &str = "PostgreSQL";

/// How long a caller waits for a free connection before it is told the store is busy.
const WAIT_FOR_CONNECTION: Duration = Duration::from_secs(30);
/// Longest a connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) struct Pool {
    config: PostgresConfig,
    /// `config.address()`, made once: every operation reports it to [`outages`].
    address: String,
    connector: tls::Connector,
    idle: Mutex<Idle>,
    returned: Condvar,
}

struct Idle {
    clients: Vec<Session>,
    /// Connections made and not dropped (idle or lent out).
    open: usize,
}

/// A pooled connection and the statements prepared on it, most recently used last.
pub(crate) struct Session {
    client: Client,
    statements: VecDeque<(String, Statement)>,
    capacity: usize,
}

impl Session {
    fn new(client: Client, capacity: usize) -> Session {
        Session {
            client,
            statements: VecDeque::new(),
            capacity,
        }
    }

    /// `sql` prepared on this connection: the one prepared earlier when it is still
    /// kept, else prepared now (and kept, the least recently used one going when the
    /// cache is full). Use it outside a transaction's borrow: the statement serves the
    /// connection's transactions too.
    pub(crate) fn prepared(
        &mut self,
        sql: &str,
    ) -> std::result::Result<Statement, postgres::Error> {
        if let Some(at) = self.statements.iter().position(|(s, _)| s == sql) {
            let entry = self.statements.remove(at).expect("a position of the cache");
            let statement = entry.1.clone();
            self.statements.push_back(entry);
            return Ok(statement);
        }
        let statement = self.client.prepare(sql)?;
        if self.capacity > 0 {
            if self.statements.len() >= self.capacity {
                self.statements.pop_front();
            }
            self.statements
                .push_back((sql.to_owned(), statement.clone()));
        }
        Ok(statement)
    }

    /// Runs each `(sql, params)` as one atomic step: alone, or in one transaction when
    /// there are several, every statement prepared (or found kept) first.
    pub(crate) fn write_all(
        &mut self,
        writes: &[(&str, Vec<&(dyn ToSql + Sync)>)],
    ) -> std::result::Result<(), postgres::Error> {
        let statements = writes
            .iter()
            .map(|(sql, _)| self.prepared(sql))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        if let [(_, params)] = writes {
            return self.client.execute(&statements[0], params).map(drop);
        }
        let mut tx = self.client.transaction()?;
        for (statement, (_, params)) in statements.iter().zip(writes) {
            tx.execute(statement, params)?;
        }
        tx.commit()
    }

    /// Forgets every kept statement (after an error that may come from a stale one: a
    /// table recreated under a cached plan).
    fn forget_statements(&mut self) {
        self.statements.clear();
    }
}

impl Deref for Session {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl DerefMut for Session {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// Whether `e` means PostgreSQL could not be reached or dropped the session (worth a
/// retry on a fresh connection, and a 503 when the retries run out) rather than a
/// refused statement.
pub(crate) fn is_unreachable(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        let code = code.code();
        // connection_exception, admin/crash shutdown, cannot_connect_now, too_many_connections
        return code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300");
    }
    if e.as_db_error().is_some() {
        return false;
    }
    let text = e.to_string();
    std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
        || text.starts_with("timeout")
        || text.starts_with("error connecting")
        || text.starts_with("error communicating")
        || text.starts_with("error performing TLS")
}

/// Runs `f` where the blocking client may run: directly on a plain thread, moved off a
/// tokio worker thread otherwise (the client's own runtime cannot nest in another).
pub(crate) fn blocking<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Err(_) => f(),
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        Ok(_) => std::thread::scope(|s| s.spawn(f).join().expect("storage thread panicked")),
    }
}

impl Pool {
    /// The process's pool for `config`, made (and the schema checked) on first use. A
    /// pool made before a fork is not used by the child: each process makes its own.
    /// A failed start is not remembered: the next call tries again.
    pub(crate) fn shared(config: &PostgresConfig) -> Result<Arc<Pool>> {
        type Pools = (u32, Vec<(PostgresConfig, Arc<Pool>)>);
        static POOLS: OnceLock<Mutex<Pools>> = OnceLock::new();
        let pools = POOLS.get_or_init(|| Mutex::new((std::process::id(), Vec::new())));
        let mut pools = pools.lock().unwrap_or_else(|e| e.into_inner());
        if pools.0 != std::process::id() {
            // Inherited sockets belong to the parent: closing them would end its sessions.
            std::mem::forget(std::mem::take(&mut pools.1));
            pools.0 = std::process::id();
        }
        if let Some((_, pool)) = pools.1.iter().find(|(c, _)| c == config) {
            return Ok(pool.clone());
        }
        let pool = Arc::new(Pool::new(config.clone())?);
        schema::ensure(&pool)?;
        pools.1.push((config.clone(), pool.clone()));
        Ok(pool)
    }

    fn new(config: PostgresConfig) -> Result<Pool> {
        Ok(Pool {
            connector: tls::Connector::new(&config.ssl)?,
            address: config.address(),
            config,
            idle: Mutex::new(Idle {
                clients: Vec::new(),
                open: 0,
            }),
            returned: Condvar::new(),
        })
    }

    pub(crate) fn config(&self) -> &PostgresConfig {
        &self.config
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Idle> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A session of its own, outside the pool (advisory locks held for long, LISTEN),
    /// made with [`Patience::Serve`]: its users have their own loops. Use it through
    /// [`blocking`] in async code.
    pub(crate) fn dedicated(&self) -> Result<Client> {
        self.retrying(Patience::Serve, || {
            blocking(|| self.connect()).map_err(Attempt::from)
        })
    }

    fn connect(&self) -> std::result::Result<Client, postgres::Error> {
        let c = &self.config;
        let mut pg = postgres::Config::new();
        pg.host(&c.host)
            .port(c.port)
            .user(&c.user)
            .dbname(&c.database)
            .application_name("lightrag-master")
            .connect_timeout(CONNECT_TIMEOUT)
            .keepalives(true)
            .ssl_mode(tls::ssl_mode(c.ssl.mode));
        if !c.password.is_empty() {
            pg.password(&c.password);
        }
        if !c.server_settings.is_empty() {
            let options: Vec<String> = c
                .server_settings
                .iter()
                .map(|(k, v)| format!("-c {k}={}", v.replace('\\', "\\\\").replace(' ', "\\ ")))
                .collect();
            pg.options(&options.join(" "));
        }
        self.connector.connect(&pg)
    }

    /// An idle connection, a new one while under the bound, or the next one returned.
    fn lend(&self) -> std::result::Result<(Session, bool), LendError> {
        let mut idle = self.lock();
        loop {
            let mut closed = Vec::new();
            while let Some(client) = idle.clients.pop() {
                if !client.is_closed() {
                    discard(closed);
                    return Ok((client, true));
                }
                idle.open -= 1;
                closed.push(client);
            }
            discard(closed);
            if idle.open < self.config.max_connections {
                idle.open += 1;
                drop(idle);
                return match self.connect() {
                    Ok(client) => Ok((
                        Session::new(client, self.config.statement_cache_size),
                        false,
                    )),
                    Err(e) => {
                        self.lock().open -= 1;
                        self.returned.notify_one();
                        Err(LendError::Connect(e))
                    }
                };
            }
            let (next, timeout) = self
                .returned
                .wait_timeout(idle, WAIT_FOR_CONNECTION)
                .unwrap_or_else(|e| e.into_inner());
            if timeout.timed_out() && next.clients.is_empty() {
                return Err(LendError::Exhausted);
            }
            idle = next;
        }
    }

    /// Puts `client` back, or drops it (and every idle one) after a connection error.
    fn give_back(&self, client: Session, broken: bool) {
        let mut idle = self.lock();
        if broken || client.is_closed() {
            idle.open -= 1 + idle.clients.len();
            let mut stale: Vec<Session> = std::mem::take(&mut idle.clients);
            drop(idle);
            stale.push(client);
            discard(stale);
        } else {
            idle.clients.push(client);
            drop(idle);
        }
        self.returned.notify_all();
    }

    /// Runs `op` on a pooled connection, with [`Patience::Serve`]. A connection that
    /// failed is dropped rather than returned.
    pub(crate) fn run<T: Send>(
        &self,
        op: impl FnMut(&mut Session) -> std::result::Result<T, postgres::Error> + Send,
    ) -> Result<T> {
        self.run_with(Patience::Serve, op)
    }

    /// Runs `op` on each of `parts` at once, each on a pooled connection of its own
    /// (with [`Patience::Serve`]), so that one write's work is spread over the
    /// server's cores instead of one backend doing it all. The first failure is the
    /// answer; the parts that succeeded stay written.
    pub(crate) fn run_each<P: Sync>(
        &self,
        parts: &[P],
        op: impl Fn(&mut Session, &P) -> std::result::Result<(), postgres::Error> + Sync,
    ) -> Result<()> {
        if let [part] = parts {
            return self.run(|c| op(c, part));
        }
        blocking(|| {
            std::thread::scope(|scope| {
                let running: Vec<_> = parts
                    .iter()
                    .map(|part| scope.spawn(|| self.run(|c| op(c, part))))
                    .collect();
                running
                    .into_iter()
                    .map(|part| part.join().expect("a write thread panicked"))
                    .collect::<Result<Vec<()>>>()
                    .map(drop)
            })
        })
    }

    /// Runs `op` on a pooled connection, trying again on a fresh one while PostgreSQL
    /// is unreachable for as long as `patience` says.
    pub(crate) fn run_with<T: Send>(
        &self,
        patience: Patience,
        mut op: impl FnMut(&mut Session) -> std::result::Result<T, postgres::Error> + Send,
    ) -> Result<T> {
        self.retrying(patience, || {
            blocking(|| {
                let (mut client, pooled) = self.lend().map_err(|e| match e {
                    LendError::Connect(e) => Attempt::Unreachable(e, false),
                    LendError::Exhausted => Attempt::Exhausted,
                })?;
                let result = op(&mut client);
                let broken = matches!(&result, Err(e) if is_unreachable(e));
                if result.is_err() {
                    client.forget_statements();
                }
                self.give_back(client, broken);
                result.map_err(|e| {
                    if broken {
                        Attempt::Unreachable(e, pooled)
                    } else {
                        Attempt::Refused(e)
                    }
                })
            })
        })
    }

    /// The retry loop around one attempt, recording the outcome in [`outages`].
    fn retrying<T>(
        &self,
        patience: Patience,
        attempt: impl FnMut() -> std::result::Result<T, Attempt>,
    ) -> Result<T> {
        let outcome = self.attempts(patience, attempt);
        outages::record(KIND, &self.address, &outcome);
        outcome
    }

    /// Attempts as [`outages::retry`] does, on this pool's schedule.
    fn attempts<T>(
        &self,
        patience: Patience,
        mut attempt: impl FnMut() -> std::result::Result<T, Attempt>,
    ) -> Result<T> {
        let schedule = outages::Schedule {
            attempts: self.config.connection_retries,
            first_pause: self.config.retry_backoff,
            longest_pause: self.config.retry_backoff_max,
        };
        outages::retry(
            KIND,
            &self.address,
            patience,
            schedule,
            || {
                attempt().map_err(|failure| match failure {
                    Attempt::Refused(e) => Miss::Final(StorageError::Postgres(e)),
                    Attempt::Exhausted => Miss::Final(StorageError::Unavailable {
                        store: format!("{KIND} at {}", self.address),
                        reason: format!(
                            "all {} connections of this worker stayed busy for {}s",
                            self.config.max_connections,
                            WAIT_FOR_CONNECTION.as_secs()
                        ),
                    }),
                    Attempt::Unreachable(error, pooled) => Miss::Unreachable {
                        error,
                        stale: pooled,
                    },
                })
            },
            |e| self.unavailable(e),
        )
    }

    fn unavailable(&self, e: &postgres::Error) -> StorageError {
        let mut reason = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            reason = format!("{reason}: {s}");
            source = s.source();
        }
        StorageError::Unavailable {
            store: format!("{KIND} at {}", self.address),
            reason,
        }
    }
}

/// Closes `clients` on a thread of their own: closing a session whose server is gone
/// may wait on the network, and must not hold up a caller or the pool's lock.
fn discard(clients: Vec<Session>) {
    if !clients.is_empty() {
        std::thread::spawn(move || drop(clients));
    }
}

enum LendError {
    Connect(postgres::Error),
    Exhausted,
}

/// How one attempt failed.
enum Attempt {
    /// A statement PostgreSQL refused: no retry.
    Refused(postgres::Error),
    /// The server could not be reached; `true` when the connection came from the pool.
    Unreachable(postgres::Error, bool),
    /// Every connection of this worker stayed busy.
    Exhausted,
}

impl From<postgres::Error> for Attempt {
    fn from(e: postgres::Error) -> Attempt {
        if is_unreachable(&e) {
            Attempt::Unreachable(e, false)
        } else {
            Attempt::Refused(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_server_is_unavailable_naming_it() {
        // Port 1 on loopback: nothing listens there.
        let config = super::super::tests::config("127.0.0.1", 1);
        let err = match Pool::shared(&config) {
            Err(e) => e,
            Ok(_) => panic!("a pool to a closed port"),
        };
        assert!(matches!(err, StorageError::Unavailable { .. }), "{err}");
        assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
        let outages = outages::current().unwrap_or_default();
        assert!(
            outages
                .iter()
                .any(|o| o.kind == "PostgreSQL" && o.address == "127.0.0.1:1"),
            "{outages:?}"
        );
    }

    #[test]
    fn serving_tries_one_fresh_connection_where_start_up_retries() {
        let mut config = super::super::tests::config("127.0.0.1", 1);
        config.connection_retries = 3;
        config.retry_backoff = Duration::from_millis(1);
        let pool = Pool::new(config).unwrap();
        let tries = |patience, pooled| {
            let mut tried = 0;
            let outcome: Result<()> = pool.retrying(patience, || {
                tried += 1;
                let refused = pool.connect().err().expect("nothing listens on port 1");
                Err(Attempt::Unreachable(refused, pooled))
            });
            assert!(matches!(outcome, Err(StorageError::Unavailable { .. })));
            tried
        };
        assert_eq!(tries(Patience::Start, false), 3);
        assert_eq!(tries(Patience::Serve, false), 1);
        // A dead pooled connection is replaced once, at once.
        assert_eq!(tries(Patience::Serve, true), 2);
    }

    #[test]
    fn blocking_works_inside_any_runtime() {
        let multi = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        assert_eq!(multi.block_on(async { blocking(|| 1) }), 1);
        let current = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(current.block_on(async { blocking(|| 2) }), 2);
        assert_eq!(blocking(|| 3), 3);
    }
}
