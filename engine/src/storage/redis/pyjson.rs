//! JSON as Python's `json.dumps` writes it by default (`", "` and `": "` separators,
//! everything outside printable ASCII as `\uXXXX`), so values we store look byte for
//! byte like those LightRAG stores.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter};

struct PythonFormatter;

impl Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        if fragment.bytes().all(|b| (b' '..=b'~').contains(&b)) {
            return CompactFormatter.write_string_fragment(w, fragment);
        }
        let mut units = [0u16; 2];
        for c in fragment.chars() {
            if (' '..='~').contains(&c) {
                write!(w, "{c}")?;
            } else {
                for unit in c.encode_utf16(&mut units) {
                    write!(w, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }
}

/// `value` as `json.dumps(value)` prints it.
pub(super) fn dumps<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    let mut out = Vec::new();
    value.serialize(&mut serde_json::Serializer::with_formatter(
        &mut out,
        PythonFormatter,
    ))?;
    Ok(String::from_utf8(out).expect("only ASCII is written"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_what_python_writes() {
        let v =
            json!({"content": "café \u{1F600}\n\"q\"", "list": [1, "a"], "empty": {}, "n": null});
        assert_eq!(
            dumps(&v).unwrap(),
            r#"{"content": "caf\u00e9 \ud83d\ude00\n\"q\"", "list": [1, "a"], "empty": {}, "n": null}"#
        );
        assert_eq!(dumps(&json!("\u{7f}")).unwrap(), r#""\u007f""#);
    }
}
