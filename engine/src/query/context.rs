//! The context an answer is made from: entities, relations and chunks cut to their
//! token budgets (MAX_ENTITY_TOKENS, MAX_RELATION_TOKENS, and what MAX_TOTAL_TOKENS
//! leaves for chunks once the prompt, the graph data and the query are counted), the
//! reference list, and LightRAG's answer prompt around them.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Serialize;

use super::line_tokens;
use super::{
    ChunkRow, EntityRow, Mode, ProcessingInfo, QueryParams, Reference, RelationRow, Retrieval,
};
use crate::chunking::Tokenizer;
use crate::llm::prompts::render;
use crate::llm::templates::{Template, get};
use crate::llm::{Keywords, Message, Role};
use crate::storage::graph::GRAPH_FIELD_SEP;

/// Files without a real name are never cited.
const UNKNOWN_SOURCE: &str = "unknown_source";
/// Tokens kept free of the total budget for the model's own formatting.
const TOTAL_BUFFER: usize = 200;

/// The context's lines, serialised from borrowed fields (the rows' texts are not
/// copied into a JSON value first); the field order is the lines' key order.
#[derive(Serialize)]
struct EntityLine<'a> {
    entity: &'a str,
    #[serde(rename = "type")]
    entity_type: &'a str,
    description: &'a str,
}

#[derive(Serialize)]
struct RelationLine<'a> {
    entity1: &'a str,
    entity2: &'a str,
    description: &'a str,
}

#[derive(Serialize)]
struct ChunkLine<'a> {
    reference_id: &'a str,
    content: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_headings: Option<&'a str>,
}

fn line(row: &impl Serialize) -> String {
    serde_json::to_string(row).unwrap_or_default()
}

fn entity_line(e: &EntityRow) -> String {
    line(&EntityLine {
        entity: &e.entity_name,
        entity_type: &e.entity_type,
        description: &e.description,
    })
}

fn relation_line(r: &RelationRow) -> String {
    line(&RelationLine {
        entity1: &r.src_id,
        entity2: &r.tgt_id,
        description: &r.description,
    })
}

fn chunk_line(c: &ChunkRow) -> String {
    line(&ChunkLine {
        reference_id: &c.reference_id,
        content: &c.content,
        content_headings: c.content_headings.as_deref(),
    })
}

/// A row of the context: its JSON line and its cached token count.
pub(super) trait Line {
    fn line(&self) -> String;
    fn tokens(&mut self) -> &mut usize;
}

impl Line for EntityRow {
    fn line(&self) -> String {
        entity_line(self)
    }
    fn tokens(&mut self) -> &mut usize {
        &mut self.tokens
    }
}

impl Line for RelationRow {
    fn line(&self) -> String {
        relation_line(self)
    }
    fn tokens(&mut self) -> &mut usize {
        &mut self.tokens
    }
}

impl Line for ChunkRow {
    fn line(&self) -> String {
        chunk_line(self)
    }
    fn tokens(&mut self) -> &mut usize {
        &mut self.tokens
    }
}

/// The tokens a row's line takes in the context (with its newline), counted once.
pub(super) fn tokens_of<T: Line>(tokenizer: &Tokenizer, item: &mut T) -> usize {
    if *item.tokens() == 0 {
        *item.tokens() = line_tokens::count(tokenizer, &item.line()) + 1;
    }
    *item.tokens()
}

/// The longest prefix of `items` whose lines fit in `budget` tokens.
fn within<T: Line>(tokenizer: &Tokenizer, items: Vec<T>, budget: usize) -> Vec<T> {
    let mut used = 0;
    let mut kept = Vec::with_capacity(items.len());
    for mut item in items {
        used += tokens_of(tokenizer, &mut item);
        if used > budget {
            break;
        }
        kept.push(item);
    }
    kept
}

pub(super) fn truncate_graph(
    tokenizer: &Tokenizer,
    params: &QueryParams,
    entities: Vec<EntityRow>,
    relations: Vec<RelationRow>,
) -> (Vec<EntityRow>, Vec<RelationRow>) {
    (
        within(tokenizer, entities, params.max_entity_tokens),
        within(tokenizer, relations, params.max_relation_tokens),
    )
}

