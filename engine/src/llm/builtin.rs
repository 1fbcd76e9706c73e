//! The builtin extractor: entities are capitalised and multi-word names, acronyms,
//! quoted terms and CJK character n-grams that recur; a relation joins two entities
//! named in the same sentence, described by that sentence. Deterministic: the same
//! text always gives the same graph.

use std::collections::{BTreeMap, HashSet};

use crate::extraction::{ExtractedEntity, ExtractedRelation, Extraction};

/// LightRAG's default ENTITY_TYPES.
pub const DEFAULT_ENTITY_TYPES: &[&str] = &[
    "person",
    "creature",
    "organization",
    "location",
    "event",
    "concept",
    "method",
    "content",
    "data",
    "artifact",
    "naturalobject",
];
const MAX_DESCRIPTION_CHARS: usize = 400;
const MAX_ENTITIES_PER_SENTENCE: usize = 12;
const MAX_CJK_TERMS: usize = 24;

const SENTENCE_STARTERS: &[&str] = &[
    "The", "A", "An", "This", "That", "These", "Those", "It", "He", "She", "They", "We", "I",
    "You", "In", "On", "At", "For", "But", "And", "Or", "If", "When", "While", "After", "Before",
    "As", "By", "With", "From", "To", "Of", "Our", "Their", "His", "Her", "Its", "There", "Here",
    "Then", "So", "However", "Also", "Some", "Many", "Most", "All", "Each", "Every", "No", "Not",
    "Yes", "What", "Who", "Why", "How",
];
pub(crate) const STOPWORDS: &[&str] = &[
    "the", "a", "an", "and", "or", "of", "to", "in", "on", "at", "for", "by", "with", "from", "is",
    "are", "was", "were", "be", "been", "it", "its", "that", "this", "as", "has", "have", "had",
    "which", "who", "their", "his", "her", "they", "he", "she", "not", "but", "also", "into",
    "than", "then", "there", "these", "those", "did", "does", "do", "about", "can", "could",
    "would", "should", "will", "may", "might", "must", "how", "what", "when", "where", "why",
    "tell", "me", "please", "some", "any", "them", "you", "your", "our", "we", "us", "my",
];
const ORG_WORDS: &[&str] = &[
    "Inc",
    "Corp",
    "Corporation",
    "Company",
    "Co",
    "Ltd",
    "LLC",
    "GmbH",
    "University",
    "Institute",
    "Foundation",
    "Agency",
    "Bank",
    "Group",
    "Association",
    "Council",
    "Ministry",
    "Department",
    "Laboratory",
    "Labs",
    "College",
    "School",
];
const PLACE_PREPOSITIONS: &[&str] = &["in", "at", "near", "from", "to", "across"];

pub(crate) fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4dbf | 0x4e00..=0x9fff | 0xf900..=0xfaff)
}

/// Sentences, split at terminal punctuation and line breaks.
pub(crate) fn sentences(text: &str) -> Vec<&str> {
    text.split_inclusive(['.', '!', '?', '。', '！', '？', '\n'])
        .map(str::trim)
        .filter(|s| s.chars().any(char::is_alphanumeric))
        .collect()
}

fn is_capitalised(word: &str) -> bool {
    let mut chars = word.chars();
    chars.next().is_some_and(char::is_uppercase)
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '-' | '&' | '.'))
}

