//! LightRAG's `recursive_character` strategy (`R`), which is LangChain's
//! `RecursiveCharacterTextSplitter` measured in tokens: split on the strongest
//! separator the text contains (each piece keeps the separator it starts with), merge
//! neighbouring pieces up to `chunk_token_size` with up to `chunk_overlap_token_size`
//! tokens carried over, and split a piece that is still too large again with the
//! weaker separators after it. A piece no separator can break stays whole.

use std::collections::VecDeque;

use super::{Chunk, RecursiveCharacter, Tokenizer, numbered};

/// LangChain's own cascade, used when a request gives an empty list (LightRAG's
/// `separators=None` path).
const LANGCHAIN_SEPARATORS: &[&str] = &["\n\n", "\n", " ", ""];

pub(super) fn chunk(
    tokenizer: &Tokenizer,
    content: &str,
    options: &RecursiveCharacter,
) -> Vec<Chunk> {
    if content.trim().is_empty() {
        return Vec::new();
    }
    let separators: Vec<&str> = if options.separators.is_empty() {
        LANGCHAIN_SEPARATORS.to_vec()
    } else {
        options.separators.iter().map(String::as_str).collect()
    };
    let splitter = Splitter {
        tokenizer,
        size: options.chunk_token_size,
        overlap: options.overlap_token_size,
    };
    let chunks = numbered(tokenizer, splitter.split(content, &separators));
    if chunks.is_empty() {
        return numbered(tokenizer, [content.to_owned()]);
    }
    chunks
}

/// Splits `content` with LangChain's default cascade and no overlap: how
/// `semantic_vector` cuts a group above its size.
pub(super) fn split_plain(tokenizer: &Tokenizer, content: &str, size: usize) -> Vec<String> {
    Splitter {
        tokenizer,
        size,
        overlap: 0,
    }
    .split(content, LANGCHAIN_SEPARATORS)
}

struct Splitter<'a> {
    tokenizer: &'a Tokenizer,
    size: usize,
    overlap: usize,
}

impl Splitter<'_> {
    fn len(&self, text: &str) -> usize {
        self.tokenizer.count(text)
    }

    fn split(&self, text: &str, separators: &[&str]) -> Vec<String> {
        let mut separator = separators.last().copied().unwrap_or_default();
        let mut weaker: &[&str] = &[];
        for (i, candidate) in separators.iter().enumerate() {
            if candidate.is_empty() {
                separator = candidate;
                break;
            }
            if text.contains(candidate) {
                separator = candidate;
                weaker = &separators[i + 1..];
                break;
            }
        }
        let mut chunks = Vec::new();
        let mut small: Vec<(&str, usize)> = Vec::new();
        for piece in pieces(text, separator) {
            let tokens = self.len(piece);
            if tokens < self.size {
                small.push((piece, tokens));
                continue;
            }
            chunks.extend(self.merge(&small));
            small.clear();
            if weaker.is_empty() {
                chunks.push(piece.to_owned());
            } else {
                chunks.extend(self.split(piece, weaker));
            }
        }
        chunks.extend(self.merge(&small));
        chunks
    }

    /// Joins pieces into chunks of at most `size` tokens (counted per piece, as
    /// LangChain does), each starting with up to `overlap` tokens of the previous one.
    fn merge(&self, pieces: &[(&str, usize)]) -> Vec<String> {
        let mut chunks = Vec::new();
        let mut current: VecDeque<(&str, usize)> = VecDeque::new();
        let mut total = 0;
        for &(piece, tokens) in pieces {
            if total + tokens > self.size && !current.is_empty() {
                push_joined(&mut chunks, &current);
                while total > self.overlap || (total + tokens > self.size && total > 0) {
                    let Some((_, first)) = current.pop_front() else {
                        break;
                    };
                    total -= first;
                }
            }
            current.push_back((piece, tokens));
            total += tokens;
        }
        push_joined(&mut chunks, &current);
        chunks
    }
}

