//! Streamed answers are lines: server-sent events (`data: {...}`) from OpenAI-compatible
//! servers, newline-delimited JSON from Ollama. This turns a response body into a
//! [`TextStream`] by handing each complete line to a parser.

use std::collections::VecDeque;

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
}

pub fn stream<P>(provider: &'static str, response: reqwest::Response, parse: P) -> TextStream
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
                match state.body.next().await {
                    Some(Ok(bytes)) => {
                        state.buffer.extend_from_slice(&bytes);
                        while let Some(end) = state.buffer.iter().position(|b| *b == b'\n') {
                            let line: Vec<u8> = state.buffer.drain(..=end).collect();
                            state.take(&line);
                        }
                    }
                    Some(Err(e)) => {
                        state.finished = true;
                        let error = if e.is_timeout() {
                            ModelError::Timeout {
                                provider: state.provider,
                                seconds: 0,
                            }
                        } else {
                            ModelError::Connect {
                                provider: state.provider,
                                reason: e.to_string(),
                            }
                        };
                        state.ready.push_back(Err(error));
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
