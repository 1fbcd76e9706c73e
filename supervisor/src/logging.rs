//! Process-wide logging, set up once in the master and inherited by every worker.
//!
//! tracing's global subscriber can be installed only once per process and a forked
//! worker inherits the master's, so one subscriber serves both roles and a switch
//! decides where a finished line goes:
//! - in the master, to the console and the rotating file ([`RotatingFile`]), which only
//!   the master ever writes;
//! - in a worker, to its stderr, which is a pipe the master reads ([`crate::log_pipe`]).
//!
//! A worker holds back access lines ([`access`], target `access`, one per request) in a
//! batch and writes the batch with one call: when it reaches [`BATCH_BYTES`], when any
//! other line is logged (which goes out right behind it, so the order is kept), and on
//! [`flush_worker`], which the worker calls whenever a runtime thread runs out of work,
//! on a short timer, on USR1 and before it exits. A line per request would otherwise
//! cost a pipe write in the worker and a wakeup, a read and two writes in the master.
//! Access lines skip `tracing` and are written straight into the batch, with their
//! timestamp prefix made once per second: an event per request through the fmt layer
//! cost about a fifth of a short request.
//!
//! Every line is formatted into a buffer first and written with one call, so lines
//! are never split, and every field is escaped ([`crate::log_escape`]), so an event is
//! exactly one line whatever a client sent. Format:
//! `2026-11-26 06:40:00.123 [pid] [LEVEL] target: message`.

use std::fmt;
use std::io::{self, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU8, Ordering};
use std::time::Duration;

use lightrag_config::{LogLevel, Settings};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, filter};

use crate::log_escape::{self, Escaping};
use crate::log_file::RotatingFile;

static IS_WORKER: AtomicBool = AtomicBool::new(false);
static PID: AtomicI32 = AtomicI32::new(0);
static MAX_LEVEL: AtomicU8 = AtomicU8::new(LogLevel::Info as u8);
/// The master's file. A worker drops its inherited copy in [`become_worker`].
static FILE: Mutex<Option<RotatingFile>> = Mutex::new(None);
/// A worker's lines not yet written to its pipe; also serialises the writes across its
/// runtime threads.
static WORKER_BATCH: Mutex<Batch> = Mutex::new(Batch::new());
/// A worker's batch is written once it holds this much.
pub const BATCH_BYTES: usize = 32 * 1024;

fn level_rank(level: &Level) -> u8 {
    match *level {
        Level::TRACE | Level::DEBUG => LogLevel::Debug as u8,
        Level::INFO => LogLevel::Info as u8,
        Level::WARN => LogLevel::Warning as u8,
        Level::ERROR => LogLevel::Error as u8,
    }
}

fn enabled(level: &Level) -> bool {
    // CRITICAL keeps errors: tracing has no level above ERROR.
    level_rank(level) >= MAX_LEVEL.load(Ordering::Relaxed).min(LogLevel::Error as u8)
}

/// Installs the subscriber and opens the log file. Call once, in the master.
pub fn init_master(settings: &Settings) -> io::Result<()> {
    PID.store(std::process::id() as i32, Ordering::Relaxed);
    configure(settings)?;
    let layer = tracing_subscriber::fmt::layer()
        .event_format(LineFormat)
        .with_writer(MakeLineWriter)
        .with_filter(filter::filter_fn(|meta| enabled(meta.level())));
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
        .map_err(io::Error::other)
}

/// Applies level and file settings (at start and on HUP).
pub fn configure(settings: &Settings) -> io::Result<()> {
    let file = RotatingFile::open(
        &settings.log_file(),
        settings.log_max_bytes,
        settings.log_backup_count,
    )?;
    MAX_LEVEL.store(settings.log_level as u8, Ordering::Relaxed);
    *FILE.lock().unwrap_or_else(|e| e.into_inner()) = Some(file);
    Ok(())
}

/// Reopens the log file at its path (USR1, after logrotate renamed it).
pub fn reopen() -> io::Result<()> {
    match FILE.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        Some(file) => file.reopen(),
        None => Ok(()),
    }
}

/// Pushes the log file to disk (on_exit).
pub fn flush() {
    if let Some(file) = FILE.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        file.sync();
    }
}

