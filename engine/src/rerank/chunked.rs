//! Cohere's chunked scoring (RERANK_ENABLE_CHUNKING), for rerank models with a short
//! window: a document longer than RERANK_MAX_TOKENS_PER_DOC tokens (o200k_base, the
//! tokenizer LightRAG uses for this) is sent as overlapping pieces of that many tokens,
//! every piece is scored (no `top_n` goes to the provider, so no document loses its
//! pieces to the cut), and a document scores as its best piece. `top_n` then applies
//! to the documents.

use super::{Reranker, Scored};
use crate::chunking::Tokenizer;
use crate::llm::{BoxFuture, ModelError};

/// Tokens consecutive pieces share (LightRAG's `overlap_tokens`).
const OVERLAP_TOKENS: usize = 32;

/// A reranker scoring long documents piece by piece.
pub struct Chunked<R> {
    inner: R,
    max_tokens: usize,
}

impl<R> Chunked<R> {
    pub fn new(inner: R, max_tokens: usize) -> Chunked<R> {
        Chunked {
            inner,
            max_tokens: max_tokens.max(1),
        }
    }
}

/// The pieces of `documents`, and the document each piece belongs to.
fn split(documents: &[String], max_tokens: usize) -> (Vec<String>, Vec<usize>) {
    // The overlap must be smaller than a piece, or the windows would not advance.
    let overlap = if OVERLAP_TOKENS >= max_tokens {
        max_tokens - 1
    } else {
        OVERLAP_TOKENS
    };
    let tokenizer = Tokenizer::o200k();
    let mut pieces = Vec::new();
    let mut owners = Vec::new();
    for (index, document) in documents.iter().enumerate() {
        let tokens = tokenizer.encode(document);
        if tokens.len() <= max_tokens {
            pieces.push(document.clone());
            owners.push(index);
            continue;
        }
        let mut start = 0;
        loop {
            let end = (start + max_tokens).min(tokens.len());
            pieces.push(tokenizer.decode(&tokens[start..end]));
            owners.push(index);
            if end >= tokens.len() {
                break;
            }
            start = end - overlap;
        }
    }
    (pieces, owners)
}

/// Each document's best piece score, the best documents first (ties in document
/// order); documents none of whose pieces were scored are left out.
fn best_per_document(scored: &[Scored], owners: &[usize], documents: usize) -> Vec<Scored> {
    let mut best: Vec<Option<f64>> = vec![None; documents];
    for piece in scored {
        if let Some(&owner) = owners.get(piece.index) {
            let slot = &mut best[owner];
            *slot = Some(slot.map_or(piece.relevance_score, |s| s.max(piece.relevance_score)));
        }
    }
    let mut out: Vec<Scored> = best
        .into_iter()
        .enumerate()
        .filter_map(|(index, score)| {
            score.map(|relevance_score| Scored {
                index,
                relevance_score,
            })
        })
        .collect();
    // A stable sort keeps document order among equal scores.
    out.sort_by(|a, b| b.relevance_score.total_cmp(&a.relevance_score));
    out
}

impl<R: Reranker> Reranker for Chunked<R> {
    fn rerank<'a>(
        &'a self,
        query: &'a str,
        documents: &'a [String],
        top_n: Option<usize>,
    ) -> BoxFuture<'a, Result<Vec<Scored>, ModelError>> {
        Box::pin(async move {
            let (pieces, owners) = split(documents, self.max_tokens);
            tracing::debug!(
                documents = documents.len(),
                pieces = pieces.len(),
                "rerank documents chunked"
            );
            let scored = self.inner.rerank(query, &pieces, None).await?;
            let mut best = best_per_document(&scored, &owners, documents.len());
            if let Some(n) = top_n {
                best.truncate(n);
            }
            Ok(best)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::llm::wait;

    #[test]
    fn short_documents_stay_whole_and_long_ones_overlap() {
        let tokenizer = Tokenizer::o200k();
        let long: String = (0..100).map(|i| format!("w{i} ")).collect();
        let tokens = tokenizer.encode(&long);
        assert!(tokens.len() > 100);
        let docs = vec!["short one".to_owned(), long.clone()];
        let (pieces, owners) = split(&docs, 40);
        assert_eq!(pieces[0], "short one");
        assert_eq!(owners[0], 0);
        assert!(owners[1..].iter().all(|&o| o == 1));
        // Windows of 40 tokens advancing by 40 - 32 = 8.
        let expected = tokens.len().saturating_sub(40).div_ceil(8) + 1;
        assert_eq!(pieces.len() - 1, expected);
        assert_eq!(pieces[1], tokenizer.decode(&tokens[..40]));
        assert_eq!(pieces[2], tokenizer.decode(&tokens[8..48]));
        assert!(long.ends_with(pieces.last().unwrap().as_str()));
    }

    #[test]
    fn a_window_of_one_token_does_not_overlap() {
        let docs = vec!["alpha beta gamma".to_owned()];
        let (pieces, _) = split(&docs, 1);
        let tokens = Tokenizer::o200k().encode(&docs[0]).len();
        assert_eq!(pieces.len(), tokens);
        assert_eq!(pieces.concat(), docs[0]);
    }

    /// Scores each piece by how often "gold" occurs in it; records what it was sent.
    struct Counting(Mutex<Vec<(Vec<String>, Option<usize>)>>);

    impl Reranker for Counting {
        fn rerank<'a>(
            &'a self,
            _query: &'a str,
            documents: &'a [String],
            top_n: Option<usize>,
        ) -> BoxFuture<'a, Result<Vec<Scored>, ModelError>> {
            self.0.lock().unwrap().push((documents.to_vec(), top_n));
            let mut out: Vec<Scored> = documents
                .iter()
                .enumerate()
                .map(|(index, d)| Scored {
                    index,
                    relevance_score: d.matches("gold").count() as f64,
                })
                .collect();
            out.sort_by(|a, b| b.relevance_score.total_cmp(&a.relevance_score));
            Box::pin(async move { Ok(out) })
        }
    }

    #[test]
    fn a_document_scores_as_its_best_piece_and_top_n_cuts_documents() {
        let filler = "lead ".repeat(200);
        let docs = vec![
            format!("{filler} gold gold gold"),
            "gold".to_owned(),
            "nothing here".to_owned(),
        ];
        let chunked = Chunked::new(Counting(Mutex::new(Vec::new())), 50);
        let scored = wait(chunked.rerank("q", &docs, Some(2))).unwrap();
        assert_eq!(
            scored,
            [
                Scored {
                    index: 0,
                    relevance_score: 3.0
                },
                Scored {
                    index: 1,
                    relevance_score: 1.0
                },
            ]
        );
        let calls = chunked.inner.0.lock().unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].1, None, "no top_n reaches the provider");
        assert!(calls[0].0.len() > docs.len());
    }

    #[test]
    fn unscored_documents_and_stray_indices_are_left_out() {
        let scored = [
            Scored {
                index: 2,
                relevance_score: 0.5,
            },
            Scored {
                index: 9,
                relevance_score: 0.9,
            },
            Scored {
                index: 0,
                relevance_score: 0.5,
            },
        ];
        let best = best_per_document(&scored, &[0, 0, 2], 3);
        assert_eq!(
            best.iter().map(|s| s.index).collect::<Vec<_>>(),
            [0, 2],
            "ties in document order, document 1 unscored"
        );
    }
}
