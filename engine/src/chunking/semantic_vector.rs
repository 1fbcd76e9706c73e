//! LightRAG's `semantic_vector` strategy (`V`), which is LangChain's
//! `SemanticChunker` over the workspace's embedder: the text is cut into sentences
//! (after `.?!` and whitespace, or after `。？！`), each sentence is embedded together
//! with `buffer_size` neighbours on each side, and the text breaks where the cosine
//! distance between neighbouring groups is above a threshold drawn from all the
//! distances (a percentile, mean + n standard deviations, mean + n interquartile
//! ranges, or a percentile of the distances' gradient). A group is the source text
//! from its first sentence to its last; one above `chunk_token_size` is split again by
//! `recursive_character` without overlap. Chunks never overlap.

use super::{
    Breakpoint, Chunk, ChunkError, SemanticVector, Tokenizer, numbered, recursive_character,
};

pub(super) fn chunk<E: From<ChunkError>>(
    tokenizer: &Tokenizer,
    content: &str,
    options: &SemanticVector,
    embed: impl FnOnce(&[String]) -> Result<Vec<Vec<f32>>, E>,
) -> Result<Vec<Chunk>, E> {
    if content.trim().is_empty() {
        return Ok(Vec::new());
    }
    let sentences = sentences(content);
    let groups: Vec<(usize, usize)> = if sentences.len() == 1 {
        vec![(0, 0)]
    } else if options.threshold == Breakpoint::Gradient && sentences.len() == 2 {
        vec![(0, 0), (1, 1)]
    } else {
        let texts: Vec<&str> = sentences.iter().map(|&(s, e)| &content[s..e]).collect();
        let combined = combine(&texts, options.buffer_size);
        let vectors = embed(&combined)?;
        if vectors.len() != combined.len() {
            return Err(ChunkError::EmbeddingCount {
                expected: combined.len(),
                got: vectors.len(),
            }
            .into());
        }
        let distances: Vec<f64> = vectors
            .windows(2)
            .map(|pair| 1.0 - cosine(&pair[0], &pair[1]))
            .collect();
        groups(&breakpoints(&distances, options), sentences.len())
    };
    let mut pieces = Vec::new();
    for (first, last) in groups {
        let body = content[sentences[first].0..sentences[last].1].trim();
        if body.is_empty() {
            continue;
        }
        if tokenizer.count(body) <= options.chunk_token_size {
            pieces.push(body.to_owned());
        } else {
            pieces.extend(recursive_character::split_plain(
                tokenizer,
                body,
                options.chunk_token_size,
            ));
        }
    }
    Ok(numbered(tokenizer, pieces))
}

/// Byte spans of the sentences, as Python's `re.split` with LightRAG's default
/// `(?<=[.?!])\s+|(?<=[。？！])` gives them: whitespace after `.?!` is dropped, a split
/// after `。？！` is empty (so a text ending with one has an empty last sentence).
fn sentences(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let end = at + c.len_utf8();
        if ".?!".contains(c) {
            let mut resume = end;
            while let Some(&(i, w)) = chars.peek().filter(|(_, w)| w.is_whitespace()) {
                resume = i + w.len_utf8();
                chars.next();
            }
            if resume > end {
                spans.push((start, end));
                start = resume;
            }
        } else if "。？！".contains(c) {
            spans.push((start, end));
            start = end;
        }
    }
    spans.push((start, text.len()));
    spans
}

/// Each sentence with `buffer` sentences before and after it, joined by spaces.
fn combine(sentences: &[&str], buffer: usize) -> Vec<String> {
    (0..sentences.len())
        .map(|i| {
            let from = i.saturating_sub(buffer);
            let to = (i + buffer + 1).min(sentences.len());
            sentences[from..to].join(" ")
        })
        .collect()
}

/// Cosine similarity; a zero vector is similar to nothing (scikit-learn's convention).
fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let (na, nb) = (norm(a), norm(b));
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

/// The indices (into `distances`) after which the text breaks.
fn breakpoints(distances: &[f64], options: &SemanticVector) -> Vec<usize> {
    let amount = options.amount;
    let (threshold, values) = match options.threshold {
        Breakpoint::Percentile => (percentile(distances, amount), distances.to_vec()),
        Breakpoint::StandardDeviation => {
            let mean = mean(distances);
            let var =
                distances.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / distances.len() as f64;
            (mean + amount * var.sqrt(), distances.to_vec())
        }
        Breakpoint::Interquartile => {
            let iqr = percentile(distances, 75.0) - percentile(distances, 25.0);
            (mean(distances) + amount * iqr, distances.to_vec())
        }
        Breakpoint::Gradient => {
            let gradient = gradient(distances);
            (percentile(&gradient, amount), gradient)
        }
    };
    values
        .iter()
        .enumerate()
        .filter(|(_, v)| **v > threshold)
        .map(|(i, _)| i)
        .collect()
}

/// Sentence ranges `(first, last)` between breakpoints.
fn groups(breaks: &[usize], sentences: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for &index in breaks {
        out.push((start, index));
        start = index + 1;
    }
    if start < sentences {
        out.push((start, sentences - 1));
    }
    out
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// NumPy's default (linear) percentile.
fn percentile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = q / 100.0 * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
}

