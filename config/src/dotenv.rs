//! A small `.env` reader: `KEY=VALUE` lines, `#` comments, optional `export ` prefix,
//! single or double quotes around the value. Values are never exported into the process
//! environment, so a HUP reload can tell a changed `.env` from the original environment.

use std::collections::HashMap;

pub(crate) fn parse(text: &str) -> Result<HashMap<String, String>, String> {
    let mut vars = HashMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {}: expected KEY=VALUE", index + 1));
        };
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("line {}: invalid variable name {key:?}", index + 1));
        }
        vars.insert(key.to_owned(), unquote(value.trim()));
    }
    Ok(vars)
}

fn unquote(value: &str) -> String {
    for quote in ['"', '\''] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|v| v.strip_suffix(quote))
        {
            return inner.to_owned();
        }
    }
    // An unquoted value may carry a trailing comment: `PORT=9621 # api port`.
    match value.find(" #") {
        Some(at) => value[..at].trim_end().to_owned(),
        None => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn reads_comments_quotes_and_export() {
        let vars = parse("# c\nexport PORT=1\nHOST=\"a b\"\nX='y'\nW=3 # note\n\n").unwrap();
        assert_eq!(vars["PORT"], "1");
        assert_eq!(vars["HOST"], "a b");
        assert_eq!(vars["X"], "y");
        assert_eq!(vars["W"], "3");
    }

    #[test]
    fn rejects_lines_without_equals() {
        assert!(parse("PORT\n").unwrap_err().contains("line 1"));
    }
}
