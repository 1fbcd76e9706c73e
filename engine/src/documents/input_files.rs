//! Files in the workspace's input directory: LightRAG's rules for their names (a file's
//! canonical name, its parser hint removed, is its document's identity), the uploads
//! and scanned files the pipeline parses, and the `__parsed__/` archive they move to
//! once their text is stored.

use std::path::{Path, PathBuf};

use crate::chunking::{ChunkingRequest, Strategy};
use crate::parsing;

/// Where parsed files go, inside the input directory.
pub const PARSED_DIR: &str = "__parsed__";

/// The longest file name accepted, in bytes: a file system's NAME_MAX (255) less room
/// for the numbered suffix [`archive`] may add.
pub const MAX_NAME_BYTES: usize = 240;

/// Parser engines a filename hint may name; ours stands in for both.
const HINT_ENGINES: &[&str] = &["legacy", "native"];

/// Why a file name is refused, in LightRAG's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("Filename cannot be empty")]
    Empty,
    #[error("Invalid filename")]
    Invalid,
    #[error("Unsafe filename detected")]
    Unsafe,
    #[error("Filename too long: {0} bytes (at most {MAX_NAME_BYTES})")]
    TooLong(usize),
    #[error("Malformed parser hint in filename '{0}'")]
    MalformedHint(String),
    #[error("Unsupported parser hint '[{0}]': available engines are legacy, native")]
    UnsupportedHint(String),
    #[error("Invalid processing options in parser hint '[{hint}]': {reason}")]
    InvalidOptions { hint: String, reason: String },
    /// LightRAG's 422 for the `C` selector without a custom chunking function.
    #[error(
        "Invalid chunking configuration: chunking selector 'C' needs a custom chunking function, and this server has none"
    )]
    CustomChunking,
    #[error("Unsupported file type. Supported types: ({})", supported_list())]
    Unsupported,
}

impl crate::error::Kind for NameError {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::BadInput
    }
}

fn supported_list() -> String {
    parsing::supported_extensions()
        .iter()
        .map(|e| format!("'{e}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A file name read by LightRAG's rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Named {
    /// The name with its parser hint removed: the document's identity.
    pub canonical: String,
    /// The chunking its hint selects (`F`, `R`, `V`, `P`, with parameters).
    pub chunking: Option<ChunkingRequest>,
}

/// LightRAG's filename rules; returns the canonical name (parser hint removed).
pub fn canonical_name(name: &str) -> Result<String, NameError> {
    read_name(name).map(|n| n.canonical)
}

/// LightRAG's filename rules: the canonical name and the hint's chunking.
pub fn read_name(name: &str) -> Result<Named, NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.trim() != name
        || name
            .chars()
            .any(|c| c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}')
    {
        return Err(NameError::Invalid);
    }
    if name.contains(['/', '\\', ':']) || name == "." || name == ".." {
        return Err(NameError::Unsafe);
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(NameError::TooLong(name.len()));
    }
    let (canonical, hint) = strip_parser_hint(name)?;
    if !parsing::is_supported(&canonical) {
        return Err(NameError::Unsupported);
    }
    let chunking = match hint {
        Some(hint) => hint::chunking(hint)?,
        None => None,
    };
    Ok(Named {
        canonical,
        chunking,
    })
}

/// `name.[engine].ext`, `name.[engine-options].ext` or `name.[-options].ext` →
/// `name.ext` and the hint.
fn strip_parser_hint(name: &str) -> Result<(String, Option<&str>), NameError> {
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return Ok((name.to_owned(), None));
    };
    let Some(hinted) = stem.strip_suffix(']') else {
        return Ok((name.to_owned(), None));
    };
    let Some((base, hint)) = hinted.rsplit_once(".[") else {
        return Err(NameError::MalformedHint(name.to_owned()));
    };
    let engine = hint.split('-').next().unwrap_or_default();
    let options_only = engine.is_empty() && hint.starts_with('-');
    if base.is_empty() || !(options_only || HINT_ENGINES.contains(&engine)) {
        return Err(NameError::UnsupportedHint(hint.to_owned()));
    }
    Ok((format!("{base}.{ext}"), Some(hint)))
}