fn is_acronym(word: &str) -> bool {
    (2..=10).contains(&word.chars().count())
        && word.chars().filter(|c| c.is_ascii_uppercase()).count() >= 2
        && word
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// A name found in a sentence, with the word before it (for typing).
struct Mention {
    name: String,
    previous: Option<String>,
}

/// Lowercase words that may sit inside a name.
const NAME_PARTICLES: &[&str] = &[
    "of", "van", "von", "de", "der", "den", "da", "di", "du", "del", "la", "le",
];

/// Punctuation that separates words even without a space, and ends a name.
const WORD_BREAKS: &[char] = &[
    ',', ';', ':', '<', '>', '(', ')', '[', ']', '{', '}', '"', '/', '|', '=',
];

/// The words of a sentence, trimmed of punctuation; an empty word stands where a
/// separator (`,`, markup, brackets ...) breaks a run of names.
fn words(sentence: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for token in sentence.split_whitespace() {
        for (i, piece) in token.split(WORD_BREAKS).enumerate() {
            if i > 0 {
                out.push("");
            }
            out.push(piece.trim_matches(|c: char| !c.is_alphanumeric() && c != '&'));
        }
    }
    out
}

fn capitalised_runs(sentence: &str) -> Vec<Mention> {
    let words = words(sentence);
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        if !is_capitalised(words[i]) || words[i].chars().any(is_cjk) {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i + 1;
        // "Bank of America", "Guido van Rossum": a lowercase particle inside a run.
        while end < words.len()
            && (is_capitalised(words[end])
                || (NAME_PARTICLES.contains(&words[end])
                    && words.get(end + 1).is_some_and(|w| is_capitalised(w))))
        {
            end += 1;
        }
        let mut run = &words[start..end];
        if run.first().is_some_and(|w| SENTENCE_STARTERS.contains(w)) {
            run = &run[1..];
        }
        if !run.is_empty() {
            out.push(Mention {
                name: run.join(" "),
                previous: (start > 0).then(|| words[start - 1].to_lowercase()),
            });
        }
        i = end;
    }
    out
}

fn quoted_terms(sentence: &str) -> Vec<Mention> {
    let mut out = Vec::new();
    for (open, close) in [('"', '"'), ('“', '”'), ('「', '」')] {
        let mut rest = sentence;
        while let Some(start) = rest.find(open) {
            let after = &rest[start + open.len_utf8()..];
            let Some(end) = after.find(close) else { break };
            let term = after[..end].trim();
            if (2..=60).contains(&term.chars().count()) {
                out.push(Mention {
                    name: term.to_owned(),
                    previous: None,
                });
            }
            rest = &after[end + close.len_utf8()..];
        }
    }
    out
}

/// CJK terms: 2-4 character runs that occur at least twice, longest first, without the
/// shorter runs they contain at the same frequency.
fn cjk_terms(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for n in 2..=4 {
        for window in chars.windows(n).filter(|w| w.iter().all(|c| is_cjk(*c))) {
            *counts.entry(window.iter().collect()).or_default() += 1;
        }
    }
    let mut frequent: Vec<(String, usize)> = counts.into_iter().filter(|(_, c)| *c >= 2).collect();
    frequent.sort_by(|a, b| {
        b.0.chars()
            .count()
            .cmp(&a.0.chars().count())
            .then(b.1.cmp(&a.1))
            .then(a.0.cmp(&b.0))
    });
    let mut kept: Vec<(String, usize)> = Vec::new();
    for (term, count) in frequent {
        if !kept.iter().any(|(k, c)| k.contains(&term) && *c >= count) {
            kept.push((term, count));
        }
    }
    kept.into_iter()
        .take(MAX_CJK_TERMS)
        .map(|(t, _)| t)
        .collect()
}

fn entity_type(mention: &Mention, types: &[String]) -> String {
    let words: Vec<&str> = mention.name.split(' ').collect();
    let guess = if words
        .iter()
        .any(|w| ORG_WORDS.contains(&w.trim_end_matches('.')))
        || is_acronym(&mention.name)
    {
        "organization"
    } else if mention
        .previous
        .as_deref()
        .is_some_and(|p| PLACE_PREPOSITIONS.contains(&p))
    {
        "location"
    } else if (2..=3).contains(&words.len())
        && words
            .iter()
            .all(|w| is_capitalised(w) && w.chars().all(char::is_alphabetic))
    {
        "person"
    } else {
        "concept"
    };
    if types.iter().any(|t| t == guess) {
        guess.to_owned()
    } else {
        "other".to_owned()
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(MAX_DESCRIPTION_CHARS).collect()
}

fn keywords(sentence: &str, names: &[&str]) -> String {
    let named: HashSet<String> = names
        .iter()
        .flat_map(|n| n.split(' ').map(str::to_lowercase))
        .collect();
    let mut seen = HashSet::new();
    sentence
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|w| w.chars().count() > 2 && !STOPWORDS.contains(&w.as_str()) && !named.contains(w))
        .filter(|w| seen.insert(w.clone()))
        .take(3)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Extracts entities and relations from `text`; `entity_types` as configured.
pub fn extract(text: &str, entity_types: &[String]) -> Extraction {
    let cjk = cjk_terms(text);
    let mut out = Extraction::default();
    let mut known: HashSet<String> = HashSet::new();
    let mut related: HashSet<(String, String)> = HashSet::new();
    for sentence in sentences(text) {
        let mut mentions = capitalised_runs(sentence);
        mentions.extend(quoted_terms(sentence));
        mentions.extend(
            cjk.iter()
                .filter(|t| sentence.contains(t.as_str()))
                .map(|t| Mention {
                    name: t.clone(),
                    previous: None,
                }),
        );
        let mut names: Vec<String> = Vec::new();
        for mention in mentions {
            if names.contains(&mention.name) || names.len() >= MAX_ENTITIES_PER_SENTENCE {
                continue;
            }
            if known.insert(mention.name.clone()) {
                out.entities.push(ExtractedEntity {
                    entity_type: entity_type(&mention, entity_types),
                    name: mention.name.clone(),
                    description: truncate(sentence),
                });
            }
            names.push(mention.name);
        }
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        for (i, a) in names.iter().enumerate() {
            for b in &names[i + 1..] {
                let key = if a <= b {
                    (a.clone(), b.clone())
                } else {
                    (b.clone(), a.clone())
                };
                if related.insert(key) {
                    out.relations.push(ExtractedRelation {
                        source: a.clone(),
                        target: b.clone(),
                        keywords: keywords(sentence, &refs),
                        description: truncate(sentence),
                    });
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_keywords_split_names_from_themes() {
        let k = keywords_of("What did Marie Curie discover about radioactivity?");
        assert_eq!(k.low_level, ["Marie Curie"]);
        assert_eq!(
            k.high_level,
            ["marie", "curie", "discover", "radioactivity"]
        );
        let k = keywords_of("how do rockets reach orbit");
        assert_eq!(k.low_level, k.high_level);
        assert_eq!(k.high_level, ["rockets", "reach", "orbit"]);
    }

    #[test]
    fn separators_split_and_end_names() {
        let names =
            |s: &str| -> Vec<String> { capitalised_runs(s).into_iter().map(|m| m.name).collect() };
        assert_eq!(
            names("<item>Linus Torvalds wrote Linux</item>"),
            ["Linus Torvalds", "Linux"]
        );
        assert_eq!(
            names("Alan Kay,Smalltalk at Xerox PARC"),
            ["Alan Kay", "Smalltalk", "Xerox PARC"]
        );
        assert_eq!(
            names("# Guido van Rossum created Python at CWI."),
            ["Guido van Rossum", "Python", "CWI"]
        );
    }

    fn types() -> Vec<String> {
        DEFAULT_ENTITY_TYPES.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn finds_names_acronyms_places_and_relations() {
        let text = "Elon Musk founded SpaceX in Hawthorne. NASA awarded SpaceX a launch contract. \
                    The Bank of America financed \"reusable rockets\".";
        let x = extract(text, &types());
        let find = |n: &str| {
            x.entities
                .iter()
                .find(|e| e.name == n)
                .unwrap_or_else(|| panic!("{n}: {:?}", x.entities))
        };
        assert_eq!(find("Elon Musk").entity_type, "person");
        assert_eq!(find("NASA").entity_type, "organization");
        assert_eq!(find("Hawthorne").entity_type, "location");
        assert_eq!(find("Bank of America").entity_type, "organization");
        assert_eq!(find("reusable rockets").entity_type, "concept");
        assert_eq!(
            find("SpaceX").description,
            "Elon Musk founded SpaceX in Hawthorne."
        );
        assert!(!x.entities.iter().any(|e| e.name == "The"));
        let pair = |a: &str, b: &str| {
            x.relations
                .iter()
                .any(|r| (r.source == a && r.target == b) || (r.source == b && r.target == a))
        };
        assert!(pair("Elon Musk", "SpaceX"));
        assert!(pair("NASA", "SpaceX"));
        assert!(!pair("NASA", "Elon Musk"), "different sentences");
        let r = x.relations.iter().find(|r| r.source == "NASA").unwrap();
        assert!(r.keywords.contains("awarded"), "{}", r.keywords);
        assert_eq!(x, extract(text, &types()), "deterministic");
    }

    #[test]
    fn cjk_terms_recur() {
        let text = "知识图谱是一种结构。知识图谱用于检索增强生成。检索增强生成很有用。";
        let x = extract(text, &types());
        let names: Vec<&str> = x.entities.iter().map(|e| e.name.as_str()).collect();
        assert!(names.contains(&"知识图谱"), "{names:?}");
        assert!(names.contains(&"检索增强"), "{names:?}");
        assert!(
            x.relations
                .iter()
                .any(|r| r.source == "知识图谱" || r.target == "知识图谱")
        );
    }

    #[test]
    fn answers_parse_back_through_the_record_format() {
        let x = extract(
            "Ada Lovelace worked with Charles Babbage in London.",
            &types(),
        );
        let answer = crate::extraction::format(&x);
        let parsed = crate::extraction::parse(&answer);
        assert_eq!(parsed.entities, x.entities);
        assert_eq!(parsed.relations.len(), x.relations.len());
        assert_eq!(parsed.skipped, 0);
        assert!(extract("", &types()).entities.is_empty());
        assert!(
            extract("no names here at all.", &types())
                .relations
                .is_empty()
        );
    }
}

/// The builtin model behind [`LanguageModel`](super::LanguageModel): the extractor above,
/// extractive summaries and extractive replies.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuiltinModel;

/// Characters per token, roughly, for turning token budgets into text lengths.
const CHARS_PER_TOKEN: usize = 4;

impl super::LanguageModel for BuiltinModel {
    fn extract<'a>(
        &'a self,
        chunk: &'a str,
        // Background only: entities come from the chunk's own text, as LightRAG asks.
        _section: Option<&'a str>,
        settings: &'a super::ExtractionSettings,
    ) -> super::BoxFuture<'a, Result<String, super::ModelError>> {
        Box::pin(async move {
            Ok(crate::extraction::format(&extract(
                chunk,
                &settings.entity_types,
            )))
        })
    }

    fn summarize<'a>(
        &'a self,
        request: super::SummaryRequest<'a>,
    ) -> super::BoxFuture<'a, Result<String, super::ModelError>> {
        Box::pin(async move {
            Ok(super::extractive::summarize(
                request.descriptions,
                request.length * CHARS_PER_TOKEN,
            ))
        })
    }

    fn keywords<'a>(
        &'a self,
        query: &'a str,
        _language: &'a str,
    ) -> super::BoxFuture<'a, Result<super::Keywords, super::ModelError>> {
        Box::pin(async move { Ok(keywords_of(query)) })
    }

    fn chat(
        &self,
        messages: Vec<super::Message>,
    ) -> super::BoxFuture<'_, Result<super::TextStream, super::ModelError>> {
        Box::pin(async move { Ok(super::once(super::extractive::reply(&messages))) })
    }
}

/// Theme words kept as high-level keywords.
const MAX_THEMES: usize = 8;

/// A query's keywords: the names in it are low-level; all its content words, names
/// included, are the high-level themes (matched against relation descriptions, which
/// name their entities). A query naming nothing uses its themes for both.
pub fn keywords_of(query: &str) -> super::Keywords {
    let mut low: Vec<String> = Vec::new();
    for sentence in sentences(query) {
        let mut mentions = capitalised_runs(sentence);
        mentions.extend(quoted_terms(sentence));
        for m in mentions {
            if !low.contains(&m.name) {
                low.push(m.name);
            }
        }
    }
    let mut high: Vec<String> = Vec::new();
    for word in query
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
    {
        let question_word = SENTENCE_STARTERS
            .iter()
            .any(|s| s.eq_ignore_ascii_case(&word));
        if word.chars().count() > 2
            && !STOPWORDS.contains(&word.as_str())
            && !question_word
            && !high.contains(&word)
        {
            high.push(word);
        }
    }
    high.truncate(MAX_THEMES);
    if low.is_empty() {
        low = high.clone();
    }
    super::Keywords {
        high_level: high,
        low_level: low,
    }
}
