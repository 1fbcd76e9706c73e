//! Login throttling across all workers: failed logins are counted per client address and
//! user name in a table in the arena, behind a robust mutex, so the limit holds whichever
//! worker a login lands on (LightRAG keeps it per process, so N workers allow N times).
//!
//! An attempt is counted before its password is verified, under the same lock that
//! checks the limit, so a burst of parallel attempts gets exactly the limit evaluated;
//! a success then clears the record. The window is fixed: it starts with the first
//! failure and resets once it has passed.
//!
//! The table is bounded, so a newcomer may need another record's place. Attempts for
//! other names must not buy an attacker fresh tries at a target, so the newcomer takes a
//! free or expired record first, else the unlocked one with the least evidence (fewest
//! failures, then least recently used); a locked-out record is never dropped, and when
//! every record is locked out the newcomer is refused until the first one expires.

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

/// The limit and window, in the table's terms.
#[derive(Clone, Copy)]
struct Policy {
    max_failures: u32,
    window_ms: u64,
}

impl Entry {
    /// Whether the record still counts (its window has not passed).
    fn live(&self, now: u64, policy: Policy) -> bool {
        self.key != 0 && self.failures > 0 && now < self.first_ms + policy.window_ms
    }

    fn locked(&self, now: u64, policy: Policy) -> bool {
        self.live(now, policy) && self.failures >= policy.max_failures
    }

    fn retry_after(&self, now: u64, policy: Policy) -> Locked {
        Locked {
            retry_after_secs: (self.first_ms + policy.window_ms).saturating_sub(now) / 1000 + 1,
        }
    }
}

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

    /// The record for `key`: its own, else a free or expired one, else the unlocked one
    /// with the least evidence. When every record is locked out, none is taken: the
    /// answer is then the record that expires first.
    fn claim(&mut self, key: u64, now: u64, policy: Policy) -> Result<&mut Entry, Entry> {
        let mut reusable = None;
        let mut weakest: Option<(usize, (u32, u64))> = None;
        let mut first_to_expire: Option<&Entry> = None;
        let mut own = None;
        for (i, e) in self.entries.iter().enumerate() {
            if e.key == key {
                own = Some(i);
                break;
            }
            if !e.live(now, policy) {
                reusable.get_or_insert(i);
            } else if e.locked(now, policy) {
                if first_to_expire.is_none_or(|f| e.first_ms < f.first_ms) {
                    first_to_expire = Some(e);
                }
            } else if weakest.is_none_or(|(_, rank)| (e.failures, e.last_ms) < rank) {
                weakest = Some((i, (e.failures, e.last_ms)));
            }
        }
        let index = match own.or(reusable).or(weakest.map(|(i, _)| i)) {
            Some(index) => index,
            None => return Err(first_to_expire.copied().unwrap_or(EMPTY_ENTRY)),
        };
        let entry = &mut self.entries[index];
        if entry.key != key {
            *entry = Entry { key, ..EMPTY_ENTRY };
        }
        Ok(entry)
    }

    /// Counts one attempt for `key`, unless its failures in the window are used up.
    fn reserve(&mut self, key: u64, now: u64, policy: Policy) -> Result<(), Locked> {
        let entry = match self.claim(key, now, policy) {
            Ok(entry) => entry,
            Err(first_to_expire) => {
                tracing::warn!(
                    records = ENTRIES,
                    "login throttle table full of locked-out records; refusing a new name"
                );
                return Err(first_to_expire.retry_after(now, policy));
            }
        };
        if !entry.live(now, policy) {
            entry.failures = 0;
            entry.first_ms = now;
        }
        if entry.failures >= policy.max_failures {
            return Err(entry.retry_after(now, policy));
        }
        entry.failures += 1;
        entry.last_ms = now;
        Ok(())
    }
}

/// The shared limiter as seen by one worker.
pub struct SharedThrottle {
    table: &'static RobustMutex<ThrottleTable>,
    policy: Policy,
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
            policy: Policy {
                max_failures,
                window_ms: window.as_millis() as u64,
            },
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
    fn reserve(&self, client: IpAddr, username: &str) -> Result<(), Locked> {
        if self.policy.max_failures == 0 {
            return Ok(());
        }
        let now = clock::monotonic_ms();
        let key = key(client, username);
        self.with_table(|table| table.reserve(key, now, self.policy))
    }

    fn record_success(&self, client: IpAddr, username: &str) {
        if self.policy.max_failures == 0 {
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

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));

    fn throttle(max: u32) -> SharedThrottle {
        let arena = Arena::map(std::process::id() as i32).unwrap();
        crate::arena::init_shared(arena.app_region()).unwrap();
        let shared = crate::arena::SharedRegion::of(arena.app_region());
        SharedThrottle::new(&shared.throttle, max, Duration::from_secs(300))
    }

    #[test]
    fn locks_after_max_attempts_and_success_resets() {
        let t = throttle(3);
        for _ in 0..3 {
            assert_eq!(t.reserve(IP, "bob"), Ok(()));
        }
        let locked = t.reserve(IP, "bob").unwrap_err();
        assert!((299..=301).contains(&locked.retry_after_secs), "{locked:?}");
        assert_eq!(t.reserve(IP, "alice"), Ok(()), "per user");
        assert_eq!(
            t.reserve("10.0.0.2".parse().unwrap(), "bob"),
            Ok(()),
            "per address"
        );
        t.record_success(IP, "bob");
        assert_eq!(t.reserve(IP, "bob"), Ok(()));
    }

    #[test]
    fn zero_disables() {
        let t = throttle(0);
        for _ in 0..10 {
            assert_eq!(t.reserve(IP, "bob"), Ok(()));
        }
    }

    #[test]
    fn parallel_attempts_get_exactly_the_limit() {
        let t = throttle(5);
        let granted = std::thread::scope(|s| {
            let attempts: Vec<_> = (0..40)
                .map(|_| s.spawn(|| t.reserve(IP, "bob").is_ok()))
                .collect();
            attempts
                .into_iter()
                .map(|a| a.join().unwrap())
                .filter(|ok| *ok)
                .count()
        });
        assert_eq!(granted, 5);
    }

    #[test]
    fn other_names_never_evict_a_locked_record_or_one_with_more_failures() {
        let t = throttle(3);
        for _ in 0..3 {
            t.reserve(IP, "target").unwrap();
        }
        t.reserve(IP, "second").unwrap();
        t.reserve(IP, "second").unwrap();
        for i in 0..2 * ENTRIES {
            assert_eq!(t.reserve(IP, &format!("flood-{i}")), Ok(()));
        }
        assert!(t.reserve(IP, "target").is_err(), "still locked");
        assert_eq!(t.reserve(IP, "second"), Ok(()), "its third attempt");
        assert!(t.reserve(IP, "second").is_err(), "two failures were kept");
    }

    #[test]
    fn a_table_full_of_locked_records_refuses_newcomers() {
        let t = throttle(1);
        for i in 0..ENTRIES {
            assert_eq!(t.reserve(IP, &format!("user-{i}")), Ok(()));
        }
        let refused = t.reserve(IP, "newcomer").unwrap_err();
        assert!(
            (299..=301).contains(&refused.retry_after_secs),
            "{refused:?}"
        );
        assert!(
            t.reserve(IP, "user-0").is_err(),
            "the first one stays locked"
        );
        t.record_success(IP, "user-7");
        assert_eq!(
            t.reserve(IP, "newcomer"),
            Ok(()),
            "a freed record is reused"
        );
    }
}
