//! What the documents of one pipeline run share, as LightRAG's pipeline does: the
//! model calls in flight (MAX_ASYNC across every document of the run, the calls of a
//! merge served before waiting extractions, as LightRAG gives summaries a higher
//! priority). Merges need no lock here: the run makes one at a time, each taking every
//! document waiting (`documents::merger`).
//!
//! The gate sits in front of the cross-process permits: a call that passes it finds
//! one of those free at once, and a finished call wakes the next waiter straight away
//! instead of at the permits' next poll.

use std::sync::Mutex;

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

/// One run's shared turns: the model gate.
pub struct Scheduling {
    pub(crate) model: Gate,
}

impl Scheduling {
    /// `llm_concurrency` (MAX_ASYNC) model calls at once across the run's documents.
    pub fn new(llm_concurrency: usize) -> Scheduling {
        Scheduling {
            model: Gate::new(llm_concurrency),
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
