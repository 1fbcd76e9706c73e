//! Login throttling across all workers: failed logins are counted per client address and
//! user name in a table in the arena, behind a robust mutex, so the limit holds whichever
//! worker a login lands on (LightRAG keeps it per process, so N workers allow N times).
//!
//! The window is fixed: it starts with the first failure and resets once it has passed.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::IpAddr;
use std::time::Duration;

use lightrag_engine::coordination::{Locked, LoginThrottle};
use lightrag_supervisor::clock;
use lightrag_supervisor::robust_mutex::RobustMutex;

const ENTRIES: usize = 4096;

#[derive(Clone, Copy)]
#[repr(C)]
struct Entry {
    key: u64,
    failures: u32,
    first_ms: u64,
    last_ms: u64,
}

const EMPTY_ENTRY: Entry = Entry {
    key: 0,
    failures: 0,
    first_ms: 0,
    last_ms: 0,
};

#[repr(C)]
pub struct ThrottleTable {
    entries: [Entry; ENTRIES],
}

impl ThrottleTable {
    pub const EMPTY: ThrottleTable = ThrottleTable {
        entries: [EMPTY_ENTRY; ENTRIES],
    };

    fn find(&mut self, key: u64) -> Option<&mut Entry> {
        self.entries.iter_mut().find(|e| e.key == key)
    }

    /// The entry for `key`, taking a free one or the least recently used.
    fn claim(&mut self, key: u64) -> &mut Entry {
        let index = self
            .entries
            .iter()
            .position(|e| e.key == key)
            .or_else(|| self.entries.iter().position(|e| e.key == 0))
            .unwrap_or_else(|| {
                let (i, _) = self
                    .entries
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, e)| e.last_ms)
                    .unwrap_or((0, &EMPTY_ENTRY));
                i
            });
        let entry = &mut self.entries[index];
        if entry.key != key {
            *entry = Entry { key, ..EMPTY_ENTRY };
        }
        entry
    }
}

/// The shared limiter as seen by one worker.
pub struct SharedThrottle {
    table: &'static RobustMutex<ThrottleTable>,
    max_failures: u32,
    window: Duration,
}

fn key(client: IpAddr, username: &str) -> u64 {
    let mut h = DefaultHasher::new();
    client.hash(&mut h);
    username.hash(&mut h);
    h.finish().max(1)
}

impl SharedThrottle {
    pub fn new(
        table: &'static RobustMutex<ThrottleTable>,
        max_failures: u32,
        window: Duration,
    ) -> Self {
        SharedThrottle {
            table,
            max_failures,
            window,
        }
    }

    fn with_table<T>(&self, f: impl FnOnce(&mut ThrottleTable) -> T) -> T {
        match self.table.lock() {
            Ok(mut guard) => {
                if guard.recovered() {
                    tracing::warn!("login throttle table recovered from a dead worker");
                }
                f(&mut guard)
            }
            Err(e) => {
                tracing::error!(error = %e, "login throttle table unusable; not throttling");
                let mut scratch = ThrottleTable::EMPTY;
                f(&mut scratch)
            }
        }
    }
}

impl LoginThrottle for SharedThrottle {
    /// Refuses while `client`/`username` has used up its failures in the window.
    fn check(&self, client: IpAddr, username: &str) -> Result<(), Locked> {
        if self.max_failures == 0 {
            return Ok(());
        }
        let now = clock::monotonic_ms();
        let window = self.window.as_millis() as u64;
        let key = key(client, username);
        self.with_table(|table| match table.find(key) {
            Some(e) if e.failures >= self.max_failures && now < e.first_ms + window => {
                Err(Locked {
                    retry_after_secs: (e.first_ms + window - now) / 1000 + 1,
                })
            }
            _ => Ok(()),
        })
    }

    fn record_failure(&self, client: IpAddr, username: &str) {
        if self.max_failures == 0 {
            return;
        }
        let now = clock::monotonic_ms();
        let window = self.window.as_millis() as u64;
        self.with_table(|table| {
            let e = table.claim(key(client, username));
            if e.failures == 0 || now >= e.first_ms + window {
                e.failures = 0;
                e.first_ms = now;
            }
            e.failures += 1;
            e.last_ms = now;
        });
    }

    /// A successful login clears the record.
    fn record_success(&self, client: IpAddr, username: &str) {
        if self.max_failures == 0 {
            return;
        }
        let key = key(client, username);
        self.with_table(|table| {
            if let Some(e) = table.find(key) {
                *e = EMPTY_ENTRY;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightrag_supervisor::Arena;

    fn throttle(max: u32) -> SharedThrottle {
        let arena = Arena::map(std::process::id() as i32).unwrap();
        crate::arena::init_shared(arena.app_region()).unwrap();
        let shared = crate::arena::SharedRegion::of(arena.app_region());
        SharedThrottle::new(&shared.throttle, max, Duration::from_secs(300))
    }

    #[test]
    fn locks_after_max_failures_and_success_resets() {
        let t = throttle(3);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(t.check(ip, "bob"), Ok(()));
            t.record_failure(ip, "bob");
        }
        let locked = t.check(ip, "bob").unwrap_err();
        assert!((299..=301).contains(&locked.retry_after_secs), "{locked:?}");
        assert_eq!(t.check(ip, "alice"), Ok(()), "per user");
        assert_eq!(
            t.check("10.0.0.2".parse().unwrap(), "bob"),
            Ok(()),
            "per address"
        );
        t.record_success(ip, "bob");
        assert_eq!(t.check(ip, "bob"), Ok(()));
    }

    #[test]
    fn zero_disables() {
        let t = throttle(0);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..10 {
            t.record_failure(ip, "bob");
        }
        assert_eq!(t.check(ip, "bob"), Ok(()));
    }
}
