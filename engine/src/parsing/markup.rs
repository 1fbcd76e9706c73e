//! Text out of HTML and XML: tags dropped, `script`/`style` contents skipped, the
//! common entities decoded, block boundaries kept as line breaks so sentences of
//! different paragraphs do not run together.

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

pub fn html_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    while let Some(open) = rest.find('<') {
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
    tidy(&out)
}

/// The element text of an XML part, each element listed in `paragraphs` ending a line.
pub fn xml_text(xml: &str, paragraphs: &[&str]) -> String {
    let mut out = String::with_capacity(xml.len() / 4);
    let mut rest = xml;
    while let Some(open) = rest.find('<') {
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
    tidy(&out)
}

fn find_ignore_case(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .to_ascii_lowercase()
        .find(&needle.to_ascii_lowercase())
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
    use super::*;

    #[test]
    fn html_keeps_text_and_paragraphs_only() {
        let html = "<html><head><title>T</title><style>p{color:red}</style>\
            <script>alert('<p>x</p>')</script></head><body><p>Alpha &amp; <b>Beta</b></p>\
            <!-- hidden --><div>Gamma&#33; &#x263A; &bogus; &</div></body></html>";
        assert_eq!(
            html_text(html),
            "T\nAlpha & Beta\nGamma! \u{263A} &bogus; &"
        );
    }

    #[test]
    fn unterminated_markup_does_not_loop_or_panic() {
        assert_eq!(html_text("a <b"), "a");
        assert_eq!(html_text("<script>never closed"), "");
        assert_eq!(html_text("x <!-- open"), "x");
        assert_eq!(xml_text("<w:t>a</w:t><w:p", &["w:p"]), "a");
    }

    #[test]
    fn xml_paragraph_ends_break_lines() {
        let xml = r#"<w:p><w:r><w:t>One</w:t></w:r></w:p><w:p><w:r><w:t xml:space="preserve">Two &lt;2&gt;</w:t></w:r></w:p>"#;
        assert_eq!(xml_text(xml, &["w:p"]), "One\nTwo <2>");
    }
}
