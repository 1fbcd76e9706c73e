//! EPUB books: a zip whose `META-INF/container.xml` names the package document (OPF),
//! whose spine lists the content documents in reading order; each XHTML document is
//! read as HTML (headings kept as Markdown lines), all through [`Archive`]'s bounds.
//! LightRAG's legacy path decodes the zip itself as UTF-8 text, which fails; reading
//! the book is what a user uploading one expects.

use std::collections::HashMap;

use super::ParseError;
use super::archive::Archive;
use super::budget::Budget;
use super::markup::{Token, attribute, decode_entities, html_text, is_start, local_name, tokens};

/// Media types of the spine items that are read (other items, such as SVG pages, hold
/// no running text).
const DOCUMENTS: &[&str] = &["application/xhtml+xml", "text/html"];

pub fn text(bytes: &[u8], budget: &mut Budget) -> Result<String, ParseError> {
    let mut archive = Archive::open(bytes, "epub", budget)?;
    let container = archive.read("META-INF/container.xml")?;
    let package = first_attribute(&container, "rootfile", "full-path", archive.budget())?
        .ok_or_else(|| archive.corrupt("META-INF/container.xml names no rootfile".to_owned()))?;
    let opf = archive.read(&package)?;
    let base = package.rsplit_once('/').map_or("", |(dir, _)| dir);
    let spine = spine(&opf, base, archive.budget())?;
    if spine.is_empty() {
        return Err(archive.corrupt(format!("{package}: the spine lists no documents")));
    }
    let mut out = Vec::with_capacity(spine.len());
    for path in spine {
        let xhtml = archive.read(&path)?;
        out.push(html_text(&xhtml, archive.budget())?);
    }
    Ok(out.join("\n"))
}

/// The `name` attribute of the first `element` of `xml`.
fn first_attribute(
    xml: &str,
    element: &str,
    name: &str,
    budget: &mut Budget,
) -> Result<Option<String>, ParseError> {
    for token in tokens(xml) {
        budget.charge_operation()?;
        if let Token::Tag(tag) = token
            && is_start(tag)
            && local_name(tag) == element
            && let Some(value) = attribute(tag, name)
        {
            return Ok(Some(decode_entities(value)));
        }
    }
    Ok(None)
}

/// The archive paths of the spine's content documents, in reading order.
fn spine(opf: &str, base: &str, budget: &mut Budget) -> Result<Vec<String>, ParseError> {
    let mut manifest: HashMap<String, String> = HashMap::new();
    let mut order = Vec::new();
    for token in tokens(opf) {
        budget.charge_operation()?;
        let Token::Tag(tag) = token else {
            continue;
        };
        if !is_start(tag) {
            continue;
        }
        // Package documents may or may not prefix their elements (`opf:item`).
        match local_name(tag) {
            "item" => {
                let media = attribute(tag, "media-type").unwrap_or_default();
                if let (Some(id), Some(href), true) = (
                    attribute(tag, "id"),
                    attribute(tag, "href"),
                    DOCUMENTS.contains(&media),
                ) {
                    manifest.insert(id.to_owned(), resolve(base, &decode_entities(href)));
                }
            }
            "itemref" => {
                if let Some(id) = attribute(tag, "idref") {
                    order.push(id.to_owned());
                }
            }
            _ => {}
        }
    }
    Ok(order
        .iter()
        .filter_map(|id| manifest.get(id).cloned())
        .collect())
}

/// An href of the package document as an archive path: relative to the package's
/// folder, percent-escapes decoded, any fragment dropped.
fn resolve(base: &str, href: &str) -> String {
    let href = href.split('#').next().unwrap_or_default();
    let decoded = percent_decode(href);
    let joined = if base.is_empty() {
        decoded
    } else {
        format!("{base}/{decoded}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            ".." => {
                parts.pop();
            }
            "." | "" => {}
            part => parts.push(part),
        }
    }
    parts.join("/")
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::super::archive::tests::zip_of;
    use super::super::budget::{Exceeded, ParseLimits};
    use super::*;

    const CONTAINER: &[u8] = br#"<?xml version="1.0"?><container><rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>"#;
    const OPF: &[u8] = br#"<package><manifest>
        <item id="c2" href="text/chapter%202.xhtml" media-type="application/xhtml+xml"/>
        <item id="c1" href="text/one.xhtml#start" media-type="application/xhtml+xml"/>
        <item id="css" href="style.css" media-type="text/css"/>
        <item id="cover" href="cover.svg" media-type="image/svg+xml"/>
        </manifest><spine toc="ncx"><itemref idref="cover"/><itemref idref="c1"/><itemref idref="c2"/><itemref idref="css"/></spine></package>"#;

    fn book(opf: &[u8]) -> Vec<u8> {
        zip_of(&[
            ("mimetype", b"application/epub+zip"),
            ("META-INF/container.xml", CONTAINER),
            ("OEBPS/content.opf", opf),
            (
                "OEBPS/text/one.xhtml",
                b"<html><head><title>One</title></head><body><h1>Chapter One</h1><p>It began.</p></body></html>",
            ),
            (
                "OEBPS/text/chapter 2.xhtml",
                b"<html><body><h2>Part &amp; Two</h2><p>It ended.</p></body></html>",
            ),
        ])
    }

    fn text(bytes: &[u8]) -> Result<String, ParseError> {
        super::text(bytes, &mut Budget::new(ParseLimits::default()))
    }

    #[test]
    fn spine_order_with_headings() {
        assert_eq!(
            text(&book(OPF)).unwrap(),
            "One\n# Chapter One\nIt began.\n## Part & Two\nIt ended."
        );
    }

    #[test]
    fn broken_books_are_errors() {
        assert!(matches!(
            text(b"PK junk"),
            Err(ParseError::Corrupt { kind: "epub", .. })
        ));
        let no_spine = book(b"<package><manifest/><spine/></package>");
        let err = text(&no_spine).unwrap_err().to_string();
        assert!(err.contains("the spine lists no documents"), "{err}");
        let missing = book(br#"<package><manifest><item id="a" href="gone.xhtml" media-type="application/xhtml+xml"/></manifest><spine><itemref idref="a"/></spine></package>"#);
        let err = text(&missing).unwrap_err().to_string();
        assert!(err.contains("OEBPS/gone.xhtml"), "{err}");
        let no_container = zip_of(&[("mimetype", b"application/epub+zip")]);
        assert!(matches!(
            text(&no_container),
            Err(ParseError::Corrupt { .. })
        ));
    }

    #[test]
    fn chapters_are_charged_to_the_budget() {
        let mut budget = Budget::new(ParseLimits {
            max_operations: 20,
            ..ParseLimits::default()
        });
        assert_eq!(
            super::text(&book(OPF), &mut budget),
            Err(ParseError::OverBudget(Exceeded::Operations(20)))
        );
    }

    #[test]
    fn hrefs_resolve_inside_the_archive() {
        assert_eq!(resolve("OEBPS", "../x/a%20b.xhtml#f"), "x/a b.xhtml");
        assert_eq!(resolve("", "a.xhtml"), "a.xhtml");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