/// The master forwards whole lines read from a worker's pipe, with one write each to
/// the console and to the file.
pub fn forward(lines: &[u8]) {
    let _ = io::stderr().write_all(lines);
    if let Some(file) = FILE.lock().unwrap_or_else(|e| e.into_inner()).as_mut()
        && let Err(e) = file.write_lines(lines)
    {
        let _ = writeln!(io::stderr(), "cannot write {}: {e}", file.path().display());
    }
}

/// In a freshly forked worker: route lines to stderr (the pipe) and close the
/// inherited log file.
pub fn become_worker() {
    PID.store(std::process::id() as i32, Ordering::Relaxed);
    IS_WORKER.store(true, Ordering::Relaxed);
    FILE.lock().unwrap_or_else(|e| e.into_inner()).take();
}

/// Logs one access line, `message` being what follows `access: `; `message` appends it
/// unescaped, and it is escaped here as every field is. At INFO and above only, like
/// any INFO line. A worker holds the line back in its batch; the master writes it at once.
pub fn access(message: impl FnOnce(&mut Vec<u8>)) {
    if !enabled(&Level::INFO) {
        return;
    }
    let now = since_epoch();
    if IS_WORKER.load(Ordering::Relaxed) {
        let mut batch = lock_batch();
        if batch.access(now, message) {
            batch.write_out();
        }
    } else {
        let mut line = Batch::new();
        line.access(now, message);
        forward(&line.lines);
    }
}

/// In a worker: writes the lines held back to its pipe now.
pub fn flush_worker() {
    if IS_WORKER.load(Ordering::Relaxed) {
        lock_batch().write_out();
    }
}

fn lock_batch() -> std::sync::MutexGuard<'static, Batch> {
    WORKER_BATCH.lock().unwrap_or_else(|e| e.into_inner())
}

fn since_epoch() -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// Whole lines waiting for one write to the pipe.
struct Batch {
    lines: Vec<u8>,
    stamp: AccessStamp,
}

impl Batch {
    const fn new() -> Batch {
        Batch {
            lines: Vec::new(),
            stamp: AccessStamp {
                second: u64::MAX,
                pid: 0,
                date: Vec::new(),
                tail: Vec::new(),
            },
        }
    }

    /// Adds an access line logged at `now`; true when the batch is full.
    fn access(&mut self, now: Duration, message: impl FnOnce(&mut Vec<u8>)) -> bool {
        self.stamp.write(now, &mut self.lines);
        let start = self.lines.len();
        message(&mut self.lines);
        log_escape::escape_from(&mut self.lines, start);
        self.lines.push(b'\n');
        self.lines.len() >= BATCH_BYTES
    }

    fn write_out(&mut self) {
        if !self.lines.is_empty() {
            let _ = io::stderr().lock().write_all(&self.lines);
            self.lines.clear();
        }
    }
}

/// The prefix of an access line, `2026-11-26 06:40:00.123 [pid] [INFO] access: `, made
/// once per second but for the milliseconds.
struct AccessStamp {
    second: u64,
    pid: i32,
    /// Up to the seconds' dot.
    date: Vec<u8>,
    /// From the space after the milliseconds on.
    tail: Vec<u8>,
}

impl AccessStamp {
    fn write(&mut self, now: Duration, out: &mut Vec<u8>) {
        let pid = PID.load(Ordering::Relaxed);
        if now.as_secs() != self.second || pid != self.pid {
            self.second = now.as_secs();
            self.pid = pid;
            self.date.clear();
            let _ = write!(self.date, "{}.", UtcSecond(self.second));
            self.tail.clear();
            let _ = write!(
                self.tail,
                "{}",
                Origin {
                    pid,
                    level: &Level::INFO,
                    target: "access"
                }
            );
        }
        let millis = now.subsec_millis();
        out.extend_from_slice(&self.date);
        out.extend_from_slice(&[
            b'0' + (millis / 100) as u8,
            b'0' + (millis / 10 % 10) as u8,
            b'0' + (millis % 10) as u8,
        ]);
        out.extend_from_slice(&self.tail);
    }
}

struct MakeLineWriter;

