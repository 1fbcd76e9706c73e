//! Extractive text work for the builtin model: summaries made of the source sentences
//! themselves, and replies made of the sentences that best match the question.

use std::collections::HashSet;

use super::builtin::{STOPWORDS, is_cjk, sentences};
use super::{Message, Role};

/// What the builtin model says when nothing it was given matches the question.
pub const NOTHING_MATCHES: &str =
    "I could not find anything about this in the information I was given.";
/// Sentences in a builtin reply.
const REPLY_SENTENCES: usize = 3;

/// Lower-cased content words of a text; CJK text, written without spaces, counts by
/// its character pairs.
pub fn content_words(text: &str) -> HashSet<String> {
    let mut words = HashSet::new();
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if word.chars().any(is_cjk) {
            let chars: Vec<char> = word.chars().collect();
            if chars.len() == 1 {
                words.insert(word.to_owned());
            }
            words.extend(chars.windows(2).map(|pair| pair.iter().collect::<String>()));
            continue;
        }
        let word = word.to_lowercase();
        if !STOPWORDS.contains(&word.as_str()) {
            words.insert(word);
        }
    }
    words
}

/// The distinct sentences of `descriptions`, in order, up to `max_chars`.
pub fn summarize(descriptions: &[String], max_chars: usize) -> String {
    let mut seen = HashSet::new();
    let mut out = String::new();
    for sentence in descriptions.iter().flat_map(|d| sentences(d)) {
        if !seen.insert(sentence.to_lowercase()) {
            continue;
        }
        if !out.is_empty() && out.len() + sentence.len() + 1 > max_chars {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(sentence);
    }
    out
}

/// The sentences of `sources` sharing most content words with `question`, in their
/// original order; `None` when none shares any.
pub fn best_sentences<'s>(question: &str, sources: &[&'s str], limit: usize) -> Vec<&'s str> {
    let wanted = content_words(question);
    let mut scored: Vec<(usize, usize, &str)> = sources
        .iter()
        .flat_map(|s| sentences(s))
        .enumerate()
        .map(|(i, s)| (content_words(s).intersection(&wanted).count(), i, s))
        .filter(|(score, _, _)| *score > 0)
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.truncate(limit);
    scored.sort_by_key(|(_, i, _)| *i);
    let mut seen = HashSet::new();
    scored
        .into_iter()
        .map(|(_, _, s)| s)
        .filter(|s| seen.insert(*s))
        .collect()
}

/// What the builtin model says when the context does not answer the question.
pub const NOT_IN_CONTEXT: &str =
    "I do not have enough information to answer this question from the provided context.";
/// Citations in a builtin answer's references section (LightRAG's prompt asks for 5).
const MAX_CITATIONS: usize = 5;

/// The document chunks and the reference list of a LightRAG answer prompt.
struct PromptContext {
    /// `(reference_id, content)`
    chunks: Vec<(String, String)>,
    /// `(reference_id, file_path)`
    references: Vec<(String, String)>,
}

fn prompt_context(system: &str) -> Option<PromptContext> {
    let (_, context) = system.split_once(super::prompts::CONTEXT_HEADER)?;
    let mut out = PromptContext {
        chunks: Vec::new(),
        references: Vec::new(),
    };
    let mut section = "";
    for line in context.lines().map(str::trim) {
        if line.starts_with("Document Chunks") {
            section = "chunks";
        } else if line.starts_with("Reference Document List") {
            section = "references";
        } else if line.starts_with("Knowledge Graph Data") {
            section = "graph";
        } else if section == "chunks" && line.starts_with('{') {
            if let Ok(chunk) = serde_json::from_str::<serde_json::Value>(line) {
                let field = |k: &str| chunk[k].as_str().unwrap_or_default().to_owned();
                out.chunks.push((field("reference_id"), field("content")));
            }
        } else if section == "references"
            && let Some((id, path)) = line.strip_prefix('[').and_then(|l| l.split_once("] "))
        {
            out.references.push((id.to_owned(), path.to_owned()));
        }
    }
    Some(out)
}

