//! Extractive text work for the builtin model: summaries made of the source sentences
//! themselves, and replies made of the sentences that best match the question.

use std::collections::HashSet;

use super::builtin::{STOPWORDS, sentences};
use super::{Message, Role};

/// What the builtin model says when nothing it was given matches the question.
pub const NOTHING_MATCHES: &str =
    "I could not find anything about this in the information I was given.";
/// Sentences in a builtin reply.
const REPLY_SENTENCES: usize = 3;

/// Lower-cased content words of a text.
pub fn content_words(text: &str) -> HashSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| !STOPWORDS.contains(&w.as_str()))
        .collect()
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

/// A reply to the last user message from the sentences of the other messages.
pub fn reply(messages: &[Message]) -> String {
    let Some(question) = messages.iter().rev().find(|m| m.role == Role::User) else {
        return NOTHING_MATCHES.to_owned();
    };
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
