//! The CPU threads a worker gives its in-process models. Each forward pass runs inside
//! one bounded rayon pool, so candle's matrix products (which split their work over the
//! current rayon pool) use at most that many cores, however many calls are in flight:
//! N workers together stay within the machine.

use std::sync::Arc;

/// `requested` threads, or when 0 the cores shared out among `workers` (at least 1).
pub fn thread_count(requested: usize, workers: usize) -> usize {
    if requested > 0 {
        return requested;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / workers.max(1)).max(1)
}

/// A pool of `threads` threads for model work, named for `ps` and logs.
pub fn pool(threads: usize) -> Result<Arc<rayon::ThreadPool>, super::LoadError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .thread_name(|i| format!("model-{i}"))
        .build()
        .map(Arc::new)
        .map_err(|e| super::LoadError::Threads(e.to_string()))
}
