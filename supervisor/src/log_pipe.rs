//! The master's end of a worker's log pipe. Workers write whole lines to their stderr,
//! which is this pipe; the master splits the stream into lines and forwards each one to
//! the console and the log file, so lines from different workers never interleave.
//! Control bytes left inside a line (written past the formatter) are escaped.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;

use crate::log_escape;

pub struct LinePipe {
    read: OwnedFd,
    partial: Vec<u8>,
}

/// What a pump found.
#[derive(Debug, PartialEq, Eq)]
pub enum PipeState {
    Open,
    Closed,
}

impl LinePipe {
    /// A pipe whose read end the master keeps; the write end goes to the child.
    pub fn pair() -> io::Result<(LinePipe, OwnedFd)> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
        nix::fcntl::fcntl(&read, nix::fcntl::FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
        Ok((
            LinePipe {
                read,
                partial: Vec::new(),
            },
            write,
        ))
    }

    pub fn fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    /// Reads what is available and hands the complete lines of each read (each with its
    /// newline, other control bytes escaped) to `lines` at once. At end of file a
    /// trailing partial line is completed and handed over too.
    pub fn pump(&mut self, mut lines: impl FnMut(&[u8])) -> PipeState {
        let mut buf = [0u8; 64 * 1024];
        let mut whole = Vec::new();
        loop {
            match nix::unistd::read(&self.read, &mut buf) {
                Ok(0) => {
                    if !self.partial.is_empty() {
                        self.partial.push(b'\n');
                        lines(&log_escape::raw_line(&self.partial));
                        self.partial.clear();
                    }
                    return PipeState::Closed;
                }
                Ok(n) => {
                    self.partial.extend_from_slice(&buf[..n]);
                    let mut start = 0;
                    whole.clear();
                    while let Some(end) = self.partial[start..].iter().position(|&b| b == b'\n') {
                        let line = log_escape::raw_line(&self.partial[start..start + end + 1]);
                        whole.extend_from_slice(&line);
                        start += end + 1;
                    }
                    self.partial.drain(..start);
                    if !whole.is_empty() {
                        lines(&whole);
                    }
                }
                Err(Errno::EINTR) => {}
                Err(_) => return PipeState::Open,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_escapes_them_and_completes_the_last_one() {
        let (mut pipe, write) = LinePipe::pair().unwrap();
        nix::unistd::write(&write, b"one\ntw").unwrap();
        let mut lines = Vec::new();
        assert_eq!(pipe.pump(|l| lines.push(l.to_vec())), PipeState::Open);
        nix::unistd::write(&write, b"o\nth\rree\nfour\nfi").unwrap();
        drop(write);
        assert_eq!(pipe.pump(|l| lines.push(l.to_vec())), PipeState::Closed);
        assert_eq!(
            lines,
            [
                b"one\n".to_vec(),
                b"two\nth\\rree\nfour\n".to_vec(),
                b"fi\n".to_vec()
            ]
        );
    }
}