/// Files cited by the chunks, the most-cited first (ties: first cited first), numbered
/// from 1.
fn references(chunks: &[ChunkRow]) -> Vec<Reference> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for chunk in chunks {
        let path = chunk.file_path.as_str();
        if path.is_empty() || path == UNKNOWN_SOURCE {
            continue;
        }
        match counts.iter_mut().find(|(p, _)| p == path) {
            Some((_, n)) => *n += 1,
            None => counts.push((path.to_owned(), 1)),
        }
    }
    // A stable sort keeps first appearance among equal counts.
    counts.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    counts
        .into_iter()
        .enumerate()
        .map(|(i, (file_path, _))| Reference {
            reference_id: (i + 1).to_string(),
            file_path,
        })
        .collect()
}

/// Tokens of the answer template, counted once per process.
fn template_tokens(tokenizer: &Tokenizer, mode: Mode) -> usize {
    static KG: OnceLock<usize> = OnceLock::new();
    static NAIVE: OnceLock<usize> = OnceLock::new();
    if mode == Mode::Naive {
        *NAIVE.get_or_init(|| tokenizer.count(get(Template::NaiveRagResponse)))
    } else {
        *KG.get_or_init(|| tokenizer.count(get(Template::RagResponse)))
    }
}

pub(super) fn finish(
    tokenizer: &Tokenizer,
    params: &QueryParams,
    keywords: Keywords,
    mut entities: Vec<EntityRow>,
    mut relations: Vec<RelationRow>,
    chunks: Vec<ChunkRow>,
    (total_entities, total_relations, total_chunks): (usize, usize, usize),
) -> Retrieval {
    let fixed = template_tokens(tokenizer, params.mode)
        + tokenizer.count(&params.query)
        + tokenizer.count(&params.user_prompt)
        + entities
            .iter_mut()
            .map(|e| tokens_of(tokenizer, e))
            .sum::<usize>()
        + relations
            .iter_mut()
            .map(|r| tokens_of(tokenizer, r))
            .sum::<usize>();
    let budget = params.max_total_tokens.saturating_sub(fixed + TOTAL_BUFFER);
    let mut chunks = within(tokenizer, chunks, budget);
    let references = references(&chunks);
    let ids: HashMap<&str, &str> = references
        .iter()
        .map(|r| (r.file_path.as_str(), r.reference_id.as_str()))
        .collect();
    let cite = |file_path: &str| -> String {
        file_path
            .split(GRAPH_FIELD_SEP)
            .find_map(|f| ids.get(f))
            .map(|id| id.to_string())
            .unwrap_or_default()
    };
    for chunk in &mut chunks {
        chunk.reference_id = cite(&chunk.file_path);
    }
    for entity in &mut entities {
        entity.reference_id = cite(&entity.file_path);
    }
    for relation in &mut relations {
        relation.reference_id = cite(&relation.file_path);
    }
    Retrieval {
        info: ProcessingInfo {
            total_entities_found: total_entities,
            total_relations_found: total_relations,
            entities_after_truncation: entities.len(),
            relations_after_truncation: relations.len(),
            total_chunks_found: total_chunks,
            final_chunks_count: chunks.len(),
        },
        keywords,
        entities,
        relations,
        chunks,
        references,
    }
}

/// The context section of the answer prompt.
pub fn render_context(mode: Mode, retrieval: &Retrieval) -> String {
    let lines = |lines: Vec<String>| lines.join("\n");
    let chunks = lines(retrieval.chunks.iter().map(chunk_line).collect());
    let references = lines(
        retrieval
            .references
            .iter()
            .map(|r| format!("[{}] {}", r.reference_id, r.file_path))
            .collect(),
    );
    if mode == Mode::Naive {
        return render(
            get(Template::NaiveQueryContext),
            &[
                ("reference_list_str", &references),
                ("text_chunks_str", &chunks),
            ],
        );
    }
    render(
        get(Template::KgQueryContext),
        &[
            ("reference_list_str", &references),
            (
                "entities_str",
                &lines(retrieval.entities.iter().map(entity_line).collect()),
            ),
            (
                "relations_str",
                &lines(retrieval.relations.iter().map(relation_line).collect()),
            ),
            ("text_chunks_str", &chunks),
        ],
    )
}