/// Buffers one formatted event and emits it as one line when dropped.
struct LineWriter {
    line: Vec<u8>,
}

impl<'a> MakeWriter<'a> for MakeLineWriter {
    type Writer = LineWriter;
    fn make_writer(&'a self) -> LineWriter {
        LineWriter {
            line: Vec::with_capacity(256),
        }
    }
}

impl Write for LineWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.line.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if self.line.is_empty() {
            return;
        }
        if IS_WORKER.load(Ordering::Relaxed) {
            let mut batch = lock_batch();
            batch.lines.extend_from_slice(&self.line);
            batch.write_out();
        } else {
            forward(&self.line);
        }
    }
}

struct LineFormat;

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let origin = Origin {
            pid: PID.load(Ordering::Relaxed),
            level: meta.level(),
            target: meta.target(),
        };
        write!(writer, "{}{origin}", UtcTimestamp::now())?;
        let mut escaping = Escaping(&mut writer);
        ctx.field_format()
            .format_fields(Writer::new(&mut escaping), event)?;
        writeln!(writer)
    }
}

/// What follows a line's timestamp: ` [pid] [LEVEL] target: `, for events and access
/// lines alike.
struct Origin<'a> {
    pid: i32,
    level: &'a Level,
    target: &'a str,
}

impl fmt::Display for Origin<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match *self.level {
            Level::ERROR => "ERROR",
            Level::WARN => "WARNING",
            Level::INFO => "INFO",
            Level::DEBUG => "DEBUG",
            Level::TRACE => "TRACE",
        };
        write!(f, " [{}] [{level}] {}: ", self.pid, self.target)
    }
}

/// `YYYY-MM-DD HH:MM:SS.mmm` in UTC, without a date-time dependency.
struct UtcTimestamp {
    secs: u64,
    millis: u32,
}

impl UtcTimestamp {
    fn now() -> UtcTimestamp {
        let since = since_epoch();
        UtcTimestamp {
            secs: since.as_secs(),
            millis: since.subsec_millis(),
        }
    }
}

impl fmt::Display for UtcTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}", UtcSecond(self.secs), self.millis)
    }
}

/// `YYYY-MM-DD HH:MM:SS` in UTC of seconds since the epoch.
struct UtcSecond(u64);

impl fmt::Display for UtcSecond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Howard Hinnant's days-to-civil algorithm.
        let days = (self.0 / 86_400) as i64 + 719_468;
        let era = days.div_euclid(146_097);
        let doe = days.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        let rem = self.0 % 86_400;
        write!(
            f,
            "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
            rem / 3600,
            rem / 60 % 60,
            rem % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{BATCH_BYTES, Batch, PID, UtcTimestamp};

    #[test]
    fn access_lines_are_stamped_escaped_and_held_until_the_batch_is_full() {
        PID.store(42, std::sync::atomic::Ordering::Relaxed);
        let mut batch = Batch::new();
        let at = |millis: u64| Duration::from_millis(1_795_674_000_000 + millis);
        assert!(!batch.access(at(7), |l| l.extend_from_slice(b"one")));
        assert!(!batch.access(at(1_999), |l| l.extend_from_slice(b"GET /a\nb")));
        assert_eq!(
            String::from_utf8_lossy(&batch.lines),
            "2026-11-26 06:20:00.007 [42] [INFO] access: one\n\
             2026-11-26 06:20:01.999 [42] [INFO] access: GET /a\\nb\n",
            "the same prefix as an INFO event's, made again in the next second"
        );
        batch.lines.clear();
        let mut lines = 1;
        while !batch.access(at(0), |l| l.extend_from_slice(&[b'x'; 900])) {
            lines += 1;
        }
        let line = batch.lines.len() / lines;
        assert_eq!(lines, BATCH_BYTES.div_ceil(line), "written once it is full");
    }

    #[test]
    fn formats_utc_dates() {
        let t = UtcTimestamp {
            secs: 1_795_674_000,
            millis: 7,
        };
        assert_eq!(t.to_string(), "2026-11-26 06:20:00.007");
        let leap = UtcTimestamp {
            secs: 951_782_400,
            millis: 0,
        };
        assert_eq!(leap.to_string(), "2000-02-29 00:00:00.000");
    }
}
