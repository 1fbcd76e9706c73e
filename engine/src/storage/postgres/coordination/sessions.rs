//! The connections pipeline claims hold their advisory locks on: each claim needs a
//! session of its own (a session's advisory locks are reentrant, so two claims on one
//! session would not exclude each other), and a node that polls for work every half
//! second should not open one per poll, so a few idle ones are kept.

use std::sync::{Arc, Mutex};

use postgres::Client;

use super::claim::SESSION_BOUNDS;
use crate::storage::Result;
use crate::storage::postgres::pool::Pool;

/// Idle lock sessions kept per process.
const IDLE: usize = 2;

pub(crate) struct Sessions {
    pool: Arc<Pool>,
    idle: Mutex<Vec<Client>>,
}

impl Sessions {
    pub(crate) fn new(pool: Arc<Pool>) -> Sessions {
        Sessions {
            pool,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// An idle session, or a new one with the server's bounds on a silent peer.
    pub(crate) fn take(&self) -> Result<Client> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        if let Some(mut session) = idle.filter(|s| !s.is_closed())
            && session.is_valid(super::claim::PING_TIMEOUT).is_ok()
        {
            return Ok(session);
        }
        let mut session = self.pool.dedicated()?;
        session.batch_execute(SESSION_BOUNDS)?;
        Ok(session)
    }

    /// Keeps a session that holds no lock for the next claim.
    pub(crate) fn give_back(&self, session: Client) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < IDLE && !session.is_closed() {
            idle.push(session);
        }
    }
}
