//! CPU work split over the machine's cores without a thread pool: a slice is cut into
//! one run of items per core, the extra runs go to scoped threads and the first stays
//! on the caller's thread, and the results come back in order. It serves the CPU-bound
//! steps of indexing (the builtin embedding of a batch, building merged graph records)
//! that would otherwise keep one core busy while the other idles.
//!
//! Scoped threads cost tens of microseconds each, so work smaller than `min_per_thread`
//! items a thread stays on the caller. No pool means nothing to size, start or stop,
//! and nothing that outlives the call: a worker's HTTP runtime is never blocked by a
//! pool it shares.

use std::num::NonZeroUsize;
use std::sync::OnceLock;

/// The cores this process may run on (at least 1), read once.
pub fn count() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, NonZeroUsize::get))
}

/// `f` over `items`, run by up to [`count`] threads on runs of at least
/// `min_per_thread` items each; results in the order of `items`.
pub fn map<T: Sync, R: Send>(
    items: &[T],
    min_per_thread: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = count().min(items.len() / min_per_thread.max(1)).max(1);
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let run = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let mut runs = items.chunks(run);
        let first = runs.next().unwrap_or_default();
        let others: Vec<_> = runs
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        let mut out: Vec<R> = first.iter().map(f).collect();
        for handle in others {
            match handle.join() {
                Ok(part) => out.extend(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_order_of_the_items() {
        let items: Vec<usize> = (0..1000).collect();
        assert_eq!(
            map(&items, 10, |i| i * 2),
            items.iter().map(|i| i * 2).collect::<Vec<_>>()
        );
        assert_eq!(map(&items[..3], 10, |i| i + 1), [1, 2, 3]);
        assert!(map(&[] as &[usize], 1, |i| *i).is_empty());
    }

    #[test]
    fn large_inputs_run_on_several_threads_when_there_are_cores() {
        let items: Vec<usize> = (0..64).collect();
        let threads = std::sync::Mutex::new(std::collections::HashSet::new());
        map(&items, 1, |_| {
            threads.lock().unwrap().insert(std::thread::current().id());
        });
        assert_eq!(threads.into_inner().unwrap().len(), count().min(64));
    }
}
