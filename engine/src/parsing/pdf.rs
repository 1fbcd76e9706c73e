//! PDF text through lopdf, page by page, within the parse budget. Encrypted, truncated
//! or otherwise unreadable files are errors; pages whose text cannot be decoded are
//! skipped.
//!
//! lopdf's own `extract_text` inflates a page and collects all its operations before
//! reading any: 16 MiB of trivial operators took gigabytes. Here every stream is
//! inflated only up to what is left of the decoded-bytes budget, a page's content is
//! first scanned without building anything ([`content_scan`]) to charge its operations
//! and refuse an operation too large to build, and only then are its text operators
//! decoded, one operation at a time.

use std::collections::BTreeMap;

use lopdf::content::{Content, Operation};
use lopdf::{DecompressError, Document, Encoding, Object, ObjectId};

use super::ParseError;
use super::budget::Budget;
use super::content_scan;
use super::object_streams;

/// Upper bound on pages read from one file.
const MAX_PAGES: usize = 20_000;

fn corrupt(reason: String) -> ParseError {
    ParseError::Corrupt {
        kind: "pdf",
        reason,
    }
}

/// A lopdf error, told apart: decompression past the budget, or a corrupt file.
pub(super) fn lopdf_error(budget: &Budget, error: lopdf::Error) -> ParseError {
    match error {
        lopdf::Error::Decompress(DecompressError::MemoryLimitExceeded { .. }) => {
            ParseError::OverBudget(budget.decoded_exceeded())
        }
        other => corrupt(other.to_string()),
    }
}

pub fn text(bytes: &[u8], budget: &mut Budget) -> Result<String, ParseError> {
    let doc = object_streams::load(bytes, budget)?;
    if doc.is_encrypted() {
        return Err(corrupt("the file is encrypted".to_owned()));
    }
    let mut out = String::new();
    for page in doc.page_iter().take(MAX_PAGES) {
        budget.check_time()?;
        page_text(&doc, page, budget, &mut out)?;
        out.push('\n');
        if out.len() as u64 > super::MAX_EXTRACTED_BYTES {
            return Err(ParseError::TooLarge);
        }
    }
    Ok(out)
}

/// Appends the text of one page to `out`.
fn page_text(
    doc: &Document,
    page: ObjectId,
    budget: &mut Budget,
    out: &mut String,
) -> Result<(), ParseError> {
    let mut encodings: BTreeMap<Vec<u8>, Encoding<'_>> = BTreeMap::new();
    for (name, font) in doc.get_page_fonts(page).unwrap_or_default() {
        match font.get_font_encoding_with_limit(doc, budget.decoded_left_usize()) {
            Ok(encoding) => {
                encodings.insert(name, encoding);
            }
            Err(e @ lopdf::Error::Decompress(DecompressError::MemoryLimitExceeded { .. })) => {
                return Err(lopdf_error(budget, e));
            }
            Err(_) => {}
        }
    }
    let content = match doc.get_page_content_with_limit(page, budget.decoded_left_usize()) {
        Ok(content) => content,
        Err(e @ lopdf::Error::Decompress(_)) => return Err(lopdf_error(budget, e)),
        Err(_) => return Ok(()),
    };
    budget.charge_decoded(content.len() as u64)?;
    content_scan::charge(&content, budget)?;
    let mut encoding = None;
    for operation in Content::decode_iter(&content) {
        let Ok(operation) = operation else { break };
        show(&operation, &encodings, &mut encoding, out);
        // A font's map may turn one byte into a long string.
        if out.len() as u64 > super::MAX_EXTRACTED_BYTES {
            return Err(ParseError::TooLarge);
        }
    }
    Ok(())
}

/// The text one operation shows, as lopdf's `extract_text` reads it.
fn show<'a>(
    operation: &Operation,
    encodings: &'a BTreeMap<Vec<u8>, Encoding<'a>>,
    current: &mut Option<&'a Encoding<'a>>,
    out: &mut String,
) {
    let newline = |out: &mut String| {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
    };
    match operation.operator.as_str() {
        "Tf" => {
            *current = operation
                .operands
                .first()
                .and_then(|font| font.as_name().ok())
                .and_then(|name| encodings.get(name));
        }
        "Tj" | "TJ" => collect(out, *current, &operation.operands),
        "'" => {
            newline(out);
            collect(out, *current, &operation.operands);
        }
        "\"" => {
            newline(out);
            collect(
                out,
                *current,
                operation.operands.get(2..).unwrap_or_default(),
            );
        }
        "T*" | "ET" => newline(out),
        _ => {}
    }
}