/// An answer from the context of a LightRAG answer prompt: the context sentences that
/// best match the question, each cited `[n]`, then a `### References` section. `None`
/// when `system` is not such a prompt.
pub fn answer_from_prompt(system: &str, question: &str) -> Option<String> {
    let context = prompt_context(system)?;
    let wanted = content_words(question);
    let mut scored: Vec<(usize, usize, &str, &str)> = Vec::new();
    for (reference, content) in &context.chunks {
        for sentence in sentences(content) {
            let score = content_words(sentence).intersection(&wanted).count();
            if score > 0 && !scored.iter().any(|(_, _, s, _)| *s == sentence) {
                scored.push((score, scored.len(), sentence, reference));
            }
        }
    }
    // Best matches first; sentences matching less than half as well as the best are
    // left out.
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let best = scored.first().map_or(0, |s| s.0);
    scored.retain(|s| s.0 * 2 > best);
    scored.truncate(REPLY_SENTENCES);
    if scored.is_empty() {
        return Some(NOT_IN_CONTEXT.to_owned());
    }
    let mut cited: Vec<&str> = Vec::new();
    let body = scored
        .iter()
        .map(|(_, _, sentence, reference)| {
            if reference.is_empty() {
                return sentence.to_string();
            }
            if !cited.contains(reference) {
                cited.push(reference);
            }
            format!("{sentence} [{reference}]")
        })
        .collect::<Vec<_>>()
        .join(" ");
    let citations: Vec<String> = cited
        .iter()
        .filter_map(|id| context.references.iter().find(|(r, _)| r == id))
        .take(MAX_CITATIONS)
        .map(|(id, path)| format!("- [{id}] {path}"))
        .collect();
    if citations.is_empty() {
        return Some(body);
    }
    Some(format!(
        "{body}\n\n### References\n\n{}",
        citations.join("\n")
    ))
}

/// A reply to the last user message: from the context when the system message is a
/// LightRAG answer prompt, otherwise from the sentences of the other messages.
pub fn reply(messages: &[Message]) -> String {
    let Some(question) = messages.iter().rev().find(|m| m.role == Role::User) else {
        return NOTHING_MATCHES.to_owned();
    };
    if let Some(answer) = messages
        .iter()
        .find(|m| m.role == Role::System)
        .and_then(|system| answer_from_prompt(&system.content, &question.content))
    {
        return answer;
    }
    let sources: Vec<&str> = messages
        .iter()
        .filter(|m| !std::ptr::eq(*m, question))
        .map(|m| m.content.as_str())
        .collect();
    let best = best_sentences(&question.content, &sources, REPLY_SENTENCES);
    if best.is_empty() {
        NOTHING_MATCHES.to_owned()
    } else {
        best.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_drop_repeated_sentences_and_respect_the_length() {
        let d = vec![
            "Ada wrote programs. Ada met Babbage.".to_owned(),
            "ada wrote programs. Ada lived in London.".to_owned(),
        ];
        assert_eq!(
            summarize(&d, 1000),
            "Ada wrote programs. Ada met Babbage. Ada lived in London."
        );
        assert_eq!(summarize(&d, 40), "Ada wrote programs. Ada met Babbage.");
    }

    #[test]
    fn answers_from_a_lightrag_prompt_cite_their_sources() {
        let context = super::super::prompts::render(
            super::super::prompts::NAIVE_QUERY_CONTEXT,
            &[
                (
                    "text_chunks_str",
                    r#"{"reference_id": "1", "content": "Paris is the capital of France. It has the Louvre."}
{"reference_id": "2", "content": "Berlin is the capital of Germany."}"#,
                ),
                ("reference_list_str", "[1] france.txt\n[2] germany.txt"),
            ],
        );
        let system = format!("Instructions.\n---Context---\n\n{context}");
        let messages = vec![
            Message::new(Role::System, system.clone()),
            Message::new(Role::User, "What is the capital of Germany?"),
        ];
        let answer = reply(&messages);
        assert_eq!(
            answer,
            "Berlin is the capital of Germany. [2]\n\n### References\n\n- [2] germany.txt"
        );
        assert_eq!(
            answer_from_prompt(&system, "quantum chromodynamics").unwrap(),
            NOT_IN_CONTEXT
        );
        assert_eq!(answer_from_prompt("no context here", "x"), None);
    }

    #[test]
    fn cjk_text_matches_by_character_pairs() {
        let sources = ["孙悟空是花果山的美猴王。孙悟空拜菩提祖师为师，学会了七十二变。"];
        assert_eq!(
            best_sentences("孙悟空学会了什么本领？", &sources, 1),
            ["孙悟空拜菩提祖师为师，学会了七十二变。"]
        );
    }

    #[test]
    fn replies_pick_matching_sentences_in_order() {
        let messages = vec![
            Message::new(
                Role::System,
                "Paris is in France. Berlin is in Germany. Rome is old.",
            ),
            Message::new(Role::User, "Where is Berlin?"),
        ];
        assert_eq!(reply(&messages), "Berlin is in Germany.");
        let nothing = vec![Message::new(Role::User, "Quantum chromodynamics?")];
        assert_eq!(reply(&nothing), NOTHING_MATCHES);
    }
}
