//! Office documents (docx, pptx, odt): zip archives whose text lives in XML parts, read
//! through [`Archive`]'s bounds. A docx or odt paragraph that is a heading becomes a
//! Markdown heading line (`# Title`, `## Part`), which is how the chunker learns the
//! document's structure: docx by its paragraph style (Heading 1..9 and Title, or any
//! style with an outline level, followed through `basedOn`) or its own outline level,
//! odt by `text:h` and its outline level.

use std::collections::HashMap;

use super::ParseError;
use super::archive::Archive;
use super::budget::Budget;
use super::markup::{Token, attribute, tag_name, tokens, xml_text};

/// Upper bound on slides read from one presentation.
const MAX_SLIDES: usize = 10_000;

/// How far a chain of `basedOn` styles is followed.
const MAX_STYLE_DEPTH: usize = 16;

pub fn text(ext: &str, bytes: &[u8], budget: &mut Budget) -> Result<String, ParseError> {
    match ext {
        "docx" => docx(&mut Archive::open(bytes, "docx", budget)?),
        "pptx" => pptx(&mut Archive::open(bytes, "pptx", budget)?),
        _ => odt(&mut Archive::open(bytes, "odt", budget)?),
    }
}

fn docx(archive: &mut Archive) -> Result<String, ParseError> {
    let styles = match archive.read_optional("word/styles.xml")? {
        Some(xml) => heading_styles(&xml, archive.budget())?,
        None => HashMap::new(),
    };
    let xml = archive.read("word/document.xml")?;
    let heading = |tag: &str| match tag_name(tag) {
        "w:pStyle" => styles.get(attribute(tag, "w:val")?).copied(),
        "w:outlineLvl" => outline_level(tag),
        _ => None,
    };
    Ok(xml_text(&xml, &["w:p"], heading, archive.budget())?)
}

/// `w:outlineLvl`'s heading level: its value 0..8 is Heading 1..9, 9 is body text (0).
fn outline_level(tag: &str) -> Option<usize> {
    let level: usize = attribute(tag, "w:val")?.parse().ok()?;
    Some(if level < 9 { level + 1 } else { 0 })
}

/// The heading level of every paragraph style of `styles.xml` that has one.
fn heading_styles(xml: &str, budget: &mut Budget) -> Result<HashMap<String, usize>, ParseError> {
    #[derive(Default)]
    struct Style {
        level: Option<usize>,
        based_on: Option<String>,
    }
    let mut styles: HashMap<String, Style> = HashMap::new();
    let mut current: Option<(String, Style)> = None;
    for token in tokens(xml) {
        budget.charge_operation()?;
        let Token::Tag(tag) = token else {
            continue;
        };
        match (tag_name(tag), tag.starts_with('/'), current.as_mut()) {
            ("w:style", false, _) => {
                let paragraph = attribute(tag, "w:type") == Some("paragraph");
                current = attribute(tag, "w:styleId")
                    .filter(|_| paragraph)
                    .map(|id| (id.to_owned(), Style::default()));
            }
            ("w:style", true, _) => {
                if let Some((id, style)) = current.take() {
                    styles.insert(id, style);
                }
            }
            ("w:name", false, Some((_, style))) => {
                let name = attribute(tag, "w:val")
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                if name == "title" {
                    style.level = style.level.or(Some(1));
                } else if let Some(n) = name.strip_prefix("heading ") {
                    style.level = style
                        .level
                        .or(n.parse().ok().filter(|n| (1..=9).contains(n)));
                }
            }
            ("w:outlineLvl", false, Some((_, style))) => style.level = outline_level(tag),
            ("w:basedOn", false, Some((_, style))) => {
                style.based_on = attribute(tag, "w:val").map(str::to_owned);
            }
            _ => {}
        }
    }
    let level_of = |id: &str| {
        let mut id = id;
        for _ in 0..MAX_STYLE_DEPTH {
            let style = styles.get(id)?;
            if style.level.is_some() {
                return style.level;
            }
            id = style.based_on.as_deref()?;
        }
        None
    };
    Ok(styles
        .keys()
        .filter_map(|id| Some((id.clone(), level_of(id)?)))
        .collect())
}

fn pptx(archive: &mut Archive) -> Result<String, ParseError> {
    let mut slides: Vec<(usize, String)> = archive
        .names()
        .filter_map(|name| {
            let n = name
                .strip_prefix("ppt/slides/slide")?
                .strip_suffix(".xml")?
                .parse()
                .ok()?;
            Some((n, name))
        })
        .take(MAX_SLIDES)
        .collect();
    slides.sort();
    if slides.is_empty() {
        return Err(archive.corrupt("no slides".to_owned()));
    }
    let mut out = Vec::with_capacity(slides.len());
    for (_, name) in slides {
        let xml = archive.read(&name)?;
        out.push(xml_text(&xml, &["a:p"], |_| None, archive.budget())?);
    }
    Ok(out.join("\n"))
}

