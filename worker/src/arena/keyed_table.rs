//! A fixed-size table in the arena mapping string keys to one `u64` each, shared by
//! every worker. Keys are hashed (64 bits, never 0) and placed by linear probing over a
//! bounded neighbourhood; when that is full an entry is taken over for the new key.
//!
//! Entries change hands, so a value is never handed out bare: a [`Slot`] remembers the
//! key it was found for and every read and swap verifies it, answering "not yours" once
//! the entry belongs to another key (the caller then looks its key up again). A take-over
//! swaps the old value for a marker first, so it cannot overwrite a value written
//! concurrently (a claim just taken), and placing is serialised by a robust mutex, so a
//! key is never in two entries. The values a placed key starts from are drawn from the
//! table's counter, which never repeats: a reader that sees the value it saw before
//! knows that nothing was written, nor the entry taken over, since.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use lightrag_supervisor::robust_mutex::{LockError, RobustMutex};

const PROBES: usize = 64;

/// The value of an entry while it changes hands.
const MOVING: u64 = u64::MAX;

#[repr(C)]
struct Entry {
    key: AtomicU64,
    value: AtomicU64,
}

#[repr(C)]
pub struct KeyedTable<const N: usize> {
    /// Held while a key is placed, so that two processes cannot place it twice.
    placing: RobustMutex<()>,
    /// Numbers issued so far by [`KeyedTable::fresh`].
    issued: AtomicU64,
    entries: [Entry; N],
}

/// Which entries of a full neighbourhood a new key may take over, and its first value.
pub struct TakeOver {
    /// Whether an entry holding this value may change hands.
    pub allowed: fn(u64) -> bool,
    /// The new key's first value, made from a number never issued before.
    pub start: fn(u64) -> u64,
}

/// The 64-bit hash a key is placed by (never 0, which marks a free entry).
pub fn hash(key: &str) -> u64 {
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    h.finish().max(1)
}

/// One key's entry, as found: it answers for that key only.
#[derive(Clone, Copy)]
pub struct Slot<'a> {
    entry: &'a Entry,
    key: u64,
}

impl Slot<'_> {
    /// The key's value; `None` once the entry belongs to another key (or is changing
    /// hands).
    pub fn load(&self) -> Option<u64> {
        let value = self.entry.value.load(Ordering::Acquire);
        if value == MOVING || self.entry.key.load(Ordering::Acquire) != self.key {
            return None;
        }
        // A take-over may have begun between the two reads, leaving the previous key's
        // value with this key. It changes the value first and values never repeat, so an
        // unchanged value means the entry did not change hands in between.
        (self.entry.value.load(Ordering::Acquire) == value).then_some(value)
    }

    /// Replaces `current` by `new` while the entry is the key's; false when the value
    /// was another or the entry changed hands.
    pub fn compare_exchange(&self, current: u64, new: u64) -> bool {
        if current == MOVING || new == MOVING {
            return false;
        }
        let value = &self.entry.value;
        if value
            .compare_exchange(current, new, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        if self.entry.key.load(Ordering::Acquire) == self.key {
            return true;
        }
        // The entry had changed hands and held the same value by chance: put it back.
        let _ = value.compare_exchange(new, current, Ordering::AcqRel, Ordering::Acquire);
        false
    }
}

impl<const N: usize> KeyedTable<N> {
    /// Initialises the table at `place`.
    ///
    /// # Safety
    /// As [`RobustMutex::init_at`]: zero-filled shared memory, before any other process
    /// uses it.
    pub unsafe fn init_at(place: *mut Self) -> Result<(), LockError> {
        unsafe { RobustMutex::init_at(&raw mut (*place).placing, ()) }.map(drop)
    }

    /// A number this table never issued before.
    pub fn fresh(&self) -> u64 {
        self.issued.fetch_add(1, Ordering::AcqRel) + 1
    }

    fn neighbourhood(&self, key: u64) -> impl Iterator<Item = &Entry> {
        let start = (key as usize) % N;
        (0..PROBES.min(N)).map(move |i| &self.entries[(start + i) % N])
    }

