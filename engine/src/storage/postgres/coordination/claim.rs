//! A workspace's pipeline claim across nodes: a session-level advisory lock that the
//! holder keeps on a connection of its own, and a fencing token from a row incremented
//! on every claim.
//!
//! PostgreSQL drops the lock the moment the holder's session ends: a node that dies
//! closes its sockets, and a cut network is noticed by the server through the
//! session's `tcp_user_timeout` and keepalives ([`SESSION_BOUNDS`]). The holder's side
//! notices through a watchdog that pings the session every [`WATCH_EVERY`] and gives it
//! [`PING_TIMEOUT`] to answer; an unanswered ping marks the claim lost. Since only the
//! lock's holder moves the token, a session that answers proves the lock is still held:
//! [`PipelineClaim::still_held`] pings it and compares the token before each write.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use postgres::Client;

use super::sessions::Sessions;
use crate::coordination::PipelineClaim;
use crate::storage::postgres::pool::blocking;

/// How often the watchdog pings the holder's session.
pub(crate) const WATCH_EVERY: Duration = Duration::from_secs(1);
/// How long a ping may take before the claim is taken for lost.
pub(crate) const PING_TIMEOUT: Duration = Duration::from_secs(3);

/// Set on every lock session: the server gives up on a silent peer within about five
/// seconds (TCP connections only; a Unix socket cannot be cut).
pub(crate) const SESSION_BOUNDS: &str = "SET tcp_user_timeout = 5000; \
     SET tcp_keepalives_idle = 2; SET tcp_keepalives_interval = 1; \
     SET tcp_keepalives_count = 3";

/// The advisory-lock key of a workspace's pipeline, as SQL over `$1` (the workspace).
pub(crate) const LOCK_KEY: &str = "hashtextextended('lightrag_master_pipeline:' || $1, 0)";

/// The next fencing token of the workspace; the row is never reset.
const NEXT_TOKEN: &str = "INSERT INTO lightrag_master_pipeline_fence AS f (workspace, token) \
     VALUES ($1, 1) ON CONFLICT (workspace) DO UPDATE SET token = f.token + 1 \
     RETURNING token";

const TOKEN: &str = "SELECT token FROM lightrag_master_pipeline_fence WHERE workspace = $1";

/// Whether any session holds the workspace's lock.
pub(crate) fn held_sql() -> String {
    format!(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted \
         AND objsubid = 1 AND database = (SELECT oid FROM pg_database \
         WHERE datname = current_database()) \
         AND ((classid::int8 << 32) | objid::int8) = {LOCK_KEY})"
    )
}

/// A held claim; dropping it stops the watchdog and unlocks.
pub(crate) struct PgClaim {
    workspace: String,
    token: u64,
    /// Taken back out when the claim is released.
    session: Arc<Mutex<Option<Client>>>,
    lost: Arc<AtomicBool>,
    sessions: Arc<Sessions>,
    /// Dropped to stop the watchdog.
    stop: Option<mpsc::Sender<()>>,
}

/// True when `session` answered in time and the token is still `token`.
fn check(
    session: &mut Option<Client>,
    workspace: &str,
    token: u64,
) -> Result<bool, postgres::Error> {
    let Some(session) = session else {
        return Ok(false);
    };
    session.is_valid(PING_TIMEOUT)?;
    let row = session.query_opt(TOKEN, &[&workspace])?;
    Ok(row.is_some_and(|r| r.get::<_, i64>(0) as u64 == token))
}

impl PgClaim {
    /// Locks the workspace on one of `sessions` unless another session holds it; None
    /// too when PostgreSQL cannot answer (another node may hold it).
    pub(crate) fn take(sessions: Arc<Sessions>, workspace: &str) -> Option<PgClaim> {
        blocking(|| Self::lock(sessions, workspace))
    }

