//! PROMPT_DIR: LightRAG's prompt templates overridden from files, and the user prompt
//! prefix (USER_PROMPT_PREFIX, or a file named by USER_PROMPT_PREFIX_FILE under
//! `PROMPT_DIR/user_prompt`).
//!
//! Templates are read and checked here, with the rest of the configuration, so a broken
//! one stops the master before it forks, with one line naming the file and the
//! placeholder. A file is `<LightRAG's prompt name>.md`; its placeholders are
//! `{name}` as in LightRAG's Python format strings (`{{` and `}}` are literal braces).
//! Each template has placeholders it must keep (the data the prompt exists to carry)
//! and ones it may use; any other name is refused, since nothing would fill it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::ConfigError;
use crate::layers::Source;
use crate::resolver::Resolver;
use crate::spec;

/// Largest template or prefix file read (an answer prompt is a few KiB).
const MAX_FILE_BYTES: u64 = 1 << 20;
/// Where USER_PROMPT_PREFIX_FILE names its file, under PROMPT_DIR (as LightRAG).
const USER_PROMPT_SUBDIR: &str = "user_prompt";
const DELIMITERS: &[&str] = &["tuple_delimiter", "completion_delimiter"];
const EXTRACTION: &[&str] = &["entity_types", "language", "input_text"];

/// One overridable template: LightRAG's name, what it must and may contain.
pub struct TemplateSpec {
    pub name: &'static str,
    pub required: &'static [&'static str],
    pub optional: &'static [&'static [&'static str]],
}

impl TemplateSpec {
    pub fn file_name(&self) -> String {
        format!("{}.md", self.name)
    }

    fn allows(&self, name: &str) -> bool {
        self.required.contains(&name) || self.optional.iter().any(|set| set.contains(&name))
    }
}

/// Every template PROMPT_DIR may override.
pub const TEMPLATES: &[TemplateSpec] = &[
    TemplateSpec {
        name: "entity_extraction_system_prompt",
        required: &["entity_types", "input_text"],
        optional: &[EXTRACTION, DELIMITERS],
    },
    TemplateSpec {
        name: "entity_extraction_user_prompt",
        required: &[],
        optional: &[EXTRACTION, DELIMITERS],
    },
    TemplateSpec {
        name: "entity_continue_extraction_user_prompt",
        required: &[],
        optional: &[EXTRACTION, DELIMITERS],
    },
    TemplateSpec {
        name: "summarize_entity_descriptions",
        required: &["description_list"],
        optional: &[&[
            "description_type",
            "description_name",
            "summary_length",
            "language",
        ]],
    },
    TemplateSpec {
        name: "keywords_extraction",
        required: &["query"],
        optional: &[&["language"]],
    },
    TemplateSpec {
        name: "rag_response",
        required: &["context_data"],
        optional: &[&["response_type", "user_prompt"]],
    },
    TemplateSpec {
        name: "naive_rag_response",
        required: &["content_data"],
        optional: &[&["response_type", "user_prompt"]],
    },
    TemplateSpec {
        name: "kg_query_context",
        required: &[
            "entities_str",
            "relations_str",
            "text_chunks_str",
            "reference_list_str",
        ],
        optional: &[],
    },
    TemplateSpec {
        name: "naive_query_context",
        required: &["text_chunks_str", "reference_list_str"],
        optional: &[],
    },
    TemplateSpec {
        name: "fail_response",
        required: &[],
        optional: &[],
    },
];

/// The names a template's `{name}` placeholders use, in order of appearance, without
/// repeats. `{{` and `}}` are escaped braces; a brace around anything but a name is text.
pub fn placeholders(template: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        if let Some(escaped) = after.strip_prefix('{') {
            rest = escaped;
            continue;
        }
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let name = &after[..end];
        let is_name = !name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit());
        if is_name && after[end..].starts_with('}') {
            if !names.contains(&name) {
                names.push(name);
            }
            rest = &after[end + 1..];
        } else {
            rest = after;
        }
    }
    names
}

/// Why a template cannot be used.
pub fn check(spec: &TemplateSpec, text: &str) -> Result<(), String> {
    let found = placeholders(text);
    let file = spec.file_name();
    if let Some(unknown) = found.iter().find(|n| !spec.allows(n)) {
        return Err(format!("{file} has an unknown placeholder {{{unknown}}}"));
    }
    if let Some(missing) = spec.required.iter().find(|n| !found.contains(n)) {
        return Err(format!("{file} lacks the placeholder {{{missing}}}"));
    }
    Ok(())
}

/// The prompt files in effect.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PromptSettings {
    pub dir: PathBuf,
    /// Overridden templates by LightRAG's name (`rag_response` ...).
    pub templates: BTreeMap<String, String>,
    /// Prepended verbatim to every query's user_prompt (unless a request disables it).
    pub user_prompt_prefix: Option<String>,
    /// Why the configured prefix file is not used: like LightRAG, the server runs on
    /// without a prefix and says so.
    pub prefix_problem: Option<String>,
}

fn read_limited(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "{} is larger than {MAX_FILE_BYTES} bytes",
            path.display()
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    String::from_utf8(bytes).map_err(|_| format!("{} is not UTF-8", path.display()))
}

