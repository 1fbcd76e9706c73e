//! Cross-node cache invalidation when document status (and so the deployment) is shared
//! through Redis: each workspace's vector namespace has a counter
//! `{fn}:{namespace}` (`{fn}` the `cache_generation` prefix), INCRed and announced on
//! [`channel`] by every write, whichever node makes it.
//!
//! Reading stays local: [`Generations::current`] is the node's own counter (an atomic
//! read; it is asked on every query), which a write here bumps at once and which the
//! [`Hub`]'s subscriber thread bumps when another node's write is announced. A message
//! can be lost (a reconnect, a Redis restart), so the same thread also reads every
//! counter it follows every [`FALLBACK`]: a cache is stale for at most that long after a
//! lost message. An announcement that could not be made (Redis away) is retried by the
//! thread until it is.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use redis::Client;

use super::pool::Pool;
use crate::coordination::Generations;
use crate::storage::VectorNamespace;

/// The longest a lost announcement can leave another node's cache stale.
pub const FALLBACK: Duration = Duration::from_secs(2);

/// INCRs the counter and announces `key value`; returns the value.
const ANNOUNCE: &str = "
local v = redis.call('INCR', KEYS[1])
redis.call('PUBLISH', ARGV[1], KEYS[1] .. ' ' .. v)
return v";

/// The channel of one Redis database (channels are server-wide, keys are not).
fn channel(client: &Client) -> String {
    format!(
        "lightrag_master:cache_generations:{}",
        client.get_connection_info().redis_settings().db()
    )
}

/// One followed counter.
struct Followed {
    /// The node's own counter it moves.
    local: Arc<dyn Generations>,
    namespace: VectorNamespace,
    /// The last value of the Redis counter seen (0: none yet).
    seen: u64,
    /// Handles following it; it is dropped at 0.
    handles: usize,
    /// A write here whose announcement is still to be made.
    unannounced: bool,
}

#[derive(Default)]
struct State {
    followed: HashMap<String, Followed>,
}

impl State {
    /// A counter's value seen: the node's counter moves when it changed.
    fn saw(&mut self, key: &str, value: u64) {
        if let Some(f) = self.followed.get_mut(key)
            && f.seen != value
        {
            f.seen = value;
            f.local.bump(f.namespace);
        }
    }
}

/// The counters one process follows, and the subscriber thread that keeps them.
pub(super) struct Hub {
    pool: Arc<Pool>,
    channel: String,
    state: Mutex<State>,
}

