//! Escaping of logged values. Log fields carry request data (user names, paths, header
//! values, document ids, file and workspace names); a newline in one would end the line
//! and let the client write a line of its own, such as a forged "login succeeded". The
//! formatter writes every field through [`Escaping`], so no call site can forget it and
//! one event is always one line; the master's pipe reader passes what reached a
//! worker's stderr past the formatter through [`raw_line`].
//!
//! Control characters (C0, DEL, C1) become `\n`, `\r`, `\t` or `\u{..}`, and so do the
//! Unicode line and paragraph separators and the bidirectional overrides, which make a
//! line display as something else. Backslashes are kept as they are: a client can write
//! a literal `\n`, but never end the line.

use std::borrow::Cow;
use std::fmt::{self, Write};

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A [`fmt::Write`] that escapes what it passes to the writer it wraps.
pub struct Escaping<'a, W: Write>(pub &'a mut W);

impl<W: Write> Write for Escaping<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut clean_from = 0;
        for (i, c) in s.char_indices().filter(|&(_, c)| needs_escape(c)) {
            self.0.write_str(&s[clean_from..i])?;
            match c {
                '\n' => self.0.write_str("\\n")?,
                '\r' => self.0.write_str("\\r")?,
                '\t' => self.0.write_str("\\t")?,
                _ => write!(self.0, "\\u{{{:x}}}", u32::from(c))?,
            }
            clean_from = i + c.len_utf8();
        }
        self.0.write_str(&s[clean_from..])
    }
}

/// A line that reached a worker's pipe, ending in `\n`, with any other ASCII control
/// byte escaped. The formatter has escaped every field of the lines it writes; this
/// catches bytes written to the pipe another way (a library printing to stderr).
pub fn raw_line(line: &[u8]) -> Cow<'_, [u8]> {
    let body = line.strip_suffix(b"\n").unwrap_or(line);
    if !body.iter().any(u8::is_ascii_control) {
        return Cow::Borrowed(line);
    }
    let mut escaped = Vec::with_capacity(line.len() + 16);
    escape_bytes(body, &mut escaped);
    escaped.push(b'\n');
    Cow::Owned(escaped)
}

/// Escapes what `line` holds from `start` on, as [`Escaping`] would have written it: for
/// a line formatted straight into a buffer rather than through the formatter. Printable
/// ASCII, the usual case, is left as it is without a copy.
pub fn escape_from(line: &mut Vec<u8>, start: usize) {
    if line[start..].iter().all(|&b| (b' '..=b'~').contains(&b)) {
        return;
    }
    let written = line.split_off(start);
    escape_bytes(&written, line);
}

/// Appends `bytes` to `out` escaped, invalid UTF-8 as `\xNN`.
fn escape_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    let mut escaped = String::with_capacity(bytes.len() + 16);
    for chunk in bytes.utf8_chunks() {
        let _ = Escaping(&mut escaped).write_str(chunk.valid());
        for byte in chunk.invalid() {
            let _ = write!(escaped, "\\x{byte:02x}");
        }
    }
    out.extend_from_slice(escaped.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(s: &str) -> String {
        let mut out = String::new();
        Escaping(&mut out).write_str(s).unwrap();
        out
    }

    #[test]
    fn control_characters_and_line_breakers_are_escaped() {
        assert_eq!(
            escaped("bob\n2026-12-01 [INFO] login succeeded"),
            "bob\\n2026-12-01 [INFO] login succeeded"
        );
        assert_eq!(escaped("a\rb\tc\0d\x1b[31m"), "a\\rb\\tc\\u{0}d\\u{1b}[31m");
        assert_eq!(
            escaped("\u{85}\u{2028}\u{202e}x"),
            "\\u{85}\\u{2028}\\u{202e}x"
        );
        assert_eq!(escaped("\u{7f}"), "\\u{7f}");
    }

    #[test]
    fn raw_lines_keep_only_their_final_newline() {
        assert!(matches!(raw_line(b"clean \xff line\n"), Cow::Borrowed(_)));
        assert_eq!(
            &*raw_line(b"a\rb\x1b[2J\xffc\n"),
            b"a\\rb\\u{1b}[2J\\xffc\n"
        );
    }

    #[test]
    fn escapes_what_was_appended_to_a_line_only() {
        let mut line = b"head\t".to_vec();
        escape_from(&mut line, 5);
        assert_eq!(line, b"head\t", "printable ASCII");
        line.extend_from_slice("GET /a\nb\u{202e}é".as_bytes());
        escape_from(&mut line, 5);
        assert_eq!(line, "head\tGET /a\\nb\\u{202e}é".as_bytes());
    }

    #[test]
    fn everything_else_is_kept() {
        for kept in ["", "plain", "Grüße, 東京", "C:\\path\\n", "\"quoted\" 'x'"] {
            assert_eq!(escaped(kept), kept);
        }
    }
}
