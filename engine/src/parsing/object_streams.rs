//! Loading a PDF within the parse budget. lopdf expands every object stream (`/Type
//! /ObjStm`) while it loads the file, before any page is read: its own bound is per
//! stream, and what it builds from one is not bounded at all. Six million one-byte
//! members took 2.2 GB; one array of 100 000 numbers named by a hundred members was
//! built a hundred times (1.2 GB from 200 KB of content in a 16 KB file).
//!
//! So the load goes through lopdf's object filter, which sees each object stream
//! before lopdf expands it: the stream is decoded within what is left of the budget,
//! and each member it lists is scanned where lopdf will parse it, each token charged
//! as an operation and at its size once built against the decoded bytes. The first
//! limit crossed drops that stream and every later one, and fails the load.

use std::cell::RefCell;

use lopdf::xref::XrefRecovery;
use lopdf::{DecompressError, Document, LoadOptions, Object, ObjectId, Stream};

use super::ParseError;
use super::budget::{Budget, Exceeded, ParseLimits};
use super::content_scan::{is_space, line_end, string_end, word_end};
use super::pdf::lopdf_error;

/// What one parsed token is charged against the decoded bytes besides its own bytes:
/// the object lopdf builds for it.
const TOKEN_SIZE: u64 = std::mem::size_of::<Object>() as u64;

thread_local! {
    /// The load under way on this thread. lopdf's filter is a plain `fn`, and lopdf
    /// (built without its `rayon` feature) calls it on the loading thread.
    static LOADING: RefCell<Option<Loading>> = const { RefCell::new(None) };
}

struct Loading {
    budget: Budget,
    exceeded: Option<Exceeded>,
}

/// `bytes` as a document, its object streams charged to `budget`. A file whose page
/// tree does not load is read again with its cross-reference table rebuilt, as lopdf
/// does for an unfiltered load.
pub fn load(bytes: &[u8], budget: &mut Budget) -> Result<Document, ParseError> {
    let doc = load_once(bytes, budget, false)?;
    if doc.page_iter().next().is_some()
        || doc.is_encrypted()
        || doc.xref_recovery == Some(XrefRecovery::Reconstructed)
    {
        return Ok(doc);
    }
    match load_once(bytes, budget, true) {
        Ok(rebuilt) if rebuilt.page_iter().next().is_some() => Ok(rebuilt),
        Err(e @ ParseError::OverBudget(_)) => Err(e),
        _ => Ok(doc),
    }
}

fn load_once(
    bytes: &[u8],
    budget: &mut Budget,
    force_reconstruct: bool,
) -> Result<Document, ParseError> {
    let options = LoadOptions {
        filter: Some(admit),
        max_decompressed_size: Some(budget.decoded_left_usize()),
        force_reconstruct,
        ..LoadOptions::default()
    };
    let placeholder = Budget::new(ParseLimits::default());
    LOADING.set(Some(Loading {
        budget: std::mem::replace(budget, placeholder),
        exceeded: None,
    }));
    let loaded = Document::load_mem_with_options(bytes, options);
    if let Some(loading) = LOADING.take() {
        *budget = loading.budget;
        if let Some(exceeded) = loading.exceeded {
            tracing::warn!(%exceeded, "PDF object streams refused at load");
            return Err(exceeded.into());
        }
    }
    loaded.map_err(|e| lopdf_error(budget, e))
}

/// lopdf's filter: every object is kept but an object stream over the budget, which
/// lopdf then never expands.
///
/// lopdf keeps a top-level object itself and only looks at whether the answer is
/// `None`, but keeps what is answered for an object stream's member. Members are
/// never streams, so a stream is answered with a placeholder and anything else with
/// a copy.
fn admit(id: ObjectId, object: &mut Object) -> Option<(ObjectId, Object)> {
    let Ok(stream) = object.as_stream() else {
        return Some((id, object.clone()));
    };
    let admitted = !stream.dict.has_type(b"ObjStm")
        || LOADING.with_borrow_mut(|loading| {
            // Without a budget on this thread, nothing is expanded.
            loading
                .as_mut()
                .is_some_and(|loading| loading.admit(stream))
        });
    admitted.then_some((id, Object::Null))
}

