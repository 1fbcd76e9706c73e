//! A fixed-size, lock-free table in the arena mapping string keys to one `AtomicU64`
//! each, shared by every worker. Keys are hashed (64 bits, never 0) and placed by
//! linear probing over a bounded neighbourhood; when that is full the entry with the
//! smallest value is taken over, which the users below tolerate by design.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

const PROBES: usize = 64;

#[repr(C)]
struct Entry {
    key: AtomicU64,
    value: AtomicU64,
}

#[repr(C)]
pub struct KeyedTable<const N: usize> {
    entries: [Entry; N],
}

fn hash(key: &str) -> u64 {
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    h.finish().max(1)
}

impl<const N: usize> KeyedTable<N> {
    /// The value cell for `key`, claimed on first use.
    pub fn value(&self, key: &str) -> &AtomicU64 {
        let key = hash(key);
        let start = (key as usize) % N;
        let mut smallest = start;
        for i in 0..PROBES.min(N) {
            let index = (start + i) % N;
            let entry = &self.entries[index];
            match entry.key.load(Ordering::Acquire) {
                k if k == key => return &entry.value,
                0 => match entry
                    .key
                    .compare_exchange(0, key, Ordering::AcqRel, Ordering::Acquire)
                {
                    Ok(_) => return &entry.value,
                    Err(k) if k == key => return &entry.value,
                    Err(_) => continue,
                },
                _ => {
                    if entry.value.load(Ordering::Relaxed)
                        < self.entries[smallest].value.load(Ordering::Relaxed)
                    {
                        smallest = index;
                    }
                }
            }
        }
        let entry = &self.entries[smallest];
        entry.key.store(key, Ordering::Release);
        &entry.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_get_their_own_cells_and_a_full_table_reuses_the_smallest() {
        let table: Box<KeyedTable<4>> = Box::new(KeyedTable {
            entries: std::array::from_fn(|_| Entry {
                key: AtomicU64::new(0),
                value: AtomicU64::new(0),
            }),
        });
        table.value("a").store(5, Ordering::Relaxed);
        table.value("b").store(7, Ordering::Relaxed);
        assert_eq!(table.value("a").load(Ordering::Relaxed), 5);
        assert_eq!(table.value("b").load(Ordering::Relaxed), 7);
        table.value("c").store(9, Ordering::Relaxed);
        table.value("d").store(11, Ordering::Relaxed);
        // Full: "e" takes over the smallest value's cell ("a").
        table.value("e");
        assert_eq!(table.value("b").load(Ordering::Relaxed), 7);
    }
}