/// The templates `dir` overrides; a directory that does not exist overrides none
/// (LightRAG's default `./prompts` usually does not).
fn templates(dir: &Path) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    for spec in TEMPLATES {
        let path = dir.join(spec.file_name());
        if !path.exists() {
            continue;
        }
        let text = read_limited(&path)?;
        check(spec, &text)?;
        out.insert(spec.name.to_owned(), text);
    }
    Ok(out)
}

/// The file USER_PROMPT_PREFIX_FILE names: a bare `.md` or `.txt` name, as LightRAG
/// takes it (no directories, so it cannot leave `PROMPT_DIR/user_prompt`).
fn prefix_file(dir: &Path, name: &str) -> Result<String, String> {
    let bare = !name.is_empty()
        && !name.contains(['/', '\\'])
        && name != ".."
        && Path::new(name).file_name().is_some_and(|n| n == name);
    let suffix_ok = Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("md") || e.eq_ignore_ascii_case("txt"));
    if !bare || !suffix_ok {
        return Err(format!(
            "USER_PROMPT_PREFIX_FILE {name:?} must be a .md or .txt file name inside \
             PROMPT_DIR/{USER_PROMPT_SUBDIR}; no prefix is applied"
        ));
    }
    read_limited(&dir.join(USER_PROMPT_SUBDIR).join(name))
        .map_err(|e| format!("USER_PROMPT_PREFIX_FILE: {e}; no prefix is applied"))
}

pub(crate) fn load(r: &Resolver<'_>) -> Result<PromptSettings, ConfigError> {
    let dir = r.get(&spec::PROMPT_DIR, crate::resolver::path)?;
    let templates = templates(&dir).map_err(|reason| ConfigError::Invalid {
        setting: spec::PROMPT_DIR.env,
        origin: r
            .raw(&spec::PROMPT_DIR)
            .map_or(Source::Default, |(_, origin)| origin),
        value: dir.display().to_string(),
        reason,
    })?;
    // The prefix is taken verbatim: its trailing newlines are the separator.
    let inline = r
        .raw(&spec::USER_PROMPT_PREFIX)
        .map(|(v, _)| v)
        .filter(|v| !v.is_empty());
    let file = r
        .raw(&spec::USER_PROMPT_PREFIX_FILE)
        .map(|(v, _)| v.trim().to_owned())
        .filter(|v| !v.is_empty());
    let (user_prompt_prefix, prefix_problem) = match file {
        None => (inline, None),
        // A file that cannot be used means no prefix, never the inline one instead.
        Some(name) => match prefix_file(&dir, &name) {
            Ok(text) => (
                Some(text).filter(|t| !t.is_empty()),
                inline.map(|_| {
                    "USER_PROMPT_PREFIX_FILE is set, so USER_PROMPT_PREFIX is ignored".to_owned()
                }),
            ),
            Err(problem) => (None, Some(problem)),
        },
    };
    Ok(PromptSettings {
        dir,
        templates,
        user_prompt_prefix,
        prefix_problem,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> &'static TemplateSpec {
        TEMPLATES.iter().find(|t| t.name == name).unwrap()
    }

    #[test]
    fn placeholders_skip_escaped_and_non_name_braces() {
        let text = "{{literal}} {query} {\n  \"json\": 1\n} {language} {query} {0} {a-b}";
        assert_eq!(placeholders(text), ["query", "language"]);
    }

    #[test]
    fn templates_must_keep_their_data_and_use_only_known_names() {
        let rag = spec("rag_response");
        assert_eq!(check(rag, "Ctx: {context_data} {user_prompt}"), Ok(()));
        assert_eq!(
            check(rag, "no context here {response_type}"),
            Err("rag_response.md lacks the placeholder {context_data}".to_owned())
        );
        assert_eq!(
            check(rag, "{context_data} {query}"),
            Err("rag_response.md has an unknown placeholder {query}".to_owned())
        );
        let extract = spec("entity_extraction_system_prompt");
        assert_eq!(
            check(
                extract,
                "{entity_types} {input_text} {tuple_delimiter} {language}"
            ),
            Ok(())
        );
        assert!(check(spec("fail_response"), "Nothing found.").is_ok());
    }

    #[test]
    fn prefix_file_names_stay_inside_the_user_prompt_directory() {
        let dir = std::env::temp_dir().join(format!("lrm-prefix-{}", std::process::id()));
        std::fs::create_dir_all(dir.join(USER_PROMPT_SUBDIR)).unwrap();
        std::fs::write(dir.join("user_prompt/house.md"), "House style.\n\n").unwrap();
        assert_eq!(
            prefix_file(&dir, "house.md").as_deref(),
            Ok("House style.\n\n")
        );
        for bad in [
            "../x.md",
            "/etc/passwd.md",
            "sub/x.md",
            "a\\b.md",
            "x.yml",
            "x",
        ] {
            assert!(prefix_file(&dir, bad).is_err(), "{bad}");
        }
        assert!(
            prefix_file(&dir, "absent.md")
                .unwrap_err()
                .contains("absent.md")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