impl Loading {
    fn admit(&mut self, stream: &Stream) -> bool {
        if self.exceeded.is_some() {
            return false;
        }
        match charge(stream, &mut self.budget) {
            Ok(()) => true,
            Err(exceeded) => {
                self.exceeded = Some(exceeded);
                false
            }
        }
    }
}

/// Charges what lopdf will decode and build from one object stream. A stream lopdf
/// cannot read either is not charged: lopdf skips it.
fn charge(stream: &Stream, budget: &mut Budget) -> Result<(), Exceeded> {
    let content = match stream.get_plain_content_with_limit(budget.decoded_left_usize()) {
        Ok(content) => content,
        Err(lopdf::Error::Decompress(DecompressError::MemoryLimitExceeded { .. })) => {
            return Err(budget.decoded_exceeded());
        }
        Err(_) => return Ok(()),
    };
    budget.charge_decoded(content.len() as u64)?;
    let first = stream.dict.get(b"First").and_then(Object::as_i64).ok();
    let Some(first) = first.and_then(|first| usize::try_from(first).ok()) else {
        return Ok(());
    };
    let Some(index) = content
        .get(..first)
        .and_then(|i| std::str::from_utf8(i).ok())
    else {
        return Ok(());
    };
    // The index as lopdf reads it: pairs of an object number and an offset after
    // `first`, comments being white space.
    let mut numbers = index
        .split(['\r', '\n'])
        .flat_map(|line| {
            line.split('%')
                .next()
                .unwrap_or_default()
                .split_whitespace()
        })
        .map(|number| number.parse::<u32>().ok());
    while let (Some(id), Some(offset)) = (numbers.next(), numbers.next()) {
        let (Some(_), Some(offset)) = (id, offset) else {
            continue;
        };
        let at = first.saturating_add(offset as usize);
        if at < content.len() {
            charge_object(&content, at, budget)?;
        }
    }
    Ok(())
}

