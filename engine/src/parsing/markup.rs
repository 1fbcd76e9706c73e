//! Text out of HTML and XML: tags dropped, `script`/`style` contents skipped, the
//! common entities decoded, block boundaries kept as line breaks so sentences of
//! different paragraphs do not run together.
//!
//! Both walks are linear in their input: every search starts where the previous one
//! ended and consumes what it scanned, and each tag is charged to the parse budget.

use super::budget::{Budget, Exceeded};

/// Elements whose end starts a new line of text.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "br",
    "li",
    "tr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "section",
    "article",
    "table",
    "ul",
    "ol",
    "title",
    "blockquote",
    "pre",
    "header",
    "footer",
];

pub fn html_text(html: &str, budget: &mut Budget) -> Result<String, Exceeded> {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        budget.charge_operation()?;
        out.push_str(&decode_entities(&rest[..open]));
        rest = &rest[open..];
        if let Some(comment) = rest.strip_prefix("<!--") {
            rest = comment.find("-->").map_or("", |end| &comment[end + 3..]);
            continue;
        }
        let Some(close) = rest.find('>') else {
            rest = "";
            break;
        };
        let tag = &rest[1..close];
        rest = &rest[close + 1..];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if !tag.starts_with('/') && (name == "script" || name == "style") {
            let end = format!("</{name}");
            rest = find_ignore_case(rest, &end).map_or("", |at| {
                let after = &rest[at..];
                after.find('>').map_or("", |gt| &after[gt + 1..])
            });
            continue;
        }
        if BLOCKS.contains(&name.as_str()) {
            out.push('\n');
        } else {
            out.push(' ');
        }
    }
    out.push_str(&decode_entities(rest));
    Ok(tidy(&out))
}

/// The element text of an XML part, each element listed in `paragraphs` ending a line.
pub fn xml_text(xml: &str, paragraphs: &[&str], budget: &mut Budget) -> Result<String, Exceeded> {
    let mut out = String::with_capacity(xml.len() / 4);
    let mut rest = xml;
    while let Some(open) = rest.find('<') {
        budget.charge_operation()?;
        out.push_str(&decode_entities(&rest[..open]));
        let Some(close) = rest[open..].find('>') else {
            rest = "";
            break;
        };
        let tag = &rest[open + 1..open + close];
        rest = &rest[open + close + 1..];
        let name = tag
            .trim_start_matches('/')
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or_default();
        if paragraphs.contains(&name) && (tag.starts_with('/') || tag.ends_with('/')) {
            out.push('\n');
        } else if name.ends_with(":tab") || name.ends_with(":br") {
            out.push(' ');
        }
    }
    out.push_str(&decode_entities(rest));
    Ok(tidy(&out))
}

/// Where the ASCII `needle` first occurs in `haystack`, ignoring ASCII case. Nothing is
/// copied: lower-casing the rest of the document at every `<script>` made parsing
/// quadratic.
fn find_ignore_case(haystack: &str, needle: &str) -> Option<usize> {
    let needle = needle.as_bytes();
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|window| window.eq_ignore_ascii_case(needle))
}

fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest[1..]
            .find(';')
            .filter(|&end| end <= 10)
            .and_then(|end| {
                let name = &rest[1..=end];
                let c = match name {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    "nbsp" => Some(' '),
                    _ => name
                        .strip_prefix("#x")
                        .or_else(|| name.strip_prefix("#X"))
                        .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                        .or_else(|| name.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                        .and_then(char::from_u32),
                }?;
                Some((c, end + 2))
            });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Collapses runs of spaces inside lines and drops blank lines.
fn tidy(text: &str) -> String {
    text.lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::super::budget::ParseLimits;
    use super::*;

    fn html(text: &str) -> String {
        html_text(text, &mut Budget::new(ParseLimits::default())).unwrap()
    }

    fn xml(text: &str, paragraphs: &[&str]) -> String {
        xml_text(text, paragraphs, &mut Budget::new(ParseLimits::default())).unwrap()
    }

    #[test]
    fn html_keeps_text_and_paragraphs_only() {
        let page = "<html><head><title>T</title><style>p{color:red}</style>\
            <script>alert('<p>x</p>')</script></head><body><p>Alpha &amp; <b>Beta</b></p>\
            <!-- hidden --><div>Gamma&#33; &#x263A; &bogus; &</div></body></html>";
        assert_eq!(html(page), "T\nAlpha & Beta\nGamma! \u{263A} &bogus; &");
    }

    #[test]
    fn unterminated_markup_does_not_loop_or_panic() {
        assert_eq!(html("a <b"), "a");
        assert_eq!(html("<script>never closed"), "");
        assert_eq!(html("x <!-- open"), "x");
        assert_eq!(xml("<w:t>a</w:t><w:p", &["w:p"]), "a");
    }

    #[test]
    fn xml_paragraph_ends_break_lines() {
        let part = r#"<w:p><w:r><w:t>One</w:t></w:r></w:p><w:p><w:r><w:t xml:space="preserve">Two &lt;2&gt;</w:t></w:r></w:p>"#;
        assert_eq!(xml(part, &["w:p"]), "One\nTwo <2>");
    }

    #[test]
    fn script_and_style_blocks_are_skipped_in_one_pass() {
        let page = "<p>kept</p>".to_owned() + &"<SCRIPT>x</Script><style>y</style>".repeat(50_000);
        assert_eq!(html(&page), "kept");
    }

    #[test]
    fn every_tag_is_charged_to_the_budget() {
        let limits = ParseLimits {
            max_operations: 3,
            ..ParseLimits::default()
        };
        let mut budget = Budget::new(limits);
        assert_eq!(
            html_text("<a><b><c><d>", &mut budget),
            Err(Exceeded::Operations(3))
        );
        let mut budget = Budget::new(limits);
        assert_eq!(
            xml_text("<a><b><c><d>", &[], &mut budget),
            Err(Exceeded::Operations(3))
        );
    }
}
