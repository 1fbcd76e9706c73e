//! A pass over a PDF content stream that builds nothing: it charges every operator to
//! the parse budget and refuses an operation with more operands than any real page
//! has. Decoding an operation builds all its operands at once (some 50 bytes per
//! two-byte number), so one `[0 0 0 …] TJ` of a few hundred megabytes would take
//! gigabytes; this pass sees it first, at no cost.
//!
//! The tokens are PDF's (ISO 32000-1 §7.2–7.3): strings and names are operands, a bare
//! word outside arrays and dictionaries is an operator, and inline image data (after
//! `ID`, up to `EI`) is skipped.

use super::budget::{Budget, Exceeded};

/// Most operands (array and dictionary items included) one operation may carry.
pub const MAX_OPERANDS: u64 = 100_000;

pub(super) fn is_space(b: u8) -> bool {
    matches!(b, b'\0' | b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
}

fn is_delimiter(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

/// Charges the operations of `content` to `budget`.
pub fn charge(content: &[u8], budget: &mut Budget) -> Result<(), Exceeded> {
    let mut at = 0;
    let mut depth = 0usize;
    let mut operands = 0u64;
    let operand = |operands: &mut u64| {
        *operands += 1;
        if *operands > MAX_OPERANDS {
            Err(Exceeded::Operands(MAX_OPERANDS))
        } else {
            Ok(())
        }
    };
    while let Some(&b) = content.get(at) {
        match b {
            _ if is_space(b) => at += 1,
            b'%' => at = line_end(content, at),
            b'(' => {
                at = string_end(content, at + 1);
                operand(&mut operands)?;
            }
            b'<' if content.get(at + 1) == Some(&b'<') => {
                depth += 1;
                at += 2;
            }
            b'<' => {
                at = content[at..]
                    .iter()
                    .position(|&c| c == b'>')
                    .map_or(content.len(), |end| at + end + 1);
                operand(&mut operands)?;
            }
            b'>' if content.get(at + 1) == Some(&b'>') => {
                depth = depth.saturating_sub(1);
                at += 2;
            }
            b'[' | b'{' => {
                depth += 1;
                at += 1;
            }
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                at += 1;
            }
            b'/' => {
                at = word_end(content, at + 1);
                operand(&mut operands)?;
            }
            b')' | b'>' => at += 1,
            _ => {
                let end = word_end(content, at);
                let word = &content[at..end];
                at = end;
                let keyword = depth == 0
                    && (word[0].is_ascii_alphabetic() || word[0] == b'\'' || word[0] == b'"')
                    && !matches!(word, b"true" | b"false" | b"null");
                if !keyword {
                    operand(&mut operands)?;
                    continue;
                }
                budget.charge_operation()?;
                operands = 0;
                if word == b"ID" {
                    at = inline_image_end(content, at);
                }
            }
        }
    }
    Ok(())
}

pub(super) fn word_end(content: &[u8], from: usize) -> usize {
    content[from..]
        .iter()
        .position(|&b| is_space(b) || is_delimiter(b))
        .map_or(content.len(), |len| from + len.max(1))
}

pub(super) fn line_end(content: &[u8], from: usize) -> usize {
    content[from..]
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .map_or(content.len(), |len| from + len)
}

/// The end of a literal string whose `(` is just before `from`: parentheses nest,
/// a backslash escapes the next byte.
pub(super) fn string_end(content: &[u8], from: usize) -> usize {
    let mut nesting = 1usize;
    let mut at = from;
    while let Some(&b) = content.get(at) {
        at += 1;
        match b {
            b'\\' => at += 1,
            b'(' => nesting += 1,
            b')' => {
                nesting -= 1;
                if nesting == 0 {
                    return at;
                }
            }
            _ => {}
        }
    }
    content.len()
}

/// After `ID`: the end of the `EI` that closes the image data (white space on both
/// sides).
fn inline_image_end(content: &[u8], from: usize) -> usize {
    let mut at = from;
    while let Some(found) = content[at.min(content.len())..]
        .windows(2)
        .position(|w| w == b"EI")
    {
        let ei = at + found;
        let before = ei > 0 && is_space(content[ei - 1]);
        let after = content.get(ei + 2).is_none_or(|&b| is_space(b));
        if before && after {
            return ei + 2;
        }
        at = ei + 2;
    }
    content.len()
}

#[cfg(test)]
mod tests {
    use super::super::budget::ParseLimits;
    use super::*;

    fn operations(content: &[u8]) -> Result<u64, Exceeded> {
        for n in 0.. {
            let mut budget = Budget::new(ParseLimits {
                max_operations: n,
                ..ParseLimits::default()
            });
            match charge(content, &mut budget) {
                Ok(()) => return Ok(n),
                Err(Exceeded::Operations(_)) => continue,
                Err(other) => return Err(other),
            }
        }
        unreachable!()
    }

    #[test]
    fn counts_operators_not_operands() {
        let page = b"BT /F1 12 Tf 72 712 Td (Hello (nested) \\) world) Tj [(A) -120 (B)] TJ ET";
        assert_eq!(operations(page), Ok(6));
        assert_eq!(
            operations(b"q << /MCID 0 >> BDC true false null Q % T* Tj\n"),
            Ok(3)
        );
        assert_eq!(operations(b"BI /W 1 ID \x00Tj Q\xffEIx EI Q"), Ok(3));
        assert_eq!(operations(b""), Ok(0));
    }

    #[test]
    fn an_oversized_operation_is_refused_before_it_is_built() {
        let mut page = b"[".to_vec();
        page.extend(b"0 ".repeat(MAX_OPERANDS as usize + 1));
        page.extend(b"] TJ");
        let mut budget = Budget::new(ParseLimits::default());
        assert_eq!(
            charge(&page, &mut budget),
            Err(Exceeded::Operands(MAX_OPERANDS))
        );
    }

    #[test]
    fn unterminated_tokens_end_the_scan() {
        for page in [&b"(open"[..], b"<abc", b"BI ID xx", b"%x", b"<<", b"\\"] {
            let mut budget = Budget::new(ParseLimits::default());
            assert!(charge(page, &mut budget).is_ok());
        }
    }
}
