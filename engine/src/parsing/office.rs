//! Office documents (docx, pptx, odt): zip archives whose text lives in XML parts. Only
//! the named parts are read, each inflated only up to what is left of the parse
//! budget's decoded bytes and of [`MAX_EXTRACTED_BYTES`](super::MAX_EXTRACTED_BYTES)
//! of XML, so a zip bomb stops decompressing at the first of the two.

use std::io::{Cursor, Read};

use super::ParseError;
use super::budget::Budget;
use super::markup::xml_text;

/// Upper bound on slides read from one presentation.
const MAX_SLIDES: usize = 10_000;

pub fn text(ext: &str, bytes: &[u8], budget: &mut Budget) -> Result<String, ParseError> {
    let kind = match ext {
        "docx" => "docx",
        "pptx" => "pptx",
        _ => "odt",
    };
    let corrupt = |reason: String| ParseError::Corrupt { kind, reason };
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| corrupt(e.to_string()))?;
    let mut parts = Parts {
        xml_left: super::MAX_EXTRACTED_BYTES,
        budget,
    };
    match kind {
        "docx" => {
            let xml = parts.read(&mut archive, "word/document.xml", kind)?;
            Ok(xml_text(&xml, &["w:p"], parts.budget)?)
        }
        "pptx" => {
            let mut slides: Vec<(usize, String)> = archive
                .file_names()
                .filter_map(|name| {
                    let name = name.ok()?;
                    let n = name
                        .strip_prefix("ppt/slides/slide")?
                        .strip_suffix(".xml")?
                        .parse()
                        .ok()?;
                    Some((n, name.to_string()))
                })
                .take(MAX_SLIDES)
                .collect();
            slides.sort();
            if slides.is_empty() {
                return Err(corrupt("no slides".to_owned()));
            }
            let mut out = Vec::with_capacity(slides.len());
            for (_, name) in slides {
                let xml = parts.read(&mut archive, &name, kind)?;
                out.push(xml_text(&xml, &["a:p"], parts.budget)?);
            }
            Ok(out.join("\n"))
        }
        _ => {
            let xml = parts.read(&mut archive, "content.xml", kind)?;
            Ok(xml_text(&xml, &["text:p", "text:h"], parts.budget)?)
        }
    }
}

/// What reading the archive's parts may still inflate.
struct Parts<'b> {
    xml_left: u64,
    budget: &'b mut Budget,
}

impl Parts<'_> {
    /// Reads one part as UTF-8, charging its decompressed size.
    fn read(
        &mut self,
        archive: &mut zip::ZipArchive<Cursor<&[u8]>>,
        name: &str,
        kind: &'static str,
    ) -> Result<String, ParseError> {
        let corrupt = |reason: String| ParseError::Corrupt { kind, reason };
        let part = archive
            .by_name(name)
            .map_err(|e| corrupt(format!("{name}: {e}")))?;
        let cap = self.xml_left.min(self.budget.decoded_left());
        let mut xml = Vec::new();
        // One byte past the cap tells an exact fit from an overflow.
        part.take(cap.saturating_add(1))
            .read_to_end(&mut xml)
            .map_err(|e| corrupt(format!("{name}: {e}")))?;
        let len = xml.len() as u64;
        if len > self.xml_left {
            return Err(ParseError::TooLarge);
        }
        self.budget.charge_decoded(len)?;
        self.xml_left -= len;
        String::from_utf8(xml).map_err(|_| corrupt(format!("{name} is not UTF-8")))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::super::budget::{Exceeded, ParseLimits};
    use super::*;

    fn text(ext: &str, bytes: &[u8]) -> Result<String, ParseError> {
        super::text(ext, bytes, &mut Budget::new(ParseLimits::default()))
    }

    fn archive(parts: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, body) in parts {
            out.start_file(*name, options).unwrap();
            out.write_all(body).unwrap();
        }
        out.finish().unwrap().into_inner()
    }

    #[test]
    fn docx_paragraphs_become_lines() {
        let doc = archive(&[(
            "word/document.xml",
            b"<w:document><w:body><w:p><w:r><w:t>Hello</w:t></w:r></w:p><w:p><w:r><w:t>World</w:t></w:r></w:p></w:body></w:document>",
        )]);
        assert_eq!(text("docx", &doc).unwrap(), "Hello\nWorld");
    }

    #[test]
    fn pptx_slides_in_numeric_order() {
        let deck = archive(&[
            ("ppt/slides/slide10.xml", b"<a:p><a:t>Ten</a:t></a:p>"),
            ("ppt/slides/slide2.xml", b"<a:p><a:t>Two</a:t></a:p>"),
        ]);
        assert_eq!(text("pptx", &deck).unwrap(), "Two\nTen");
    }

    #[test]
    fn hostile_archives_are_errors() {
        assert!(matches!(
            text("docx", b"PK\x03\x04trunc"),
            Err(ParseError::Corrupt { .. })
        ));
        let missing = archive(&[("other.xml", b"<x/>")]);
        assert!(matches!(
            text("docx", &missing),
            Err(ParseError::Corrupt { .. })
        ));
        let limit = 4 * 1024 * 1024;
        let zeros = vec![b' '; limit as usize + 10];
        let bomb = archive(&[("word/document.xml", &zeros)]);
        assert!(bomb.len() < 64 * 1024, "the bomb compresses well");
        let mut budget = Budget::new(ParseLimits {
            max_decoded_bytes: limit,
            ..ParseLimits::default()
        });
        assert_eq!(
            super::text("docx", &bomb, &mut budget),
            Err(ParseError::OverBudget(Exceeded::DecodedBytes(limit)))
        );
    }
}
