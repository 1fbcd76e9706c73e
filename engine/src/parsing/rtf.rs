//! Rich Text Format, read by a bounded control-word reader rather than as UTF-8 text
//! (LightRAG's legacy path decodes the raw markup, control words and all). Groups
//! nest `{ }`; `\par`, `\line`, `\row` and `\page` end lines and `\tab`/`\cell`
//! separate; `\uN` is a Unicode character followed by `\ucN` fallback characters that
//! are skipped; `\'hh` bytes (and raw 8-bit bytes) are decoded in the document's code
//! page (`\ansicpg`, Windows-1252 by default); destinations that hold no body text
//! (font, colour and style tables, document info, pictures, objects, headers and
//! footers, field instructions, and every `\*` destination) are skipped whole;
//! `\binN` skips N raw bytes. Every token is an operation of the parse budget, and
//! nesting deeper than any real document's is refused.

use encoding_rs::{Encoding, WINDOWS_1252};

use super::ParseError;
use super::budget::Budget;

/// Deepest group nesting accepted.
const MAX_DEPTH: usize = 1_000;

/// Destinations whose text is not the document's body.
const SKIPPED: &[&str] = &[
    "fonttbl",
    "colortbl",
    "stylesheet",
    "listtable",
    "listoverridetable",
    "revtbl",
    "rsidtbl",
    "info",
    "pict",
    "object",
    "nonshppict",
    "themedata",
    "colorschememapping",
    "latentstyles",
    "datastore",
    "xmlnstbl",
    "filetbl",
    "pgdsctbl",
    "generator",
    "header",
    "headerl",
    "headerr",
    "headerf",
    "footer",
    "footerl",
    "footerr",
    "footerf",
    "fldinst",
    "xe",
    "tc",
];

/// The state a group inherits from its parent and restores on its end.
#[derive(Clone, Copy)]
struct Group {
    skip: bool,
    /// Fallback characters after a `\uN`.
    unicode_skip: usize,
}

struct Reader<'a> {
    rest: &'a [u8],
    out: String,
    bytes: Vec<u8>,
    encoding: &'static Encoding,
    /// Fallback characters still to skip after a `\uN`.
    skipping: usize,
}

pub fn text(bytes: &[u8], budget: &mut Budget) -> Result<String, ParseError> {
    let corrupt = |reason: &str| ParseError::Corrupt {
        kind: "rtf",
        reason: reason.to_owned(),
    };
    if !bytes.starts_with(b"{\\rtf") {
        return Err(corrupt("it does not start with {\\rtf"));
    }
    let mut reader = Reader {
        rest: bytes,
        out: String::with_capacity(bytes.len() / 2),
        bytes: Vec::new(),
        encoding: WINDOWS_1252,
        skipping: 0,
    };
    let mut stack: Vec<Group> = Vec::new();
    let mut group = Group {
        skip: false,
        unicode_skip: 1,
    };
    // A group's first control word names its destination; `\*` marks an unknown one.
    let mut at_group_start = false;
    let mut ignorable = false;
    while let Some((&byte, after)) = reader.rest.split_first() {
        budget.charge_operation()?;
        match byte {
            b'{' => {
                reader.rest = after;
                if stack.len() >= MAX_DEPTH {
                    return Err(corrupt("groups nest too deeply"));
                }
                stack.push(group);
                at_group_start = true;
                ignorable = false;
                reader.skipping = 0;
            }
            b'}' => {
                reader.rest = after;
                group = stack
                    .pop()
                    .ok_or_else(|| corrupt("a group closes that never opened"))?;
                at_group_start = false;
                reader.skipping = 0;
            }
            b'\\' => {
                reader.rest = after;
                let Some(word) = reader.control() else {
                    continue;
                };
                match word {
                    Control::Symbol(b'*') => {
                        ignorable = true;
                        continue;
                    }
                    Control::Word(name, _)
                        if at_group_start && (ignorable || SKIPPED.contains(&name)) =>
                    {
                        group.skip = true;
                    }
                    Control::Word("bin", n) => {
                        let n = usize::try_from(n.unwrap_or(0).max(0)).unwrap_or(usize::MAX);
                        reader.rest = &reader.rest[n.min(reader.rest.len())..];
                    }
                    Control::Word("uc", n) => {
                        group.unicode_skip =
                            usize::try_from(n.unwrap_or(1).clamp(0, 16)).unwrap_or(1);
                    }
                    Control::Word("ansicpg", Some(page)) => {
                        reader.encoding = code_page(page).unwrap_or(WINDOWS_1252);
                    }
                    word if !group.skip => reader.emit(word, group.unicode_skip),
                    _ => {}
                }
                at_group_start = false;
                ignorable = false;
            }
            b'\r' | b'\n' => reader.rest = after,
            _ => {
                // A run of text up to the next brace, backslash or line end is one step.
                let end = reader
                    .rest
                    .iter()
                    .position(|b| matches!(b, b'{' | b'}' | b'\\' | b'\r' | b'\n'))
                    .unwrap_or(reader.rest.len());
                let (run, rest) = reader.rest.split_at(end);
                reader.rest = rest;
                at_group_start = false;
                let skipped = reader.skipping.min(run.len());
                reader.skipping -= skipped;
                if !group.skip {
                    reader.bytes.extend_from_slice(&run[skipped..]);
                }
            }
        }
    }
    reader.flush();
    Ok(tidy(&reader.out))
}

