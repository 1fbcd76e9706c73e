//! Files in the workspace's input directory: LightRAG's rules for their names (a file's
//! canonical name, its parser hint removed, is its document's identity), the uploads
//! and scanned files the pipeline parses, and the `__parsed__/` archive they move to
//! once their text is stored.

use std::path::{Path, PathBuf};

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

/// LightRAG's filename rules; returns the canonical name (parser hint removed).
pub fn canonical_name(name: &str) -> Result<String, NameError> {
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
    let canonical = strip_parser_hint(name)?;
    if !parsing::is_supported(&canonical) {
        return Err(NameError::Unsupported);
    }
    Ok(canonical)
}

/// `name.[engine].ext` or `name.[engine-options].ext` → `name.ext`.
fn strip_parser_hint(name: &str) -> Result<String, NameError> {
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return Ok(name.to_owned());
    };
    let Some(hinted) = stem.strip_suffix(']') else {
        return Ok(name.to_owned());
    };
    let Some((base, hint)) = hinted.rsplit_once(".[") else {
        return Err(NameError::MalformedHint(name.to_owned()));
    };
    let engine = hint.split('-').next().unwrap_or_default();
    if base.is_empty() || !HINT_ENGINES.contains(&engine) {
        return Err(NameError::UnsupportedHint(hint.to_owned()));
    }
    Ok(format!("{base}.{ext}"))
}

/// The text of `file_name` in `dir`, parsed within `limits`, or why it cannot be read.
pub fn parse(
    dir: &Path,
    file_name: &str,
    canonical: &str,
    limits: parsing::ParseLimits,
) -> Result<String, String> {
    let path = dir.join(file_name);
    let bytes = std::fs::read(&path).map_err(|e| format!("Cannot read {file_name}: {e}"))?;
    parsing::extract_text(canonical, &bytes, limits).map_err(|e| e.to_string())
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
        let long = format!("{}.txt", "a".repeat(MAX_NAME_BYTES - 3));
        assert_eq!(
            canonical_name(&long),
            Err(NameError::TooLong(MAX_NAME_BYTES + 1))
        );
        assert!(canonical_name(&long[1..]).is_ok());
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
                    Ok(again) if strip_parser_hint(&canonical) == Ok(canonical.clone()) => {
                        prop_assert_eq!(again, canonical);
                    }
                    Ok(_) | Err(NameError::MalformedHint(_) | NameError::UnsupportedHint(_)) => {}
                    Err(e) => prop_assert!(false, "{canonical:?} refused: {e}"),
                }
            }
        }
    }
}
