//! LightRAG's fixed-token chunking (`chunking_by_token_size`, the `F` strategy): windows
//! of `chunk_token_size` tokens advancing by `chunk_token_size - overlap`, or, with a
//! split character, the pieces between separators (oversized pieces windowed the same
//! way unless `split_by_character_only`, which refuses them).

use tiktoken_rs::Rank;

use super::{Chunk, ChunkError, ChunkingOptions, Tokenizer, check_sizes};

/// Splits `content` into chunks.
pub(super) fn chunk(
    tokenizer: &Tokenizer,
    content: &str,
    options: &ChunkingOptions,
) -> Result<Vec<Chunk>, ChunkError> {
    let size = options.chunk_token_size;
    let overlap = options.overlap_token_size;
    check_sizes(size, overlap)?;
    let mut pieces: Vec<(usize, String)> = Vec::new();
    match options
        .split_by_character
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        Some(separator) => {
            for piece in content.split(separator) {
                let tokens = tokenizer.encode(piece);
                if tokens.len() <= size {
                    pieces.push((tokens.len(), piece.to_owned()));
                } else if options.split_by_character_only {
                    return Err(ChunkError::TokenLimitExceeded {
                        tokens: tokens.len(),
                        limit: size,
                    });
                } else {
                    pieces.extend(windows(tokenizer, &tokens, size, overlap));
                }
            }
        }
        None => pieces.extend(windows(
            tokenizer,
            &tokenizer.encode(content),
            size,
            overlap,
        )),
    }
    Ok(pieces
        .into_iter()
        .map(|(tokens, text)| (tokens, text.trim().to_owned()))
        .filter(|(_, text)| !text.is_empty())
        .enumerate()
        .map(|(order, (tokens, content))| Chunk {
            tokens,
            content,
            order,
            heading: None,
        })
        .collect())
}

fn windows<'a>(
    tokenizer: &'a Tokenizer,
    tokens: &'a [Rank],
    size: usize,
    overlap: usize,
) -> impl Iterator<Item = (usize, String)> + 'a {
    (0..tokens.len()).step_by(size - overlap).map(move |start| {
        let end = start.saturating_add(size).min(tokens.len());
        (end - start, tokenizer.decode(&tokens[start..end]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(size: usize, overlap: usize) -> ChunkingOptions {
        ChunkingOptions {
            chunk_token_size: size,
            overlap_token_size: overlap,
            ..Default::default()
        }
    }

    #[test]
    fn windows_overlap_by_the_configured_tokens() {
        let t = Tokenizer::o200k();
        let text = (0..500)
            .map(|i| format!("word{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let total = t.count(&text);
        let chunks = chunk(&t, &text, &options(100, 20)).unwrap();
        assert_eq!(chunks.len(), total.div_ceil(80));
        assert!(chunks.iter().all(|c| c.tokens <= 100));
        assert_eq!(chunks[0].order, 0);
        // Consecutive chunks share their overlap: the end of one starts the next.
        let tail = t.decode(&t.encode(&chunks[0].content)[80..]);
        assert!(chunks[1].content.starts_with(tail.trim()), "{tail:?}");
    }

    #[test]
    fn short_text_is_one_chunk_and_empty_text_none() {
        let t = Tokenizer::o200k();
        let chunks = chunk(&t, "  Hello, graph RAG!  ", &ChunkingOptions::default()).unwrap();
        assert_eq!(
            chunks,
            [Chunk {
                tokens: chunks[0].tokens,
                content: "Hello, graph RAG!".into(),
                order: 0,
                heading: None,
            }]
        );
        assert!(
            chunk(&t, "", &ChunkingOptions::default())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn split_by_character_keeps_pieces_and_windows_big_ones() {
        let t = Tokenizer::o200k();
        let big = "x ".repeat(300);
        let text = format!("alpha\n\nbeta\n\n{big}");
        let mut o = options(100, 10);
        o.split_by_character = Some("\n\n".into());
        let chunks = chunk(&t, &text, &o).unwrap();
        assert_eq!(chunks[0].content, "alpha");
        assert_eq!(chunks[1].content, "beta");
        assert!(chunks.len() > 3);
        o.split_by_character_only = true;
        assert!(matches!(
            chunk(&t, &text, &o),
            Err(ChunkError::TokenLimitExceeded { .. })
        ));
    }

    #[test]
    fn multibyte_text_survives_slicing_and_bad_options_are_refused() {
        let t = Tokenizer::o200k();
        let text = "知识图谱检索增强生成。".repeat(200);
        let chunks = chunk(&t, &text, &options(50, 5)).unwrap();
        assert!(chunks.len() > 5);
        assert_eq!(
            chunk(&t, "a", &options(10, 10)),
            Err(ChunkError::Overlap {
                size: 10,
                overlap: 10
            })
        );
        assert_eq!(
            chunk(&t, "a", &options(usize::MAX, usize::MAX - 1)),
            Err(ChunkError::TooLarge(usize::MAX))
        );
    }
}
