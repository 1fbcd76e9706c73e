//! The heading path of each chunk. Parsers of structured formats render headings as
//! Markdown ATX lines (`# A`, `## B`); this reads them back the way LightRAG's native
//! Markdown extractor does (1 to 6 `#` then whitespace, closing `#`s dropped, nothing
//! inside a fenced code block) and gives each chunk the section it starts in: its
//! heading, level and parent headings, stored as the chunk record's `heading`
//! (`{level, heading, parent_headings}`, LightRAG's field). The query context shows the
//! parents joined as `content_headings`.

use serde::{Deserialize, Serialize};

use super::{Chunk, Tokenizer};

/// LightRAG's separator between heading levels in `content_headings`.
pub const BREADCRUMB_SEPARATOR: &str = " → ";

/// LightRAG's cap on a chunk's `content_headings` (DEFAULT_MAX_SECTION_CONTEXT_TOKENS).
pub const MAX_CONTENT_HEADINGS_TOKENS: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkHeading {
    pub level: usize,
    pub heading: String,
    pub parent_headings: Vec<String>,
}

/// One heading line of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heading {
    /// Byte offset of the line's start.
    pub offset: usize,
    pub level: usize,
    pub text: String,
    /// The headings above it, outermost first.
    pub parents: Vec<String>,
}

/// A document's headings in order.
#[derive(Debug, Clone, Default)]
pub struct Outline {
    pub headings: Vec<Heading>,
}

impl Outline {
    pub fn of(content: &str) -> Outline {
        let mut headings = Vec::new();
        let mut stack: Vec<(usize, String)> = Vec::new();
        let mut fence: Option<(char, usize)> = None;
        let mut offset = 0;
        for line in content.split_inclusive('\n') {
            let start = offset;
            offset += line.len();
            let line = line.trim_end_matches(['\n', '\r']);
            if let Some((ch, run, info)) = fence_line(line.trim()) {
                match fence {
                    Some((open, len)) if ch == open && run >= len && info.is_empty() => {
                        fence = None;
                    }
                    Some(_) => {}
                    None => fence = Some((ch, run)),
                }
                continue;
            }
            if fence.is_some() {
                continue;
            }
            let Some((level, text)) = atx_heading(line) else {
                continue;
            };
            while stack.last().is_some_and(|(l, _)| *l >= level) {
                stack.pop();
            }
            let parents = stack
                .iter()
                .filter(|(_, h)| !h.is_empty())
                .map(|(_, h)| h.clone())
                .collect();
            stack.push((level, text.clone()));
            headings.push(Heading {
                offset: start,
                level,
                text,
                parents,
            });
        }
        Outline { headings }
    }

    /// The heading in force at byte `at`.
    pub fn at(&self, at: usize) -> Option<&Heading> {
        let after = self.headings.partition_point(|h| h.offset <= at);
        after.checked_sub(1).map(|i| &self.headings[i])
    }

    /// Gives each chunk the section it starts in. Chunks are found in order (they may
    /// overlap, so the search moves one character past each start); one whose text is
    /// not found verbatim (a token window that cut a character) starts where the
    /// previous one did.
    pub fn annotate(&self, content: &str, chunks: &mut [Chunk]) {
        let mut cursor = 0;
        for chunk in chunks {
            let start = content[cursor..]
                .find(chunk.content.as_str())
                .map_or(cursor, |at| cursor + at);
            cursor = content[start..]
                .chars()
                .next()
                .map_or(start, |c| start + c.len_utf8());
            chunk.heading = self.at(start).map(|h| ChunkHeading {
                level: h.level,
                heading: h.text.clone(),
                parent_headings: h.parents.clone(),
            });
        }
    }
}

/// `(fence character, run length, info string)` of a code fence line.
fn fence_line(stripped: &str) -> Option<(char, usize, &str)> {
    let ch = stripped.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let run = stripped.len() - stripped.trim_start_matches(ch).len();
    (run >= 3).then(|| (ch, run, &stripped[run..]))
}