/// Moves a parsed file into `__parsed__/`, with a numbered suffix when the name is
/// taken (`a.txt` → `a_001.txt`).
pub fn archive(dir: &Path, file_name: &str) -> std::io::Result<PathBuf> {
    let parsed = dir.join(PARSED_DIR);
    std::fs::create_dir_all(&parsed)?;
    let (stem, ext) = match file_name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, format!(".{ext}")),
        _ => (file_name, String::new()),
    };
    let mut target = parsed.join(file_name);
    let mut n = 0;
    while target.symlink_metadata().is_ok() {
        n += 1;
        target = parsed.join(format!("{stem}_{n:03}{ext}"));
    }
    std::fs::rename(dir.join(file_name), &target)?;
    Ok(target)
}

/// Names of the regular files directly in `dir` (symlinks and directories skipped),
/// sorted.
pub fn list(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

mod hint {
    //! The processing options of a parser hint (after the engine and its `-`):
    //! LightRAG's `i`/`t`/`e` (VLM analysis, which this server has no model for, so
    //! accepted and unused), `!` (no graph, likewise), and at most one chunking
    //! selector `F`/`R`/`V`/`P` (`C`, a custom chunker, is refused), which may carry
    //! parameters: `R(chunk_ts=800,chunk_ol=80)`, `P(drop_rf)`.

    use super::*;

    pub(super) fn chunking(hint: &str) -> Result<Option<ChunkingRequest>, NameError> {
        let options = hint.split_once('-').map_or("", |(_, o)| o);
        let refuse = |reason: String| NameError::InvalidOptions {
            hint: hint.to_owned(),
            reason,
        };
        let mut chosen: Option<ChunkingRequest> = None;
        let mut rest = options;
        while let Some(c) = rest.chars().next() {
            rest = &rest[c.len_utf8()..];
            match c {
                'i' | 't' | 'e' | '!' => {}
                'C' => return Err(NameError::CustomChunking),
                _ => {
                    let Some(strategy) = Strategy::from_selector(c) else {
                        return Err(refuse(format!("unknown option '{c}'")));
                    };
                    let mut request = ChunkingRequest::new(strategy);
                    if let Some(inner) = rest.strip_prefix('(') {
                        let Some((params, after)) = inner.split_once(')') else {
                            return Err(refuse("unclosed '('".to_owned()));
                        };
                        parameters(&mut request, params).map_err(refuse)?;
                        rest = after;
                    }
                    match &chosen {
                        Some(previous) if previous.strategy != strategy => {
                            return Err(refuse(
                                "at most one chunking selector (F/R/V/P) may be given".to_owned(),
                            ));
                        }
                        Some(previous)
                            if *previous != request
                                && request != ChunkingRequest::new(strategy) =>
                        {
                            return Err(refuse(format!(
                                "'{c}' is given twice with different parameters"
                            )));
                        }
                        Some(_) => {}
                        None => chosen = Some(request),
                    }
                }
            }
        }
        Ok(chosen)
    }

    /// `key=value` pairs (a bare `drop_rf` is true), by canonical name or alias.
    fn parameters(request: &mut ChunkingRequest, params: &str) -> Result<(), String> {
        let strategy = request.strategy;
        for pair in params.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .map_or((pair, None), |(k, v)| (k.trim(), Some(v.trim())));
            let int = |min: usize| -> Result<usize, String> {
                value
                    .and_then(|v| v.parse::<usize>().ok())
                    .filter(|n| (min..=crate::chunking::MAX_CHUNK_TOKENS).contains(n))
                    .ok_or_else(|| {
                        format!(
                            "{key} must be an integer from {min} to {}",
                            crate::chunking::MAX_CHUNK_TOKENS
                        )
                    })
            };
            match key {
                "chunk_token_size" | "chunk_ts" => request.chunk_token_size = Some(int(1)?),
                "chunk_overlap_token_size" | "chunk_ol" if strategy != Strategy::SemanticVector => {
                    request.chunk_overlap_token_size = Some(int(0)?);
                }
                "drop_references" | "drop_rf" if strategy == Strategy::ParagraphSemantic => {
                    request.drop_references = Some(match value {
                        None | Some("true") => true,
                        Some("false") => false,
                        Some(_) => return Err(format!("{key} must be true or false")),
                    });
                }
                _ => {
                    return Err(format!(
                        "parameter '{key}' is not supported by the {} strategy",
                        strategy.name()
                    ));
                }
            }
        }
        if let (Some(size), Some(overlap)) =
            (request.chunk_token_size, request.chunk_overlap_token_size)
            && overlap >= size
        {
            return Err("chunk_overlap_token_size must be < chunk_token_size".to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail(result: Result<String, NameError>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn filename_rules() {
        assert_eq!(canonical_name("a.txt").unwrap(), "a.txt");
        assert_eq!(canonical_name("r.[native].pdf").unwrap(), "r.pdf");
        assert_eq!(canonical_name("r.[legacy-iF].pdf").unwrap(), "r.pdf");
        assert_eq!(detail(canonical_name("")), "Filename cannot be empty");
        for bad in [" a.txt", "a.txt ", "a\u{7}.txt", "a\u{FFFF}.txt"] {
            assert_eq!(detail(canonical_name(bad)), "Invalid filename", "{bad:?}");
        }
        for bad in ["../a.txt", "a/b.txt", "a\\b.txt", "c:a.txt", "..", "."] {
            assert_eq!(
                detail(canonical_name(bad)),
                "Unsafe filename detected",
                "{bad}"
            );
        }
        assert!(
            detail(canonical_name("a.exe"))
                .starts_with("Unsupported file type. Supported types: ('.bat', ")
        );
        assert!(detail(canonical_name("r.[mineru].pdf")).starts_with("Unsupported parser hint"));
        assert!(detail(canonical_name("r].pdf")).starts_with("Malformed parser hint"));
        assert_eq!(canonical_name("notes.[-R].md").unwrap(), "notes.md");
        let long = format!("{}.txt", "a".repeat(MAX_NAME_BYTES - 3));
        assert_eq!(
            canonical_name(&long),
            Err(NameError::TooLong(MAX_NAME_BYTES + 1))
        );
        assert!(canonical_name(&long[1..]).is_ok());
    }

    fn chunking(name: &str) -> Option<ChunkingRequest> {
        read_name(name).unwrap().chunking
    }

    #[test]
    fn hints_select_a_chunking_strategy_with_parameters() {
        assert_eq!(chunking("a.txt"), None);
        assert_eq!(chunking("a.[native].txt"), None);
        assert_eq!(chunking("a.[native-it!].txt"), None);
        assert_eq!(
            chunking("a.[-R].md"),
            Some(ChunkingRequest::new(Strategy::RecursiveCharacter))
        );
        assert_eq!(
            chunking("a.[legacy-iV].md").unwrap().strategy,
            Strategy::SemanticVector
        );
        assert_eq!(
            chunking("a.[-RR].md").unwrap().strategy,
            Strategy::RecursiveCharacter
        );
        let r = chunking("a.[-R(chunk_ts=800,chunk_ol=80)].md").unwrap();
        assert_eq!(
            (r.chunk_token_size, r.chunk_overlap_token_size),
            (Some(800), Some(80))
        );
        let p = chunking("paper.[-P(drop_rf)].md").unwrap();
        assert_eq!(
            (p.strategy, p.drop_references),
            (Strategy::ParagraphSemantic, Some(true))
        );
        let p =
            chunking("paper.[native-P(drop_references=false,chunk_token_size=300)].md").unwrap();
        assert_eq!(
            (p.drop_references, p.chunk_token_size),
            (Some(false), Some(300))
        );
        assert_eq!(read_name("a.[-C].md"), Err(NameError::CustomChunking));
        for bad in [
            "a.[-RV].md",
            "a.[-x].md",
            "a.[-f].md",
            "a.[-R(chunk_ts=0)].md",
            "a.[-R(chunk_ts=10,chunk_ol=10)].md",
            "a.[-V(chunk_ol=5)].md",
            "a.[-R(drop_rf)].md",
            "a.[-R(size=5)].md",
            "a.[-R(chunk_ts=5].md",
            "a.[-P(drop_rf=yes)].md",
        ] {
            assert!(
                matches!(read_name(bad), Err(NameError::InvalidOptions { .. })),
                "{bad}: {:?}",
                read_name(bad)
            );
        }
        assert!(matches!(
            read_name("a.[iet].md"),
            Err(NameError::UnsupportedHint(_))
        ));
    }

    #[test]
    fn archive_numbers_clashing_names() {
        let dir = std::env::temp_dir().join(format!("lrm-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for _ in 0..3 {
            std::fs::write(dir.join("a.txt"), "x").unwrap();
            archive(&dir, "a.txt").unwrap();
        }
        let mut parsed = list(&dir.join(PARSED_DIR));
        parsed.sort();
        assert_eq!(parsed, ["a.txt", "a_001.txt", "a_002.txt"]);
        assert!(list(&dir).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    mod fuzz {
        //! Bounded property runs over the filename rules: any string (path separators,
        //! dots, hints, control and non-ASCII characters, up to ~1000 bytes) is refused
        //! with a `NameError` or names a file safely inside the input directory.

        use proptest::prelude::*;
        use proptest::strategy::Strategy;

        use super::super::*;

        /// The name is one file directly in its directory, within NAME_MAX.
        fn assert_safe(name: &str) -> Result<(), TestCaseError> {
            prop_assert!(!name.is_empty() && name != "." && name != "..", "{name:?}");
            prop_assert!(!name.contains(['/', '\\', ':', '\0']), "{name:?}");
            prop_assert!(!name.chars().any(char::is_control), "{name:?}");
            prop_assert!(name.trim() == name, "{name:?}");
            prop_assert!(name.len() <= MAX_NAME_BYTES, "{name:?}");
            Ok(())
        }

        fn piece() -> impl Strategy<Value = String> {
            prop_oneof![
                prop::sample::select(vec![
                    ".",
                    "..",
                    "[",
                    "]",
                    ".[native]",
                    ".[legacy-iF]",
                    ".[-R(chunk_ts=9)]",
                    ".[-P(drop_rf)]",
                    ".[-C]",
                    ".[mineru]",
                    ".[",
                    "/",
                    "\\",
                    ":",
                    "\0",
                    " ",
                    "\t",
                    "\n",
                    "\u{7f}",
                    "\u{85}",
                    "\u{a0}",
                    "é",
                    "孙",
                    "\u{FFFE}",
                    "\u{FFFF}",
                    "\u{202e}",
                    ".txt",
                    ".pdf",
                    ".md",
                    ".exe",
                    "a",
                ])
                .prop_map(str::to_owned),
                any::<char>().prop_map(String::from),
                "[a-z]{0,8}",
                (prop::sample::select(vec!["a", "é", "孙"]), 1..300usize)
                    .prop_map(|(s, n)| s.repeat(n)),
            ]
        }

        fn name() -> impl Strategy<Value = String> {
            (
                prop::collection::vec(piece(), 0..12),
                prop::sample::select(vec!["", ".txt", ".pdf", ".[native].md"]),
            )
                .prop_map(|(pieces, ext)| pieces.concat() + ext)
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 1024, failure_persistence: None, ..ProptestConfig::default() })]

            /// An accepted name is safe as given (the upload writes it verbatim) and so is
            /// its canonical name, of a supported type. The hint is removed once, so the
            /// rules are idempotent on a canonical name except that one holding a nested
            /// hint (`a.[x].[native].pdf` → `a.[x].pdf`) is then refused for that hint.
            #[test]
            fn any_name_is_refused_or_safe(name in name()) {
                let Ok(canonical) = canonical_name(&name) else {
                    return Ok(());
                };
                assert_safe(&name)?;
                assert_safe(&canonical)?;
                prop_assert!(canonical.len() <= name.len());
                prop_assert!(parsing::is_supported(&canonical));
                match canonical_name(&canonical) {
                    Ok(again) if strip_parser_hint(&canonical).is_ok_and(|(c, _)| c == canonical) => {
                        prop_assert_eq!(again, canonical);
                    }
                    Ok(_) | Err(NameError::MalformedHint(_) | NameError::UnsupportedHint(_) | NameError::InvalidOptions { .. } | NameError::CustomChunking) => {}
                    Err(e) => prop_assert!(false, "{canonical:?} refused: {e}"),
                }
            }
        }
    }
}