/// Charges the tokens of the one object that starts at `from`, up to the end of its
/// outermost array or dictionary.
fn charge_object(content: &[u8], from: usize, budget: &mut Budget) -> Result<(), Exceeded> {
    let mut at = from;
    let mut depth = 0usize;
    while let Some(&b) = content.get(at) {
        let start = at;
        let next = content.get(at + 1);
        match b {
            _ if is_space(b) => {
                at += 1;
                continue;
            }
            b'%' => {
                at = line_end(content, at);
                continue;
            }
            b'(' => at = string_end(content, at + 1),
            b'<' if next == Some(&b'<') => {
                depth += 1;
                at += 2;
            }
            b'<' => {
                at = content[at..]
                    .iter()
                    .position(|&c| c == b'>')
                    .map_or(content.len(), |end| at + end + 1);
            }
            b'>' if next == Some(&b'>') => {
                depth = depth.saturating_sub(1);
                at += 2;
            }
            b'[' => {
                depth += 1;
                at += 1;
            }
            b']' => {
                depth = depth.saturating_sub(1);
                at += 1;
            }
            b'/' => at = word_end(content, at + 1),
            _ => at = word_end(content, at),
        }
        budget.charge_operation()?;
        budget.charge_decoded(TOKEN_SIZE + (at - start) as u64)?;
        if depth == 0 {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use lopdf::{Stream, dictionary};

    use super::super::budget::{Exceeded, ParseLimits};
    use super::*;

    /// `content` as a stream object's data and the dictionary entry of its filter
    /// (lopdf leaves what compresses badly as it is).
    fn compressed(content: Vec<u8>) -> (Vec<u8>, &'static str) {
        let mut stream = Stream::new(dictionary! {}, content);
        stream.compress().unwrap();
        let filter = if stream.dict.has(b"Filter") {
            "/Filter /FlateDecode"
        } else {
            ""
        };
        (stream.content, filter)
    }

    /// A one-page PDF showing `text`, whose catalog, page tree and page sit in an
    /// object stream with `extra` further members (ids from 1000), all of them the
    /// object `member` at one offset. Written by hand: lopdf's writer repacks object
    /// streams.
    pub(crate) fn pdf_with_object_stream(text: &str, extra: usize, member: &str) -> Vec<u8> {
        let members = [
            "<< /Type /Catalog /Pages 5 0 R >>".to_owned(),
            "<< /Type /Pages /Kids [6 0 R] /Count 1 >>".to_owned(),
            "<< /Type /Page /Parent 5 0 R /Contents 2 0 R /Resources << /Font << /F1 1 0 R >> >> >>"
                .to_owned(),
            member.to_owned(),
        ];
        let (mut index, mut body, mut offsets) = (String::new(), String::new(), Vec::new());
        for m in &members {
            offsets.push(body.len());
            body.push_str(m);
            body.push('\n');
        }
        for (id, offset) in [4, 5, 6].into_iter().zip(&offsets) {
            index.push_str(&format!("{id} {offset} "));
        }
        for id in 0..extra {
            index.push_str(&format!("{} {} ", 1000 + id, offsets[3]));
        }
        let first = index.len();
        let object_stream = compressed((index + &body).into_bytes());
        let content = compressed(format!("BT /F1 12 Tf ({text}) Tj ET").into_bytes());
        let stream = |dict: String, (data, filter): &(Vec<u8>, &str)| {
            let mut object =
                format!("<< {dict} /Length {} {filter} >>\nstream\n", data.len()).into_bytes();
            object.extend_from_slice(data);
            object.extend_from_slice(b"\nendstream");
            object
        };
        let objects = [
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
            stream(String::new(), &content),
            stream(
                format!("/Type /ObjStm /N {} /First {first}", 3 + extra),
                &object_stream,
            ),
        ];
        let mut out = b"%PDF-1.5\n".to_vec();
        let mut xref = Vec::new();
        for (number, object) in objects.iter().enumerate() {
            xref.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n", number + 1).as_bytes());
            out.extend_from_slice(object);
            out.extend_from_slice(b"\nendobj\n");
        }
        let start = out.len();
        out.extend_from_slice(b"xref\n0 4\n0000000000 65535 f \n");
        for offset in xref {
            out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
        }
        out.extend_from_slice(
            format!("trailer\n<< /Size 4 /Root 4 0 R >>\nstartxref\n{start}\n%%EOF\n").as_bytes(),
        );
        out
    }

    fn text(bytes: &[u8], limits: ParseLimits) -> Result<String, ParseError> {
        super::super::extract_text("a.pdf", bytes, limits)
    }

    #[test]
    fn pages_in_an_object_stream_are_read() {
        let file = pdf_with_object_stream("Hello from a stream", 10, "<< >>");
        let text = text(&file, ParseLimits::default()).unwrap();
        assert_eq!(text.trim(), "Hello from a stream");
    }

    /// Six hundred thousand members in an object stream of a few hundred kilobytes.
    fn many_members() -> Vec<u8> {
        pdf_with_object_stream("bomb", 600_000, "0")
    }

    /// A hundred members that are one array of 100 000 numbers: lopdf builds it for
    /// each, from 200 KB of decoded content in a file of a few kilobytes.
    fn shared_member() -> Vec<u8> {
        let array = format!("[{}]", "0 ".repeat(100_000));
        let file = pdf_with_object_stream("bomb", 100, &array);
        assert!(file.len() < 16 * 1024, "{}", file.len());
        file
    }

    #[test]
    fn many_members_are_refused_at_load() {
        let limit = 16 * 1024 * 1024;
        let limits = ParseLimits {
            max_decoded_bytes: limit,
            ..ParseLimits::default()
        };
        assert_eq!(
            text(&many_members(), limits),
            Err(ParseError::OverBudget(Exceeded::DecodedBytes(limit)))
        );
        // The same members fit a larger budget.
        assert!(text(&many_members(), ParseLimits::default()).is_ok());
    }

    #[test]
    fn a_shared_member_is_charged_each_time_it_is_built() {
        let file = shared_member();
        assert_eq!(
            text(&file, ParseLimits::default()),
            Err(ParseError::OverBudget(Exceeded::DecodedBytes(
                ParseLimits::default().max_decoded_bytes
            )))
        );
        let limits = ParseLimits {
            max_operations: 1_000_000,
            ..ParseLimits::default()
        };
        assert_eq!(
            text(&file, limits),
            Err(ParseError::OverBudget(Exceeded::Operations(1_000_000)))
        );
    }
}