impl Hub {
    /// Starts the subscriber thread; it ends once the hub is dropped.
    pub(super) fn start(pool: Arc<Pool>, client: Client) -> Arc<Hub> {
        let hub = Arc::new(Hub {
            channel: channel(&client),
            pool,
            state: Mutex::default(),
        });
        let weak = Arc::downgrade(&hub);
        std::thread::Builder::new()
            .name("redis-generations".into())
            .spawn(move || subscribe(client, weak))
            .expect("a thread can be spawned");
        hub
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `workspace`'s counters under `prefix`, moving `local`.
    pub(super) fn follow(
        self: &Arc<Self>,
        prefix: &str,
        local: Arc<dyn Generations>,
    ) -> RedisGenerations {
        let keys = VectorNamespace::ALL.map(|ns| format!("{prefix}:{}", ns.as_str()));
        let values: Vec<Option<u64>> = self
            .pool
            .run(true, |c| redis::cmd("MGET").arg(&keys).query(c))
            .unwrap_or_else(|error| {
                crate::log_unless_outage!(warn, &error, %error, "cache generations not read; the fallback will");
                vec![None; keys.len()]
            });
        let mut state = self.lock();
        for ((key, ns), value) in keys.iter().zip(VectorNamespace::ALL).zip(values) {
            state
                .followed
                .entry(key.clone())
                .or_insert_with(|| Followed {
                    local: local.clone(),
                    namespace: ns,
                    seen: value.unwrap_or(0),
                    handles: 0,
                    unannounced: false,
                })
                .handles += 1;
        }
        RedisGenerations {
            hub: self.clone(),
            local,
            keys,
        }
    }

    /// INCRs and announces `key`; a failure leaves it for the thread to retry.
    fn announce(&self, key: &str) {
        let outcome = self.pool.run(false, |c| {
            redis::cmd("EVAL")
                .arg(ANNOUNCE)
                .arg(1)
                .arg(key)
                .arg(&self.channel)
                .query::<u64>(c)
        });
        let mut state = self.lock();
        let Some(f) = state.followed.get_mut(key) else {
            return;
        };
        match outcome {
            // The echo of our own announcement then moves nothing; after a missed
            // value the echo moves the node's counter once more, which is harmless.
            Ok(value) => {
                if value == f.seen + 1 {
                    f.seen = value;
                }
                f.unannounced = false;
                if f.handles == 0 {
                    state.followed.remove(key);
                }
            }
            Err(error) => {
                crate::log_unless_outage!(warn, &error, %key, %error, "cache generation not announced; retrying");
                f.unannounced = true;
            }
        }
    }

    /// The fallback: announces what is due, then reads every counter followed.
    fn catch_up(&self) -> redis::RedisResult<()> {
        let (due, keys): (Vec<String>, Vec<String>) = {
            let state = self.lock();
            let due = state
                .followed
                .iter()
                .filter(|(_, f)| f.unannounced)
                .map(|(k, _)| k.clone())
                .collect();
            (due, state.followed.keys().cloned().collect())
        };
        for key in due {
            self.announce(&key);
        }
        if keys.is_empty() {
            return Ok(());
        }
        let values: Vec<Option<u64>> = self
            .pool
            .run(true, |c| redis::cmd("MGET").arg(&keys).query(c))
            .map_err(|e| {
                redis::RedisError::from((redis::ErrorKind::Io, "fallback read", e.to_string()))
            })?;
        let mut state = self.lock();
        for (key, value) in keys.iter().zip(values) {
            state.saw(key, value.unwrap_or(0));
        }
        Ok(())
    }
}

/// The thread: listens on the channel, reads the counters every [`FALLBACK`] and after
/// every (re)connection, and reconnects while Redis is away.
fn subscribe(client: Client, hub: Weak<Hub>) {
    let mut backoff = Duration::from_millis(100);
    // Whether the last attempt had subscribed: the loss is logged once, not every
    // reconnection that fails while Redis is away.
    let mut was_subscribed = true;
    loop {
        let Some(channel) = hub.upgrade().map(|h| h.channel.clone()) else {
            return;
        };
        let error = match client.get_connection_with_timeout(FALLBACK) {
            Ok(mut conn) => {
                let mut pubsub = conn.as_pubsub();
                let subscribed = pubsub
                    .subscribe(&channel)
                    .and_then(|()| pubsub.set_read_timeout(Some(FALLBACK / 4)));
                match subscribed {
                    Ok(()) => {
                        backoff = Duration::from_millis(100);
                        was_subscribed = true;
                        listen(&mut pubsub, &hub)
                    }
                    Err(e) => Some(e),
                }
            }
            Err(e) => Some(e),
        };
        let Some(error) = error else { return };
        if std::mem::take(&mut was_subscribed) {
            tracing::warn!(%error, "cache-generation subscription lost; reconnecting");
        } else {
            tracing::debug!(%error, "cache-generation subscription not restored yet");
        }
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(FALLBACK);
    }
}

/// Until the subscription fails (its error) or the hub is gone (None).
fn listen(pubsub: &mut redis::PubSub<'_>, hub: &Weak<Hub>) -> Option<redis::RedisError> {
    // Announcements made while this thread was not subscribed are caught up first.
    let mut next_read = Instant::now();
    loop {
        if Instant::now() >= next_read {
            if let Err(error) = hub.upgrade()?.catch_up() {
                tracing::warn!(%error, "cache generations not read; trying again");
            }
            next_read = Instant::now() + FALLBACK;
        }
        match pubsub.get_message() {
            Ok(msg) => {
                let payload: String = msg.get_payload().unwrap_or_default();
                if let Some((key, Ok(value))) = payload
                    .rsplit_once(' ')
                    .map(|(key, value)| (key, value.parse::<u64>()))
                {
                    hub.upgrade()?.lock().saw(key, value);
                }
            }
            Err(e) if e.is_timeout() => {}
            Err(e) => return Some(e),
        }
    }
}

/// One workspace's generations: the node's own counters, moved by every node's writes.
pub struct RedisGenerations {
    hub: Arc<Hub>,
    local: Arc<dyn Generations>,
    keys: [String; 3],
}

impl Generations for RedisGenerations {
    fn current(&self, namespace: VectorNamespace) -> u64 {
        self.local.current(namespace)
    }

    /// This node's caches reload at once; the others when the announcement (or the
    /// fallback read) reaches them.
    fn bump(&self, namespace: VectorNamespace) {
        self.local.bump(namespace);
        self.hub.announce(&self.keys[namespace.index()]);
    }
}

impl Drop for RedisGenerations {
    fn drop(&mut self) {
        let mut state = self.hub.lock();
        for key in &self.keys {
            if let Some(f) = state.followed.get_mut(key) {
                f.handles -= 1;
                // An announcement still due keeps the counter followed until it is made.
                if f.handles == 0 && !f.unannounced {
                    state.followed.remove(key);
                }
            }
        }
    }
}
