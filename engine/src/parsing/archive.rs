//! Zip containers (docx, pptx, odt, xlsx, epub, textpack): only named parts are read,
//! each inflated only up to what is left of the parse budget's decoded bytes and of
//! [`MAX_EXTRACTED_BYTES`](super::MAX_EXTRACTED_BYTES) of XML, so a zip bomb stops
//! decompressing at the first of the two; an archive listing more entries than any
//! real document has is refused before anything is inflated.

use std::io::{Cursor, Read};

use super::ParseError;
use super::budget::Budget;

/// Upper bound on the entries of one archive (a large epub has a few thousand).
const MAX_ENTRIES: usize = 100_000;

pub struct Archive<'f, 'b> {
    zip: zip::ZipArchive<Cursor<&'f [u8]>>,
    kind: &'static str,
    xml_left: u64,
    budget: &'b mut Budget,
}

impl<'f, 'b> Archive<'f, 'b> {
    /// Opens `bytes` as the zip container of a `kind` document.
    pub fn open(
        bytes: &'f [u8],
        kind: &'static str,
        budget: &'b mut Budget,
    ) -> Result<Self, ParseError> {
        let zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| ParseError::Corrupt {
            kind,
            reason: e.to_string(),
        })?;
        let archive = Self {
            zip,
            kind,
            xml_left: super::MAX_EXTRACTED_BYTES,
            budget,
        };
        if archive.zip.len() > MAX_ENTRIES {
            return Err(archive.corrupt(format!("more than {MAX_ENTRIES} entries")));
        }
        Ok(archive)
    }

    /// The error for this document being unreadable.
    pub fn corrupt(&self, reason: String) -> ParseError {
        ParseError::Corrupt {
            kind: self.kind,
            reason,
        }
    }

    pub fn budget(&mut self) -> &mut Budget {
        self.budget
    }

    /// The names of the archive's entries (names that are not UTF-8 left out).
    pub fn names(&self) -> impl Iterator<Item = String> + '_ {
        self.zip
            .file_names()
            .filter_map(|name| name.ok().map(|name| name.into_owned()))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.zip.index_for_name(name).is_some()
    }

    /// Reads one part as UTF-8, charging its decompressed size.
    pub fn read(&mut self, name: &str) -> Result<String, ParseError> {
        let kind = self.kind;
        let corrupt = |reason: String| ParseError::Corrupt { kind, reason };
        let cap = self.xml_left.min(self.budget.decoded_left());
        let part = self
            .zip
            .by_name(name)
            .map_err(|e| corrupt(format!("{name}: {e}")))?;
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
        if xml.starts_with(b"\xEF\xBB\xBF") {
            xml.drain(..3);
        }
        String::from_utf8(xml).map_err(|_| corrupt(format!("{name} is not UTF-8")))
    }

    /// [`read`](Self::read) for a part the format does not require.
    pub fn read_optional(&mut self, name: &str) -> Result<Option<String>, ParseError> {
        if !self.contains(name) {
            return Ok(None);
        }
        self.read(name).map(Some)
    }
}

#[cfg(test)]
pub mod tests {
    use std::io::Write;

    use super::super::budget::{Exceeded, ParseLimits};
    use super::*;

    /// A deflated zip of `parts`, for the tests of every zip-based format.
    pub fn zip_of(parts: &[(&str, &[u8])]) -> Vec<u8> {
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
    fn parts_are_charged_and_bombs_stopped() {
        let limit = 4 * 1024 * 1024;
        let spaces = vec![b' '; limit as usize + 10];
        let bomb = zip_of(&[("a.xml", &spaces), ("b.xml", b"\xEF\xBB\xBF<b/>")]);
        assert!(bomb.len() < 64 * 1024, "the bomb compresses well");
        let mut budget = Budget::new(ParseLimits {
            max_decoded_bytes: limit,
            ..ParseLimits::default()
        });
        let mut archive = Archive::open(&bomb, "docx", &mut budget).unwrap();
        assert_eq!(archive.read("b.xml").unwrap(), "<b/>");
        assert_eq!(archive.read_optional("c.xml").unwrap(), None);
        assert_eq!(
            archive.read("a.xml"),
            Err(ParseError::OverBudget(Exceeded::DecodedBytes(limit)))
        );
        assert!(matches!(
            archive.read("c.xml"),
            Err(ParseError::Corrupt { kind: "docx", .. })
        ));
    }

    #[test]
    fn not_a_zip_is_corrupt() {
        let mut budget = Budget::new(ParseLimits::default());
        assert!(matches!(
            Archive::open(b"PK\x03\x04trunc", "epub", &mut budget),
            Err(ParseError::Corrupt { kind: "epub", .. })
        ));
    }
}
