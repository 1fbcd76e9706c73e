//! What one document may cost its parser. A file's size says little about its cost: a
//! few kilobytes of compressed PDF inflate to gigabytes of content operators, and a zip
//! part to gigabytes of XML. Every parser charges what it decodes and the operations it
//! walks through (PDF content operators, markup tags, xlsx cells, RTF tokens) to one
//! [`Budget`], which also holds the deadline; the first limit crossed ends the parse with
//! [`ParseError::OverBudget`](super::ParseError::OverBudget), and the document is
//! marked failed with that reason.

use std::time::{Duration, Instant};

use thiserror::Error;

/// The limits of one document's parse (PARSE_MAX_DECODED_BYTES, PARSE_MAX_OPERATIONS,
/// PARSE_TIMEOUT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// Bytes decompressed or decoded from the file (PDF streams, zip parts).
    pub max_decoded_bytes: u64,
    /// PDF content operators, markup tags, xlsx cells laid out and RTF tokens walked
    /// through.
    pub max_operations: u64,
    /// Wall time of the whole parse.
    pub timeout: Duration,
}

impl Default for ParseLimits {
    fn default() -> Self {
        Self {
            max_decoded_bytes: 256 * 1024 * 1024,
            max_operations: 20_000_000,
            timeout: Duration::from_secs(120),
        }
    }
}

/// The limit a parse crossed.
#[derive(Debug, Clone, Copy, Error, PartialEq, Eq)]
pub enum Exceeded {
    #[error("more than {} of decoded content (PARSE_MAX_DECODED_BYTES)", size(*.0))]
    DecodedBytes(u64),
    #[error("more than {0} content operations (PARSE_MAX_OPERATIONS)")]
    Operations(u64),
    #[error("an operation with more than {0} operands")]
    Operands(u64),
    #[error("parsing took longer than {0} s (PARSE_TIMEOUT)")]
    Time(u64),
}

/// A byte count in MiB when it is a whole number of them.
fn size(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// How often, in operations, the clock is read.
const CLOCK_EVERY: u64 = 4096;

/// What one parse has spent so far.
#[derive(Debug)]
pub struct Budget {
    limits: ParseLimits,
    decoded: u64,
    operations: u64,
    deadline: Instant,
}

impl Budget {
    pub fn new(limits: ParseLimits) -> Self {
        Self {
            limits,
            decoded: 0,
            operations: 0,
            deadline: Instant::now() + limits.timeout,
        }
    }

    /// Decoded bytes still allowed.
    pub fn decoded_left(&self) -> u64 {
        self.limits.max_decoded_bytes.saturating_sub(self.decoded)
    }

    /// [`decoded_left`](Self::decoded_left) as a buffer size.
    pub fn decoded_left_usize(&self) -> usize {
        usize::try_from(self.decoded_left()).unwrap_or(usize::MAX)
    }

    /// The error for decoded content beyond the budget.
    pub fn decoded_exceeded(&self) -> Exceeded {
        Exceeded::DecodedBytes(self.limits.max_decoded_bytes)
    }

    pub fn charge_decoded(&mut self, bytes: u64) -> Result<(), Exceeded> {
        self.decoded = self.decoded.saturating_add(bytes);
        if self.decoded > self.limits.max_decoded_bytes {
            return Err(self.decoded_exceeded());
        }
        Ok(())
    }

    /// One more operation; the clock is checked every few thousand.
    pub fn charge_operation(&mut self) -> Result<(), Exceeded> {
        self.operations += 1;
        if self.operations > self.limits.max_operations {
            return Err(Exceeded::Operations(self.limits.max_operations));
        }
        if self.operations.is_multiple_of(CLOCK_EVERY) {
            self.check_time()?;
        }
        Ok(())
    }

    pub fn check_time(&self) -> Result<(), Exceeded> {
        if Instant::now() > self.deadline {
            return Err(Exceeded::Time(self.limits.timeout.as_secs()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(bytes: u64, operations: u64, timeout: Duration) -> ParseLimits {
        ParseLimits {
            max_decoded_bytes: bytes,
            max_operations: operations,
            timeout,
        }
    }

    #[test]
    fn each_limit_is_enforced() {
        let mut budget = Budget::new(limits(10, 3, Duration::from_secs(60)));
        budget.charge_decoded(10).unwrap();
        assert_eq!(budget.decoded_left(), 0);
        assert_eq!(budget.charge_decoded(1), Err(Exceeded::DecodedBytes(10)));
        for _ in 0..3 {
            budget.charge_operation().unwrap();
        }
        assert_eq!(budget.charge_operation(), Err(Exceeded::Operations(3)));

        let late = Budget::new(limits(10, 3, Duration::ZERO));
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(late.check_time(), Err(Exceeded::Time(0)));
    }

    #[test]
    fn reasons_name_the_setting() {
        let text = Exceeded::DecodedBytes(256 * 1024 * 1024).to_string();
        assert_eq!(
            text,
            "more than 256 MiB of decoded content (PARSE_MAX_DECODED_BYTES)"
        );
        assert!(
            Exceeded::DecodedBytes(1000)
                .to_string()
                .contains("1000 bytes")
        );
    }
}