/// `(level, text)` of an ATX heading line: `#`..`######`, whitespace, the text with
/// a closing run of `#`s removed.
fn atx_heading(line: &str) -> Option<(usize, String)> {
    let level = line.len() - line.trim_start_matches('#').len();
    if !(1..=6).contains(&level) {
        return None;
    }
    let rest = &line[level..];
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let text = rest.trim();
    let without_closing = text.trim_end_matches('#');
    let text =
        if without_closing.len() < text.len() && without_closing.ends_with(char::is_whitespace) {
            without_closing.trim()
        } else {
            text
        };
    Some((level, text.to_owned()))
}

/// A chunk's `content_headings`: its parent headings joined, within
/// [`MAX_CONTENT_HEADINGS_TOKENS`] (first → … → last, then cut with `…`), as LightRAG
/// shows them; `None` when the chunk has no parent heading.
pub fn content_headings(tokenizer: &Tokenizer, parents: &[String]) -> Option<String> {
    let parents: Vec<&str> = parents
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect();
    if parents.is_empty() {
        return None;
    }
    let max = MAX_CONTENT_HEADINGS_TOKENS;
    let mut path = parents.join(BREADCRUMB_SEPARATOR);
    if tokenizer.count(&path) <= max {
        return Some(path);
    }
    if parents.len() >= 3 {
        path = [parents[0], "…", parents[parents.len() - 1]].join(BREADCRUMB_SEPARATOR);
    }
    let tokens = tokenizer.encode(&path);
    if tokens.len() <= max {
        return Some(path);
    }
    let ellipsis = tokenizer.count("…");
    (0..=max.saturating_sub(ellipsis))
        .rev()
        .map(|keep| format!("{}…", tokenizer.decode(&tokens[..keep]).trim_end()))
        .find(|candidate| tokenizer.count(candidate) <= max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(outline: &Outline) -> Vec<(usize, &str, Vec<&str>)> {
        outline
            .headings
            .iter()
            .map(|h| {
                (
                    h.level,
                    h.text.as_str(),
                    h.parents.iter().map(String::as_str).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn atx_lines_outside_fences_are_headings() {
        let doc = "# Guide\nintro\n## Install ##\nsteps\n```sh\n# not a heading\n```\n### Linux\n#hashtag\n####### seven\n## Use\n~~~\n## fenced\n~~~~\n";
        let outline = Outline::of(doc);
        assert_eq!(
            texts(&outline),
            [
                (1, "Guide", vec![]),
                (2, "Install", vec!["Guide"]),
                (3, "Linux", vec!["Guide", "Install"]),
                (2, "Use", vec!["Guide"]),
            ]
        );
        assert_eq!(outline.headings[1].offset, doc.find("## Install").unwrap());
        assert_eq!(outline.at(0).unwrap().text, "Guide");
        assert_eq!(
            outline.at(doc.find("steps").unwrap()).unwrap().text,
            "Install"
        );
        assert!(Outline::of("text\n# later").at(0).is_none());
    }

    #[test]
    fn chunks_get_the_section_they_start_in() {
        let doc = "# A\none\n## B\ntwo\nthree";
        let mut chunks: Vec<Chunk> = ["# A\none", "one\n## B\ntwo", "three"]
            .iter()
            .enumerate()
            .map(|(order, c)| Chunk {
                tokens: 0,
                content: c.to_string(),
                order,
                heading: None,
            })
            .collect();
        Outline::of(doc).annotate(doc, &mut chunks);
        let got: Vec<(String, Vec<String>)> = chunks
            .iter()
            .map(|c| {
                let h = c.heading.clone().unwrap();
                (h.heading, h.parent_headings)
            })
            .collect();
        assert_eq!(
            got,
            [
                ("A".to_owned(), vec![]),
                ("A".to_owned(), vec![]),
                ("B".to_owned(), vec!["A".to_owned()]),
            ]
        );
    }

    #[test]
    fn content_headings_join_and_shorten_parents() {
        let t = Tokenizer::o200k();
        assert_eq!(content_headings(&t, &[]), None);
        assert_eq!(
            content_headings(&t, &["A".into(), "B".into()]).as_deref(),
            Some("A → B")
        );
        let long = "word ".repeat(300);
        let path = content_headings(&t, &["Top".into(), long.clone(), "Leaf".into()]).unwrap();
        assert_eq!(path, "Top → … → Leaf");
        let cut = content_headings(&t, &[long.repeat(2)]).unwrap();
        assert!(cut.ends_with('…') && t.count(&cut) <= MAX_CONTENT_HEADINGS_TOKENS);
    }
}
