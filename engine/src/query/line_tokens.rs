//! Token counts of context lines, kept per process. The budgets count every entity,
//! relation and chunk line a query retrieves, and the same hubs, relations and chunks
//! come back query after query; counting a line with o200k costs more than the rest of
//! its handling, while its count never changes (it depends on the text alone).
//!
//! Lines are keyed by two independent 64-bit hashes of their text (no copy of the text
//! is kept), so the cache stays small; it is emptied when it holds [`MAX_LINES`]. The
//! hashes are foldhash's, seeded per process: a line is a whole description, and
//! SipHash over every line of every query took a few percent of a local query.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Mutex, OnceLock};

use crate::chunking::Tokenizer;

/// Lines whose counts are kept at most (a few hundred KiB).
const MAX_LINES: usize = 16 * 1024;

struct Counts {
    keys: [foldhash::fast::RandomState; 2],
    counts: Mutex<HashMap<(u64, u64), usize>>,
}

fn cache() -> &'static Counts {
    static COUNTS: OnceLock<Counts> = OnceLock::new();
    COUNTS.get_or_init(|| Counts {
        keys: [
            foldhash::fast::RandomState::default(),
            foldhash::fast::RandomState::default(),
        ],
        counts: Mutex::new(HashMap::new()),
    })
}

/// The tokens of `line` (the query path's o200k tokenizer), counted once per process.
pub(super) fn count(tokenizer: &Tokenizer, line: &str) -> usize {
    let cache = cache();
    let key = (cache.keys[0].hash_one(line), cache.keys[1].hash_one(line));
    if let Some(&n) = cache
        .counts
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&key)
    {
        return n;
    }
    let n = tokenizer.count(line);
    let mut counts = cache.counts.lock().unwrap_or_else(|e| e.into_inner());
    if counts.len() >= MAX_LINES {
        counts.clear();
    }
    counts.insert(key, n);
    n
}

#[cfg(test)]
fn is_cached(line: &str) -> bool {
    let cache = cache();
    let key = (cache.keys[0].hash_one(line), cache.keys[1].hash_one(line));
    cache
        .counts
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .contains_key(&key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_counted_once_and_counts_as_the_tokenizer_does() {
        let tokenizer = Tokenizer::o200k();
        let line = r#"{"entity": "Ada Lovelace (line_tokens test)", "type": "person"}"#;
        assert!(!is_cached(line));
        assert_eq!(count(&tokenizer, line), tokenizer.count(line));
        assert!(is_cached(line), "the count is kept");
        assert_eq!(count(&tokenizer, line), tokenizer.count(line));
        assert!(
            !is_cached(&format!("{line} ")),
            "another text is another line"
        );
    }
}