fn odt(archive: &mut Archive) -> Result<String, ParseError> {
    let xml = archive.read("content.xml")?;
    let heading = |tag: &str| {
        (tag_name(tag) == "text:h").then(|| {
            attribute(tag, "text:outline-level")
                .and_then(|level| level.parse().ok())
                .unwrap_or(1)
        })
    };
    Ok(xml_text(
        &xml,
        &["text:p", "text:h"],
        heading,
        archive.budget(),
    )?)
}

#[cfg(test)]
mod tests {
    use super::super::archive::tests::zip_of;
    use super::super::budget::{Exceeded, ParseLimits};
    use super::*;

    fn text(ext: &str, bytes: &[u8]) -> Result<String, ParseError> {
        super::text(ext, bytes, &mut Budget::new(ParseLimits::default()))
    }

    #[test]
    fn docx_paragraphs_become_lines() {
        let doc = zip_of(&[(
            "word/document.xml",
            b"<w:document><w:body><w:p><w:r><w:t>Hello</w:t></w:r></w:p><w:p><w:r><w:t>World</w:t></w:r></w:p></w:body></w:document>",
        )]);
        assert_eq!(text("docx", &doc).unwrap(), "Hello\nWorld");
    }

    #[test]
    fn docx_headings_by_style_and_outline_level() {
        let styles = br#"<w:styles>
            <w:style w:type="paragraph" w:styleId="Titre"><w:name w:val="Title"/></w:style>
            <w:style w:type="paragraph" w:styleId="berschrift2"><w:name w:val="heading 2"/></w:style>
            <w:style w:type="paragraph" w:styleId="Mine"><w:name w:val="Mine"/><w:basedOn w:val="berschrift2"/></w:style>
            <w:style w:type="paragraph" w:styleId="Deep"><w:name w:val="Deep"/><w:pPr><w:outlineLvl w:val="7"/></w:pPr></w:style>
            <w:style w:type="character" w:styleId="Heading1Char"><w:name w:val="heading 1"/></w:style>
        </w:styles>"#;
        let p = |style: &str, extra: &str, text: &str| {
            format!(
                r#"<w:p><w:pPr><w:pStyle w:val="{style}"/>{extra}</w:pPr><w:r><w:t>{text}</w:t></w:r></w:p>"#
            )
        };
        let body = [
            p("Titre", "", "The Title"),
            p("Normal", "", "# not a heading"),
            p("berschrift2", "", "Part  <b>Two</b>"),
            p("Mine", "", "Inherited"),
            p("Deep", "", "Eight"),
            p("Normal", r#"<w:outlineLvl w:val="2"/>"#, "Direct"),
            p("berschrift2", r#"<w:outlineLvl w:val="9"/>"#, "Body again"),
            p("Heading1Char", "", "Plain"),
        ]
        .concat();
        let doc = zip_of(&[
            ("word/styles.xml", styles),
            (
                "word/document.xml",
                format!("<w:body>{body}</w:body>").as_bytes(),
            ),
        ]);
        assert_eq!(
            text("docx", &doc).unwrap(),
            "# The Title\n\\# not a heading\n## Part Two\n## Inherited\n###### Eight\n\
             ### Direct\nBody again\nPlain"
        );
    }

    #[test]
    fn odt_headings_by_outline_level() {
        let doc = zip_of(&[(
            "content.xml",
            br#"<office:text><text:h text:outline-level="1">Top</text:h><text:p>Body</text:p><text:h text:outline-level="3">Third</text:h><text:h>Bare</text:h></office:text>"#,
        )]);
        assert_eq!(text("odt", &doc).unwrap(), "# Top\nBody\n### Third\n# Bare");
    }

    #[test]
    fn pptx_slides_in_numeric_order() {
        let deck = zip_of(&[
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
        let missing = zip_of(&[("other.xml", b"<x/>")]);
        assert!(matches!(
            text("docx", &missing),
            Err(ParseError::Corrupt { .. })
        ));
        let styles = "<w:style w:type=\"paragraph\" w:styleId=\"a\">".repeat(100);
        let doc = zip_of(&[
            ("word/styles.xml", styles.as_bytes()),
            ("word/document.xml", b"<w:p>x</w:p>"),
        ]);
        let mut budget = Budget::new(ParseLimits {
            max_operations: 50,
            ..ParseLimits::default()
        });
        assert_eq!(
            super::text("docx", &doc, &mut budget),
            Err(ParseError::OverBudget(Exceeded::Operations(50)))
        );
    }
}