fn push_joined(chunks: &mut Vec<String>, pieces: &VecDeque<(&str, usize)>) {
    let joined: String = pieces.iter().map(|(p, _)| *p).collect();
    let joined = joined.trim();
    if !joined.is_empty() {
        chunks.push(joined.to_owned());
    }
}

/// `text` cut before each `separator` (kept at the start of the piece that follows
/// it), or into characters for the empty separator; empty pieces dropped.
fn pieces<'a>(text: &'a str, separator: &str) -> Vec<&'a str> {
    if separator.is_empty() {
        return text
            .char_indices()
            .map(|(i, c)| &text[i..i + c.len_utf8()])
            .collect();
    }
    let mut out = Vec::new();
    let mut start = 0;
    for (at, _) in text.match_indices(separator).filter(|(at, _)| *at > 0) {
        out.push(&text[start..at]);
        start = at;
    }
    out.push(&text[start..]);
    out.retain(|p| !p.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(size: usize, overlap: usize, separators: &[&str]) -> RecursiveCharacter {
        RecursiveCharacter {
            chunk_token_size: size,
            overlap_token_size: overlap,
            separators: separators.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn contents(chunks: &[Chunk]) -> Vec<&str> {
        chunks.iter().map(|c| c.content.as_str()).collect()
    }

    #[test]
    fn pieces_keep_their_separator_at_the_start() {
        assert_eq!(pieces("a\n\nb\n\nc", "\n\n"), ["a", "\n\nb", "\n\nc"]);
        assert_eq!(pieces("\n\na", "\n\n"), ["\n\na"]);
        assert_eq!(pieces("ab", ""), ["a", "b"]);
    }

    #[test]
    fn paragraphs_merge_up_to_the_size_then_break() {
        let t = Tokenizer::o200k();
        // Each paragraph is 4 tokens ("alpha one two three" style words are 1 token).
        let text = "red green blue cyan\n\nsun moon star sky\n\noak elm ash yew";
        let par = t.count("red green blue cyan");
        let chunks = chunk(&t, text, &options(par * 2 + 2, 0, &["\n\n", "\n", " ", ""]));
        assert_eq!(
            contents(&chunks),
            [
                "red green blue cyan\n\nsun moon star sky",
                "oak elm ash yew"
            ]
        );
        assert_eq!(chunks[1].order, 1);
    }

    #[test]
    fn oversized_pieces_fall_to_weaker_separators_with_overlap() {
        let t = Tokenizer::o200k();
        // One paragraph of 8 one-token words: too large for 5 tokens, split on spaces;
        // the next chunk starts with the last words of the previous one (overlap 2).
        let text = "one two three four five six seven eight";
        assert_eq!(t.count(text), 8);
        let chunks = chunk(&t, text, &options(5, 2, &["\n\n", " "]));
        assert_eq!(
            contents(&chunks),
            ["one two three four five", "four five six seven eight"]
        );
    }

    #[test]
    fn chinese_punctuation_of_the_default_cascade_splits_sentences() {
        let t = Tokenizer::o200k();
        let defaults: Vec<&str> = crate::chunking::DEFAULT_R_SEPARATORS.to_vec();
        let text = "知识图谱很有用。检索增强生成也很有用。两者结合更好。";
        let size = t.count("知识图谱很有用。检索增强生成也很有用。");
        let chunks = chunk(&t, text, &options(size, 0, &defaults));
        assert_eq!(
            contents(&chunks),
            ["知识图谱很有用。检索增强生成也很有用", "。两者结合更好。"]
        );
    }

    #[test]
    fn an_unbreakable_piece_stays_whole_and_blank_text_has_no_chunk() {
        let t = Tokenizer::o200k();
        let word = "x".repeat(200);
        let chunks = chunk(&t, &word, &options(10, 0, &["\n\n"]));
        assert_eq!(contents(&chunks), [word.as_str()]);
        assert!(chunk(&t, " \n ", &options(10, 0, &["\n"])).is_empty());
        // An empty list is LangChain's cascade, which ends with characters.
        assert!(chunk(&t, &word, &options(10, 0, &[])).len() > 1);
    }
}