/// The system prompt: LightRAG's answer template with the response type, the
/// additional instructions and the context (filled last, so document text is never
/// taken for a placeholder).
pub fn system_prompt(params: &QueryParams, context: &str) -> String {
    let user_prompt = if params.user_prompt.is_empty() {
        "n/a"
    } else {
        params.user_prompt.as_str()
    };
    let (template, slot) = if params.mode == Mode::Naive {
        (get(Template::NaiveRagResponse), "content_data")
    } else {
        (get(Template::RagResponse), "context_data")
    };
    render(
        template,
        &[
            ("response_type", &params.response_type),
            ("user_prompt", user_prompt),
            (slot, context),
        ],
    )
}

/// What `only_need_prompt` returns: the system prompt and the query.
pub fn prompt_text(system: &str, query: &str) -> String {
    format!("{system}\n\n---User Query---\n{query}")
}

/// The messages the model gets: the system prompt (none for `bypass`), the
/// conversation history, the query.
pub fn messages(system: Option<String>, history: &[Message], query: &str) -> Vec<Message> {
    system
        .map(|s| Message::new(Role::System, s))
        .into_iter()
        .chain(history.iter().cloned())
        .chain(std::iter::once(Message::new(Role::User, query)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(file: &str) -> ChunkRow {
        ChunkRow {
            reference_id: String::new(),
            content: format!("text of {file}"),
            file_path: file.to_owned(),
            chunk_id: String::new(),
            content_headings: None,
            tokens: 0,
        }
    }

    #[test]
    fn references_by_chunk_count_then_first_appearance() {
        let chunks = [
            chunk("a.txt"),
            chunk("b.txt"),
            chunk("unknown_source"),
            chunk("b.txt"),
            chunk("c.txt"),
        ];
        let refs: Vec<(String, String)> = references(&chunks)
            .into_iter()
            .map(|r| (r.reference_id, r.file_path))
            .collect();
        assert_eq!(
            refs,
            [
                ("1".into(), "b.txt".into()),
                ("2".into(), "a.txt".into()),
                ("3".into(), "c.txt".into())
            ]
        );
    }

    #[test]
    fn lines_are_the_json_objects_in_their_key_order() {
        let text = "a \"quoted\" line\nwith \u{7} and \u{e9}\u{4e2d} \\ end";
        let entity = EntityRow {
            entity_name: "Ada".into(),
            entity_type: "person".into(),
            description: text.into(),
            source_id: String::new(),
            file_path: String::new(),
            created_at: serde_json::Value::Null,
            reference_id: String::new(),
            tokens: 0,
        };
        assert_eq!(
            entity_line(&entity),
            serde_json::json!({"entity": "Ada", "type": "person", "description": text}).to_string()
        );
        let relation = RelationRow {
            src_id: "Ada".into(),
            tgt_id: "Alan".into(),
            description: text.into(),
            keywords: String::new(),
            weight: 1.0,
            source_id: String::new(),
            file_path: String::new(),
            created_at: serde_json::Value::Null,
            reference_id: String::new(),
            tokens: 0,
        };
        assert_eq!(
            relation_line(&relation),
            serde_json::json!({"entity1": "Ada", "entity2": "Alan", "description": text})
                .to_string()
        );
        let mut row = chunk("a.txt");
        row.content = text.into();
        row.reference_id = "1".into();
        assert_eq!(
            chunk_line(&row),
            serde_json::json!({"reference_id": "1", "content": text}).to_string()
        );
        row.content_headings = Some("# H".into());
        assert_eq!(
            chunk_line(&row),
            serde_json::json!({"reference_id": "1", "content": text, "content_headings": "# H"})
                .to_string()
        );
    }

    #[test]
    fn budgets_cut_whole_lines() {
        let tokenizer = Tokenizer::o200k();
        let items: Vec<ChunkRow> = (0..10).map(|i| chunk(&format!("{i}.txt"))).collect();
        let one = tokenizer.count(&chunk_line(&items[0])) + 1;
        assert_eq!(within(&tokenizer, items.clone(), one * 3).len(), 3);
        assert!(within(&tokenizer, items, 0).is_empty());
    }
}
