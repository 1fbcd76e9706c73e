//! Bounded property runs over every document parser: random bytes, and valid files
//! mutated (bytes flipped, cut, spliced), must come back as text or a typed error
//! within the budget, never as a panic or an unbounded allocation.

use proptest::prelude::*;

use super::archive::tests::zip_of;
use super::{ParseError, ParseLimits, extract_text};

const PDF: &[u8] = include_bytes!("../../../tests/fixtures/curie.pdf");
const DOCX: &[u8] = include_bytes!("../../../tests/fixtures/lovelace.docx");
const HTML: &[u8] = b"<html><head><style>p{}</style><script>x<y</script></head>\
    <body><p>Alpha &amp; <b>Beta</b></p><!-- c --><div>Gamma&#33;</div></body></html>";

const RTF: &[u8] =
    br"{\rtf1\ansi\ansicpg1252{\fonttbl{\f0 Arial;}}\pard Caf\'e9 \u8212? {\*\x y}{\b bold}\par}";

fn xlsx() -> Vec<u8> {
    zip_of(&[
        (
            "xl/workbook.xml",
            br#"<workbook><sheets><sheet name="S" r:id="rId1"/></sheets></workbook>"#,
        ),
        (
            "xl/_rels/workbook.xml.rels",
            br#"<Relationships><Relationship Id="rId1" Type="x/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#,
        ),
        ("xl/sharedStrings.xml", b"<sst><si><t>Name</t></si></sst>"),
        (
            "xl/worksheets/sheet1.xml",
            br#"<worksheet><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="C2"><v>1.5</v></c></row></sheetData></worksheet>"#,
        ),
    ])
}

fn epub() -> Vec<u8> {
    zip_of(&[
        (
            "META-INF/container.xml",
            br#"<container><rootfiles><rootfile full-path="a/b.opf"/></rootfiles></container>"#,
        ),
        (
            "a/b.opf",
            br#"<package><manifest><item id="c" href="c.xhtml" media-type="application/xhtml+xml"/></manifest><spine><itemref idref="c"/></spine></package>"#,
        ),
        ("a/c.xhtml", b"<html><body><h1>T</h1><p>Text</p></body></html>"),
    ])
}

/// Small budgets, so that a hostile case hits them quickly.
fn limits() -> ParseLimits {
    ParseLimits {
        max_decoded_bytes: 4 * 1024 * 1024,
        max_operations: 200_000,
        timeout: std::time::Duration::from_secs(10),
    }
}

/// `sample` with a few bytes overwritten, a tail cut and some bytes spliced in.
fn mutated(sample: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        any::<prop::sample::Index>(),
        prop::collection::vec(any::<u8>(), 0..16),
        any::<prop::sample::Index>(),
    )
        .prop_map(move |(flips, cut, splice, at)| {
            let mut bytes = sample.clone();
            for (index, byte) in flips {
                let i = index.index(bytes.len());
                bytes[i] = byte;
            }
            bytes.truncate(cut.index(bytes.len() + 1).max(bytes.len() / 2));
            let at = at.index(bytes.len() + 1);
            bytes.splice(at..at, splice);
            bytes
        })
}

fn within_budget(result: Result<String, ParseError>) -> Result<(), TestCaseError> {
    if let Ok(text) = &result {
        prop_assert!(text.len() as u64 <= super::MAX_EXTRACTED_BYTES);
        prop_assert!(!text.trim().is_empty());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_escape(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        for name in [
            "a.pdf", "a.docx", "a.pptx", "a.odt", "a.html", "a.txt", "a.xlsx", "a.rtf", "a.epub",
            "a.textpack",
        ] {
            within_budget(extract_text(name, &bytes, limits()))?;
        }
    }

    #[test]
    fn mutated_pdf(bytes in mutated(PDF.to_vec())) {
        within_budget(extract_text("a.pdf", &bytes, limits()))?;
    }

    #[test]
    fn mutated_docx(bytes in mutated(DOCX.to_vec())) {
        within_budget(extract_text("a.docx", &bytes, limits()))?;
    }

    #[test]
    fn mutated_xlsx(bytes in mutated(xlsx())) {
        within_budget(extract_text("a.xlsx", &bytes, limits()))?;
    }

    #[test]
    fn mutated_epub(bytes in mutated(epub())) {
        within_budget(extract_text("a.epub", &bytes, limits()))?;
    }

    #[test]
    fn mutated_rtf(bytes in mutated(RTF.to_vec())) {
        within_budget(extract_text("a.rtf", &bytes, limits()))?;
    }

    #[test]
    fn mutated_html(bytes in mutated(HTML.to_vec())) {
        within_budget(extract_text("a.html", &bytes, limits()))?;
    }
}
