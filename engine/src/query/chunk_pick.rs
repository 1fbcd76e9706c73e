//! KG_CHUNK_PICK_METHOD: which source chunks of the retrieved entities (or relations)
//! reach the context, as LightRAG picks them.
//!
//! Each item's chunks are first made unique across items (a chunk stays with the
//! highest-ranked item naming it) and ordered by how many items name them. Then:
//! - `WEIGHT`: linear gradient polling: the first item gets RELATED_CHUNK_NUMBER
//!   chunks, the last one, the counts in between fall linearly, and quota an item
//!   cannot use goes, one chunk at a time, to the first items that still have chunks;
//! - `VECTOR`: of all those chunks, the `RELATED_CHUNK_NUMBER × items / 2` most similar
//!   to the query; when that picks nothing (no vector for a chunk, or a quota of 0),
//!   `WEIGHT` decides instead.

use std::collections::HashSet;

use crate::fast_hash::{FastMap, FastSet};

/// Each item's candidate chunks, in the order picking reads them. Items without
/// chunks are left out; so are items whose chunks all went to earlier items when
/// `drop_emptied` (LightRAG does so for relations, not for entities).
pub(super) fn candidates<'a>(
    per_item: impl IntoIterator<Item = impl IntoIterator<Item = &'a str>>,
    exclude: &HashSet<&str>,
    drop_emptied: bool,
) -> Vec<Vec<&'a str>> {
    let mut occurrences: FastMap<&str, usize> = FastMap::default();
    let mut lists = Vec::new();
    for chunks in per_item {
        let mut chunks = chunks.into_iter().peekable();
        if chunks.peek().is_none() {
            continue;
        }
        let mut kept = Vec::new();
        for id in chunks {
            if exclude.contains(id) {
                continue;
            }
            let count = occurrences.entry(id).or_default();
            *count += 1;
            if *count == 1 {
                kept.push(id);
            }
        }
        if !(drop_emptied && kept.is_empty()) {
            lists.push(kept);
        }
    }
    for list in &mut lists {
        // Stable: equally shared chunks keep their source order. Each count is looked
        // up once, not in every comparison.
        list.sort_by_cached_key(|id| std::cmp::Reverse(occurrences[id]));
    }
    lists
}

/// Linear gradient polling over `lists` (best item first).
pub(super) fn weighted_polling(lists: &[Vec<&str>], max: usize, min: usize) -> Vec<String> {
    let n = lists.len();
    if n <= 1 {
        return lists
            .first()
            .map(|l| l.iter().take(max).map(|id| (*id).to_owned()).collect())
            .unwrap_or_default();
    }
    let expected: Vec<usize> = (0..n)
        .map(|i| {
            let ratio = i as f64 / (n - 1) as f64;
            (max as f64 - ratio * (max as f64 - min as f64)).round_ties_even() as usize
        })
        .collect();
    let mut picked = Vec::new();
    let mut used = vec![0; n];
    let mut remaining = 0;
    for (i, list) in lists.iter().enumerate() {
        used[i] = expected[i].min(list.len());
        picked.extend(list[..used[i]].iter().map(|id| (*id).to_owned()));
        remaining += expected[i] - used[i];
    }
    for _ in 0..remaining {
        let Some(i) = (0..n).find(|&i| used[i] < lists[i].len()) else {
            break;
        };
        picked.push(lists[i][used[i]].to_owned());
        used[i] += 1;
    }
    picked
}

/// Every candidate chunk once, in first-seen order.
pub(super) fn unique<'a>(lists: &[Vec<&'a str>]) -> Vec<&'a str> {
    let mut seen = FastSet::default();
    lists
        .iter()
        .flatten()
        .copied()
        .filter(|id| seen.insert(*id))
        .collect()
}

/// The `count` chunks most similar to the query (`scores` matches `ids`); `None` when
/// that picks nothing, for weighted polling to decide.
pub(super) fn by_similarity(
    ids: &[&str],
    scores: &[Option<f32>],
    count: usize,
) -> Option<Vec<String>> {
    let scored: Option<Vec<(f32, &str)>> = ids
        .iter()
        .zip(scores)
        .map(|(id, score)| score.map(|s| (s, *id)))
        .collect();
    let mut scored = scored.filter(|s| !s.is_empty() && count > 0)?;
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    Some(
        scored
            .into_iter()
            .take(count)
            .map(|(_, id)| id.to_owned())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists<'a>(items: &[&[&'a str]]) -> Vec<Vec<&'a str>> {
        items.iter().map(|l| l.to_vec()).collect()
    }

    #[test]
    fn candidates_stay_with_the_first_item_and_shared_ones_come_first() {
        let got = candidates(
            lists(&[&["a", "b"], &["c", "b", "d"], &["d"], &[]]),
            &HashSet::new(),
            false,
        );
        // b and d are named twice: first in their lists; d went to the second item.
        assert_eq!(got, lists(&[&["b", "a"], &["d", "c"], &[]]));
        let relations = candidates(lists(&[&["a"], &["x", "y"]]), &HashSet::from(["a"]), true);
        assert_eq!(relations, lists(&[&["x", "y"]]));
    }

    #[test]
    fn weighted_polling_falls_linearly_and_passes_unused_quota_on() {
        let items = lists(&[
            &["a1", "a2", "a3", "a4", "a5", "a6"],
            &["b1"],
            &["c1", "c2"],
        ]);
        // Quotas 5, 3, 1: b can use one of its three; the two left go to a, then c.
        assert_eq!(
            weighted_polling(&items, 5, 1),
            ["a1", "a2", "a3", "a4", "a5", "b1", "c1", "a6", "c2"]
        );
        assert_eq!(weighted_polling(&items[..1], 2, 1), ["a1", "a2"]);
        // 2.5 rounds to even, as Python's round does.
        let two = lists(&[&["a1", "a2", "a3"], &["b1", "b2", "b3"], &["c1"]]);
        assert_eq!(
            weighted_polling(&two, 4, 1),
            ["a1", "a2", "a3", "b1", "b2", "c1", "b3"]
        );
    }

    #[test]
    fn similarity_takes_the_best_or_defers_to_weight() {
        let ids = ["a", "b", "c"];
        let scores = [Some(0.1), Some(0.9), Some(0.5)];
        assert_eq!(
            by_similarity(&ids, &scores, 2),
            Some(vec!["b".into(), "c".into()])
        );
        assert_eq!(by_similarity(&ids, &scores, 0), None);
        assert_eq!(by_similarity(&ids, &[Some(0.1), None, Some(0.5)], 2), None);
    }
}
