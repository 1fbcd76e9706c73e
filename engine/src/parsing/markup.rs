//! Text out of HTML and XML: tags dropped, `script`/`style` contents skipped, the
//! common entities decoded, block boundaries kept as line breaks so sentences of
//! different paragraphs do not run together, and headings (HTML's `h1`-`h6`, the
//! paragraphs an XML format's caller names) kept as Markdown heading lines, which is
//! how the chunker sees a document's structure (see `parsing::has_headings`).
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
    let mut out = Lines::with_capacity(html.len() / 2);
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        budget.charge_operation()?;
        out.text(&decode_entities(&rest[..open]));
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
        let opens = !tag.starts_with('/');
        if opens && (name == "script" || name == "style") {
            let end = format!("</{name}");
            rest = find_ignore_case(rest, &end).map_or("", |at| {
                let after = &rest[at..];
                after.find('>').map_or("", |gt| &after[gt + 1..])
            });
            continue;
        }
        match html_heading_level(&name) {
            Some(level) if opens => out.start_heading(level),
            Some(_) => out.end_line(),
            None if BLOCKS.contains(&name.as_str()) => out.break_line(),
            _ => out.text(" "),
        }
    }
    out.text(&decode_entities(rest));
    Ok(out.finish())
}

/// `h1`..`h6`'s level.
fn html_heading_level(name: &str) -> Option<usize> {
    let level = name.strip_prefix('h')?.parse().ok()?;
    (1..=6).contains(&level).then_some(level)
}

/// The element text of an XML part, each element listed in `paragraphs` ending a line.
/// `heading` sees every start tag (a paragraph's own and those inside it) and names the
/// heading level it gives the current paragraph, if any (0: body text after all); the
/// last one named wins, and a heading paragraph becomes one Markdown heading line.
pub fn xml_text(
    xml: &str,
    paragraphs: &[&str],
    mut heading: impl FnMut(&str) -> Option<usize>,
    budget: &mut Budget,
) -> Result<String, Exceeded> {
    let mut out = Lines::with_capacity(xml.len() / 4);
    for token in tokens(xml) {
        budget.charge_operation()?;
        let tag = match token {
            Token::Text(text) => {
                out.text(&decode_entities(text));
                continue;
            }
            Token::Tag(tag) => tag,
        };
        let name = tag_name(tag);
        if is_start(tag)
            && let Some(level) = heading(tag)
        {
            out.mark_heading(level);
        }
        if paragraphs.contains(&name) && is_end(tag) {
            out.end_line();
        } else if name.ends_with(":tab") || name.ends_with(":br") {
            out.text(" ");
        }
    }
    Ok(out.finish())
}

/// A piece of an XML document: text as written (entities not decoded), or the inside
/// of a tag (`w:p w:rsidR="1"`, `/w:p`, `w:br/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token<'a> {
    Text(&'a str),
    Tag(&'a str),
}

/// The pieces of `xml` in order, comments skipped; an unterminated tag ends it. Each
/// step consumes what it scanned, so a walk is linear in the input.
pub fn tokens(xml: &str) -> impl Iterator<Item = Token<'_>> {
    let mut rest = xml;
    std::iter::from_fn(move || {
        loop {
            if rest.is_empty() {
                return None;
            }
            let Some(open) = rest.find('<') else {
                return Some(Token::Text(std::mem::take(&mut rest)));
            };
            if open > 0 {
                let text = &rest[..open];
                rest = &rest[open..];
                return Some(Token::Text(text));
            }
            if let Some(comment) = rest.strip_prefix("<!--") {
                rest = comment.find("-->").map_or("", |end| &comment[end + 3..]);
                continue;
            }
            let Some(close) = rest.find('>') else {
                rest = "";
                return None;
            };
            let tag = &rest[1..close];
            rest = &rest[close + 1..];
            return Some(Token::Tag(tag));
        }
    })
}

/// Whether a tag's inside opens an element (`/x` closes one; `x/` opens and closes).
pub fn is_start(tag: &str) -> bool {
    !tag.starts_with('/')
}

/// Whether a tag's inside closes an element, by an end tag or as an empty one.
pub fn is_end(tag: &str) -> bool {
    tag.starts_with('/') || tag.ends_with('/')
}

/// The element name of a tag's inside (`w:p w:rsidR="1"` → `w:p`, `/w:p` → `w:p`).
pub fn tag_name(tag: &str) -> &str {
    tag.trim_start_matches('/')
        .split(|c: char| c.is_whitespace() || c == '/')
        .next()
        .unwrap_or_default()
}

/// [`tag_name`] without its namespace prefix (`x:row` → `row`), for formats whose
/// producers prefix elements as they please.
pub fn local_name(tag: &str) -> &str {
    let name = tag_name(tag);
    name.rsplit_once(':').map_or(name, |(_, local)| local)
}

