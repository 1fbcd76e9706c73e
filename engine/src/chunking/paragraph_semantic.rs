//! LightRAG's `paragraph_semantic` strategy (`P`): chunks follow the document's
//! sections, never mixing the end of one heading's text with the next heading's unless
//! they nest. LightRAG runs it on the block sidecar of its native parsers; here the
//! sections come from the Markdown headings our parsers render ([`Outline`]):
//!
//! - each heading opens a section that runs to the next heading (text before the first
//!   heading is a section of its own);
//! - with `drop_references`, a section headed References, Bibliography or 参考文献
//!   (and its subsections) is left out;
//! - a section above `chunk_token_size` is cut by `recursive_character` with the
//!   strategy's overlap;
//! - a section under the ideal size (75 % of `chunk_token_size`, LightRAG's ratio)
//!   absorbs the sections that follow it while they are its subsections or siblings and
//!   the result fits `chunk_token_size`, so a heading never ends a chunk alone.
//!
//! A text without headings has no sections: like LightRAG without a sidecar, it is
//! chunked by `recursive_character`.

use super::headings::Outline;
use super::{
    Chunk, ParagraphSemantic, RecursiveCharacter, Tokenizer, numbered, recursive_character,
};

/// LightRAG's ideal-to-maximum ratio of a paragraph-semantic chunk.
const IDEAL_RATIO: f64 = 0.75;

/// LightRAG's default reference-section headings: English matched as a word at the
/// start, case-insensitively; Chinese as a prefix.
const REFERENCE_HEADINGS: &[&str] = &["references", "bibliography", "参考文献"];

#[derive(Debug, Clone)]
struct Section {
    start: usize,
    end: usize,
    level: usize,
    parents: Vec<String>,
    tokens: usize,
}

pub(super) fn chunk(
    tokenizer: &Tokenizer,
    content: &str,
    options: &ParagraphSemantic,
    outline: Option<&Outline>,
) -> Vec<Chunk> {
    let size = options.chunk_token_size;
    let fallback = RecursiveCharacter {
        chunk_token_size: size,
        overlap_token_size: options.overlap_token_size.min(size.saturating_sub(1)),
        separators: Vec::new(),
    };
    let Some(outline) = outline.filter(|o| !o.headings.is_empty()) else {
        tracing::debug!("paragraph_semantic: no headings, falling back to recursive_character");
        return recursive_character::chunk(tokenizer, content, &fallback);
    };
    let sections = sections(tokenizer, content, outline, options.drop_references);
    let ideal = ((size as f64 * IDEAL_RATIO) as usize).max(1);
    let mut texts: Vec<String> = Vec::new();
    let mut open: Option<Section> = None;
    for section in sections {
        if section.tokens > size {
            flush(content, &mut texts, open.take());
            let text = &content[section.start..section.end];
            texts.extend(
                recursive_character::chunk(tokenizer, text, &fallback)
                    .into_iter()
                    .map(|c| c.content),
            );
            continue;
        }
        open = Some(match open.take() {
            Some(prev) if absorbs(&prev, &section, ideal) => {
                let tokens = tokenizer.count(&content[prev.start..section.end]);
                if tokens <= size {
                    Section {
                        end: section.end,
                        tokens,
                        ..prev
                    }
                } else {
                    flush(content, &mut texts, Some(prev));
                    section
                }
            }
            prev => {
                flush(content, &mut texts, prev);
                section
            }
        });
    }
    flush(content, &mut texts, open);
    numbered(tokenizer, texts)
}

/// Whether `next` may join the chunk `prev` opened: `prev` is still small, the two are
/// adjacent in the text, and `next` is `prev`'s subsection or sibling.
fn absorbs(prev: &Section, next: &Section, ideal: usize) -> bool {
    prev.tokens < ideal
        && prev.end == next.start
        && (next.level > prev.level || (next.level == prev.level && next.parents == prev.parents))
}

fn flush(content: &str, texts: &mut Vec<String>, section: Option<Section>) {
    if let Some(s) = section {
        texts.push(content[s.start..s.end].to_owned());
    }
}