/// One control word (`\par`, `\u-3913`) or control symbol (`\~`, `\'e9`).
enum Control<'a> {
    Word(&'a str, Option<i64>),
    Symbol(u8),
    Hex(u8),
}

impl<'a> Reader<'a> {
    /// Reads what follows a backslash.
    fn control(&mut self) -> Option<Control<'a>> {
        let (&first, after) = self.rest.split_first()?;
        if !first.is_ascii_alphabetic() {
            self.rest = after;
            if first == b'\'' {
                let Some(hex) = self.rest.get(..2) else {
                    self.rest = &[];
                    return None;
                };
                let value = std::str::from_utf8(hex)
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                self.rest = &self.rest[2..];
                return value.map(Control::Hex);
            }
            return Some(Control::Symbol(first));
        }
        let letters = self
            .rest
            .iter()
            .take(32)
            .take_while(|b| b.is_ascii_alphabetic())
            .count();
        let name = std::str::from_utf8(&self.rest[..letters]).unwrap_or_default();
        self.rest = &self.rest[letters..];
        let negative = self.rest.first() == Some(&b'-');
        let digits_from = usize::from(negative);
        let digits = self.rest[digits_from..]
            .iter()
            .take(10)
            .take_while(|b| b.is_ascii_digit())
            .count();
        let parameter = (digits > 0)
            .then(|| std::str::from_utf8(&self.rest[digits_from..digits_from + digits]).ok())
            .flatten()
            .and_then(|d| d.parse::<i64>().ok())
            .map(|n| if negative { -n } else { n });
        if digits > 0 {
            self.rest = &self.rest[digits_from + digits..];
        }
        if self.rest.first() == Some(&b' ') {
            self.rest = &self.rest[1..];
        }
        Some(Control::Word(name, parameter))
    }

    /// What a control met in body text adds to it.
    fn emit(&mut self, control: Control, unicode_skip: usize) {
        if let Control::Hex(byte) = control {
            if self.skipping > 0 {
                self.skipping -= 1;
            } else {
                self.bytes.push(byte);
            }
            return;
        }
        if self.skipping > 0 {
            self.skipping -= 1;
            return;
        }
        let text = match control {
            Control::Symbol(b'\\') => "\\",
            Control::Symbol(b'{') => "{",
            Control::Symbol(b'}') => "}",
            Control::Symbol(b'~') => "\u{a0}",
            Control::Symbol(b'_') => "\u{2011}",
            Control::Symbol(b'\n' | b'\r') => "\n",
            Control::Word("par" | "line" | "row" | "page" | "sect", _) => "\n",
            Control::Word("tab" | "cell", _) => "\t",
            Control::Word("emdash", _) => "\u{2014}",
            Control::Word("endash", _) => "\u{2013}",
            Control::Word("bullet", _) => "\u{2022}",
            Control::Word("lquote", _) => "\u{2018}",
            Control::Word("rquote", _) => "\u{2019}",
            Control::Word("ldblquote", _) => "\u{201c}",
            Control::Word("rdblquote", _) => "\u{201d}",
            Control::Word("emspace" | "enspace" | "qmspace", _) => " ",
            Control::Word("u", Some(n)) => {
                self.flush();
                // A 16-bit signed parameter: negative values are code units above 32767.
                let unit = if n < 0 { n + 65_536 } else { n };
                let c = u32::try_from(unit).ok().and_then(char::from_u32);
                self.out.push(c.unwrap_or('\u{fffd}'));
                self.skipping = unicode_skip;
                return;
            }
            _ => return,
        };
        self.flush();
        self.out.push_str(text);
    }

    /// Decodes the code-page bytes read so far.
    fn flush(&mut self) {
        if !self.bytes.is_empty() {
            let (text, _) = self.encoding.decode_without_bom_handling(&self.bytes);
            self.out.push_str(&text);
            self.bytes.clear();
        }
    }
}