fn collect(out: &mut String, encoding: Option<&Encoding<'_>>, operands: &[Object]) {
    let Some(encoding) = encoding else { return };
    for operand in operands {
        match operand {
            Object::String(bytes, _) => {
                // Undecodable strings are skipped, as lopdf skips them.
                let _ = encoding.write_to_string(bytes, out);
            }
            Object::Array(items) => {
                collect(out, Some(encoding), items);
                out.push(' ');
            }
            Object::Integer(i) if *i < -100 => out.push(' '),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::budget::{Exceeded, ParseLimits};
    use super::*;

    /// A one-page PDF, shared with the black-box upload tests.
    const SAMPLE: &[u8] = include_bytes!("../../../tests/fixtures/curie.pdf");

    fn text(bytes: &[u8]) -> Result<String, ParseError> {
        super::text(bytes, &mut Budget::new(ParseLimits::default()))
    }

    #[test]
    fn reads_page_text() {
        let text = text(SAMPLE).unwrap();
        assert!(text.contains("Marie Curie discovered Polonium"), "{text:?}");
    }

    /// A one-page PDF whose page content is `content`, compressed.
    pub(crate) fn pdf_with_content(content: Vec<u8>) -> Vec<u8> {
        use lopdf::{Stream, dictionary};
        let mut doc = Document::with_version("1.5");
        let pages = doc.new_object_id();
        let font = doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
        });
        let resources = doc.add_object(dictionary! {"Font" => dictionary! {"F1" => font}});
        let mut stream = Stream::new(dictionary! {}, content);
        stream.compress().unwrap();
        let contents = doc.add_object(stream);
        let page = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages, "Contents" => contents,
            "Resources" => resources,
        });
        doc.objects.insert(
            pages,
            Object::Dictionary(
                dictionary! {"Type" => "Pages", "Kids" => vec![page.into()], "Count" => 1},
            ),
        );
        let catalog = doc.add_object(dictionary! {"Type" => "Catalog", "Pages" => pages});
        doc.trailer.set("Root", catalog);
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap();
        out
    }

    /// 16 MiB of trivial operators in a file of a few kilobytes.
    fn bomb() -> Vec<u8> {
        let file = pdf_with_content(b"0 g\n".repeat(4 * 1024 * 1024));
        assert!(file.len() < 64 * 1024, "{}", file.len());
        file
    }

    #[test]
    fn text_operators_are_read_with_the_page_fonts() {
        let file = pdf_with_content(
            b"BT /F1 12 Tf (Hello) Tj [(bud) -200 (get)] TJ T* (next) ' ET".to_vec(),
        );
        assert_eq!(text(&file).unwrap().trim(), "Hellobud get \nnext");
    }

    #[test]
    fn a_content_bomb_stops_at_the_decoded_budget() {
        let limit = 1024 * 1024;
        let mut budget = Budget::new(ParseLimits {
            max_decoded_bytes: limit,
            ..ParseLimits::default()
        });
        assert_eq!(
            super::text(&bomb(), &mut budget),
            Err(ParseError::OverBudget(Exceeded::DecodedBytes(limit)))
        );
    }

    #[test]
    fn a_content_bomb_stops_at_the_operation_budget() {
        let mut budget = Budget::new(ParseLimits {
            max_operations: 1_000_000,
            ..ParseLimits::default()
        });
        assert_eq!(
            super::text(&bomb(), &mut budget),
            Err(ParseError::OverBudget(Exceeded::Operations(1_000_000)))
        );
    }

    #[test]
    fn truncated_and_garbage_files_are_errors() {
        for cut in [10, SAMPLE.len() / 3] {
            let truncated =
                super::super::extract_text("a.pdf", &SAMPLE[..cut], ParseLimits::default());
            assert!(truncated.is_err(), "{cut}: {truncated:?}");
        }
        assert!(text(b"not a pdf at all").is_err());
        assert!(text(b"").is_err());
    }
}
