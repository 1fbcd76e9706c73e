//! The prompt templates in effect: LightRAG's built-in ones ([`super::prompts`]), each
//! replaceable by a PROMPT_DIR file (read and checked by the configuration before the
//! server starts). Like LightRAG's module-level `PROMPTS`, the set is process-wide: a
//! worker installs it once at start, before it renders any prompt, and every role
//! (extraction, summaries, keywords, answers) reads it from here.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::prompts;

/// A template, by the name LightRAG gives it (the PROMPT_DIR file is `<name>.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Template {
    EntityExtractionSystem,
    EntityExtractionUser,
    EntityContinueExtractionUser,
    SummarizeDescriptions,
    KeywordsExtraction,
    RagResponse,
    NaiveRagResponse,
    KgQueryContext,
    NaiveQueryContext,
    FailResponse,
}

impl Template {
    pub const ALL: [Template; 10] = [
        Template::EntityExtractionSystem,
        Template::EntityExtractionUser,
        Template::EntityContinueExtractionUser,
        Template::SummarizeDescriptions,
        Template::KeywordsExtraction,
        Template::RagResponse,
        Template::NaiveRagResponse,
        Template::KgQueryContext,
        Template::NaiveQueryContext,
        Template::FailResponse,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Template::EntityExtractionSystem => "entity_extraction_system_prompt",
            Template::EntityExtractionUser => "entity_extraction_user_prompt",
            Template::EntityContinueExtractionUser => "entity_continue_extraction_user_prompt",
            Template::SummarizeDescriptions => "summarize_entity_descriptions",
            Template::KeywordsExtraction => "keywords_extraction",
            Template::RagResponse => "rag_response",
            Template::NaiveRagResponse => "naive_rag_response",
            Template::KgQueryContext => "kg_query_context",
            Template::NaiveQueryContext => "naive_query_context",
            Template::FailResponse => "fail_response",
        }
    }

    pub fn builtin(self) -> &'static str {
        match self {
            Template::EntityExtractionSystem => prompts::ENTITY_EXTRACTION_SYSTEM,
            Template::EntityExtractionUser => prompts::ENTITY_EXTRACTION_USER,
            Template::EntityContinueExtractionUser => prompts::ENTITY_CONTINUE_EXTRACTION_USER,
            Template::SummarizeDescriptions => prompts::SUMMARIZE_DESCRIPTIONS,
            Template::KeywordsExtraction => prompts::KEYWORDS_EXTRACTION,
            Template::RagResponse => prompts::RAG_RESPONSE,
            Template::NaiveRagResponse => prompts::NAIVE_RAG_RESPONSE,
            Template::KgQueryContext => prompts::KG_QUERY_CONTEXT,
            Template::NaiveQueryContext => prompts::NAIVE_QUERY_CONTEXT,
            Template::FailResponse => prompts::FAIL_RESPONSE,
        }
    }

    fn named(name: &str) -> Option<Template> {
        Template::ALL.into_iter().find(|t| t.name() == name)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InstallError {
    #[error("{0:?} is not one of LightRAG's prompt names")]
    Unknown(String),
    #[error("the prompt templates are already installed in this process")]
    AlreadyInstalled,
}

static INSTALLED: OnceLock<HashMap<Template, String>> = OnceLock::new();

/// Puts `overrides` (LightRAG's name → template text) in effect for this process.
pub fn install(overrides: impl IntoIterator<Item = (String, String)>) -> Result<(), InstallError> {
    let mut set = HashMap::new();
    for (name, text) in overrides {
        let template = Template::named(&name).ok_or(InstallError::Unknown(name))?;
        set.insert(template, text);
    }
    INSTALLED
        .set(set)
        .map_err(|_| InstallError::AlreadyInstalled)
}

/// The text of `template` in effect: the installed override, else the built-in one.
pub fn get(template: Template) -> &'static str {
    INSTALLED
        .get()
        .and_then(|set| set.get(&template))
        .map_or_else(|| template.builtin(), String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found_back() {
        for t in Template::ALL {
            assert_eq!(Template::named(t.name()), Some(t));
        }
        assert_eq!(Template::named("rag"), None);
        // Nothing installed in unit tests: the built-in text is in effect.
        assert_eq!(get(Template::FailResponse), prompts::FAIL_RESPONSE);
    }
}