/// NumPy's `gradient` with unit spacing: central differences inside, one-sided at
/// the ends (at least two values).
fn gradient(values: &[f64]) -> Vec<f64> {
    let n = values.len();
    (0..n)
        .map(|i| match i {
            0 => values[1] - values[0],
            _ if i == n - 1 => values[n - 1] - values[n - 2],
            _ => (values[i + 1] - values[i - 1]) / 2.0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sentences about one of two topics get that topic's direction.
    fn topic_embedder(texts: &[String]) -> Result<Vec<Vec<f32>>, ChunkError> {
        Ok(texts
            .iter()
            .map(|t| {
                let cats = t.matches("cat").count() as f32;
                let stars = t.matches("star").count() as f32;
                vec![cats, stars]
            })
            .collect())
    }

    fn options(threshold: Breakpoint, amount: f64, buffer_size: usize) -> SemanticVector {
        SemanticVector {
            chunk_token_size: 1200,
            threshold,
            amount,
            buffer_size,
        }
    }

    fn contents(chunks: &[Chunk]) -> Vec<&str> {
        chunks.iter().map(|c| c.content.as_str()).collect()
    }

    const TEXT: &str =
        "A cat sleeps. The cat purrs.  A cat eats! A star shines. The star burns? A star fades.";

    #[test]
    fn sentences_split_like_the_python_pattern() {
        let spans = sentences("One. Two?  Three!Four 0.95 x。五。");
        let text = "One. Two?  Three!Four 0.95 x。五。";
        let got: Vec<&str> = spans.iter().map(|&(s, e)| &text[s..e]).collect();
        assert_eq!(got, ["One.", "Two?", "Three!Four 0.95 x。", "五。", ""]);
        assert_eq!(combine(&["a", "b", "c"], 1), ["a b", "a b c", "b c"]);
    }

    #[test]
    fn the_text_breaks_where_the_topic_changes() {
        let t = Tokenizer::o200k();
        for (threshold, amount) in [
            (Breakpoint::Percentile, 95.0),
            (Breakpoint::StandardDeviation, 1.0),
            (Breakpoint::Interquartile, 1.5),
        ] {
            let chunks = chunk(&t, TEXT, &options(threshold, amount, 0), topic_embedder).unwrap();
            assert_eq!(
                contents(&chunks),
                [
                    "A cat sleeps. The cat purrs.  A cat eats!",
                    "A star shines. The star burns? A star fades."
                ],
                "{threshold:?}"
            );
        }
    }

    #[test]
    fn buffered_groups_and_gradient_thresholds() {
        // With one neighbour on each side the groups are (cats, stars) = (2,0), (3,0),
        // (2,1), (1,2), (0,3), (0,2): distances 0, 0.106, 0.2, 0.106, 0. The 95th
        // percentile (0.181) breaks at the topic change only...
        let t = Tokenizer::o200k();
        let chunks = chunk(
            &t,
            TEXT,
            &options(Breakpoint::Percentile, 95.0, 1),
            topic_embedder,
        )
        .unwrap();
        assert_eq!(
            contents(&chunks),
            [
                "A cat sleeps. The cat purrs.  A cat eats!",
                "A star shines. The star burns? A star fades."
            ]
        );
        // ...the 30th (0.021) after the 2nd, 3rd and 4th sentences.
        let chunks = chunk(
            &t,
            TEXT,
            &options(Breakpoint::Percentile, 30.0, 1),
            topic_embedder,
        )
        .unwrap();
        assert_eq!(
            contents(&chunks),
            [
                "A cat sleeps. The cat purrs.",
                "A cat eats!",
                "A star shines.",
                "The star burns? A star fades."
            ]
        );
        // Distances 0, 1, 0 (no buffer) have the gradient 1, 0, -1: its 50th percentile
        // (0) breaks after the first sentence, where the distance starts rising.
        let four = "A cat. A cat. A star. A star.";
        let chunks = chunk(
            &t,
            four,
            &options(Breakpoint::Gradient, 50.0, 0),
            topic_embedder,
        )
        .unwrap();
        assert_eq!(contents(&chunks), ["A cat.", "A cat. A star. A star."]);
        // Two sentences with the gradient are two chunks, without embedding.
        let chunks = chunk(
            &t,
            "A cat. A star.",
            &options(Breakpoint::Gradient, 95.0, 1),
            |_: &[String]| -> Result<Vec<Vec<f32>>, ChunkError> { unreachable!() },
        )
        .unwrap();
        assert_eq!(contents(&chunks), ["A cat.", "A star."]);
    }

    #[test]
    fn large_groups_are_split_again_and_bad_embedders_refused() {
        let t = Tokenizer::o200k();
        let long = format!("{} cat.", "cat ".repeat(40));
        let mut o = options(Breakpoint::Percentile, 95.0, 0);
        o.chunk_token_size = 10;
        let chunks = chunk(&t, &long, &o, topic_embedder).unwrap();
        assert!(chunks.len() >= 4 && chunks.iter().all(|c| c.tokens <= 10));
        let short = |_: &[String]| -> Result<Vec<Vec<f32>>, ChunkError> { Ok(vec![vec![1.0]]) };
        assert_eq!(
            chunk(&t, TEXT, &o, short),
            Err(ChunkError::EmbeddingCount {
                expected: 6,
                got: 1
            })
        );
    }

    #[test]
    fn numpy_statistics() {
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 50.0), 2.5);
        assert!((percentile(&[0.0, 10.0], 95.0) - 9.5).abs() < 1e-12);
        assert_eq!(gradient(&[0.0, 1.0, 4.0]), [1.0, 2.0, 3.0]);
        assert_eq!(groups(&[1, 3], 5), [(0, 1), (2, 3), (4, 4)]);
    }
}