/// The value of attribute `name` in a tag's inside, entities not decoded.
pub fn attribute<'t>(tag: &'t str, name: &str) -> Option<&'t str> {
    let mut rest = tag;
    while let Some(at) = rest.find(name) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + name.len()..].trim_start();
        rest = &rest[at + name.len()..];
        if !before.is_some_and(char::is_whitespace) {
            continue;
        }
        let Some(value) = after.strip_prefix('=') else {
            continue;
        };
        let value = value.trim_start();
        let quote = value.chars().next().filter(|q| *q == '"' || *q == '\'')?;
        let value = &value[1..];
        return value.find(quote).map(|end| &value[..end]);
    }
    None
}

/// Text being laid out as lines: runs of spaces collapsed, blank lines dropped, a
/// heading as one `#`-prefixed line, and a body line that would read as a Markdown
/// heading escaped so it does not.
struct Lines {
    out: String,
    line: String,
    heading: Option<usize>,
}

impl Lines {
    fn with_capacity(bytes: usize) -> Self {
        Self {
            out: String::with_capacity(bytes),
            line: String::new(),
            heading: None,
        }
    }

    fn text(&mut self, text: &str) {
        self.line.push_str(text);
    }

    /// The current line is a heading of `level` (0: not a heading); a later mark
    /// overrides an earlier one (a docx paragraph's own outline level, its style's).
    /// Markdown has six levels: deeper ones are the sixth.
    fn mark_heading(&mut self, level: usize) {
        self.heading = (level > 0).then(|| level.min(6));
    }

    /// Ends the current line and starts a heading of `level`.
    fn start_heading(&mut self, level: usize) {
        self.end_line();
        self.mark_heading(level);
    }

    /// A block boundary inside a heading does not split it.
    fn break_line(&mut self) {
        if self.heading.is_some() {
            self.line.push(' ');
        } else {
            self.end_line();
        }
    }

    fn end_line(&mut self) {
        let line = std::mem::take(&mut self.line);
        match self.heading.take() {
            Some(level) => {
                let words: Vec<&str> = line.split_whitespace().collect();
                if !words.is_empty() {
                    self.out.push_str(&"#".repeat(level));
                    self.out.push(' ');
                    self.out.push_str(&words.join(" "));
                    self.out.push('\n');
                }
            }
            None => {
                for part in line.lines() {
                    let words: Vec<&str> = part.split_whitespace().collect();
                    if words.is_empty() {
                        continue;
                    }
                    if reads_as_heading(words[0]) {
                        self.out.push('\\');
                    }
                    self.out.push_str(&words.join(" "));
                    self.out.push('\n');
                }
            }
        }
    }

    fn finish(mut self) -> String {
        self.end_line();
        if self.out.ends_with('\n') {
            self.out.pop();
        }
        self.out
    }
}

/// Whether a line starting with `word` is a Markdown ATX heading.
fn reads_as_heading(word: &str) -> bool {
    (1..=6).contains(&word.len()) && word.bytes().all(|b| b == b'#')
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

pub fn decode_entities(text: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::super::budget::ParseLimits;
    use super::*;

    fn html(text: &str) -> String {
        html_text(text, &mut Budget::new(ParseLimits::default())).unwrap()
    }

    fn xml(text: &str, paragraphs: &[&str]) -> String {
        xml_text(
            text,
            paragraphs,
            |_| None,
            &mut Budget::new(ParseLimits::default()),
        )
        .unwrap()
    }

    #[test]
    fn html_keeps_text_and_paragraphs_only() {
        let page = "<html><head><title>T</title><style>p{color:red}</style>\
            <script>alert('<p>x</p>')</script></head><body><p>Alpha &amp; <b>Beta</b></p>\
            <!-- hidden --><div>Gamma&#33; &#x263A; &bogus; &</div></body></html>";
        assert_eq!(html(page), "T\nAlpha & Beta\nGamma! \u{263A} &bogus; &");
    }

    #[test]
    fn html_headings_become_markdown_lines() {
        let page = "<title>Page</title><h1 class=x>\n  Main <em>Title</em>\n</h1><p>Intro</p>\
            <h2><div>Boxed</div> <br>part</h2><H3>Upper</H3><h4></h4><p>## not a heading</p>\
            <p>#tag stays</p><h7>seven</h7>";
        assert_eq!(
            html(page),
            "Page\n# Main Title\nIntro\n## Boxed part\n### Upper\n\\## not a heading\n\
             #tag stays\nseven"
        );
    }

    #[test]
    fn attributes_are_read_by_exact_name() {
        let tag = r#"w:pStyle xw:val="no" w:val='Heading1'"#;
        assert_eq!(attribute(tag, "w:val"), Some("Heading1"));
        assert_eq!(attribute(tag, "val"), None);
        assert_eq!(attribute("w:p w:val=unquoted", "w:val"), None);
        assert_eq!(tag_name("/w:p"), "w:p");
        assert_eq!(tag_name("w:br/"), "w:br");
        assert_eq!(local_name("/x:row r=\"1\""), "row");
        assert_eq!(local_name("row"), "row");
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
            xml_text("<a><b><c><d>", &[], |_| None, &mut budget),
            Err(Exceeded::Operations(3))
        );
    }
}
