//! PDF text through lopdf, page by page. Encrypted, truncated or otherwise unreadable
//! files are errors; pages whose text cannot be decoded are skipped.

use super::ParseError;

/// Upper bound on pages read from one file.
const MAX_PAGES: usize = 20_000;

pub fn text(bytes: &[u8]) -> Result<String, ParseError> {
    let corrupt = |reason: String| ParseError::Corrupt {
        kind: "pdf",
        reason,
    };
    let doc = lopdf::Document::load_mem(bytes).map_err(|e| corrupt(e.to_string()))?;
    if doc.is_encrypted() {
        return Err(corrupt("the file is encrypted".to_owned()));
    }
    let mut out = String::new();
    for page in doc.get_pages().into_keys().take(MAX_PAGES) {
        if let Ok(text) = doc.extract_text(&[page]) {
            out.push_str(text.trim_end());
            out.push('\n');
            if out.len() as u64 > super::MAX_EXTRACTED_BYTES {
                return Err(ParseError::TooLarge);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-page PDF, shared with the black-box upload tests.
    const SAMPLE: &[u8] = include_bytes!("../../../tests/fixtures/curie.pdf");

    #[test]
    fn reads_page_text() {
        let text = text(SAMPLE).unwrap();
        assert!(text.contains("Marie Curie discovered Polonium"), "{text:?}");
    }

    #[test]
    fn truncated_and_garbage_files_are_errors() {
        for cut in [10, SAMPLE.len() / 3] {
            let truncated = super::super::extract_text("a.pdf", &SAMPLE[..cut]);
            assert!(truncated.is_err(), "{cut}: {truncated:?}");
        }
        assert!(text(b"not a pdf at all").is_err());
        assert!(text(b"").is_err());
    }
}
