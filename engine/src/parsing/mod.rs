//! Turning an uploaded file into the text the pipeline indexes. Every parser here works
//! on untrusted bytes: it returns an error for anything it cannot read (the document is
//! marked failed with that message) and never panics, allocates without bound, or
//! follows what a file says about the filesystem.

mod budget;
mod content_scan;
#[cfg(test)]
mod fuzz;
mod markup;
mod object_streams;
mod office;
mod pdf;

use thiserror::Error;

pub use budget::{Exceeded, ParseLimits};

/// Extensions read as UTF-8 text, as LightRAG's legacy parser reads them.
const PLAIN_TEXT: &[&str] = &[
    "txt",
    "md",
    "mdx",
    "tex",
    "csv",
    "json",
    "xml",
    "yaml",
    "yml",
    "log",
    "conf",
    "ini",
    "properties",
    "sql",
    "bat",
    "sh",
    "c",
    "h",
    "cpp",
    "hpp",
    "py",
    "java",
    "js",
    "ts",
    "swift",
    "go",
    "rb",
    "php",
    "css",
    "scss",
    "less",
];
const HTML: &[&str] = &["html", "htm", "xhtml"];
/// Office formats: zip archives of XML parts.
const OFFICE: &[&str] = &["docx", "pptx", "odt"];
const PDF: &[&str] = &["pdf"];

/// The one engine we ship, under LightRAG's name for its in-process parsers.
pub const ENGINE: &str = "native";

/// Largest amount of text one document may yield; beyond it the file is refused rather
/// than exhausting memory. What parsing may decode on the way is [`ParseLimits`]'.
pub const MAX_EXTRACTED_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("Unsupported file type: {0}")]
    Unsupported(String),
    #[error("File is not valid UTF-8 text")]
    NotUtf8,
    #[error("File contains no text content")]
    Empty,
    #[error("Corrupt or unreadable {kind} file: {reason}")]
    Corrupt { kind: &'static str, reason: String },
    #[error("Extracted text exceeds {} MiB", MAX_EXTRACTED_BYTES / (1024 * 1024))]
    TooLarge,
    #[error("Document exceeds the parser's budget: {0}")]
    OverBudget(#[from] Exceeded),
}

/// Every supported extension with its dot, sorted, as `/documents/supported_file_types`
/// lists them.
pub fn supported_extensions() -> Vec<String> {
    let mut all: Vec<String> = [PLAIN_TEXT, HTML, OFFICE, PDF]
        .concat()
        .iter()
        .map(|e| format!(".{e}"))
        .collect();
    all.sort();
    all
}

/// The lower-cased extension of a file name, without its dot.
pub fn extension(file_name: &str) -> Option<String> {
    let (stem, ext) = file_name.rsplit_once('.')?;
    (!stem.is_empty() && !ext.is_empty()).then(|| ext.to_ascii_lowercase())
}

pub fn is_supported(file_name: &str) -> bool {
    extension(file_name).is_some_and(|ext| {
        [PLAIN_TEXT, HTML, OFFICE, PDF]
            .concat()
            .contains(&ext.as_str())
    })
}

/// Formats whose extracted text renders their headings as Markdown ATX lines.
const WITH_HEADINGS: &[&str] = &[
    "md", "mdx", "docx", "odt", "html", "htm", "xhtml", "epub", "textpack",
];

/// Whether the text extracted from `file_name` carries its headings as `#` lines (the
/// chunker then gives each chunk its heading path).
pub fn has_headings(file_name: &str) -> bool {
    extension(file_name).is_some_and(|ext| WITH_HEADINGS.contains(&ext.as_str()))
}

/// The text of a file, chosen by its extension, parsed within `limits`.
pub fn extract_text(
    file_name: &str,
    bytes: &[u8],
    limits: ParseLimits,
) -> Result<String, ParseError> {
    let ext = extension(file_name).unwrap_or_default();
    let ext = ext.as_str();
    let mut budget = budget::Budget::new(limits);
    // Third-party parsers get untrusted bytes: a panic in one is a failed document.
    let text = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if PLAIN_TEXT.contains(&ext) {
            utf8(bytes).map(str::to_owned)
        } else if HTML.contains(&ext) {
            Ok(markup::html_text(utf8(bytes)?, &mut budget)?)
        } else if OFFICE.contains(&ext) {
            office::text(ext, bytes, &mut budget)
        } else if PDF.contains(&ext) {
            pdf::text(bytes, &mut budget)
        } else {
            Err(ParseError::Unsupported(format!(".{ext}")))
        }
    }))
    .unwrap_or_else(|_| {
        Err(ParseError::Corrupt {
            kind: "document",
            reason: "the parser could not read it".to_owned(),
        })
    })?;
    if text.len() as u64 > MAX_EXTRACTED_BYTES {
        return Err(ParseError::TooLarge);
    }
    if text.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    Ok(text)
}

fn utf8(bytes: &[u8]) -> Result<&str, ParseError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|_| ParseError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extract(file_name: &str, bytes: &[u8]) -> Result<String, ParseError> {
        extract_text(file_name, bytes, ParseLimits::default())
    }

    #[test]
    fn extensions_are_case_insensitive_and_need_a_stem() {
        assert!(is_supported("Report.PDF"));
        assert!(is_supported("notes.md"));
        assert!(!is_supported(".md"));
        assert!(!is_supported("archive.zip"));
        assert!(!is_supported("README"));
    }

    #[test]
    fn plain_text_is_decoded_and_checked() {
        assert_eq!(extract("a.txt", b"\xEF\xBB\xBFhello").unwrap(), "hello");
        assert_eq!(extract("a.txt", b"\xff\xfe\x00"), Err(ParseError::NotUtf8));
        assert_eq!(extract("a.txt", b" \n "), Err(ParseError::Empty));
        assert_eq!(extract("a.txt", b""), Err(ParseError::Empty));
        assert!(matches!(
            extract("a.exe", b"MZ"),
            Err(ParseError::Unsupported(_))
        ));
    }

    #[test]
    fn structured_formats_have_headings() {
        assert!(has_headings("notes.MD") && has_headings("a.docx") && has_headings("p.html"));
        assert!(!has_headings("a.txt") && !has_headings("a.pdf") && !has_headings("md"));
    }

    #[test]
    fn supported_list_is_sorted_with_dots() {
        let all = supported_extensions();
        assert!(all.windows(2).all(|w| w[0] < w[1]));
        assert!(all.contains(&".docx".to_owned()) && all.contains(&".pdf".to_owned()));
    }
}
