//! LightRAG's `pipeline_status` of one workspace in PostgreSQL, so that every node
//! answers `/documents/pipeline_status` and `/health` alike and a cancellation asked of
//! any node reaches the one running the job: one row of ours per workspace, its history
//! an array capped at [`HISTORY`] as the arena's ring and the Redis list are.
//!
//! `busy` is the row's flag and the pipeline lock held together: a holder that died
//! mid-job (its lock released by the server) is not shown as running forever.

use std::sync::{Arc, LazyLock};

use super::claim::held_sql;
use crate::coordination::{Snapshot, StatusBoard};
use crate::storage::postgres::pool::{Pool, Session};

/// Messages kept, oldest dropped first.
pub(crate) const HISTORY: i32 = 64;

/// The row's busy flag and a live holder, over `$1` (the workspace).
static BUSY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT s.busy AND ({}) FROM lightrag_master_pipeline_status s WHERE s.workspace = $1",
        held_sql()
    )
});

static SNAPSHOT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT s.busy AND ({}), s.cancellation_requested, s.job_name, s.job_start, s.docs, \
         s.batchs, s.cur_batch, s.latest_message, s.history \
         FROM lightrag_master_pipeline_status s WHERE s.workspace = $1",
        held_sql()
    )
});

/// Sets the cancellation flag only while a job runs.
static REQUEST_CANCEL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE lightrag_master_pipeline_status s SET cancellation_requested = true \
         WHERE s.workspace = $1 AND s.busy AND ({}) RETURNING 1",
        held_sql()
    )
});

const START: &str = "INSERT INTO lightrag_master_pipeline_status AS s \
     (workspace, busy, cancellation_requested, job_name, job_start, docs, batchs, cur_batch) \
     VALUES ($1, true, false, $2, $3, $4, $4, 0) \
     ON CONFLICT (workspace) DO UPDATE SET busy = true, cancellation_requested = false, \
     job_name = $2, job_start = $3, docs = $4, batchs = $4, cur_batch = 0";

const PROGRESS: &str =
    "UPDATE lightrag_master_pipeline_status SET cur_batch = $2 WHERE workspace = $1";

/// Appends to the history, keeping its last `$3` messages.
const MESSAGE: &str = "INSERT INTO lightrag_master_pipeline_status AS s \
     (workspace, latest_message, history) VALUES ($1, $2, ARRAY[$2::text]) \
     ON CONFLICT (workspace) DO UPDATE SET latest_message = $2, \
     history = (s.history || $2::text)[greatest(cardinality(s.history) + 2 - $3, 1):]";

const FINISH: &str = "UPDATE lightrag_master_pipeline_status \
     SET busy = false, cancellation_requested = false WHERE workspace = $1";

const CANCELLATION: &str =
    "SELECT cancellation_requested FROM lightrag_master_pipeline_status WHERE workspace = $1";

pub(crate) struct PgStatusBoard {
    pool: Arc<Pool>,
    workspace: String,
}

impl PgStatusBoard {
    pub(crate) fn new(pool: Arc<Pool>, workspace: String) -> Self {
        PgStatusBoard { pool, workspace }
    }

    /// Runs `op`; the board is advisory, so a PostgreSQL that cannot answer is logged
    /// and the answer is `fallback`.
    fn run<T: Send>(
        &self,
        what: &str,
        fallback: T,
        op: impl FnMut(&mut Session) -> Result<T, postgres::Error> + Send,
    ) -> T {
        self.pool.run(op).unwrap_or_else(|error| {
            crate::log_unless_outage!(warn, &error, workspace = %self.workspace, %error, "pipeline status not {what}");
            fallback
        })
    }

    fn write(&self, sql: &str, params: &[&(dyn postgres::types::ToSql + Sync)]) {
        self.run("written", (), |c| c.execute(sql, params).map(drop));
    }

    fn flag(&self, sql: &str) -> bool {
        self.run("read", false, |c| {
            let row = c.query_opt(sql, &[&self.workspace])?;
            Ok(row
                .and_then(|r| r.get::<_, Option<bool>>(0))
                .unwrap_or(false))
        })
    }
}

impl StatusBoard for PgStatusBoard {
    fn start(&self, job_name: &str, docs: usize, now: i64) {
        let docs = docs as i32;
        self.write(START, &[&self.workspace, &job_name, &now, &docs]);
    }

    fn progress(&self, cur_batch: usize) {
        self.write(PROGRESS, &[&self.workspace, &(cur_batch as i32)]);
    }

    fn message(&self, message: &str) {
        self.write(MESSAGE, &[&self.workspace, &message, &HISTORY]);
    }

    fn finish(&self) {
        self.write(FINISH, &[&self.workspace]);
    }

    fn request_cancel(&self) -> bool {
        self.run("written", false, |c| {
            Ok(c.query_opt(REQUEST_CANCEL.as_str(), &[&self.workspace])?
                .is_some())
        })
    }

    fn cancellation_requested(&self) -> bool {
        self.flag(CANCELLATION)
    }

    fn busy(&self) -> bool {
        self.flag(&BUSY)
    }

    fn snapshot(&self) -> Snapshot {
        self.run("read", Snapshot::default(), |c| {
            let Some(row) = c.query_opt(SNAPSHOT.as_str(), &[&self.workspace])? else {
                return Ok(Snapshot::default());
            };
            let count = |i: usize| row.get::<_, i32>(i).max(0) as u32;
            Ok(Snapshot {
                busy: row.get::<_, Option<bool>>(0).unwrap_or(false),
                cancellation_requested: row.get(1),
                job_name: row.get(2),
                job_start: row.get::<_, Option<i64>>(3).filter(|&t| t != 0),
                docs: count(4),
                batchs: count(5),
                cur_batch: count(6),
                latest_message: row.get(7),
                history_messages: row.get(8),
            })
        })
    }
}
