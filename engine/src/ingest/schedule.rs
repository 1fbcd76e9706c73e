//! What the documents of one pipeline run share, as LightRAG's pipeline does: the
//! model calls in flight (MAX_ASYNC across every document of the run, the calls of a
//! merge served before waiting extractions, as LightRAG gives summaries a higher
//! priority) and the graph elements being merged.
//!
//! A merge reads, modifies and writes the entities (and the relations between them) a
//! document names, so two documents naming the same entity merge one after the other;
//! documents that share no entity merge at once (LightRAG's keyed locks, per entity
//! name). A document takes all its names at once or none, so two merges never wait
//! for each other's names (no deadlock), and its writes stay one batch.
//!
//! The gate sits in front of the cross-process permits: a call that passes it finds
//! one of those free at once, and a finished call wakes the next waiter straight away
//! instead of at the permits' next poll.

use std::collections::HashSet;
use std::sync::{Condvar, Mutex};

use tokio::sync::Notify;

/// Which model calls go first when several wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Priority {
    /// A chunk's extraction.
    Extract,
    /// A description summary while a document merges (it holds the merge turn).
    Merge,
}

struct Slots {
    free: usize,
    merges_waiting: usize,
}

/// At most `capacity` model calls at once, merge calls first.
pub(crate) struct Gate {
    slots: Mutex<Slots>,
    released: Notify,
}

/// One model call's slot, given back on drop.
pub(crate) struct Ticket<'g> {
    gate: &'g Gate,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.gate.lock().free += 1;
        self.gate.released.notify_waiters();
    }
}

impl Gate {
    pub(crate) fn new(capacity: usize) -> Gate {
        Gate {
            slots: Mutex::new(Slots {
                free: capacity.max(1),
                merges_waiting: 0,
            }),
            released: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a slot; an extraction also waits while a merge call is waiting.
    pub(crate) async fn enter(&self, priority: Priority) -> Ticket<'_> {
        let mut counted = false;
        loop {
            // Registered before the check, so a release between the two is not missed.
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            {
                let mut slots = self.lock();
                let turn = priority == Priority::Merge || slots.merges_waiting == 0;
                if turn && slots.free > 0 {
                    slots.free -= 1;
                    if counted {
                        slots.merges_waiting -= 1;
                    }
                    return Ticket { gate: self };
                }
                if priority == Priority::Merge && !counted {
                    slots.merges_waiting += 1;
                    counted = true;
                }
            }
            released.await;
        }
    }
}

/// Entity names being merged, each by one document at a time.
#[derive(Default)]
pub(crate) struct KeyedLocks {
    held: Mutex<HashSet<String>>,
    released: Condvar,
}

/// Names held by one merge, given back on drop.
pub(crate) struct Keys<'l> {
    locks: &'l KeyedLocks,
    keys: Vec<String>,
}

impl Drop for Keys<'_> {
    fn drop(&mut self) {
        let mut held = self.locks.lock();
        for key in &self.keys {
            held.remove(key);
        }
        drop(held);
        self.locks.released.notify_all();
    }
}

impl KeyedLocks {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Blocks until none of `keys` is held by another merge, then holds them all.
    pub(crate) fn hold<'k>(&self, keys: impl IntoIterator<Item = &'k String>) -> Keys<'_> {
        let mut keys: Vec<String> = keys.into_iter().cloned().collect();
        keys.sort_unstable();
        keys.dedup();
        let mut held = self.lock();
        while keys.iter().any(|k| held.contains(k)) {
            held = self.released.wait(held).unwrap_or_else(|e| e.into_inner());
        }
        held.extend(keys.iter().cloned());
        Keys { locks: self, keys }
    }
}

/// One run's shared turns: the model gate and the entities being merged.
pub struct Scheduling {
    pub(crate) model: Gate,
    pub(crate) merging: KeyedLocks,
}

impl Scheduling {
    /// `llm_concurrency` (MAX_ASYNC) model calls at once across the run's documents.
    pub fn new(llm_concurrency: usize) -> Scheduling {
        Scheduling {
            model: Gate::new(llm_concurrency),
            merging: KeyedLocks::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_capacity_calls_pass_at_once() {
        let gate = Arc::new(Gate::new(3));
        let inside = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let (gate, inside, peak) = (gate.clone(), inside.clone(), peak.clone());
                tokio::spawn(async move {
                    let _ticket = gate.enter(Priority::Extract).await;
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert!(peak.load(Ordering::SeqCst) <= 3);
        assert_eq!(gate.lock().free, 3, "every slot is given back");
    }

    fn keys(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn merges_of_distinct_entities_hold_their_names_at_once() {
        let locks = KeyedLocks::default();
        let first = locks.hold(&keys(&["Alan Turing", "Bletchley Park"]));
        // Would block forever under one merge lock for the whole run.
        let second = locks.hold(&keys(&["Grace Hopper", "Grace Hopper"]));
        assert_eq!(locks.lock().len(), 3);
        drop((first, second));
        assert!(locks.lock().is_empty(), "every name is given back");
    }

    #[test]
    fn a_merge_naming_a_held_entity_waits_for_it() {
        let locks = KeyedLocks::default();
        let order = Mutex::new(Vec::new());
        let held = locks.hold(&keys(&["Alan Turing", "Bletchley Park"]));
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let _keys = locks.hold(&keys(&["Bletchley Park", "Enigma"]));
                order.lock().unwrap().push("second");
            });
            // Whenever the second merge starts, it cannot pass before this release.
            std::thread::sleep(std::time::Duration::from_millis(20));
            order.lock().unwrap().push("first");
            drop(held);
        });
        assert_eq!(*order.lock().unwrap(), ["first", "second"]);
    }

    #[tokio::test]
    async fn a_waiting_merge_call_goes_before_waiting_extractions() {
        let gate = Gate::new(1);
        let held = gate.enter(Priority::Extract).await;
        let order = Mutex::new(Vec::new());
        let extract = async {
            let _t = gate.enter(Priority::Extract).await;
            order.lock().unwrap().push("extract");
        };
        let merge = async {
            // Starts waiting after the extraction did.
            tokio::task::yield_now().await;
            let _t = gate.enter(Priority::Merge).await;
            order.lock().unwrap().push("merge");
        };
        let release = async {
            tokio::task::yield_now().await;
            tokio::task::yield_now().await;
            drop(held);
        };
        tokio::join!(extract, merge, release);
        assert_eq!(*order.lock().unwrap(), ["merge", "extract"]);
    }
}
