//! The AWS event-stream framing of Bedrock's ConverseStream answers: each message is
//! `total length (u32) | headers length (u32) | prelude CRC32 | headers | payload |
//! message CRC32`, big-endian, the headers typed `name → value` pairs (`:message-type`,
//! `:event-type`, `:exception-type`). Both checksums are verified, so a corrupted or
//! truncated frame fails the answer instead of feeding it garbage.

/// One decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub headers: Vec<(String, HeaderValue)>,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValue {
    String(String),
    /// Every other header type, kept as raw bytes (none of them is read).
    Other(Vec<u8>),
}

impl Message {
    /// A string header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find_map(|(n, v)| match v {
            HeaderValue::String(s) if n == name => Some(s.as_str()),
            _ => None,
        })
    }
}

const PRELUDE: usize = 12;
/// A frame larger than this is refused (AWS caps event-stream messages at 16 MiB).
const MAX_FRAME: usize = 16 * 1024 * 1024 + PRELUDE + 4;

/// The next complete frame at the front of `buffer`, removed from it. A length that
/// cannot be a frame takes the whole buffer, for [`decode`] to refuse.
pub fn split(buffer: &mut Vec<u8>) -> Option<Vec<u8>> {
    if buffer.len() < 4 {
        return None;
    }
    let total = u32::from_be_bytes([buffer[0], buffer[1], buffer[2], buffer[3]]) as usize;
    if !(PRELUDE + 4..=MAX_FRAME).contains(&total) {
        return Some(std::mem::take(buffer));
    }
    (buffer.len() >= total).then(|| buffer.drain(..total).collect())
}

fn be32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// Decodes one whole frame.
pub fn decode(frame: &[u8]) -> Result<Message, String> {
    if frame.len() < PRELUDE + 4 || be32(frame) as usize != frame.len() {
        return Err(format!(
            "a truncated event-stream frame ({} bytes)",
            frame.len()
        ));
    }
    if crc32fast::hash(&frame[..8]) != be32(&frame[8..]) {
        return Err("an event-stream prelude fails its checksum".to_owned());
    }
    let end = frame.len() - 4;
    if crc32fast::hash(&frame[..end]) != be32(&frame[end..]) {
        return Err("an event-stream message fails its checksum".to_owned());
    }
    let headers_len = be32(&frame[4..]) as usize;
    if PRELUDE + headers_len > end {
        return Err("event-stream headers overrun the frame".to_owned());
    }
    let headers = parse_headers(&frame[PRELUDE..PRELUDE + headers_len])?;
    Ok(Message {
        headers,
        payload: frame[PRELUDE + headers_len..end].to_vec(),
    })
}

fn parse_headers(mut bytes: &[u8]) -> Result<Vec<(String, HeaderValue)>, String> {
    let short = || "a truncated event-stream header".to_owned();
    let take = |bytes: &mut &[u8], n: usize| -> Result<Vec<u8>, String> {
        if bytes.len() < n {
            return Err(short());
        }
        let (head, rest) = bytes.split_at(n);
        *bytes = rest;
        Ok(head.to_vec())
    };
    let mut headers = Vec::new();
    while !bytes.is_empty() {
        let name_len = take(&mut bytes, 1)?[0] as usize;
        let name = String::from_utf8_lossy(&take(&mut bytes, name_len)?).into_owned();
        let kind = take(&mut bytes, 1)?[0];
        let fixed = match kind {
            0 | 1 => Some(0),
            2 => Some(1),
            3 => Some(2),
            4 => Some(4),
            5 | 8 => Some(8),
            9 => Some(16),
            6 | 7 => None,
            other => return Err(format!("unknown event-stream header type {other}")),
        };
        let value = match fixed {
            Some(n) => HeaderValue::Other(take(&mut bytes, n)?),
            None => {
                let len = take(&mut bytes, 2)?;
                let raw = take(&mut bytes, u16::from_be_bytes([len[0], len[1]]) as usize)?;
                if kind == 7 {
                    HeaderValue::String(String::from_utf8_lossy(&raw).into_owned())
                } else {
                    HeaderValue::Other(raw)
                }
            }
        };
        headers.push((name, value));
    }
    Ok(headers)
}

/// Encodes a frame with string headers (the tests' scripted servers speak it too).
#[cfg(test)]
pub fn encode(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    for (name, value) in headers {
        h.push(name.len() as u8);
        h.extend_from_slice(name.as_bytes());
        h.push(7);
        h.extend_from_slice(&(value.len() as u16).to_be_bytes());
        h.extend_from_slice(value.as_bytes());
    }
    let total = (PRELUDE + h.len() + payload.len() + 4) as u32;
    let mut frame = Vec::new();
    frame.extend_from_slice(&total.to_be_bytes());
    frame.extend_from_slice(&(h.len() as u32).to_be_bytes());
    frame.extend_from_slice(&crc32fast::hash(&frame).to_be_bytes());
    frame.extend_from_slice(&h);
    frame.extend_from_slice(payload);
    frame.extend_from_slice(&crc32fast::hash(&frame).to_be_bytes());
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_split_across_reads_and_checksums_are_checked() {
        let a = encode(&[(":event-type", "contentBlockDelta")], b"{\"x\":1}");
        let b = encode(&[(":event-type", "messageStop")], b"{}");
        let mut buffer = a[..5].to_vec();
        assert_eq!(split(&mut buffer), None, "incomplete");
        buffer.extend_from_slice(&a[5..]);
        buffer.extend_from_slice(&b);
        let first = decode(&split(&mut buffer).unwrap()).unwrap();
        assert_eq!(first.header(":event-type"), Some("contentBlockDelta"));
        assert_eq!(first.payload, b"{\"x\":1}");
        assert_eq!(
            decode(&split(&mut buffer).unwrap())
                .unwrap()
                .header(":event-type"),
            Some("messageStop")
        );
        assert!(buffer.is_empty());
        let mut corrupt = a.clone();
        corrupt[14] ^= 1;
        assert!(decode(&corrupt).unwrap_err().contains("checksum"));
        assert!(decode(&a[..a.len() - 1]).is_err());
    }
}
