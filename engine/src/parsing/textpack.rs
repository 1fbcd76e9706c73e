//! TextBundle packs (`.textpack`, as Bear and Ulysses export): a zip of a bundle
//! folder holding `text.markdown` (or `text.md`, `text.txt`), `info.json` and
//! `assets/`. The text file is the document, Markdown as written; it is found at the
//! archive's root or in its one top-level folder, and read through [`Archive`]'s bounds.

use super::ParseError;
use super::archive::Archive;
use super::budget::Budget;

/// The names the text of a bundle goes by, in the order they are looked for.
const TEXT_FILES: &[&str] = &["text.markdown", "text.md", "text.txt"];

pub fn text(bytes: &[u8], budget: &mut Budget) -> Result<String, ParseError> {
    let mut archive = Archive::open(bytes, "textpack", budget)?;
    let mut found: Option<(usize, String)> = None;
    for name in archive.names() {
        let (folder, file) = name.rsplit_once('/').unwrap_or(("", &name));
        let Some(rank) = TEXT_FILES.iter().position(|t| *t == file) else {
            continue;
        };
        if folder.contains('/') || found.as_ref().is_some_and(|(best, _)| *best <= rank) {
            continue;
        }
        found = Some((rank, name.clone()));
    }
    let (_, name) = found.ok_or_else(|| {
        archive.corrupt("no text.markdown, text.md or text.txt in the bundle".to_owned())
    })?;
    archive.read(&name)
}

#[cfg(test)]
mod tests {
    use super::super::archive::tests::zip_of;
    use super::super::budget::{Exceeded, ParseLimits};
    use super::*;

    fn text(bytes: &[u8]) -> Result<String, ParseError> {
        super::text(bytes, &mut Budget::new(ParseLimits::default()))
    }

    #[test]
    fn the_bundle_text_is_the_document() {
        let pack = zip_of(&[
            ("Note.textbundle/info.json", b"{}"),
            ("Note.textbundle/text.txt", b"plain"),
            ("Note.textbundle/text.markdown", b"# Note\n\nBody"),
            ("Note.textbundle/assets/deep/text.md", b"not this"),
        ]);
        assert_eq!(text(&pack).unwrap(), "# Note\n\nBody");
        let flat = zip_of(&[("text.md", b"## Flat")]);
        assert_eq!(text(&flat).unwrap(), "## Flat");
    }

    #[test]
    fn broken_packs_are_errors() {
        let err = text(&zip_of(&[("info.json", b"{}")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no text.markdown"), "{err}");
        assert!(matches!(
            text(&zip_of(&[("text.md", b"\xff\xfe")])),
            Err(ParseError::Corrupt {
                kind: "textpack",
                ..
            })
        ));
        assert!(matches!(text(b"nope"), Err(ParseError::Corrupt { .. })));
        let big = vec![b'a'; 2048];
        let mut budget = Budget::new(ParseLimits {
            max_decoded_bytes: 1024,
            ..ParseLimits::default()
        });
        assert_eq!(
            super::text(&zip_of(&[("text.md", &big)]), &mut budget),
            Err(ParseError::OverBudget(Exceeded::DecodedBytes(1024)))
        );
    }
}
