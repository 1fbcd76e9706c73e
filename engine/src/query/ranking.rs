//! The order of a local query's relations, as LightRAG ranks them: every relation of
//! the retrieved entities once, the most connected first (the degrees of both ends
//! summed), then the heaviest, ties in the order the graph listed them.
//!
//! A hub entity brings hundreds of relations and only the first few fit in the
//! relation budget, so the ranking touches each relation once: its rank is computed
//! once (not in every comparison), the sort moves small keys, and the relations stay
//! borrowed from what the graph returned until the few that are read in full.

use crate::fast_hash::FastSet;

use crate::ids;

/// A relation as ranking sees it: its endpoints as stored, and its weight.
pub(super) type Edge<'a> = (&'a str, &'a str, f64);

/// Every endpoint of `per_node`'s relations once (whose degrees the ranking needs).
pub(super) fn endpoints<W: AsRef<[(String, String, f64)]>>(per_node: &[W]) -> Vec<String> {
    let mut seen = FastSet::default();
    per_node
        .iter()
        .flat_map(AsRef::as_ref)
        .flat_map(|(s, t, _)| [s.as_str(), t.as_str()])
        .filter(|name| seen.insert(*name))
        .map(str::to_owned)
        .collect()
}

/// The relations of `per_node` (each entity's, best entity first), each once, ranked.
pub(super) fn most_related<'a, W: AsRef<[(String, String, f64)]>>(
    per_node: &'a [W],
    degree: impl Fn(&str) -> usize,
) -> Vec<Edge<'a>> {
    let mut seen = FastSet::default();
    let edges: Vec<Edge<'a>> = per_node
        .iter()
        .flat_map(AsRef::as_ref)
        .map(|(s, t, w)| (s.as_str(), t.as_str(), *w))
        .filter(|(s, t, _)| seen.insert(ids::endpoints(*s, *t)))
        .collect();
    let mut keys: Vec<(usize, f64, usize)> = edges
        .iter()
        .enumerate()
        .map(|(i, (s, t, w))| (degree(s) + degree(t), *w, i))
        .collect();
    // The position as the last key makes the unstable sort the stable one.
    keys.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(b.1.total_cmp(&a.1)).then(a.2.cmp(&b.2)));
    keys.into_iter().map(|(_, _, i)| edges[i]).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn edges(list: &[(&str, &str, f64)]) -> Vec<(String, String, f64)> {
        list.iter()
            .map(|(s, t, w)| (s.to_string(), t.to_string(), *w))
            .collect()
    }

    #[test]
    fn relations_once_by_degree_then_weight_then_first_listed() {
        let per_node = vec![
            edges(&[("A", "B", 1.0), ("A", "C", 2.0), ("D", "A", 1.0)]),
            // B's list repeats A-B (the other way round): kept once, where first seen.
            edges(&[("B", "A", 1.0), ("B", "E", 5.0)]),
        ];
        let degrees: HashMap<&str, usize> =
            HashMap::from([("A", 3), ("B", 2), ("C", 1), ("D", 2), ("E", 2)]);
        let ranked = most_related(&per_node, |n| degrees[n]);
        // A-B and A-D rank 5 (A-B listed first), A-C and B-E rank 4 (B-E heavier).
        assert_eq!(
            ranked,
            [
                ("A", "B", 1.0),
                ("D", "A", 1.0),
                ("B", "E", 5.0),
                ("A", "C", 2.0)
            ]
        );
        let mut names = endpoints(&per_node);
        names.sort();
        assert_eq!(names, ["A", "B", "C", "D", "E"]);
    }

    #[test]
    fn ranking_is_the_stable_sort_on_rank_and_weight() {
        let mut rng = fastrand::Rng::with_seed(17);
        let names = ["a", "b", "c", "d", "e", "f"];
        let per_node: Vec<Vec<(String, String, f64)>> = (0..6)
            .map(|_| {
                (0..12)
                    .map(|_| {
                        let (s, t) = (rng.usize(..6), rng.usize(..6));
                        let w = f64::from(rng.u8(..3));
                        (names[s].to_owned(), names[t].to_owned(), w)
                    })
                    .collect()
            })
            .collect();
        let degree = |n: &str| n.as_bytes()[0] as usize % 3;
        // What retrieval did before: dedup in order, then a stable sort with the rank
        // computed in the comparison.
        let mut seen = FastSet::default();
        let mut expected: Vec<Edge<'_>> = per_node
            .iter()
            .flatten()
            .map(|(s, t, w)| (s.as_str(), t.as_str(), *w))
            .filter(|(s, t, _)| seen.insert(ids::endpoints(*s, *t)))
            .collect();
        let rank = |e: &Edge<'_>| degree(e.0) + degree(e.1);
        expected.sort_by(|a, b| rank(b).cmp(&rank(a)).then(b.2.total_cmp(&a.2)));
        assert_eq!(most_related(&per_node, degree), expected);
    }
}