fn sections(
    tokenizer: &Tokenizer,
    content: &str,
    outline: &Outline,
    drop_references: bool,
) -> Vec<Section> {
    let mut bounds: Vec<(usize, usize, Vec<String>, bool)> = Vec::new();
    let first = outline.headings[0].offset;
    if !content[..first].trim().is_empty() {
        bounds.push((0, 0, Vec::new(), false));
    }
    for h in &outline.headings {
        bounds.push((h.offset, h.level, h.parents.clone(), is_reference(&h.text)));
    }
    let mut out = Vec::new();
    let mut dropping: Option<usize> = None;
    for (i, (start, level, parents, reference)) in bounds.iter().enumerate() {
        let end = bounds.get(i + 1).map_or(content.len(), |b| b.0);
        if dropping.is_some_and(|l| *level > l) {
            continue;
        }
        dropping = None;
        if drop_references && *reference {
            dropping = Some(*level);
            continue;
        }
        let text = &content[*start..end];
        if text.trim().is_empty() {
            continue;
        }
        out.push(Section {
            start: *start,
            end,
            level: *level,
            parents: parents.clone(),
            tokens: tokenizer.count(text),
        });
    }
    out
}

fn is_reference(heading: &str) -> bool {
    let lower = heading.trim().to_lowercase();
    REFERENCE_HEADINGS.iter().any(|r| {
        lower.strip_prefix(r).is_some_and(|rest| {
            !r.is_ascii() || !rest.starts_with(|c: char| c.is_alphanumeric() || c == '_')
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(size: usize, drop_references: bool) -> ParagraphSemantic {
        ParagraphSemantic {
            chunk_token_size: size,
            overlap_token_size: 0,
            drop_references,
        }
    }

    fn run(text: &str, o: &ParagraphSemantic) -> Vec<String> {
        let t = Tokenizer::o200k();
        chunk(&t, text, o, Some(&Outline::of(text)))
            .into_iter()
            .map(|c| c.content)
            .collect()
    }

    const DOC: &str = "# Guide\nShort intro.\n## Install\nRun the installer and follow every step it shows until it is done.\n## Use\nOpen the app.\n# Appendix\nExtra notes.\n## References\n[1] A paper.\n### Older\n[2] Another.\n";

    #[test]
    fn small_sections_join_their_subsections_and_siblings_but_not_a_shallower_one() {
        assert_eq!(run(DOC, &options(2000, false)), [DOC.trim()]);
        let doc = "## Deep\nlow text\n# Top\nhigh text";
        assert_eq!(
            run(doc, &options(2000, false)),
            ["## Deep\nlow text", "# Top\nhigh text"]
        );
    }

    #[test]
    fn sections_stay_apart_once_the_ideal_size_is_reached_and_references_can_go() {
        let t = Tokenizer::o200k();
        let guide = "# Guide\nShort intro.\n## Install\nRun the installer and follow every step it shows until it is done.\n";
        // A size whose ideal (75 %) the first two sections reach: "## Use" starts anew.
        let size = t.count(guide) + 2;
        let chunks = run(DOC, &options(size, true));
        assert_eq!(
            chunks,
            [
                guide.trim(),
                "## Use\nOpen the app.",
                "# Appendix\nExtra notes."
            ]
        );
        assert!(
            is_reference("References")
                && is_reference("参考文献列表")
                && is_reference("Bibliography:")
        );
        assert!(!is_reference("Referenced work"));
    }

    #[test]
    fn oversized_sections_are_cut_and_plain_text_falls_back() {
        let long = format!("# Big\n{}", "word ".repeat(60));
        let chunks = run(&long, &options(20, false));
        assert!(chunks.len() >= 3, "{chunks:?}");
        assert!(chunks[0].starts_with("# Big"));
        let t = Tokenizer::o200k();
        let plain = chunk(&t, "no headings here", &options(20, false), None);
        assert_eq!(plain[0].content, "no headings here");
    }
}
