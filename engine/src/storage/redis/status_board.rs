//! LightRAG's `pipeline_status` of one workspace in Redis, so that every node answers
//! `/documents/pipeline_status` and `/health` alike and a cancellation asked of any node
//! reaches the one running the job: a hash `{fn}` of the scalar fields and a list
//! `{fn}_history` of the messages, capped at [`HISTORY`] as the arena's ring is, where
//! `{fn}` is the workspace's `pipeline_status` prefix.

use std::collections::HashMap;
use std::sync::Arc;

use super::pool::Pool;
use crate::coordination::{Snapshot, StatusBoard};

/// Messages kept, oldest dropped first.
pub const HISTORY: isize = 64;
/// Bytes kept of a message or job name (the arena's slot sizes).
const MESSAGE: usize = 512;
const JOB_NAME: usize = 128;

/// Sets the cancellation flag only while a job runs.
const REQUEST_CANCEL: &str = r"
if redis.call('HGET', KEYS[1], 'busy') == '1' then
  redis.call('HSET', KEYS[1], 'cancellation_requested', '1')
  return 1
end
return 0";

pub(crate) struct RedisStatusBoard {
    pool: Arc<Pool>,
    key: String,
    history: String,
}

/// `s` cut to at most `max` bytes on a character boundary.
fn truncated(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl RedisStatusBoard {
    pub(crate) fn new(pool: Arc<Pool>, key: String) -> Self {
        let history = format!("{key}_history");
        RedisStatusBoard { pool, key, history }
    }

    /// Runs `op`; the board is advisory, so a Redis that cannot answer is logged and
    /// the answer is `fallback`.
    fn run<T>(
        &self,
        what: &str,
        fallback: T,
        op: impl FnMut(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> T {
        self.pool.run(true, op).unwrap_or_else(|error| {
            crate::log_unless_outage!(warn, &error, key = %self.key, %error, "pipeline status not {what}");
            fallback
        })
    }

    fn set(&self, fields: &[(&str, String)]) {
        self.run("written", (), |c| {
            redis::cmd("HSET").arg(&self.key).arg(fields).query(c)
        });
    }

    fn flag(&self, field: &str) -> bool {
        self.run("read", false, |c| {
            redis::cmd("HGET")
                .arg(&self.key)
                .arg(field)
                .query::<Option<String>>(c)
                .map(|v| v.as_deref() == Some("1"))
        })
    }
}

impl StatusBoard for RedisStatusBoard {
    fn start(&self, job_name: &str, docs: usize, now: i64) {
        self.set(&[
            ("busy", "1".into()),
            ("cancellation_requested", "0".into()),
            ("job_name", truncated(job_name, JOB_NAME).into()),
            ("job_start", now.to_string()),
            ("docs", docs.to_string()),
            ("batchs", docs.to_string()),
            ("cur_batch", "0".into()),
        ]);
    }

    fn progress(&self, cur_batch: usize) {
        self.set(&[("cur_batch", cur_batch.to_string())]);
    }

    fn message(&self, message: &str) {
        let message = truncated(message, MESSAGE);
        self.run("written", (), |c| {
            redis::pipe()
                .atomic()
                .hset(&self.key, "latest_message", message)
                .ignore()
                .rpush(&self.history, message)
                .ignore()
                .ltrim(&self.history, -HISTORY, -1)
                .ignore()
                .query(c)
        });
    }

    fn finish(&self) {
        self.set(&[("busy", "0".into()), ("cancellation_requested", "0".into())]);
    }

    fn request_cancel(&self) -> bool {
        self.run("written", false, |c| {
            redis::cmd("EVAL")
                .arg(REQUEST_CANCEL)
                .arg(1)
                .arg(&self.key)
                .query::<i64>(c)
                .map(|set| set == 1)
        })
    }

    fn cancellation_requested(&self) -> bool {
        self.flag("cancellation_requested")
    }

    fn busy(&self) -> bool {
        self.flag("busy")
    }

    fn snapshot(&self) -> Snapshot {
        let (fields, history) = self.run("read", Default::default(), |c| {
            redis::pipe()
                .hgetall(&self.key)
                .lrange(&self.history, 0, -1)
                .query::<(HashMap<String, String>, Vec<String>)>(c)
        });
        let text = |name: &str| fields.get(name).cloned().unwrap_or_default();
        let number = |name: &str| fields.get(name).and_then(|v| v.parse().ok());
        Snapshot {
            busy: text("busy") == "1",
            cancellation_requested: text("cancellation_requested") == "1",
            job_name: text("job_name"),
            job_start: number("job_start").filter(|&t: &i64| t != 0),
            docs: number("docs").unwrap_or(0) as u32,
            batchs: number("batchs").unwrap_or(0) as u32,
            cur_batch: number("cur_batch").unwrap_or(0) as u32,
            latest_message: text("latest_message"),
            history_messages: history,
        }
    }
}