    fn find_hash(&self, key: u64) -> Option<Slot<'_>> {
        self.neighbourhood(key)
            .find(|e| e.key.load(Ordering::Acquire) == key)
            .map(|entry| Slot { entry, key })
    }

    /// `key`'s entry if it has one; nothing is placed.
    pub fn find(&self, key: &str) -> Option<Slot<'_>> {
        self.find_hash(hash(key))
    }

    /// `key`'s entry, placed on first use in a free entry of its neighbourhood, or else
    /// in the one with the smallest value that `take_over` allows. `None` when every
    /// entry there is in use.
    pub fn slot(&self, key: &str, take_over: &TakeOver) -> Option<Slot<'_>> {
        let key = hash(key);
        if let Some(slot) = self.find_hash(key) {
            return Some(slot);
        }
        let _placing = self
            .placing
            .lock()
            .inspect_err(|error| tracing::error!(%error, "keyed table unusable"))
            .ok()?;
        if let Some(slot) = self.find_hash(key) {
            return Some(slot);
        }
        if let Some(entry) = self
            .neighbourhood(key)
            .find(|e| e.key.load(Ordering::Acquire) == 0)
        {
            entry
                .value
                .store((take_over.start)(self.fresh()), Ordering::Release);
            entry.key.store(key, Ordering::Release);
            return Some(Slot { entry, key });
        }
        // A victim's value may change under us (a claim taken): then choose again.
        for _ in 0..PROBES {
            let (entry, old) = self
                .neighbourhood(key)
                .map(|e| (e, e.value.load(Ordering::Acquire)))
                // An entry left moving by a placer that died is free.
                .filter(|&(_, v)| v == MOVING || (take_over.allowed)(v))
                .min_by_key(|&(_, v)| if v == MOVING { 0 } else { v.saturating_add(1) })?;
            if entry
                .value
                .compare_exchange(old, MOVING, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                continue;
            }
            entry.key.store(key, Ordering::Release);
            entry
                .value
                .store((take_over.start)(self.fresh()), Ordering::Release);
            return Some(Slot { entry, key });
        }
        None
    }

    /// A table on the heap, for tests.
    #[cfg(test)]
    pub fn leaked() -> &'static Self {
        let table: &'static mut std::mem::MaybeUninit<Self> = Box::leak(Box::new_zeroed());
        // SAFETY: zero-filled, used by this process only.
        unsafe {
            Self::init_at(table.as_mut_ptr()).unwrap();
            table.assume_init_ref()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANY: TakeOver = TakeOver {
        allowed: |_| true,
        start: |n| n,
    };

    const NONE: TakeOver = TakeOver {
        allowed: |_| false,
        start: |n| n,
    };

    #[test]
    fn keys_get_their_own_entries_and_a_full_table_reuses_the_smallest() {
        let table = KeyedTable::<4>::leaked();
        let set = |key: &str, value: u64| {
            let slot = table.slot(key, &ANY).unwrap();
            assert!(slot.compare_exchange(slot.load().unwrap(), value));
        };
        set("a", 50);
        set("b", 70);
        set("c", 90);
        set("d", 110);
        assert_eq!(table.find("b").unwrap().load(), Some(70));
        let a = table.find("a").unwrap();
        // Full: "e" takes over the smallest value's entry ("a"), whose slot then
        // answers for nobody, and "a" is placed again elsewhere.
        let e = table.slot("e", &ANY).unwrap();
        assert_eq!(a.load(), None);
        assert!(!a.compare_exchange(e.load().unwrap(), 1));
        assert!(table.find("a").is_none());
        assert_eq!(table.find("b").unwrap().load(), Some(70));
        assert!(table.slot("f", &NONE).is_none(), "nothing may be taken");
    }

    #[test]
    fn a_key_placed_again_never_sees_a_value_it_saw() {
        let table = KeyedTable::<2>::leaked();
        let seen = table.slot("a", &ANY).unwrap().load().unwrap();
        table.slot("b", &ANY).unwrap();
        table.slot("c", &ANY).unwrap();
        table.slot("d", &ANY).unwrap();
        let again = table.slot("a", &ANY).unwrap().load().unwrap();
        assert_ne!(seen, again);
    }

    /// Threads place many keys in a small table and write values naming their key: a
    /// key only ever reads back a value it wrote or a start value, never another key's.
    #[test]
    fn concurrent_take_overs_never_show_another_keys_value() {
        const TAG: u32 = 56;
        let table = KeyedTable::<8>::leaked();
        let threads: Vec<_> = (0..8u64)
            .map(|t| {
                std::thread::spawn(move || {
                    for i in 0..5_000u64 {
                        let n = (t * 7 + i) % 24 + 1;
                        let key = format!("k{n}");
                        let readable = |read: u64| read >> TAG == 0 || read >> TAG == n;
                        let Some(slot) = table.slot(&key, &ANY) else {
                            continue;
                        };
                        if let Some(current) = slot.load() {
                            assert!(readable(current), "{key} read {current:#x}");
                            slot.compare_exchange(current, n << TAG | table.fresh());
                        }
                        if let Some(read) = table.find(&key).and_then(|s| s.load()) {
                            assert!(readable(read), "{key} read {read:#x}");
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }
}
