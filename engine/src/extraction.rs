//! LightRAG's entity/relation record format, read tolerantly. An extraction answer is
//! one record per line:
//!
//! ```text
//! entity<|#|>Name<|#|>type<|#|>description
//! relation<|#|>Source<|#|>Target<|#|>keywords<|#|>description
//! <|COMPLETE|>
//! ```
//!
//! LLMs break the format in every way imaginable; a record that cannot be read is
//! skipped and counted, never an error. The older delimiters (`<|>` between fields,
//! `##` between records, records wrapped in `("…")`) are accepted too.

pub const TUPLE_DELIMITER: &str = "<|#|>";
pub const COMPLETION_DELIMITER: &str = "<|COMPLETE|>";
const LEGACY_TUPLE_DELIMITER: &str = "<|>";
const LEGACY_RECORD_DELIMITER: &str = "##";
/// Longest entity name kept (LightRAG truncates too).
const MAX_NAME_CHARS: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractedEntity {
    pub name: String,
    pub entity_type: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractedRelation {
    pub source: String,
    pub target: String,
    pub keywords: String,
    pub description: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extraction {
    pub entities: Vec<ExtractedEntity>,
    pub relations: Vec<ExtractedRelation>,
    /// Records that could not be read.
    pub skipped: usize,
}

fn clean(field: &str) -> String {
    field
        .trim()
        .trim_matches(|c| c == '"' || c == '\'' || c == '(' || c == ')')
        .trim()
        .to_owned()
}

fn clean_name(field: &str) -> Option<String> {
    let name: String = clean(field).chars().take(MAX_NAME_CHARS).collect();
    (!name.is_empty()).then_some(name)
}

/// Reads an extraction answer.
pub fn parse(answer: &str) -> Extraction {
    let mut out = Extraction::default();
    let records = answer
        .split(['\n', '\r'])
        .flat_map(|line| line.split(LEGACY_RECORD_DELIMITER))
        .map(str::trim)
        .filter(|r| !r.is_empty() && *r != COMPLETION_DELIMITER);
    for record in records {
        let record = record.trim_end_matches(COMPLETION_DELIMITER);
        let delimiter = if record.contains(TUPLE_DELIMITER) {
            TUPLE_DELIMITER
        } else {
            LEGACY_TUPLE_DELIMITER
        };
        let fields: Vec<&str> = record.split(delimiter).collect();
        match (clean(fields[0]).to_ascii_lowercase().as_str(), fields.len()) {
            ("entity", 4) => match clean_name(fields[1]) {
                Some(name) => out.entities.push(ExtractedEntity {
                    name,
                    entity_type: clean(fields[2]).to_lowercase().replace(' ', ""),
                    description: clean(fields[3]),
                }),
                None => out.skipped += 1,
            },
            ("relation" | "relationship", 5) => {
                match (clean_name(fields[1]), clean_name(fields[2])) {
                    (Some(source), Some(target)) if source != target => {
                        out.relations.push(ExtractedRelation {
                            source,
                            target,
                            keywords: clean(fields[3]),
                            description: clean(fields[4]),
                        })
                    }
                    _ => out.skipped += 1,
                }
            }
            _ => out.skipped += 1,
        }
    }
    out
}

/// Writes records in the current format (what the builtin LLM answers).
pub fn format(extraction: &Extraction) -> String {
    let d = TUPLE_DELIMITER;
    let mut out = String::new();
    for e in &extraction.entities {
        out.push_str(&format!(
            "entity{d}{}{d}{}{d}{}\n",
            e.name, e.entity_type, e.description
        ));
    }
    for r in &extraction.relations {
        out.push_str(&format!(
            "relation{d}{}{d}{}{d}{}{d}{}\n",
            r.source, r.target, r.keywords, r.description
        ));
    }
    out.push_str(COMPLETION_DELIMITER);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_records_and_counts_broken_ones() {
        let answer = "entity<|#|>Elon Musk<|#|>Person<|#|>Founder of SpaceX.\n\
                      relation<|#|>Elon Musk<|#|>SpaceX<|#|>founding<|#|>Musk founded SpaceX.\n\
                      entity<|#|>SpaceX<|#|>organization\n\
                      gibberish line\n\
                      relation<|#|>A<|#|>A<|#|>self<|#|>loops are dropped\n\
                      entity<|#|>  <|#|>x<|#|>no name\n\
                      <|COMPLETE|>";
        let x = parse(answer);
        assert_eq!(x.entities.len(), 1);
        assert_eq!(x.entities[0].entity_type, "person");
        assert_eq!(x.relations[0].keywords, "founding");
        assert_eq!(x.skipped, 4);
    }

    #[test]
    fn accepts_the_legacy_format_and_round_trips() {
        let legacy = r#"("entity"<|>"Alice"<|>"person"<|>"A cryptographer.")##("relationship"<|>"Alice"<|>"Bob"<|>"works with"<|>"Colleagues.")<|COMPLETE|>"#;
        let x = parse(legacy);
        assert_eq!(x.entities[0].name, "Alice");
        assert_eq!(x.relations[0].target, "Bob");
        assert_eq!(x.skipped, 0);
        assert_eq!(parse(&format(&x)), x);
        assert_eq!(parse(""), Extraction::default());
    }
}
