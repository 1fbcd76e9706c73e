//! Streamed answers are lines: server-sent events (`data: {...}`) from OpenAI-compatible
//! servers, newline-delimited JSON from Ollama. This turns a response body into a
//! [`TextStream`] by handing each complete line to a parser. A stream may run as long
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

struct State<P> {
    body: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: Vec<u8>,
    ready: VecDeque<Result<String, ModelError>>,
    finished: bool,
    parse: P,
    provider: &'static str,
    /// The longest silence allowed between two reads of the body.
    pause: Duration,
}

pub fn stream<P>(
    provider: &'static str,
    response: reqwest::Response,
    parse: P,
    pause: Duration,
) -> TextStream
where
    P: FnMut(&str) -> Line + Send + 'static,
{
    let state = State {
        body: response.bytes_stream().boxed(),
        buffer: Vec::new(),
        ready: VecDeque::new(),
        finished: false,
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
                        while let Some(end) = state.buffer.iter().position(|b| *b == b'\n') {
                            let line: Vec<u8> = state.buffer.drain(..=end).collect();
                            state.take(&line);
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
                        state.take(&rest);
                        state.finished = true;
                    }
                }
            }
        },
    ))
}

impl<P: FnMut(&str) -> Line> State<P> {
    fn take(&mut self, line: &[u8]) {
        if self.finished {
            return;
        }
        let text = String::from_utf8_lossy(line);
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        match (self.parse)(text) {
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