    fn lock(sessions: Arc<Sessions>, workspace: &str) -> Option<PgClaim> {
        let mut session = match sessions.take() {
            Ok(session) => session,
            Err(error) => {
                crate::log_unless_outage!(warn, &error, workspace, %error, "pipeline claim not taken: PostgreSQL did not answer");
                return None;
            }
        };
        let locked = session
            .query_one(
                &format!("SELECT pg_try_advisory_lock({LOCK_KEY})"),
                &[&workspace],
            )
            .map(|row| row.get::<_, bool>(0));
        let token = match locked {
            Ok(false) => {
                sessions.give_back(session);
                return None;
            }
            Ok(true) => session
                .query_one(NEXT_TOKEN, &[&workspace])
                .map(|r| r.get::<_, i64>(0)),
            Err(error) => Err(error),
        };
        let token = match token {
            Ok(token) => token as u64,
            Err(error) => {
                // The session is dropped: whatever it locked goes with it.
                tracing::warn!(workspace, %error, "pipeline claim not taken: PostgreSQL did not answer");
                return None;
            }
        };
        tracing::info!(workspace, token, "pipeline claim taken");
        let session = Arc::new(Mutex::new(Some(session)));
        let lost = Arc::new(AtomicBool::new(false));
        let (stop, stopped) = mpsc::channel::<()>();
        {
            let (session, lost, workspace) = (session.clone(), lost.clone(), workspace.to_owned());
            std::thread::Builder::new()
                .name("claim-watchdog".into())
                .spawn(move || watch(&session, &workspace, token, &lost, &stopped))
                .ok()?;
        }
        Some(PgClaim {
            workspace: workspace.to_owned(),
            token,
            session,
            lost,
            sessions,
            stop: Some(stop),
        })
    }

    fn lose(&self, why: &str) {
        if !self.lost.swap(true, Ordering::AcqRel) {
            tracing::warn!(workspace = %self.workspace, token = self.token, why, "pipeline claim lost");
        }
    }
}

/// Pings the holder's session until told to stop or the claim is found lost.
fn watch(
    session: &Mutex<Option<Client>>,
    workspace: &str,
    token: u64,
    lost: &AtomicBool,
    stopped: &mpsc::Receiver<()>,
) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(WATCH_EVERY) {
        let mut session = session.lock().unwrap_or_else(|e| e.into_inner());
        let outcome = check(&mut session, workspace, token);
        if !matches!(outcome, Ok(true)) {
            if !lost.swap(true, Ordering::AcqRel) {
                match outcome {
                    Err(error) => {
                        tracing::warn!(workspace, token, %error, "pipeline claim lost: its session is gone")
                    }
                    _ => tracing::warn!(workspace, token, "pipeline claim lost: the token moved"),
                }
            }
            return;
        }
    }
}

impl PipelineClaim for PgClaim {
    fn token(&self) -> u64 {
        self.token
    }

    /// Asks the lock's own session: a holder that cannot tell whether it still holds
    /// the claim stops.
    fn still_held(&self) -> bool {
        if self.lost.load(Ordering::Acquire) {
            return false;
        }
        let mut guard = self.session.lock().unwrap_or_else(|e| e.into_inner());
        let session: &mut Option<Client> = &mut guard;
        match blocking(|| check(session, &self.workspace, self.token)) {
            Ok(true) => true,
            Ok(false) => {
                self.lose("the token moved");
                false
            }
            Err(_) => {
                self.lose("its session is gone");
                false
            }
        }
    }
}

impl Drop for PgClaim {
    fn drop(&mut self) {
        self.stop.take();
        let session = self
            .session
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let Some(mut session) = session.filter(|_| !self.lost.load(Ordering::Acquire)) else {
            return;
        };
        let unlock = format!("SELECT pg_advisory_unlock({LOCK_KEY})");
        match blocking(|| session.query_one(&unlock, &[&self.workspace])) {
            Ok(_) => {
                tracing::info!(workspace = %self.workspace, token = self.token, "pipeline claim released");
                self.sessions.give_back(session);
            }
            // Dropping the session releases the lock too.
            Err(error) => {
                tracing::warn!(workspace = %self.workspace, %error, "pipeline claim not released")
            }
        }
    }
}
