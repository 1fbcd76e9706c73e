//! Streamed answers are lines: server-sent events (`data: {...}`) from OpenAI-compatible
//! servers and Gemini, newline-delimited JSON from Ollama, plain text from lollms; or
//! binary frames (Bedrock's event stream). This turns a response body into a
//! [`TextStream`] by cutting it into complete frames and handing each to a parser. A stream may run as long
//! as the answer does, but one that sends nothing for the attempt timeout fails, so a
//! stalled provider cannot hold a caller (and its model permit) forever.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::StreamExt;

use crate::llm::{ModelError, TextStream};

/// What one line of a streamed answer says.
pub enum Line {
    Text(String),
    /// Nothing to emit (keep-alives, role headers, empty deltas).
    Skip,
    /// The answer is complete.
    Done,
    Error(ModelError),
}

/// Takes the next complete frame off the front of the buffer, if there is one.
pub type Split = fn(&mut Vec<u8>) -> Option<Vec<u8>>;

struct State<P> {
    body: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: Vec<u8>,
    ready: VecDeque<Result<String, ModelError>>,
    finished: bool,
    split: Split,
    parse: P,
    provider: &'static str,
    /// The longest silence allowed between two reads of the body.
    pause: Duration,
}

fn next_line(buffer: &mut Vec<u8>) -> Option<Vec<u8>> {
    let end = buffer.iter().position(|b| *b == b'\n')?;
    Some(buffer.drain(..=end).collect())
}

/// A body of lines, each handed to `parse` trimmed (blank lines are skipped).
pub fn stream<P>(
    provider: &'static str,
    response: reqwest::Response,
    mut parse: P,
    pause: Duration,
) -> TextStream
where
    P: FnMut(&str) -> Line + Send + 'static,
{
    let text = move |frame: &[u8]| {
        let text = String::from_utf8_lossy(frame);
        let text = text.trim();
        if text.is_empty() {
            Line::Skip
        } else {
            parse(text)
        }
    };
    frames(provider, response, next_line, text, pause)
}

/// A body of frames that `split` cuts; bytes left after the last one go to `parse`.
pub fn frames<P>(
    provider: &'static str,
    response: reqwest::Response,
    split: Split,
    parse: P,
    pause: Duration,
) -> TextStream
where
    P: FnMut(&[u8]) -> Line + Send + 'static,
{
    let state = State {
        body: response.bytes_stream().boxed(),
        buffer: Vec::new(),
        ready: VecDeque::new(),
        finished: false,
        split,
        parse,
        provider,
        pause,
    };
    Box::pin(futures_util::stream::unfold(
        state,
        |mut state| async move {
            loop {
                if let Some(item) = state.ready.pop_front() {
                    return Some((item, state));
                }
                if state.finished {
                    return None;
                }
                let Ok(next) = tokio::time::timeout(state.pause, state.body.next()).await else {
                    state.finished = true;
                    state.ready.push_back(Err(ModelError::Stalled {
                        provider: state.provider,
                        seconds: state.pause.as_secs(),
                    }));
                    continue;
                };
                match next {
                    Some(Ok(bytes)) => {
                        state.buffer.extend_from_slice(&bytes);
                        while let Some(frame) = (state.split)(&mut state.buffer) {
                            state.take(&frame);
                        }
                    }
                    Some(Err(e)) => {
                        state.finished = true;
                        state.ready.push_back(Err(ModelError::Connect {
                            provider: state.provider,
                            reason: e.to_string(),
                        }));
                    }
                    None => {
                        let rest = std::mem::take(&mut state.buffer);
                        if !rest.is_empty() {
                            state.take(&rest);
                        }
                        state.finished = true;
                    }
                }
            }
        },
    ))
}

impl<P: FnMut(&[u8]) -> Line> State<P> {
    fn take(&mut self, frame: &[u8]) {
        if self.finished {
            return;
        }
        match (self.parse)(frame) {
            Line::Text(piece) => self.ready.push_back(Ok(piece)),
            Line::Skip => {}
            Line::Done => self.finished = true,
            Line::Error(e) => {
                self.ready.push_back(Err(e));
                self.finished = true;
            }
        }
    }
}