/// The encoding of a Windows code page number.
fn code_page(page: i64) -> Option<&'static Encoding> {
    let label = match page {
        437 | 850 | 1252 => "windows-1252",
        874 => "windows-874",
        932 => "shift_jis",
        936 => "gbk",
        949 => "euc-kr",
        950 => "big5",
        1250..=1258 => return Encoding::for_label(format!("windows-{page}").as_bytes()),
        10000 => "macintosh",
        65001 => "utf-8",
        _ => return None,
    };
    Encoding::for_label(label.as_bytes())
}

/// Runs of spaces collapsed, lines trimmed, blank lines dropped.
fn tidy(text: &str) -> String {
    text.lines()
        .map(|line| {
            line.split([' ', '\u{a0}'])
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .map(|line| line.trim().to_owned())
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::super::budget::{Exceeded, ParseLimits};
    use super::*;

    fn text(rtf: &[u8]) -> Result<String, ParseError> {
        super::text(rtf, &mut Budget::new(ParseLimits::default()))
    }

    #[test]
    fn body_text_paragraphs_and_escapes() {
        let rtf = br#"{\rtf1\ansi\ansicpg1252\deff0{\fonttbl{\f0\fswiss Helvetica;}}{\colortbl;\red0\green0\blue0;}
{\*\generator Riched20;}{\info{\title Hidden}}\pard\plain\f0 Hello \b bold\b0  world.\par
Caf\'e9 na\u239?ve \{braces\} back\\slash\tab x\line
{\*\bkmkstart b}{\pict\pngblip 89504e47}{\field{\*\fldinst HYPERLINK "x"}{\fldrslt link}}\par
\u-3913?\uc2\u8364 XY end\emdash\par}"#;
        assert_eq!(
            text(rtf).unwrap(),
            "Hello bold world.\nCafé naïve {braces} back\\slash\tx\nlink\n\u{f0b7}\u{20ac} end\u{2014}"
        );
    }

    #[test]
    fn code_pages_decode_escaped_bytes() {
        let rtf = br"{\rtf1\ansi\ansicpg1251 \'cf\'f0\'e8\'e2\'e5\'f2}";
        assert_eq!(text(rtf).unwrap(), "Привет");
        let rtf = br"{\rtf1\ansi\ansicpg932 \'82\'a0}";
        assert_eq!(text(rtf).unwrap(), "あ");
    }

    #[test]
    fn binary_data_is_skipped() {
        let mut rtf = br"{\rtf1 before {\*\blob\bin4 ".to_vec();
        rtf.extend_from_slice(b"}{\\x");
        rtf.extend_from_slice(br"} after}");
        assert_eq!(text(&rtf).unwrap(), "before after");
    }

    #[test]
    fn malformed_documents_are_errors() {
        assert!(matches!(
            text(b"plain text"),
            Err(ParseError::Corrupt { kind: "rtf", .. })
        ));
        assert!(matches!(
            text(br"{\rtf1 a}}"),
            Err(ParseError::Corrupt { .. })
        ));
        let deep = [b"{\\rtf1 ".as_slice(), &[b'{'; 5000]].concat();
        assert!(matches!(text(&deep), Err(ParseError::Corrupt { .. })));
        assert_eq!(text(br"{\rtf1 unclosed \'4").unwrap(), "unclosed");
    }

    #[test]
    fn every_token_is_charged() {
        let rtf = [b"{\\rtf1 ".as_slice(), &b"\\par".repeat(100)].concat();
        let mut budget = Budget::new(ParseLimits {
            max_operations: 50,
            ..ParseLimits::default()
        });
        assert_eq!(
            super::text(&rtf, &mut budget),
            Err(ParseError::OverBudget(Exceeded::Operations(50)))
        );
    }
}
